//! The crate's one error type; every variant says which file (and line, and field) is at fault.

use std::path::PathBuf;

/// Errors from reading, writing and validating data files.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// A file could not be opened, read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A JSONL line is not valid JSON for the expected record.
    #[error("{path}:{line}: field `{field}`: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// serde's path to the field at fault (`.` for the whole record).
        field: String,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// A line is not UTF-8.
    #[error("{path}:{line}: not valid UTF-8 (byte {byte})")]
    InvalidUtf8 {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// Offset of the first invalid byte within the line.
        byte: usize,
    },
    /// A line is longer than the reader's limit.
    #[error("{path}:{line}: line longer than the limit of {limit} bytes")]
    LineTooLong {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// A record parsed but breaks a rule of its format.
    #[error("{path}:{line}: field `{field}`: {problem}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line (or record) number; 0 for the file as a whole.
        line: usize,
        /// The field at fault.
        field: String,
        /// What is wrong.
        problem: String,
    },
    /// Parquet or Arrow refused the data.
    #[error("{path}: parquet: {source}")]
    Parquet {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: parquet::errors::ParquetError,
    },
    /// Arrow could not convert between records and columns.
    #[error("{path}: arrow: {source}")]
    Arrow {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: arrow_schema::ArrowError,
    },
    /// A review action named an item the queue does not have.
    #[error("no item {item} in the review queue")]
    NoSuchItem {
        /// The item index asked for.
        item: usize,
    },
    /// An input holds nothing to work on.
    #[error("{path}: {what} is empty")]
    Empty {
        /// The file.
        path: PathBuf,
        /// What it should have held (`the corpus`, `the queries file`).
        what: String,
    },
    /// Queries name documents the corpus does not have.
    #[error(
        "{path}: {count} expected label(s) are not in the corpus {corpus}: {}{}",
        first.iter().map(|(line, label)| format!("line {line} {label:?}")).collect::<Vec<_>>().join(", "),
        if *count > first.len() { ", ..." } else { "" }
    )]
    UnknownLabels {
        /// The queries file.
        path: PathBuf,
        /// The corpus.
        corpus: PathBuf,
        /// How many labels are unknown.
        count: usize,
        /// The first few: (line, label).
        first: Vec<(usize, String)>,
    },
    /// Another process holds the output (a second review of the same queue).
    #[error("{path}: {holder} is writing this output; stop it, or choose another output")]
    Locked {
        /// The output.
        path: PathBuf,
        /// Who holds it.
        holder: String,
    },
    /// An output would be written over an input or another output.
    #[error("refusing to write {output}: it {relation} {other}")]
    SamePath {
        /// The output's option and path.
        output: String,
        /// The other path's option and path.
        other: String,
        /// How they meet.
        relation: String,
    },
    /// A reviewer's edit breaks a rule; nothing was recorded.
    #[error("invalid edit of item {item}: {}", problems.iter().map(|(f, p)| format!("{f}: {p}")).collect::<Vec<_>>().join("; "))]
    InvalidEdit {
        /// The item.
        item: usize,
        /// Each (field, problem).
        problems: Vec<(String, String)>,
    },
}

impl DataError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| DataError::Io { path, source }
    }
}
