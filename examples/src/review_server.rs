//! The review queue in the browser: a small HTTP server on 127.0.0.1 (another address only
//! when asked) over a [`ReviewQueue`]. The page shows one transaction at a time with every
//! field editable; the JSON API behind it approves, skips, undoes and lists the queue.
//!
//! Record text is untrusted LLM output: the page builds every element with `textContent` and
//! form values (never HTML from data), and a Content-Security-Policy allows only the page's own
//! script (by nonce), so even injected markup could not run. Requests that change state carry
//! the per-session token the page was served with (`x-review-token`), so another page in the
//! browser cannot post into the queue; the `Host` header must name the server, which stops DNS
//! rebinding.

use axum::extract::{Path as UrlPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use rand::Rng;
use retune_data::DataError;
use retune_data::Transaction;
use retune_data::review::ReviewQueue;
use serde::Deserialize;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

const PAGE: &str = include_str!("../assets/review.html");

/// Shared server state.
pub struct ReviewApp {
    queue: Mutex<ReviewQueue>,
    token: String,
    hosts: Vec<String>,
}

fn random_hex(bytes: usize) -> String {
    let mut rng = rand::rng();
    (0..bytes)
        .map(|_| format!("{:02x}", rng.random::<u8>()))
        .collect()
}

impl ReviewApp {
    /// Wraps a queue for serving at `addr`; a fresh session token is drawn.
    pub fn new(queue: ReviewQueue, addr: SocketAddr) -> Arc<Self> {
        let port = addr.port();
        let mut hosts = vec![format!("{addr}")];
        if addr.ip().is_loopback() {
            hosts.push(format!("localhost:{port}"));
            hosts.push(format!("127.0.0.1:{port}"));
        }
        Arc::new(Self {
            queue: Mutex::new(queue),
            token: random_hex(16),
            hosts,
        })
    }

    /// The session token (tests use it to call the API as the page does).
    pub fn token(&self) -> &str {
        &self.token
    }
}

/// The router: `GET /`, `GET /api/state`, `GET /api/items/{id}`,
/// `POST /api/items/{id}/approve` (`{"record": {...}}` optional), `POST /api/items/{id}/skip`,
/// `POST /api/undo`.
pub fn router(app: Arc<ReviewApp>) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/api/state", get(state))
        .route("/api/items/{id}", get(item))
        .route("/api/items/{id}/approve", post(approve))
        .route("/api/items/{id}/skip", post(skip))
        .route("/api/undo", post(undo))
        .layer(middleware::from_fn_with_state(app.clone(), guard))
        .with_state(app)
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({"error": message.into()}))).into_response()
}

async fn guard(State(app): State<Arc<ReviewApp>>, req: Request, next: Next) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if !app.hosts.iter().any(|h| h == host) {
        return error(StatusCode::FORBIDDEN, "unexpected Host header");
    }
    if req.method() != axum::http::Method::GET {
        let token = req
            .headers()
            .get("x-review-token")
            .and_then(|h| h.to_str().ok());
        if token != Some(app.token.as_str()) {
            return error(StatusCode::FORBIDDEN, "missing or wrong session token");
        }
    }
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    resp
}

async fn page(State(app): State<Arc<ReviewApp>>) -> Response {
    let nonce = random_hex(16);
    let html = PAGE
        .replace("__TOKEN__", &app.token)
        .replace("__NONCE__", &nonce);
    let mut resp = Html(html).into_response();
    let csp = format!(
        "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'none'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
    );
    resp.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_str(&csp).expect("ascii header"),
    );
    resp
}

fn progress_json(q: &ReviewQueue) -> Value {
    serde_json::to_value(q.progress()).expect("progress serializes")
}

async fn state(State(app): State<Arc<ReviewApp>>) -> Response {
    let q = app.queue.lock().expect("queue lock");
    let items: Vec<Value> = (0..q.len())
        .map(|i| {
            let t = q.shown(i).expect("index in range");
            json!({"id": i, "status": q.status(i), "merchant_name": t.merchant_name, "expense_category": t.expense_category})
        })
        .collect();
    Json(json!({"progress": progress_json(&q), "categories": q.categories(), "items": items}))
        .into_response()
}

async fn item(State(app): State<Arc<ReviewApp>>, UrlPath(id): UrlPath<String>) -> Response {
    let q = app.queue.lock().expect("queue lock");
    let Some(i) = id.parse::<usize>().ok().filter(|&i| i < q.len()) else {
        return error(StatusCode::NOT_FOUND, format!("no item {id}"));
    };
    Json(json!({"id": i, "status": q.status(i), "record": q.shown(i), "original": q.original(i)}))
        .into_response()
}

#[derive(Deserialize)]
struct ApproveBody {
    #[serde(default)]
    record: Option<Value>,
}

fn outcome(q: &ReviewQueue, r: Result<(), DataError>) -> Response {
    match r {
        Ok(()) => Json(json!({"progress": progress_json(q)})).into_response(),
        Err(DataError::NoSuchItem { item: i }) => {
            error(StatusCode::NOT_FOUND, format!("no item {i}"))
        }
        Err(DataError::InvalidEdit { problems, .. }) => {
            let errors: Vec<Value> = problems
                .iter()
                .map(|(f, p)| json!({"field": f, "problem": p}))
                .collect();
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(json!({"error": "invalid edit", "errors": errors})),
            )
                .into_response()
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

fn parse_id(id: &str) -> Result<usize, Box<Response>> {
    id.parse()
        .map_err(|_| Box::new(error(StatusCode::NOT_FOUND, format!("no item {id}"))))
}

async fn approve(
    State(app): State<Arc<ReviewApp>>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let i = match parse_id(&id) {
        Ok(i) => i,
        Err(r) => return *r,
    };
    let body: ApproveBody = if body.is_empty() {
        ApproveBody { record: None }
    } else {
        if !headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"))
        {
            return error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "send application/json");
        }
        match serde_json::from_slice(&body) {
            Ok(b) => b,
            Err(e) => return error(StatusCode::BAD_REQUEST, format!("body: {e}")),
        }
    };
    let record = match body.record {
        None => None,
        Some(v) => {
            let de = serde_json::to_string(&v).expect("value serializes");
            let de = &mut serde_json::Deserializer::from_str(&de);
            match serde_path_to_error::deserialize::<_, Transaction>(de) {
                Ok(t) => Some(t),
                Err(e) => {
                    let field = e.path().to_string();
                    let errors = vec![json!({"field": field, "problem": e.inner().to_string()})];
                    return (
                        StatusCode::UNPROCESSABLE_ENTITY,
                        Json(json!({"error": "invalid edit", "errors": errors})),
                    )
                        .into_response();
                }
            }
        }
    };
    let mut q = app.queue.lock().expect("queue lock");
    let r = q.approve(i, record);
    outcome(&q, r)
}

async fn skip(State(app): State<Arc<ReviewApp>>, UrlPath(id): UrlPath<String>) -> Response {
    let i = match parse_id(&id) {
        Ok(i) => i,
        Err(r) => return *r,
    };
    let mut q = app.queue.lock().expect("queue lock");
    let r = q.skip(i);
    outcome(&q, r)
}

async fn undo(State(app): State<Arc<ReviewApp>>) -> Response {
    let mut q = app.queue.lock().expect("queue lock");
    match q.undo() {
        Ok(undone) => {
            Json(json!({"undone": undone, "progress": progress_json(&q)})).into_response()
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}
