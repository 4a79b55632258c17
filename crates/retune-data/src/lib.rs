//! Data formats of retune and their I/O.
//!
//! This crate owns the records that flow between the steps (transactions, course-format
//! train/eval items, pairs, triplets, n-tuples, Cohere re-ranker items, categories and corpora),
//! rendering a transaction to the text a model sees, streaming JSONL reading with errors that
//! name the file, line and field, crash-safe JSONL writing, and Parquet for datasets and
//! embeddings. It knows nothing of models or metrics.
//!
//! ```
//! use retune_data::Transaction;
//!
//! let t = Transaction {
//!     merchant_name: "CloudFlare Inc.".into(),
//!     merchant_category: vec!["Internet & Network Services".into(), "SaaS".into()],
//!     department: "IT Operations".into(),
//!     location: "New York, NY".into(),
//!     amount: 2000.0,
//!     spend_program_name: "Annual Cloud Services Budget".into(),
//!     trip_name: None,
//!     expense_category: "Internet & Network Services".into(),
//! };
//! assert!(t.render().contains("\nAmount: 2000.0\n"));
//! assert!(t.render().ends_with("Trip Name: unknown\n"));
//! ```
#![warn(missing_docs)]

mod atomic;
mod augment;
mod contract;
mod corpus;
mod error;
pub mod generate;
mod items;
mod jsonl;
mod llm;
mod parquet_io;
pub mod paths;
mod pyfloat;
pub mod review;
mod split;
mod transaction;

pub use augment::FieldDropout;
pub use contract::{Embedder, Reranker};
pub use corpus::{
    Category, CorpusDoc, DocText, category_docs, load_categories, load_corpus, load_corpus_as,
    read_labeled_queries, sample_queries,
};
pub use error::DataError;
pub use items::{CohereRerankItem, EvalItem, LabeledPair, NTuple, Pair, TrainRecord, Triplet};
pub use jsonl::{BadLine, JsonlAppender, JsonlReader, ReadMode, read_jsonl, write_jsonl_atomic};
pub use llm::{ChatMessage, ChatReply, ChatRequest, Llm, Role};
pub use parquet_io::{
    EmbeddingParquetWriter, EmbeddingRow, read_embeddings_parquet, read_records_parquet,
    write_embeddings_parquet, write_records_parquet,
};
pub use pyfloat::python_float_repr;
pub use split::{
    Leak, SplitConfig, Splits, duplicate_key, find_leaks, read_labeled_inputs, split_items,
};
pub use transaction::Transaction;
