//! `TrainConfig`: every setting of a training run, saved beside its output.

use crate::error::TrainerError;
use crate::loss::LossConfig;
use retune_metrics::Metric;
use serde::{Deserialize, Serialize};

/// How batches are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SamplerKind {
    /// No text twice in a batch (sentence-transformers' NO_DUPLICATES).
    NoDuplicates,
    /// Pairs of same-label examples (GROUP_BY_LABEL), for the batch-triplet losses.
    GroupByLabel,
    /// Shuffled batches of `batch_size` with no duplicate check, for MNRL over distinct
    /// candidates ([`TrainConfig::shared_negatives`]), which handles shared positives itself.
    Shuffled,
}

/// Settings of a training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// The loss.
    pub loss: LossConfig,
    /// Passes over the training data.
    pub epochs: usize,
    /// Examples per batch.
    pub batch_size: usize,
    /// Peak learning rate.
    pub lr: f64,
    /// Fraction of the steps spent warming up linearly from 0.
    pub warmup_ratio: f64,
    /// AdamW weight decay (not applied to biases and LayerNorm).
    pub weight_decay: f64,
    /// AdamW epsilon (Hugging Face: 1e-6 in sentence-transformers' fit, 1e-8 in Trainer).
    pub adam_epsilon: f64,
    /// Clip gradients to this global L2 norm (0 disables).
    pub max_grad_norm: f64,
    /// Batches whose gradients are summed before one optimizer step.
    pub grad_accumulation: usize,
    /// Seed of sampling, dropout and initialization.
    pub seed: u64,
    /// Evaluate every this many optimizer steps (0: only at the end of each epoch).
    pub eval_every: usize,
    /// Metric that chooses the best checkpoint (a retune-metrics name, e.g. `mrr@10`).
    pub best_metric: String,
    /// Batch sampler.
    pub sampler: SamplerKind,
    /// Documents scored against every anchor of every batch besides the batch's own positives
    /// and negatives (a small corpus, whole); MNRL only. Candidates are deduplicated, so a
    /// document that is an anchor's positive is its target and never its negative.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shared_negatives: Vec<String>,
    /// Average the weights at the end of each of the last this many epochs and make the mean
    /// the run's result ([`crate::train::WeightAverage`]); 0 keeps the best validated (or
    /// the last) weights.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub average_last_epochs: usize,
    /// Layer-wise learning-rate decay: the top encoder layer trains at `lr`, each layer below
    /// at this factor of the one above it, the embeddings at this factor of the first layer
    /// ([`crate::train::layer_lr_multipliers`]); 1 trains every parameter at `lr`.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub layer_lr_decay: f64,
    /// Stop after this many optimizer steps, with the learning rate still following the
    /// schedule of all `epochs` (a refit that ends where a validated run chose its best
    /// weights); 0 runs the whole schedule.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub stop_at_step: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

fn one() -> f64 {
    1.0
}

#[allow(clippy::trivially_copy_pass_by_ref, clippy::float_cmp)]
fn is_one(x: &f64) -> bool {
    *x == 1.0
}

impl TrainConfig {
    /// Whether MNRL runs over the batch's distinct candidates with a target per anchor
    /// ([`crate::loss::mnrl_with_targets`]) rather than column by column.
    pub fn distinct_candidates(&self) -> bool {
        self.sampler == SamplerKind::Shuffled || !self.shared_negatives.is_empty()
    }

    /// sentence-transformers' documented recipe around a loss: batch 16, lr 2e-5, warmup 0.1,
    /// weight decay 0.01, clip 1.0, NO_DUPLICATES (GROUP_BY_LABEL for batch-triplet losses).
    pub fn new(loss: LossConfig, epochs: usize) -> Self {
        let sampler = if loss.uses_labels() {
            SamplerKind::GroupByLabel
        } else {
            SamplerKind::NoDuplicates
        };
        Self {
            loss,
            epochs,
            batch_size: 16,
            lr: 2e-5,
            warmup_ratio: 0.1,
            weight_decay: 0.01,
            adam_epsilon: 1e-6,
            max_grad_norm: 1.0,
            grad_accumulation: 1,
            seed: 0,
            eval_every: 0,
            best_metric: "mrr@10".into(),
            sampler,
            shared_negatives: Vec::new(),
            average_last_epochs: 0,
            layer_lr_decay: 1.0,
            stop_at_step: 0,
        }
    }

    /// Checks every setting before any work: the first one out of its range is an error naming
    /// it, its value and the range ([`TrainerError::Setting`]).
    pub fn validate(&self) -> Result<(), TrainerError> {
        let bad = |name: &str, problem: String| {
            Err(TrainerError::Setting {
                name: name.to_owned(),
                problem,
            })
        };
        let positive = |name: &str, x: f64| {
            if x.is_finite() && x > 0.0 {
                Ok(())
            } else {
                bad(name, format!("must be a finite number above 0, got {x}"))
            }
        };
        let at_least_one = |name: &str, n: usize| {
            if n >= 1 {
                Ok(())
            } else {
                bad(name, "must be at least 1, got 0".into())
            }
        };
        at_least_one("epochs", self.epochs)?;
        at_least_one("batch_size", self.batch_size)?;
        at_least_one("grad_accumulation", self.grad_accumulation)?;
        positive("lr", self.lr)?;
        positive("adam_epsilon", self.adam_epsilon)?;
        if !(0.0..=1.0).contains(&self.warmup_ratio) {
            return bad(
                "warmup_ratio",
                format!("must be in [0, 1], got {}", self.warmup_ratio),
            );
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return bad(
                "weight_decay",
                format!("must be a finite number >= 0, got {}", self.weight_decay),
            );
        }
        if self.max_grad_norm.is_nan() || self.max_grad_norm < 0.0 {
            return bad(
                "max_grad_norm",
                format!(
                    "must be >= 0 (0 disables clipping), got {}",
                    self.max_grad_norm
                ),
            );
        }
        if !(self.layer_lr_decay > 0.0 && self.layer_lr_decay <= 1.0) {
            return bad(
                "layer_lr_decay",
                format!("must be in (0, 1], got {}", self.layer_lr_decay),
            );
        }
        if self.best_metric.parse::<Metric>().is_err() {
            return bad(
                "best_metric",
                format!(
                    "unknown metric {:?} (e.g. mrr@10, recall@1, ndcg@10)",
                    self.best_metric
                ),
            );
        }
        if self.distinct_candidates() && !matches!(self.loss, LossConfig::Mnrl { .. }) {
            return bad(
                "shared_negatives",
                format!(
                    "distinct candidates (shared negatives, the shuffled sampler) need the mnrl loss, not {}",
                    self.loss.st_name()
                ),
            );
        }
        if self.stop_at_step > 0 && self.average_last_epochs > 0 {
            return bad(
                "stop_at_step",
                "a run that stops early has no last epochs to average (average_last_epochs)".into(),
            );
        }
        self.loss.validate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validate_names_the_first_setting_out_of_range() {
        let mnrl = LossConfig::Mnrl {
            scale: 20.0,
            symmetric: false,
        };
        assert!(TrainConfig::new(mnrl, 1).validate().is_ok());
        type Change = Box<dyn Fn(&mut TrainConfig)>;
        let cases: Vec<(&str, Change)> = vec![
            ("epochs", Box::new(|c| c.epochs = 0)),
            ("batch_size", Box::new(|c| c.batch_size = 0)),
            ("grad_accumulation", Box::new(|c| c.grad_accumulation = 0)),
            ("lr", Box::new(|c| c.lr = -1.0)),
            ("lr", Box::new(|c| c.lr = f64::NAN)),
            ("adam_epsilon", Box::new(|c| c.adam_epsilon = 0.0)),
            ("warmup_ratio", Box::new(|c| c.warmup_ratio = 5.0)),
            ("weight_decay", Box::new(|c| c.weight_decay = f64::INFINITY)),
            ("max_grad_norm", Box::new(|c| c.max_grad_norm = f64::NAN)),
            ("layer_lr_decay", Box::new(|c| c.layer_lr_decay = 0.0)),
            (
                "best_metric",
                Box::new(|c| c.best_metric = "accuracy".into()),
            ),
            (
                "stop_at_step",
                Box::new(|c| {
                    c.stop_at_step = 3;
                    c.average_last_epochs = 2;
                }),
            ),
            (
                "shared_negatives",
                Box::new(|c| {
                    c.loss = LossConfig::BatchAll { margin: 1.0 };
                    c.sampler = SamplerKind::Shuffled;
                }),
            ),
            (
                "loss.scale",
                Box::new(|c| {
                    c.loss = LossConfig::Mnrl {
                        scale: f64::NAN,
                        symmetric: false,
                    }
                }),
            ),
            (
                "loss.margin",
                Box::new(|c| c.loss = LossConfig::BatchHard { margin: -1.0 }),
            ),
        ];
        for (name, change) in cases {
            let mut c = TrainConfig::new(mnrl, 1);
            change(&mut c);
            match c.validate() {
                Err(TrainerError::Setting { name: got, problem }) => {
                    assert_eq!(got, name, "{problem}");
                }
                other => panic!("{name}: {other:?}"),
            }
        }
        // Clipping off (0) and unbounded (infinity) are both settings, not mistakes.
        let mut c = TrainConfig::new(mnrl, 1);
        c.max_grad_norm = f64::INFINITY;
        assert!(c.validate().is_ok());
    }
}
