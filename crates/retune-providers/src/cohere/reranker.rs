//! Cohere rerank behind retune's [`Reranker`] contract, so that evaluation scores a base or
//! fine-tuned Cohere model exactly as it scores the local cross-encoder.

use super::client::CohereClient;
use crate::error::ProviderError;
use retune_data::Reranker;

/// A Cohere rerank model (`rerank-english-v3.0`, or a fine-tune's `{id}-ft`).
#[derive(Debug, Clone)]
pub struct CohereReranker {
    client: CohereClient,
    model: String,
}

impl CohereReranker {
    /// Wraps a client and a model id.
    pub fn new(client: CohereClient, model: impl Into<String>) -> Self {
        Self {
            client,
            model: model.into(),
        }
    }
}

impl Reranker for CohereReranker {
    type Error = ProviderError;

    fn model_id(&self) -> &str {
        &self.model
    }

    /// Cohere's relevance score per document, in input order (every document is scored:
    /// `top_n` is the number of documents).
    fn score(&self, query: &str, documents: &[&str]) -> Result<Vec<f32>, ProviderError> {
        if documents.is_empty() {
            return Ok(Vec::new());
        }
        let results = self
            .client
            .rerank(&self.model, query, documents, Some(documents.len()))?;
        let mut scores = vec![f32::NAN; documents.len()];
        for r in results {
            scores[r.index] = r.relevance_score;
        }
        if let Some(missing) = scores.iter().position(|s| s.is_nan()) {
            return Err(ProviderError::Inconsistent {
                url: "/v2/rerank".into(),
                problem: format!("no score for document {missing}"),
            });
        }
        Ok(scores)
    }
}
