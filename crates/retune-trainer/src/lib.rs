//! The local models of retune, in Burn: BERT-shaped encoders (BERT, MPNet, XLM-RoBERTa; see
//! [`arch`]), ModernBERT ([`modernbert`]) and Qwen3 ([`qwen3`]), behind one contract
//! ([`Transformer`]), that load Hugging Face checkpoints and embed exactly as sentence-transformers does,
//! tokenization, pooling, the fused CPU engine, and the losses, samplers, optimizer schedule and
//! training loop that fine-tune them, with the cross-encoder re-ranker ([`cross`]).
//!
//! Everything is generic over a Burn `Backend`; the crate's features only make the CPU (`flex`,
//! `ndarray`) and `cuda` backends available, and [`backend`] names them for binaries. The crate
//! does not know about hosted APIs or data generation.
//!
//! ```no_run
//! use retune_data::Embedder;
//! use retune_trainer::{EncoderConfig, SentenceEncoder, backend::{Cpu, cpu_device}};
//!
//! let encoder = SentenceEncoder::<Cpu>::load(&EncoderConfig::new("sentence-transformers/all-MiniLM-L6-v2"), &cpu_device())?;
//! let vectors = encoder.embed(&["Uber ride to the airport", "Travel: Ground Transport"])?;
//! assert_eq!(vectors[0].len(), 384);
//! # Ok::<(), retune_trainer::TrainerError>(())
//! ```
#![warn(missing_docs)]

pub mod arch;
pub mod backend;
pub mod bert;
pub mod cross;
mod encoder;
mod engine;
mod error;
pub mod export;
#[cfg(any(test, feature = "fixtures"))]
pub mod fixture;
pub mod fused;
mod host;
#[cfg(feature = "hub")]
pub mod hub;
pub mod loss;
pub mod modernbert;
pub mod output;
mod pooling;
pub mod qwen3;
mod raw_config;
mod resolve;
mod rope;
mod st_config;
mod tokenize;
pub mod train;
mod transformer;
mod weights;

pub use arch::Family;
pub use encoder::{EncoderConfig, SentenceEncoder};
pub use engine::Engine;
pub use error::TrainerError;
pub use pooling::Pooling;
#[cfg(feature = "hub")]
pub use resolve::resolve_model_with;
pub use resolve::{ModelSource, full_hub_id, hf_cache_dir, resolve_model, resolve_model_in};
pub use st_config::SentenceTransformerConfig;
pub use tokenize::{Batch, TextTokenizer, Tokens};
pub use transformer::{Transformer, TransformerConfig};
pub use weights::{LoadReport, ParamTable, Slot, load_model, save_model};
