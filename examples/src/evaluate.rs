//! The `evaluate` step, shared by the `evaluate` and `quickstart` binaries:
//! `evaluate --queries EVAL.jsonl --corpus C --model M [--model M2 ..] [--reranker R] [--k 1,3,5]
//! [--json] [--out DIR] [--compare-last]`.
//!
//! Every system retrieves the top `--top` documents for each query; with `--reranker R` (a
//! local cross-encoder folder or Hub id), every model appears twice, alone and then with its
//! top `--top` re-ranked by R, the re-ranked row right after it, and a third row fusing both
//! scores when a fusion weight is known (`--fuse-on`, or R's `retune_fusion.json`). Metrics per system,
//! differences against the first with 95% paired-bootstrap intervals, randomization p-values
//! and per-query wins and losses; a markdown table on stdout (or JSON with `--json`). With
//! `--out`: `metrics.json`, `per_query.csv`, `chart.png` and `chart.svg`. Every run appends
//! `{time, git revision, systems, data hashes, metrics}` to the runs log; `--compare-last`
//! prints what changed since the run before.

use crate::cache::embed_cached;
use crate::fusion::{Fusion, fuse, retriever_scores};
use crate::report::{EvalReport, SystemResult};
use crate::rerank::rerank;
use crate::runs::{RunRecord, append_run, compare_runs, last_run};
use crate::{BackendChoice, BackendTask, EngineChoice};
use anyhow::{Context, bail};
use burn::tensor::backend::{AutodiffBackend, Backend};
use clap::Parser;
use retune_data::{EvalItem, ReadMode, read_jsonl};
use retune_metrics::Metric;
use retune_trainer::cross::{CrossEncoder, CrossEncoderConfig};
use retune_trainer::train::{EvalSet, evaluate_ranked, rank_embeddings};
use retune_trainer::{EncoderConfig, SentenceEncoder};
use std::path::{Path, PathBuf};

/// Compare retrieval systems on the same queries.
#[derive(Parser, Debug, Clone)]
#[command(name = "evaluate")]
pub struct EvaluateArgs {
    /// Queries in the course format (`{input, expected}`).
    #[arg(long)]
    pub queries: PathBuf,
    /// Documents: categories.json or JSONL {id?, text}.
    #[arg(long)]
    pub corpus: PathBuf,
    /// A model folder or Hub id; repeat for more systems (the first is the baseline).
    #[arg(long = "model", required = true)]
    pub models: Vec<String>,
    /// Text of category documents: name, description or samples (ids stay the names).
    #[arg(long, default_value = "name")]
    pub doc_text: retune_data::DocText,
    /// Count expected labels that name no document as misses (stated in the report) instead
    /// of refusing the queries file.
    #[arg(long)]
    pub allow_unknown_labels: bool,
    /// Display names of the systems, in `--model` order (default: the model arguments).
    #[arg(long = "name")]
    pub names: Vec<String>,
    /// A re-ranker for each model's top `--top`: a local cross-encoder (folder or Hub id), or
    /// `cohere:MODEL` (Cohere's rerank v2 with `CO_API_KEY`, e.g. `cohere:rerank-english-v3.0`
    /// or a fine-tune's `cohere:<id>-ft`).
    #[arg(long)]
    pub reranker: Option<String>,
    /// Labeled queries (course format) on which to choose the weight of a fusion of each
    /// model's scores with the re-ranker's (`fusion`); without it, the `retune_fusion.json`
    /// that `finetune-reranker` saves in a re-ranker folder is used when there is one. Never
    /// the file being evaluated.
    #[arg(long, requires = "reranker")]
    pub fuse_on: Option<PathBuf>,
    /// Cohere's API for `--reranker cohere:...` (a mock or proxy in tests).
    #[arg(long, default_value = retune_providers::cohere::COHERE_BASE_URL)]
    pub cohere_base_url: String,
    /// Cut-offs of the metrics.
    #[arg(long, value_delimiter = ',', default_value = "1,3,5")]
    pub k: Vec<usize>,
    /// Documents retrieved per query.
    #[arg(long, default_value_t = 25, value_parser = crate::cli::ranges::at_least_one, allow_negative_numbers = true)]
    pub top: usize,
    /// Print JSON instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Folder for metrics.json, per_query.csv, chart.png and chart.svg.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The runs log each evaluation appends to (default: OUT/runs.jsonl, or
    /// .retune-cache/runs.jsonl without --out).
    #[arg(long)]
    pub runs_log: Option<PathBuf>,
    /// Show what changed since the previous run in the runs log.
    #[arg(long)]
    pub compare_last: bool,
    /// Embedding cache folder.
    #[arg(long, default_value = ".retune-cache/embeddings")]
    pub cache_dir: PathBuf,
    /// Bootstrap and randomization resamples.
    #[arg(long, default_value_t = 10_000, value_parser = crate::cli::ranges::at_least_one, allow_negative_numbers = true)]
    pub resamples: usize,
    /// Compute backend.
    #[arg(long, value_enum, default_value_t = BackendChoice::Cpu)]
    pub backend: BackendChoice,
    /// Inference engine of the local models: `auto` (fused on the CPU), `burn` or `fused`.
    #[arg(long, value_enum, default_value_t = EngineChoice::Auto)]
    pub engine: EngineChoice,
}

/// The re-rankers `--reranker` can name.
enum AnyReranker<B: Backend> {
    Local(Box<CrossEncoder<B>>),
    Cohere(retune_providers::cohere::CohereReranker),
}

impl<B: Backend> AnyReranker<B> {
    /// [`rerank`] with whichever re-ranker this is.
    fn rerank(
        &self,
        queries: &[&str],
        corpus: &[retune_data::CorpusDoc],
        candidates: &[Vec<usize>],
    ) -> anyhow::Result<crate::rerank::Reranked> {
        Ok(match self {
            AnyReranker::Local(r) => rerank(r.as_ref(), queries, corpus, candidates)?,
            AnyReranker::Cohere(r) => rerank(r, queries, corpus, candidates)?,
        })
    }
}

/// The metrics reported for cut-offs `ks`: recall, MRR, NDCG and MAP at each.
pub fn metrics_for(ks: &[usize]) -> Vec<Metric> {
    let mut m: Vec<Metric> = ks.iter().map(|&k| Metric::Recall(k)).collect();
    m.extend(ks.iter().map(|&k| Metric::Mrr(Some(k))));
    m.extend(ks.iter().map(|&k| Metric::Ndcg(Some(k))));
    m.extend(ks.iter().map(|&k| Metric::Map(Some(k))));
    m
}

impl EvaluateArgs {
    /// Runs `evaluate` on the chosen backend. Not generic, so the Burn code it needs is compiled
    /// here once rather than in every binary that runs it.
    pub fn execute(self) -> anyhow::Result<EvalReport> {
        self.check_paths()?;
        crate::dispatch(self.backend, self)
    }

    /// Refuses, before any work, a file this run writes (the report files under `--out`, the
    /// runs log) that is one of its inputs (`--queries`, `--corpus`, `--fuse-on`).
    fn check_paths(&self) -> anyhow::Result<()> {
        use retune_data::paths::{Named, check_distinct};
        let mut inputs = vec![
            Named::new("--queries", &self.queries),
            Named::new("--corpus", &self.corpus),
        ];
        if let Some(f) = &self.fuse_on {
            inputs.push(Named::new("--fuse-on", f));
        }
        let written: Vec<PathBuf> = self
            .out
            .iter()
            .flat_map(|o| {
                [
                    "metrics.json",
                    "per_query.csv",
                    "chart.png",
                    "chart.svg",
                    "report.md",
                ]
                .iter()
                .map(|f| o.join(f))
                .collect::<Vec<_>>()
            })
            .collect();
        let runs_log = self.runs_log_path();
        let mut outputs: Vec<Named<'_>> = written
            .iter()
            .map(|p| Named::new("a report file under --out", p))
            .collect();
        outputs.push(Named::new("the runs log", &runs_log));
        check_distinct(&inputs, &outputs)?;
        Ok(())
    }

    fn runs_log_path(&self) -> PathBuf {
        self.runs_log.clone().unwrap_or_else(|| match &self.out {
            Some(o) => o.join("runs.jsonl"),
            None => Path::new(".retune-cache").join("runs.jsonl"),
        })
    }

    fn system_names(&self) -> anyhow::Result<Vec<String>> {
        if self.names.is_empty() {
            return Ok(self.models.clone());
        }
        if self.names.len() != self.models.len() {
            bail!(
                "{} --name values for {} --model values: give one name per model",
                self.names.len(),
                self.models.len()
            );
        }
        Ok(self.names.clone())
    }
}

impl BackendTask for EvaluateArgs {
    type Output = EvalReport;

    fn run<B: Backend, A: AutodiffBackend<InnerBackend = B>>(
        self,
        device: B::Device,
        _: A::Device,
    ) -> anyhow::Result<EvalReport> {
        if self.k.is_empty() || self.k.contains(&0) {
            bail!("--k values must be at least 1");
        }
        let names = self.system_names()?;
        let corpus = retune_data::load_corpus_as(&self.corpus, self.doc_text)?;
        let (queries, unknown_labels) = retune_data::read_labeled_queries(
            &self.queries,
            &corpus,
            &self.corpus,
            self.allow_unknown_labels,
        )?;
        if unknown_labels > 0 {
            eprintln!(
                "note: {unknown_labels} expected label(s) of {} name no document in {}; they count as misses",
                self.queries.display(),
                self.corpus.display()
            );
        }
        let set = EvalSet { queries, corpus };
        let metrics = metrics_for(&self.k);
        let q_texts: Vec<&str> = set.queries.iter().map(|q| q.input.as_str()).collect();
        let d_texts: Vec<&str> = set.corpus.iter().map(|d| d.text.as_str()).collect();
        let reranker = match &self.reranker {
            Some(r) => Some(match r.strip_prefix("cohere:") {
                Some(model) => {
                    let key = retune_providers::ApiKey::from_flag_or_env(None, "CO_API_KEY")?;
                    let http = retune_providers::HttpConfig::new(&self.cohere_base_url, Some(key));
                    AnyReranker::Cohere(retune_providers::cohere::CohereReranker::new(
                        retune_providers::cohere::CohereClient::new(http)?,
                        model,
                    ))
                }
                None => {
                    let config = CrossEncoderConfig {
                        engine: self.engine.into(),
                        ..CrossEncoderConfig::new(r)
                    };
                    AnyReranker::Local(Box::new(
                        CrossEncoder::<B>::load(&config, &device)
                            .with_context(|| format!("loading the re-ranker {r}"))?,
                    ))
                }
            }),
            None => None,
        };
        let fuse_on = match &self.fuse_on {
            Some(path) if same_file(path, &self.queries) => bail!(
                "--fuse-on {} is the file being evaluated: choose the fusion weight on other queries",
                path.display()
            ),
            Some(path) => Some(EvalSet {
                queries: read_jsonl::<EvalItem>(path, ReadMode::Strict)?.0,
                corpus: set.corpus.clone(),
            }),
            None => None,
        };
        let saved_fusion = match (&self.reranker, &fuse_on) {
            (Some(r), None) if Path::new(r).is_dir() => Fusion::load(Path::new(r))?,
            _ => None,
        };
        let mut systems = Vec::new();
        for (model, name) in self.models.iter().zip(&names) {
            let config = EncoderConfig::new(model)
                .with_progress(true)
                .with_engine(self.engine.into());
            let enc = SentenceEncoder::<B>::load(&config, &device)
                .with_context(|| format!("loading {model}"))?;
            let (q, _) = embed_cached(&enc, &q_texts, Some(&self.cache_dir))?;
            let (d, _) = embed_cached(&enc, &d_texts, Some(&self.cache_dir))?;
            let ranked = rank_embeddings(&q, &d, self.top);
            systems.push(SystemResult {
                name: name.clone(),
                model: model.clone(),
                evaluation: evaluate_ranked(&set, &ranked, &metrics),
            });
            if let (Some(r), Some(r_name)) = (&reranker, &self.reranker) {
                let rr = r.rerank(&q_texts, &set.corpus, &ranked)?;
                let (mean, p50, p95) = rr.latency_ms();
                eprintln!(
                    "re-ranking {} candidates per query with {r_name}: {mean:.1} ms mean, {p50:.1} ms median, {p95:.1} ms p95",
                    self.top.min(set.corpus.len())
                );
                systems.push(SystemResult {
                    name: format!("{name} + {r_name}"),
                    model: format!("{model} + {r_name}"),
                    evaluation: evaluate_ranked(&set, &rr.ranked, &metrics),
                });
                let fusion = match &fuse_on {
                    Some(vset) => {
                        let vq: Vec<&str> = vset.queries.iter().map(|q| q.input.as_str()).collect();
                        let (ve, _) = embed_cached(&enc, &vq, Some(&self.cache_dir))?;
                        let vranked = rank_embeddings(&ve, &d, self.top);
                        let vrr = r.rerank(&vq, &vset.corpus, &vranked)?;
                        let vret = retriever_scores(&ve, &d, &vranked);
                        let metric = Metric::Mrr(Some(10));
                        Some(Fusion::choose(vset, &vranked, &vret, &vrr.scores, metric))
                    }
                    None => saved_fusion.clone(),
                };
                if let Some(f) = fusion {
                    eprintln!(
                        "fusing {name} with {r_name}: re-ranker weight {:.2} (chosen by {} on {})",
                        f.reranker_weight,
                        f.metric,
                        self.fuse_on.as_ref().map_or_else(
                            || format!("{r_name}'s validation split"),
                            |p| p.display().to_string()
                        )
                    );
                    let fused = fuse(
                        &ranked,
                        &retriever_scores(&q, &d, &ranked),
                        &rr.scores,
                        f.reranker_weight,
                    );
                    systems.push(SystemResult {
                        name: format!("{name} + {r_name}, fused"),
                        model: format!("{model} + {r_name} fused {:.2}", f.reranker_weight),
                        evaluation: evaluate_ranked(&set, &fused, &metrics),
                    });
                }
            }
        }
        let mut report = EvalReport::build(metrics, systems, self.resamples)?;
        report.unknown_labels = unknown_labels;
        if self.json {
            println!("{}", serde_json::to_string_pretty(&report.to_json())?);
        } else {
            print!("{}", report.markdown());
        }
        if let Some(out) = &self.out {
            let files = report.write_dir(out)?;
            let shown: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
            eprintln!("wrote {}", shown.join(", "));
        }
        let log = self.runs_log_path();
        let previous = last_run(&log)?;
        let record = RunRecord::new(&report, &[&self.queries, &self.corpus])?;
        append_run(&log, &record)?;
        if self.compare_last {
            match previous {
                Some(prev) => eprint!("{}", compare_runs(&prev, &record)),
                None => eprintln!(
                    "--compare-last: {} had no earlier run; this one is now recorded",
                    log.display()
                ),
            }
        }
        Ok(report)
    }
}

/// Whether two paths name the same file (after resolving links), or the same path text.
fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}
