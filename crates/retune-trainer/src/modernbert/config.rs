//! `ModernBertConfig`: the fields of a ModernBERT `config.json` the encoder needs, read in both
//! generations' spellings (transformers 4's `global_rope_theta` / `local_rope_theta` /
//! `global_attn_every_n_layers`, and 5's `rope_parameters` / `layer_types`). The file itself is
//! kept, so an export writes back every field it had.

use crate::arch::Family;
use crate::bert::Activation;
use crate::error::{TrainerError, read_json};
use crate::raw_config::{RawConfig, export_json};
use serde_json::Value;
use std::path::Path;

/// The architecture of a ModernBERT checkpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct ModernBertConfig {
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Hidden size.
    pub hidden_size: usize,
    /// Number of encoder layers.
    pub num_hidden_layers: usize,
    /// Attention heads per layer.
    pub num_attention_heads: usize,
    /// The GeGLU block's inner size (the input projection is twice this).
    pub intermediate_size: usize,
    /// Longest sequence the model was trained on.
    pub max_position_embeddings: usize,
    /// LayerNorm epsilon (`norm_eps`).
    pub norm_eps: f64,
    /// Whether the LayerNorms have a bias (`norm_bias`).
    pub norm_bias: bool,
    /// Whether the attention projections have biases (`attention_bias`).
    pub attention_bias: bool,
    /// Whether the feed-forward projections have biases (`mlp_bias`).
    pub mlp_bias: bool,
    /// The GeGLU activation (`hidden_activation`).
    pub hidden_activation: Activation,
    /// Whether each layer attends globally (else within the sliding window).
    pub global_layers: Vec<bool>,
    /// RoPE theta of the global layers.
    pub global_rope_theta: f64,
    /// RoPE theta of the sliding-window layers.
    pub local_rope_theta: f64,
    /// Tokens a sliding-window layer sees on each side (`local_attention / 2`).
    pub sliding_window: usize,
    /// Dropout after the embedding norm.
    pub embedding_dropout: f64,
    /// Dropout on attention probabilities and the attention output.
    pub attention_dropout: f64,
    /// Dropout inside the feed-forward block.
    pub mlp_dropout: f64,
    /// Whether the classification head's dense layer has a bias (`classifier_bias`).
    pub classifier_bias: bool,
    /// The classification head's activation (`classifier_activation`).
    pub classifier_activation: Activation,
    /// Id of the padding token.
    pub pad_token_id: usize,
    /// The file as read, written back on export.
    pub raw: Value,
}

fn activation(path: &Path, field: &str, name: Option<&str>) -> Result<Activation, TrainerError> {
    match name.unwrap_or("gelu") {
        "gelu" => Ok(Activation::Gelu),
        "gelu_new" | "gelu_pytorch_tanh" => Ok(Activation::GeluTanh),
        "relu" => Ok(Activation::Relu),
        other => Err(TrainerError::config(
            path,
            field,
            format!("{other:?} is not supported (gelu, gelu_new, gelu_pytorch_tanh, relu)"),
        )),
    }
}

impl ModernBertConfig {
    /// Reads `config.json`; a missing size, an unknown activation or layer type, or a RoPE
    /// scaling other than the default is an error naming the field.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, TrainerError> {
        let path = path.as_ref();
        let raw: Value = read_json(path)?;
        Self::from_json(path, raw)
    }

    /// As [`from_file`](Self::from_file) from the parsed file (`path` names it in errors).
    pub fn from_json(path: &Path, raw: Value) -> Result<Self, TrainerError> {
        let file = RawConfig { path, raw: &raw };
        let size = |field: &str| file.size(field);
        let float = |field: &str, default: f64| file.float(field, default);
        let flag = |field: &str, default: bool| file.flag(field, default);
        let layers = size("num_hidden_layers")?;
        let global_layers = global_layers(path, &raw, layers)?;
        let (global_rope_theta, local_rope_theta) = rope_thetas(path, &raw)?;
        let config = Self {
            vocab_size: size("vocab_size")?,
            hidden_size: size("hidden_size")?,
            num_hidden_layers: layers,
            num_attention_heads: size("num_attention_heads")?,
            intermediate_size: size("intermediate_size")?,
            max_position_embeddings: size("max_position_embeddings").unwrap_or(8192),
            norm_eps: float("norm_eps", 1e-5),
            norm_bias: flag("norm_bias", false),
            attention_bias: flag("attention_bias", false),
            mlp_bias: flag("mlp_bias", false),
            hidden_activation: activation(
                path,
                "hidden_activation",
                raw.get("hidden_activation").and_then(Value::as_str),
            )?,
            global_layers,
            global_rope_theta,
            local_rope_theta,
            sliding_window: size("local_attention").unwrap_or(128) / 2,
            embedding_dropout: float("embedding_dropout", 0.0),
            attention_dropout: float("attention_dropout", 0.0),
            mlp_dropout: float("mlp_dropout", 0.0),
            classifier_bias: flag("classifier_bias", false),
            classifier_activation: activation(
                path,
                "classifier_activation",
                raw.get("classifier_activation").and_then(Value::as_str),
            )?,
            pad_token_id: raw
                .get("pad_token_id")
                .and_then(Value::as_u64)
                .map_or(Family::ModernBert.default_pad_id(), |n| n as usize),
            raw,
        };
        if !config
            .hidden_size
            .is_multiple_of(config.num_attention_heads)
            || !config.head_dim().is_multiple_of(2)
        {
            return Err(TrainerError::config(
                path,
                "num_attention_heads",
                format!(
                    "{} heads do not split hidden_size {} into heads of even size",
                    config.num_attention_heads, config.hidden_size
                ),
            ));
        }
        Ok(config)
    }

    /// Size of one attention head.
    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.num_attention_heads
    }

    /// The `config.json` to export: the file as read, naming `architecture`.
    pub fn to_hf_json(&self, architecture: &str) -> Value {
        export_json(&self.raw, architecture, "modernbert")
    }
}

/// Each layer's attention kind: `layer_types` when given, else a global layer every
/// `global_attn_every_n_layers` (3) starting with the first.
fn global_layers(path: &Path, raw: &Value, layers: usize) -> Result<Vec<bool>, TrainerError> {
    let Some(types) = raw.get("layer_types").and_then(Value::as_array) else {
        let every = raw
            .get("global_attn_every_n_layers")
            .and_then(Value::as_u64)
            .filter(|&n| n > 0)
            .unwrap_or(3) as usize;
        return Ok((0..layers).map(|i| i % every == 0).collect());
    };
    if types.len() != layers {
        return Err(TrainerError::config(
            path,
            "layer_types",
            format!("{} entries for {layers} layers", types.len()),
        ));
    }
    types
        .iter()
        .map(|t| match t.as_str() {
            Some("full_attention") => Ok(true),
            Some("sliding_attention") => Ok(false),
            _ => Err(TrainerError::config(
                path,
                "layer_types",
                format!("{t} is not \"full_attention\" or \"sliding_attention\""),
            )),
        })
        .collect()
}

/// (global, local) RoPE theta from `rope_parameters` or the older top-level keys.
fn rope_thetas(path: &Path, raw: &Value) -> Result<(f64, f64), TrainerError> {
    let params = raw.get("rope_parameters");
    let theta = |kind: &str, legacy: &str, default: f64| -> Result<f64, TrainerError> {
        let p = params.and_then(|p| p.get(kind));
        RawConfig { path, raw }.default_rope(p)?;
        Ok(p.and_then(|p| p.get("rope_theta"))
            .or_else(|| raw.get(legacy))
            .and_then(Value::as_f64)
            .unwrap_or(default))
    };
    Ok((
        theta("full_attention", "global_rope_theta", 160_000.0)?,
        theta("sliding_attention", "local_rope_theta", 10_000.0)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<ModernBertConfig, TrainerError> {
        ModernBertConfig::from_json(
            Path::new("config.json"),
            serde_json::from_str(text).unwrap(),
        )
    }

    const BASE: &str = r#""vocab_size":10,"hidden_size":8,"num_hidden_layers":4,"num_attention_heads":2,"intermediate_size":12"#;

    #[test]
    fn reads_both_generations() {
        let old = read(&format!(
            "{{{BASE},\"global_rope_theta\":160000.0,\"local_rope_theta\":10000.0,\"local_attention\":128,\"global_attn_every_n_layers\":3}}"
        ))
        .unwrap();
        assert_eq!(old.global_layers, vec![true, false, false, true]);
        assert_eq!(
            (old.global_rope_theta, old.local_rope_theta),
            (160_000.0, 10_000.0)
        );
        assert_eq!(
            (old.sliding_window, old.head_dim(), old.pad_token_id),
            (64, 4, 50283)
        );
        let new = read(&format!(
            "{{{BASE},\"layer_types\":[\"full_attention\",\"sliding_attention\",\"full_attention\",\"full_attention\"],\"rope_parameters\":{{\"full_attention\":{{\"rope_theta\":5.0,\"rope_type\":\"default\"}},\"sliding_attention\":{{\"rope_theta\":7.0}}}},\"local_attention\":16,\"pad_token_id\":3}}"
        ))
        .unwrap();
        assert_eq!(new.global_layers, vec![true, false, true, true]);
        assert_eq!((new.global_rope_theta, new.local_rope_theta), (5.0, 7.0));
        assert_eq!((new.sliding_window, new.pad_token_id), (8, 3));
        assert_eq!(new.to_hf_json("ModernBertModel")["local_attention"], 16);
    }

    #[test]
    fn refusals_name_the_field() {
        let cases = [
            (
                format!("{{{BASE},\"hidden_activation\":\"swish\"}}"),
                "hidden_activation",
            ),
            (
                format!("{{{BASE},\"layer_types\":[\"full_attention\"]}}"),
                "layer_types",
            ),
            (
                format!(
                    "{{{BASE},\"rope_parameters\":{{\"full_attention\":{{\"rope_type\":\"yarn\"}}}}}}"
                ),
                "rope_parameters",
            ),
        ];
        for (text, field) in &cases {
            let err = read(text).unwrap_err().to_string();
            assert!(err.contains(&format!("field `{field}`")), "{err}");
        }
        let odd = format!(
            "{{{}}}",
            BASE.replace("\"hidden_size\":8", "\"hidden_size\":6")
        );
        let err = read(&odd).unwrap_err().to_string();
        assert!(err.contains("field `num_attention_heads`"), "{err}");
    }
}
