//! The cross-encoder network: the encoder, a projection of the first token (BERT's tanh
//! pooler; `classifier.dense` in XLM-RoBERTa and MPNet; ModernBERT's `head`: dense,
//! activation, norm), then one logit (`classifier`; `classifier.out_proj`). The names come
//! from the family ([`crate::Family::head_names`]).

use crate::bert::{BertInput, materialize};
use crate::transformer::{Transformer, TransformerConfig};
use crate::weights::{ParamTable, Slot, linear};
use burn::module::Module;
use burn::nn::{Initializer, Linear, LinearConfig};
use burn::tensor::{Tensor, backend::Backend};

/// Encoder + projection + a one-label classification head.
#[derive(Module, Debug)]
pub struct CrossEncoderModel<B: Backend> {
    /// The encoder (always with its projection).
    pub body: Transformer<B>,
    /// `classifier`: `[hidden] -> [1]`.
    pub classifier: Linear<B>,
}

impl<B: Backend> CrossEncoderModel<B> {
    /// A random model; the head is initialized as transformers does (normal, std 0.02; zero bias).
    pub fn init(config: &TransformerConfig, device: &B::Device) -> Self {
        let classifier = LinearConfig::new(config.hidden_size(), 1)
            .with_initializer(Initializer::Normal {
                mean: 0.0,
                std: 0.02,
            })
            .init(device);
        let model = Self {
            body: Transformer::init(config, true, device),
            classifier,
        };
        materialize(&model);
        let bias = model
            .classifier
            .bias
            .clone()
            .map(|b| b.map(|t| t.zeros_like()));
        Self {
            classifier: Linear {
                bias,
                ..model.classifier
            },
            ..model
        }
    }

    /// One logit per sequence, `[batch]`.
    pub fn forward(&self, input: &BertInput<B>) -> Tensor<B, 1> {
        let hidden = self.body.forward(input);
        let [batch, _, h] = hidden.dims();
        self.head(hidden.narrow(1, 0, 1).reshape([batch, h]))
    }

    /// The first token's last hidden state `[batch, hidden]` to one logit per sequence: the
    /// projection, then the classifier.
    pub fn head(&self, first: Tensor<B, 2>) -> Tensor<B, 1> {
        self.body.logit(first, &self.classifier)
    }
}

impl<B: Backend> CrossEncoderModel<B> {
    /// The prefix of the encoder's parameters (`bert.`, `roberta.`, `mpnet.`, `model.`).
    pub fn body_prefix(&self) -> &'static str {
        self.body.family().body_prefix()
    }

    /// The names (without `.weight`) of the head's projection and output layers.
    pub fn head_names(&self) -> (String, &'static str) {
        self.body.family().head_names()
    }
}

impl<B: Backend> ParamTable<B> for CrossEncoderModel<B> {
    fn visit_params(&mut self, f: &mut dyn FnMut(String, Slot<'_, B>)) {
        let (projection, output) = self.head_names();
        let body = self.body_prefix();
        self.body.visit_named(body, &projection, f);
        linear(output, &mut self.classifier, f);
    }
}
