//! An embedding cache: one Parquet file per model (text + embedding columns) under a cache
//! folder, so rerunning a step, or comparing many models, embeds each text once.

use burn::tensor::backend::Backend;
use retune_data::{EmbeddingRow, read_embeddings_parquet, write_embeddings_parquet};
use retune_trainer::SentenceEncoder;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The cache file of a model: named by the SHA-256 of its id and of its weights file's size and
/// modification time, so a retrained model at the same path does not reuse stale vectors.
pub fn cache_file<B: Backend>(dir: &Path, encoder: &SentenceEncoder<B>) -> PathBuf {
    let weights = encoder.source.dir().join("model.safetensors");
    let stamp = std::fs::metadata(&weights)
        .map(|m| format!("{}:{:?}", m.len(), m.modified().ok()))
        .unwrap_or_default();
    let mut h = Sha256::new();
    h.update(retune_data::Embedder::model_id(encoder).as_bytes());
    h.update(stamp.as_bytes());
    let hex: String = h
        .finalize()
        .iter()
        .take(12)
        .map(|b| format!("{b:02x}"))
        .collect();
    dir.join(format!("{hex}.parquet"))
}

/// Embeddings of `texts` in order, from the cache where present; new ones are embedded (with
/// a progress bar) and the cache file rewritten atomically. Returns (embeddings, how many were new).
pub fn embed_cached<B: Backend>(
    encoder: &SentenceEncoder<B>,
    texts: &[&str],
    dir: Option<&Path>,
) -> anyhow::Result<(Vec<Vec<f32>>, usize)> {
    let Some(dir) = dir else {
        return Ok((encoder.encode(texts)?, texts.len()));
    };
    std::fs::create_dir_all(dir)?;
    let file = cache_file(dir, encoder);
    let mut rows = if file.exists() {
        read_embeddings_parquet(&file)?
    } else {
        Vec::new()
    };
    let known: HashMap<&str, usize> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| (r.text.as_str(), i))
        .collect();
    let mut missing: Vec<&str> = texts
        .iter()
        .copied()
        .filter(|t| !known.contains_key(t))
        .collect();
    missing.sort_unstable();
    missing.dedup();
    drop(known);
    if !missing.is_empty() {
        let new = encoder.encode(&missing)?;
        rows.extend(missing.iter().zip(new).map(|(t, e)| EmbeddingRow {
            text: (*t).to_owned(),
            embedding: e,
        }));
        write_embeddings_parquet(&file, &rows)?;
    }
    let index: HashMap<&str, usize> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| (r.text.as_str(), i))
        .collect();
    let out = texts
        .iter()
        .map(|t| rows[index[t]].embedding.clone())
        .collect();
    Ok((out, missing.len()))
}
