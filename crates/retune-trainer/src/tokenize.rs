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
    /// Whether the text had more tokens than the tokenizer's `max_len` (the rest was dropped).
    pub truncated: bool,
}

/// A tokenizer bound to a maximum sequence length.
#[derive(Clone)]
pub struct TextTokenizer {
    inner: Tokenizer,
    path: PathBuf,
    max_len: usize,
    pad_id: u32,
    /// Characters kept of one whitespace-free run (see [`TextTokenizer::bounded`]).
    word_cap: usize,
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
        let longest = inner
            .get_vocab(false)
            .keys()
            .map(|t| t.chars().count())
            .max()
            .unwrap_or(1);
        Ok(Self {
            inner,
            path,
            max_len,
            pad_id,
            word_cap: 2 * (max_len + 1) * longest.max(101),
        })
    }

    /// A form of `text` that tokenizes to the same first `max_len` tokens as the whole, of
    /// bounded length: it ends after the `max_len + 1`-th whitespace-separated word (every
    /// pre-tokenizer here gives a word at least one token and none joins words across
    /// whitespace), and keeps at most `word_cap` characters of one run without whitespace (twice
    /// `max_len + 1` times the longer of the longest vocabulary entry and WordPiece's
    /// 100-character word limit: enough for the run's own tokens, and a run cut there is still
    /// one unknown word to WordPiece). Tokenizing then costs time and memory flat in the length
    /// of an input.
    fn bounded<'t>(&self, text: &'t str) -> std::borrow::Cow<'t, str> {
        let (mut words, mut run) = (0usize, 0usize);
        let mut out: Option<String> = None;
        let mut skipping = false;
        for (i, c) in text.char_indices() {
            if c.is_whitespace() {
                if run > 0 {
                    words += 1;
                    if words > self.max_len {
                        return out.map_or(std::borrow::Cow::Borrowed(&text[..i]), Into::into);
                    }
                }
                run = 0;
                skipping = false;
            } else {
                run += 1;
                if run > self.word_cap {
                    if !skipping {
                        out.get_or_insert_with(|| text[..i].to_owned());
                        skipping = true;
                    }
                    continue;
                }
            }
            if let Some(o) = out.as_mut() {
                o.push(c);
            }
        }
        out.map_or(std::borrow::Cow::Borrowed(text), Into::into)
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
        let bounded: Vec<_> = texts.iter().map(|&t| self.bounded(t)).collect();
        self.encode_inputs(bounded.iter().map(|t| t.as_ref().into()).collect())
    }

    /// Tokenizes (first, second) pairs as one sequence each, second segment with type id 1, as
    /// Hugging Face encodes pairs; truncation shortens the longer text first.
    pub fn encode_pairs(&self, pairs: &[(&str, &str)]) -> Result<Vec<Tokens>, TrainerError> {
        let bounded: Vec<_> = pairs
            .iter()
            .map(|&(a, b)| (self.bounded(a), self.bounded(b)))
            .collect();
        self.encode_inputs(
            bounded
                .iter()
                .map(|(a, b)| (a.as_ref(), b.as_ref()).into())
                .collect(),
        )
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
                truncated: !e.get_overflowing().is_empty(),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn unbounded(t: &TextTokenizer, text: &str) -> Vec<u32> {
        t.inner.encode(text, true).unwrap().get_ids().to_vec()
    }

    #[test]
    fn long_inputs_are_cut_before_tokenizing_without_changing_the_tokens() {
        let path = crate::fixture::tiny_bert_dir().join("tokenizer.json");
        let t = TextTokenizer::from_file(&path, 16).unwrap();
        let many_words = "expense report line item ".repeat(20_000);
        let long_word = format!("{} then words after", "x".repeat(5_000));
        let punctuated = format!("{} tail", "a.b-c,".repeat(2_000));
        let spaced = format!("start{}end of it all", " ".repeat(100_000));
        let cjk = "東京駅タクシー".repeat(2_000);
        for text in [&many_words, &long_word, &punctuated, &spaced, &cjk] {
            let got = &t.encode(&[text.as_str()]).unwrap()[0].ids;
            assert_eq!(got, &unbounded(&t, text), "{}", &text[..20]);
            assert!(t.bounded(text).len() <= 16 * 150_000, "bounded");
        }
        assert!(t.bounded(&many_words).len() < 200, "a few words kept");
        let pair = t
            .encode_pairs(&[(many_words.as_str(), "short query")])
            .unwrap();
        let want = t
            .inner
            .encode((many_words.as_str(), "short query"), true)
            .unwrap();
        assert_eq!(pair[0].ids, want.get_ids());
        assert_eq!(t.bounded("two words"), "two words");
        assert!(t.bounded(&long_word).ends_with(" then words after"));
    }

    #[test]
    fn truncated_says_whether_tokens_were_dropped() {
        let path = crate::fixture::tiny_bert_dir().join("tokenizer.json");
        let t = TextTokenizer::from_file(&path, 8).unwrap();
        let exact = |text: &str| unbounded(&TextTokenizer::from_file(&path, 10_000).unwrap(), text);
        let many_words = "expense report line item ".repeat(20_000);
        for text in [
            "",
            "a",
            "uber ride",
            "one two three four five six",
            &many_words,
        ] {
            let got = &t.encode(&[text]).unwrap()[0];
            assert_eq!(
                got.truncated,
                exact(text).len() > 8,
                "{:?}",
                &text[..text.len().min(20)]
            );
        }
        let pairs = t
            .encode_pairs(&[("uber", "ride"), ("uber", &many_words)])
            .unwrap();
        assert!(!pairs[0].truncated && pairs[1].truncated);
    }
}
