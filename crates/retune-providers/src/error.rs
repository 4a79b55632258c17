//! The crate's one error type: what the remote said (status and message), what the transport
//! did, what local validation found, and what a wait gave up on.

use std::path::PathBuf;
use std::time::Duration;

/// Errors from the hosted APIs and their local checks.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProviderError {
    /// The server answered with an error status.
    #[error("{method} {url}: HTTP {status}: {message}")]
    Api {
        /// HTTP method.
        method: String,
        /// The URL (never holds a key).
        url: String,
        /// HTTP status code.
        status: u16,
        /// The provider's message (or the start of the raw body when it sent none).
        message: String,
        /// The provider's error id, type or code, when it sent one.
        code: Option<String>,
    },
    /// The request did not complete (connect, timeout, reset).
    #[error("{method} {url}: {detail}")]
    Transport {
        /// HTTP method.
        method: String,
        /// The URL.
        url: String,
        /// What failed (reqwest's description, without the key).
        detail: String,
        /// Whether it was a timeout.
        timeout: bool,
    },
    /// Every attempt failed with a retryable error.
    #[error("gave up after {attempts} attempts in {elapsed:?}: {last}")]
    RetriesExhausted {
        /// Attempts made.
        attempts: u32,
        /// Time spent.
        elapsed: Duration,
        /// The last failure.
        last: Box<ProviderError>,
    },
    /// A 2xx body that does not have the documented shape.
    #[error("{url}: unexpected response body at `{field}`: {problem}")]
    Decode {
        /// The URL.
        url: String,
        /// serde's path to the field at fault.
        field: String,
        /// What is wrong.
        problem: String,
    },
    /// A remote job ended in a failure state.
    #[error("{what} {id} ended in {status}{}", detail.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    JobFailed {
        /// Dataset or fine-tuned model.
        what: &'static str,
        /// Its id.
        id: String,
        /// The final status.
        status: String,
        /// The provider's explanation (`validation_error`), when given.
        detail: Option<String>,
    },
    /// A wait ran past its timeout.
    #[error("{what} {id} still {status} after {waited:?}")]
    WaitTimedOut {
        /// Dataset or fine-tuned model.
        what: &'static str,
        /// Its id.
        id: String,
        /// The last status seen.
        status: String,
        /// How long it waited.
        waited: Duration,
    },
    /// Local validation found violations (each names its line).
    #[error("{path}: {} violation(s) of the provider's rules:\n{}", violations.len(), violations.iter().map(|v| v.to_string()).collect::<Vec<_>>().join("\n"))]
    Invalid {
        /// The file checked.
        path: PathBuf,
        /// Every violation found.
        violations: Vec<crate::cohere::Violation>,
    },
    /// A bad setting.
    #[error("{field}: {problem}")]
    Config {
        /// The setting.
        field: String,
        /// What is wrong.
        problem: String,
    },
    /// A local file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The answer was well-formed but inconsistent with the request.
    #[error("{url}: {problem}")]
    Inconsistent {
        /// The URL.
        url: String,
        /// What does not match.
        problem: String,
    },
}

impl ProviderError {
    /// Whether a retry may succeed: 408, 409, 429, 5xx, timeouts and connection errors.
    pub fn is_retryable(&self) -> bool {
        match self {
            ProviderError::Api { status, code, .. } => {
                matches!(status, 408 | 409 | 429 | 500..=599)
                    && code.as_deref() != Some("insufficient_quota")
            }
            ProviderError::Transport { .. } => true,
            _ => false,
        }
    }

    /// The HTTP status, when the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            ProviderError::Api { status, .. } => Some(*status),
            ProviderError::RetriesExhausted { last, .. } => last.status(),
            _ => None,
        }
    }
}
