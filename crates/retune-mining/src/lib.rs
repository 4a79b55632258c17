//! Negative mining for retrieval training: exact top-k search over normalized embeddings and
//! the strategies that pick negatives from it. It depends on retune-data for its record types
//! and knows nothing of models: callers pass embeddings in.
#![warn(missing_docs)]

mod search;

pub use search::{Hit, exact_top_k};
