//! `GET /info` (the models, the limits, the version, in text-embeddings-inference's shape
//! with retune's additions), `GET /health` (200 only once the models have answered a first
//! request) and `GET /metrics` (Prometheus text).

use super::State;
use super::respond::ApiError;
use crate::ServeError;
use axum::extract::State as Shared;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// The served models and the server's limits.
pub async fn info(Shared(state): Shared<Arc<State>>) -> Response {
    let main = state
        .embedding
        .as_ref()
        .map(|e| e.info())
        .or_else(|| state.reranking.as_ref().map(|r| r.info()))
        .expect("a server serves at least one model");
    let model_type = match (&state.embedding, main.pooling.as_deref()) {
        (Some(_), Some(pooling)) => json!({"embedding": {"pooling": pooling}}),
        _ => json!({"reranker": {"id2label": {"0": "LABEL_0"}, "label2id": {"LABEL_0": 0}}}),
    };
    let c = &state.config;
    axum::Json(json!({
        "model_id": main.model_id,
        "model_sha": null,
        "model_dtype": "float32",
        "model_type": model_type,
        "architecture": main.architecture,
        "dimension": main.dimension,
        "normalize": main.normalize,
        "prompts": main.prompts,
        "max_input_length": main.max_input_length,
        "max_concurrent_requests": c.max_concurrent_requests,
        "max_client_batch_size": c.max_client_batch_size,
        "max_batch_tokens": c.queue.max_batch_tokens,
        "max_batch_requests": c.queue.max_batch_requests,
        "payload_limit": c.payload_limit,
        "auto_truncate": c.auto_truncate,
        "tokenization_workers": null,
        "embedding": state.embedding.as_ref().map(|e| e.info()),
        "reranker": state.reranking.as_ref().map(|r| r.info()),
        "version": env!("CARGO_PKG_VERSION"),
        "sha": null,
        "docker_label": null,
        "uptime_seconds": state.started.elapsed().as_secs(),
    }))
    .into_response()
}

/// 200 once the models have answered, 503 before.
pub async fn health(Shared(state): Shared<Arc<State>>) -> Response {
    if state.ready.load(Ordering::SeqCst) {
        axum::http::StatusCode::OK.into_response()
    } else {
        ApiError(ServeError::Unhealthy {
            reason: "the model has not answered its first request yet".into(),
        })
        .into_response()
    }
}

/// Prometheus text.
pub async fn metrics(Shared(state): Shared<Arc<State>>) -> Response {
    let mut queues = Vec::new();
    if let Some(e) = &state.embedding {
        queues.push(("embed", e.queue_depth()));
    }
    if let Some(r) = &state.reranking {
        queues.push(("rerank", r.queue_depth()));
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(&queues),
    )
        .into_response()
}
