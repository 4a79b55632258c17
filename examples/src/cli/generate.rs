//! `retune generate --categories categories.json --count N --output generated.jsonl
//! [--examples cleaned.jsonl --few-shot 10] [--model M] [--base-url URL] [--concurrency N]`:
//! synthetic transactions from any OpenAI-compatible server (OpenAI, Ollama, vLLM,
//! llama.cpp) with structured output, checked and re-asked on invalid answers, appended one
//! flushed line at a time. A rerun with a larger `--count` continues where the last stopped.
//!
//! With `--examples` the `ambiguous` prompt is used (the refinement loop: transactions that
//! could fit the category or a similar one, with few-shot examples from the approved set);
//! `--template FILE` replaces the prompt (minijinja; variables `category`, `categories`,
//! `examples`).

use anyhow::{Context, bail};
use clap::{Parser, ValueEnum};
use retune_data::generate::{
    AskConfig, GenerateConfig, PromptKind, PromptTemplate, generate, printable,
};
use retune_data::paths::{Named, check_distinct};
use retune_data::{Llm, ReadMode, Transaction, load_categories, read_jsonl};
use retune_providers::openai::{OPENAI_BASE_URL, OpenAiChat};
use retune_providers::{ApiKey, HttpConfig, RetryPolicy};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Prompt {
    /// A transaction of the category, unlike its samples.
    Transaction,
    /// A deliberately ambiguous transaction, with few-shot examples.
    Ambiguous,
}

/// Generate synthetic transactions with an LLM.
#[derive(Parser, Debug)]
pub struct GenerateArgs {
    /// The categories (`[{category, sample_transactions, departments, description?}]`).
    #[arg(long)]
    categories: PathBuf,
    /// Transactions the output should hold when done (what it holds already counts).
    #[arg(long, value_parser = crate::cli::ranges::at_least_one, allow_negative_numbers = true)]
    count: usize,
    /// Output JSONL (appended to; created if missing).
    #[arg(long)]
    output: PathBuf,
    /// Approved transactions for the few-shot examples (e.g. cleaned.jsonl).
    #[arg(long)]
    examples: Option<PathBuf>,
    /// Examples per prompt.
    #[arg(long, default_value_t = 10)]
    few_shot: usize,
    /// Which prompt (default: ambiguous with --examples, else transaction).
    #[arg(long, value_enum)]
    prompt: Option<Prompt>,
    /// A minijinja file replacing the prompt.
    #[arg(long)]
    template: Option<PathBuf>,
    /// Model name.
    #[arg(long, default_value = "gpt-4o-mini")]
    model: String,
    /// Server base URL including /v1 (default: OPENAI_BASE_URL, else OpenAI's).
    #[arg(long)]
    base_url: Option<String>,
    /// API key (default: OPENAI_API_KEY; local servers may need none). Never printed.
    #[arg(long)]
    api_key: Option<String>,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 4, value_parser = crate::cli::ranges::at_least_one, allow_negative_numbers = true)]
    concurrency: usize,
    /// Re-asks after an invalid answer.
    #[arg(long, default_value_t = 2)]
    max_retries: u32,
    /// Sampling temperature.
    #[arg(long, default_value_t = 1.0, value_parser = crate::cli::ranges::temperature, allow_negative_numbers = true)]
    temperature: f32,
    /// Seconds before a request counts as hung.
    #[arg(long, default_value_t = 120.0, value_parser = crate::cli::ranges::positive, allow_negative_numbers = true)]
    timeout_seconds: f64,
    /// Retries of a failed request (429, 5xx, timeouts), within --retry-budget-seconds.
    #[arg(long, default_value_t = 4)]
    http_retries: u32,
    /// Total seconds one request may spend on retries and waits.
    #[arg(long, default_value_t = 300.0, value_parser = crate::cli::ranges::positive, allow_negative_numbers = true)]
    retry_budget_seconds: f64,
    /// Seed of the few-shot sampling.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

/// Runs the subcommand.
pub fn run(args: GenerateArgs) -> anyhow::Result<()> {
    let mut inputs = vec![Named::new("--categories", &args.categories)];
    for (option, path) in [
        ("--examples", &args.examples),
        ("--template", &args.template),
    ] {
        if let Some(p) = path {
            inputs.push(Named::new(option, p));
        }
    }
    check_distinct(&inputs, &[Named::new("--output", &args.output)])?;
    let categories = load_categories(&args.categories)?;
    let examples: Vec<Transaction> = match &args.examples {
        Some(p) => read_jsonl::<Transaction>(p, ReadMode::Strict)?.0,
        None => Vec::new(),
    };
    let kind = match args.prompt.unwrap_or(if args.examples.is_some() {
        Prompt::Ambiguous
    } else {
        Prompt::Transaction
    }) {
        Prompt::Transaction => PromptKind::Transaction,
        Prompt::Ambiguous => PromptKind::Ambiguous,
    };
    let template = match &args.template {
        Some(p) => PromptTemplate::from_file(kind, p)?,
        None => PromptTemplate::builtin(kind),
    };
    let base_url = args
        .base_url
        .clone()
        .or_else(|| std::env::var("OPENAI_BASE_URL").ok())
        .unwrap_or_else(|| OPENAI_BASE_URL.to_string());
    let key = match ApiKey::from_flag_or_env(args.api_key.as_deref(), "OPENAI_API_KEY") {
        Ok(k) => Some(k),
        Err(_) if !base_url.starts_with(OPENAI_BASE_URL) => None,
        Err(e) => bail!("{e}"),
    };
    let mut http = HttpConfig::new(&base_url, key);
    http.request_timeout = Duration::from_secs_f64(args.timeout_seconds);
    http.retry = RetryPolicy {
        max_retries: args.http_retries,
        total_budget: Duration::from_secs_f64(args.retry_budget_seconds),
        on_retry: Some(Arc::new(|e| {
            eprintln!(
                "  request failed ({}); retry {} in {:.1} s",
                e.error,
                e.attempt,
                e.wait.as_secs_f64()
            )
        })),
        ..RetryPolicy::default()
    };
    let llm = OpenAiChat::new(http, &args.model)?;
    let config = GenerateConfig {
        count: args.count,
        concurrency: args.concurrency,
        ask: AskConfig {
            max_retries: args.max_retries,
            temperature: Some(args.temperature),
            ..AskConfig::default()
        },
        few_shot: if kind == PromptKind::Ambiguous {
            args.few_shot
        } else {
            0
        },
        seed: args.seed,
        ..GenerateConfig::default()
    };
    eprintln!(
        "generating up to {} transactions over {} categories with {} at {base_url} ({:?} prompt, {} in flight)",
        args.count,
        categories.len(),
        llm.model_id(),
        kind,
        args.concurrency
    );
    let start = Instant::now();
    let count = args.count;
    let report = generate(
        &llm,
        &categories,
        &template,
        &examples,
        &args.output,
        &config,
        &|t, n| {
            eprintln!(
                "[{n:>5}/{count}] {:<32} {}",
                printable(&t.expense_category),
                printable(&t.merchant_name)
            )
        },
    )
    .with_context(|| format!("generating into {}", args.output.display()))?;
    eprintln!(
        "{}: {} existing + {} new in {:.1} s; {} re-asked; {} near-duplicates skipped ({} slots given up); {} refused; {} cut off; {} invalid after {} attempts; tokens: {} prompt + {} completion",
        args.output.display(),
        report.existing,
        report.written,
        start.elapsed().as_secs_f64(),
        report.reasked,
        report.duplicates,
        report.duplicate_slots_given_up,
        report.refused.len(),
        report.truncated.len(),
        report.invalid.len(),
        args.max_retries + 1,
        report.usage.prompt_tokens,
        report.usage.completion_tokens
    );
    for (c, r) in &report.refused {
        eprintln!("  refused ({}): {}", printable(c), printable(r));
    }
    for (c, e) in &report.invalid {
        eprintln!(
            "  invalid ({}): {}",
            printable(c),
            printable(&e.replace('\n', " | "))
        );
    }
    if !report.unreadable_lines.is_empty() {
        eprintln!(
            "  lines of {} that do not parse (kept, not counted): {:?}",
            args.output.display(),
            report.unreadable_lines
        );
    }
    if let Some(e) = report.error {
        bail!("stopped early: {e} (everything written so far is kept; rerun to continue)");
    }
    let have = report.existing + report.written;
    if have < args.count {
        bail!(
            "{} holds {have} of the {} records asked for: {} invalid after {} attempts, {} refused, {} cut off, {} slots given up as near-duplicates (see above; rerun to try the missing ones again)",
            args.output.display(),
            args.count,
            report.invalid.len(),
            args.max_retries + 1,
            report.refused.len(),
            report.truncated.len(),
            report.duplicate_slots_given_up,
        );
    }
    Ok(())
}
