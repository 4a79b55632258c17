//! Writing a model folder in the Hugging Face + sentence-transformers layout, which
//! `SentenceTransformer(path)` and `AutoModel.from_pretrained(path)` load unchanged:
//! `config.json`, `model.safetensors`, the tokenizer files, `modules.json`, `1_Pooling/`,
//! `sentence_bert_config.json` and `config_sentence_transformers.json`.

use crate::encoder::SentenceEncoder;
use crate::error::TrainerError;
use crate::st_config::SentenceTransformerConfig;
use crate::transformer::{Transformer, TransformerConfig};
use crate::weights::save_model;
use burn::tensor::backend::Backend;
use std::path::Path;

/// Writes pretty JSON with a final newline.
pub(crate) fn write_json(path: &Path, value: &serde_json::Value) -> Result<(), TrainerError> {
    let text = serde_json::to_string_pretty(value).expect("JSON values serialize");
    std::fs::write(path, text + "\n").map_err(TrainerError::io(path))
}

/// Writes the sentence-transformers module files for a transformer of width `dim`.
pub fn write_st_files(
    dir: &Path,
    st: &SentenceTransformerConfig,
    dim: usize,
) -> Result<(), TrainerError> {
    let mut modules = vec![
        serde_json::json!({"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"}),
        serde_json::json!({"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}),
    ];
    if st.normalize {
        // Normalize has no files; sentence-transformers loads it without its folder.
        modules.push(serde_json::json!({"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}));
    }
    write_json(
        &dir.join("modules.json"),
        &serde_json::Value::Array(modules),
    )?;
    let pooling = dir.join("1_Pooling");
    std::fs::create_dir_all(&pooling).map_err(TrainerError::io(&pooling))?;
    write_json(&pooling.join("config.json"), &st.pooling.to_st_json(dim))?;
    write_json(
        &dir.join("sentence_bert_config.json"),
        &serde_json::json!({"max_seq_length": st.max_seq_length, "do_lower_case": false}),
    )?;
    write_json(
        &dir.join("config_sentence_transformers.json"),
        &serde_json::json!({
            "__version__": {"sentence_transformers": "5.0.0", "transformers": "4.50.0", "pytorch": "2.6.0"},
            "prompts": st.prompts,
            "default_prompt_name": st.default_prompt_name,
            "similarity_fn_name": "cosine",
            "model_type": "SentenceTransformer",
        }),
    )
}

/// Writes `config.json` and `model.safetensors` of a bare encoder, in its family's layout.
pub fn write_transformer(
    dir: &Path,
    config: &TransformerConfig,
    model: &Transformer<impl Backend>,
) -> Result<(), TrainerError> {
    std::fs::create_dir_all(dir).map_err(TrainerError::io(dir))?;
    let architecture = config.family().hf_architecture();
    write_json(&dir.join("config.json"), &config.to_hf_json(architecture))?;
    save_model(model, dir.join("model.safetensors"))
}

/// Tokenizer files copied beside an exported model when the source has them.
const TOKENIZER_FILES: [&str; 4] = [
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.txt",
    "special_tokens_map.json",
];

/// Copies the tokenizer files that `src` has into `dst`.
pub(crate) fn copy_tokenizer_files(src: &Path, dst: &Path) -> Result<(), TrainerError> {
    for f in TOKENIZER_FILES {
        let from = src.join(f);
        if from.exists() {
            std::fs::copy(&from, dst.join(f)).map_err(TrainerError::io(&from))?;
        }
    }
    Ok(())
}

/// Builds a folder beside `dir` with `fill`, then replaces `dir` with it by a rename, so a
/// crash never leaves half a model at `dir`. The new folder carries retune's marker; an
/// existing `dir` is replaced only when [`crate::output::check_replaceable`] allows it (checked
/// before the work and again before the swap).
pub(crate) fn replace_dir(
    dir: &Path,
    fill: impl FnOnce(&Path) -> Result<(), TrainerError>,
) -> Result<(), TrainerError> {
    let parent = dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(TrainerError::io(parent))?;
    let name = dir
        .file_name()
        .map_or_else(|| "model".into(), |n| n.to_string_lossy().into_owned());
    let tmp = parent.join(format!(".{name}.{}.partial", std::process::id()));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(TrainerError::io(&tmp))?;
    }
    crate::output::check_replaceable(dir)?;
    std::fs::create_dir_all(&tmp).map_err(TrainerError::io(&tmp))?;
    fill(&tmp)?;
    crate::output::mark(&tmp)?;
    crate::output::check_replaceable(dir)?;
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(TrainerError::io(dir))?;
    }
    std::fs::rename(&tmp, dir).map_err(TrainerError::io(dir))
}

/// Saves an encoder as a sentence-transformers model folder (weights, config, tokenizer files,
/// modules, pooling, README model card), replacing `dir` atomically: it is written beside it and
/// renamed into place.
pub fn save_sentence_transformer<B: Backend>(
    encoder: &SentenceEncoder<B>,
    dir: &Path,
    model_card: &str,
) -> Result<(), TrainerError> {
    replace_dir(dir, |tmp| {
        write_transformer(tmp, &encoder.model_config, &encoder.model)?;
        copy_tokenizer_files(encoder.source.dir(), tmp)?;
        write_st_files(tmp, &encoder.st_config, encoder.model_config.hidden_size())?;
        std::fs::write(tmp.join("README.md"), model_card)
            .map_err(TrainerError::io(tmp.join("README.md")))
    })
}
