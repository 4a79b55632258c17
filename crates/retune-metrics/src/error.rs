//! The crate's one error type: every variant names the file and line it came from where there is one.

use std::path::PathBuf;

/// Errors from reading TREC files and from evaluating.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MetricsError {
    /// A file could not be opened or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A line does not have the shape of its format.
    #[error("{path}:{line}: {field}: {problem}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The column or field at fault (`qid`, `rel`, `score`, `fields`, ...).
        field: &'static str,
        /// What is wrong with it.
        problem: String,
    },
    /// The same (query, document) pair appears twice.
    #[error(
        "{path}:{line}: duplicate entry for query {qid:?}, document {doc_id:?} (first seen on line {first_line})"
    )]
    Duplicate {
        /// The file.
        path: PathBuf,
        /// 1-based line of the second occurrence.
        line: usize,
        /// 1-based line of the first occurrence.
        first_line: usize,
        /// The query id.
        qid: String,
        /// The document id.
        doc_id: String,
    },
    /// The run and the qrels share no query, so there is nothing to evaluate.
    #[error(
        "no query in common between the run ({run_queries} queries) and the qrels ({qrels_queries} queries)"
    )]
    NoCommonQuery {
        /// Queries in the run.
        run_queries: usize,
        /// Queries in the qrels.
        qrels_queries: usize,
    },
    /// A metric name could not be parsed.
    #[error(
        "unknown metric {name:?}: expected precision@k, recall@k, hit_rate@k, mrr[@k], ndcg[@k] or map[@k]"
    )]
    UnknownMetric {
        /// The name given.
        name: String,
    },
    /// Two systems compared pairwise do not cover the same queries.
    #[error("paired comparison needs the same queries: {left} values against {right}")]
    Unpaired {
        /// Number of values of the first system.
        left: usize,
        /// Number of values of the second system.
        right: usize,
    },
}
