//! Hosted model APIs behind retune's contracts: Cohere (datasets, re-ranker fine-tuning,
//! rerank, embed) and OpenAI-compatible servers (chat with structured output, embeddings),
//! implementing the [`Embedder`], [`Reranker`] and [`Llm`] traits that the local models and
//! the generation step use.
//!
//! Every client here is blocking (reqwest's blocking client): the contracts are synchronous,
//! the callers are batch jobs, and concurrency, where wanted, is a bounded pool of threads.
//! One retry loop ([`RetryPolicy`]) governs every request: 408, 409, 429, 5xx and connection
//! errors are retried with the server's `Retry-After` or exponential backoff with jitter,
//! within a total time budget. Keys are [`ApiKey`]s, redacted in `Debug` and `Display`.
//!
//! With the `local` feature the local Burn models are re-exported here
//! ([`local::SentenceEncoder`], [`local::CrossEncoder`]), so that a service can hold hosted and
//! local models behind the same traits with one dependency.
#![warn(missing_docs)]

pub mod cohere;
mod error;
mod http;
#[cfg(feature = "mock")]
pub mod mock;
pub mod openai;
mod retry;
mod secret;
mod vectors;

pub use error::ProviderError;
pub use http::HttpConfig;
pub use retry::{RetryEvent, RetryHook, RetryPolicy};
pub use retune_data::{Embedder, Llm, Reranker};
pub use secret::ApiKey;

/// The local Burn models behind the same contracts.
#[cfg(feature = "local")]
pub mod local {
    pub use retune_trainer::SentenceEncoder;
    pub use retune_trainer::cross::CrossEncoder;
}
