//! `retune bench train --model M --train T [--batch-sizes 16,32] [--engines burn,fused] [--steps N]`:
//! training speed and peak memory of MNRL fine-tuning, one child process per batch size and
//! engine (so each peak is its own), printed as a table of steps, seconds per step, samples/s,
//! tokens/s and peak resident memory. Engines alternate within each batch size, so their ratio
//! is measured side by side on a noisy machine.
//!
//! Examples are (transaction, another transaction of the same category) pairs from a course
//! file, so NO_DUPLICATES fills every batch whatever its size (27 category names could not fill
//! a batch of 32). Each run trains `--steps` optimizer steps (AdamW, warmup, clipping) after one
//! warm-up step that is not timed.

use crate::{BackendChoice, BackendTask, EngineChoice, dispatch};
use anyhow::{Context, bail};
use burn::tensor::backend::{AutodiffBackend, Backend};
use clap::Parser;
use retune_data::{EvalItem, ReadMode, read_jsonl};
use retune_trainer::loss::LossConfig;
use retune_trainer::train::{TrainConfig, TrainExample, Trainer};
use retune_trainer::{EncoderConfig, SentenceEncoder};
use std::path::PathBuf;
use std::time::Instant;

/// Time MNRL training steps at several batch sizes.
#[derive(Parser, Debug)]
pub struct BenchTrainArgs {
    /// Model folder or Hub id.
    #[arg(long)]
    model: String,
    /// Course-format file (`{input, expected}`).
    #[arg(long)]
    train: PathBuf,
    /// Batch sizes, each in its own process.
    #[arg(long, value_delimiter = ',', default_value = "16,32")]
    batch_sizes: Vec<usize>,
    /// Timed optimizer steps per batch size.
    #[arg(long, default_value_t = 5, value_parser = crate::cli::ranges::at_least_one, allow_negative_numbers = true)]
    steps: usize,
    /// Training engines to compare: `burn` (Burn's autodiff) and `fused` (the fused CPU path).
    #[arg(long, value_enum, value_delimiter = ',', default_value = "burn,fused")]
    engines: Vec<EngineChoice>,
    /// Run one batch size in this process and print its row (used by the parent).
    #[arg(long, hide = true)]
    child: Option<usize>,
    /// Compute backend.
    #[arg(long, value_enum, default_value_t = BackendChoice::Cpu)]
    backend: BackendChoice,
}

/// Same-category pairs of distinct transactions, in file order.
fn pairs(items: &[EvalItem]) -> Vec<TrainExample> {
    let mut out = Vec::new();
    for (i, a) in items.iter().enumerate() {
        let Some(cat) = a.expected.first() else {
            continue;
        };
        let partner = items
            .iter()
            .enumerate()
            .skip(i + 1)
            .chain(items.iter().enumerate().take(i))
            .find(|(_, b)| b.expected.first() == Some(cat) && b.input != a.input);
        if let Some((_, b)) = partner {
            out.push(TrainExample {
                anchor: a.input.clone(),
                positive: b.input.clone(),
                negatives: Vec::new(),
                label: 0,
            });
        }
    }
    out
}

impl BackendTask for BenchTrainArgs {
    type Output = ();

    fn run<B: Backend, A: AutodiffBackend<InnerBackend = B>>(
        self,
        _: B::Device,
        device: A::Device,
    ) -> anyhow::Result<()> {
        let batch = self.child.expect("run only in the child");
        let (items, _) = read_jsonl::<EvalItem>(&self.train, ReadMode::Strict)?;
        let examples = pairs(&items);
        let need = batch * (self.steps + 1);
        if examples.len() < need {
            bail!(
                "{} gives {} pairs; {} steps of batch {batch} (plus a warm-up step) need {need}",
                self.train.display(),
                examples.len(),
                self.steps
            );
        }
        let engine = *self.engines.first().context("no engine")?;
        let encoder = SentenceEncoder::<A>::load(
            &EncoderConfig::new(&self.model).with_engine(engine.into()),
            &device,
        )
        .with_context(|| format!("loading {}", self.model))?;
        let timed = &examples[batch..need];
        let texts: Vec<&str> = timed
            .iter()
            .flat_map(|e| [e.anchor.as_str(), e.positive.as_str()])
            .collect();
        let tokens: usize = encoder
            .tokenize(&texts, None)?
            .iter()
            .map(|t| t.ids.len())
            .sum();
        let mut config = TrainConfig::new(
            LossConfig::Mnrl {
                scale: 20.0,
                symmetric: false,
            },
            1,
        );
        config.batch_size = batch;
        let mut warm = Trainer::new(encoder.clone(), config.clone());
        warm.fit(&examples[..batch], None, None)?;
        let mut trainer = Trainer::new(encoder, config);
        let started = Instant::now();
        let fused = trainer.trains_fused();
        let report = trainer.fit(timed, None, None)?;
        let seconds = started.elapsed().as_secs_f64();
        let samples = need - batch;
        println!(
            "| {batch} | {} | {} | {:.2} | {:.1} | {:.0} | {:.0} |",
            if fused { "fused" } else { "burn" },
            report.steps,
            seconds / report.steps.max(1) as f64,
            samples as f64 / seconds,
            tokens as f64 / seconds,
            crate::alloc::peak_rss_mb().unwrap_or(f64::NAN)
        );
        Ok(())
    }
}

/// Runs the subcommand.
pub fn run(args: BenchTrainArgs) -> anyhow::Result<()> {
    if args.child.is_some() {
        let backend = args.backend;
        return dispatch(backend, args);
    }
    println!("| batch | engine | steps | s/step | samples/s | tokens/s | peak RSS MB |");
    println!("|---|---|---|---|---|---|---|");
    let exe = std::env::current_exe()?;
    for &b in &args.batch_sizes {
        for &engine in &args.engines {
            run_child(&exe, &args, b, engine)?;
        }
    }
    Ok(())
}

/// Runs one (batch size, engine) child, which prints its row.
fn run_child(
    exe: &std::path::Path,
    args: &BenchTrainArgs,
    b: usize,
    engine: EngineChoice,
) -> anyhow::Result<()> {
    let engine_name = match engine {
        EngineChoice::Auto => "auto",
        EngineChoice::Burn => "burn",
        EngineChoice::Fused => "fused",
        EngineChoice::FusedBf16 => "fused-bf16",
    };
    let status = std::process::Command::new(exe)
        .args(["bench", "train"])
        .arg("--model")
        .arg(&args.model)
        .arg("--train")
        .arg(&args.train)
        .arg("--steps")
        .arg(args.steps.to_string())
        .arg("--child")
        .arg(b.to_string())
        .arg("--backend")
        .arg(format!("{:?}", args.backend).to_lowercase())
        .arg("--engines")
        .arg(engine_name)
        .status()
        .context("running the benchmark child")?;
    if !status.success() {
        bail!("batch {b} ({engine_name}) failed ({status})");
    }
    Ok(())
}
