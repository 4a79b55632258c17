//! TripletLoss on (anchor, positive, negative) rows.

use super::distance::normalize;
use burn::tensor::activation::relu;
use burn::tensor::{Tensor, backend::Backend};
use serde::{Deserialize, Serialize};

/// The distance of TripletLoss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TripletDistance {
    /// `||a - b + 1e-6||` (torch `pairwise_distance`, its default eps included).
    Euclidean,
    /// `1 - cos(a, b)`.
    Cosine,
}

fn distance<B: Backend>(a: Tensor<B, 2>, b: Tensor<B, 2>, kind: TripletDistance) -> Tensor<B, 1> {
    let [n, _] = a.dims();
    match kind {
        TripletDistance::Euclidean => ((a - b) + 1e-6)
            .powf_scalar(2.0)
            .sum_dim(1)
            .sqrt()
            .reshape([n]),
        TripletDistance::Cosine => {
            (normalize(a) * normalize(b)).sum_dim(1).reshape([n]).neg() + 1.0
        }
    }
}

/// `mean(relu(d(a, p) - d(a, n) + margin))`.
pub fn triplet<B: Backend>(
    anchors: Tensor<B, 2>,
    positives: Tensor<B, 2>,
    negatives: Tensor<B, 2>,
    kind: TripletDistance,
    margin: f64,
) -> Tensor<B, 1> {
    let dp = distance(anchors.clone(), positives, kind);
    let dn = distance(anchors, negatives, kind);
    relu(dp - dn + margin).mean()
}
