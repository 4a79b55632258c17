//! The `retune` program's library: its subcommands (`cli`), the finetune and evaluate steps,
//! reports, charts, the runs log and the review server, with the helpers they share: choosing the
//! backend and device in one place, and reading texts from JSONL. The steps that run Burn call
//! one non-generic function each, so a release build monomorphizes the Burn stack once, in
//! this library.
#![warn(missing_docs)]

pub mod alloc;
pub mod cache;
pub mod chart;
pub mod cli;
pub mod evaluate;
pub mod finetune;
pub mod fusion;
pub mod report;
pub mod rerank;
pub mod review_server;
pub mod runs;

use anyhow::bail;
use burn::tensor::backend::Backend;
use retune_data::{JsonlReader, ReadMode};
use std::path::Path;

/// The compute backends a binary can run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BackendChoice {
    /// This build's CPU backend (`flex` by default).
    Cpu,
    /// CUDA (needs a build with `--features cuda` and a GPU).
    Cuda,
}

/// Which implementation runs local inference (`--engine`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EngineChoice {
    /// The fused CPU path on the CPU backend, the Burn model on CUDA.
    Auto,
    /// The Burn model.
    Burn,
    /// The fused CPU path.
    Fused,
    /// The fused CPU path with bf16 products on Intel AMX (f32 fused where the CPU lacks it).
    FusedBf16,
}

impl From<EngineChoice> for retune_trainer::Engine {
    fn from(c: EngineChoice) -> Self {
        match c {
            EngineChoice::Auto => retune_trainer::Engine::Auto,
            EngineChoice::Burn => retune_trainer::Engine::Burn,
            EngineChoice::Fused => retune_trainer::Engine::Fused,
            EngineChoice::FusedBf16 => retune_trainer::Engine::FusedBf16,
        }
    }
}

/// Work that runs on any Burn backend: the binary implements this once, generically.
pub trait BackendTask {
    /// What the work returns.
    type Output;
    /// Runs on backend `B` (inference) with `A` its autodiff wrapper (training); the two
    /// device values name the same device in each backend's type.
    fn run<B: Backend, A: burn::tensor::backend::AutodiffBackend<InnerBackend = B>>(
        self,
        device: B::Device,
        train_device: A::Device,
    ) -> anyhow::Result<Self::Output>;
}

/// Runs a task on the chosen backend. This is the only place binaries pick a backend.
pub fn dispatch<T: BackendTask>(choice: BackendChoice, task: T) -> anyhow::Result<T::Output> {
    use retune_trainer::backend as b;
    alloc::reuse_freed_memory();
    match choice {
        BackendChoice::Cpu => {
            eprintln!("backend: {} (CPU)", b::cpu_backend_name());
            task.run::<b::Cpu, b::CpuAutodiff>(b::cpu_device(), b::cpu_device())
        }
        #[cfg(feature = "cuda")]
        BackendChoice::Cuda => {
            eprintln!("backend: cuda");
            task.run::<b::Gpu, b::GpuAutodiff>(Default::default(), Default::default())
        }
        #[cfg(not(feature = "cuda"))]
        BackendChoice::Cuda => {
            bail!("this binary was built without CUDA: rebuild with `--features cuda`")
        }
    }
}

/// An error and its causes on one line, outermost first, each cause once: a cause whose text
/// its context already holds (`path: No such file` over `No such file`) is not repeated.
pub fn one_line(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

/// Reads one string field from every line of a JSONL file, naming file and line on error.
pub fn read_text_field(path: &Path, field: &str) -> anyhow::Result<Vec<String>> {
    let mut texts = Vec::new();
    for item in JsonlReader::<serde_json::Value>::open(path, ReadMode::Strict)? {
        let (line, value) = item?;
        match value.get(field) {
            Some(serde_json::Value::String(s)) => texts.push(s.clone()),
            Some(other) => bail!(
                "{}:{line}: field `{field}`: expected a string, found {other}",
                path.display()
            ),
            None => bail!("{}:{line}: missing field `{field}`", path.display()),
        }
    }
    if texts.is_empty() {
        bail!("{}: no records", path.display());
    }
    Ok(texts)
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_error_prints_each_cause_once_on_one_line() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file");
        let inner = anyhow::Error::new(io).context("x.jsonl: No such file");
        let e = inner.context("loading the corpus");
        assert_eq!(
            super::one_line(&e),
            "loading the corpus: x.jsonl: No such file"
        );
    }
}

/// The README's Rust examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
