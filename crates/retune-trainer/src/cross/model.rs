//! The cross-encoder network: BERT with its pooler, then `classifier` (hidden -> 1 logit).

use crate::bert::{BertConfig, BertInput, BertModel, materialize};
use crate::weights::{ParamTable, Slot, visit_bert};
use burn::module::Module;
use burn::nn::{Initializer, Linear, LinearConfig};
use burn::tensor::{Tensor, backend::Backend};

/// BERT + pooler + a one-label classification head.
#[derive(Module, Debug)]
pub struct CrossEncoderModel<B: Backend> {
    /// The encoder (always with a pooler).
    pub bert: BertModel<B>,
    /// `classifier`: `[hidden] -> [1]`.
    pub classifier: Linear<B>,
}

impl<B: Backend> CrossEncoderModel<B> {
    /// A random model; the head is initialized as transformers does (normal, std 0.02; zero bias).
    pub fn init(config: &BertConfig, device: &B::Device) -> Self {
        let classifier = LinearConfig::new(config.hidden_size, 1)
            .with_initializer(Initializer::Normal {
                mean: 0.0,
                std: 0.02,
            })
            .init(device);
        let model = Self {
            bert: BertModel::init(config, true, device),
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
        let hidden = self.bert.forward(input);
        let [batch, _, h] = hidden.dims();
        self.head(hidden.narrow(1, 0, 1).reshape([batch, h]))
    }

    /// The first token's last hidden state `[batch, hidden]` to one logit per sequence: the
    /// pooler (when the model has one), then the classifier.
    pub fn head(&self, first: Tensor<B, 2>) -> Tensor<B, 1> {
        let pooled = match &self.bert.pooler {
            Some(p) => p.dense.forward(first).tanh(),
            None => first,
        };
        let logits = self.classifier.forward(pooled);
        let [batch, _] = logits.dims();
        logits.reshape([batch])
    }
}

impl<B: Backend> ParamTable<B> for CrossEncoderModel<B> {
    fn visit_params(&mut self, f: &mut dyn FnMut(String, Slot<'_, B>)) {
        visit_bert(&mut self.bert, "bert.", f);
        f(
            "classifier.weight".into(),
            Slot::Linear(&mut self.classifier.weight),
        );
        if let Some(b) = self.classifier.bias.as_mut() {
            f("classifier.bias".into(), Slot::Vector(b));
        }
    }
}
