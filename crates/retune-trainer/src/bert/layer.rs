//! One encoder layer: self-attention, then the feed-forward block (intermediate dense +
//! activation, output dense, dropout, residual, LayerNorm). No dropout after the activation:
//! HF BERT has none there.

use super::attention::SelfAttention;
use super::config::{Activation, BertConfig};
use super::linear::linear3;
use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::tensor::activation::{gelu, gelu_approximate, relu};
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
    /// Dropout on the output projection.
    pub dropout: Dropout,
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
            dropout: DropoutConfig::new(config.hidden_dropout_prob).init(),
            activation: config.hidden_act,
        }
    }

    /// `[batch, seq, hidden]` to `[batch, seq, hidden]`.
    pub fn forward(&self, x: Tensor<B, 3>, mask_bias: Tensor<B, 4>) -> Tensor<B, 3> {
        let a = self.attention.forward(x, mask_bias);
        let inner = linear3(&self.intermediate, a.clone());
        let inner = match self.activation {
            Activation::Gelu => gelu(inner),
            Activation::GeluTanh => gelu_approximate(inner),
            Activation::Relu => relu(inner),
        };
        let out = self.dropout.forward(linear3(&self.output, inner));
        self.norm.forward(out + a)
    }
}
