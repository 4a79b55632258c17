//! Negative mining for retrieval training: exact top-k search over normalized embeddings and
//! the strategies that pick negatives from it (random, hard, semi-hard, rank windows), with
//! sentence-transformers' false-negative filters. It depends on retune-data for its record
//! types and knows nothing of models: callers pass embeddings in, or any
//! [`retune_data::Embedder`] to [`mine_pairs`].
//!
//! ```
//! use retune_mining::{MiningConfig, Strategy, mine_negatives};
//!
//! // One query, four documents; document 0 is the positive.
//! let q = vec![vec![1.0, 0.0]];
//! let docs = vec![vec![1.0, 0.0], vec![0.9, 0.436], vec![0.0, 1.0], vec![0.6, 0.8]];
//! let texts = ["Travel", "Meals", "Software", "Office"];
//! let config = MiningConfig::new(Strategy::Hard, 2);
//! let mined = mine_negatives(&q, &docs, &texts, &[vec![0]], &config);
//! assert_eq!(mined[0].negatives, vec![1, 3]);
//! ```
#![warn(missing_docs)]

mod error;
mod miner;
mod pairs;
mod search;

pub use error::MiningError;
pub use pairs::mine_pairs;

pub use miner::{Mined, MiningConfig, Sampling, Strategy, mine_negatives, normalize_text};
pub use search::{
    Hit, Kernel, SCREEN_MIN_SCORES, exact_top_k, exact_top_k_flat, exact_top_k_flat_with,
};
