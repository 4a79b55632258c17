//! The HTTP layer every client here shares: one blocking reqwest client with timeouts, bearer
//! auth from an [`ApiKey`], JSON and multipart bodies rebuilt for each attempt, the retry loop of
//! [`RetryPolicy`], and error bodies of both dialects (Cohere's `{"message"}` and OpenAI's
//! `{"error": {"message", "type", "code"}}`, with `code` a string or, as llama.cpp sends it, a
//! number) turned into [`ProviderError::Api`].

use crate::error::ProviderError;
use crate::retry::{Failure, RetryPolicy, parse_retry_after};
use crate::secret::ApiKey;
use serde::de::DeserializeOwned;
use std::time::Duration;

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Base URL without a trailing slash, e.g. `https://api.cohere.com`.
    pub base_url: String,
    /// Bearer key (absent for local servers that need none).
    pub api_key: Option<ApiKey>,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// Whole-request timeout (a hung server fails the attempt after this).
    pub request_timeout: Duration,
    /// Retries.
    pub retry: RetryPolicy,
}

impl HttpConfig {
    /// Defaults: 10 s to connect, 120 s per request, [`RetryPolicy::default`].
    pub fn new(base_url: impl Into<String>, api_key: Option<ApiKey>) -> Self {
        Self {
            base_url: base_url.into().trim_end_matches('/').to_string(),
            api_key,
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(120),
            retry: RetryPolicy::default(),
        }
    }
}

/// A file part of a multipart body, kept in memory so that a retry can send it again.
#[derive(Debug, Clone)]
pub(crate) struct FilePart {
    pub field: &'static str,
    pub file_name: String,
    pub bytes: Vec<u8>,
}

/// A request body.
pub(crate) enum Body<'a> {
    None,
    Json(&'a serde_json::Value),
    Multipart(&'a [FilePart]),
}

/// The shared client.
#[derive(Debug, Clone)]
pub(crate) struct Http {
    client: reqwest::blocking::Client,
    config: HttpConfig,
}

impl Http {
    pub fn new(config: HttpConfig) -> Result<Self, ProviderError> {
        if !(config.base_url.starts_with("http://") || config.base_url.starts_with("https://")) {
            return Err(ProviderError::Config {
                field: "base url".into(),
                problem: format!("`{}` is not an http(s) URL", config.base_url),
            });
        }
        let client = reqwest::blocking::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .user_agent(concat!("retune/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ProviderError::Config {
                field: "http client".into(),
                problem: e.to_string(),
            })?;
        Ok(Self { client, config })
    }

    pub fn config(&self) -> &HttpConfig {
        &self.config
    }

    /// Sends a request with retries and decodes a 2xx JSON body into `T`.
    pub fn json<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, String)],
        body: Body<'_>,
    ) -> Result<T, ProviderError> {
        let url = format!("{}{}", self.config.base_url, path);
        let text = self
            .config
            .retry
            .run(|| self.attempt(&method, &url, query, &body))?;
        decode(&url, &text)
    }

    fn attempt(
        &self,
        method: &reqwest::Method,
        url: &str,
        query: &[(&str, String)],
        body: &Body<'_>,
    ) -> Result<String, Failure> {
        let mut req = self.client.request(method.clone(), url).query(query);
        if let Some(key) = &self.config.api_key {
            req = req.bearer_auth(key.expose());
        }
        req = match body {
            Body::None => req,
            Body::Json(v) => req.json(v),
            Body::Multipart(parts) => {
                let mut form = reqwest::blocking::multipart::Form::new();
                for p in parts.iter() {
                    let part = reqwest::blocking::multipart::Part::bytes(p.bytes.clone())
                        .file_name(p.file_name.clone())
                        .mime_str("application/jsonl")
                        .expect("static mime type parses");
                    form = form.part(p.field, part);
                }
                req.multipart(form)
            }
        };
        let transport = |e: reqwest::Error| Failure {
            error: ProviderError::Transport {
                method: method.to_string(),
                url: url.to_string(),
                timeout: e.is_timeout(),
                detail: describe(&e),
            },
            retry_after: None,
        };
        let resp = req.send().map_err(transport)?;
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        // Servers echo keys (in error messages, in generated text): scrub every body here,
        // before any part of it can reach an error, a log or a file.
        let text = crate::secret::scrub(
            &resp.text().map_err(transport)?,
            self.config.api_key.as_ref(),
        );
        if status.is_success() {
            return Ok(text);
        }
        let (message, code) = error_message(&text);
        Err(Failure {
            error: ProviderError::Api {
                method: method.to_string(),
                url: url.to_string(),
                status: status.as_u16(),
                message,
                code,
            },
            retry_after,
        })
    }
}

/// reqwest's error chain as one line (it never holds headers, so never the key).
fn describe(e: &reqwest::Error) -> String {
    let mut s = if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        "could not connect".to_string()
    } else {
        "request failed".to_string()
    };
    let mut src = std::error::Error::source(e);
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

/// Decodes a body, naming the field at fault.
pub(crate) fn decode<T: DeserializeOwned>(url: &str, text: &str) -> Result<T, ProviderError> {
    let de = &mut serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| ProviderError::Decode {
        url: url.to_string(),
        field: e.path().to_string(),
        problem: e.inner().to_string(),
    })
}

/// The message and code of an error body in either dialect, else the start of the raw body.
pub(crate) fn error_message(body: &str) -> (String, Option<String>) {
    let code_of = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(body) {
        if let Some(err) = v.get("error") {
            if let Some(msg) = err.get("message").and_then(|m| m.as_str()) {
                let code = err
                    .get("code")
                    .and_then(code_of)
                    .or_else(|| err.get("type").and_then(code_of));
                return (msg.to_string(), code);
            }
            if let Some(msg) = err.as_str() {
                return (msg.to_string(), None);
            }
        }
        if let Some(msg) = v.get("message").and_then(|m| m.as_str()) {
            return (msg.to_string(), v.get("id").and_then(code_of));
        }
    }
    let trimmed: String = body.trim().chars().take(300).collect();
    if trimmed.is_empty() {
        ("(empty body)".into(), None)
    } else {
        (trimmed, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_of_both_dialects() {
        let (m, c) = error_message(r#"{"id":"abc","message":"invalid request: query is empty"}"#);
        assert_eq!(m, "invalid request: query is empty");
        assert_eq!(c.as_deref(), Some("abc"));
        let (m, c) = error_message(
            r#"{"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#,
        );
        assert_eq!(m, "Rate limit reached");
        assert_eq!(c.as_deref(), Some("rate_limit_exceeded"));
        // llama.cpp sends an integer code
        let (m, c) = error_message(
            r#"{"error":{"code":400,"message":"bad","type":"invalid_request_error"}}"#,
        );
        assert_eq!((m.as_str(), c.as_deref()), ("bad", Some("400")));
        let (m, c) = error_message("<html>Bad Gateway</html>");
        assert_eq!((m.as_str(), c), ("<html>Bad Gateway</html>", None));
        assert_eq!(error_message("").0, "(empty body)");
    }

    #[test]
    fn decode_names_the_field() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct R {
            results: Vec<Item>,
        }
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Item {
            index: usize,
        }
        let e = decode::<R>("u", r#"{"results":[{"index":1},{"index":"x"}]}"#).unwrap_err();
        assert!(e.to_string().contains("results[1].index"), "{e}");
    }

    #[test]
    fn base_url_must_be_http() {
        assert!(Http::new(HttpConfig::new("ftp://x", None)).is_err());
        let h = Http::new(HttpConfig::new("http://127.0.0.1:1/", None)).unwrap();
        assert_eq!(h.config().base_url, "http://127.0.0.1:1");
    }
}
