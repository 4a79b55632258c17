//! The sentence-transformers side of a model folder: `modules.json` (which modules run),
//! `1_Pooling/config.json`, `sentence_bert_config.json` (max_seq_length) and
//! `config_sentence_transformers.json` (prompts). A folder without `modules.json` is a plain
//! transformers model: mean pooling, no normalization, as sentence-transformers defaults.

use crate::error::{TrainerError, read_json};
use crate::pooling::Pooling;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// What sentence-transformers would run after the transformer.
#[derive(Debug, Clone, PartialEq)]
pub struct SentenceTransformerConfig {
    /// The pooling mode.
    pub pooling: Pooling,
    /// Whether a Normalize module follows.
    pub normalize: bool,
    /// Longest sequence, special tokens included (capped at the position embeddings).
    pub max_seq_length: usize,
    /// Named prompts prepended to texts (`query: `, bge instructions...).
    pub prompts: BTreeMap<String, String>,
    /// The prompt used when none is named.
    pub default_prompt_name: Option<String>,
}

#[derive(Deserialize)]
struct ModuleEntry {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    path: String,
}

#[derive(Deserialize)]
struct PoolingFile {
    /// sentence-transformers 6.3 names one mode (`"mean"`, `"cls"`, ...) instead of flags.
    pooling_mode: Option<String>,
    #[serde(default)]
    pooling_mode_cls_token: bool,
    #[serde(default)]
    pooling_mode_mean_tokens: bool,
    #[serde(default)]
    pooling_mode_max_tokens: bool,
    #[serde(default)]
    pooling_mode_mean_sqrt_len_tokens: bool,
    #[serde(default)]
    pooling_mode_weightedmean_tokens: bool,
    #[serde(default)]
    pooling_mode_lasttoken: bool,
    #[serde(default = "yes")]
    include_prompt: bool,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
struct SbertFile {
    max_seq_length: Option<usize>,
}

#[derive(Deserialize)]
struct TokenizerConfigFile {
    model_max_length: Option<f64>,
}

#[derive(Deserialize, Default)]
struct StFile {
    #[serde(default)]
    prompts: BTreeMap<String, String>,
    default_prompt_name: Option<String>,
}

impl SentenceTransformerConfig {
    /// Reads the folder's sentence-transformers files; `max_positions` caps the sequence length.
    pub fn from_dir(dir: impl AsRef<Path>, max_positions: usize) -> Result<Self, TrainerError> {
        let dir = dir.as_ref();
        let modules_path = dir.join("modules.json");
        let mut pooling = Pooling::Mean;
        let mut normalize = false;
        if modules_path.exists() {
            let modules: Vec<ModuleEntry> = read_json(&modules_path)?;
            for (i, m) in modules.iter().enumerate() {
                let kind = m.kind.rsplit('.').next().unwrap_or(&m.kind);
                match kind {
                    "Transformer" => {}
                    "Pooling" => pooling = read_pooling(&dir.join(&m.path).join("config.json"))?,
                    "Normalize" => normalize = true,
                    other => {
                        return Err(TrainerError::config(
                            &modules_path,
                            &format!("[{i}].type"),
                            format!(
                                "module {other:?} is not supported (Transformer, Pooling, Normalize)"
                            ),
                        ));
                    }
                }
            }
        }
        let sbert_path = dir.join("sentence_bert_config.json");
        let configured = if sbert_path.exists() {
            read_json::<SbertFile>(&sbert_path)?.max_seq_length
        } else {
            None
        };
        // sentence-transformers 6.3 leaves max_seq_length out and takes the tokenizer's
        // model_max_length (transformers writes a huge sentinel when there is none).
        let tok_path = dir.join("tokenizer_config.json");
        let configured = match configured {
            Some(n) => Some(n),
            None if tok_path.exists() => read_json::<TokenizerConfigFile>(&tok_path)?
                .model_max_length
                .filter(|n| *n >= 1.0 && *n < 1e9)
                .map(|n| n as usize),
            None => None,
        };
        let max_seq_length = configured.unwrap_or(max_positions).min(max_positions);
        let st_path = dir.join("config_sentence_transformers.json");
        let st: StFile = if st_path.exists() {
            read_json(&st_path)?
        } else {
            StFile::default()
        };
        if let Some(name) = &st.default_prompt_name
            && !st.prompts.contains_key(name)
        {
            return Err(TrainerError::config(
                &st_path,
                "default_prompt_name",
                format!("{name:?} is not among the prompts"),
            ));
        }
        Ok(Self {
            pooling,
            normalize,
            max_seq_length,
            prompts: st.prompts,
            default_prompt_name: st.default_prompt_name,
        })
    }
}

fn read_pooling(path: &Path) -> Result<Pooling, TrainerError> {
    let mut p: PoolingFile = read_json(path)?;
    if let Some(mode) = p.pooling_mode.take() {
        match mode.as_str() {
            "mean" => p.pooling_mode_mean_tokens = true,
            "cls" => p.pooling_mode_cls_token = true,
            "max" => p.pooling_mode_max_tokens = true,
            "mean_sqrt_len_tokens" => p.pooling_mode_mean_sqrt_len_tokens = true,
            "weightedmean" => p.pooling_mode_weightedmean_tokens = true,
            "lasttoken" => p.pooling_mode_lasttoken = true,
            other => {
                return Err(TrainerError::config(
                    path,
                    "pooling_mode",
                    format!("{other:?} is not a pooling mode"),
                ));
            }
        }
    }
    if p.pooling_mode_weightedmean_tokens {
        return Err(TrainerError::config(
            path,
            "pooling_mode_weightedmean_tokens",
            "this pooling mode is not supported",
        ));
    }
    if !p.include_prompt {
        return Err(TrainerError::config(
            path,
            "include_prompt",
            "pooling that excludes the prompt is not supported",
        ));
    }
    let modes = [
        (p.pooling_mode_mean_tokens, Pooling::Mean),
        (p.pooling_mode_cls_token, Pooling::Cls),
        (p.pooling_mode_max_tokens, Pooling::Max),
        (p.pooling_mode_mean_sqrt_len_tokens, Pooling::MeanSqrtLen),
        (p.pooling_mode_lasttoken, Pooling::LastToken),
    ];
    let on: Vec<Pooling> = modes.iter().filter(|(b, _)| *b).map(|(_, m)| *m).collect();
    match on.as_slice() {
        [one] => Ok(*one),
        [] => Err(TrainerError::config(
            path,
            "pooling_mode_*",
            "no pooling mode is set",
        )),
        _ => Err(TrainerError::config(
            path,
            "pooling_mode_*",
            "several pooling modes at once (concatenation) is not supported",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_modules_pooling_and_prompts() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir(d.join("1_Pooling")).unwrap();
        std::fs::write(d.join("modules.json"), r#"[{"idx":0,"name":"0","path":"","type":"sentence_transformers.models.Transformer"},{"idx":1,"name":"1","path":"1_Pooling","type":"sentence_transformers.models.Pooling"},{"idx":2,"name":"2","path":"2_Normalize","type":"sentence_transformers.models.Normalize"}]"#).unwrap();
        std::fs::write(
            d.join("1_Pooling/config.json"),
            r#"{"pooling_mode_cls_token":true}"#,
        )
        .unwrap();
        std::fs::write(
            d.join("sentence_bert_config.json"),
            r#"{"max_seq_length":1024}"#,
        )
        .unwrap();
        std::fs::write(
            d.join("config_sentence_transformers.json"),
            r#"{"prompts":{"query":"Represent this: "},"default_prompt_name":null}"#,
        )
        .unwrap();
        let c = SentenceTransformerConfig::from_dir(d, 512).unwrap();
        assert_eq!(
            (c.pooling, c.normalize, c.max_seq_length),
            (Pooling::Cls, true, 512)
        );
        assert_eq!(c.prompts["query"], "Represent this: ");
        std::fs::write(
            d.join("1_Pooling/config.json"),
            r#"{"pooling_mode_lasttoken":true}"#,
        )
        .unwrap();
        let c = SentenceTransformerConfig::from_dir(d, 512).unwrap();
        assert_eq!(c.pooling, Pooling::LastToken);
        std::fs::write(
            d.join("1_Pooling/config.json"),
            r#"{"pooling_mode_weightedmean_tokens":true}"#,
        )
        .unwrap();
        let err = SentenceTransformerConfig::from_dir(d, 512)
            .unwrap_err()
            .to_string();
        assert!(err.contains("pooling_mode_weightedmean_tokens"), "{err}");
        std::fs::write(
            d.join("modules.json"),
            r#"[{"path":"2_Dense","type":"sentence_transformers.models.Dense"}]"#,
        )
        .unwrap();
        let err = SentenceTransformerConfig::from_dir(d, 512)
            .unwrap_err()
            .to_string();
        assert!(err.contains("[0].type") && err.contains("Dense"), "{err}");
    }

    #[test]
    fn plain_transformers_folder_defaults_to_mean() {
        let dir = tempfile::tempdir().unwrap();
        let c = SentenceTransformerConfig::from_dir(dir.path(), 128).unwrap();
        assert_eq!(
            (c.pooling, c.normalize, c.max_seq_length),
            (Pooling::Mean, false, 128)
        );
    }
}
