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

/// MNRL over a set of distinct candidate documents: row `i` of `anchors` `[B, dim]` is scored
/// against every row of `candidates` `[M, dim]` and its target is column `targets[i]`, so several
/// anchors may share one positive (category names as positives) without that positive counting
/// as a negative for any of them, and without a duplicate-free sampler. `symmetric` adds the
/// positive-to-anchor direction: the target document of anchor `i` against all anchors, with the
/// other anchors of that same document left out of the softmax (they are not negatives).
///
/// With distinct positives, `candidates = cat(positives, negatives...)` and `targets = 0..B`,
/// this is exactly [`mnrl`].
pub fn mnrl_with_targets<B: Backend>(
    anchors: Tensor<B, 2>,
    candidates: Tensor<B, 2>,
    targets: &[usize],
    scale: f64,
    symmetric: bool,
) -> Tensor<B, 1> {
    let n = targets.len();
    let device = anchors.device();
    let index = |v: Vec<i32>, shape: [usize; 2]| {
        Tensor::<B, 2, Int>::from_data(TensorData::new(v, shape), &device)
    };
    let cols: Vec<i32> = targets.iter().map(|&t| t as i32).collect();
    let scores = cosine_similarity_matrix(anchors.clone(), candidates.clone()) * scale;
    let forward = log_softmax(scores, 1)
        .gather(1, index(cols.clone(), [n, 1]))
        .mean()
        .neg();
    if !symmetric {
        return forward;
    }
    let own = candidates.select(0, index(cols, [n, 1]).reshape([n]));
    let mut mask = vec![0f32; n * n];
    for i in 0..n {
        for j in 0..n {
            if i != j && targets[i] == targets[j] {
                mask[i * n + j] = MASKED;
            }
        }
    }
    let mask = Tensor::<B, 2>::from_data(TensorData::new(mask, [n, n]), &device);
    let backward = diagonal_cross_entropy(cosine_similarity_matrix(own, anchors) * scale + mask);
    (forward + backward) / 2.0
}

/// Added to a score to take it out of a softmax: `exp(-1e4)` is 0 in f32, and unlike `-inf`
/// it cannot turn a row whose every entry is masked into NaN.
const MASKED: f32 = -1.0e4;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{Cpu, cpu_device};

    fn matrix(rows: usize, cols: usize, seed: u32) -> Vec<f32> {
        (0..rows * cols)
            .map(|i| ((i as u32).wrapping_mul(2_654_435_761) ^ seed.wrapping_mul(40_503)) as f32)
            .map(|x| (x / u32::MAX as f32) * 2.0 - 1.0)
            .collect()
    }

    fn tensor(v: &[f32], rows: usize, cols: usize) -> Tensor<Cpu, 2> {
        Tensor::from_data(TensorData::new(v.to_vec(), [rows, cols]), &cpu_device())
    }

    fn cos(a: &[f32], b: &[f32]) -> f64 {
        let dot: f64 = a
            .iter()
            .zip(b)
            .map(|(x, y)| f64::from(*x) * f64::from(*y))
            .sum();
        let na: f64 = a.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
        let nb: f64 = b.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
        dot / (na * nb)
    }

    /// `-log softmax(row)[target]` over the entries `keep` allows.
    fn nll(row: &[f64], target: usize, keep: impl Fn(usize) -> bool) -> f64 {
        let lse = row
            .iter()
            .enumerate()
            .filter(|(j, _)| keep(*j))
            .map(|(_, s)| s.exp())
            .sum::<f64>()
            .ln();
        lse - row[target]
    }

    #[test]
    fn equals_mnrl_when_positives_are_distinct() {
        let (n, d) = (5, 8);
        let (a, p, neg) = (matrix(n, d, 1), matrix(n, d, 2), matrix(n, d, 3));
        let candidates = Tensor::cat(vec![tensor(&p, n, d), tensor(&neg, n, d)], 0);
        let targets: Vec<usize> = (0..n).collect();
        for symmetric in [false, true] {
            let plain: f32 = mnrl(
                tensor(&a, n, d),
                tensor(&p, n, d),
                &[tensor(&neg, n, d)],
                20.0,
                symmetric,
            )
            .into_scalar();
            let targeted: f32 = mnrl_with_targets(
                tensor(&a, n, d),
                candidates.clone(),
                &targets,
                20.0,
                symmetric,
            )
            .into_scalar();
            assert!(
                (plain - targeted).abs() <= 1e-5 * plain.abs(),
                "symmetric {symmetric}: {plain} vs {targeted}"
            );
        }
    }

    #[test]
    fn shared_positives_are_never_negatives() {
        let (n, m, d) = (4, 3, 6);
        let (a, c) = (matrix(n, d, 4), matrix(m, d, 5));
        let targets = [0usize, 2, 0, 1];
        let scale = 20.0;
        let row = |x: &[f32], i: usize| x[i * d..(i + 1) * d].to_vec();
        let mut forward = 0.0;
        let mut backward = 0.0;
        for i in 0..n {
            let s: Vec<f64> = (0..m)
                .map(|k| scale * cos(&row(&a, i), &row(&c, k)))
                .collect();
            forward += nll(&s, targets[i], |_| true);
            let own = row(&c, targets[i]);
            let s: Vec<f64> = (0..n).map(|j| scale * cos(&own, &row(&a, j))).collect();
            backward += nll(&s, i, |j| j == i || targets[j] != targets[i]);
        }
        let (forward, backward) = (forward / n as f64, backward / n as f64);
        let got = |sym| -> f64 {
            let v: f32 =
                mnrl_with_targets(tensor(&a, n, d), tensor(&c, m, d), &targets, scale, sym)
                    .into_scalar();
            f64::from(v)
        };
        assert!(
            (got(false) - forward).abs() < 1e-5 * forward,
            "{} vs {forward}",
            got(false)
        );
        let sym = (forward + backward) / 2.0;
        assert!(
            (got(true) - sym).abs() < 1e-5 * sym,
            "{} vs {sym}",
            got(true)
        );
    }
}
