//! The model layer's contract: one [`Transformer`] per loaded checkpoint, whatever its family,
//! chosen once from `config.json` ([`TransformerConfig::from_file`]). Encoders, re-rankers,
//! training and export hold a `Transformer` and call it; only this file matches on the family's
//! shape. The BERT-shaped families (BERT, XLM-RoBERTa, MPNet) share [`BertModel`]; ModernBERT
//! has [`ModernBertModel`] and Qwen3 [`Qwen3Model`].
//!
//! | | BERT-shaped | ModernBERT | Qwen3 |
//! |---|---|---|---|
//! | forward | [`BertModel::forward`] | [`ModernBertModel::forward`] | [`Qwen3Model::forward`] (causal) |
//! | names | [`crate::weights::visit_bert`] via [`Family`] | [`ModernBertModel::visit_params`] | [`Qwen3Model::visit_params`] |
//! | re-ranker projection | the pooler (tanh) | `head` (dense, activation, norm) | none (no re-ranker) |
//! | engines | Burn and fused CPU | Burn | Burn |

use crate::arch::Family;
use crate::bert::{BertConfig, BertInput, BertModel};
use crate::error::{TrainerError, read_json};
use crate::modernbert::{ModernBertConfig, ModernBertModel};
use crate::qwen3::{Qwen3Config, Qwen3Model};
use crate::weights::{ParamTable, Slot, visit_bert};
use burn::module::Module;
use burn::tensor::{Tensor, backend::Backend};
use std::path::Path;

/// A checkpoint's architecture.
#[derive(Debug, Clone, PartialEq)]
pub enum TransformerConfig {
    /// BERT, XLM-RoBERTa or MPNet.
    Bert(BertConfig),
    /// ModernBERT.
    ModernBert(ModernBertConfig),
    /// Qwen3.
    Qwen3(Qwen3Config),
}

impl TransformerConfig {
    /// Reads `config.json`, choosing the family from `model_type` (else `architectures`); an
    /// unknown family is an error naming it and the supported list.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, TrainerError> {
        let path = path.as_ref();
        let raw: serde_json::Value = read_json(path)?;
        let architectures: Option<Vec<String>> = raw
            .get("architectures")
            .and_then(|a| serde_json::from_value(a.clone()).ok());
        let family = Family::detect(
            raw.get("model_type").and_then(serde_json::Value::as_str),
            architectures.as_deref(),
        )
        .map_err(|(field, message)| TrainerError::config(path, field, message))?;
        match family {
            Family::ModernBert => Ok(Self::ModernBert(ModernBertConfig::from_json(path, raw)?)),
            Family::Qwen3 => Ok(Self::Qwen3(Qwen3Config::from_json(path, raw)?)),
            _ => Ok(Self::Bert(BertConfig::from_file(path)?)),
        }
    }

    /// The model family.
    pub fn family(&self) -> Family {
        match self {
            Self::Bert(c) => c.family,
            Self::ModernBert(_) => Family::ModernBert,
            Self::Qwen3(_) => Family::Qwen3,
        }
    }

    /// Hidden size (the embedding dimension before any projection).
    pub fn hidden_size(&self) -> usize {
        match self {
            Self::Bert(c) => c.hidden_size,
            Self::ModernBert(c) => c.hidden_size,
            Self::Qwen3(c) => c.hidden_size,
        }
    }

    /// Number of layers.
    pub fn num_hidden_layers(&self) -> usize {
        match self {
            Self::Bert(c) => c.num_hidden_layers,
            Self::ModernBert(c) => c.num_hidden_layers,
            Self::Qwen3(c) => c.num_hidden_layers,
        }
    }

    /// The longest sequence the model takes, in tokens.
    pub fn max_tokens(&self) -> usize {
        match self {
            Self::Bert(c) => c.max_tokens(),
            Self::ModernBert(c) => c.max_position_embeddings,
            Self::Qwen3(c) => c.max_position_embeddings,
        }
    }

    /// The BERT-shaped configuration, for the fused engine.
    pub fn bert(&self) -> Option<&BertConfig> {
        match self {
            Self::Bert(c) => Some(c),
            Self::ModernBert(_) | Self::Qwen3(_) => None,
        }
    }

    /// The `config.json` transformers reads, naming `architecture`.
    pub fn to_hf_json(&self, architecture: &str) -> serde_json::Value {
        match self {
            Self::Bert(c) => {
                let mut json = c.to_hf_json();
                json["architectures"] = serde_json::json!([architecture]);
                json
            }
            Self::ModernBert(c) => c.to_hf_json(architecture),
            Self::Qwen3(c) => c.to_hf_json(architecture),
        }
    }
}

/// A loaded network of any supported family.
#[derive(Module, Debug)]
pub enum Transformer<B: Backend> {
    /// BERT, XLM-RoBERTa or MPNet.
    Bert(BertModel<B>),
    /// ModernBERT.
    ModernBert(ModernBertModel<B>),
    /// Qwen3.
    Qwen3(Qwen3Model<B>),
}

impl<B: Backend> Transformer<B> {
    /// A randomly initialized network; `with_head` adds the re-ranker's projection (BERT's
    /// pooler, ModernBERT's `head`; Qwen3 has none).
    pub fn init(config: &TransformerConfig, with_head: bool, device: &B::Device) -> Self {
        match config {
            TransformerConfig::Bert(c) => Self::Bert(BertModel::init(c, with_head, device)),
            TransformerConfig::ModernBert(c) => {
                Self::ModernBert(ModernBertModel::init(c, with_head, device))
            }
            TransformerConfig::Qwen3(c) => Self::Qwen3(Qwen3Model::init(c, device)),
        }
    }

    /// The model family.
    pub fn family(&self) -> Family {
        match self {
            Self::Bert(m) => m.family,
            Self::ModernBert(_) => Family::ModernBert,
            Self::Qwen3(_) => Family::Qwen3,
        }
    }

    /// Hidden states of the last layer (after ModernBERT's final norm), `[batch, seq, hidden]`.
    pub fn forward(&self, input: &BertInput<B>) -> Tensor<B, 3> {
        match self {
            Self::Bert(m) => m.forward(input),
            Self::ModernBert(m) => m.forward(input),
            Self::Qwen3(m) => m.forward(input),
        }
    }

    /// The same network with every dropout probability set to `p` (0 turns dropout off).
    #[must_use]
    pub fn with_dropout(self, p: f64) -> Self {
        match self {
            Self::Bert(m) => Self::Bert(m.with_dropout(p)),
            Self::ModernBert(m) => Self::ModernBert(m.with_dropout(p)),
            Self::Qwen3(m) => Self::Qwen3(m.with_dropout(p)),
        }
    }

    /// The device the weights live on.
    pub fn device(&self) -> B::Device {
        match self {
            Self::Bert(m) => m.embeddings.word.weight.val().device(),
            Self::ModernBert(m) => m.tok_embeddings.weight.val().device(),
            Self::Qwen3(m) => m.embed_tokens.weight.val().device(),
        }
    }

    /// The re-ranker's projection of the first token's state `[batch, hidden]`; the
    /// identity when the network has none.
    pub fn project(&self, first: Tensor<B, 2>) -> Tensor<B, 2> {
        match self {
            Self::Bert(m) => match &m.pooler {
                Some(p) => p.dense.forward(first).tanh(),
                None => first,
            },
            Self::ModernBert(m) => match &m.head {
                Some(h) => h.forward(first),
                None => first,
            },
            Self::Qwen3(_) => first,
        }
    }

    /// A re-ranker's logit per row from the first token's state `[batch, hidden]`: the
    /// projection, then `classifier` (one output).
    pub fn logit(&self, first: Tensor<B, 2>, classifier: &burn::nn::Linear<B>) -> Tensor<B, 1> {
        let logits = classifier.forward(self.project(first));
        let [batch, _] = logits.dims();
        logits.reshape([batch])
    }

    /// The BERT-shaped network, for the fused engine.
    pub fn bert(&self) -> Option<&BertModel<B>> {
        match self {
            Self::Bert(m) => Some(m),
            Self::ModernBert(_) | Self::Qwen3(_) => None,
        }
    }

    /// The BERT-shaped network, to change.
    pub fn bert_mut(&mut self) -> Option<&mut BertModel<B>> {
        match self {
            Self::Bert(m) => Some(m),
            Self::ModernBert(_) | Self::Qwen3(_) => None,
        }
    }

    /// Hands every parameter to `f` with its checkpoint name under `prefix`, the re-ranker's
    /// projection under `head` (BERT's pooler as a linear layer `head`, ModernBERT's as
    /// `head.dense` and `head.norm`).
    pub fn visit_named(
        &mut self,
        prefix: &str,
        head: &str,
        f: &mut dyn FnMut(String, Slot<'_, B>),
    ) {
        match self {
            Self::Bert(m) => {
                visit_bert(m, prefix, f);
                if let Some(p) = m.pooler.as_mut() {
                    crate::weights::linear(head, &mut p.dense, f);
                }
            }
            Self::ModernBert(m) => m.visit_params(prefix, head, f),
            Self::Qwen3(m) => m.visit_params(prefix, f),
        }
    }
}

impl<B: Backend> ParamTable<B> for Transformer<B> {
    fn visit_params(&mut self, f: &mut dyn FnMut(String, Slot<'_, B>)) {
        self.visit_named("", Family::POOLER, f);
    }
}
