//! Similarity and distance matrices, computed as sentence-transformers computes them.

use burn::tensor::{Tensor, backend::Backend};

/// Row-wise L2 normalization with torch's `F.normalize` clamp (norm >= 1e-12).
pub(crate) fn normalize<B: Backend>(x: Tensor<B, 2>) -> Tensor<B, 2> {
    crate::pooling::l2_normalize(x)
}

/// `cos(a_i, b_j)` for every pair: `[n, dim] x [m, dim] -> [n, m]`.
pub fn cosine_similarity_matrix<B: Backend>(a: Tensor<B, 2>, b: Tensor<B, 2>) -> Tensor<B, 2> {
    normalize(a).matmul(normalize(b).transpose())
}

/// Euclidean distances between all rows, as sentence-transformers' `_pairwise_distances`
/// (`squared=False`): from the dot-product expansion, clamped at 0, with a 1e-16 nudge under
/// the square root of exact zeros (whose gradient is then masked to 0).
pub fn pairwise_euclidean<B: Backend>(x: Tensor<B, 2>) -> Tensor<B, 2> {
    let [n, _] = x.dims();
    let dot = x.clone().matmul(x.transpose());
    let diag = dot.clone().diag_vec();
    let sq = diag.clone().reshape([1, n]) - dot * 2.0 + diag.reshape([n, 1]);
    let sq = sq.clamp_min(0.0);
    let zero = sq.clone().equal_elem(0.0).float();
    let d = (sq + zero.clone() * 1e-16).sqrt();
    d * (zero.neg() + 1.0)
}

trait DiagVec<B: Backend> {
    fn diag_vec(self) -> Tensor<B, 1>;
}

impl<B: Backend> DiagVec<B> for Tensor<B, 2> {
    /// The main diagonal of a square matrix.
    fn diag_vec(self) -> Tensor<B, 1> {
        let [n, _] = self.dims();
        let device = self.device();
        let eye = Tensor::<B, 2>::eye(n, &device);
        (self * eye).sum_dim(1).reshape([n])
    }
}
