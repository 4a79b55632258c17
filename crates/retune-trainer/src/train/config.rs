//! `TrainConfig`: every setting of a training run, saved beside its output.

use crate::loss::LossConfig;
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
}
