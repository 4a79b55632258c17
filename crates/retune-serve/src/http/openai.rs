//! OpenAI's `POST /v1/embeddings` (also at `/embeddings`): `input` a text or a list of texts,
//! `encoding_format` float or base64 (little-endian f32, what the `openai` SDKs ask for by
//! default), `dimensions` to keep the first N (re-normalized); token-id input is refused.

use super::State;
use super::body::{JsonBody, Texts};
use super::respond::{ApiError, Work, answer};
use crate::ServeError;
use crate::models::EmbedOptions;
use axum::extract::State as Shared;
use axum::response::Response;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;
use std::time::Instant;

/// The request.
#[derive(Debug, Deserialize)]
pub struct EmbeddingsRequest {
    input: Value,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    encoding_format: Option<String>,
    #[serde(default)]
    dimensions: Option<usize>,
}

#[derive(Debug, Serialize)]
struct Datum {
    object: &'static str,
    index: usize,
    embedding: Value,
}

#[derive(Debug, Serialize)]
struct Usage {
    prompt_tokens: usize,
    total_tokens: usize,
}

#[derive(Debug, Serialize)]
struct EmbeddingsResponse {
    object: &'static str,
    data: Vec<Datum>,
    model: String,
    usage: Usage,
}

fn base64_of(v: &[f32]) -> String {
    let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Embeddings in OpenAI's shape, normalized (as OpenAI's are).
pub async fn embeddings(
    Shared(state): Shared<Arc<State>>,
    JsonBody(req): JsonBody<EmbeddingsRequest>,
) -> Result<Response, ApiError> {
    let t0 = Instant::now();
    let _permit = state.permit()?;
    let embedding = state.embedding()?;
    let base64 = match req.encoding_format.as_deref() {
        None | Some("float") => false,
        Some("base64") => true,
        Some(other) => {
            return Err(ServeError::validation(format!(
                "`encoding_format` must be \"float\" or \"base64\", not {other:?}"
            ))
            .into());
        }
    };
    let texts = Texts::read(req.input, "input", state.config.max_client_batch_size)?;
    let opts = EmbedOptions {
        truncate: state.config.auto_truncate,
        normalize: true,
        prompt_name: None,
        dimensions: req.dimensions,
    };
    let e = embedding.embed(&texts.refs(), &opts).await?;
    let data = e
        .vectors
        .iter()
        .enumerate()
        .map(|(index, v)| Datum {
            object: "embedding",
            index,
            embedding: if base64 {
                Value::String(base64_of(v))
            } else {
                serde_json::json!(v)
            },
        })
        .collect();
    let body = EmbeddingsResponse {
        object: "list",
        data,
        model: req
            .model
            .unwrap_or_else(|| embedding.info().model_id.clone()),
        usage: Usage {
            prompt_tokens: e.tokens,
            total_tokens: e.tokens,
        },
    };
    let work = Work {
        inputs: texts.texts.len(),
        tokens: e.tokens,
        timing: e.timing,
    };
    Ok(answer(&body, work, t0.elapsed()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_is_little_endian_f32() {
        assert_eq!(base64_of(&[1.0]), "AACAPw==");
        assert_eq!(base64_of(&[]), "");
    }
}
