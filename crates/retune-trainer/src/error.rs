//! The crate's one error type, with the file and field at fault where there is one.

use std::path::PathBuf;

/// Errors from loading, running and saving models.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrainerError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A JSON configuration file could not be parsed.
    #[error("{path}: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// A configuration value is missing, unsupported or out of range.
    #[error("{path}: field `{field}`: {problem}")]
    Config {
        /// The file.
        path: PathBuf,
        /// The field.
        field: String,
        /// What is wrong.
        problem: String,
    },
    /// A setting of a run ([`crate::train::TrainConfig`], a loss) that makes no sense, found
    /// before any work.
    #[error("setting `{name}`: {problem}")]
    Setting {
        /// The setting, as the config names it (`lr`, `loss.scale`, ...).
        name: String,
        /// Its value and the range it must lie in.
        problem: String,
    },
    /// The tokenizer file could not be loaded or could not encode.
    #[error("{path}: tokenizer: {message}")]
    Tokenizer {
        /// The tokenizer file.
        path: PathBuf,
        /// The tokenizers crate's message (its error type is a boxed trait object).
        message: String,
    },
    /// The safetensors file is unreadable.
    #[error("{path}: safetensors: {source}")]
    Safetensors {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: safetensors::SafeTensorError,
    },
    /// Tensors the model needs are missing or have the wrong shape or type.
    #[error("{path}: {}", first_few(.problems))]
    Weights {
        /// The file.
        path: PathBuf,
        /// One line per tensor: `name: expected [..], found [..]` or `name: missing`.
        problems: Vec<String>,
    },
    /// A model id is not a local directory and is not in the Hugging Face cache.
    #[error(
        "model {id:?} is not a local directory and is not in the Hugging Face cache at {cache} ({hint})"
    )]
    ModelNotFound {
        /// The id given.
        id: String,
        /// The cache folder that was searched.
        cache: PathBuf,
        /// What to do about it.
        hint: String,
    },
    /// A request to the Hugging Face Hub failed (the token is never part of the message).
    #[error("Hugging Face Hub at {endpoint}: {action} {id:?}: {message}")]
    Hub {
        /// The repository id.
        id: String,
        /// The endpoint.
        endpoint: String,
        /// What was being done.
        action: String,
        /// What went wrong.
        message: String,
    },
    /// Reading or writing a data file failed.
    #[error(transparent)]
    Data(#[from] retune_data::DataError),
    /// A tensor's values could not be read as `f32` on the host.
    #[error("reading a tensor's values as f32")]
    TensorData {
        /// Burn's reason.
        #[source]
        source: burn::tensor::DataError,
    },
    /// A sequence the fused engine cannot run: longer than the model's positions, or a token
    /// outside its vocabulary.
    #[error("input: {problem}")]
    Input {
        /// Which sequence and token, and the model's bound.
        problem: String,
    },
    /// The fused engine was called against its contract (a backward pass without its forward
    /// pass, training bf16 weights, gradients of another shape).
    #[error("fused engine: {problem}")]
    Engine {
        /// What was asked of it.
        problem: String,
    },
    /// A training step's loss or gradient norm is NaN or infinite: the run stops there, and
    /// nothing after the last checkpoint is kept.
    #[error(
        "training diverged at step {step}: the {quantity} is {value}. Nothing from this run after its last checkpoint is saved; lower the learning rate (it was {lr:e}) or the loss scale"
    )]
    Diverged {
        /// The step (1-based).
        step: usize,
        /// `loss` or `gradient norm`.
        quantity: &'static str,
        /// The non-finite value.
        value: f64,
        /// The learning rate of that step.
        lr: f64,
    },
    /// An output folder exists and is not retune's to replace.
    #[error("refusing to replace {path}: {reason}")]
    NotReplaceable {
        /// The folder.
        path: PathBuf,
        /// Why it may not be replaced.
        reason: String,
    },
}

impl TrainerError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| TrainerError::Io { path, source }
    }

    pub(crate) fn config(
        path: impl Into<PathBuf>,
        field: &str,
        problem: impl Into<String>,
    ) -> Self {
        TrainerError::Config {
            path: path.into(),
            field: field.to_owned(),
            problem: problem.into(),
        }
    }
}

/// Reads and parses a JSON file.
pub(crate) fn read_json<T: serde::de::DeserializeOwned>(
    path: &std::path::Path,
) -> Result<T, TrainerError> {
    let text = std::fs::read_to_string(path).map_err(TrainerError::io(path))?;
    serde_json::from_str(&text).map_err(|source| TrainerError::Json {
        path: path.to_owned(),
        source,
    })
}

/// The first five problems joined, and how many more there are.
fn first_few(problems: &[String]) -> String {
    let mut text = problems
        .iter()
        .take(5)
        .cloned()
        .collect::<Vec<_>>()
        .join("; ");
    if problems.len() > 5 {
        text.push_str(&format!("; and {} more", problems.len() - 5));
    }
    text
}
