//! The Hugging Face Hub through `hf-hub` 1.0 (feature `hub`): downloading a model that is not
//! in the local cache into it (the standard layout, so Python tools share it), and publishing an
//! exported model folder (`upload_folder`, one commit).
//!
//! [`HubConfig::from_env`] reads what the Python tools read: `HF_ENDPOINT`, `HF_TOKEN`,
//! `HF_HUB_OFFLINE`, and the cache of [`crate::hf_cache_dir`]. Before any request the endpoint's
//! host is probed with a TCP connect bounded by [`HubConfig::connect_timeout`], so a machine
//! without a route to the Hub gets an error naming the model and the cache in seconds, never a
//! hang. The token goes only into the `Authorization` header: `Debug` shows `<redacted>`, and
//! every message that comes back from the Hub is scrubbed of it before it reaches an error.

use crate::error::TrainerError;
use hf_hub::{HFClientBuilder, HFClientSync, HFError, RepoTypeModel};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How to reach the Hub.
#[derive(Clone)]
pub struct HubConfig {
    /// Base URL (`https://huggingface.co`, or a mirror).
    pub endpoint: String,
    token: Option<String>,
    /// The cache that downloads go into.
    pub cache: PathBuf,
    /// Never touch the network (`HF_HUB_OFFLINE=1`).
    pub offline: bool,
    /// Attempts per request (transient faults are retried with exponential backoff).
    pub attempts: usize,
    /// Bound on reaching the endpoint's host before anything is sent.
    pub connect_timeout: Duration,
}

impl std::fmt::Debug for HubConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubConfig")
            .field("endpoint", &self.endpoint)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("cache", &self.cache)
            .field("offline", &self.offline)
            .field("attempts", &self.attempts)
            .field("connect_timeout", &self.connect_timeout)
            .finish()
    }
}

/// Files of a sentence-transformers model repository that loading uses, and whether each must
/// exist (a plain transformers BERT has no sentence-transformers files; defaults apply then).
const MODEL_FILES: &[(&str, bool)] = &[
    ("config.json", true),
    ("model.safetensors", true),
    ("tokenizer.json", true),
    ("modules.json", false),
    ("sentence_bert_config.json", false),
    ("config_sentence_transformers.json", false),
    ("1_Pooling/config.json", false),
    ("tokenizer_config.json", false),
    ("special_tokens_map.json", false),
    ("vocab.txt", false),
    ("README.md", false),
];

fn env_flag(name: &str) -> bool {
    std::env::var(name)
        .map(|v| {
            matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "1" | "true" | "yes" | "on"
            )
        })
        .unwrap_or(false)
}

impl HubConfig {
    /// The public Hub, no token, the environment's cache, online.
    pub fn new(endpoint: impl Into<String>) -> Self {
        Self {
            endpoint: endpoint.into().trim_end_matches('/').to_owned(),
            token: None,
            cache: crate::hf_cache_dir(),
            offline: false,
            attempts: 3,
            connect_timeout: Duration::from_secs(5),
        }
    }

    /// `HF_ENDPOINT` (default `https://huggingface.co`), `HF_TOKEN`, `HF_HUB_OFFLINE` and the
    /// environment's cache.
    pub fn from_env() -> Self {
        let endpoint = std::env::var("HF_ENDPOINT")
            .ok()
            .filter(|e| !e.trim().is_empty())
            .unwrap_or_else(|| "https://huggingface.co".into());
        let mut c = Self::new(endpoint);
        c.token = std::env::var("HF_TOKEN").ok().filter(|t| !t.is_empty());
        c.offline = env_flag("HF_HUB_OFFLINE");
        c
    }

    /// Uses this token (publishing needs one with write access).
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Uses this cache folder.
    pub fn with_cache(mut self, cache: impl Into<PathBuf>) -> Self {
        self.cache = cache.into();
        self
    }

    /// Whether a token is set.
    pub fn has_token(&self) -> bool {
        self.token.is_some()
    }

    /// Removes the token from a message that came back from the Hub or the HTTP stack.
    fn scrub(&self, message: String) -> String {
        match &self.token {
            Some(t) if !t.is_empty() => message.replace(t.as_str(), "<redacted>"),
            _ => message,
        }
    }

    fn error(&self, id: &str, action: &str, e: impl std::fmt::Display) -> TrainerError {
        TrainerError::Hub {
            id: id.to_owned(),
            endpoint: self.endpoint.clone(),
            action: action.to_owned(),
            message: self.scrub(e.to_string()),
        }
    }

    /// Connects to the endpoint's host and port within `connect_timeout`.
    fn probe(&self) -> Result<(), String> {
        let url = url_parts(&self.endpoint).ok_or_else(|| "not an http(s) URL".to_owned())?;
        let addrs: Vec<_> = url
            .to_socket_addrs()
            .map_err(|e| format!("cannot resolve {url}: {e}"))?
            .collect();
        let mut last = format!("{url} has no address");
        for addr in addrs {
            match TcpStream::connect_timeout(&addr, self.connect_timeout) {
                Ok(_) => return Ok(()),
                Err(e) => last = format!("cannot connect to {url} ({addr}): {e}"),
            }
        }
        Err(last)
    }

    fn client(&self) -> Result<HFClientSync, HFError> {
        let mut b = HFClientBuilder::new()
            .endpoint(self.endpoint.clone())
            .cache_dir(self.cache.clone())
            .retry_max_attempts(self.attempts.max(1))
            .retry_base_delay(Duration::from_millis(500))
            .user_agent(format!("retune/{}", env!("CARGO_PKG_VERSION")));
        if let Some(t) = &self.token {
            b = b.token(t.clone());
        }
        b.build_sync()
    }
}

/// `host:port` of an `http(s)://host[:port][/...]` URL.
fn url_parts(endpoint: &str) -> Option<String> {
    let (scheme, rest) = endpoint.split_once("://")?;
    let default_port = match scheme {
        "https" => 443,
        "http" => 80,
        _ => return None,
    };
    let authority = rest.split('/').next().filter(|a| !a.is_empty())?;
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let has_port = authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.chars().all(|c| c.is_ascii_digit()) && !authority.ends_with(']'));
    Some(if has_port {
        authority.to_owned()
    } else {
        format!("{authority}:{default_port}")
    })
}

fn split_repo_id(id: &str) -> Result<(&str, &str), String> {
    match id.split_once('/') {
        Some((owner, name)) if !owner.is_empty() && !name.is_empty() && !name.contains('/') => {
            Ok((owner, name))
        }
        _ => Err(format!("{id:?} is not an `owner/name` repository id")),
    }
}

/// Downloads the files a model needs (config, weights, tokenizer, sentence-transformers
/// modules) of `id` at `revision` into the cache and returns the snapshot folder. Files already
/// cached are not fetched again. Every failure is [`TrainerError::ModelNotFound`] naming the id
/// and the cache, with the Hub's answer as its hint. The TCP probe bounds an unreachable host; a
/// server that accepts connections and then never answers is not bounded (hf-hub sets no
/// request timeout on its HEAD requests).
pub fn download_model(
    config: &HubConfig,
    id: &str,
    revision: &str,
) -> Result<PathBuf, TrainerError> {
    let not_found = |hint: String| TrainerError::ModelNotFound {
        id: id.to_owned(),
        cache: config.cache.clone(),
        hint,
    };
    if config.offline {
        return Err(not_found(
            "HF_HUB_OFFLINE is set, so nothing is downloaded; pass a local model directory or unset it"
                .into(),
        ));
    }
    let (owner, name) = split_repo_id(id).map_err(not_found)?;
    config.probe().map_err(|e| {
        not_found(format!(
            "downloading it failed: {e}; pass a local model directory, set HF_HOME to a cache that has it, or HF_ENDPOINT to a reachable mirror"
        ))
    })?;
    let client = config
        .client()
        .map_err(|e| config.error(id, "connect", e))?;
    let repo = client.model(owner, name);
    let mut snapshot = None;
    for (file, required) in MODEL_FILES {
        match repo
            .download_file()
            .filename(*file)
            .revision(revision.to_owned())
            .send()
        {
            Ok(path) => {
                if *file == "config.json" {
                    snapshot = path.parent().map(Path::to_path_buf);
                }
            }
            Err(HFError::EntryNotFound { .. }) if !required => {}
            Err(HFError::RepoNotFound { .. }) => {
                return Err(not_found(format!(
                    "{} has no model {id:?} (or it is private and HF_TOKEN does not grant access)",
                    config.endpoint
                )));
            }
            Err(e) => {
                return Err(not_found(format!(
                    "downloading {file} from {} failed: {}",
                    config.endpoint,
                    config.scrub(e.to_string())
                )));
            }
        }
    }
    snapshot.ok_or_else(|| not_found("the download of config.json gave no snapshot folder".into()))
}

/// What publishing needs that can be checked without the network: a token, the network
/// allowed, an `owner/name` id (returned split). [`push_folder`] checks it first; a caller
/// about to spend an hour training can check it before it starts.
pub fn check_publish<'a>(
    config: &HubConfig,
    repo_id: &'a str,
) -> Result<(&'a str, &'a str), TrainerError> {
    if config.token.is_none() {
        return Err(config.error(
            repo_id,
            "publish",
            "no token: set HF_TOKEN to a token with write access",
        ));
    }
    if config.offline {
        return Err(config.error(repo_id, "publish", "HF_HUB_OFFLINE is set"));
    }
    split_repo_id(repo_id).map_err(|e| config.error(repo_id, "publish", e))
}

/// Checks before a long run that publishing to `repo_id` can work: [`check_publish`], then the
/// token against the endpoint (`whoami`); returns the account the token belongs to. A token the
/// Hub refuses fails here, not after the training.
pub fn verify_token(config: &HubConfig, repo_id: &str) -> Result<String, TrainerError> {
    check_publish(config, repo_id)?;
    config
        .probe()
        .map_err(|e| config.error(repo_id, "check the token", e))?;
    let client = config
        .client()
        .map_err(|e| config.error(repo_id, "connect", e))?;
    let user = client
        .whoami()
        .send()
        .map_err(|e| config.error(repo_id, "check the token (whoami)", e))?;
    Ok(user.username)
}

/// Publishes the model folder `dir` as the model repository `repo_id` (created when missing,
/// private when asked) in one commit of every file under it, and returns the commit's URL.
/// Needs a token with write access ([`HubConfig::with_token`] or `HF_TOKEN`).
pub fn push_folder(
    config: &HubConfig,
    dir: &Path,
    repo_id: &str,
    private: bool,
    message: &str,
) -> Result<String, TrainerError> {
    if !dir.join("config.json").is_file() {
        return Err(TrainerError::Config {
            path: dir.to_owned(),
            field: "config.json".into(),
            problem: "not a model folder: nothing to publish".into(),
        });
    }
    let (owner, name) = check_publish(config, repo_id)?;
    config
        .probe()
        .map_err(|e| config.error(repo_id, "publish", e))?;
    let client = config
        .client()
        .map_err(|e| config.error(repo_id, "connect", e))?;
    let created = client
        .create_repository()
        .repo_id(repo_id)
        .repo_type(RepoTypeModel)
        .private(private)
        .exist_ok(true)
        .send()
        .map_err(|e| config.error(repo_id, "create the repository", e))?;
    let commit = client
        .model(owner, name)
        .upload_folder()
        .folder_path(dir.to_owned())
        .ignore_patterns(vec![crate::output::MARKER.to_owned()])
        .commit_message(message.to_owned())
        .send()
        .map_err(|e| config.error(repo_id, "upload", e))?;
    Ok(commit.commit_url.unwrap_or(created.url))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_name_host_and_port() {
        assert_eq!(
            url_parts("https://huggingface.co").unwrap(),
            "huggingface.co:443"
        );
        assert_eq!(
            url_parts("http://127.0.0.1:8080/x").unwrap(),
            "127.0.0.1:8080"
        );
        assert_eq!(
            url_parts("http://u:p@mirror.local").unwrap(),
            "mirror.local:80"
        );
        assert!(url_parts("ftp://x").is_none());
        assert!(url_parts("huggingface.co").is_none());
    }

    #[test]
    fn debug_and_errors_never_show_the_token() {
        let c = HubConfig::new("http://127.0.0.1:9").with_token("hf_secretvalue123");
        assert!(!format!("{c:?}").contains("hf_secretvalue123"));
        let e = c.error("a/b", "upload", "401: token hf_secretvalue123 rejected");
        let text = e.to_string();
        assert!(
            !text.contains("hf_secretvalue123") && text.contains("<redacted>"),
            "{text}"
        );
        assert!(!format!("{e:?}").contains("hf_secretvalue123"));
    }

    #[test]
    fn repo_ids_need_an_owner() {
        assert!(split_repo_id("org/model").is_ok());
        for bad in ["model", "/model", "org/", "a/b/c"] {
            assert!(split_repo_id(bad).is_err(), "{bad}");
        }
    }
}
