//! `retune finetune-reranker --model M --train T --corpus C --output DIR [--retriever R] [--eval E] ...`:
//! fine-tunes a local cross-encoder re-ranker, the maintained replacement for Cohere's
//! managed re-ranker fine-tuning.
//!
//! M is a cross-encoder checkpoint or any BERT checkpoint (a sentence-transformers
//! bi-encoder, ideally the one fine-tuned on the same data), which then gets a new head.
//! Negatives are mined with the retriever R (default M) from the corpus: its most similar
//! non-positive documents. The first `--validation-ratio` of T is held out: its queries'
//! top `--top` candidates from R are re-ranked after each epoch and the best weights kept. With
//! `--eval`, R alone and R + the re-ranker are measured with the same metrics as `evaluate`.
//! The weight of a fusion of R's and the re-ranker's scores is chosen on the same validation
//! queries and saved as `retune_fusion.json` in DIR (`evaluate --reranker DIR` applies it).
//! A checkpoint is written after every epoch (`--checkpoints`, `--checkpoint-dir`) and
//! `--resume` continues a killed run exactly, as `finetune` does.

use crate::cache::embed_cached;
use crate::evaluate::metrics_for;
use crate::finetune::{Switch, prepare_run_files};
use crate::fusion::{Fusion, fuse, retriever_scores};
use crate::report::{EvalReport, SystemResult};
use crate::rerank::rerank;
use crate::{BackendChoice, BackendTask, EngineChoice, dispatch};
use anyhow::{Context, bail};
use burn::tensor::backend::{AutodiffBackend, Backend};
use clap::{Parser, ValueEnum};
use retune_data::{CorpusDoc, EvalItem, ReadMode, TrainRecord, read_jsonl};
use retune_mining::mine_negatives;
use retune_trainer::cross::{
    CrossEncoder, CrossEncoderConfig, CrossLoss, CrossTrainConfig, CrossTrainer, RerankGroup,
    RerankQuery,
};
use retune_trainer::train::{EvalSet, evaluate_ranked, rank_embeddings};
use retune_trainer::{EncoderConfig, SentenceEncoder};
use std::path::PathBuf;

/// The losses `--loss` offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LossName {
    /// Softmax cross-entropy over (positive, negatives) per query.
    Listwise,
    /// Binary cross-entropy on (query, document) pairs.
    Bce,
}

/// Fine-tune a cross-encoder re-ranker.
#[derive(Parser, Debug)]
pub struct RerankerArgs {
    /// Starting point: a cross-encoder, or a BERT / sentence-transformers checkpoint (new head).
    #[arg(long)]
    model: String,
    /// Training data in the course format (`{input, expected}`) or pairs / n-tuples.
    #[arg(long)]
    train: PathBuf,
    /// Documents (categories.json or JSONL {id?, text}).
    #[arg(long)]
    corpus: PathBuf,
    /// Where the re-ranker goes (replaced if it exists).
    #[arg(long)]
    output: PathBuf,
    /// Replace `--output` even when retune did not write it (never the current directory or a
    /// parent of it, nor a folder holding an input).
    #[arg(long)]
    overwrite: bool,
    /// Text of category documents: name, description or samples (ids stay the names).
    #[arg(long, default_value = "name")]
    doc_text: retune_data::DocText,
    /// Bi-encoder that mines negatives and retrieves candidates (default: --model).
    #[arg(long)]
    retriever: Option<String>,
    /// Evaluation queries (course format), measured after training only.
    #[arg(long)]
    eval: Option<PathBuf>,
    /// Loss.
    #[arg(long, value_enum, default_value_t = LossName::Listwise)]
    loss: LossName,
    /// Train also on the corpus' sample transactions (categories.json `sample_transactions`)
    /// as extra queries, never validated on; `auto`: when the corpus has them. Off by default:
    /// on the course data it lowered the best validation MRR@10 (0.794 -> 0.780).
    #[arg(long, value_enum, default_value_t = Switch::False)]
    train_on_samples: Switch,
    /// Hard negatives per query, mined by the retriever (more than the corpus holds: every
    /// other document). The default 26 gives training groups of 27, as long as the lists the
    /// re-ranker sorts (top 25) and on the course's 27 categories every other one; on the
    /// course data it raised the best validation MRR@10 from 0.794 (7 negatives) to 0.826, at
    /// 3.4x the time per step.
    #[arg(long, default_value_t = 26, value_parser = crate::cli::ranges::at_least_one, allow_negative_numbers = true)]
    negatives: usize,
    /// Weight of a distillation term: KL from the retriever's scores of each training group
    /// (cosine times `--distill-scale`, softmax over the group) to the re-ranker's, added to
    /// the loss; 0: none.
    #[arg(long, default_value_t = 0.0, value_parser = crate::cli::ranges::non_negative, allow_negative_numbers = true)]
    distill: f64,
    /// Scale of the retriever's cosine similarities as distillation logits (MNRL's scale, 20,
    /// is the one the retriever was trained at).
    #[arg(long, default_value_t = 20.0, value_parser = crate::cli::ranges::positive, allow_negative_numbers = true)]
    distill_scale: f64,
    /// Skip the N most similar non-positive documents when mining (likely false negatives).
    #[arg(long, default_value_t = 0)]
    mine_skip: usize,
    /// Passes over the training data.
    #[arg(long, default_value_t = 3, value_parser = crate::cli::ranges::at_least_one, allow_negative_numbers = true)]
    epochs: usize,
    /// Queries per step.
    #[arg(long, default_value_t = 8, value_parser = crate::cli::ranges::at_least_one, allow_negative_numbers = true)]
    batch_size: usize,
    /// Peak learning rate.
    #[arg(long, default_value_t = 3e-5, value_parser = crate::cli::ranges::positive, allow_negative_numbers = true)]
    lr: f64,
    /// Warmup fraction.
    #[arg(long, default_value_t = 0.1, value_parser = crate::cli::ranges::unit_interval, allow_negative_numbers = true)]
    warmup_ratio: f64,
    /// Learning-rate multiplier of a new classification head (and pooler).
    #[arg(long, default_value_t = 20.0, value_parser = crate::cli::ranges::positive, allow_negative_numbers = true)]
    head_lr_multiplier: f64,
    /// Seed of shuffling and dropout.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Fraction of TRAIN held out for validation (its first rows).
    #[arg(long, default_value_t = 0.2, value_parser = crate::cli::ranges::fraction, allow_negative_numbers = true)]
    validation_ratio: f64,
    /// Candidates re-ranked per query (validation and --eval).
    #[arg(long, default_value_t = 25, value_parser = crate::cli::ranges::at_least_one, allow_negative_numbers = true)]
    top: usize,
    /// Longest (query, document) sequence in tokens.
    #[arg(long, default_value_t = 256, value_parser = crate::cli::ranges::at_least_one, allow_negative_numbers = true)]
    max_length: usize,
    /// Write a checkpoint after every epoch (weights, best weights, optimizer moments, about
    /// 4x the model's size; the two newest are kept); `--checkpoints false` saves the disk and
    /// gives up `--resume`.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    checkpoints: bool,
    /// Folder of the per-epoch checkpoints (default: OUTPUT.checkpoints).
    #[arg(long)]
    checkpoint_dir: Option<PathBuf>,
    /// Continue from the newest checkpoint (same data and settings): the result is the one the
    /// uninterrupted run would have given.
    #[arg(long)]
    resume: bool,
    /// Embedding cache folder.
    #[arg(long, default_value = ".retune-cache/embeddings")]
    cache_dir: PathBuf,
    /// Compute backend.
    #[arg(long, value_enum, default_value_t = BackendChoice::Cpu)]
    backend: BackendChoice,
    /// Engine of the re-ranker's training steps and scoring: `auto` (the fused CPU path for
    /// the BERT body on the CPU backend, Burn on CUDA), `burn` or `fused`.
    #[arg(long, value_enum, default_value_t = EngineChoice::Auto)]
    engine: EngineChoice,
}

impl RerankerArgs {
    /// The corpus' sample transactions as (query, category) training pairs when
    /// `--train-on-samples` wants them; an error when forced on and there are none.
    fn sample_pairs(&self) -> anyhow::Result<Vec<(String, String)>> {
        let samples = if self.train_on_samples.decide(true) {
            retune_data::sample_queries(&self.corpus)?
        } else {
            Vec::new()
        };
        if samples.is_empty() && self.train_on_samples == Switch::True {
            bail!(
                "--train-on-samples true needs a --corpus categories.json with sample_transactions ({} has none)",
                self.corpus.display()
            );
        }
        Ok(samples
            .into_iter()
            .filter_map(|s| {
                let category = s.expected.into_iter().next()?;
                Some((s.input, category))
            })
            .collect())
    }
}

/// Cosine similarity of two embeddings (0 when either is all zeros).
fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| f64::from(*x) * f64::from(*y))
        .sum();
    let norm = |v: &[f32]| v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    let n = norm(a) * norm(b);
    if n > 0.0 { dot / n } else { 0.0 }
}

impl BackendTask for RerankerArgs {
    type Output = ();

    fn run<B: Backend, A: AutodiffBackend<InnerBackend = B>>(
        self,
        device: B::Device,
        train_device: A::Device,
    ) -> anyhow::Result<()> {
        let (records, _) = read_jsonl::<TrainRecord>(&self.train, ReadMode::Strict)?;
        let pairs: Vec<(String, String)> = records
            .iter()
            .filter_map(TrainRecord::parts)
            .map(|(a, p, _)| (a.to_owned(), p.to_owned()))
            .collect();
        let holdout = ((pairs.len() as f64) * self.validation_ratio).round() as usize;
        if holdout >= pairs.len() {
            bail!(
                "{}: nothing left to train on after validation",
                self.train.display()
            );
        }
        let corpus: Vec<CorpusDoc> = retune_data::load_corpus_as(&self.corpus, self.doc_text)?;
        let samples = self.sample_pairs()?;
        let mut pairs = pairs;
        pairs.extend(samples.iter().cloned());
        let index_of = |p: &str| {
            corpus
                .iter()
                .position(|d| d.text == p || d.key() == p)
                .ok_or_else(|| {
                    anyhow::anyhow!("positive {p:?} is not in {}", self.corpus.display())
                })
        };
        let retriever_id = self.retriever.clone().unwrap_or_else(|| self.model.clone());
        let retriever = SentenceEncoder::<B>::load(
            &EncoderConfig::new(&retriever_id).with_progress(true),
            &device,
        )
        .with_context(|| format!("loading the retriever {retriever_id}"))?;
        let doc_texts: Vec<&str> = corpus.iter().map(|d| d.text.as_str()).collect();
        let anchors: Vec<&str> = pairs.iter().map(|(a, _)| a.as_str()).collect();
        let (q, _) = embed_cached(&retriever, &anchors, Some(&self.cache_dir))?;
        let (d, _) = embed_cached(&retriever, &doc_texts, Some(&self.cache_dir))?;
        let positives: Vec<Vec<usize>> = pairs
            .iter()
            .map(|(_, p)| index_of(p).map(|i| vec![i]))
            .collect::<anyhow::Result<_>>()?;

        let mined = mine_negatives(
            &q[holdout..],
            &d,
            &doc_texts,
            &positives[holdout..],
            &retune_mining::MiningConfig::hard(self.negatives, self.mine_skip),
        );
        let groups: Vec<RerankGroup> = pairs[holdout..]
            .iter()
            .zip(&mined)
            .zip(&positives[holdout..])
            .zip(&q[holdout..])
            .map(|((((a, _), m), pos), qv)| RerankGroup {
                query: a.clone(),
                positive: corpus[pos[0]].text.clone(),
                negatives: m
                    .negatives
                    .iter()
                    .map(|&i| corpus[i].text.clone())
                    .collect(),
                teacher: if self.distill > 0.0 {
                    std::iter::once(pos[0])
                        .chain(m.negatives.iter().copied())
                        .map(|i| (cosine(qv, &d[i]) * self.distill_scale) as f32)
                        .collect()
                } else {
                    Vec::new()
                },
            })
            .collect();
        let shortfall: usize = mined.iter().map(|m| m.shortfall).sum();
        let val_ranked = rank_embeddings(&q[..holdout], &d, self.top);
        let validation: Vec<RerankQuery> = pairs[..holdout]
            .iter()
            .zip(&val_ranked)
            .zip(&positives[..holdout])
            .map(|(((a, _), r), pos)| RerankQuery {
                query: a.clone(),
                candidates: r.iter().map(|&i| corpus[i].text.clone()).collect(),
                relevant: vec![corpus[pos[0]].text.clone()],
            })
            .collect();
        eprintln!(
            "train {} queries ({} of them the corpus' samples) x (1 positive + {} mined negatives, shortfall {shortfall}), validation {holdout} queries x top {}",
            groups.len(),
            samples.len(),
            self.negatives,
            self.top
        );

        let mut ce_config = CrossEncoderConfig::new(&self.model);
        ce_config.max_length = self.max_length;
        ce_config.head_seed = self.seed;
        ce_config.engine = self.engine.into();
        let ce = CrossEncoder::<A>::load(&ce_config, &train_device)
            .with_context(|| format!("loading {}", self.model))?;
        eprintln!(
            "cross-encoder from {} ({})",
            self.model,
            if ce.head_loaded {
                "its trained head"
            } else {
                "a new classification head"
            }
        );
        let mut config = CrossTrainConfig::new(
            match self.loss {
                LossName::Listwise => CrossLoss::Listwise,
                LossName::Bce => CrossLoss::Bce,
            },
            self.epochs,
        );
        config.batch_size = self.batch_size;
        config.lr = self.lr;
        config.warmup_ratio = self.warmup_ratio;
        config.seed = self.seed;
        config.new_head_lr_multiplier = self.head_lr_multiplier;
        config.distill_weight = self.distill;
        let log_path = self.output.with_extension("train_log.jsonl");
        if let Some(parent) = log_path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        let checkpoints = prepare_run_files(
            &self.output,
            self.checkpoint_dir.as_deref(),
            self.checkpoints,
            self.resume,
        )?;
        let mut trainer = CrossTrainer::new(ce, config.clone());
        let val = (holdout > 0).then_some(validation.as_slice());
        let report = trainer
            .fit_resumable(
                &groups,
                val,
                retune_trainer::train::RunFiles {
                    log: Some(&log_path),
                    checkpoints: self.checkpoints.then_some(checkpoints.as_path()),
                    resume: self.resume,
                },
            )
            .with_context(|| crate::finetune::resume_context(self.resume, &self.train))?;
        eprintln!(
            "trained {} steps in {:.1}s ({:.2} s/step); validation {} by epoch: {}",
            report.steps,
            report.seconds,
            report.seconds / report.steps.max(1) as f64,
            config.best_metric,
            report
                .evals
                .iter()
                .map(|(s, m)| format!("step {s}: {:.4}", m[&config.best_metric]))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let trained = trainer.inference_encoder();
        let distill = if self.distill > 0.0 {
            format!(
                " + {} x listwise distillation from the retriever's scores (cosine x {})",
                self.distill, self.distill_scale
            )
        } else {
            String::new()
        };
        let card = format!(
            "---\nlibrary_name: sentence-transformers\npipeline_tag: text-ranking\ntags: [cross-encoder, reranker, retune]\n---\n\n# Cross-encoder re-ranker fine-tuned with retune\n\nStarted from `{}`; negatives mined with `{retriever_id}`. Trained on {} queries ({} of them the corpus' sample transactions). Loss {:?}{distill}, {} epochs, batch {} queries x {} documents, lr {}, seed {}. Best validation {} = {:?}.\n\n```python\nfrom sentence_transformers import CrossEncoder\nmodel = CrossEncoder(\"path/to/this/folder\")\nscores = model.predict([(query, document)])\n```\n",
            self.model,
            groups.len(),
            samples.len(),
            config.loss,
            config.epochs,
            config.batch_size,
            1 + groups.iter().map(|g| g.negatives.len()).max().unwrap_or(0),
            config.lr,
            config.seed,
            config.best_metric,
            report.best
        );
        trained.save(&self.output, &card)?;
        let fusion = if holdout > 0 {
            let val_set = EvalSet {
                queries: validation
                    .iter()
                    .map(|v| EvalItem {
                        input: v.query.clone(),
                        expected: v.relevant.clone(),
                    })
                    .collect(),
                corpus: corpus.clone(),
            };
            let val_texts: Vec<&str> = validation.iter().map(|v| v.query.as_str()).collect();
            let val_rr = rerank(&trained, &val_texts, &corpus, &val_ranked)?;
            let val_ret = retriever_scores(&q[..holdout], &d, &val_ranked);
            let metric = config.best_metric.parse().map_err(|_| {
                anyhow::anyhow!("--best-metric: unknown metric {:?}", config.best_metric)
            })?;
            let fusion = Fusion::choose(&val_set, &val_ranked, &val_ret, &val_rr.scores, metric);
            let at = |w: f64| {
                fusion
                    .validation
                    .iter()
                    .find(|(x, _)| (x - w).abs() < 1e-9)
                    .map_or(f64::NAN, |p| p.1)
            };
            eprintln!(
                "score fusion chosen on the validation split: re-ranker weight {:.2} ({} {:.4}; retriever alone {:.4}, re-ranker alone {:.4})",
                fusion.reranker_weight,
                fusion.metric,
                at(fusion.reranker_weight),
                at(0.0),
                at(1.0)
            );
            fusion.save(&self.output)?;
            Some(fusion)
        } else {
            None
        };
        eprintln!(
            "saved the re-ranker to {} (training log: {})",
            self.output.display(),
            log_path.display()
        );

        if let Some(eval_path) = &self.eval {
            let (queries, _) = read_jsonl::<EvalItem>(eval_path, ReadMode::Strict)?;
            let set = EvalSet { queries, corpus };
            let texts: Vec<&str> = set.queries.iter().map(|q| q.input.as_str()).collect();
            let (eq, _) = embed_cached(&retriever, &texts, Some(&self.cache_dir))?;
            let ranked = rank_embeddings(&eq, &d, self.top);
            let rr = rerank(&trained, &texts, &set.corpus, &ranked)?;
            let metrics = metrics_for(&[1, 3, 5]);
            let report = EvalReport::build(
                metrics.clone(),
                vec![
                    SystemResult {
                        name: retriever_id.clone(),
                        model: retriever_id.clone(),
                        evaluation: evaluate_ranked(&set, &ranked, &metrics),
                    },
                    SystemResult {
                        name: format!("{retriever_id} + re-ranker"),
                        model: self.output.display().to_string(),
                        evaluation: evaluate_ranked(&set, &rr.ranked, &metrics),
                    },
                ]
                .into_iter()
                .chain(fusion.map(|f| {
                    let ret = retriever_scores(&eq, &d, &ranked);
                    let fused = fuse(&ranked, &ret, &rr.scores, f.reranker_weight);
                    SystemResult {
                        name: format!(
                            "{retriever_id} + re-ranker, fused (weight {:.2})",
                            f.reranker_weight
                        ),
                        model: self.output.display().to_string(),
                        evaluation: evaluate_ranked(&set, &fused, &metrics),
                    }
                }))
                .collect(),
                10_000,
            )?;
            println!(
                "\nevaluation on {}\n\n{}",
                eval_path.display(),
                report.markdown()
            );
            let (mean, p50, p95) = rr.latency_ms();
            println!(
                "re-ranking latency for {} candidates per query: {mean:.1} ms mean, {p50:.1} ms median, {p95:.1} ms p95",
                self.top.min(set.corpus.len())
            );
        }
        Ok(())
    }
}

/// Runs the subcommand.
pub fn run(args: RerankerArgs) -> anyhow::Result<()> {
    let retriever = args
        .retriever
        .as_deref()
        .map(std::path::Path::new)
        .filter(|p| p.exists());
    crate::finetune::check_run_paths(
        &args.model,
        &[
            Some(("--train", args.train.as_path())),
            Some(("--corpus", args.corpus.as_path())),
            args.eval.as_deref().map(|p| ("--eval", p)),
            retriever.map(|p| ("--retriever", p)),
        ],
        &args.output,
        args.checkpoint_dir.as_deref(),
        args.overwrite,
    )?;
    dispatch(args.backend, args)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(corpus: &std::path::Path, extra: &[&str]) -> RerankerArgs {
        let c = corpus.to_str().unwrap();
        let base = [
            "finetune-reranker",
            "--model",
            "m",
            "--train",
            "t.jsonl",
            "--corpus",
            c,
            "--output",
            "o",
        ];
        RerankerArgs::parse_from(base.iter().chain(extra))
    }

    #[test]
    fn samples_become_training_pairs_unless_turned_off() {
        let dir = tempfile::tempdir().unwrap();
        let cats = dir.path().join("c.json");
        std::fs::write(
            &cats,
            r#"[{"category":"Travel","sample_transactions":["Delta","Uber"]},{"category":"Rent"}]"#,
        )
        .unwrap();
        assert!(args(&cats, &[]).sample_pairs().unwrap().is_empty());
        let pairs = args(&cats, &["--train-on-samples", "auto"])
            .sample_pairs()
            .unwrap();
        assert_eq!(
            pairs,
            vec![
                ("Delta".to_owned(), "Travel".to_owned()),
                ("Uber".to_owned(), "Travel".to_owned())
            ]
        );
        let off = args(&cats, &["--train-on-samples", "false"]);
        assert!(off.sample_pairs().unwrap().is_empty());
        let jl = dir.path().join("c.jsonl");
        std::fs::write(&jl, "{\"text\":\"Travel\"}\n").unwrap();
        let auto = args(&jl, &["--train-on-samples", "auto"]);
        assert!(auto.sample_pairs().unwrap().is_empty());
        let err = args(&jl, &["--train-on-samples", "true"])
            .sample_pairs()
            .unwrap_err();
        assert!(err.to_string().contains("sample_transactions"), "{err}");
    }
}
