//! Rotary position embeddings (ModernBERT, Qwen3) as transformers' default RoPE: the head's first and second
//! halves rotated together (`rotate_half`), frequencies `theta^(-2i/head_dim)`.

use burn::tensor::{Tensor, TensorData, backend::Backend};

/// `(cos, sin)` for positions `0..seq`, each `[1, 1, seq, head_dim]`.
pub fn tables<B: Backend>(
    theta: f64,
    head_dim: usize,
    seq: usize,
    device: &B::Device,
) -> (Tensor<B, 4>, Tensor<B, 4>) {
    let half = head_dim / 2;
    // As torch: the inverse frequencies in f32, then position x frequency in f32.
    let inv: Vec<f32> = (0..half)
        .map(|i| (1.0 / theta.powf((2 * i) as f64 / head_dim as f64)) as f32)
        .collect();
    let mut cos = Vec::with_capacity(seq * head_dim);
    let mut sin = Vec::with_capacity(seq * head_dim);
    for p in 0..seq {
        for k in 0..head_dim {
            let angle = p as f32 * inv[k % half];
            cos.push(angle.cos());
            sin.push(angle.sin());
        }
    }
    let shape = [1, 1, seq, head_dim];
    (
        Tensor::from_data(TensorData::new(cos, shape), device),
        Tensor::from_data(TensorData::new(sin, shape), device),
    )
}

/// `x * cos + rotate_half(x) * sin` for `x` `[batch, heads, seq, head_dim]`.
pub fn apply<B: Backend>(x: Tensor<B, 4>, cos: &Tensor<B, 4>, sin: &Tensor<B, 4>) -> Tensor<B, 4> {
    let [.., d] = x.dims();
    let half = d / 2;
    let first = x.clone().narrow(3, 0, half);
    let second = x.clone().narrow(3, half, half);
    let rotated = Tensor::cat(vec![second.neg(), first], 3);
    x * cos.clone() + rotated * sin.clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{Cpu, cpu_device};

    #[test]
    fn position_zero_is_identity_and_norms_are_kept() {
        let dev = cpu_device();
        let (cos, sin) = tables::<Cpu>(10_000.0, 4, 3, &dev);
        let x = Tensor::<Cpu, 4>::from_data(
            TensorData::new([1.0f32, 2.0, 3.0, 4.0].repeat(3), [1, 1, 3, 4]),
            &dev,
        );
        let y: Vec<f32> = apply(x, &cos, &sin).into_data().to_vec().unwrap();
        assert_eq!(&y[..4], &[1.0, 2.0, 3.0, 4.0]);
        // Position 1, pair (x0, x2) turns by 1 radian: (1, 3) -> (cos1 - 3 sin1, sin1 + 3 cos1).
        let (c, s) = (1f32.cos(), 1f32.sin());
        assert!((y[4] - (c - 3.0 * s)).abs() < 1e-6 && (y[6] - (s + 3.0 * c)).abs() < 1e-6);
        for row in y.chunks(4) {
            let n: f32 = row.iter().map(|v| v * v).sum();
            assert!((n - 30.0).abs() < 1e-4, "{n}");
        }
    }
}
