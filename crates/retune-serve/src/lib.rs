//! retune-serve: a fine-tuned embedder and re-ranker behind the HTTP APIs clients already
//! speak: OpenAI's `/v1/embeddings` and text-embeddings-inference's `/embed`, `/rerank`, `/`,
//! `/similarity`, `/tokenize`, `/info`, `/health` and `/metrics`.
//!
//! - [`queue`]: the batching queue (token-bounded batches, one at a time on the engine),
//!   usable from Rust without HTTP.
//! - [`models`]: [`Embedding`] and [`Reranking`], a tokenizer and a queue around each model.
//! - [`http`]: the routes, limits, key check, timing headers, request log and graceful
//!   shutdown.
//! - [`metrics`]: Prometheus counters and histograms.

pub mod error;
pub mod http;
pub mod metrics;
pub mod models;
pub mod queue;

pub use error::ServeError;
pub use http::{ServeConfig, Server};
pub use models::{EmbedOptions, Embedded, Embedding, ModelInfo, Reranking, Scored, Timing};
pub use queue::{Answer, BatchModel, BatchObserver, Queue, QueueConfig};
