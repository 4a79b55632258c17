//! The HTTP server: text-embeddings-inference's routes and OpenAI's `/v1/embeddings` over the
//! served models, with TEI's limits and status codes, an optional API key, a per-request log
//! line on stderr, Prometheus metrics, and graceful shutdown (stop accepting, answer what was
//! accepted, return).

mod body;
mod info;
mod openai;
mod respond;
mod tei;

pub use respond::{ApiError, Work};

use crate::ServeError;
use crate::metrics::Metrics;
use crate::models::{Embedding, Reranking};
use crate::queue::QueueConfig;
use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The server's limits and switches (text-embeddings-inference's names and defaults).
#[derive(Clone, PartialEq, Eq)]
pub struct ServeConfig {
    /// Most inputs in one request (a larger batch is a 422).
    pub max_client_batch_size: usize,
    /// Requests in flight at once (beyond it: 429).
    pub max_concurrent_requests: usize,
    /// Largest request body in bytes (beyond it: 413).
    pub payload_limit: usize,
    /// Truncate over-long inputs unless a request says otherwise (else they are a 413).
    pub auto_truncate: bool,
    /// When set, every route but `/health` needs `Authorization: Bearer KEY`.
    pub api_key: Option<String>,
    /// Print one line per request on stderr.
    pub log_requests: bool,
    /// How the models' queues pack batches (pass it to [`Embedding::new`] and
    /// [`Reranking::new`]; `/info` reports it).
    pub queue: QueueConfig,
}

impl std::fmt::Debug for ServeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeConfig")
            .field("max_client_batch_size", &self.max_client_batch_size)
            .field("max_concurrent_requests", &self.max_concurrent_requests)
            .field("payload_limit", &self.payload_limit)
            .field("auto_truncate", &self.auto_truncate)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("log_requests", &self.log_requests)
            .field("queue", &self.queue)
            .finish()
    }
}

impl Default for ServeConfig {
    /// 32 inputs per request, 512 requests in flight, 2 MB bodies, truncation on, batches of
    /// 16,384 tokens.
    fn default() -> Self {
        Self {
            max_client_batch_size: 32,
            max_concurrent_requests: 512,
            payload_limit: 2_000_000,
            auto_truncate: true,
            api_key: None,
            log_requests: true,
            queue: QueueConfig::default(),
        }
    }
}

/// What every handler sees.
pub struct State {
    config: ServeConfig,
    embedding: Option<Embedding>,
    reranking: Option<Reranking>,
    metrics: Arc<Metrics>,
    permits: Arc<Semaphore>,
    ready: AtomicBool,
    started: Instant,
}

impl State {
    /// A slot among `--max-concurrent-requests`, or 429.
    fn permit(&self) -> Result<OwnedSemaphorePermit, ServeError> {
        self.permits
            .clone()
            .try_acquire_owned()
            .map_err(|_| ServeError::Overloaded {
                limit: self.config.max_concurrent_requests,
            })
    }

    fn embedding(&self) -> Result<&Embedding, ServeError> {
        self.embedding.as_ref().ok_or_else(|| {
            ServeError::validation("this server has no embedding model (start it with --model)")
        })
    }

    fn reranking(&self) -> Result<&Reranking, ServeError> {
        self.reranking.as_ref().ok_or_else(|| {
            ServeError::validation("this server has no re-ranker (start it with --reranker)")
        })
    }

    /// The request's `truncate`, else the server's `--auto-truncate`.
    fn truncate(&self, asked: Option<bool>) -> bool {
        asked.unwrap_or(self.config.auto_truncate)
    }
}

/// A configured server around one or both models.
pub struct Server {
    state: Arc<State>,
}

impl Server {
    /// A server for `embedding` and / or `reranking` (at least one); `metrics` should be the
    /// observer their queues were started with.
    pub fn new(
        config: ServeConfig,
        embedding: Option<Embedding>,
        reranking: Option<Reranking>,
        metrics: Arc<Metrics>,
    ) -> Result<Self, ServeError> {
        if embedding.is_none() && reranking.is_none() {
            return Err(ServeError::validation(
                "nothing to serve: give an embedding model, a re-ranker, or both",
            ));
        }
        if config.max_client_batch_size == 0 || config.max_concurrent_requests == 0 {
            return Err(ServeError::validation(
                "--max-client-batch-size and --max-concurrent-requests must be at least 1",
            ));
        }
        Ok(Self {
            state: Arc::new(State {
                permits: Arc::new(Semaphore::new(config.max_concurrent_requests)),
                config,
                embedding,
                reranking,
                metrics,
                ready: AtomicBool::new(false),
                started: Instant::now(),
            }),
        })
    }

    /// The routes, with the key check, the payload limit, metrics and the request log.
    pub fn router(&self) -> Router {
        let s = &self.state;
        Router::new()
            .route("/", post(tei::root))
            .route("/embed", post(tei::embed))
            .route("/rerank", post(tei::rerank))
            .route("/similarity", post(tei::similarity))
            .route("/tokenize", post(tei::tokenize))
            .route("/v1/embeddings", post(openai::embeddings))
            .route("/embeddings", post(openai::embeddings))
            .route("/info", get(info::info))
            .route("/health", get(info::health))
            .route("/metrics", get(info::metrics))
            .fallback(not_found)
            .layer(middleware::from_fn_with_state(s.clone(), check_key))
            .layer(middleware::from_fn_with_state(s.clone(), observe))
            .layer(DefaultBodyLimit::max(s.config.payload_limit))
            .with_state(s.clone())
    }

    /// Runs one request through each model so `/health` answers 200 only once they answer.
    pub async fn warm_up(&self) -> Result<(), ServeError> {
        if let Some(e) = &self.state.embedding {
            e.embed(&["warm up"], &crate::EmbedOptions::default())
                .await?;
        }
        if let Some(r) = &self.state.reranking {
            r.score(&[("warm", "up")], true).await?;
        }
        self.state.ready.store(true, Ordering::SeqCst);
        Ok(())
    }

    /// Serves on `listener` until `shutdown` completes, then stops accepting, answers every
    /// request already accepted, and returns.
    pub async fn run(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        let app = self.router();
        let warm = tokio::spawn(async move {
            let r = self.warm_up().await;
            if let Err(e) = &r {
                eprintln!("retune serve: the model failed its first request: {e}");
            }
            r
        });
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(|source| ServeError::Io { source });
        warm.abort();
        served
    }
}

/// Completes on Ctrl+C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

async fn not_found(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError(ServeError::NotFound {
        method: method.to_string(),
        path: uri.path().to_owned(),
    })
}

/// Equal in time whatever the first differing byte.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// With a key configured, every route but `/health` needs `Authorization: Bearer KEY`.
async fn check_key(
    axum::extract::State(state): axum::extract::State<Arc<State>>,
    req: Request,
    next: Next,
) -> Response {
    if let Some(key) = &state.config.api_key
        && req.uri().path() != "/health"
    {
        let given = req
            .headers()
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        if !same_secret(given.trim().as_bytes(), key.as_bytes()) {
            return ApiError(ServeError::Unauthorized).into_response();
        }
    }
    next.run(req).await
}

/// Counts every answer by route and status, times it, and prints the request log line.
async fn observe(
    axum::extract::State(state): axum::extract::State<Arc<State>>,
    req: Request,
    next: Next,
) -> Response {
    let t0 = Instant::now();
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(req).await;
    let status = response.status().as_u16();
    let elapsed = t0.elapsed();
    state.metrics.request(&route, status, elapsed);
    let work = response.extensions().get::<Work>().copied();
    if let Some(w) = &work {
        state.metrics.queued(w.timing.queue);
    }
    if state.config.log_requests {
        let w = work.unwrap_or_default();
        eprintln!(
            "retune serve: {method} {route} {status} inputs={} tokens={} queue_ms={:.2} inference_ms={:.2} total_ms={:.2}",
            w.inputs,
            w.tokens,
            w.timing.queue.as_secs_f64() * 1e3,
            w.timing.inference.as_secs_f64() * 1e3,
            elapsed.as_secs_f64() * 1e3,
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_comparison_needs_every_byte() {
        assert!(same_secret(b"abc", b"abc"));
        assert!(!same_secret(b"abc", b"abd"));
        assert!(!same_secret(b"abc", b"abcd"));
        assert!(!same_secret(b"", b"a"));
    }

    #[test]
    fn debug_never_shows_the_key() {
        let c = ServeConfig {
            api_key: Some("sk-serve-secret".into()),
            ..ServeConfig::default()
        };
        let text = format!("{c:?}");
        assert!(
            !text.contains("sk-serve-secret") && text.contains("redacted"),
            "{text}"
        );
    }
}
