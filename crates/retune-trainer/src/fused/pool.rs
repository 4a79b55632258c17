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

/// Scales `v` to unit length (norm clamped at 1e-12).
pub(crate) fn normalize(v: &mut [f32]) {
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
}
