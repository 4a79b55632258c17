//! `ModernBertModel`: token embeddings and their norm, the layer stack, the final norm; and
//! for re-rankers the classification head's projection (`head`: dense, activation, norm).
//!
//! [`ModernBertModel::visit_params`] is the family's name table, in the checkpoint's names
//! (`embeddings.tok_embeddings`, `layers.{i}.attn.Wqkv`, `layers.{i}.mlp.Wi`, `final_norm`, ...).

use super::config::ModernBertConfig;
use super::layer::{Attend, ModernBertLayer, norm};
use crate::bert::{Activation, BertInput, dropout_seeded, materialize, padding_bias, pair_bias};
use crate::rope;
use crate::weights::{Slot, layer_norm, linear};
use burn::module::Module;
use burn::nn::{Embedding, EmbeddingConfig, LayerNorm, Linear, LinearConfig};
use burn::tensor::{Tensor, backend::Backend};

/// The classification head's projection (`ModernBertPredictionHead`): `norm(act(dense(x)))`.
#[derive(Module, Debug)]
pub struct PredictionHead<B: Backend> {
    /// `head.dense`.
    pub dense: Linear<B>,
    /// `head.norm`.
    pub norm: LayerNorm<B>,
    /// `classifier_activation`.
    #[module(skip)]
    pub activation: Activation,
}

impl<B: Backend> PredictionHead<B> {
    /// `[batch, hidden]` to `[batch, hidden]`.
    pub fn forward(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        self.norm
            .forward(self.activation.apply(self.dense.forward(x)))
    }
}

/// The ModernBERT encoder.
#[derive(Module, Debug)]
pub struct ModernBertModel<B: Backend> {
    /// `embeddings.tok_embeddings`.
    pub tok_embeddings: Embedding<B>,
    /// `embeddings.norm`.
    pub embeddings_norm: LayerNorm<B>,
    /// `layers.{i}`.
    pub layers: Vec<ModernBertLayer<B>>,
    /// `final_norm`.
    pub final_norm: LayerNorm<B>,
    /// `head`, in re-rankers.
    pub head: Option<PredictionHead<B>>,
    /// Dropout after the embedding norm.
    pub embedding_dropout: f64,
    /// Tokens a sliding-window layer sees on each side.
    pub sliding_window: usize,
    /// RoPE theta of the global layers.
    pub global_rope_theta: f64,
    /// RoPE theta of the sliding-window layers.
    pub local_rope_theta: f64,
}

impl<B: Backend> ModernBertModel<B> {
    /// A randomly initialized model; `with_head` adds the classification head's projection.
    pub fn init(config: &ModernBertConfig, with_head: bool, device: &B::Device) -> Self {
        let model = Self {
            tok_embeddings: EmbeddingConfig::new(config.vocab_size, config.hidden_size)
                .init(device),
            embeddings_norm: norm(config, device),
            layers: (0..config.num_hidden_layers)
                .map(|i| ModernBertLayer::init(config, i, device))
                .collect(),
            final_norm: norm(config, device),
            head: with_head.then(|| PredictionHead {
                dense: LinearConfig::new(config.hidden_size, config.hidden_size)
                    .with_bias(config.classifier_bias)
                    .init(device),
                norm: norm(config, device),
                activation: config.classifier_activation,
            }),
            embedding_dropout: config.embedding_dropout,
            sliding_window: config.sliding_window,
            global_rope_theta: config.global_rope_theta,
            local_rope_theta: config.local_rope_theta,
        };
        materialize(&model);
        model
    }

    /// The same model with every dropout probability set to `p`.
    #[must_use]
    pub fn with_dropout(mut self, p: f64) -> Self {
        self.embedding_dropout = p;
        for l in &mut self.layers {
            l.attention_dropout = p;
            l.mlp_dropout = p;
        }
        self
    }

    /// Hidden states after the final norm, `[batch, seq, hidden]` (token types are ignored:
    /// ModernBERT has none).
    pub fn forward(&self, input: &BertInput<B>) -> Tensor<B, 3> {
        let [_, seq] = input.attention_mask.dims();
        let device = input.attention_mask.device();
        let padding = padding_bias(&input.attention_mask);
        let w = self.sliding_window;
        let window = pair_bias(seq, |q, k| q.abs_diff(k) <= w, &device);
        let d = self.layers.first().map_or(2, |l| l.head_dim());
        // Each kind of layer's mask and rotary tables, made once per batch.
        let global = Attend {
            bias: padding.clone(),
            rope: rope::tables::<B>(self.global_rope_theta, d, seq, &device),
        };
        let local = Attend {
            bias: padding + window,
            rope: rope::tables::<B>(self.local_rope_theta, d, seq, &device),
        };
        let seed = input.dropout_seed;
        let x = self.tok_embeddings.forward(input.input_ids.clone());
        let mut x = dropout_seeded(
            self.embeddings_norm.forward(x),
            self.embedding_dropout,
            seed,
            0,
        );
        for (i, layer) in self.layers.iter().enumerate() {
            let attend = if layer.global { &global } else { &local };
            x = layer.forward(x, attend, seed, 1 + 3 * i as u64);
        }
        self.final_norm.forward(x)
    }

    /// Hands every parameter to `f` with its checkpoint name under `prefix`; the head's
    /// projection, when present, as `{head}.dense` and `{head}.norm`.
    pub fn visit_params(
        &mut self,
        prefix: &str,
        head: &str,
        f: &mut dyn FnMut(String, Slot<'_, B>),
    ) {
        f(
            format!("{prefix}embeddings.tok_embeddings.weight"),
            Slot::Matrix(&mut self.tok_embeddings.weight),
        );
        layer_norm(
            &format!("{prefix}embeddings.norm"),
            &mut self.embeddings_norm,
            f,
        );
        for (i, l) in self.layers.iter_mut().enumerate() {
            let p = |local: &str| format!("{prefix}layers.{i}.{local}");
            if let Some(n) = l.attn_norm.as_mut() {
                layer_norm(&p("attn_norm"), n, f);
            }
            linear(&p("attn.Wqkv"), &mut l.wqkv, f);
            linear(&p("attn.Wo"), &mut l.wo, f);
            layer_norm(&p("mlp_norm"), &mut l.mlp_norm, f);
            linear(&p("mlp.Wi"), &mut l.wi, f);
            linear(&p("mlp.Wo"), &mut l.mlp_wo, f);
        }
        layer_norm(&format!("{prefix}final_norm"), &mut self.final_norm, f);
        if let Some(h) = self.head.as_mut() {
            linear(&format!("{head}.dense"), &mut h.dense, f);
            layer_norm(&format!("{head}.norm"), &mut h.norm, f);
        }
    }
}
