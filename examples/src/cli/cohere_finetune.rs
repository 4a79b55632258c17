//! `retune cohere-finetune --train T --corpus C --name NAME [--eval E] [--negatives random|hard]
//! [--model english|multilingual] [--hard-negatives N] [--base-url URL] [--poll-seconds S]
//! [--dry-run]`: the course's second notebook. Builds Cohere's re-ranker JSONL from T (each
//! query with N random wrong documents, written twice, as the course did; or N hard negatives
//! mined with a local retriever), validates it against Cohere's rules, uploads it, creates the
//! fine-tune, waits with progress, then, with E, evaluates retrieval alone vs the base rerank
//! model vs the fine-tune with the same code as `evaluate`.
//!
//! Cohere deprecated managed fine-tuning on 2025-09-15 (the endpoints remain in its API
//! spec); retune's local re-ranker (`finetune-reranker`) is the maintained path.

use crate::cache::embed_cached;
use crate::evaluate::metrics_for;

use crate::report::{EvalReport, SystemResult};
use crate::rerank::rerank;
use crate::{BackendChoice, BackendTask, dispatch};
use anyhow::{Context, bail};
use burn::tensor::backend::{AutodiffBackend, Backend};
use clap::{Parser, ValueEnum};
use retune_data::{CorpusDoc, ReadMode, TrainRecord, read_jsonl, write_jsonl_atomic};
use retune_providers::cohere::{
    COHERE_BASE_URL, CohereClient, CohereReranker, CohereRules, FinetunedModel, NegativeSource,
    PollConfig, build_rerank_items, validate_rerank_file,
};
use retune_providers::{ApiKey, HttpConfig, RetryPolicy};
use retune_trainer::train::{EvalSet, evaluate_ranked, rank_embeddings};
use retune_trainer::{EncoderConfig, SentenceEncoder};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Negatives {
    /// Uniformly random wrong documents (the course).
    Random,
    /// The local retriever's most similar wrong documents.
    Hard,
}

/// Fine-tune a Cohere re-ranker (deprecated by Cohere on 2025-09-15; the local
/// `finetune-reranker` is the maintained path).
#[derive(Parser, Debug)]
#[command(long_about = None)]
pub struct CohereFinetuneArgs {
    /// Training queries: the course format ({input, expected}) or pairs / triplets.
    #[arg(long)]
    train: PathBuf,
    /// Documents (categories.json or JSONL {id?, text}).
    #[arg(long)]
    corpus: PathBuf,
    /// Name of the dataset and the fine-tuned model.
    #[arg(long)]
    name: String,
    /// Evaluation queries (course format): retrieval alone vs base rerank vs fine-tune.
    #[arg(long)]
    eval: Option<PathBuf>,
    /// Where the negatives come from.
    #[arg(long, value_enum, default_value_t = Negatives::Random)]
    negatives: Negatives,
    /// Cohere base model of the fine-tune: english or multilingual.
    #[arg(long, default_value = "english")]
    model: String,
    /// Negatives per line.
    #[arg(long, default_value_t = 4)]
    hard_negatives: usize,
    /// Lines per query with random negatives (the course wrote each twice).
    #[arg(long, default_value_t = 2, value_parser = crate::cli::ranges::at_least_one, allow_negative_numbers = true)]
    copies: usize,
    /// Local bi-encoder that mines hard negatives and retrieves candidates for --eval.
    #[arg(long, default_value = "sentence-transformers/all-MiniLM-L6-v2")]
    retriever: String,
    /// Text of category documents: name, description or samples (ids stay the names).
    #[arg(long, default_value = "name")]
    doc_text: retune_data::DocText,
    /// The base rerank model compared in --eval (default: rerank-<model>-v3.0).
    #[arg(long)]
    base_rerank_model: Option<String>,
    /// Cohere's API (a mock or proxy in tests).
    #[arg(long, default_value = COHERE_BASE_URL)]
    base_url: String,
    /// API key (default: the CO_API_KEY environment variable). Never printed.
    #[arg(long)]
    api_key: Option<String>,
    /// First wait between status polls, in seconds (grows by half up to 60).
    #[arg(long, default_value_t = 10.0, value_parser = crate::cli::ranges::positive, allow_negative_numbers = true)]
    poll_seconds: f64,
    /// Give up waiting for the fine-tune after this many minutes.
    #[arg(long, default_value_t = 360.0, value_parser = crate::cli::ranges::positive, allow_negative_numbers = true)]
    timeout_minutes: f64,
    /// Folder for the JSONL, the fine-tune's record and the evaluation.
    #[arg(long, default_value = "runs/cohere-finetune")]
    out: PathBuf,
    /// Stop after writing and validating the JSONL.
    #[arg(long)]
    dry_run: bool,
    /// Candidates retrieved and re-ranked per query in --eval.
    #[arg(long, default_value_t = 25, value_parser = crate::cli::ranges::at_least_one, allow_negative_numbers = true)]
    top: usize,
    /// Cut-offs of the metrics.
    #[arg(long, value_delimiter = ',', default_value = "1,3,5")]
    k: Vec<usize>,
    /// Seed of the random negatives.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Embedding cache folder.
    #[arg(long, default_value = ".retune-cache/embeddings")]
    cache_dir: PathBuf,
    /// Compute backend of the local retriever.
    #[arg(long, value_enum, default_value_t = BackendChoice::Cpu)]
    backend: BackendChoice,
}

/// Runs the subcommand.
pub fn run(args: CohereFinetuneArgs) -> anyhow::Result<()> {
    use retune_data::paths::{Named, check_distinct};
    let mut inputs = vec![
        Named::new("--train", &args.train),
        Named::new("--corpus", &args.corpus),
    ];
    if let Some(e) = &args.eval {
        inputs.push(Named::new("--eval", e));
    }
    let written: Vec<PathBuf> = ["cohere-train.jsonl", "finetune.json", "eval"]
        .iter()
        .map(|f| args.out.join(f))
        .collect();
    let outputs: Vec<Named<'_>> = written
        .iter()
        .map(|p| Named::new("a file under --out", p))
        .collect();
    check_distinct(&inputs, &outputs)?;
    dispatch(args.backend, args)
}

impl BackendTask for CohereFinetuneArgs {
    type Output = ();

    fn run<B: Backend, A: AutodiffBackend<InnerBackend = B>>(
        self,
        device: B::Device,
        _: A::Device,
    ) -> anyhow::Result<()> {
        eprintln!(
            "note: Cohere deprecated managed fine-tuning on 2025-09-15; the endpoints remain in its API spec. retune's local re-ranker (finetune-reranker) is the maintained path."
        );
        if !matches!(self.model.as_str(), "english" | "multilingual") {
            bail!(
                "--model must be english or multilingual, not {:?}",
                self.model
            );
        }
        let corpus: Vec<CorpusDoc> = retune_data::load_corpus_as(&self.corpus, self.doc_text)?;
        let doc_of = |label: &str| {
            corpus
                .iter()
                .position(|d| d.key() == label || d.text == label)
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "{}: expected document {label:?} is not in {}",
                        self.train.display(),
                        self.corpus.display()
                    )
                })
        };
        let (records, _) = read_jsonl::<TrainRecord>(&self.train, ReadMode::Strict)?;
        let mut queries: Vec<(String, Vec<usize>)> = Vec::new();
        for r in &records {
            let (q, labels): (&str, Vec<&str>) = match r {
                TrainRecord::Course(c) => (
                    c.input.as_str(),
                    c.expected.iter().map(String::as_str).collect(),
                ),
                other => match other.parts() {
                    Some((a, p, _)) => (a, vec![p]),
                    None => continue,
                },
            };
            let idx = labels
                .iter()
                .map(|l| doc_of(l))
                .collect::<anyhow::Result<Vec<_>>>()?;
            queries.push((q.to_string(), idx));
        }
        let texts: Vec<String> = corpus.iter().map(|d| d.text.clone()).collect();
        let labeled: Vec<(String, Vec<String>)> = queries
            .iter()
            .map(|(q, idx)| (q.clone(), idx.iter().map(|&i| texts[i].clone()).collect()))
            .collect();
        let source = match self.negatives {
            Negatives::Random => NegativeSource::Random {
                per_line: self.hard_negatives,
                copies: self.copies,
                seed: self.seed,
            },
            Negatives::Hard => {
                let enc = self.retriever::<B>(&device)?;
                let q_texts: Vec<&str> = queries.iter().map(|(q, _)| q.as_str()).collect();
                let d_texts: Vec<&str> = texts.iter().map(String::as_str).collect();
                let (q, _) = embed_cached(&enc, &q_texts, Some(&self.cache_dir))?;
                let (d, _) = embed_cached(&enc, &d_texts, Some(&self.cache_dir))?;
                let positives: Vec<Vec<usize>> = queries.iter().map(|(_, i)| i.clone()).collect();
                let mined = retune_mining::mine_negatives(
                    &q,
                    &d,
                    &d_texts,
                    &positives,
                    &retune_mining::MiningConfig::hard(self.hard_negatives, 0),
                );
                NegativeSource::Given(
                    mined
                        .iter()
                        .map(|m| m.negatives.iter().map(|&i| texts[i].clone()).collect())
                        .collect(),
                )
            }
        };
        let items = build_rerank_items(&labeled, &texts, &source);
        std::fs::create_dir_all(&self.out)
            .with_context(|| format!("creating {}", self.out.display()))?;
        let jsonl = self.out.join("cohere-train.jsonl");
        write_jsonl_atomic(&jsonl, &items)?;
        let unique: std::collections::HashSet<&str> =
            items.iter().map(|i| i.query.as_str()).collect();
        eprintln!(
            "wrote {} lines ({} unique queries, {:?} negatives, {} per line) to {}",
            items.len(),
            unique.len(),
            self.negatives,
            self.hard_negatives,
            jsonl.display()
        );
        let violations = validate_rerank_file(&jsonl, &CohereRules::training())?;
        if !violations.is_empty() {
            let list: Vec<String> = violations.iter().map(|v| v.to_string()).collect();
            bail!(
                "{}: {} violation(s) of Cohere's rules, nothing uploaded:\n{}",
                jsonl.display(),
                violations.len(),
                list.join("\n")
            );
        }
        eprintln!(
            "{} passes Cohere's rules (checked locally)",
            jsonl.display()
        );
        if self.dry_run {
            eprintln!("--dry-run: stopping before the upload");
            return Ok(());
        }

        let key = ApiKey::from_flag_or_env(self.api_key.as_deref(), "CO_API_KEY")?;
        let mut http = HttpConfig::new(&self.base_url, Some(key));
        http.retry = RetryPolicy {
            on_retry: Some(Arc::new(|e| {
                eprintln!(
                    "  attempt {} failed ({}); retrying in {:.1} s",
                    e.attempt,
                    e.error,
                    e.wait.as_secs_f64()
                )
            })),
            ..RetryPolicy::default()
        };
        let client = CohereClient::new(http)?;
        let poll = PollConfig {
            interval: Duration::from_secs_f64(self.poll_seconds.max(0.001)),
            max_interval: Duration::from_secs(60),
            timeout: Duration::from_secs_f64(self.timeout_minutes * 60.0),
        };
        let dataset_id = client.create_rerank_dataset(&self.name, &jsonl, None)?;
        eprintln!("uploaded dataset {dataset_id}; waiting for Cohere's validation");
        let mut last = String::new();
        let ds = client.wait_for_dataset(&dataset_id, &poll, |d, t| {
            let s = d.validation_status.as_str().to_string();
            if s != last {
                eprintln!("  [{:>6.0}s] dataset {s}", t.as_secs_f64());
                last = s;
            }
        })?;
        for w in &ds.validation_warnings {
            eprintln!("  warning from Cohere: {w}");
        }
        let created = client.create_finetuned_model(&FinetunedModel::rerank(
            &self.name,
            &self.model,
            &dataset_id,
        ))?;
        let model_id = created
            .id
            .clone()
            .context("Cohere's answer to the fine-tune request has no id")?;
        eprintln!("fine-tune {model_id} created; waiting until it is ready");
        let mut last = String::new();
        let done = client.wait_for_finetune(&model_id, &poll, |m, t| {
            let s = m
                .status
                .as_ref()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default();
            if s != last {
                eprintln!("  [{:>6.0}s] {s}", t.as_secs_f64());
                last = s;
            }
        })?;
        let events = client.finetune_events(&model_id)?;
        let metrics = client.training_step_metrics(&model_id)?;
        if let Some(m) = metrics.last() {
            eprintln!("last training step {:?}: {:?}", m.step_number, m.metrics);
        }
        let ft_model = done.rerank_model_id().context("the fine-tune has no id")?;
        let record = serde_json::json!({
            "dataset_id": dataset_id, "finetuned_model": done, "rerank_model": ft_model,
            "events": events, "training_step_metrics": metrics,
        });
        let record_path = self.out.join("finetune.json");
        std::fs::write(&record_path, serde_json::to_string_pretty(&record)?)
            .with_context(|| format!("writing {}", record_path.display()))?;
        println!(
            "fine-tuned re-ranker ready: use model `{ft_model}` with /v2/rerank (record: {})",
            record_path.display()
        );

        let Some(eval_path) = &self.eval else {
            return Ok(());
        };
        let (eval_queries, _) = read_jsonl::<retune_data::EvalItem>(eval_path, ReadMode::Strict)?;
        let set = EvalSet {
            queries: eval_queries,
            corpus: corpus.clone(),
        };
        let enc = self.retriever::<B>(&device)?;
        let q_texts: Vec<&str> = set.queries.iter().map(|q| q.input.as_str()).collect();
        let d_texts: Vec<&str> = texts.iter().map(String::as_str).collect();
        let (q, _) = embed_cached(&enc, &q_texts, Some(&self.cache_dir))?;
        let (d, _) = embed_cached(&enc, &d_texts, Some(&self.cache_dir))?;
        let ranked = rank_embeddings(&q, &d, self.top);
        let metrics = metrics_for(&self.k);
        let base_model = self
            .base_rerank_model
            .clone()
            .unwrap_or_else(|| format!("rerank-{}-v3.0", self.model));
        let mut systems = vec![SystemResult {
            name: format!("{} (retrieval alone)", self.retriever),
            model: self.retriever.clone(),
            evaluation: evaluate_ranked(&set, &ranked, &metrics),
        }];
        for (label, model) in [
            ("base rerank", base_model.clone()),
            ("fine-tuned rerank", ft_model.clone()),
        ] {
            let rr = CohereReranker::new(client.clone(), model.clone());
            let out = rerank(&rr, &q_texts, &set.corpus, &ranked)
                .with_context(|| format!("re-ranking with {model}"))?;
            let (mean, p50, p95) = out.latency_ms();
            eprintln!(
                "{label} {model}: {mean:.0} ms mean, {p50:.0} ms median, {p95:.0} ms p95 per query"
            );
            systems.push(SystemResult {
                name: format!("+ {label} ({model})"),
                model: format!("{} + {model}", self.retriever),
                evaluation: evaluate_ranked(&set, &out.ranked, &metrics),
            });
        }
        let report = EvalReport::build(metrics, systems, 10_000)?;
        print!("{}", report.markdown());
        let files = report.write_dir(&self.out.join("eval"))?;
        let shown: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
        eprintln!("wrote {}", shown.join(", "));
        Ok(())
    }
}

impl CohereFinetuneArgs {
    fn retriever<B: Backend>(&self, device: &B::Device) -> anyhow::Result<SentenceEncoder<B>> {
        SentenceEncoder::<B>::load(
            &EncoderConfig::new(&self.retriever).with_progress(true),
            device,
        )
        .with_context(|| format!("loading the retriever {}", self.retriever))
    }
}
