//! text-embeddings-inference's routes: `/embed`, `/rerank`, `/` (embed for an embedder, pair
//! scores for a re-ranker), `/similarity` and `/tokenize`, with TEI's request and response
//! shapes.

use super::State;
use super::body::{JsonBody, Texts, check_batch_size, check_direction};
use super::respond::{ApiError, Work, answer};
use crate::ServeError;
use crate::models::{EmbedOptions, Embedded, sigmoid};
use axum::extract::State as Shared;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;
use std::time::Instant;

fn yes() -> bool {
    true
}

/// `POST /embed`.
#[derive(Debug, Deserialize)]
pub struct EmbedRequest {
    inputs: Value,
    #[serde(default)]
    truncate: Option<bool>,
    #[serde(default)]
    truncation_direction: Option<String>,
    #[serde(default = "yes")]
    normalize: bool,
    #[serde(default)]
    prompt_name: Option<String>,
    #[serde(default)]
    dimensions: Option<usize>,
}

async fn run_embed(state: &State, req: EmbedRequest) -> Result<Response, ServeError> {
    let t0 = Instant::now();
    let _permit = state.permit()?;
    let embedding = state.embedding()?;
    check_direction(req.truncation_direction.as_deref())?;
    let texts = Texts::read(req.inputs, "inputs", state.config.max_client_batch_size)?;
    let opts = EmbedOptions {
        truncate: state.truncate(req.truncate),
        normalize: req.normalize,
        prompt_name: req.prompt_name,
        dimensions: req.dimensions,
    };
    let Embedded {
        vectors,
        tokens,
        timing,
    } = embedding.embed(&texts.refs(), &opts).await?;
    let work = Work {
        inputs: vectors.len(),
        tokens,
        timing,
    };
    Ok(answer(&vectors, work, t0.elapsed()))
}

/// Embeddings: `[[f32]]`, one per input, whether one text or a list was sent.
pub async fn embed(
    Shared(state): Shared<Arc<State>>,
    JsonBody(req): JsonBody<EmbedRequest>,
) -> Result<Response, ApiError> {
    Ok(run_embed(&state, req).await?)
}

/// `POST /rerank`.
#[derive(Debug, Deserialize)]
pub struct RerankRequest {
    query: String,
    texts: Vec<String>,
    #[serde(default)]
    truncate: Option<bool>,
    #[serde(default)]
    truncation_direction: Option<String>,
    #[serde(default)]
    raw_scores: bool,
    #[serde(default)]
    return_text: bool,
}

/// One result of `/rerank`.
#[derive(Debug, Serialize)]
struct Rank {
    index: usize,
    score: f32,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<String>,
}

/// The texts ranked best first: `[{index, score[, text]}]`, scores sigmoid unless `raw_scores`.
pub async fn rerank(
    Shared(state): Shared<Arc<State>>,
    JsonBody(req): JsonBody<RerankRequest>,
) -> Result<Response, ApiError> {
    let t0 = Instant::now();
    let _permit = state.permit()?;
    let reranking = state.reranking()?;
    check_direction(req.truncation_direction.as_deref())?;
    check_batch_size(req.texts.len(), state.config.max_client_batch_size)?;
    if req.query.is_empty() {
        return Err(ServeError::validation("`query` is an empty text").into());
    }
    let pairs: Vec<(&str, &str)> = req
        .texts
        .iter()
        .map(|t| (req.query.as_str(), t.as_str()))
        .collect();
    let scored = reranking
        .score(&pairs, state.truncate(req.truncate))
        .await?;
    let mut ranks: Vec<Rank> = scored
        .logits
        .iter()
        .enumerate()
        .map(|(index, &logit)| Rank {
            index,
            score: if req.raw_scores {
                logit
            } else {
                sigmoid(logit)
            },
            text: req.return_text.then(|| req.texts[index].clone()),
        })
        .collect();
    ranks.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.index.cmp(&b.index)));
    let work = Work {
        inputs: pairs.len(),
        tokens: scored.tokens,
        timing: scored.timing,
    };
    Ok(answer(&ranks, work, t0.elapsed()))
}

/// `POST /` for a re-ranker: TEI's `/predict` shape, one `[query, text]` pair or a list.
#[derive(Debug, Deserialize)]
struct PredictRequest {
    inputs: Value,
    #[serde(default)]
    truncate: Option<bool>,
    #[serde(default)]
    raw_scores: bool,
}

#[derive(Debug, Serialize)]
struct Prediction {
    score: f32,
    label: &'static str,
}

fn pair(v: &Value, at: &str) -> Result<(String, String), ServeError> {
    match v.as_array().map(Vec::as_slice) {
        Some([Value::String(a), Value::String(b)]) => Ok((a.clone(), b.clone())),
        _ => Err(ServeError::validation(format!(
            "`inputs{at}` must be a [query, text] pair of strings"
        ))),
    }
}

async fn predict(state: &State, body: Value) -> Result<Response, ServeError> {
    let t0 = Instant::now();
    let _permit = state.permit()?;
    let reranking = state.reranking()?;
    let req: PredictRequest = serde_json::from_value(body)
        .map_err(|e| ServeError::validation(format!("invalid JSON body: {e}")))?;
    let single = matches!(
        req.inputs.as_array().and_then(|a| a.first()),
        Some(Value::String(_))
    );
    let pairs = if single {
        vec![pair(&req.inputs, "")?]
    } else {
        let items = req.inputs.as_array().ok_or_else(|| {
            ServeError::validation("`inputs` must be a [query, text] pair or a list of them")
        })?;
        check_batch_size(items.len(), state.config.max_client_batch_size)?;
        items
            .iter()
            .enumerate()
            .map(|(i, v)| pair(v, &format!("[{i}]")))
            .collect::<Result<Vec<_>, _>>()?
    };
    let refs: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let scored = reranking.score(&refs, state.truncate(req.truncate)).await?;
    let one = |logit: f32| {
        vec![Prediction {
            score: if req.raw_scores {
                logit
            } else {
                sigmoid(logit)
            },
            label: "LABEL_0",
        }]
    };
    let work = Work {
        inputs: refs.len(),
        tokens: scored.tokens,
        timing: scored.timing,
    };
    let total = t0.elapsed();
    Ok(if single {
        answer(&one(scored.logits[0]), work, total)
    } else {
        let all: Vec<_> = scored.logits.iter().map(|&l| one(l)).collect();
        answer(&all, work, total)
    })
}

/// `POST /`: `/embed` when an embedder is served, else the re-ranker's pair scores.
pub async fn root(
    Shared(state): Shared<Arc<State>>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    if state.embedding.is_some() {
        let req: EmbedRequest = serde_json::from_value(body)
            .map_err(|e| ServeError::validation(format!("invalid JSON body: {e}")))?;
        Ok(run_embed(&state, req).await?)
    } else {
        Ok(predict(&state, body).await?)
    }
}

/// `POST /similarity`.
#[derive(Debug, Deserialize)]
pub struct SimilarityRequest {
    inputs: SimilarityInputs,
    #[serde(default)]
    truncate: Option<bool>,
    #[serde(default)]
    prompt_name: Option<String>,
}

#[derive(Debug, Deserialize)]
struct SimilarityInputs {
    source_sentence: String,
    sentences: Vec<String>,
}

/// Cosine similarity of `source_sentence` to each of `sentences`: `[f32]`.
pub async fn similarity(
    Shared(state): Shared<Arc<State>>,
    JsonBody(req): JsonBody<SimilarityRequest>,
) -> Result<Response, ApiError> {
    let t0 = Instant::now();
    let _permit = state.permit()?;
    let embedding = state.embedding()?;
    let mut all = vec![Value::String(req.inputs.source_sentence)];
    all.extend(req.inputs.sentences.into_iter().map(Value::String));
    if all.len() == 1 {
        return Err(ServeError::Empty {
            message: "`inputs.sentences` cannot be empty".into(),
        }
        .into());
    }
    let texts = Texts::read(
        Value::Array(all),
        "inputs",
        state.config.max_client_batch_size + 1,
    )?;
    let opts = EmbedOptions {
        truncate: state.truncate(req.truncate),
        normalize: true,
        prompt_name: req.prompt_name,
        dimensions: None,
    };
    let e = embedding.embed(&texts.refs(), &opts).await?;
    let source = &e.vectors[0];
    let scores: Vec<f32> = e.vectors[1..]
        .iter()
        .map(|v| v.iter().zip(source).map(|(a, b)| a * b).sum())
        .collect();
    let work = Work {
        inputs: texts.texts.len(),
        tokens: e.tokens,
        timing: e.timing,
    };
    Ok(answer(&scores, work, t0.elapsed()))
}

/// `POST /tokenize`.
#[derive(Debug, Deserialize)]
pub struct TokenizeRequest {
    inputs: Value,
    #[serde(default = "yes")]
    add_special_tokens: bool,
}

/// The tokens of each input: `[[{id, text, special, start, stop}]]`.
pub async fn tokenize(
    Shared(state): Shared<Arc<State>>,
    JsonBody(req): JsonBody<TokenizeRequest>,
) -> Result<Response, ApiError> {
    let t0 = Instant::now();
    let texts = Texts::read(req.inputs, "inputs", state.config.max_client_batch_size)?;
    let mut out = Vec::with_capacity(texts.texts.len());
    for text in &texts.texts {
        out.push(match &state.embedding {
            Some(e) => e.tokens(text, req.add_special_tokens)?,
            None => state.reranking()?.tokens(text, req.add_special_tokens)?,
        });
    }
    let work = Work {
        inputs: out.len(),
        tokens: out.iter().map(Vec::len).sum(),
        ..Work::default()
    };
    Ok(answer(&out, work, t0.elapsed()))
}
