//! [`Reranking`]: a cross-encoder behind a batching queue, scoring (query, text) pairs.

use super::{Front, ModelInfo, Timing, TokenInfo, check_length};
use crate::ServeError;
use crate::queue::{Answer, BatchModel, BatchObserver, Queue, QueueConfig};
use burn::tensor::backend::Backend;
use retune_trainer::cross::CrossEncoder;
use retune_trainer::{Tokens, TrainerError};
use std::sync::Arc;
use std::time::Instant;

/// Raw scores of one re-ranking request.
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    /// One logit per text, in the texts' order.
    pub logits: Vec<f32>,
    /// Real tokens scored.
    pub tokens: usize,
    /// Where the time went.
    pub timing: Timing,
}

impl Scored {
    fn new(answer: Answer<f32>, tokenization: std::time::Duration) -> Self {
        Self {
            timing: Timing::new(tokenization, &answer),
            tokens: answer.tokens,
            logits: answer.outputs,
        }
    }
}

type TokenizePairs = dyn Fn(&[(&str, &str)]) -> Result<Vec<Tokens>, TrainerError> + Send + Sync;

struct CrossModel<B: Backend>(Arc<CrossEncoder<B>>);

impl<B: Backend> BatchModel for CrossModel<B>
where
    CrossEncoder<B>: Send + Sync,
{
    type Output = f32;
    fn run(&self, rows: &[Tokens]) -> Result<Vec<f32>, ServeError> {
        Ok(self.0.logits_tokens(rows)?)
    }
}

/// A cross-encoder behind a batching queue.
pub struct Reranking {
    tokenize: Arc<TokenizePairs>,
    front: Front<f32>,
}

impl Reranking {
    /// Serves `cross`.
    pub fn new<B: Backend>(
        cross: CrossEncoder<B>,
        queue: QueueConfig,
        observer: Option<Arc<dyn BatchObserver>>,
    ) -> Self
    where
        CrossEncoder<B>: Send + Sync + 'static,
    {
        let info = ModelInfo {
            model_id: cross.model_id.clone(),
            architecture: cross
                .model_config
                .family()
                .classifier_architecture()
                .to_owned(),
            model_type: cross.model_config.family().model_type().to_owned(),
            max_input_length: cross.tokenizer.max_len(),
            dimension: None,
            pooling: None,
            normalize: None,
            prompts: Vec::new(),
        };
        let tokenizer = cross.tokenizer.clone();
        let shared = Arc::new(cross);
        let for_tokens = shared.clone();
        Self {
            tokenize: Arc::new(move |pairs| for_tokens.tokenize(pairs)),
            front: Front {
                tokenizer,
                queue: Queue::start(CrossModel(shared), queue, observer),
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

    fn prepare(&self, pairs: &[(&str, &str)], truncate: bool) -> Result<Vec<Tokens>, ServeError> {
        if pairs.is_empty() {
            return Err(ServeError::Empty {
                message: "`texts` cannot be empty".into(),
            });
        }
        let rows = (self.tokenize)(pairs).map_err(|e| ServeError::Tokenizer {
            message: e.to_string(),
        })?;
        check_length(&rows, truncate, self.front.info.max_input_length)?;
        Ok(rows)
    }

    /// Raw logits of (query, text) pairs through the queue, in their order.
    pub async fn score(
        &self,
        pairs: &[(&str, &str)],
        truncate: bool,
    ) -> Result<Scored, ServeError> {
        let t0 = Instant::now();
        let rows = self.prepare(pairs, truncate)?;
        let tokenization = t0.elapsed();
        let answer = self.front.queue.submit(rows).await?;
        Ok(Scored::new(answer, tokenization))
    }

    /// As [`score`](Self::score), blocking the calling thread (not for async contexts).
    pub fn score_blocking(
        &self,
        pairs: &[(&str, &str)],
        truncate: bool,
    ) -> Result<Scored, ServeError> {
        let t0 = Instant::now();
        let rows = self.prepare(pairs, truncate)?;
        let tokenization = t0.elapsed();
        let answer = self.front.queue.submit_blocking(rows)?;
        Ok(Scored::new(answer, tokenization))
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
