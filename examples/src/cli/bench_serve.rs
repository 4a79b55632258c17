//! `retune bench serve --model M --input TEXTS.jsonl [--concurrency 1,8,64] [--requests 2000]`:
//! the same texts embedded offline (as `retune embed` does, batch 32) and through `retune
//! serve`'s HTTP API in one process, one text per request, at each concurrency: texts/s,
//! requests/s, p50 and p99 latency, the server's rate against the offline one, and memory.
//! A benchmark, not a test: compare ratios measured side by side.

use crate::{BackendChoice, BackendTask, EngineChoice, dispatch, read_text_field};
use anyhow::Context;
use burn::tensor::backend::{AutodiffBackend, Backend};
use clap::Parser;
use retune_serve::metrics::Metrics;
use retune_serve::{Embedding, ServeConfig, Server};
use retune_trainer::{EncoderConfig, SentenceEncoder};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Time serving against offline embedding.
#[derive(Parser, Debug)]
pub struct BenchServeArgs {
    /// Model folder or Hub id.
    #[arg(long)]
    model: String,
    /// JSONL input, one text per line.
    #[arg(long)]
    input: PathBuf,
    /// Field of each record holding the text.
    #[arg(long, default_value = "text")]
    field: String,
    /// Client concurrencies to time, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,8,64", value_parser = crate::cli::ranges::at_least_one)]
    concurrency: Vec<usize>,
    /// Requests per concurrency (one text each).
    #[arg(long, default_value_t = 2_000, value_parser = crate::cli::ranges::at_least_one)]
    requests: usize,
    /// Compute backend.
    #[arg(long, value_enum, default_value_t = BackendChoice::Cpu)]
    backend: BackendChoice,
    /// Inference engine.
    #[arg(long, value_enum, default_value_t = EngineChoice::Auto)]
    engine: EngineChoice,
}

/// One concurrency's numbers.
struct Run {
    texts_per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    failed: usize,
}

/// `n` requests of one text each from `concurrency` keep-alive clients.
fn load(url: &str, texts: &[String], concurrency: usize, n: usize) -> Run {
    let next = AtomicUsize::new(0);
    let failed = AtomicUsize::new(0);
    let t0 = Instant::now();
    let mut latencies: Vec<Duration> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..concurrency)
            .map(|_| {
                scope.spawn(|| {
                    let client = reqwest::blocking::Client::new();
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= n {
                            return mine;
                        }
                        let body = serde_json::json!({"inputs": texts[i % texts.len()]});
                        let start = Instant::now();
                        let ok = client
                            .post(format!("{url}/embed"))
                            .json(&body)
                            .send()
                            .and_then(|r| r.error_for_status())
                            .and_then(|r| r.bytes())
                            .is_ok();
                        if !ok {
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                        mine.push(start.elapsed());
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("client thread"))
            .collect()
    });
    let wall = t0.elapsed().as_secs_f64();
    latencies.sort();
    let at =
        |q: f64| latencies[((latencies.len() - 1) as f64 * q).round() as usize].as_secs_f64() * 1e3;
    Run {
        texts_per_s: n as f64 / wall,
        p50_ms: at(0.5),
        p99_ms: at(0.99),
        failed: failed.load(Ordering::Relaxed),
    }
}

/// Serves `embedding` on 127.0.0.1 from a background runtime; returns its URL.
fn serve_in_background(
    embedding: Embedding,
    metrics: Arc<Metrics>,
    config: ServeConfig,
) -> anyhow::Result<String> {
    let server = Server::new(config, Some(embedding), None, metrics)?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind loopback");
            tx.send(listener.local_addr().expect("bound address"))
                .expect("report address");
            let _ = server.run(listener, std::future::pending()).await;
        });
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(30))
        .context("the server did not start")?;
    let url = format!("http://{addr}");
    let deadline = Instant::now() + Duration::from_secs(120);
    while !reqwest::blocking::get(format!("{url}/health")).is_ok_and(|r| r.status().is_success()) {
        anyhow::ensure!(Instant::now() < deadline, "the server never became healthy");
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(url)
}

impl BackendTask for BenchServeArgs {
    type Output = ();

    fn run<B: Backend, A: AutodiffBackend<InnerBackend = B>>(
        self,
        device: B::Device,
        _: A::Device,
    ) -> anyhow::Result<()> {
        let texts = read_text_field(&self.input, &self.field)?;
        anyhow::ensure!(!texts.is_empty(), "{}: no texts", self.input.display());
        let config = EncoderConfig::new(&self.model).with_engine(self.engine.into());
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        // Offline first, alone, as `retune embed` runs it; its copy is dropped before serving.
        let offline_rate = {
            let offline = SentenceEncoder::<B>::load(&config, &device)
                .with_context(|| format!("loading {}", self.model))?;
            offline.encode(&refs)?;
            let t0 = Instant::now();
            let mut done = 0;
            while done < self.requests.max(texts.len()) {
                offline.encode(&refs)?;
                done += refs.len();
            }
            done as f64 / t0.elapsed().as_secs_f64()
        };
        let served = SentenceEncoder::<B>::load(&config, &device)?;
        let metrics = Arc::new(Metrics::default());
        let serve_config = ServeConfig {
            log_requests: false,
            ..ServeConfig::default()
        };
        let embedding = Embedding::new(served, serve_config.queue, Some(metrics.clone()));
        let url = serve_in_background(embedding, metrics, serve_config)?;
        println!("model {}: {} texts", self.model, texts.len());
        println!("offline (batch 32, as `retune embed`): {offline_rate:.1} texts/s");
        println!("| concurrency | texts/s = requests/s | p50 ms | p99 ms | of offline | failed |");
        println!("|---|---|---|---|---|---|");
        load(&url, &texts, 8, 200.min(self.requests));
        for &c in &self.concurrency {
            let r = load(&url, &texts, c, self.requests);
            println!(
                "| {c} | {:.1} | {:.2} | {:.2} | {:.0}% | {} |",
                r.texts_per_s,
                r.p50_ms,
                r.p99_ms,
                100.0 * r.texts_per_s / offline_rate,
                r.failed
            );
        }
        println!(
            "peak memory of the run (the offline copy, then the server and its clients): {:.0} MB",
            crate::alloc::peak_rss_mb().unwrap_or(f64::NAN)
        );
        Ok(())
    }
}

/// Runs the benchmark.
pub fn run(args: BenchServeArgs) -> anyhow::Result<()> {
    let backend = args.backend;
    dispatch(backend, args)
}
