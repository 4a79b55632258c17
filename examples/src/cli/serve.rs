//! `retune serve --model M [--reranker R] [--host 127.0.0.1] [--port 8080] ...`: the models
//! behind OpenAI's `/v1/embeddings` and text-embeddings-inference's routes (retune-serve),
//! bound to loopback unless told otherwise, until Ctrl+C or SIGTERM.

use crate::{BackendChoice, BackendTask, EngineChoice, dispatch};
use anyhow::Context;
use burn::tensor::backend::{AutodiffBackend, Backend};
use clap::{ArgAction, Parser};
use retune_serve::metrics::Metrics;
use retune_serve::{Embedding, QueueConfig, Reranking, ServeConfig, Server};
use retune_trainer::cross::{CrossEncoder, CrossEncoderConfig};
use retune_trainer::{EncoderConfig, SentenceEncoder};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// The environment variable holding the API key.
pub const API_KEY_VAR: &str = "RETUNE_API_KEY";

/// A key that never shows in `Debug` output.
#[derive(Clone)]
pub struct Key(String);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

fn key(s: &str) -> Result<Key, String> {
    if s.trim().is_empty() {
        Err("the key is empty".into())
    } else {
        Ok(Key(s.trim().to_owned()))
    }
}

/// Serve an embedder and / or a re-ranker over HTTP.
#[derive(Parser, Debug)]
pub struct ServeArgs {
    /// Embedding model: folder or Hub id (served at /embed, /v1/embeddings, /similarity, /).
    #[arg(long, required_unless_present = "reranker")]
    model: Option<String>,
    /// Cross-encoder re-ranker: folder or Hub id (served at /rerank; at / when no --model).
    #[arg(long)]
    reranker: Option<String>,
    /// Address to listen on (loopback by default; 0.0.0.0 to accept other machines).
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// Port (0: any free port; the one chosen is printed).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Key clients must send as `Authorization: Bearer KEY`. Prefer the RETUNE_API_KEY
    /// environment variable: a flag shows in the process list.
    #[arg(long, value_parser = key)]
    api_key: Option<Key>,
    /// Real tokens per batch on the engine.
    #[arg(long, default_value_t = 16_384, value_parser = crate::cli::ranges::at_least_one)]
    max_batch_tokens: usize,
    /// Requests per batch (default: bounded by tokens only).
    #[arg(long, value_parser = crate::cli::ranges::at_least_one)]
    max_batch_requests: Option<usize>,
    /// Most inputs in one request (a larger batch is answered 422).
    #[arg(long, default_value_t = 32, value_parser = crate::cli::ranges::at_least_one)]
    max_client_batch_size: usize,
    /// Requests in flight at once (beyond: 429).
    #[arg(long, default_value_t = 512, value_parser = crate::cli::ranges::at_least_one)]
    max_concurrent_requests: usize,
    /// Largest request body (B, KB, MB, KiB, MiB; beyond: 413).
    #[arg(long, default_value = "2MB", value_parser = crate::cli::ranges::bytes)]
    payload_limit: usize,
    /// Truncate inputs longer than the model takes unless a request sends `truncate: false`
    /// (with false, they are answered 413 unless a request sends `truncate: true`).
    #[arg(long, default_value_t = true, action = ArgAction::Set)]
    auto_truncate: bool,
    /// Longest (query, text) pair the re-ranker reads, in tokens.
    #[arg(long, default_value_t = 512, value_parser = crate::cli::ranges::at_least_one)]
    reranker_max_length: usize,
    /// No line per request on stderr.
    #[arg(long)]
    quiet: bool,
    /// Compute backend.
    #[arg(long, value_enum, default_value_t = BackendChoice::Cpu)]
    backend: BackendChoice,
    /// Inference engine: `auto` (fused on the CPU, Burn elsewhere), `burn`, `fused` or
    /// `fused-bf16`.
    #[arg(long, value_enum, default_value_t = EngineChoice::Auto)]
    engine: EngineChoice,
}

impl ServeArgs {
    fn config(&self) -> ServeConfig {
        let api_key = self.api_key.clone().map(|k| k.0).or_else(|| {
            std::env::var(API_KEY_VAR)
                .ok()
                .filter(|k| !k.trim().is_empty())
        });
        ServeConfig {
            max_client_batch_size: self.max_client_batch_size,
            max_concurrent_requests: self.max_concurrent_requests,
            payload_limit: self.payload_limit,
            auto_truncate: self.auto_truncate,
            api_key,
            log_requests: !self.quiet,
            queue: QueueConfig {
                max_batch_tokens: self.max_batch_tokens,
                max_batch_requests: self.max_batch_requests,
            },
        }
    }
}

impl BackendTask for ServeArgs {
    type Output = ();

    fn run<B: Backend, A: AutodiffBackend<InnerBackend = B>>(
        self,
        device: B::Device,
        _: A::Device,
    ) -> anyhow::Result<()> {
        let config = self.config();
        let metrics = Arc::new(Metrics::default());
        let embedding = match &self.model {
            Some(m) => {
                let c = EncoderConfig::new(m).with_engine(self.engine.into());
                let enc = SentenceEncoder::<B>::load(&c, &device)
                    .with_context(|| format!("loading {m}"))?;
                Some(Embedding::new(enc, config.queue, Some(metrics.clone())))
            }
            None => None,
        };
        let reranking = match &self.reranker {
            Some(r) => {
                let c = CrossEncoderConfig {
                    max_length: self.reranker_max_length,
                    engine: self.engine.into(),
                    ..CrossEncoderConfig::new(r)
                };
                let cross =
                    CrossEncoder::<B>::load(&c, &device).with_context(|| format!("loading {r}"))?;
                anyhow::ensure!(
                    cross.head_loaded,
                    "{r} has no classification head: it is not a re-ranker (fine-tune one with `retune finetune-reranker`)"
                );
                Some(Reranking::new(cross, config.queue, Some(metrics.clone())))
            }
            None => None,
        };
        let server = Server::new(config, embedding, reranking, metrics)?;
        let addr = SocketAddr::new(self.host, self.port);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("starting the async runtime")?;
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr}"))?;
            let local = listener.local_addr().context("reading the bound address")?;
            eprintln!("retune serve: listening on http://{local}");
            server
                .run(listener, retune_serve::http::shutdown_signal())
                .await?;
            eprintln!("retune serve: stopped");
            Ok(())
        })
    }
}

/// Loads the models and serves until Ctrl+C or SIGTERM.
pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let backend = args.backend;
    dispatch(backend, args)
}
