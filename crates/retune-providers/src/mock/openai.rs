//! A mock OpenAI-compatible server: `/v1/chat/completions` answered by a scripted responder
//! (valid or invalid JSON, refusals, `finish_reason: length`, statuses with `Retry-After`,
//! hung connections) and `/v1/embeddings` with deterministic bag-of-words vectors.

use super::{FaultReply, Running, fault_response, serve};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One answer of the mock.
#[derive(Debug, Clone)]
pub enum MockReply {
    /// A 200 chat completion whose message content is this text.
    Content(String),
    /// A 200 completion with `finish_reason: length` and this (cut) content.
    Length(String),
    /// A 200 completion with `content: null` and this refusal.
    Refusal(String),
    /// A 200 with any JSON body.
    Body(Value),
    /// A fault (status, malformed body, hang).
    Fault(FaultReply),
}

impl MockReply {
    /// A status with an OpenAI-style error body.
    pub fn status(status: u16, message: &str, retry_after: Option<&str>) -> Self {
        Self::Fault(FaultReply::Status {
            status,
            body: json!({"error": {"message": message, "type": "requests", "param": null, "code": null}}).to_string(),
            retry_after: retry_after.map(str::to_string),
        })
    }

    /// No answer for `d`.
    pub fn hang(d: Duration) -> Self {
        Self::Fault(FaultReply::Hang(d))
    }
}

/// Decides the answer to chat request number `n` (0-based) with body `body`.
pub type Responder = Arc<dyn Fn(usize, &Value) -> MockReply + Send + Sync>;

struct Shared {
    responder: Responder,
    requests: Mutex<Vec<(String, Value, Option<String>)>>,
    chat_count: Mutex<usize>,
}

/// A running mock OpenAI-compatible server.
pub struct MockOpenAi {
    shared: Arc<Shared>,
    running: Running,
}

impl MockOpenAi {
    /// Starts one.
    pub fn start(responder: Responder) -> Self {
        let shared = Arc::new(Shared {
            responder,
            requests: Mutex::new(Vec::new()),
            chat_count: Mutex::new(0),
        });
        let router = axum::Router::new()
            .fallback(handle)
            .with_state(shared.clone());
        Self {
            running: serve(router),
            shared,
        }
    }

    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        self.running.addr
    }

    /// The base URL including `/v1`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.running.addr)
    }

    /// Bodies of the chat requests so far, in arrival order.
    pub fn chat_requests(&self) -> Vec<Value> {
        self.shared
            .requests
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, _, _)| p.ends_with("/chat/completions"))
            .map(|(_, b, _)| b.clone())
            .collect()
    }

    /// `Authorization` headers seen, in order.
    pub fn auth_headers(&self) -> Vec<Option<String>> {
        self.shared
            .requests
            .lock()
            .unwrap()
            .iter()
            .map(|(_, _, a)| a.clone())
            .collect()
    }
}

/// A completion body with this content and finish reason.
pub fn completion(content: Option<&str>, refusal: Option<&str>, finish: &str) -> Value {
    json!({"id": "chatcmpl-1", "object": "chat.completion", "created": 1700000000u32, "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content, "refusal": refusal},
        "logprobs": null, "finish_reason": finish}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}})
}

async fn handle(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let path = req.uri().path().to_string();
    let auth = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let bytes = match axum::body::to_bytes(req.into_body(), 64 << 20).await {
        Ok(b) => b,
        Err(_) => return (StatusCode::BAD_REQUEST, "unreadable").into_response(),
    };
    let body: Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(e) => {
            let b = json!({"error": {"message": format!("invalid JSON: {e}"), "type": "invalid_request_error", "param": null, "code": null}});
            return (StatusCode::BAD_REQUEST, axum::Json(b)).into_response();
        }
    };
    shared
        .requests
        .lock()
        .unwrap()
        .push((path.clone(), body.clone(), auth));
    if path.ends_with("/chat/completions") {
        let n = {
            let mut c = shared.chat_count.lock().unwrap();
            *c += 1;
            *c - 1
        };
        let reply = (shared.responder)(n, &body);
        match reply {
            MockReply::Content(c) => axum::Json(completion(Some(&c), None, "stop")).into_response(),
            MockReply::Length(c) => {
                axum::Json(completion(Some(&c), None, "length")).into_response()
            }
            MockReply::Refusal(r) => axum::Json(completion(None, Some(&r), "stop")).into_response(),
            MockReply::Body(v) => axum::Json(v).into_response(),
            MockReply::Fault(f) => fault_response(f).await,
        }
    } else if path.ends_with("/embeddings") {
        let inputs: Vec<String> = match &body["input"] {
            Value::String(s) => vec![s.clone()],
            Value::Array(a) => a
                .iter()
                .map(|v| v.as_str().unwrap_or("").to_string())
                .collect(),
            _ => Vec::new(),
        };
        // answered in reverse order, so that clients must sort by index
        let data: Vec<Value> = inputs
            .iter()
            .enumerate()
            .rev()
            .map(|(i, t)| {
                let mut v = vec![0f32; 8];
                for (j, b) in t.bytes().enumerate() {
                    v[(b as usize + j) % 8] += 1.0;
                }
                json!({"object": "embedding", "index": i, "embedding": v})
            })
            .collect();
        axum::Json(json!({"object": "list", "data": data, "model": body["model"], "usage": {"prompt_tokens": 1, "total_tokens": 1}})).into_response()
    } else {
        (StatusCode::NOT_FOUND, axum::Json(json!({"error": {"message": "not found", "type": "invalid_request_error", "param": null, "code": null}}))).into_response()
    }
}
