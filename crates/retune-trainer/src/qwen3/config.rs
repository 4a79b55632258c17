//! `Qwen3Config`: the fields of a Qwen3 `config.json` the encoder needs (Qwen3-Embedding's
//! decoder used as an encoder), with `rope_theta` read from transformers 5's
//! `rope_parameters` or the older top-level key. The file is kept and written back on export.

use crate::error::{TrainerError, read_json};
use crate::raw_config::{RawConfig, export_json};
use serde_json::Value;
use std::path::Path;

/// The architecture of a Qwen3 checkpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct Qwen3Config {
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Hidden size.
    pub hidden_size: usize,
    /// Number of decoder layers.
    pub num_hidden_layers: usize,
    /// Query heads per layer.
    pub num_attention_heads: usize,
    /// Key and value heads per layer (grouped-query attention).
    pub num_key_value_heads: usize,
    /// Size of one head (`head_dim`, else `hidden_size / num_attention_heads`).
    pub head_dim: usize,
    /// The SwiGLU block's inner size.
    pub intermediate_size: usize,
    /// Longest sequence the model was trained on.
    pub max_position_embeddings: usize,
    /// RMSNorm epsilon.
    pub rms_norm_eps: f64,
    /// RoPE theta.
    pub rope_theta: f64,
    /// Whether the attention projections have biases.
    pub attention_bias: bool,
    /// Dropout on attention probabilities in training.
    pub attention_dropout: f64,
    /// `pad_token_id`: as transformers' `padding_idx`, its embedding row takes no gradient.
    pub pad_token_id: Option<usize>,
    /// The file as read, written back on export.
    pub raw: Value,
}

impl Qwen3Config {
    /// Reads `config.json` (see [`from_json`](Self::from_json)).
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, TrainerError> {
        let path = path.as_ref();
        Self::from_json(path, read_json(path)?)
    }

    /// The configuration in `raw` (`path` names the file in errors): a missing size, an
    /// activation other than SiLU, sliding-window attention, a RoPE scaling other than the
    /// default, or heads that do not group are errors naming the field.
    pub fn from_json(path: &Path, raw: Value) -> Result<Self, TrainerError> {
        let file = RawConfig { path, raw: &raw };
        let size = |field: &str| file.size(field);
        if let Some(act) = raw
            .get("hidden_act")
            .and_then(Value::as_str)
            .filter(|a| *a != "silu")
        {
            return Err(TrainerError::config(
                path,
                "hidden_act",
                format!("{act:?} is not supported (silu)"),
            ));
        }
        if raw.get("use_sliding_window").and_then(Value::as_bool) == Some(true) {
            return Err(TrainerError::config(
                path,
                "use_sliding_window",
                "sliding-window attention is not supported",
            ));
        }
        let rope = raw.get("rope_parameters");
        file.default_rope(rope)?;
        let heads = size("num_attention_heads")?;
        let hidden = size("hidden_size")?;
        let kv = size("num_key_value_heads").unwrap_or(heads);
        let head_dim = size("head_dim").unwrap_or(hidden / heads);
        if !heads.is_multiple_of(kv) || !head_dim.is_multiple_of(2) {
            return Err(TrainerError::config(
                path,
                "num_key_value_heads",
                format!(
                    "{kv} key/value heads do not group {heads} query heads of even size {head_dim}"
                ),
            ));
        }
        Ok(Self {
            vocab_size: size("vocab_size")?,
            hidden_size: hidden,
            num_hidden_layers: size("num_hidden_layers")?,
            num_attention_heads: heads,
            num_key_value_heads: kv,
            head_dim,
            intermediate_size: size("intermediate_size")?,
            max_position_embeddings: size("max_position_embeddings").unwrap_or(32_768),
            rms_norm_eps: raw
                .get("rms_norm_eps")
                .and_then(Value::as_f64)
                .unwrap_or(1e-6),
            rope_theta: rope
                .and_then(|r| r.get("rope_theta"))
                .or_else(|| raw.get("rope_theta"))
                .and_then(Value::as_f64)
                .unwrap_or(1_000_000.0),
            attention_bias: file.flag("attention_bias", false),
            attention_dropout: file.float("attention_dropout", 0.0),
            pad_token_id: raw
                .get("pad_token_id")
                .and_then(Value::as_u64)
                .map(|n| n as usize),
            raw,
        })
    }

    /// The `config.json` to export: the file as read, naming `architecture`.
    pub fn to_hf_json(&self, architecture: &str) -> Value {
        export_json(&self.raw, architecture, "qwen3")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<Qwen3Config, TrainerError> {
        Qwen3Config::from_json(
            Path::new("config.json"),
            serde_json::from_str(text).unwrap(),
        )
    }

    const BASE: &str = r#""vocab_size":10,"hidden_size":32,"num_hidden_layers":2,"num_attention_heads":4,"intermediate_size":64"#;

    #[test]
    fn reads_grouped_heads_and_both_rope_spellings() {
        let c = read(&format!(
            "{{{BASE},\"num_key_value_heads\":2,\"head_dim\":16,\"rope_theta\":5.0}}"
        ))
        .unwrap();
        assert_eq!(
            (c.num_key_value_heads, c.head_dim, c.rope_theta),
            (2, 16, 5.0)
        );
        let c = read(&format!(
            "{{{BASE},\"rope_parameters\":{{\"rope_theta\":7.0,\"rope_type\":\"default\"}}}}"
        ))
        .unwrap();
        assert_eq!(
            (c.num_key_value_heads, c.head_dim, c.rope_theta),
            (4, 8, 7.0)
        );
    }

    #[test]
    fn refusals_name_the_field() {
        for (extra, field) in [
            (r#""hidden_act":"gelu""#, "hidden_act"),
            (r#""use_sliding_window":true"#, "use_sliding_window"),
            (
                r#""rope_parameters":{"rope_type":"yarn"}"#,
                "rope_parameters",
            ),
            (r#""num_key_value_heads":3"#, "num_key_value_heads"),
        ] {
            let err = read(&format!("{{{BASE},{extra}}}"))
                .unwrap_err()
                .to_string();
            assert!(err.contains(&format!("field `{field}`")), "{err}");
        }
    }
}
