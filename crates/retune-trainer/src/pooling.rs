//! Pooling token states into one vector per text, as sentence-transformers' `Pooling` module.
//!
//! Mean: the average over real tokens (padding excluded; the divisor is clamped at 1e-9).
//! CLS: the first token. Last token: the last real token (the one followed by padding or the
//! end; Qwen3-Embedding's pooling, whichever side the batch is padded on). Max: the element-wise maximum over real tokens (padding set to -1e9
//! first). Mean-sqrt-len: the sum over real tokens divided by sqrt(token count).

use burn::tensor::{Int, Tensor, backend::Backend};
use serde::{Deserialize, Serialize};

/// A pooling mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Pooling {
    /// `pooling_mode_mean_tokens`.
    Mean,
    /// `pooling_mode_cls_token`.
    Cls,
    /// `pooling_mode_max_tokens`.
    Max,
    /// `pooling_mode_mean_sqrt_len_tokens`.
    MeanSqrtLen,
    /// `pooling_mode_lasttoken`.
    LastToken,
}

impl Pooling {
    /// `hidden` `[batch, seq, dim]`, `mask` `[batch, seq]` (1 = token) to `[batch, dim]`.
    pub fn pool<B: Backend>(self, hidden: Tensor<B, 3>, mask: Tensor<B, 2, Int>) -> Tensor<B, 2> {
        let [batch, seq, dim] = hidden.dims();
        let m: Tensor<B, 3> = mask.float().reshape([batch, seq, 1]);
        match self {
            Pooling::Cls => hidden.narrow(1, 0, 1).reshape([batch, dim]),
            Pooling::LastToken => {
                // 1 where a real token is followed by padding or the end of the batch.
                let end = m.zeros_like().narrow(1, 0, 1);
                let next = match seq {
                    1 => end,
                    _ => Tensor::cat(vec![m.clone().narrow(1, 1, seq - 1), end], 1),
                };
                let last = m * (next.neg() + 1.0);
                (hidden * last).sum_dim(1).reshape([batch, dim])
            }
            Pooling::Max => {
                let masked = hidden + (m.neg() + 1.0) * -1.0e9;
                masked.max_dim(1).reshape([batch, dim])
            }
            Pooling::Mean | Pooling::MeanSqrtLen => {
                let sum = (hidden * m.clone()).sum_dim(1).reshape([batch, dim]);
                let count = m.sum_dim(1).reshape([batch, 1]).clamp_min(1e-9);
                let div = if self == Pooling::Mean {
                    count
                } else {
                    count.sqrt()
                };
                sum / div
            }
        }
    }

    /// The sentence-transformers `1_Pooling/config.json` for this mode.
    pub fn to_st_json(self, dim: usize) -> serde_json::Value {
        serde_json::json!({
            "word_embedding_dimension": dim,
            "pooling_mode_cls_token": self == Pooling::Cls,
            "pooling_mode_mean_tokens": self == Pooling::Mean,
            "pooling_mode_max_tokens": self == Pooling::Max,
            "pooling_mode_mean_sqrt_len_tokens": self == Pooling::MeanSqrtLen,
            "pooling_mode_weightedmean_tokens": false,
            "pooling_mode_lasttoken": self == Pooling::LastToken,
            "include_prompt": true,
        })
    }
}

/// L2-normalizes rows as torch's `F.normalize` (norm clamped at 1e-12).
pub fn l2_normalize<B: Backend>(x: Tensor<B, 2>) -> Tensor<B, 2> {
    let norm = x
        .clone()
        .powf_scalar(2.0)
        .sum_dim(1)
        .sqrt()
        .clamp_min(1e-12);
    x / norm
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{Cpu, cpu_device};
    use burn::tensor::TensorData;

    fn run(p: Pooling) -> Vec<f32> {
        let dev = cpu_device();
        // batch 1, seq 3 (last is padding), dim 2
        let h = Tensor::<Cpu, 3>::from_data(
            TensorData::new(vec![1.0f32, 2.0, 3.0, -4.0, 100.0, 100.0], [1, 3, 2]),
            &dev,
        );
        let m = Tensor::<Cpu, 2, Int>::from_data(TensorData::new(vec![1i32, 1, 0], [1, 3]), &dev);
        p.pool(h, m).into_data().to_vec().unwrap()
    }

    #[test]
    fn modes_ignore_padding() {
        assert_eq!(run(Pooling::Mean), vec![2.0, -1.0]);
        assert_eq!(run(Pooling::Cls), vec![1.0, 2.0]);
        assert_eq!(run(Pooling::Max), vec![3.0, 2.0]);
        let s = run(Pooling::MeanSqrtLen);
        assert!((s[0] - 4.0 / 2f32.sqrt()).abs() < 1e-6 && (s[1] + 2.0 / 2f32.sqrt()).abs() < 1e-6);
    }

    #[test]
    fn normalize_gives_unit_rows() {
        let dev = cpu_device();
        let x =
            Tensor::<Cpu, 2>::from_data(TensorData::new(vec![3.0f32, 4.0, 0.0, 0.0], [2, 2]), &dev);
        let v: Vec<f32> = l2_normalize(x).into_data().to_vec().unwrap();
        assert_eq!(v, vec![0.6, 0.8, 0.0, 0.0]);
    }
}
