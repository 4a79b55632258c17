//! Retrieval metrics with trec_eval's definitions, TREC file formats and paired significance tests.
//!
//! This crate owns turning a ranked list of document ids plus a relevance map into numbers:
//! precision, recall, hit rate, MRR, NDCG and MAP at a cut-off and untruncated, means over
//! queries, the TREC `qrels` and `run` text formats, and paired comparisons of two systems
//! (bootstrap interval and randomization test). It knows nothing of models, embeddings or data
//! files beyond the TREC formats.
//!
//! ```
//! use retune_metrics::{Metric, Relevance, evaluate_ranking};
//!
//! let rels = Relevance::binary(["cat-a"]);
//! let ranked = ["cat-b", "cat-a", "cat-c"];
//! let values = evaluate_ranking(&ranked, &rels, &[Metric::Mrr(None), Metric::Recall(1)]);
//! assert_eq!(values, vec![0.5, 0.0]);
//! ```
#![warn(missing_docs)]

mod error;
mod evaluate;
mod measures;
mod ranking;
mod relevance;
mod significance;
mod trec;

pub use error::MetricsError;
pub use evaluate::{Evaluation, MissingQueries, evaluate_run};
pub use measures::{Metric, evaluate_ranking, standard_metrics};
pub use ranking::{Run, ScoredDoc, sort_trec};
pub use relevance::{Qrels, Relevance};
pub use significance::{ComparisonConfig, PairedComparison, compare_paired};
pub use trec::{read_qrels, read_run, write_run};
