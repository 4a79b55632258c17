//! The architecture description of each supported model family: how `config.json` names it,
//! the Hugging Face name of every parameter, where positions start, and the layout of its
//! classification (re-ranker) checkpoints.
//!
//! Loading, saving, the fused engine's gradients and the optimizer all take parameter names
//! from here, so no Hugging Face name is spelled in two places. The families are the
//! BERT-shaped encoders (post-LayerNorm layers of self-attention and a feed-forward block):
//!
//! | family | `model_type` | differs from BERT by |
//! |---|---|---|
//! | [`Family::Bert`] | `bert` | (the reference) |
//! | [`Family::XlmRoberta`] | `xlm-roberta`, `roberta` | positions start at `pad_token_id + 1`; one token type; head `classifier.dense` + `classifier.out_proj` |
//! | [`Family::MPNet`] | `mpnet` | positions as XLM-RoBERTa; no token types; a relative position bias (`encoder.relative_attention_bias`, 32 buckets) added to every layer's attention scores; its own attention names |
//!
//! and two of their own shapes whose name tables live with their layers: ModernBERT
//! ([`Family::ModernBert`], `modernbert`; [`crate::modernbert`]), a pre-norm encoder with rotary
//! positions, GeGLU and alternating global and sliding-window attention, and Qwen3
//! ([`Family::Qwen3`], `qwen3`; [`crate::qwen3`]), a causal decoder used as an encoder with
//! last-token pooling. The BERT-shaped families run on both engines; the others on Burn
//! ([`Family::runs_fused`]).

use serde::{Deserialize, Serialize};

/// A supported model family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum Family {
    /// BERT (`BertModel`), MiniLM and the BGE / E5 English models.
    #[default]
    Bert,
    /// XLM-RoBERTa and RoBERTa (`XLMRobertaModel`, `RobertaModel`): multilingual-e5, bge-m3.
    XlmRoberta,
    /// MPNet (`MPNetModel`): all-mpnet-base-v2.
    MPNet,
    /// ModernBERT (`ModernBertModel`): gte-modernbert, modernbert-embed.
    ModernBert,
    /// Qwen3 (`Qwen3Model`): Qwen3-Embedding.
    Qwen3,
}

/// The `model_type` values and architectures retune loads, for error messages.
pub const SUPPORTED: &str = "bert (BertModel), xlm-roberta / roberta (XLMRobertaModel, \
    RobertaModel), mpnet (MPNetModel), modernbert (ModernBertModel), their \
    *ForSequenceClassification re-rankers, and qwen3 (Qwen3Model) bi-encoders";

/// One parameter group of an encoder layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerPart {
    /// The query projection.
    Query,
    /// The key projection.
    Key,
    /// The value projection.
    Value,
    /// The attention output projection.
    AttentionOutput,
    /// The LayerNorm after attention.
    AttentionNorm,
    /// The feed-forward up projection.
    Intermediate,
    /// The feed-forward down projection.
    Output,
    /// The LayerNorm after the feed-forward block.
    OutputNorm,
}

/// One parameter group of the embedding block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmbeddingPart {
    /// Token embeddings.
    Word,
    /// Absolute position embeddings.
    Position,
    /// Token-type (segment) embeddings.
    TokenType,
    /// The LayerNorm over their sum.
    Norm,
}

impl Family {
    /// The family `config.json` names: `model_type` first, else the first architecture.
    /// An unknown one is `(field, message)` naming it and the supported list.
    pub fn detect(
        model_type: Option<&str>,
        architectures: Option<&[String]>,
    ) -> Result<Self, (&'static str, String)> {
        if let Some(t) = model_type {
            return match t {
                "bert" => Ok(Self::Bert),
                "xlm-roberta" | "roberta" => Ok(Self::XlmRoberta),
                "mpnet" => Ok(Self::MPNet),
                "modernbert" => Ok(Self::ModernBert),
                "qwen3" => Ok(Self::Qwen3),
                other => Err((
                    "model_type",
                    format!("{other:?} is not supported; supported: {SUPPORTED}"),
                )),
            };
        }
        let Some(arch) = architectures.and_then(|a| a.first()) else {
            return Ok(Self::Bert);
        };
        [
            ("XLMRoberta", Self::XlmRoberta),
            ("Roberta", Self::XlmRoberta),
            ("MPNet", Self::MPNet),
            ("ModernBert", Self::ModernBert),
            ("Qwen3", Self::Qwen3),
            ("Bert", Self::Bert),
        ]
        .into_iter()
        .find(|(prefix, _)| arch.starts_with(prefix))
        .map(|(_, f)| f)
        .ok_or_else(|| {
            (
                "architectures",
                format!("{arch:?} is not supported; supported: {SUPPORTED}"),
            )
        })
    }

    /// `model_type` as transformers writes it.
    pub fn model_type(self) -> &'static str {
        match self {
            Self::Bert => "bert",
            Self::XlmRoberta => "xlm-roberta",
            Self::MPNet => "mpnet",
            Self::ModernBert => "modernbert",
            Self::Qwen3 => "qwen3",
        }
    }

    /// The bare encoder's architecture (`BertModel`, ...).
    pub fn hf_architecture(self) -> &'static str {
        match self {
            Self::Bert => "BertModel",
            Self::XlmRoberta => "XLMRobertaModel",
            Self::MPNet => "MPNetModel",
            Self::ModernBert => "ModernBertModel",
            Self::Qwen3 => "Qwen3Model",
        }
    }

    /// The re-ranker's architecture (`BertForSequenceClassification`, ...).
    pub fn classifier_architecture(self) -> &'static str {
        match self {
            Self::Bert => "BertForSequenceClassification",
            Self::XlmRoberta => "XLMRobertaForSequenceClassification",
            Self::MPNet => "MPNetForSequenceClassification",
            Self::ModernBert => "ModernBertForSequenceClassification",
            Self::Qwen3 => "Qwen3ForSequenceClassification",
        }
    }

    /// The prefix of the encoder's parameters inside a classification checkpoint.
    pub fn body_prefix(self) -> &'static str {
        match self {
            Self::Bert => "bert.",
            Self::XlmRoberta => "roberta.",
            Self::MPNet => "mpnet.",
            Self::ModernBert | Self::Qwen3 => "model.",
        }
    }

    /// The classification head's two parts: the projection of the first token (a tanh
    /// linear layer; BERT's is the encoder's pooler; ModernBERT's `head` is a dense layer, its
    /// activation and a norm) and the one-logit output.
    pub fn head_names(self) -> (String, &'static str) {
        match self {
            Self::Bert => (format!("{}pooler.dense", self.body_prefix()), "classifier"),
            Self::XlmRoberta | Self::MPNet => ("classifier.dense".into(), "classifier.out_proj"),
            Self::ModernBert => ("head".into(), "classifier"),
            Self::Qwen3 => ("score".into(), "score"),
        }
    }

    /// Whether retune loads this family's `*ForSequenceClassification` re-rankers (Qwen3's
    /// score the last token and are not supported).
    pub fn has_reranker(self) -> bool {
        self != Self::Qwen3
    }

    /// Whether the fused CPU engine runs this family (the BERT-shaped ones).
    pub fn runs_fused(self) -> bool {
        !matches!(self, Self::ModernBert | Self::Qwen3)
    }

    /// The name prefix of layer `i`'s parameters (layer-wise learning rates).
    pub fn layer_prefix(self, i: usize) -> String {
        match self {
            Self::ModernBert | Self::Qwen3 => format!("layers.{i}."),
            _ => format!("encoder.layer.{i}."),
        }
    }

    /// `pad_token_id` when `config.json` does not give it.
    pub fn default_pad_id(self) -> usize {
        match self {
            Self::Bert => 0,
            Self::XlmRoberta | Self::MPNet => 1,
            Self::ModernBert => 50283,
            Self::Qwen3 => 151_643,
        }
    }

    /// The position id of a sequence's first token: RoBERTa and MPNet count positions from
    /// `pad_token_id + 1` (transformers' `create_position_ids_from_input_ids`).
    pub fn position_offset(self, pad_token_id: usize) -> usize {
        match self {
            Self::Bert | Self::ModernBert | Self::Qwen3 => 0,
            Self::XlmRoberta | Self::MPNet => pad_token_id + 1,
        }
    }

    /// The name (without `.weight` / `.bias`) of an embedding-block parameter group.
    pub fn embedding_name(self, part: EmbeddingPart) -> &'static str {
        match part {
            EmbeddingPart::Word => "embeddings.word_embeddings",
            EmbeddingPart::Position => "embeddings.position_embeddings",
            EmbeddingPart::TokenType => "embeddings.token_type_embeddings",
            EmbeddingPart::Norm => "embeddings.LayerNorm",
        }
    }

    /// The name (without `.weight` / `.bias`) of layer `i`'s parameter group `part`.
    pub fn layer_name(self, i: usize, part: LayerPart) -> String {
        let local = match (self, part) {
            (Self::MPNet, LayerPart::Query) => "attention.attn.q",
            (Self::MPNet, LayerPart::Key) => "attention.attn.k",
            (Self::MPNet, LayerPart::Value) => "attention.attn.v",
            (Self::MPNet, LayerPart::AttentionOutput) => "attention.attn.o",
            (Self::MPNet, LayerPart::AttentionNorm) => "attention.LayerNorm",
            (_, LayerPart::Query) => "attention.self.query",
            (_, LayerPart::Key) => "attention.self.key",
            (_, LayerPart::Value) => "attention.self.value",
            (_, LayerPart::AttentionOutput) => "attention.output.dense",
            (_, LayerPart::AttentionNorm) => "attention.output.LayerNorm",
            (_, LayerPart::Intermediate) => "intermediate.dense",
            (_, LayerPart::Output) => "output.dense",
            (_, LayerPart::OutputNorm) => "output.LayerNorm",
        };
        format!("encoder.layer.{i}.{local}")
    }

    /// MPNet's relative position bias table `[buckets, heads]`.
    pub const RELATIVE_BIAS: &'static str = "encoder.relative_attention_bias.weight";

    /// The pooler's dense layer (bi-encoder checkpoints that carry one).
    pub const POOLER: &'static str = "pooler.dense";
}

/// MPNet's bucket of the relative position `key - query` (transformers'
/// `relative_position_bucket` with `max_distance` 128): half the buckets for keys before the
/// query and half after; exact distances below a quarter of the buckets, logarithmic bins
/// beyond, in f32 as torch computes them.
pub fn relative_bucket(relative: i64, num_buckets: usize) -> usize {
    const MAX_DISTANCE: f32 = 128.0;
    let half = (num_buckets / 2) as i64;
    let n = -relative;
    let mut bucket = if n < 0 { half } else { 0 };
    let n = n.abs();
    let max_exact = half / 2;
    bucket += if n < max_exact {
        n
    } else {
        let me = max_exact as f32;
        let large =
            me + ((n as f32 / me).ln() / (MAX_DISTANCE / me).ln() * (half - max_exact) as f32);
        (large as i64).min(half - 1)
    };
    bucket as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_families_and_names_the_unknown() {
        assert_eq!(Family::detect(Some("mpnet"), None), Ok(Family::MPNet));
        let xlmr = ["XLMRobertaForSequenceClassification".to_string()];
        assert_eq!(Family::detect(None, Some(&xlmr)), Ok(Family::XlmRoberta));
        assert_eq!(Family::detect(None, None), Ok(Family::Bert));
        assert_eq!(
            Family::detect(Some("modernbert"), None),
            Ok(Family::ModernBert)
        );
        let qwen = ["Qwen3Model".to_string()];
        assert_eq!(Family::detect(None, Some(&qwen)), Ok(Family::Qwen3));
        let (field, msg) = Family::detect(Some("llama"), None).unwrap_err();
        assert_eq!(field, "model_type");
        assert!(msg.contains("\"llama\"") && msg.contains("mpnet"), "{msg}");
        let gemma = ["Gemma3Model".to_string()];
        let (field, msg) = Family::detect(None, Some(&gemma)).unwrap_err();
        assert_eq!(field, "architectures");
        assert!(msg.contains("Gemma3Model"), "{msg}");
    }

    #[test]
    fn names_follow_each_family() {
        assert_eq!(
            Family::MPNet.layer_name(1, LayerPart::AttentionNorm),
            "encoder.layer.1.attention.LayerNorm"
        );
        assert_eq!(
            Family::XlmRoberta.layer_name(0, LayerPart::Query),
            "encoder.layer.0.attention.self.query"
        );
        assert_eq!(Family::XlmRoberta.position_offset(1), 2);
        assert_eq!(Family::Bert.position_offset(0), 0);
    }

    #[test]
    fn relative_buckets_match_transformers() {
        // Values of transformers' MPNetEncoder.relative_position_bucket (32 buckets, max
        // distance 128) for key - query = -130..=130, worked out from its definition.
        let b = |r| relative_bucket(r, 32);
        assert_eq!((b(0), b(-1), b(-7), b(1), b(7)), (0, 1, 7, 17, 23));
        assert_eq!((b(-8), b(-15), b(-16), b(-31), b(-32)), (8, 9, 10, 11, 12));
        assert_eq!((b(-64), b(-127), b(-128), b(-500)), (14, 15, 15, 15));
        assert_eq!((b(8), b(16), b(32), b(64), b(200)), (24, 26, 28, 30, 31));
    }
}
