//! Writing a model folder in the Hugging Face + sentence-transformers layout, which
//! `SentenceTransformer(path)` and `AutoModel.from_pretrained(path)` load unchanged:
//! `config.json`, `model.safetensors`, the tokenizer files, `modules.json`, `1_Pooling/`,
//! `sentence_bert_config.json` and `config_sentence_transformers.json`.

use crate::bert::{BertConfig, BertModel};
use crate::error::TrainerError;
use crate::st_config::SentenceTransformerConfig;
use crate::weights::save_bert;
use burn::tensor::backend::Backend;
use std::path::Path;

fn write_json(path: &Path, value: &serde_json::Value) -> Result<(), TrainerError> {
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

/// Writes `config.json` and `model.safetensors` of a BERT model.
pub fn write_transformer(
    dir: &Path,
    config: &BertConfig,
    model: &BertModel<impl Backend>,
) -> Result<(), TrainerError> {
    std::fs::create_dir_all(dir).map_err(TrainerError::io(dir))?;
    write_json(&dir.join("config.json"), &config.to_hf_json())?;
    save_bert(model, dir.join("model.safetensors"))
}
