//! The cross-encoder network: the encoder, a tanh projection of the first token (BERT's
//! pooler; `classifier.dense` in XLM-RoBERTa and MPNet), then one logit (`classifier`;
//! `classifier.out_proj`). The names come from the family ([`Family::head_names`]).

use crate::bert::{BertConfig, BertInput, BertModel, materialize};
use crate::weights::{ParamTable, Slot, linear, visit_bert};
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

impl<B: Backend> CrossEncoderModel<B> {
    /// The prefix of the encoder's parameters (`bert.`, `roberta.`, `mpnet.`).
    pub fn body_prefix(&self) -> &'static str {
        self.bert.family.body_prefix()
    }

    /// The names (without `.weight`) of the head's projection and output layers.
    pub fn head_names(&self) -> (String, &'static str) {
        self.bert.family.head_names()
    }
}

impl<B: Backend> ParamTable<B> for CrossEncoderModel<B> {
    fn visit_params(&mut self, f: &mut dyn FnMut(String, Slot<'_, B>)) {
        let (projection, output) = self.head_names();
        // The projection is the encoder's pooler module, named as the family's head.
        let mut pooler = self.bert.pooler.take();
        let body = self.body_prefix();
        visit_bert(&mut self.bert, body, f);
        if let Some(p) = pooler.as_mut() {
            linear(&projection, &mut p.dense, f);
        }
        self.bert.pooler = pooler;
        linear(output, &mut self.classifier, f);
    }
}
