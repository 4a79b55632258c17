//! A server in a background runtime on 127.0.0.1:0 around the project's tiny models, and the
//! same models loaded directly, to compare against.

use retune_serve::metrics::Metrics;
use retune_serve::{Embedding, Reranking, ServeConfig, Server};
use retune_trainer::backend::{Cpu, cpu_device};
use retune_trainer::cross::{CrossEncoder, CrossEncoderConfig};
use retune_trainer::{EncoderConfig, SentenceEncoder};
use std::path::PathBuf;
use std::sync::Arc;

/// A file or folder of the repository's `fixtures/`.
pub fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures")
        .join(rel)
}

/// The tiny BERT bi-encoder.
pub fn embedder_path() -> String {
    fixture("tiny-bert").to_string_lossy().into_owned()
}

/// The tiny XLM-RoBERTa re-ranker.
pub fn reranker_path() -> String {
    fixture("reference/arch/tiny-xlm-roberta-reranker")
        .to_string_lossy()
        .into_owned()
}

/// The bi-encoder loaded directly.
pub fn encoder(model: &str) -> SentenceEncoder<Cpu> {
    SentenceEncoder::load(&EncoderConfig::new(model), &cpu_device()).unwrap()
}

/// The re-ranker loaded directly, as `serve` loads it.
pub fn cross(model: &str) -> CrossEncoder<Cpu> {
    let config = CrossEncoderConfig {
        max_length: 512,
        ..CrossEncoderConfig::new(model)
    };
    CrossEncoder::load(&config, &cpu_device()).unwrap()
}

/// A running server; dropping it shuts the server down gracefully and waits for it.
pub struct Running {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Running {
    /// `url` + `path`.
    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Serves `embedder` and / or `reranker` with `config`; waits until `/health` says 200.
pub fn start(embedder: Option<&str>, reranker: Option<&str>, config: ServeConfig) -> Running {
    let metrics = Arc::new(Metrics::default());
    let embedding =
        embedder.map(|m| Embedding::new(encoder(m), config.queue, Some(metrics.clone())));
    let reranking = reranker.map(|m| Reranking::new(cross(m), config.queue, Some(metrics.clone())));
    let server = Server::new(config, embedding, reranking, metrics).unwrap();
    let (tx_addr, rx_addr) = std::sync::mpsc::channel();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(4)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx_addr.send(listener.local_addr().unwrap()).unwrap();
            server
                .run(listener, async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
    });
    let url = format!("http://{}", rx_addr.recv().unwrap());
    let client = reqwest::blocking::Client::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let ok = client
            .get(format!("{url}/health"))
            .send()
            .is_ok_and(|r| r.status() == 200);
        if ok {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the server never became healthy"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    Running {
        url,
        stop: Some(stop),
        thread: Some(thread),
    }
}

/// A quiet configuration (no request log in test output).
pub fn quiet() -> ServeConfig {
    ServeConfig {
        log_requests: false,
        ..ServeConfig::default()
    }
}

/// Texts of every kind the parity tests use: short, long, non-Latin, far too long.
pub fn texts() -> Vec<String> {
    let mut t: Vec<String> = [
        "Delta flight to Denver",
        "a",
        "Uber ride from the airport to the client's office",
        "東京駅タクシー",
        "Team lunch at Chipotle, 6 people, client meeting about the Q3 renewal",
        "AWS monthly invoice",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    t.push("expense report line item ".repeat(200));
    t
}

/// POSTs JSON; returns the status and the body as JSON (or as a string when it is not JSON).
pub fn post(url: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
    let r = reqwest::blocking::Client::new()
        .post(url)
        .json(body)
        .send()
        .unwrap();
    let status = r.status().as_u16();
    let text = r.text().unwrap();
    let value = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
    (status, value)
}

/// The vectors of a JSON `[[f32]]`.
pub fn vectors(v: &serde_json::Value) -> Vec<Vec<f32>> {
    serde_json::from_value(v.clone()).unwrap()
}

/// Largest absolute difference between two sets of vectors (same shapes asserted).
pub fn max_diff(a: &[Vec<f32>], b: &[Vec<f32>]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .flat_map(|(x, y)| {
            assert_eq!(x.len(), y.len());
            x.iter().zip(y).map(|(p, q)| (p - q).abs())
        })
        .fold(0.0, f32::max)
}
