//! Training losses on embeddings, with sentence-transformers' exact definitions
//! (`shared/docs/anchors.md`; values and gradients tested against sentence-transformers 6.2):
//!
//! - [`mnrl`]: MultipleNegativesRankingLoss, cosine similarity times `scale`, in-batch and hard
//!   negatives, cross-entropy with the i-th candidate as the target; optionally symmetric.
//!   [`mnrl_with_targets`] is the same loss over distinct candidates with a target column per
//!   anchor, for batches where anchors share a positive.
//! - [`triplet`]: TripletLoss, `mean(relu(d(a,p) - d(a,n) + margin))`, euclidean or cosine.
//! - [`batch_hard`], [`batch_semi_hard`], [`batch_all`]: the batch-triplet family over labels.
//!
//! Every loss takes raw embeddings (`[batch, dim]`) and returns a one-element tensor, so it works
//! on any backend and differentiates on autodiff ones. Which negative a batch-triplet loss picks
//! is decided on the host from the distance values (no gradient flows through a choice), then
//! the chosen distances are gathered from the differentiable distance matrix.

mod batch_triplet;
mod distance;
mod mnrl;
mod triplet;

pub use batch_triplet::{batch_all, batch_hard, batch_semi_hard};
pub use distance::{cosine_similarity_matrix, pairwise_euclidean};
pub use mnrl::{mnrl, mnrl_with_targets};
pub use triplet::{TripletDistance, triplet};

use crate::error::TrainerError;
use serde::{Deserialize, Serialize};

/// A loss and its parameters, as saved with every training run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "kebab-case")]
pub enum LossConfig {
    /// MultipleNegativesRankingLoss.
    Mnrl {
        /// Similarity scale (sentence-transformers: 20).
        scale: f64,
        /// Add the positive-to-anchor direction.
        symmetric: bool,
    },
    /// MNRL with gradient caching (GradCache): the same loss and gradients as [`LossConfig::Mnrl`]
    /// for any `mini_batch`, with activation memory bounded by the mini-batch.
    CachedMnrl {
        /// Similarity scale.
        scale: f64,
        /// Add the positive-to-anchor direction.
        symmetric: bool,
        /// Texts embedded per forward pass.
        mini_batch: usize,
    },
    /// TripletLoss on (anchor, positive, negative).
    Triplet {
        /// Distance.
        distance: TripletDistance,
        /// Margin (sentence-transformers: 5 euclidean).
        margin: f64,
    },
    /// BatchHardTripletLoss on (text, label).
    BatchHard {
        /// Margin.
        margin: f64,
    },
    /// BatchSemiHardTripletLoss on (text, label).
    BatchSemiHard {
        /// Margin.
        margin: f64,
    },
    /// BatchAllTripletLoss on (text, label).
    BatchAll {
        /// Margin.
        margin: f64,
    },
}

impl LossConfig {
    /// Checks the loss's own settings: a scale is finite and above 0, a margin finite and at
    /// least 0, a mini-batch at least 1 ([`TrainerError::Setting`], `loss.scale`, ...).
    pub fn validate(&self) -> Result<(), TrainerError> {
        let bad = |name: &str, problem: String| {
            Err(TrainerError::Setting {
                name: format!("loss.{name}"),
                problem,
            })
        };
        let (scale, margin, mini_batch) = match *self {
            LossConfig::Mnrl { scale, .. } => (Some(scale), None, None),
            LossConfig::CachedMnrl {
                scale, mini_batch, ..
            } => (Some(scale), None, Some(mini_batch)),
            LossConfig::Triplet { margin, .. }
            | LossConfig::BatchHard { margin }
            | LossConfig::BatchSemiHard { margin }
            | LossConfig::BatchAll { margin } => (None, Some(margin), None),
        };
        if let Some(x) = scale
            && !(x.is_finite() && x > 0.0)
        {
            return bad("scale", format!("must be a finite number above 0, got {x}"));
        }
        if let Some(x) = margin
            && !(x.is_finite() && x >= 0.0)
        {
            return bad("margin", format!("must be a finite number >= 0, got {x}"));
        }
        if mini_batch == Some(0) {
            return bad("mini_batch", "must be at least 1, got 0".into());
        }
        Ok(())
    }

    /// Whether the loss trains on (text, label) rather than (anchor, positive[, negatives]).
    pub fn uses_labels(&self) -> bool {
        matches!(
            self,
            LossConfig::BatchHard { .. }
                | LossConfig::BatchSemiHard { .. }
                | LossConfig::BatchAll { .. }
        )
    }

    /// The sentence-transformers class name, for model cards.
    pub fn st_name(&self) -> &'static str {
        match self {
            LossConfig::Mnrl {
                symmetric: false, ..
            } => "MultipleNegativesRankingLoss",
            LossConfig::Mnrl {
                symmetric: true, ..
            } => "MultipleNegativesSymmetricRankingLoss",
            LossConfig::CachedMnrl { .. } => "CachedMultipleNegativesRankingLoss",
            LossConfig::Triplet { .. } => "TripletLoss",
            LossConfig::BatchHard { .. } => "BatchHardTripletLoss",
            LossConfig::BatchSemiHard { .. } => "BatchSemiHardTripletLoss",
            LossConfig::BatchAll { .. } => "BatchAllTripletLoss",
        }
    }
}
