//! ModernBERT in Burn, in transformers' `ModernBertModel` layout: token embeddings with a
//! LayerNorm, pre-norm layers with rotary positions (a global and a local theta), GeGLU
//! feed-forward blocks, a global attention layer every few layers and a sliding window in the
//! others, then a final norm; no biases unless the config asks for them.
//!
//! It runs on the Burn engine (autodiff for training; any backend, CUDA included); the fused CPU
//! engine runs the BERT-shaped families only.

mod config;
mod layer;
mod model;

pub use config::ModernBertConfig;
pub use layer::ModernBertLayer;
pub use model::{ModernBertModel, PredictionHead};
