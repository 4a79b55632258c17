//! `retune review --input generated.jsonl --output cleaned.jsonl [--categories categories.json]
//! [--port P] [--host ADDR]`: the review queue in the browser. Serves a page on 127.0.0.1
//! (another address only with `--host`) and prints its URL. Approve (Ctrl+E), Skip (Ctrl+R),
//! Undo; every decision goes to `cleaned.decisions.jsonl` beside the output as it happens, and
//! a restart resumes where the person stopped.

use crate::review_server::{ReviewApp, router};
use anyhow::Context;
use clap::Parser;
use retune_data::load_categories;
use retune_data::review::ReviewQueue;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

/// Review generated transactions in the browser.
#[derive(Parser, Debug)]
pub struct ReviewArgs {
    /// Generated transactions (JSONL).
    #[arg(long)]
    input: PathBuf,
    /// Approved transactions (rebuilt from the decisions log after every decision).
    #[arg(long)]
    output: PathBuf,
    /// Known categories (the expense category becomes a dropdown of these).
    #[arg(long)]
    categories: Option<PathBuf>,
    /// Port (0: any free one).
    #[arg(long, default_value_t = 8501)]
    port: u16,
    /// Address to listen on; anything but loopback exposes the queue to the network.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    host: IpAddr,
}

/// Runs the subcommand.
pub fn run(args: ReviewArgs) -> anyhow::Result<()> {
    let categories = match &args.categories {
        Some(p) => load_categories(p)?
            .into_iter()
            .map(|c| c.category)
            .collect(),
        None => Vec::new(),
    };
    let queue = ReviewQueue::open(&args.input, &args.output, categories)?;
    let p = queue.progress();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(SocketAddr::new(args.host, args.port))
            .await
            .with_context(|| format!("listening on {}:{}", args.host, args.port))?;
        let addr = listener.local_addr()?;
        if !args.host.is_loopback() {
            eprintln!("warning: listening on {addr}: anyone who can reach it and has the page's token can review");
        }
        let log = queue.log_path().display().to_string();
        let app = ReviewApp::new(queue, addr);
        println!("review {} transactions at http://{addr}/", p.total);
        eprintln!(
            "{} approved, {} skipped so far; decisions log {log}; output {}",
            p.approved,
            p.skipped,
            args.output.display()
        );
        axum::serve(listener, router(app))
            .await
            .context("serving the review page")
    })
}
