//! Cohere: datasets, re-ranker fine-tuning, rerank and embed, local validation of fine-tuning
//! data, and the course's way of building that data.
//!
//! Cohere deprecated managed fine-tuning on 2025-09-15; the endpoints remain in its API spec
//! and are implemented here to the letter, but retune's local cross-encoder
//! (`retune_trainer::cross`) is the maintained path.

mod client;
mod dataset;
mod embedder;
mod reranker;
mod types;
mod validate;

pub use client::{COHERE_BASE_URL, CohereClient, InputType, PollConfig};
pub use dataset::{NegativeSource, build_rerank_items};
pub use embedder::CohereEmbedder;
pub use reranker::CohereReranker;
pub use types::{
    BaseModel, BaseType, Dataset, Event, FinetuneStatus, FinetunedModel, Hyperparameters,
    RerankResult, Settings, StepMetrics, ValidationStatus,
};
pub use validate::{
    CohereRules, Violation, estimated_tokens, validate_rerank_file, validate_rerank_items,
};
