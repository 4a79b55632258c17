//! `Qwen3Model` (transformers' names): `embed_tokens`, decoder layers of
//! `x + self_attn(input_layernorm(x))` and `x + mlp(post_attention_layernorm(x))`, a final
//! `norm`. Attention is causal and grouped (each key/value head serves
//! `num_attention_heads / num_key_value_heads` query heads), with RMSNorm over each query and
//! key head (`q_norm`, `k_norm`) before the rotary positions. The MLP is SwiGLU:
//! `down_proj(silu(gate_proj(x)) * up_proj(x))`. No biases unless `attention_bias`.
//!
//! Batches are padded on the right: with causal attention a real token never sees the padding
//! after it, so the states of real tokens are those of the unpadded text, whichever side
//! sentence-transformers pads on.

use super::config::Qwen3Config;
use crate::bert::{BertInput, dropout_seeded, linear3, materialize, padding_bias, pair_bias};
use crate::rope;
use crate::weights::{Slot, linear};
use burn::module::Module;
use burn::nn::{Embedding, EmbeddingConfig, Linear, LinearConfig, RmsNorm, RmsNormConfig};
use burn::tensor::activation::{silu, softmax};
use burn::tensor::{Tensor, backend::Backend};

fn rms<B: Backend>(size: usize, config: &Qwen3Config, device: &B::Device) -> RmsNorm<B> {
    RmsNormConfig::new(size)
        .with_epsilon(config.rms_norm_eps)
        .init(device)
}

fn norm<B: Backend>(prefix: &str, n: &mut RmsNorm<B>, f: &mut dyn FnMut(String, Slot<'_, B>)) {
    f(format!("{prefix}.weight"), Slot::Vector(&mut n.gamma));
}

/// One decoder layer.
#[derive(Module, Debug)]
pub struct Qwen3Layer<B: Backend> {
    /// `input_layernorm`.
    pub input_layernorm: RmsNorm<B>,
    /// `self_attn.q_proj`: `[hidden] -> [heads * head_dim]`.
    pub q_proj: Linear<B>,
    /// `self_attn.k_proj`: `[hidden] -> [kv_heads * head_dim]`.
    pub k_proj: Linear<B>,
    /// `self_attn.v_proj`.
    pub v_proj: Linear<B>,
    /// `self_attn.o_proj`.
    pub o_proj: Linear<B>,
    /// `self_attn.q_norm` (over one head).
    pub q_norm: RmsNorm<B>,
    /// `self_attn.k_norm`.
    pub k_norm: RmsNorm<B>,
    /// `post_attention_layernorm`.
    pub post_attention_layernorm: RmsNorm<B>,
    /// `mlp.gate_proj`.
    pub gate_proj: Linear<B>,
    /// `mlp.up_proj`.
    pub up_proj: Linear<B>,
    /// `mlp.down_proj`.
    pub down_proj: Linear<B>,
    /// Query heads.
    pub heads: usize,
    /// Key/value heads.
    pub kv_heads: usize,
    /// Size of one head.
    pub head_dim: usize,
    /// Dropout on attention probabilities.
    pub attention_dropout: f64,
}

impl<B: Backend> Qwen3Layer<B> {
    fn init(config: &Qwen3Config, device: &B::Device) -> Self {
        let h = config.hidden_size;
        let d = config.head_dim;
        let proj = |out: usize| {
            LinearConfig::new(h, out)
                .with_bias(config.attention_bias)
                .init(device)
        };
        let plain =
            |din: usize, dout: usize| LinearConfig::new(din, dout).with_bias(false).init(device);
        Self {
            input_layernorm: rms(h, config, device),
            q_proj: proj(config.num_attention_heads * d),
            k_proj: proj(config.num_key_value_heads * d),
            v_proj: proj(config.num_key_value_heads * d),
            o_proj: LinearConfig::new(config.num_attention_heads * d, h)
                .with_bias(config.attention_bias)
                .init(device),
            q_norm: rms(d, config, device),
            k_norm: rms(d, config, device),
            post_attention_layernorm: rms(h, config, device),
            gate_proj: plain(h, config.intermediate_size),
            up_proj: plain(h, config.intermediate_size),
            down_proj: plain(config.intermediate_size, h),
            heads: config.num_attention_heads,
            kv_heads: config.num_key_value_heads,
            head_dim: d,
            attention_dropout: config.attention_dropout,
        }
    }

    /// `x` `[batch, seq, hidden]` through the layer; `bias` is the causal and padding mask
    /// `[batch, 1, seq, seq]`, `(cos, sin)` the rotary tables.
    fn forward(
        &self,
        x: Tensor<B, 3>,
        bias: &Tensor<B, 4>,
        (cos, sin): (&Tensor<B, 4>, &Tensor<B, 4>),
        seed: Option<u64>,
        site: u64,
    ) -> Tensor<B, 3> {
        let [batch, seq, _] = x.dims();
        let d = self.head_dim;
        let h = self.input_layernorm.forward(x.clone());
        let heads = |t: Tensor<B, 3>, n: usize| t.reshape([batch, seq, n, d]).swap_dims(1, 2);
        let q = self
            .q_norm
            .forward(heads(linear3(&self.q_proj, h.clone()), self.heads));
        let k = self
            .k_norm
            .forward(heads(linear3(&self.k_proj, h.clone()), self.kv_heads));
        let v = heads(linear3(&self.v_proj, h), self.kv_heads);
        let (q, k) = (rope::apply(q, cos, sin), rope::apply(k, cos, sin));
        let group = self.heads / self.kv_heads;
        let repeat = |t: Tensor<B, 4>| {
            t.reshape([batch, self.kv_heads, 1, seq, d])
                .expand([batch, self.kv_heads, group, seq, d])
                .reshape([batch, self.heads, seq, d])
        };
        let scores = q.matmul(repeat(k).swap_dims(2, 3)) * (1.0 / (d as f64).sqrt()) + bias.clone();
        let probs = dropout_seeded(softmax(scores, 3), self.attention_dropout, seed, site);
        let context = probs
            .matmul(repeat(v))
            .swap_dims(1, 2)
            .reshape([batch, seq, self.heads * d]);
        let x = x + linear3(&self.o_proj, context);
        let m = self.post_attention_layernorm.forward(x.clone());
        let gated = silu(linear3(&self.gate_proj, m.clone())) * linear3(&self.up_proj, m);
        x + linear3(&self.down_proj, gated)
    }
}

/// The Qwen3 decoder as an encoder.
#[derive(Module, Debug)]
pub struct Qwen3Model<B: Backend> {
    /// `embed_tokens`.
    pub embed_tokens: Embedding<B>,
    /// `layers.{i}`.
    pub layers: Vec<Qwen3Layer<B>>,
    /// `norm`.
    pub norm: RmsNorm<B>,
    /// RoPE theta.
    pub rope_theta: f64,
    /// The token whose embedding row is frozen (transformers' `padding_idx`).
    #[module(skip)]
    pub padding_idx: Option<usize>,
}

impl<B: Backend> Qwen3Model<B> {
    /// A randomly initialized model.
    pub fn init(config: &Qwen3Config, device: &B::Device) -> Self {
        let model = Self {
            embed_tokens: EmbeddingConfig::new(config.vocab_size, config.hidden_size).init(device),
            layers: (0..config.num_hidden_layers)
                .map(|_| Qwen3Layer::init(config, device))
                .collect(),
            norm: rms(config.hidden_size, config, device),
            rope_theta: config.rope_theta,
            padding_idx: config.pad_token_id,
        };
        materialize(&model);
        model
    }

    /// The same model with the attention dropout set to `p`.
    #[must_use]
    pub fn with_dropout(mut self, p: f64) -> Self {
        for l in &mut self.layers {
            l.attention_dropout = p;
        }
        self
    }

    /// Hidden states after the final norm, `[batch, seq, hidden]`.
    pub fn forward(&self, input: &BertInput<B>) -> Tensor<B, 3> {
        let [_, seq] = input.attention_mask.dims();
        let device = input.attention_mask.device();
        let bias = pair_bias(seq, |q, k| k <= q, &device) + padding_bias(&input.attention_mask);
        let d = self.layers.first().map_or(2, |l| l.head_dim);
        let (cos, sin) = rope::tables::<B>(self.rope_theta, d, seq, &device);
        let mut x = self.embed(input);
        for (i, layer) in self.layers.iter().enumerate() {
            x = layer.forward(x, &bias, (&cos, &sin), input.dropout_seed, 1 + i as u64);
        }
        self.norm.forward(x)
    }

    /// Token embeddings; where the token is `padding_idx` (Qwen3's end-of-text token, which
    /// ends every text) the value takes no gradient, as `nn.Embedding(padding_idx=...)`.
    fn embed(&self, input: &BertInput<B>) -> Tensor<B, 3> {
        let ids = input.input_ids.clone();
        let x = self.embed_tokens.forward(ids.clone());
        let Some(pad) = self.padding_idx else {
            return x;
        };
        let frozen: Tensor<B, 3> = ids.equal_elem(pad as i64).float().unsqueeze_dim(2);
        x.clone() * (frozen.clone().neg() + 1.0) + x.detach() * frozen
    }

    /// Hands every parameter to `f` with its checkpoint name under `prefix`.
    pub fn visit_params(&mut self, prefix: &str, f: &mut dyn FnMut(String, Slot<'_, B>)) {
        f(
            format!("{prefix}embed_tokens.weight"),
            Slot::Matrix(&mut self.embed_tokens.weight),
        );
        for (i, l) in self.layers.iter_mut().enumerate() {
            let p = |local: &str| format!("{prefix}layers.{i}.{local}");
            norm(&p("input_layernorm"), &mut l.input_layernorm, f);
            linear(&p("self_attn.q_proj"), &mut l.q_proj, f);
            linear(&p("self_attn.k_proj"), &mut l.k_proj, f);
            linear(&p("self_attn.v_proj"), &mut l.v_proj, f);
            linear(&p("self_attn.o_proj"), &mut l.o_proj, f);
            norm(&p("self_attn.q_norm"), &mut l.q_norm, f);
            norm(&p("self_attn.k_norm"), &mut l.k_norm, f);
            norm(
                &p("post_attention_layernorm"),
                &mut l.post_attention_layernorm,
                f,
            );
            linear(&p("mlp.gate_proj"), &mut l.gate_proj, f);
            linear(&p("mlp.up_proj"), &mut l.up_proj, f);
            linear(&p("mlp.down_proj"), &mut l.down_proj, f);
        }
        norm(&format!("{prefix}norm"), &mut self.norm, f);
    }
}
