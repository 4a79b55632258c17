//! MultipleNegativesRankingLoss.

use super::distance::cosine_similarity_matrix;
use burn::tensor::activation::log_softmax;
use burn::tensor::{Int, Tensor, TensorData, backend::Backend};

/// Cross-entropy of `scores` `[n, m]` with target column `i` for row `i`, averaged over rows.
fn diagonal_cross_entropy<B: Backend>(scores: Tensor<B, 2>) -> Tensor<B, 1> {
    let [n, _] = scores.dims();
    let device = scores.device();
    let targets = Tensor::<B, 2, Int>::from_data(
        TensorData::new((0..n as i32).collect::<Vec<_>>(), [n, 1]),
        &device,
    );
    let picked = log_softmax(scores, 1).gather(1, targets);
    picked.mean().neg()
}

/// MNRL: `anchors` `[B, dim]`, `positives` `[B, dim]`, `negatives` zero or more `[B, dim]`
/// (one hard negative per anchor each). Scores are `scale * cos(anchor_i, candidate_j)` over
/// candidates `cat(positives, negatives...)`; the loss is the cross-entropy with target `i`.
/// `symmetric` adds, and averages with, the positive-to-anchor direction over the positives
/// (sentence-transformers' MultipleNegativesSymmetricRankingLoss).
pub fn mnrl<B: Backend>(
    anchors: Tensor<B, 2>,
    positives: Tensor<B, 2>,
    negatives: &[Tensor<B, 2>],
    scale: f64,
    symmetric: bool,
) -> Tensor<B, 1> {
    let mut candidates = vec![positives.clone()];
    candidates.extend(negatives.iter().cloned());
    let docs = Tensor::cat(candidates, 0);
    let forward = diagonal_cross_entropy(cosine_similarity_matrix(anchors.clone(), docs) * scale);
    if !symmetric {
        return forward;
    }
    let backward = diagonal_cross_entropy(cosine_similarity_matrix(positives, anchors) * scale);
    (forward + backward) / 2.0
}
