//! One encoder layer: self-attention, then the feed-forward block (intermediate dense +
//! activation, output dense, dropout, residual, LayerNorm). No dropout after the activation:
//! HF BERT has none there.

use super::attention::SelfAttention;
use super::config::{Activation, BertConfig};
use super::dropout::dropout;
use super::linear::linear3;
use burn::module::Module;
use burn::nn::{LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::tensor::{Tensor, backend::Backend};

/// One post-LN transformer layer.
#[derive(Module, Debug)]
pub struct BertLayer<B: Backend> {
    /// Self-attention block.
    pub attention: SelfAttention<B>,
    /// `intermediate.dense`.
    pub intermediate: Linear<B>,
    /// `output.dense`.
    pub output: Linear<B>,
    /// `output.LayerNorm`.
    pub norm: LayerNorm<B>,
    /// Dropout probability on the output projection.
    pub dropout: f64,
    /// The activation (not a parameter).
    #[module(skip)]
    pub activation: Activation,
}

impl<B: Backend> BertLayer<B> {
    /// Randomly initialized layer of the configured sizes.
    pub fn init(config: &BertConfig, device: &B::Device) -> Self {
        Self {
            attention: SelfAttention::init(config, device),
            intermediate: LinearConfig::new(config.hidden_size, config.intermediate_size)
                .init(device),
            output: LinearConfig::new(config.intermediate_size, config.hidden_size).init(device),
            norm: LayerNormConfig::new(config.hidden_size)
                .with_epsilon(config.layer_norm_eps)
                .init(device),
            dropout: config.hidden_dropout_prob,
            activation: config.hidden_act,
        }
    }

    /// `[batch, seq, hidden]` to `[batch, seq, hidden]`; layer `index` numbers its dropout sites.
    pub fn forward(
        &self,
        x: Tensor<B, 3>,
        mask_bias: Tensor<B, 4>,
        seed: Option<u64>,
        index: usize,
    ) -> Tensor<B, 3> {
        let site = 1 + 3 * index as u64;
        let a = self.attention.forward(x, mask_bias, seed, site);
        let inner = linear3(&self.intermediate, a.clone());
        let inner = self.activation.apply(inner);
        let out = dropout(linear3(&self.output, inner), self.dropout, seed, site + 2);
        self.norm.forward(out + a)
    }
}
