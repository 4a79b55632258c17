//! Dropout from explicit seeds instead of Burn's process-global RNG.
//!
//! Each dropout site of the model has a fixed number; a forward pass given a seed draws the
//! site's mask from ChaCha8 seeded by (seed, site). Training is then reproducible whatever else
//! the process runs (Burn's global RNG is shared by every thread), and a resumed run draws the
//! same masks as an uninterrupted one. Without a seed (inference) dropout is the identity.

use burn::tensor::{Tensor, TensorData, backend::Backend};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The inverted-dropout mask of site `site` for `n` elements in row-major order: `1 / (1 - p)`
/// where kept, 0 where dropped. The fused training path draws the same masks from this.
pub(crate) fn mask_values(seed: u64, site: u64, n: usize, p: f64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ site.wrapping_mul(0xD1B5_4A32_D192_ED03));
    let keep = 1.0 - p;
    let scale = (1.0 / keep) as f32;
    (0..n)
        .map(|_| {
            if rng.random::<f64>() < keep {
                scale
            } else {
                0.0
            }
        })
        .collect()
}

/// Inverted dropout with probability `p` at dropout site `site`, active only when `seed` is set.
pub(crate) fn dropout<B: Backend, const D: usize>(
    x: Tensor<B, D>,
    p: f64,
    seed: Option<u64>,
    site: u64,
) -> Tensor<B, D> {
    let Some(seed) = seed.filter(|_| p > 0.0) else {
        return x;
    };
    let shape = x.shape();
    let mask = mask_values(seed, site, shape.num_elements(), p);
    let mask = Tensor::<B, D>::from_data(TensorData::new(mask, shape), &x.device());
    x * mask
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{Cpu, cpu_device};

    #[test]
    fn seeded_and_scaled() {
        let x = Tensor::<Cpu, 2>::ones([100, 100], &cpu_device());
        let a: Vec<f32> = dropout(x.clone(), 0.1, Some(3), 1)
            .into_data()
            .to_vec()
            .unwrap();
        let b: Vec<f32> = dropout(x.clone(), 0.1, Some(3), 1)
            .into_data()
            .to_vec()
            .unwrap();
        let c: Vec<f32> = dropout(x.clone(), 0.1, Some(3), 2)
            .into_data()
            .to_vec()
            .unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        let dropped = a.iter().filter(|v| **v == 0.0).count();
        assert!((700..1300).contains(&dropped), "{dropped}");
        let mean: f32 = a.iter().sum::<f32>() / a.len() as f32;
        assert!((mean - 1.0).abs() < 0.05);
        let same: Vec<f32> = dropout(x, 0.1, None, 1).into_data().to_vec().unwrap();
        assert!(same.iter().all(|v| *v == 1.0));
    }
}
