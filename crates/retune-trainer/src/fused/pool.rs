//! Pooling one unpadded sequence's token states into a vector, as [`crate::Pooling`] does on
//! padded Burn tensors (there are no padded rows here to exclude), and L2 normalization as
//! torch's `F.normalize`.

use crate::Pooling;

/// Pools `states` (`len` rows of `dim`) into `dim` values.
pub(crate) fn pool(mode: Pooling, states: &[f32], dim: usize) -> Vec<f32> {
    let len = states.len() / dim;
    let rows = states.chunks_exact(dim);
    match mode {
        Pooling::Cls => states[..dim].to_vec(),
        Pooling::LastToken => states[states.len().saturating_sub(dim)..].to_vec(),
        Pooling::Max => rows.fold(vec![f32::NEG_INFINITY; dim], |mut acc, r| {
            for (a, &v) in acc.iter_mut().zip(r) {
                *a = a.max(v);
            }
            acc
        }),
        Pooling::Mean | Pooling::MeanSqrtLen => {
            let mut acc = vec![0.0f32; dim];
            for r in rows {
                for (a, &v) in acc.iter_mut().zip(r) {
                    *a += v;
                }
            }
            let count = (len as f32).max(1e-9);
            let div = if mode == Pooling::Mean {
                count
            } else {
                count.sqrt()
            };
            acc.iter_mut().for_each(|a| *a /= div);
            acc
        }
    }
}

/// Back through [`pool`]: the gradient of one sequence's `states` given the gradient of its
/// pooled vector (`d_pooled`, `dim` values), added into `d_states`.
pub(crate) fn pool_backward(mode: Pooling, states: &[f32], d_pooled: &[f32], d_states: &mut [f32]) {
    let dim = d_pooled.len();
    let len = states.len() / dim;
    match mode {
        Pooling::Cls => {
            for (d, g) in d_states[..dim].iter_mut().zip(d_pooled) {
                *d += g;
            }
        }
        Pooling::LastToken => {
            let last = d_states.len().saturating_sub(dim);
            for (d, g) in d_states[last..].iter_mut().zip(d_pooled) {
                *d += g;
            }
        }
        Pooling::Max => {
            let pooled = pool(mode, states, dim);
            for c in 0..dim {
                // The first row holding the maximum takes the gradient.
                if let Some(r) = (0..len).find(|r| states[r * dim + c] == pooled[c]) {
                    d_states[r * dim + c] += d_pooled[c];
                }
            }
        }
        Pooling::Mean | Pooling::MeanSqrtLen => {
            let count = (len as f32).max(1e-9);
            let div = if mode == Pooling::Mean {
                count
            } else {
                count.sqrt()
            };
            for row in d_states.chunks_exact_mut(dim) {
                for (d, g) in row.iter_mut().zip(d_pooled) {
                    *d += g / div;
                }
            }
        }
    }
}

/// Scales `v` to unit length (norm clamped at 1e-12, as sentence-transformers' Normalize).
pub fn normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    v.iter_mut().for_each(|x| *x /= norm);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_pool_rows() {
        let states = [1.0f32, 2.0, 3.0, -4.0];
        assert_eq!(pool(Pooling::Mean, &states, 2), vec![2.0, -1.0]);
        assert_eq!(pool(Pooling::Cls, &states, 2), vec![1.0, 2.0]);
        assert_eq!(pool(Pooling::Max, &states, 2), vec![3.0, 2.0]);
        let s = pool(Pooling::MeanSqrtLen, &states, 2);
        assert!((s[0] - 4.0 / 2f32.sqrt()).abs() < 1e-6);
        let mut v = vec![3.0f32, 4.0];
        normalize(&mut v);
        assert_eq!(v, vec![0.6, 0.8]);
        let mut z = vec![0.0f32; 2];
        normalize(&mut z);
        assert_eq!(z, vec![0.0, 0.0]);
    }

    #[test]
    fn pool_backward_is_the_adjoint_of_pool() {
        // <d_pooled, pool(x)> is linear in x for mean / cls / sqrt-len, and piecewise linear
        // for max, so its gradient is exact: perturbing one element moves it by the gradient.
        let states = [1.0f32, 2.0, 3.0, -4.0, 0.5, 7.0];
        let d_pooled = [0.3f32, -1.1];
        for mode in [
            Pooling::Mean,
            Pooling::Cls,
            Pooling::Max,
            Pooling::MeanSqrtLen,
        ] {
            let mut grad = [0.0f32; 6];
            pool_backward(mode, &states, &d_pooled, &mut grad);
            let f = |x: &[f32]| -> f32 {
                pool(mode, x, 2)
                    .iter()
                    .zip(&d_pooled)
                    .map(|(a, b)| a * b)
                    .sum()
            };
            for i in 0..6 {
                let mut x = states;
                x[i] += 1e-2;
                let want = (f(&x) - f(&states)) / 1e-2;
                assert!(
                    (grad[i] - want).abs() < 1e-3,
                    "{mode:?} [{i}]: {} vs {want}",
                    grad[i]
                );
            }
        }
    }
}
