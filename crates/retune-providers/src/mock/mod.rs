//! In-process mock servers on 127.0.0.1 (port 0) that follow `../shared/docs/wire-formats.md`:
//! Cohere ([`MockCohere`]) and an OpenAI-compatible chat/embeddings server ([`MockOpenAi`]).
//! Each runs on its own thread and runtime, records every request, injects faults (statuses
//! with `Retry-After`, malformed bodies, hung connections) and stops when dropped.

mod cohere;
mod openai;

pub use cohere::{CohereScenario, MockCohere};
pub use openai::{MockOpenAi, MockReply, Responder, completion};

use std::net::SocketAddr;
use std::time::Duration;

/// A fault to inject: the next `times` requests whose method and path match get `reply`.
#[derive(Debug, Clone)]
pub struct Fault {
    /// HTTP method, e.g. `POST`.
    pub method: String,
    /// Path prefix, e.g. `/v2/rerank`.
    pub path_prefix: String,
    /// How many requests it hits.
    pub times: u32,
    /// What they get.
    pub reply: FaultReply,
}

/// What a faulted request gets.
#[derive(Debug, Clone)]
pub enum FaultReply {
    /// A status with a body and optional `Retry-After`.
    Status {
        /// Status code.
        status: u16,
        /// Body (JSON text or anything).
        body: String,
        /// `Retry-After` header.
        retry_after: Option<String>,
    },
    /// 200 with a body that is not JSON.
    Malformed,
    /// No answer for this long (longer than the client's timeout means a hung connection).
    Hang(Duration),
}

/// A running server; dropping it stops it.
pub(crate) struct Running {
    pub addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Serves `router` on 127.0.0.1:0 on a new thread.
pub(crate) fn serve(router: axum::Router) -> Running {
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("mock runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind 127.0.0.1:0");
            addr_tx
                .send(listener.local_addr().expect("addr"))
                .expect("send addr");
            axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await
                .expect("mock server");
        });
        // hung handlers are abandoned with the runtime
        rt.shutdown_timeout(Duration::from_millis(100));
    });
    let addr = addr_rx.recv().expect("mock server started");
    Running {
        addr,
        shutdown: Some(tx),
        thread: Some(thread),
    }
}

/// Takes a matching fault, if any is left.
pub(crate) fn take_fault(faults: &mut [Fault], method: &str, path: &str) -> Option<FaultReply> {
    let f = faults.iter_mut().find(|f| {
        f.times > 0 && f.method.eq_ignore_ascii_case(method) && path.starts_with(&f.path_prefix)
    })?;
    f.times -= 1;
    Some(f.reply.clone())
}

/// Turns a fault into a response (after sleeping, for a hang).
pub(crate) async fn fault_response(reply: FaultReply) -> axum::response::Response {
    use axum::response::IntoResponse;
    match reply {
        FaultReply::Status {
            status,
            body,
            retry_after,
        } => {
            let mut resp = (
                axum::http::StatusCode::from_u16(status).expect("valid status"),
                [(axum::http::header::CONTENT_TYPE, "application/json")],
                body,
            )
                .into_response();
            if let Some(ra) = retry_after {
                resp.headers_mut().insert(
                    axum::http::header::RETRY_AFTER,
                    ra.parse().expect("header value"),
                );
            }
            resp
        }
        FaultReply::Malformed => (
            axum::http::StatusCode::OK,
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            "{\"results\": [ {\"index\": 0, \"relevance_sc",
        )
            .into_response(),
        FaultReply::Hang(d) => {
            tokio::time::sleep(d).await;
            (axum::http::StatusCode::GATEWAY_TIMEOUT, "late").into_response()
        }
    }
}
