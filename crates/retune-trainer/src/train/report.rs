//! What a training run did: its steps ([`StepLog`], checked finite as they come), its
//! validation results and its best step ([`TrainReport`]), appended to the run's JSONL log.
//! Both loops (bi-encoder and cross-encoder) and their checkpoints share it.

use crate::error::TrainerError;
use retune_data::JsonlAppender;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// Where a run keeps its record: the JSONL step log, the checkpoint folder, and whether to
/// resume from the newest checkpoint there. The default keeps neither and starts afresh.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunFiles<'a> {
    /// Append every step and validation here.
    pub log: Option<&'a Path>,
    /// Write checkpoints here (the two newest are kept).
    pub checkpoints: Option<&'a Path>,
    /// Continue from the newest checkpoint in `checkpoints` (its settings and data must match).
    pub resume: bool,
}

/// One logged optimizer step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepLog {
    /// Optimizer step (1-based).
    pub step: usize,
    /// Epoch (0-based).
    pub epoch: usize,
    /// Mean loss over the step's batches.
    pub loss: f64,
    /// Learning rate used.
    pub lr: f64,
    /// Global gradient norm before clipping.
    pub grad_norm: f64,
    /// Seconds since training started.
    pub seconds: f64,
}

/// What a run did.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TrainReport {
    /// Optimizer steps taken.
    pub steps: usize,
    /// Every step.
    pub log: Vec<StepLog>,
    /// Validation results (step, metric name -> mean).
    pub evals: Vec<(usize, BTreeMap<String, f64>)>,
    /// Step and value of the best validation result by the chosen metric.
    pub best: Option<(usize, f64)>,
    /// Wall time of the run.
    pub seconds: f64,
    /// Validation of the averaged weights (`average_last_epochs`), and how many were averaged.
    pub average: Option<(usize, BTreeMap<String, f64>)>,
}

#[derive(Serialize)]
struct EvalLog<'a> {
    step: usize,
    eval: &'a BTreeMap<String, f64>,
}

impl TrainReport {
    /// Records an optimizer step, appending it to `log` when given.
    pub fn record_step(
        &mut self,
        entry: StepLog,
        log: &mut Option<JsonlAppender>,
    ) -> Result<(), TrainerError> {
        for (quantity, value) in [("loss", entry.loss), ("gradient norm", entry.grad_norm)] {
            if !value.is_finite() {
                return Err(TrainerError::Diverged {
                    step: entry.step,
                    quantity,
                    value,
                    lr: entry.lr,
                });
            }
        }
        if let Some(w) = log {
            w.append(&entry)?;
        }
        self.log.push(entry);
        Ok(())
    }

    /// Records a validation result at `step` whose deciding value is `value` (appending it to
    /// `log`); returns whether it is the best so far (strictly better than every earlier one).
    pub fn record_eval(
        &mut self,
        step: usize,
        result: BTreeMap<String, f64>,
        value: f64,
        log: &mut Option<JsonlAppender>,
    ) -> Result<bool, TrainerError> {
        let best = self.best.is_none_or(|(_, b)| value > b);
        if best {
            self.best = Some((step, value));
        }
        if let Some(w) = log {
            w.append(&EvalLog {
                step,
                eval: &result,
            })?;
        }
        self.evals.push((step, result));
        Ok(best)
    }
}
