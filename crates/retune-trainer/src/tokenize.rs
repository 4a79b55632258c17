//! Tokenization with the `tokenizers` crate from a model's `tokenizer.json`.
//!
//! The file's own truncation and padding settings are replaced: sequences are truncated to the
//! model's `max_seq_length` (special tokens included, as sentence-transformers does) and padded
//! per batch, to the longest sequence of that batch only, by [`Batch::pad`].

use crate::bert::BertInput;
use crate::error::TrainerError;
use burn::tensor::{Int, Tensor, TensorData, backend::Backend};
use std::path::{Path, PathBuf};
use tokenizers::{Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy};

/// One tokenized text: ids and segment ids, without padding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tokens {
    /// Token ids.
    pub ids: Vec<u32>,
    /// Segment ids (0 for a single text; 1 for the second text of a pair).
    pub type_ids: Vec<u32>,
}

/// A tokenizer bound to a maximum sequence length.
#[derive(Clone)]
pub struct TextTokenizer {
    inner: Tokenizer,
    path: PathBuf,
    max_len: usize,
    pad_id: u32,
}

impl std::fmt::Debug for TextTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextTokenizer")
            .field("path", &self.path)
            .field("max_len", &self.max_len)
            .finish()
    }
}

impl TextTokenizer {
    /// Loads `tokenizer.json` and truncates to `max_len` tokens.
    pub fn from_file(path: impl AsRef<Path>, max_len: usize) -> Result<Self, TrainerError> {
        let path = path.as_ref().to_owned();
        let err = |e: tokenizers::Error| TrainerError::Tokenizer {
            path: path.clone(),
            message: e.to_string(),
        };
        let mut inner = Tokenizer::from_file(&path).map_err(err)?;
        let pad_id = inner.get_padding().map_or(0, |p| p.pad_id);
        inner.with_padding(None);
        inner
            .with_truncation(Some(TruncationParams {
                direction: TruncationDirection::Right,
                max_length: max_len,
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
            }))
            .map_err(err)?;
        Ok(Self {
            inner,
            path,
            max_len,
            pad_id,
        })
    }

    /// Longest sequence produced, special tokens included.
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// The underlying tokenizer (for saving it beside a model).
    pub fn inner(&self) -> &Tokenizer {
        &self.inner
    }

    fn tok_err(&self, e: tokenizers::Error) -> TrainerError {
        TrainerError::Tokenizer {
            path: self.path.clone(),
            message: e.to_string(),
        }
    }

    /// Tokenizes single texts (with the model's special tokens).
    pub fn encode(&self, texts: &[&str]) -> Result<Vec<Tokens>, TrainerError> {
        self.encode_inputs(texts.iter().map(|&t| t.into()).collect())
    }

    /// Tokenizes (first, second) pairs as one sequence each, second segment with type id 1, as
    /// Hugging Face encodes pairs; truncation shortens the longer text first.
    pub fn encode_pairs(&self, pairs: &[(&str, &str)]) -> Result<Vec<Tokens>, TrainerError> {
        self.encode_inputs(pairs.iter().map(|&(a, b)| (a, b).into()).collect())
    }

    fn encode_inputs(
        &self,
        inputs: Vec<tokenizers::EncodeInput<'_>>,
    ) -> Result<Vec<Tokens>, TrainerError> {
        let enc = self
            .inner
            .encode_batch_fast(inputs, true)
            .map_err(|e| self.tok_err(e))?;
        Ok(enc
            .into_iter()
            .map(|e| Tokens {
                ids: e.get_ids().to_vec(),
                type_ids: e.get_type_ids().to_vec(),
            })
            .collect())
    }

    /// The id used for padding.
    pub fn pad_id(&self) -> u32 {
        self.pad_id
    }
}

/// A padded batch in host memory, row-major `[batch, seq]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// Number of sequences.
    pub batch: usize,
    /// Padded length (the longest sequence of the batch).
    pub seq: usize,
    /// Token ids.
    pub ids: Vec<i32>,
    /// Segment ids.
    pub type_ids: Vec<i32>,
    /// 1 for tokens, 0 for padding.
    pub mask: Vec<i32>,
}

impl Batch {
    /// Pads sequences to the longest of them.
    pub fn pad(tokens: &[&Tokens], pad_id: u32) -> Self {
        let seq = tokens.iter().map(|t| t.ids.len()).max().unwrap_or(0).max(1);
        let n = tokens.len();
        let mut ids = vec![pad_id as i32; n * seq];
        let mut type_ids = vec![0; n * seq];
        let mut mask = vec![0; n * seq];
        for (r, t) in tokens.iter().enumerate() {
            for (c, (&id, &ty)) in t.ids.iter().zip(&t.type_ids).enumerate() {
                ids[r * seq + c] = id as i32;
                type_ids[r * seq + c] = ty as i32;
                mask[r * seq + c] = 1;
            }
        }
        Self {
            batch: n,
            seq,
            ids,
            type_ids,
            mask,
        }
    }

    /// Real tokens in the batch (without padding).
    pub fn tokens(&self) -> usize {
        self.mask.iter().filter(|&&m| m == 1).count()
    }

    /// The batch as tensors on a device.
    pub fn to_input<B: Backend>(&self, device: &B::Device) -> BertInput<B> {
        let t = |v: &Vec<i32>| {
            Tensor::<B, 2, Int>::from_data(
                TensorData::new(v.clone(), [self.batch, self.seq]),
                device,
            )
        };
        BertInput {
            input_ids: t(&self.ids),
            token_type_ids: t(&self.type_ids),
            attention_mask: t(&self.mask),
            dropout_seed: None,
        }
    }
}
