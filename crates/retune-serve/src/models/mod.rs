//! The served models: an embedder ([`Embedding`]) and a re-ranker ([`Reranking`]), each a
//! tokenizer on the caller's thread and a [`Queue`] whose worker owns the model. They are the
//! library face of the server: a Rust service can embed or score through them without HTTP.

mod embedding;
mod reranking;

pub use embedding::{EmbedOptions, Embedded, Embedding};
pub use reranking::{Reranking, Scored};

use crate::ServeError;
use crate::queue::{Answer, Queue};
use retune_trainer::{TextTokenizer, Tokens};
use serde::Serialize;
use std::time::Duration;

/// What `/info` says of a model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelInfo {
    /// The model argument, as given (folder or Hub id).
    pub model_id: String,
    /// Its Hugging Face architecture (`BertModel`, `XLMRobertaForSequenceClassification`, ...).
    pub architecture: String,
    /// Its `model_type`.
    pub model_type: String,
    /// Longest input in tokens, special tokens included.
    pub max_input_length: usize,
    /// Embedding dimension (embedders only).
    pub dimension: Option<usize>,
    /// Pooling (embedders only): `mean`, `cls`, `max`, `mean_sqrt_len`.
    pub pooling: Option<String>,
    /// Whether the model's own modules normalize (embedders only).
    pub normalize: Option<bool>,
    /// Prompt names from `config_sentence_transformers.json`.
    pub prompts: Vec<String>,
}

/// Time spent on one request, by stage.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Timing {
    /// Tokenizing the inputs.
    pub tokenization: Duration,
    /// Waiting for a batch.
    pub queue: Duration,
    /// The batch's run on the engine.
    pub inference: Duration,
}

impl Timing {
    pub(crate) fn new<O>(tokenization: Duration, answer: &Answer<O>) -> Self {
        Self {
            tokenization,
            queue: answer.queue_time,
            inference: answer.inference_time,
        }
    }
}

/// One token of `/tokenize`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenInfo {
    /// Its id.
    pub id: u32,
    /// The input's text it covers (the token itself for special tokens).
    pub text: String,
    /// Whether it is a special token the tokenizer added.
    pub special: bool,
    /// Byte offset of its start in the input (absent for added special tokens).
    pub start: Option<usize>,
    /// Byte offset of its end.
    pub stop: Option<usize>,
}

/// The sigmoid of a logit: a re-ranker's score in (0, 1).
pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// What both served models hold besides their model: the tokenizer (for `/tokenize`), the
/// queue, and what `/info` says.
struct Front<O> {
    tokenizer: TextTokenizer,
    queue: Queue<O>,
    info: ModelInfo,
}

impl<O: Send + 'static> Front<O> {
    fn tokens(&self, text: &str, add_special_tokens: bool) -> Result<Vec<TokenInfo>, ServeError> {
        token_spans(&self.tokenizer, text, add_special_tokens)
    }
}

/// Refuses the first row that lost tokens when truncation is off.
pub(crate) fn check_length(rows: &[Tokens], truncate: bool, max: usize) -> Result<(), ServeError> {
    match rows.iter().position(|r| r.truncated) {
        Some(i) if !truncate => Err(ServeError::TooLarge {
            message: format!(
                "input {i} is longer than the model's limit of {max} tokens and truncation is off \
                 (send `\"truncate\": true`, or start the server with --auto-truncate true)"
            ),
        }),
        _ => Ok(()),
    }
}

fn token_spans(
    tokenizer: &TextTokenizer,
    text: &str,
    add_special_tokens: bool,
) -> Result<Vec<TokenInfo>, ServeError> {
    let enc = tokenizer
        .inner()
        .encode(text, add_special_tokens)
        .map_err(|e| ServeError::Tokenizer {
            message: e.to_string(),
        })?;
    Ok(enc
        .get_ids()
        .iter()
        .zip(enc.get_tokens())
        .zip(enc.get_offsets())
        .zip(enc.get_special_tokens_mask())
        .map(|(((&id, token), &(start, stop)), &special)| {
            let special = special == 1;
            let span = (!special).then_some((start, stop));
            TokenInfo {
                id,
                text: match span {
                    Some((a, b)) => text.get(a..b).unwrap_or(token).to_owned(),
                    None => token.clone(),
                },
                special,
                start: span.map(|s| s.0),
                stop: span.map(|s| s.1),
            }
        })
        .collect())
}

pub(crate) fn pooling_name(p: retune_trainer::Pooling) -> &'static str {
    match p {
        retune_trainer::Pooling::Mean => "mean",
        retune_trainer::Pooling::Cls => "cls",
        retune_trainer::Pooling::Max => "max",
        retune_trainer::Pooling::MeanSqrtLen => "mean_sqrt_len",
        retune_trainer::Pooling::LastToken => "last_token",
    }
}
