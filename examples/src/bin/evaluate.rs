//! `evaluate --queries EVAL.jsonl --corpus C --model M [--model M2 ..] [--k 1,3,5] [--json] [--out DIR]`:
//! retrieval metrics per system, differences against the first with 95% paired-bootstrap
//! intervals, randomization p-values and per-query wins and losses; a markdown table on
//! stdout (or JSON with `--json`); with `--out`, `metrics.json`, `per_query.csv` and a line
//! appended to `runs.jsonl` (time, git revision, systems, data hashes, metrics).

use anyhow::{Context, bail};
use burn::tensor::backend::{AutodiffBackend, Backend};
use clap::Parser;
use retune_data::{EvalItem, ReadMode, load_corpus, read_jsonl};
use retune_examples::cache::embed_cached;
use retune_examples::{BackendChoice, BackendTask, dispatch};
use retune_metrics::{ComparisonConfig, Evaluation, Metric, compare_paired};
use retune_trainer::train::{EvalSet, evaluate_embeddings};
use retune_trainer::{EncoderConfig, SentenceEncoder};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::PathBuf;

/// Compare retrieval systems on the same queries.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Queries in the course format (`{input, expected}`).
    #[arg(long)]
    queries: PathBuf,
    /// Documents: categories.json or JSONL {id?, text}.
    #[arg(long)]
    corpus: PathBuf,
    /// A model folder or Hub id; repeat for more systems (the first is the baseline).
    #[arg(long = "model", required = true)]
    models: Vec<String>,
    /// Cut-offs of the metrics.
    #[arg(long, value_delimiter = ',', default_value = "1,3,5")]
    k: Vec<usize>,
    /// Documents retrieved per query.
    #[arg(long, default_value_t = 25)]
    top: usize,
    /// Print JSON instead of the table.
    #[arg(long)]
    json: bool,
    /// Folder for metrics.json, per_query.csv and runs.jsonl.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Embedding cache folder.
    #[arg(long, default_value = ".retune-cache/embeddings")]
    cache_dir: PathBuf,
    /// Bootstrap and randomization resamples.
    #[arg(long, default_value_t = 10_000)]
    resamples: usize,
    /// Compute backend.
    #[arg(long, value_enum, default_value_t = BackendChoice::Cpu)]
    backend: BackendChoice,
}

fn metrics_for(ks: &[usize]) -> Vec<Metric> {
    let mut m: Vec<Metric> = ks.iter().map(|&k| Metric::Recall(k)).collect();
    m.extend(ks.iter().map(|&k| Metric::Mrr(Some(k))));
    m.extend(ks.iter().map(|&k| Metric::Ndcg(Some(k))));
    m.extend(ks.iter().map(|&k| Metric::Map(Some(k))));
    m
}

fn file_hash(p: &PathBuf) -> anyhow::Result<String> {
    let bytes = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
    Ok(Sha256::digest(&bytes)
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect())
}

impl BackendTask for Args {
    type Output = ();

    fn run<B: Backend, A: AutodiffBackend<InnerBackend = B>>(
        self,
        device: B::Device,
        _: A::Device,
    ) -> anyhow::Result<()> {
        if self.k.contains(&0) {
            bail!("--k values must be at least 1");
        }
        let (queries, _) = read_jsonl::<EvalItem>(&self.queries, ReadMode::Strict)?;
        let set = EvalSet {
            queries,
            corpus: load_corpus(&self.corpus)?,
        };
        let metrics = metrics_for(&self.k);
        let names: Vec<String> = metrics.iter().map(ToString::to_string).collect();
        let q_texts: Vec<&str> = set.queries.iter().map(|q| q.input.as_str()).collect();
        let d_texts: Vec<&str> = set.corpus.iter().map(|d| d.text.as_str()).collect();
        let mut evals: Vec<(String, Evaluation)> = Vec::new();
        for model in &self.models {
            let enc =
                SentenceEncoder::<B>::load(&EncoderConfig::new(model).with_progress(true), &device)
                    .with_context(|| format!("loading {model}"))?;
            let (q, _) = embed_cached(&enc, &q_texts, Some(&self.cache_dir))?;
            let (d, _) = embed_cached(&enc, &d_texts, Some(&self.cache_dir))?;
            evals.push((
                model.clone(),
                evaluate_embeddings(&set, &q, &d, &metrics, self.top),
            ));
        }
        let cfg = ComparisonConfig::default().with_resamples(self.resamples);
        let mut comparisons = Vec::new();
        for (name, e) in evals.iter().skip(1) {
            for m in &metrics {
                let base = evals[0].1.column(*m).expect("computed");
                let cand = e.column(*m).expect("computed");
                let c = compare_paired(&base, &cand, &cfg)?;
                comparisons.push(json!({"system": name, "baseline": evals[0].0, "metric": m.to_string(), "comparison": c}));
            }
        }
        let systems: Vec<Value> = evals
            .iter()
            .map(|(n, e)| json!({"name": n, "metrics": e.mean_by_name()}))
            .collect();
        let report = json!({"systems": systems, "comparisons": comparisons});
        if self.json {
            println!("{}", serde_json::to_string_pretty(&report)?);
        } else {
            println!("| system | {} |", names.join(" | "));
            println!("|---|{}", "---|".repeat(names.len()));
            for (n, e) in &evals {
                let v: Vec<String> = e.mean().iter().map(|x| format!("{x:.4}")).collect();
                println!("| {n} | {} |", v.join(" | "));
            }
            for c in &comparisons {
                let cmp = &c["comparison"];
                println!(
                    "{} vs {}: {} {:+.4} (95% CI {:+.4} .. {:+.4}, p = {:.4}), {} improvements, {} regressions",
                    c["system"].as_str().unwrap_or_default(),
                    c["baseline"].as_str().unwrap_or_default(),
                    c["metric"].as_str().unwrap_or_default(),
                    cmp["mean_difference"].as_f64().unwrap_or(f64::NAN),
                    cmp["ci_low"].as_f64().unwrap_or(f64::NAN),
                    cmp["ci_high"].as_f64().unwrap_or(f64::NAN),
                    cmp["p_value"].as_f64().unwrap_or(f64::NAN),
                    cmp["improved"],
                    cmp["worsened"]
                );
            }
        }
        if let Some(out) = &self.out {
            std::fs::create_dir_all(out)?;
            std::fs::write(
                out.join("metrics.json"),
                serde_json::to_string_pretty(&report)? + "\n",
            )?;
            let mut csv = String::from("system,query");
            for n in &names {
                csv.push(',');
                csv.push_str(n);
            }
            csv.push('\n');
            for (n, e) in &evals {
                for (q, values) in &e.per_query {
                    csv.push_str(&format!("\"{}\",{q}", n.replace('"', "\"\"")));
                    for v in values {
                        csv.push_str(&format!(",{v}"));
                    }
                    csv.push('\n');
                }
            }
            std::fs::write(out.join("per_query.csv"), csv)?;
            let rev = std::process::Command::new("git")
                .args(["rev-parse", "--short", "HEAD"])
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
            let time = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            let line = json!({"time": time, "git_revision": rev, "systems": self.models, "data": {"queries": file_hash(&self.queries)?, "corpus": file_hash(&self.corpus)?}, "metrics": report["systems"]});
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(out.join("runs.jsonl"))?;
            writeln!(f, "{line}")?;
            eprintln!(
                "wrote metrics.json, per_query.csv and runs.jsonl to {}",
                out.display()
            );
        }
        Ok(())
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let backend = args.backend;
    dispatch(backend, args)
}
