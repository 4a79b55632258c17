//! How answers and errors leave the server: errors as JSON `{"error", "error_type"}` with
//! text-embeddings-inference's statuses, answers with TEI's timing headers and the numbers the
//! request log prints.

use crate::ServeError;
use crate::models::Timing;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use std::time::Duration;

/// A [`ServeError`] as an HTTP answer.
#[derive(Debug)]
pub struct ApiError(pub ServeError);

impl From<ServeError> for ApiError {
    fn from(e: ServeError) -> Self {
        Self(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body =
            serde_json::json!({"error": self.0.to_string(), "error_type": self.0.error_type()});
        (status, axum::Json(body)).into_response()
    }
}

/// What one model request did, for the request log (kept in the response's extensions).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Work {
    /// Texts or pairs.
    pub inputs: usize,
    /// Real tokens.
    pub tokens: usize,
    /// Where the time went.
    pub timing: Timing,
}

fn ms(d: Duration) -> HeaderValue {
    HeaderValue::from(d.as_millis() as u64)
}

/// `body` as JSON with TEI's timing headers (`x-compute-time` and friends, in ms).
pub fn answer(body: &impl Serialize, work: Work, total: Duration) -> Response {
    let mut response = axum::Json(body).into_response();
    let h = response.headers_mut();
    h.insert("x-compute-type", HeaderValue::from_static("cpu"));
    h.insert("x-compute-time", ms(total));
    h.insert("x-compute-tokens", HeaderValue::from(work.tokens as u64));
    h.insert("x-total-time", ms(total));
    h.insert("x-tokenization-time", ms(work.timing.tokenization));
    h.insert("x-queue-time", ms(work.timing.queue));
    h.insert("x-inference-time", ms(work.timing.inference));
    response.extensions_mut().insert(work);
    response
}
