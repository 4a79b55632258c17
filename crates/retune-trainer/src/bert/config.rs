//! `BertConfig`: the fields of a Hugging Face `config.json` that the encoder needs.

use crate::arch::Family;
use crate::error::{TrainerError, read_json};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The feed-forward activation (`hidden_act`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Activation {
    /// `gelu`: exact, with erf (what BERT and MiniLM use).
    #[serde(rename = "gelu")]
    Gelu,
    /// `gelu_new` / `gelu_pytorch_tanh`: the tanh approximation.
    #[serde(rename = "gelu_new")]
    GeluTanh,
    /// `relu`.
    #[serde(rename = "relu")]
    Relu,
}

impl Activation {
    /// The activation applied element-wise.
    pub fn apply<B: burn::tensor::backend::Backend, const D: usize>(
        self,
        x: burn::tensor::Tensor<B, D>,
    ) -> burn::tensor::Tensor<B, D> {
        use burn::tensor::activation::{gelu, gelu_approximate, relu};
        match self {
            Activation::Gelu => gelu(x),
            Activation::GeluTanh => gelu_approximate(x),
            Activation::Relu => relu(x),
        }
    }
}

/// The architecture of a BERT-shaped checkpoint (BERT, XLM-RoBERTa or MPNet).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BertConfig {
    /// The model family: its parameter names, positions and attention bias.
    pub family: Family,
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Hidden size.
    pub hidden_size: usize,
    /// Number of encoder layers.
    pub num_hidden_layers: usize,
    /// Attention heads per layer.
    pub num_attention_heads: usize,
    /// Feed-forward inner size.
    pub intermediate_size: usize,
    /// Longest sequence the position embeddings cover.
    pub max_position_embeddings: usize,
    /// Number of token types (segments).
    pub type_vocab_size: usize,
    /// LayerNorm epsilon (BERT: 1e-12; Burn's default 1e-5 would be wrong).
    pub layer_norm_eps: f64,
    /// Feed-forward activation.
    pub hidden_act: Activation,
    /// Dropout on hidden states in training.
    pub hidden_dropout_prob: f64,
    /// Dropout on attention probabilities in training.
    pub attention_probs_dropout_prob: f64,
    /// Id of the padding token.
    pub pad_token_id: usize,
    /// MPNet's relative position buckets (`relative_attention_num_buckets`); 0 elsewhere.
    pub relative_attention_num_buckets: usize,
}

#[derive(Deserialize)]
struct RawConfig {
    model_type: Option<String>,
    vocab_size: Option<usize>,
    hidden_size: Option<usize>,
    num_hidden_layers: Option<usize>,
    num_attention_heads: Option<usize>,
    intermediate_size: Option<usize>,
    max_position_embeddings: Option<usize>,
    type_vocab_size: Option<usize>,
    layer_norm_eps: Option<f64>,
    architectures: Option<Vec<String>>,
    relative_attention_num_buckets: Option<usize>,
    hidden_act: Option<String>,
    hidden_dropout_prob: Option<f64>,
    attention_probs_dropout_prob: Option<f64>,
    pad_token_id: Option<usize>,
    position_embedding_type: Option<String>,
}

impl BertConfig {
    /// Reads `config.json`; an unsupported `model_type`, activation or position embedding type,
    /// or a missing size, is an error naming the field.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, TrainerError> {
        let path = path.as_ref();
        let raw: RawConfig = read_json(path)?;
        let need = |v: Option<usize>, field: &str| {
            v.filter(|&n| n > 0)
                .ok_or_else(|| TrainerError::config(path, field, "missing or zero"))
        };
        let family = Family::detect(raw.model_type.as_deref(), raw.architectures.as_deref())
            .map_err(|(field, message)| TrainerError::config(path, field, message))?;
        if !family.runs_fused() {
            return Err(TrainerError::config(
                path,
                "model_type",
                format!(
                    "{:?} is not BERT-shaped; TransformerConfig::from_file reads it",
                    family.model_type()
                ),
            ));
        }
        if let Some(p) = raw
            .position_embedding_type
            .as_deref()
            .filter(|p| *p != "absolute")
        {
            return Err(TrainerError::config(
                path,
                "position_embedding_type",
                format!("{p:?} is not supported (only \"absolute\")"),
            ));
        }
        let hidden_act = match raw.hidden_act.as_deref().unwrap_or("gelu") {
            "gelu" => Activation::Gelu,
            "gelu_new" | "gelu_pytorch_tanh" => Activation::GeluTanh,
            "relu" => Activation::Relu,
            other => {
                return Err(TrainerError::config(
                    path,
                    "hidden_act",
                    format!("{other:?} is not supported (gelu, gelu_new, relu)"),
                ));
            }
        };
        let config = Self {
            family,
            vocab_size: need(raw.vocab_size, "vocab_size")?,
            hidden_size: need(raw.hidden_size, "hidden_size")?,
            num_hidden_layers: need(raw.num_hidden_layers, "num_hidden_layers")?,
            num_attention_heads: need(raw.num_attention_heads, "num_attention_heads")?,
            intermediate_size: need(raw.intermediate_size, "intermediate_size")?,
            max_position_embeddings: need(raw.max_position_embeddings, "max_position_embeddings")?,
            type_vocab_size: match family {
                Family::MPNet => 0,
                _ => raw.type_vocab_size.unwrap_or(2),
            },
            layer_norm_eps: raw.layer_norm_eps.unwrap_or(1e-12),
            hidden_act,
            hidden_dropout_prob: raw.hidden_dropout_prob.unwrap_or(0.1),
            attention_probs_dropout_prob: raw.attention_probs_dropout_prob.unwrap_or(0.1),
            pad_token_id: raw.pad_token_id.unwrap_or(family.default_pad_id()),
            relative_attention_num_buckets: match family {
                Family::MPNet => raw.relative_attention_num_buckets.unwrap_or(32),
                _ => 0,
            },
        };
        if !config
            .hidden_size
            .is_multiple_of(config.num_attention_heads)
        {
            return Err(TrainerError::config(
                path,
                "num_attention_heads",
                format!(
                    "{} heads do not divide hidden_size {}",
                    config.num_attention_heads, config.hidden_size
                ),
            ));
        }
        Ok(config)
    }

    /// The longest sequence the model takes, in tokens: the position table less the
    /// positions before the first (RoBERTa and MPNet start at `pad_token_id + 1`).
    pub fn max_tokens(&self) -> usize {
        self.max_position_embeddings
            .saturating_sub(self.family.position_offset(self.pad_token_id))
    }

    /// Size of one attention head.
    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.num_attention_heads
    }

    /// The `config.json` that transformers reads for this architecture.
    pub fn to_hf_json(&self) -> serde_json::Value {
        let act = match self.hidden_act {
            Activation::Gelu => "gelu",
            Activation::GeluTanh => "gelu_new",
            Activation::Relu => "relu",
        };
        let mut json = serde_json::json!({
            "architectures": [self.family.hf_architecture()],
            "model_type": self.family.model_type(),
            "vocab_size": self.vocab_size,
            "hidden_size": self.hidden_size,
            "num_hidden_layers": self.num_hidden_layers,
            "num_attention_heads": self.num_attention_heads,
            "intermediate_size": self.intermediate_size,
            "max_position_embeddings": self.max_position_embeddings,
            "layer_norm_eps": self.layer_norm_eps,
            "hidden_act": act,
            "hidden_dropout_prob": self.hidden_dropout_prob,
            "attention_probs_dropout_prob": self.attention_probs_dropout_prob,
            "pad_token_id": self.pad_token_id,
            "initializer_range": 0.02,
            "torch_dtype": "float32",
        });
        let extra = match self.family {
            Family::Bert => serde_json::json!({
                "type_vocab_size": self.type_vocab_size,
                "position_embedding_type": "absolute",
            }),
            Family::XlmRoberta => serde_json::json!({
                "type_vocab_size": self.type_vocab_size,
                "position_embedding_type": "absolute",
                "bos_token_id": 0,
                "eos_token_id": 2,
            }),
            Family::MPNet => serde_json::json!({
                "relative_attention_num_buckets": self.relative_attention_num_buckets,
                "bos_token_id": 0,
                "eos_token_id": 2,
            }),
            // Not BERT-shaped: `from_file` refuses it; nothing family-specific to add.
            Family::ModernBert | Family::Qwen3 => serde_json::json!({}),
        };
        if let (Some(m), serde_json::Value::Object(e)) = (json.as_object_mut(), extra) {
            m.extend(e);
        }
        json
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), text).unwrap();
        f
    }

    const BASE: &str = r#""vocab_size":10,"hidden_size":8,"num_hidden_layers":1,"num_attention_heads":2,"intermediate_size":16,"max_position_embeddings":32"#;

    #[test]
    fn reads_and_round_trips() {
        let f = write(&format!(
            "{{{BASE},\"model_type\":\"bert\",\"hidden_act\":\"gelu_new\"}}"
        ));
        let c = BertConfig::from_file(f.path()).unwrap();
        assert_eq!(
            (c.hidden_act, c.layer_norm_eps, c.head_dim()),
            (Activation::GeluTanh, 1e-12, 4)
        );
        let g = write(&c.to_hf_json().to_string());
        assert_eq!(BertConfig::from_file(g.path()).unwrap(), c);
    }

    #[test]
    fn unsupported_fields_are_named() {
        let cases = [
            (format!("{{{BASE},\"model_type\":\"qwen3\"}}"), "model_type"),
            (format!("{{{BASE},\"hidden_act\":\"swish\"}}"), "hidden_act"),
            (
                format!("{{{BASE},\"position_embedding_type\":\"relative_key\"}}"),
                "position_embedding_type",
            ),
            (r#"{"vocab_size":10}"#.to_string(), "hidden_size"),
            (
                format!(
                    "{{{}}}",
                    BASE.replace("\"num_attention_heads\":2", "\"num_attention_heads\":3")
                ),
                "num_attention_heads",
            ),
        ];
        for (text, field) in cases {
            let f = write(&text);
            let err = BertConfig::from_file(f.path()).unwrap_err().to_string();
            assert!(err.contains(&format!("field `{field}`")), "{err}");
        }
    }
}
