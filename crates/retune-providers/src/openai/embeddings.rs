//! `/v1/embeddings` behind the [`Embedder`] contract (`text-embedding-3-small` was the
//! course's baseline), in batches, reordered by the `index` the server returns.

use crate::error::ProviderError;
use crate::http::{Body, Http, HttpConfig};
use crate::vectors::unit_vector;
use retune_data::Embedder;
use serde::Deserialize;

/// An embedding model on an OpenAI-compatible server.
#[derive(Debug, Clone)]
pub struct OpenAiEmbedder {
    http: Http,
    model: String,
    dimension: usize,
    batch: usize,
}

#[derive(Deserialize)]
struct Response {
    data: Vec<Item>,
}

#[derive(Deserialize)]
struct Item {
    index: usize,
    embedding: Vec<f32>,
}

impl OpenAiEmbedder {
    /// A client; `dimension` is the model's (1536 for `text-embedding-3-small`), checked on
    /// every answer. Texts go 256 to a request.
    pub fn new(
        config: HttpConfig,
        model: impl Into<String>,
        dimension: usize,
    ) -> Result<Self, ProviderError> {
        Ok(Self {
            http: Http::new(config)?,
            model: model.into(),
            dimension,
            batch: 256,
        })
    }

    /// Texts per request.
    pub fn with_batch_size(mut self, batch: usize) -> Self {
        self.batch = batch.max(1);
        self
    }

    fn url(&self) -> String {
        format!("{}/embeddings", self.http.config().base_url)
    }
}

impl Embedder for OpenAiEmbedder {
    type Error = ProviderError;

    fn model_id(&self) -> &str {
        &self.model
    }

    fn dimension(&self) -> usize {
        self.dimension
    }

    /// OpenAI's embeddings have unit norm; others are normalized here, so this is always true.
    fn normalized(&self) -> bool {
        true
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, ProviderError> {
        let mut out = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(self.batch) {
            let body = serde_json::json!({"model": self.model, "input": chunk, "encoding_format": "float"});
            let r: Response =
                self.http
                    .json(reqwest::Method::POST, "/embeddings", &[], Body::Json(&body))?;
            let mut rows: Vec<Option<Vec<f32>>> = vec![None; chunk.len()];
            for item in r.data {
                if item.index >= chunk.len() {
                    return Err(ProviderError::Inconsistent {
                        url: self.url(),
                        problem: format!("index {} for {} inputs", item.index, chunk.len()),
                    });
                }
                let v = unit_vector(&self.url(), item.embedding, self.dimension)?;
                rows[item.index] = Some(v);
            }
            for (i, row) in rows.into_iter().enumerate() {
                out.push(row.ok_or_else(|| ProviderError::Inconsistent {
                    url: self.url(),
                    problem: format!("no embedding for input {i}"),
                })?);
            }
        }
        Ok(out)
    }
}
