//! The batch-triplet losses over (embedding, label) batches, with sentence-transformers'
//! euclidean distance matrix. The hardest or semi-hard choices are made on the host from the
//! distance values; the loss gathers the chosen entries of the differentiable matrix, so values
//! and gradients equal sentence-transformers' masked-min/max formulation.

use super::distance::pairwise_euclidean;
use burn::tensor::activation::relu;
use burn::tensor::{Int, Tensor, TensorData, backend::Backend};

fn host_values<B: Backend>(d: &Tensor<B, 2>) -> Vec<f32> {
    d.clone()
        .into_data()
        .convert::<f32>()
        .into_vec()
        .expect("f32 distances")
}

fn pick<B: Backend>(d: Tensor<B, 2>, flat: Vec<i32>) -> Tensor<B, 1> {
    let [n, m] = d.dims();
    let device = d.device();
    let len = flat.len();
    let idx = Tensor::<B, 1, Int>::from_data(TensorData::new(flat, [len]), &device);
    d.reshape([n * m]).select(0, idx)
}

/// BatchHardTripletLoss: per anchor, the farthest same-label and the closest other-label
/// embedding; `mean(relu(hardest_p - hardest_n + margin))`. An anchor without a positive uses
/// 0 for it (sentence-transformers' masked max), one without a negative uses its largest
/// distance.
pub fn batch_hard<B: Backend>(
    embeddings: Tensor<B, 2>,
    labels: &[i64],
    margin: f64,
) -> Tensor<B, 1> {
    let d = pairwise_euclidean(embeddings);
    let [n, _] = d.dims();
    let v = host_values(&d);
    let device = d.device();
    let (mut pos_idx, mut neg_idx, mut pos_w) = (Vec::new(), Vec::new(), Vec::new());
    for a in 0..n {
        let row = &v[a * n..(a + 1) * n];
        let hp = (0..n)
            .filter(|&j| j != a && labels[j] == labels[a])
            .max_by(|&x, &y| row[x].total_cmp(&row[y]));
        let hn = (0..n)
            .filter(|&j| labels[j] != labels[a])
            .min_by(|&x, &y| row[x].total_cmp(&row[y]))
            .unwrap_or_else(|| {
                (0..n)
                    .max_by(|&x, &y| row[x].total_cmp(&row[y]))
                    .expect("non-empty batch")
            });
        pos_idx.push((a * n + hp.unwrap_or(a)) as i32);
        pos_w.push(if hp.is_some() { 1.0f32 } else { 0.0 });
        neg_idx.push((a * n + hn) as i32);
    }
    let w = Tensor::<B, 1>::from_data(TensorData::new(pos_w, [n]), &device);
    let hardest_p = pick(d.clone(), pos_idx) * w;
    let hardest_n = pick(d, neg_idx);
    relu(hardest_p - hardest_n + margin).mean()
}

/// BatchSemiHardTripletLoss (the TensorFlow-addons formulation): for every positive pair
/// (a, p), the closest negative farther from a than p, or, when there is none, the farthest
/// negative; `sum(relu(d(a,p) - d(a,n) + margin)) / number of positive pairs`.
pub fn batch_semi_hard<B: Backend>(
    embeddings: Tensor<B, 2>,
    labels: &[i64],
    margin: f64,
) -> Tensor<B, 1> {
    let d = pairwise_euclidean(embeddings);
    let [n, _] = d.dims();
    let v = host_values(&d);
    let (mut pos_idx, mut neg_idx) = (Vec::new(), Vec::new());
    for a in 0..n {
        let row = &v[a * n..(a + 1) * n];
        let negatives: Vec<usize> = (0..n).filter(|&j| labels[j] != labels[a]).collect();
        for p in (0..n).filter(|&p| p != a && labels[p] == labels[a]) {
            let outside = negatives
                .iter()
                .copied()
                .filter(|&k| row[k] > row[p])
                .min_by(|&x, &y| row[x].total_cmp(&row[y]));
            let inside = negatives
                .iter()
                .copied()
                .max_by(|&x, &y| row[x].total_cmp(&row[y]));
            // No negative at all: sentence-transformers' masked maximum falls back to the row minimum.
            let fallback = || {
                (0..n)
                    .min_by(|&x, &y| row[x].total_cmp(&row[y]))
                    .expect("non-empty batch")
            };
            let k = outside.or(inside).unwrap_or_else(fallback);
            pos_idx.push((a * n + p) as i32);
            neg_idx.push((a * n + k) as i32);
        }
    }
    let count = pos_idx.len() as f64;
    hinge_sum(d, pos_idx, neg_idx, margin, count)
}

/// BatchAllTripletLoss: every valid (a, p, n) with `relu(d(a,p) - d(a,n) + margin)`, summed and
/// divided by the number of triplets whose loss is above 1e-16.
pub fn batch_all<B: Backend>(
    embeddings: Tensor<B, 2>,
    labels: &[i64],
    margin: f64,
) -> Tensor<B, 1> {
    let d = pairwise_euclidean(embeddings);
    let [n, _] = d.dims();
    let v = host_values(&d);
    let (mut pos_idx, mut neg_idx) = (Vec::new(), Vec::new());
    let mut active = 0usize;
    for a in 0..n {
        for p in (0..n).filter(|&p| p != a && labels[p] == labels[a]) {
            for k in (0..n).filter(|&k| labels[k] != labels[a]) {
                let l = f64::from(v[a * n + p]) - f64::from(v[a * n + k]) + margin;
                if l > 1e-16 {
                    active += 1;
                }
                pos_idx.push((a * n + p) as i32);
                neg_idx.push((a * n + k) as i32);
            }
        }
    }
    hinge_sum(d, pos_idx, neg_idx, margin, active as f64 + 1e-16)
}

/// `sum(relu(d[pos] - d[neg] + margin)) / denominator` over the chosen (flat) entries of the
/// distance matrix; a batch with no triplet gives 0 (still attached to the graph).
fn hinge_sum<B: Backend>(
    d: Tensor<B, 2>,
    pos_idx: Vec<i32>,
    neg_idx: Vec<i32>,
    margin: f64,
    denominator: f64,
) -> Tensor<B, 1> {
    if pos_idx.is_empty() {
        return (d.sum() * 0.0).reshape([1]);
    }
    let dp = pick(d.clone(), pos_idx);
    let dn = pick(d, neg_idx);
    relu(dp - dn + margin).sum() / denominator
}
