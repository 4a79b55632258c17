//! Multi-head self-attention with HF BERT's layout: separate query/key/value projections, an
//! output projection, residual and post-LayerNorm (`BertAttention`).
//!
//! Padding is masked by adding a large negative bias to the scores of padded keys before the
//! softmax, which makes their probabilities exactly 0 in f32, as HF's additive mask does.

use super::config::BertConfig;
use super::dropout::dropout;
use super::linear::linear3;
use burn::module::Module;
use burn::nn::{LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::tensor::activation::softmax;
use burn::tensor::{Tensor, backend::Backend};

/// Self-attention plus its output block.
#[derive(Module, Debug)]
pub struct SelfAttention<B: Backend> {
    /// Query projection.
    pub query: Linear<B>,
    /// Key projection.
    pub key: Linear<B>,
    /// Value projection.
    pub value: Linear<B>,
    /// Output projection.
    pub output: Linear<B>,
    /// LayerNorm after the residual.
    pub norm: LayerNorm<B>,
    /// Dropout probability on attention probabilities.
    pub attn_dropout: f64,
    /// Dropout probability on the output projection.
    pub dropout: f64,
    /// Number of heads.
    pub heads: usize,
}

impl<B: Backend> SelfAttention<B> {
    /// Randomly initialized attention of the configured sizes.
    pub fn init(config: &BertConfig, device: &B::Device) -> Self {
        let h = config.hidden_size;
        let linear = || LinearConfig::new(h, h).init(device);
        Self {
            query: linear(),
            key: linear(),
            value: linear(),
            output: linear(),
            norm: LayerNormConfig::new(h)
                .with_epsilon(config.layer_norm_eps)
                .init(device),
            attn_dropout: config.attention_probs_dropout_prob,
            dropout: config.hidden_dropout_prob,
            heads: config.num_attention_heads,
        }
    }

    /// `x`: `[batch, seq, hidden]`; `mask_bias`: `[batch, 1, 1, seq]`, 0 for tokens and a large
    /// negative number for padding (MPNet: `[batch, heads, seq, seq]` with its position bias). Returns `[batch, seq, hidden]`. `seed` and `site` pick the
    /// dropout masks (sites `site` and `site + 1`); no seed, no dropout.
    pub fn forward(
        &self,
        x: Tensor<B, 3>,
        mask_bias: Tensor<B, 4>,
        seed: Option<u64>,
        site: u64,
    ) -> Tensor<B, 3> {
        let [batch, seq, hidden] = x.dims();
        let head_dim = hidden / self.heads;
        let split = |t: Tensor<B, 3>| {
            t.reshape([batch, seq, self.heads, head_dim])
                .swap_dims(1, 2)
        };
        let q = split(linear3(&self.query, x.clone()));
        let k = split(linear3(&self.key, x.clone()));
        let v = split(linear3(&self.value, x.clone()));
        let scores = q.matmul(k.swap_dims(2, 3)) * (1.0 / (head_dim as f64).sqrt()) + mask_bias;
        let probs = dropout(softmax(scores, 3), self.attn_dropout, seed, site);
        let context = probs
            .matmul(v)
            .swap_dims(1, 2)
            .reshape([batch, seq, hidden]);
        let out = dropout(linear3(&self.output, context), self.dropout, seed, site + 1);
        self.norm.forward(out + x)
    }
}
