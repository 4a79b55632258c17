//! Training checkpoints for an exact resume.
//!
//! After each epoch the trainer writes `checkpoint-NNN/` (NNN = epochs done) under the
//! checkpoint folder: `model.safetensors` (current weights), `optimizer.safetensors` (AdamW's
//! `m.*` / `v.*` moments), `best.safetensors` (the best validated weights, when any),
//! `average.safetensors` (the running weight average, when one is kept) and
//! `state.json` (steps, optimizer step, the report so far, the config). Each is built in a
//! `.partial` folder and renamed into place, so a kill during the write leaves the previous
//! checkpoint intact and only a `.partial` folder, which resuming ignores; the two newest are
//! kept. Batches depend only on (seed, epoch) and dropout masks on (seed, step), so a run
//! resumed from epoch N continues with exactly the steps the uninterrupted run took.
//!
//! The format is shared by the bi-encoder trainer (config [`TrainConfig`]) and the
//! cross-encoder trainer (its own config): both write any [`ParamTable`] model.

use super::average::WeightAverage;
use super::config::TrainConfig;
use super::optim::AdamW;
use super::report::{StepLog, TrainReport};
use crate::error::TrainerError;
use crate::export::replace_dir;
use crate::weights::{
    ParamTable, TensorFile, collect_params, load_weights, to_f32, write_safetensors,
};
use burn::module::AutodiffModule;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Tensor, TensorData};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What `state.json` holds; `C` is the trainer's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointState<C = TrainConfig> {
    /// Epochs completed.
    pub epochs_done: usize,
    /// Optimizer steps taken.
    pub steps: usize,
    /// AdamW's step counter (bias correction).
    pub optimizer_step: usize,
    /// Every step logged so far.
    pub log: Vec<StepLog>,
    /// Validation results so far.
    pub evals: Vec<(usize, BTreeMap<String, f64>)>,
    /// Best validation (step, value).
    pub best: Option<(usize, f64)>,
    /// Training seconds before the checkpoint.
    pub seconds: f64,
    /// The run's settings (a resume must use the same).
    pub config: C,
    /// Models in `average.safetensors` (0: none).
    #[serde(default)]
    pub average_count: usize,
    /// The fingerprint of the training data ([`fingerprint`]); a resume on other data is
    /// refused. Empty in checkpoints written before it was recorded.
    #[serde(default)]
    pub data: String,
}

/// A sha256 over `parts` (each length-prefixed, so `["ab", "c"]` and `["a", "bc"]` differ), as
/// hex: what a checkpoint records of its training data.
pub fn fingerprint<'a>(parts: impl IntoIterator<Item = &'a str>) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p.as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Keeps the lines of the JSONL training log at `path` that belong to steps up to `steps`
/// (a resumed run logs the later ones again), rewriting it atomically.
pub(crate) fn truncate_log(path: &Path, steps: usize) -> Result<(), TrainerError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(TrainerError::io(path)(e)),
    };
    let kept: String = text
        .lines()
        .filter(|l| {
            serde_json::from_str::<serde_json::Value>(l)
                .ok()
                .and_then(|v| v.get("step").and_then(serde_json::Value::as_u64))
                .is_none_or(|s| s as usize <= steps)
        })
        .map(|l| format!("{l}\n"))
        .collect();
    if kept.len() == text.len() {
        return Ok(());
    }
    let tmp = path.with_extension("jsonl.tmp");
    std::fs::write(&tmp, kept).map_err(TrainerError::io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(TrainerError::io(path))
}

/// The newest complete checkpoint under `dir` (one with `state.json`), if any.
pub fn latest_checkpoint(dir: &Path) -> Option<PathBuf> {
    let mut found: Vec<(usize, PathBuf)> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let n: usize = name.strip_prefix("checkpoint-")?.parse().ok()?;
            e.path().join("state.json").is_file().then(|| (n, e.path()))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, p)| p)
}

/// Writes `checkpoint-{epochs_done}` under `dir` and prunes all but the two newest.
pub(crate) fn save_checkpoint<B: Backend, M: ParamTable<B> + Clone, C: Serialize>(
    dir: &Path,
    model: &M,
    optimizer: &AdamW<B>,
    best: Option<&M>,
    average: Option<&WeightAverage>,
    state: &CheckpointState<C>,
) -> Result<PathBuf, TrainerError> {
    crate::output::check_replaceable(dir)?;
    std::fs::create_dir_all(dir).map_err(TrainerError::io(dir))?;
    crate::output::mark(dir)?;
    let target = dir.join(format!("checkpoint-{:03}", state.epochs_done));
    replace_dir(&target, |tmp| {
        let mut w = BTreeMap::new();
        collect_params(model, &mut w);
        write_safetensors(&tmp.join("model.safetensors"), &w)?;
        if let Some(b) = best {
            let mut w = BTreeMap::new();
            collect_params(b, &mut w);
            write_safetensors(&tmp.join("best.safetensors"), &w)?;
        }
        if let Some(a) = average.filter(|a| a.count > 0) {
            a.save(&tmp.join("average.safetensors"))?;
        }
        let o: BTreeMap<String, (Vec<usize>, Vec<f32>)> = optimizer
            .named_moments()
            .into_iter()
            .map(|(name, v)| (name, (vec![v.len()], v)))
            .collect();
        write_safetensors(&tmp.join("optimizer.safetensors"), &o)?;
        let p = tmp.join("state.json");
        let text = serde_json::to_string_pretty(state).expect("state serializes");
        std::fs::write(&p, text).map_err(TrainerError::io(&p))
    })?;
    let mut all: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(TrainerError::io(dir))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("checkpoint-"))
        })
        .collect();
    all.sort();
    for old in all.iter().rev().skip(2) {
        std::fs::remove_dir_all(old).map_err(TrainerError::io(old))?;
    }
    Ok(target)
}

/// Reads `state.json` and AdamW's moments of a checkpoint.
pub(crate) fn load_state<B: Backend, C: DeserializeOwned>(
    checkpoint: &Path,
    optimizer: &mut AdamW<B>,
    device: &B::Device,
) -> Result<CheckpointState<C>, TrainerError> {
    let p = checkpoint.join("state.json");
    let text = std::fs::read_to_string(&p).map_err(TrainerError::io(&p))?;
    let state: CheckpointState<C> =
        serde_json::from_str(&text).map_err(|source| TrainerError::Json {
            path: p.clone(),
            source,
        })?;
    let p = checkpoint.join("optimizer.safetensors");
    let file = TensorFile::read(&p)?;
    let st = file.parse(&p)?;
    optimizer.clear_moments();
    for (name, view) in st.tensors() {
        let values = to_f32(&view).ok_or_else(|| TrainerError::Weights {
            path: p.clone(),
            problems: vec![format!("{name}: not a float tensor")],
        })?;
        let n = values.len();
        let t = Tensor::<B, 1>::from_data(TensorData::new(values, [n]), device);
        if let Some(k) = name.strip_prefix("m.") {
            optimizer.m.insert(k.to_owned(), t);
        } else if let Some(k) = name.strip_prefix("v.") {
            optimizer.v.insert(k.to_owned(), t);
        }
    }
    optimizer.step = state.optimizer_step;
    Ok(state)
}

/// What [`restore`] brings back besides the weights it loads into the model.
pub(crate) struct Restored<C, M> {
    /// The checkpoint folder.
    pub path: PathBuf,
    /// Its `state.json`.
    pub state: CheckpointState<C>,
    /// The best validated weights, when the checkpoint has them.
    pub best: Option<M>,
}

/// Loads the newest checkpoint in `dir` into a training run: the current weights into `model`,
/// AdamW's moments and step into `optimizer`; the best weights and the state are returned.
/// `None` without a checkpoint; an error when it was written with other settings than
/// `config`.
pub(crate) fn restore<A, M, C>(
    dir: &Path,
    model: &mut M,
    optimizer: &mut AdamW<A::InnerBackend>,
    (config, data): (&C, &str),
    device: &A::Device,
) -> Result<Option<Restored<C, M::InnerModule>>, TrainerError>
where
    A: AutodiffBackend,
    M: AutodiffModule<A> + ParamTable<A>,
    M::InnerModule: ParamTable<A::InnerBackend>,
    C: DeserializeOwned + PartialEq,
{
    let Some(path) = latest_checkpoint(dir) else {
        return Ok(None);
    };
    let state: CheckpointState<C> = load_state(&path, optimizer, device)?;
    if &state.config != config {
        return Err(TrainerError::config(
            path.join("state.json"),
            "config",
            "the checkpoint was written with other training settings; resume with the same ones",
        ));
    }
    if !state.data.is_empty() && state.data != data {
        return Err(TrainerError::config(
            path.join("state.json"),
            "data",
            "the checkpoint was trained on other data than this run's: resume with the same training file, or start again without resuming",
        ));
    }
    load_weights(model, &path.join("model.safetensors"), device)?;
    let best_path = path.join("best.safetensors");
    let best = if best_path.is_file() {
        let mut m = model.valid();
        load_weights(&mut m, &best_path, device)?;
        Some(m)
    } else {
        None
    };
    Ok(Some(Restored { path, state, best }))
}

impl<C> CheckpointState<C> {
    /// The report the run had when the checkpoint was written.
    pub fn report(&self) -> TrainReport {
        TrainReport {
            steps: self.steps,
            log: self.log.clone(),
            evals: self.evals.clone(),
            best: self.best,
            seconds: self.seconds,
            average: None,
        }
    }
}
