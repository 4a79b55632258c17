//! Qwen3 in Burn, in transformers' `Qwen3Model` layout, used as an encoder the way
//! Qwen3-Embedding is: a causal decoder (RMSNorm, rotary positions, grouped-query attention
//! with per-head query and key norms, SwiGLU) whose last token's state, normalized, is the
//! embedding (`Pooling::LastToken`). It runs on the Burn engine.

mod config;
mod model;

pub use config::Qwen3Config;
pub use model::{Qwen3Layer, Qwen3Model};
