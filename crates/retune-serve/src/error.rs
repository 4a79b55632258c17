//! Everything that goes wrong while serving, with the HTTP status and the `error_type`
//! text-embeddings-inference gives it, so clients written for TEI read our errors unchanged.

use retune_trainer::TrainerError;

/// An error of the server or its batching queue.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The request holds no input (400, `Empty`).
    #[error("{message}")]
    Empty {
        /// What is empty.
        message: String,
    },
    /// A request that breaks a rule: malformed JSON, a wrong type, too many inputs (422,
    /// `Validation`).
    #[error("{message}")]
    Validation {
        /// The field and what is wrong with it.
        message: String,
    },
    /// An input longer than the model takes with truncation off, or a body over the
    /// payload limit (413, `Validation`).
    #[error("{message}")]
    TooLarge {
        /// The limit and what exceeded it.
        message: String,
    },
    /// The tokenizer refused an input (422, `Tokenizer`).
    #[error("tokenizer: {message}")]
    Tokenizer {
        /// The tokenizer's message.
        message: String,
    },
    /// `--max-concurrent-requests` requests are already in flight (429, `Overloaded`).
    #[error("model is overloaded: {limit} requests are already in flight")]
    Overloaded {
        /// The limit.
        limit: usize,
    },
    /// The model failed on a batch (424, `Backend`).
    #[error("inference failed: {message}")]
    Backend {
        /// The engine's message.
        message: String,
    },
    /// The queue's worker has stopped, or the model has not answered yet (503, `Unhealthy`).
    #[error("the model is not serving: {reason}")]
    Unhealthy {
        /// Why.
        reason: String,
    },
    /// A key is configured and the request's `Authorization: Bearer` is missing or wrong (401).
    #[error("missing or wrong API key (send `Authorization: Bearer KEY`)")]
    Unauthorized,
    /// No such route (404).
    #[error("no route for {method} {path}")]
    NotFound {
        /// The request's method.
        method: String,
        /// The request's path.
        path: String,
    },
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The server's accept loop failed.
    #[error("serving failed: {source}")]
    Io {
        /// The operating system's error.
        source: std::io::Error,
    },
    /// Loading or running the model failed.
    #[error(transparent)]
    Model(#[from] TrainerError),
}

impl ServeError {
    /// The HTTP status text-embeddings-inference answers this error with.
    pub fn status(&self) -> u16 {
        match self {
            ServeError::Empty { .. } => 400,
            ServeError::Unauthorized => 401,
            ServeError::NotFound { .. } => 404,
            ServeError::TooLarge { .. } => 413,
            ServeError::Validation { .. } | ServeError::Tokenizer { .. } => 422,
            ServeError::Backend { .. } | ServeError::Model(_) => 424,
            ServeError::Overloaded { .. } => 429,
            ServeError::Unhealthy { .. } => 503,
            ServeError::Bind { .. } | ServeError::Io { .. } => 500,
        }
    }

    /// TEI's `error_type` for this error.
    pub fn error_type(&self) -> &'static str {
        match self {
            ServeError::Empty { .. } => "Empty",
            ServeError::Validation { .. } | ServeError::TooLarge { .. } => "Validation",
            ServeError::Tokenizer { .. } => "Tokenizer",
            ServeError::Overloaded { .. } => "Overloaded",
            ServeError::Backend { .. } | ServeError::Model(_) => "Backend",
            ServeError::Unhealthy { .. } => "Unhealthy",
            ServeError::Unauthorized => "Unauthorized",
            ServeError::NotFound { .. } => "NotFound",
            ServeError::Bind { .. } | ServeError::Io { .. } => "Internal",
        }
    }

    /// A 422 naming the field at fault.
    pub fn validation(message: impl Into<String>) -> Self {
        ServeError::Validation {
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_text_embeddings_inference() {
        let cases = [
            (
                ServeError::Empty {
                    message: "x".into(),
                },
                400,
                "Empty",
            ),
            (ServeError::validation("x"), 422, "Validation"),
            (
                ServeError::TooLarge {
                    message: "x".into(),
                },
                413,
                "Validation",
            ),
            (ServeError::Overloaded { limit: 1 }, 429, "Overloaded"),
            (
                ServeError::Backend {
                    message: "x".into(),
                },
                424,
                "Backend",
            ),
            (
                ServeError::Unhealthy { reason: "x".into() },
                503,
                "Unhealthy",
            ),
            (ServeError::Unauthorized, 401, "Unauthorized"),
        ];
        for (e, status, kind) in cases {
            assert_eq!((e.status(), e.error_type()), (status, kind), "{e}");
        }
    }
}
