//! One ModernBERT layer (transformers' `ModernBertEncoderLayer`), pre-norm:
//! `x + attention(attn_norm(x))`, then `x + mlp(mlp_norm(x))`. The attention projects query, key
//! and value with one matrix (`attn.Wqkv`), rotates query and key (RoPE with the layer's theta),
//! masks keys beyond the sliding window on local layers, and projects back (`attn.Wo`). The
//! feed-forward block is GeGLU: `mlp.Wi` gives the input and the gate halves,
//! `mlp.Wo(act(input) * gate)`. The first layer has no attention norm (the embedding norm
//! precedes it).

use super::config::ModernBertConfig;
use crate::bert::linear3;
use crate::bert::{Activation, dropout_seeded};
use crate::rope;
use burn::module::Module;
use burn::nn::{LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::tensor::activation::softmax;
use burn::tensor::{Tensor, backend::Backend};

/// A LayerNorm as ModernBERT configures it (epsilon, bias or not).
pub(crate) fn norm<B: Backend>(config: &ModernBertConfig, device: &B::Device) -> LayerNorm<B> {
    LayerNormConfig::new(config.hidden_size)
        .with_epsilon(config.norm_eps)
        .with_bias(config.norm_bias)
        .init(device)
}

/// How one kind of layer attends in a batch: its additive mask (padding, and the window on
/// local layers) and its rotary `(cos, sin)` tables.
pub(crate) struct Attend<B: Backend> {
    pub(crate) bias: Tensor<B, 4>,
    pub(crate) rope: (Tensor<B, 4>, Tensor<B, 4>),
}

/// One encoder layer.
#[derive(Module, Debug)]
pub struct ModernBertLayer<B: Backend> {
    /// `attn_norm` (absent in layer 0).
    pub attn_norm: Option<LayerNorm<B>>,
    /// `attn.Wqkv`: `[hidden] -> [3 * hidden]`, query then key then value.
    pub wqkv: Linear<B>,
    /// `attn.Wo`.
    pub wo: Linear<B>,
    /// `mlp_norm`.
    pub mlp_norm: LayerNorm<B>,
    /// `mlp.Wi`: `[hidden] -> [2 * intermediate]`, input then gate.
    pub wi: Linear<B>,
    /// `mlp.Wo`.
    pub mlp_wo: Linear<B>,
    /// Attention heads.
    pub heads: usize,
    /// Whether the layer attends globally (else within the sliding window).
    pub global: bool,
    /// Dropout on attention probabilities and output.
    pub attention_dropout: f64,
    /// Dropout inside the feed-forward block.
    pub mlp_dropout: f64,
    /// The GeGLU activation.
    #[module(skip)]
    pub activation: Activation,
}

impl<B: Backend> ModernBertLayer<B> {
    /// Layer `index` of a random model.
    pub fn init(config: &ModernBertConfig, index: usize, device: &B::Device) -> Self {
        let h = config.hidden_size;
        let i = config.intermediate_size;
        let global = config.global_layers[index];
        Self {
            attn_norm: (index > 0).then(|| norm(config, device)),
            wqkv: LinearConfig::new(h, 3 * h)
                .with_bias(config.attention_bias)
                .init(device),
            wo: LinearConfig::new(h, h)
                .with_bias(config.attention_bias)
                .init(device),
            mlp_norm: norm(config, device),
            wi: LinearConfig::new(h, 2 * i)
                .with_bias(config.mlp_bias)
                .init(device),
            mlp_wo: LinearConfig::new(i, h)
                .with_bias(config.mlp_bias)
                .init(device),
            heads: config.num_attention_heads,
            global,
            attention_dropout: config.attention_dropout,
            mlp_dropout: config.mlp_dropout,
            activation: config.hidden_activation,
        }
    }

    /// Size of one attention head.
    pub fn head_dim(&self) -> usize {
        self.wo.weight.dims()[0] / self.heads
    }

    /// `x` `[batch, seq, hidden]` through the layer, attending as `attend` says (the model
    /// gives global and sliding-window layers each their own). Dropout sites `site..site + 3`.
    pub(crate) fn forward(
        &self,
        x: Tensor<B, 3>,
        attend: &Attend<B>,
        seed: Option<u64>,
        site: u64,
    ) -> Tensor<B, 3> {
        let normed = match &self.attn_norm {
            Some(n) => n.forward(x.clone()),
            None => x.clone(),
        };
        let x = x + self.attention(normed, attend, seed, site);
        let inner = linear3(&self.wi, self.mlp_norm.forward(x.clone()));
        let [.., two_i] = inner.dims();
        let half = two_i / 2;
        let gated =
            self.activation.apply(inner.clone().narrow(2, 0, half)) * inner.narrow(2, half, half);
        let gated = dropout_seeded(gated, self.mlp_dropout, seed, site + 2);
        x + linear3(&self.mlp_wo, gated)
    }

    fn attention(
        &self,
        x: Tensor<B, 3>,
        attend: &Attend<B>,
        seed: Option<u64>,
        site: u64,
    ) -> Tensor<B, 3> {
        let [batch, seq, hidden] = x.dims();
        let d = hidden / self.heads;
        let qkv = linear3(&self.wqkv, x).reshape([batch, seq, 3, self.heads, d]);
        let part = |i: usize| {
            qkv.clone()
                .narrow(2, i, 1)
                .reshape([batch, seq, self.heads, d])
                .swap_dims(1, 2)
        };
        let (cos, sin) = &attend.rope;
        let q = rope::apply(part(0), cos, sin);
        let k = rope::apply(part(1), cos, sin);
        let scores = q.matmul(k.swap_dims(2, 3)) * (1.0 / (d as f64).sqrt()) + attend.bias.clone();
        let probs = dropout_seeded(softmax(scores, 3), self.attention_dropout, seed, site);
        let context = probs
            .matmul(part(2))
            .swap_dims(1, 2)
            .reshape([batch, seq, hidden]);
        dropout_seeded(
            linear3(&self.wo, context),
            self.attention_dropout,
            seed,
            site + 1,
        )
    }
}
