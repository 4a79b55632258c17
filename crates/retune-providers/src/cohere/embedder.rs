//! Cohere embed (v2) behind retune's [`Embedder`] contract: queries and documents are embedded
//! with their own `input_type`, so a search uses two embedders over one client.

use super::client::{CohereClient, InputType};
use crate::error::ProviderError;
use crate::vectors::unit_vector;
use retune_data::Embedder;

/// A Cohere embedding model for one kind of input.
#[derive(Debug, Clone)]
pub struct CohereEmbedder {
    client: CohereClient,
    model: String,
    input_type: InputType,
    dimension: usize,
    batch: usize,
}

impl CohereEmbedder {
    /// `dimension` is the model's (1024 for `embed-english-v3.0`), checked on every answer.
    /// Texts go 96 to a request, Cohere's limit.
    pub fn new(
        client: CohereClient,
        model: impl Into<String>,
        input_type: InputType,
        dimension: usize,
    ) -> Self {
        Self {
            client,
            model: model.into(),
            input_type,
            dimension,
            batch: 96,
        }
    }
}

impl Embedder for CohereEmbedder {
    type Error = ProviderError;

    fn model_id(&self) -> &str {
        &self.model
    }

    fn dimension(&self) -> usize {
        self.dimension
    }

    /// Normalized here (Cohere's v3 vectors are close to unit length, not exactly).
    fn normalized(&self) -> bool {
        true
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, ProviderError> {
        let mut out = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(self.batch) {
            for v in self.client.embed(&self.model, chunk, self.input_type)? {
                out.push(unit_vector("/v2/embed", v, self.dimension)?);
            }
        }
        Ok(out)
    }
}
