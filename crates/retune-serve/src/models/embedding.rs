//! [`Embedding`]: a bi-encoder behind a batching queue. Its own Normalize module is applied per
//! request instead of inside the model, so that `normalize: false` returns pooled vectors.

use super::{Front, ModelInfo, Timing, TokenInfo, check_length, pooling_name};
use crate::ServeError;
use crate::queue::{Answer, BatchModel, BatchObserver, Queue, QueueConfig};
use burn::tensor::backend::Backend;
use retune_trainer::{SentenceEncoder, Tokens, TrainerError};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How to embed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbedOptions {
    /// Cut inputs longer than the model's limit (else they are refused).
    pub truncate: bool,
    /// L2-normalize the (possibly shortened) vectors.
    pub normalize: bool,
    /// A prompt from the model's `config_sentence_transformers.json`, prepended to every text.
    pub prompt_name: Option<String>,
    /// Keep the first N dimensions (Matryoshka), normalized afterwards when `normalize`.
    pub dimensions: Option<usize>,
}

impl Default for EmbedOptions {
    /// Truncate, normalize, no prompt beyond the model's default, every dimension.
    fn default() -> Self {
        Self {
            truncate: true,
            normalize: true,
            prompt_name: None,
            dimensions: None,
        }
    }
}

/// Embeddings of one request.
#[derive(Debug, Clone, PartialEq)]
pub struct Embedded {
    /// One vector per input, in order.
    pub vectors: Vec<Vec<f32>>,
    /// Real tokens embedded.
    pub tokens: usize,
    /// Where the time went.
    pub timing: Timing,
}

type TokenizeTexts =
    dyn Fn(&[&str], Option<&str>) -> Result<Vec<Tokens>, TrainerError> + Send + Sync;

struct EncoderModel<B: Backend>(Arc<SentenceEncoder<B>>);

impl<B: Backend> BatchModel for EncoderModel<B>
where
    SentenceEncoder<B>: Send + Sync,
{
    type Output = Vec<f32>;
    fn run(&self, rows: &[Tokens]) -> Result<Vec<Vec<f32>>, ServeError> {
        Ok(self.0.encode_tokens(rows, None)?)
    }
}

/// An embedder behind a batching queue.
pub struct Embedding {
    tokenize: Arc<TokenizeTexts>,
    front: Front<Vec<f32>>,
}

impl Embedding {
    /// Serves `encoder` (its own Normalize module is applied per request instead, so that
    /// `normalize: false` returns the pooled vectors).
    pub fn new<B: Backend>(
        mut encoder: SentenceEncoder<B>,
        queue: QueueConfig,
        observer: Option<Arc<dyn BatchObserver>>,
    ) -> Self
    where
        SentenceEncoder<B>: Send + Sync + 'static,
    {
        use retune_data::Embedder as _;
        let info = ModelInfo {
            model_id: encoder.model_id().to_owned(),
            architecture: encoder.model_config.family().hf_architecture().to_owned(),
            model_type: encoder.model_config.family().model_type().to_owned(),
            max_input_length: encoder.tokenizer.max_len(),
            dimension: Some(encoder.dim()),
            pooling: Some(pooling_name(encoder.st_config.pooling).to_owned()),
            normalize: Some(encoder.st_config.normalize),
            prompts: encoder.st_config.prompts.keys().cloned().collect(),
        };
        encoder.st_config.normalize = false;
        let tokenizer = encoder.tokenizer.clone();
        let shared = Arc::new(encoder);
        let for_tokens = shared.clone();
        Self {
            tokenize: Arc::new(move |texts, prompt| for_tokens.tokenize(texts, prompt)),
            front: Front {
                tokenizer,
                queue: Queue::start(EncoderModel(shared), queue, observer),
                info,
            },
        }
    }

    /// What `/info` says of it.
    pub fn info(&self) -> &ModelInfo {
        &self.front.info
    }

    /// Requests waiting for a batch.
    pub fn queue_depth(&self) -> usize {
        self.front.queue.depth()
    }

    /// Tokenizes and checks a request.
    fn prepare(&self, texts: &[&str], opts: &EmbedOptions) -> Result<Vec<Tokens>, ServeError> {
        if texts.is_empty() {
            return Err(ServeError::Empty {
                message: "`inputs` cannot be empty".into(),
            });
        }
        let dim = self.front.info.dimension.unwrap_or(0);
        if let Some(d) = opts.dimensions
            && (d == 0 || d > dim)
        {
            return Err(ServeError::validation(format!(
                "`dimensions` must be between 1 and {dim} (the model's dimension); got {d}"
            )));
        }
        let rows = (self.tokenize)(texts, opts.prompt_name.as_deref()).map_err(|e| match e {
            TrainerError::Config { field, problem, .. } if field == "prompts" => {
                ServeError::validation(format!("`prompt_name`: {problem}"))
            }
            other => ServeError::Tokenizer {
                message: other.to_string(),
            },
        })?;
        check_length(&rows, opts.truncate, self.front.info.max_input_length)?;
        Ok(rows)
    }

    fn finish(&self, answer: Answer<Vec<f32>>, opts: &EmbedOptions, started: Duration) -> Embedded {
        let timing = Timing::new(started, &answer);
        let vectors = answer
            .outputs
            .into_iter()
            .map(|mut v| {
                if let Some(d) = opts.dimensions {
                    v.truncate(d);
                }
                if opts.normalize {
                    retune_trainer::fused::normalize(&mut v);
                }
                v
            })
            .collect();
        Embedded {
            vectors,
            tokens: answer.tokens,
            timing,
        }
    }

    /// Embeds `texts` through the queue.
    pub async fn embed(&self, texts: &[&str], opts: &EmbedOptions) -> Result<Embedded, ServeError> {
        let t0 = Instant::now();
        let rows = self.prepare(texts, opts)?;
        let tokenization = t0.elapsed();
        let answer = self.front.queue.submit(rows).await?;
        Ok(self.finish(answer, opts, tokenization))
    }

    /// As [`embed`](Self::embed), blocking the calling thread (not for async contexts).
    pub fn embed_blocking(
        &self,
        texts: &[&str],
        opts: &EmbedOptions,
    ) -> Result<Embedded, ServeError> {
        let t0 = Instant::now();
        let rows = self.prepare(texts, opts)?;
        let tokenization = t0.elapsed();
        let answer = self.front.queue.submit_blocking(rows)?;
        Ok(self.finish(answer, opts, tokenization))
    }

    /// The tokens of `text`, with their spans.
    pub fn tokens(
        &self,
        text: &str,
        add_special_tokens: bool,
    ) -> Result<Vec<TokenInfo>, ServeError> {
        self.front.tokens(text, add_special_tokens)
    }
}
