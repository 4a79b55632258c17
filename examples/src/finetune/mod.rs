//! The `finetune` step, shared by the `finetune` and `quickstart` binaries:
//! `finetune --model M --train TRAIN.jsonl --output DIR [--corpus C] [--eval EVAL.jsonl] ...`:
//! fine-tunes a sentence-transformers model with Burn and saves it in the layout
//! sentence-transformers loads unchanged.
//!
//! TRAIN is the course format (`{input, expected}`: the input is the anchor, `expected[0]` the
//! positive) or pairs, triplets or n-tuples. A validation split is held out from TRAIN itself
//! (never from EVAL); it picks the best checkpoint. EVAL, when given, is only measured, before
//! and after.
//!
//! The defaults are the best recipe measured on the course data (docs/benchmarks.md, three
//! seeds per recipe, ranked by mean validation score): symmetric MNRL, 10 epochs, lr 5e-5,
//! batch 16, warmup 0.1, every anchor scored against the whole corpus in every batch
//! (`--corpus-negatives auto`, for MNRL over a corpus of at most 512 documents; otherwise one
//! hard negative per example mined with the base model), the corpus' sample transactions
//! added as training queries when it has them (`--train-on-samples auto`, with corpus
//! negatives), two copies of each training query with random fields left out
//! (`--field-dropout auto`, with corpus negatives), the best validation checkpoint chosen, and
//! then a refit (`--refit auto`, with corpus negatives): the same recipe trained again on every
//! row of TRAIN, validation rows included, stopped at the epoch the validation chose
//! ([`refit`]). sentence-transformers' own recipe is `--epochs 5 --lr 2e-5 --symmetric false
//! --corpus-negatives false --train-on-samples false --field-dropout false --refit false
//! --hard-negatives 0`.

use crate::{BackendChoice, BackendTask, EngineChoice};
use anyhow::{Context, bail};
use burn::tensor::backend::{AutodiffBackend, Backend};
use clap::{Parser, ValueEnum};
use retune_data::{CorpusDoc, EvalItem, FieldDropout, ReadMode, TrainRecord, read_jsonl};
use retune_trainer::export::save_sentence_transformer;
use retune_trainer::loss::{LossConfig, TripletDistance};
use retune_trainer::train::{
    EvalSet, TrainConfig, TrainReport, Trainer, evaluate_retrieval, examples_from_records,
    retrieval_metrics,
};
use retune_trainer::{EncoderConfig, SentenceEncoder};
use std::collections::BTreeMap;
use std::path::PathBuf;

mod card;
mod plan;
mod refit;

pub use plan::FinetunePlan;

/// The losses `--loss` offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LossName {
    /// MultipleNegativesRankingLoss.
    Mnrl,
    /// CachedMultipleNegativesRankingLoss (GradCache).
    CachedMnrl,
    /// TripletLoss (euclidean).
    Triplet,
    /// BatchSemiHardTripletLoss.
    BatchSemiHard,
    /// BatchHardTripletLoss.
    BatchHard,
    /// BatchAllTripletLoss.
    BatchAll,
}

/// An option that is on, off, or decided by the run (`--corpus-negatives`,
/// `--train-on-samples`; each option's help states its `auto` rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Switch {
    /// Decided by the option's rule.
    Auto,
    /// On (an error when the run rules it out).
    True,
    /// Off.
    False,
}

impl Switch {
    /// Whether the option is on, given what its `auto` rule decides for this run.
    pub fn decide(self, auto: bool) -> bool {
        match self {
            Switch::Auto => auto,
            Switch::True => true,
            Switch::False => false,
        }
    }
}

/// Fine-tune an embedding model on retrieval examples.
#[derive(Parser, Debug)]
#[command(name = "finetune")]
pub struct FinetuneArgs {
    /// Base model: folder or Hub id in the Hugging Face cache.
    #[arg(long)]
    pub model: String,
    /// Training data (course format, pairs, triplets or n-tuples).
    #[arg(long)]
    pub train: PathBuf,
    /// Where the fine-tuned model goes (replaced if it exists).
    #[arg(long)]
    pub output: PathBuf,
    /// Documents to retrieve from (categories.json or JSONL {id?, text}); default: the distinct positives.
    #[arg(long)]
    pub corpus: Option<PathBuf>,
    /// Train on course items whose `expected` labels name no document of `--corpus` instead of
    /// refusing the training file.
    #[arg(long)]
    pub allow_unknown_labels: bool,
    /// Replace `--output` even when retune did not write it (never the current directory or a
    /// parent of it, nor a folder holding an input); without it, only an empty folder or one
    /// retune wrote is replaced.
    #[arg(long)]
    pub overwrite: bool,
    /// Text of category documents: the name, `name: description` or `name: samples`
    /// (ids stay the names, so evaluation is unchanged).
    #[arg(long, default_value = "name")]
    pub doc_text: retune_data::DocText,
    /// Evaluation queries (course format), measured before and after, never trained or tuned on.
    #[arg(long)]
    pub eval: Option<PathBuf>,
    /// Loss.
    #[arg(long, value_enum, default_value_t = LossName::Mnrl)]
    pub loss: LossName,
    /// Passes over the training data.
    #[arg(long, default_value_t = 10, value_parser = crate::cli::ranges::at_least_one, allow_negative_numbers = true)]
    pub epochs: usize,
    /// Examples per batch.
    #[arg(long, default_value_t = 16, value_parser = crate::cli::ranges::at_least_one, allow_negative_numbers = true)]
    pub batch_size: usize,
    /// Peak learning rate.
    #[arg(long, default_value_t = 5e-5, value_parser = crate::cli::ranges::positive, allow_negative_numbers = true)]
    pub lr: f64,
    /// Warmup fraction of the steps.
    #[arg(long, default_value_t = 0.1, value_parser = crate::cli::ranges::unit_interval, allow_negative_numbers = true)]
    pub warmup_ratio: f64,
    /// Seed of splitting, sampling and dropout.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Fraction of TRAIN held out for validation (its first rows).
    #[arg(long, default_value_t = 0.2, value_parser = crate::cli::ranges::fraction, allow_negative_numbers = true)]
    pub validation_ratio: f64,
    /// Evaluate on the validation split every N steps (0: after each epoch).
    #[arg(long, default_value_t = 0)]
    pub eval_every: usize,
    /// Metric that picks the best checkpoint.
    #[arg(long, default_value = "mrr@10")]
    pub best_metric: String,
    /// MNRL scale.
    #[arg(long, default_value_t = 20.0, value_parser = crate::cli::ranges::positive, allow_negative_numbers = true)]
    pub scale: f64,
    /// Symmetric MNRL (adds positive-to-anchor); `--symmetric false` for plain MNRL.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub symmetric: bool,
    /// Triplet margin (5 for euclidean losses as in sentence-transformers).
    #[arg(long, default_value_t = 5.0, value_parser = crate::cli::ranges::non_negative, allow_negative_numbers = true)]
    pub margin: f64,
    /// Add N hard negatives per example, mined with the base model from the corpus (0: none;
    /// used by the MNRL and triplet losses when corpus negatives are off).
    #[arg(long, default_value_t = 1)]
    pub hard_negatives: usize,
    /// Score every anchor against the whole corpus in every batch (MNRL over distinct
    /// candidates: shared positives are targets, never negatives, so batches need no duplicate
    /// check); for corpora of at most 512 documents. Mined hard negatives are then redundant
    /// and `--hard-negatives` is not used.
    /// `auto` (the default) turns it on for MNRL over course-format data (no negatives of its
    /// own) and a corpus of at most 512 documents, and leaves it off otherwise.
    #[arg(long, value_enum, default_value_t = Switch::Auto)]
    pub corpus_negatives: Switch,
    /// Also train on the corpus' sample transactions (a `categories.json`'s
    /// `sample_transactions`, each a query for its category); never validated on.
    /// `auto` (the default) turns it on when corpus negatives are on and the corpus has
    /// samples, the recipe measured in docs/benchmarks.md.
    #[arg(long, value_enum, default_value_t = Switch::Auto)]
    pub train_on_samples: Switch,
    /// Also train on copies of each course-format training query with random fields (lines)
    /// left out, so every field carries the label; never validated on. `auto` (the default)
    /// turns it on when corpus negatives are on and the queries have two or more fields, the
    /// recipe measured in docs/benchmarks.md.
    #[arg(long, value_enum, default_value_t = Switch::Auto)]
    pub field_dropout: Switch,
    /// Copies of each training query that `--field-dropout` adds.
    #[arg(long, default_value_t = 2)]
    pub field_dropout_copies: usize,
    /// Chance that `--field-dropout` leaves each field out of a copy, in [0, 1).
    #[arg(long, default_value_t = 0.3, value_parser = crate::cli::ranges::unit_interval, allow_negative_numbers = true)]
    pub field_dropout_rate: f64,
    /// After the validated run, train again from the base model on every row of TRAIN (the
    /// validation split included) with the same settings and schedule, stop where the
    /// validated run's best weights were (the same epoch), and save that model. `auto` (the
    /// default) turns it on when corpus negatives are on and a validation split is held out,
    /// the recipe measured in docs/benchmarks.md. It adds up to the validated run's time.
    #[arg(long, value_enum, default_value_t = Switch::Auto)]
    pub refit: Switch,
    /// Average the weights of the last N epochs and save the mean instead of the best
    /// validated epoch (stochastic weight averaging; 0: keep the best epoch).
    #[arg(long, default_value_t = 0)]
    pub average_last_epochs: usize,
    /// Layer-wise learning-rate decay: the top layer trains at `--lr`, each layer below at
    /// this factor of the one above, the embeddings below the first layer (1: off).
    #[arg(long, default_value_t = 1.0)]
    pub layer_lr_decay: f64,
    /// Skip the N most similar non-positive documents when mining (likely false negatives).
    #[arg(long, default_value_t = 0)]
    pub mine_skip: usize,
    /// Texts per forward pass with `--loss cached-mnrl` (memory is bounded by this, not the batch).
    #[arg(long, default_value_t = 16)]
    pub mini_batch: usize,
    /// Write a checkpoint after every epoch (about 4x the model's size each; the two newest are
    /// kept); `--checkpoints false` saves the disk and gives up `--resume`.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub checkpoints: bool,
    /// Folder of the per-epoch checkpoints (default: OUTPUT.checkpoints).
    #[arg(long)]
    pub checkpoint_dir: Option<PathBuf>,
    /// Continue from the newest checkpoint (same data and settings): the result is the one the
    /// uninterrupted run would have given.
    #[arg(long)]
    pub resume: bool,
    /// Batches summed per optimizer step.
    #[arg(long, default_value_t = 1)]
    pub grad_accumulation: usize,
    /// Publish the saved model to this Hugging Face Hub repository (`owner/name`, created when
    /// missing), token from `HF_TOKEN`, endpoint from `HF_ENDPOINT`.
    #[arg(long, value_name = "REPO_ID")]
    pub push_to_hub: Option<String>,
    /// Create the Hub repository private (with `--push-to-hub`).
    #[arg(long, requires = "push_to_hub")]
    pub private: bool,
    /// Compute backend.
    #[arg(long, value_enum, default_value_t = BackendChoice::Cpu)]
    pub backend: BackendChoice,
    /// Engine of the training steps and of every embedding (validation, mining): `auto` (the
    /// fused CPU path on the CPU backend, the Burn model on CUDA), `burn` or `fused`;
    /// `fused-bf16` embeds in bf16 and still trains in f32. CachedMNRL trains through Burn.
    #[arg(long, value_enum, default_value_t = EngineChoice::Auto)]
    pub engine: EngineChoice,
}

impl FinetuneArgs {
    fn loss(&self) -> LossConfig {
        match self.loss {
            LossName::Mnrl => LossConfig::Mnrl {
                scale: self.scale,
                symmetric: self.symmetric,
            },
            LossName::CachedMnrl => LossConfig::CachedMnrl {
                scale: self.scale,
                symmetric: self.symmetric,
                mini_batch: self.mini_batch,
            },
            LossName::Triplet => LossConfig::Triplet {
                distance: TripletDistance::Euclidean,
                margin: self.margin,
            },
            LossName::BatchSemiHard => LossConfig::BatchSemiHard {
                margin: self.margin,
            },
            LossName::BatchHard => LossConfig::BatchHard {
                margin: self.margin,
            },
            LossName::BatchAll => LossConfig::BatchAll {
                margin: self.margin,
            },
        }
    }

    fn train_config(&self) -> TrainConfig {
        let mut c = TrainConfig::new(self.loss(), self.epochs);
        c.batch_size = self.batch_size;
        c.lr = self.lr;
        c.warmup_ratio = self.warmup_ratio;
        c.seed = self.seed;
        c.eval_every = self.eval_every;
        c.best_metric = self.best_metric.clone();
        c.grad_accumulation = self.grad_accumulation;
        c.average_last_epochs = self.average_last_epochs;
        c.layer_lr_decay = self.layer_lr_decay;
        c
    }

    /// Runs `finetune` on the chosen backend. Not generic, so the Burn code it needs is compiled
    /// here once rather than in every binary that runs it.
    pub fn execute(self) -> anyhow::Result<FinetuneOutcome> {
        check_run_paths(
            &self.model,
            &[
                Some(("--train", self.train.as_path())),
                self.corpus.as_deref().map(|p| ("--corpus", p)),
                self.eval.as_deref().map(|p| ("--eval", p)),
            ],
            &self.output,
            self.checkpoint_dir.as_deref(),
            self.overwrite,
        )?;
        crate::dispatch(self.backend, self)
    }

    /// The training file's records: at least one, and with `--corpus`, every `expected` label
    /// of a course item names a document (else an error listing the first few with their
    /// lines, unless `--allow-unknown-labels`).
    fn read_training_records(&self) -> anyhow::Result<Vec<TrainRecord>> {
        let corpus = self
            .corpus
            .as_deref()
            .map(retune_data::load_corpus)
            .transpose()?;
        let known: std::collections::HashSet<&str> = corpus
            .iter()
            .flatten()
            .flat_map(|d| [d.key(), d.text.as_str()])
            .collect();
        let mut records = Vec::new();
        let mut unknown = Vec::new();
        for entry in retune_data::JsonlReader::<TrainRecord>::open(&self.train, ReadMode::Strict)? {
            let (line, record) = entry?;
            if let TrainRecord::Course(item) = &record
                && corpus.is_some()
            {
                unknown.extend(
                    item.expected
                        .iter()
                        .filter(|l| !known.contains(l.as_str()))
                        .map(|l| (line, l.clone())),
                );
            }
            records.push(record);
        }
        if records.is_empty() {
            return Err(retune_data::DataError::Empty {
                path: self.train.clone(),
                what: "the training file".into(),
            }
            .into());
        }
        if let (Some(corpus), false) = (
            &self.corpus,
            unknown.is_empty() || self.allow_unknown_labels,
        ) {
            return Err(retune_data::DataError::UnknownLabels {
                path: self.train.clone(),
                corpus: corpus.clone(),
                count: unknown.len(),
                first: unknown.into_iter().take(5).collect(),
            }
            .into());
        }
        Ok(records)
    }

    /// Whether `--hard-negatives` mines (when corpus negatives are off): the loss must use
    /// negatives rather than labels.
    fn mines_hard_negatives(&self) -> bool {
        self.hard_negatives > 0 && !self.loss().uses_labels()
    }

    /// What `--corpus-negatives` decides for this loss, corpus size and training data.
    fn uses_corpus_negatives(
        &self,
        corpus_len: usize,
        train: &[retune_trainer::train::TrainExample],
    ) -> bool {
        match self.corpus_negatives {
            Switch::True => true,
            Switch::False => false,
            Switch::Auto => {
                matches!(self.loss, LossName::Mnrl)
                    && corpus_len <= Self::MAX_CORPUS_NEGATIVES
                    && train.iter().all(|e| e.negatives.is_empty())
            }
        }
    }

    /// The corpus' sample transactions as labeled queries when `wanted` (the plan's
    /// `train_on_samples`; none otherwise); an error when the option is forced on and there
    /// are none.
    fn sample_queries(&self, wanted: bool) -> anyhow::Result<Vec<EvalItem>> {
        let samples = match &self.corpus {
            Some(c) if wanted => retune_data::sample_queries(c)?,
            _ => Vec::new(),
        };
        if samples.is_empty() && self.train_on_samples == Switch::True {
            bail!(
                "--train-on-samples true needs a --corpus categories.json with sample_transactions"
            );
        }
        Ok(samples)
    }

    /// Field-dropout copies of the course-format training queries when `wanted` (the plan's
    /// `field_dropout`; none otherwise), seeded by `--seed`; an error when the option is forced
    /// on and no query has two fields, or the rate is out of range.
    fn field_dropout_queries(
        &self,
        train: &[TrainRecord],
        wanted: bool,
    ) -> anyhow::Result<Vec<EvalItem>> {
        if !wanted {
            return Ok(Vec::new());
        }
        let dropout = FieldDropout {
            copies: self.field_dropout_copies,
            rate: self.field_dropout_rate,
            seed: self.seed,
        };
        dropout
            .check()
            .map_err(|e| anyhow::anyhow!("--field-dropout-rate: {e}"))?;
        let queries: Vec<EvalItem> = train
            .iter()
            .filter_map(|r| match r {
                TrainRecord::Course(c) if !c.expected.is_empty() => Some(c.clone()),
                _ => None,
            })
            .collect();
        if !FieldDropout::applies_to(&queries) && self.field_dropout == Switch::True {
            bail!(
                "--field-dropout true needs course-format training queries ({{input, expected}}) with two or more lines of fields in {}",
                self.train.display()
            );
        }
        Ok(dropout.copies_of(&queries))
    }

    /// The corpus: `--corpus`, else the distinct positives of TRAIN's records.
    fn read_corpus(&self, records: &[TrainRecord]) -> anyhow::Result<Vec<CorpusDoc>> {
        Ok(match &self.corpus {
            Some(c) => retune_data::load_corpus_as(c, self.doc_text)?,
            None => {
                let mut seen = std::collections::BTreeSet::new();
                records
                    .iter()
                    .filter_map(TrainRecord::parts)
                    .filter(|(_, p, _)| seen.insert(p.to_string()))
                    .map(|(_, p, _)| CorpusDoc {
                        id: None,
                        text: p.to_owned(),
                    })
                    .collect()
            }
        })
    }

    /// The base model, loaded for training.
    fn load_encoder<A: AutodiffBackend>(
        &self,
        device: &A::Device,
    ) -> anyhow::Result<SentenceEncoder<A>> {
        SentenceEncoder::<A>::load(
            &EncoderConfig::new(&self.model)
                .with_batch_size(32)
                .with_engine(self.engine.into()),
            device,
        )
        .with_context(|| format!("loading {}", self.model))
    }

    /// The training examples of `records`: with their field-dropout copies and the corpus'
    /// sample transactions when those options are on, positives given the corpus' text, and
    /// hard negatives mined with `encoder` (the base model) when corpus negatives are off.
    fn training_set<A: AutodiffBackend>(
        &self,
        records: &[TrainRecord],
        corpus: &[CorpusDoc],
        plan: &FinetunePlan,
        encoder: &SentenceEncoder<A>,
    ) -> anyhow::Result<TrainingSet> {
        let dropped = self.field_dropout_queries(records, plan.field_dropout)?;
        if !dropped.is_empty() {
            eprintln!(
                "training also on {} field-dropout copies of the training queries ({} each, rate {})",
                dropped.len(),
                self.field_dropout_copies,
                self.field_dropout_rate
            );
        }
        let samples = self.sample_queries(plan.train_on_samples)?;
        if !samples.is_empty() {
            eprintln!(
                "training also on {} sample transactions of the corpus",
                samples.len()
            );
        }
        let mut all = records.to_vec();
        all.extend(dropped.iter().cloned().map(TrainRecord::Course));
        all.extend(samples.iter().cloned().map(TrainRecord::Course));
        let mut examples = examples_from_records(&all).0;
        // Positives name documents by key; train on the text the corpus gives them.
        for e in &mut examples {
            if let Some(d) = corpus.iter().find(|d| d.key() == e.positive) {
                e.positive.clone_from(&d.text);
            }
        }
        if plan.hard_negatives > 0 {
            add_hard_negatives(
                &encoder.valid(),
                &mut examples,
                corpus,
                plan.hard_negatives,
                self.mine_skip,
            )?;
        }
        Ok(TrainingSet {
            examples,
            dropped: dropped.len(),
            samples: samples.len(),
        })
    }
}

/// What a run trains on: the examples, and how many of them are field-dropout copies and
/// sample transactions.
struct TrainingSet {
    examples: Vec<retune_trainer::train::TrainExample>,
    dropped: usize,
    samples: usize,
}

fn print_eval(title: &str, rows: &[(&str, BTreeMap<String, f64>)]) {
    let keys = [
        "recall@1", "recall@3", "recall@5", "mrr@5", "mrr@10", "ndcg@10",
    ];
    eprintln!("\n{title}");
    eprintln!("| model | {} |", keys.join(" | "));
    eprintln!("|---|{}", "---|".repeat(keys.len()));
    for (name, m) in rows {
        let vals: Vec<String> = keys
            .iter()
            .map(|k| format!("{:.4}", m.get(*k).copied().unwrap_or(f64::NAN)))
            .collect();
        eprintln!("| {name} | {} |", vals.join(" | "));
    }
}

/// What a fine-tune produced.
#[derive(Debug, Clone)]
pub struct FinetuneOutcome {
    /// The training report (steps, time, best validation value).
    pub report: TrainReport,
    /// Metrics of the base model on EVAL, when EVAL was given.
    pub before: Option<BTreeMap<String, f64>>,
    /// Metrics of the fine-tuned model on EVAL, when EVAL was given.
    pub after: Option<BTreeMap<String, f64>>,
}

impl BackendTask for FinetuneArgs {
    type Output = FinetuneOutcome;

    fn run<B: Backend, A: AutodiffBackend<InnerBackend = B>>(
        self,
        _: B::Device,
        device: A::Device,
    ) -> anyhow::Result<FinetuneOutcome> {
        let hub = self.push_to_hub.as_deref().map(publish_check).transpose()?;
        let records = self.read_training_records()?;
        let corpus = self.read_corpus(&records)?;
        let plan = self.plan(&records, corpus.len())?;
        let holdout = plan.holdout;
        let (valid_records, train_records) = records.split_at(holdout);
        if plan.skipped > 0 {
            eprintln!(
                "note: {} training records have no positive and were skipped",
                plan.skipped
            );
        }
        let validation = (holdout > 0).then(|| EvalSet {
            queries: valid_records
                .iter()
                .filter_map(TrainRecord::parts)
                .map(|(a, p, _)| EvalItem {
                    input: a.to_owned(),
                    expected: vec![p.to_owned()],
                })
                .collect(),
            corpus: corpus.clone(),
        });
        let eval = match &self.eval {
            Some(p) => Some(EvalSet {
                queries: read_jsonl::<EvalItem>(p, ReadMode::Strict)?.0,
                corpus: corpus.clone(),
            }),
            None => None,
        };
        eprintln!(
            "train {} examples, validation {} (first rows of TRAIN), corpus {} documents",
            plan.train_examples,
            holdout,
            corpus.len()
        );
        let encoder = self.load_encoder::<A>(&device)?;
        let corpus_negatives = plan.corpus_negatives;
        let refits = plan.refit;
        let set = self.training_set(train_records, &corpus, &plan, &encoder)?;
        let train = set.examples;
        if corpus_negatives {
            eprintln!(
                "every batch scores its anchors against all {} corpus documents",
                corpus.len()
            );
        }
        let metrics = retrieval_metrics();
        let before = match &eval {
            Some(e) => Some(evaluate_retrieval(&encoder.valid(), e, &metrics, 25)?.mean_by_name()),
            None => None,
        };
        let mut config = plan.config.clone();
        if corpus_negatives {
            config.shared_negatives = corpus.iter().map(|d| d.text.clone()).collect();
        }
        std::fs::create_dir_all(
            self.output
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(std::path::Path::new(".")),
        )
        .ok();
        let log_path = self.output.with_extension("train_log.jsonl");
        let checkpoints = prepare_run_files(
            &self.output,
            self.checkpoint_dir.as_deref(),
            self.checkpoints,
            self.resume,
        )?;
        let mut trainer = Trainer::new(encoder, config.clone());
        let first_ends = trainer.epoch_ends(&train);
        let report = trainer
            .fit_resumable(
                &train,
                validation.as_ref(),
                retune_trainer::train::RunFiles {
                    log: Some(&log_path),
                    checkpoints: self.checkpoints.then_some(checkpoints.as_path()),
                    resume: self.resume,
                },
            )
            .with_context(|| resume_context(self.resume, &self.train))?;
        let validated = trainer.inference_encoder();
        drop(trainer);
        let best = report.best.map_or_else(
            || "none (no validation split)".to_owned(),
            |(step, value)| format!("{value:.4} at step {step}"),
        );
        eprintln!(
            "trained {} steps in {:.1}s ({:.2} s/step); best validation {}: {best}",
            report.steps,
            report.seconds,
            report.seconds / report.steps.max(1) as f64,
            config.best_metric,
        );
        if let Some((n, m)) = &report.average {
            eprintln!(
                "saving the mean of the last {n} epochs' weights: validation {} = {:.4}",
                config.best_metric,
                m.get(&config.best_metric).copied().unwrap_or(f64::NAN)
            );
        }
        let measure = |enc: &SentenceEncoder<B>| -> anyhow::Result<_> {
            Ok(match &eval {
                Some(e) => Some(evaluate_retrieval(enc, e, &metrics, 25)?.mean_by_name()),
                None => None,
            })
        };
        let refit = match report.best {
            Some((best, _)) if refits && best > 0 => {
                let run = refit::RefitRun {
                    records: &records,
                    corpus: &corpus,
                    plan: &plan,
                    config: &config,
                    first_ends: &first_ends,
                    best_step: best,
                    checkpoints: &checkpoints,
                };
                Some(run.run::<A>(&self, &device)?)
            }
            Some(_) if refits => {
                eprintln!("no refit: the validation split preferred the base model to every epoch");
                None
            }
            _ => None,
        };
        // With a refit, the validated run is measured too, beside the model that is saved.
        let validated_eval = match &refit {
            Some(_) => measure(&validated)?,
            None => None,
        };
        let (trained, refit) = match refit {
            Some((model, summary)) => (model, Some(summary)),
            None => (validated, None),
        };
        let after = measure(&trained)?;
        let saved_config = refit.as_ref().map_or(&config, |r| &r.config);
        if let (Some(b), Some(a)) = (&before, &after) {
            let mut rows = vec![("base", b.clone())];
            if let Some(v) = &validated_eval {
                rows.push(("fine-tuned, validated run", v.clone()));
                rows.push(("fine-tuned, refit on all rows", a.clone()));
            } else {
                rows.push(("fine-tuned", a.clone()));
            }
            print_eval(
                &format!(
                    "evaluation on {}",
                    self.eval
                        .as_ref()
                        .map_or(String::new(), |p| p.display().to_string())
                ),
                &rows,
            );
        }
        let card = card::model_card(&card::Facts {
            args: &self,
            config: saved_config,
            train: train.len(),
            holdout,
            dropped: set.dropped,
            samples: set.samples,
            refit: refit.as_ref(),
            before: before.as_ref(),
            validated: validated_eval.as_ref(),
            after: after.as_ref(),
        });
        save_sentence_transformer(&trained, &self.output, &card)?;
        let cfg_path = self.output.join("training_config.json");
        std::fs::write(&cfg_path, serde_json::to_string_pretty(saved_config)?)?;
        std::fs::write(
            self.output.join("plan.json"),
            serde_json::to_string_pretty(&plan)?,
        )?;
        eprintln!(
            "saved the fine-tuned model to {} (training log: {})",
            self.output.display(),
            log_path.display()
        );
        if let (Some(hub), Some(repo)) = (&hub, &self.push_to_hub) {
            publish(hub, &self.output, repo, self.private, &self.model)?;
        }
        Ok(FinetuneOutcome {
            report,
            before,
            after,
        })
    }
}

/// Prepares a training run's side files next to OUTPUT: the checkpoint folder (`dir`, default
/// `OUTPUT.checkpoints`, which it returns) and the log `OUTPUT.train_log.jsonl`, after checking
/// that `output` is retune's to replace (absent, empty or marked: nothing is trained for an
/// output that would be refused at the end). A fresh run removes both; `resume` keeps them and says which checkpoint it continues from. Shared by
/// `finetune` and `finetune-reranker`.
pub(crate) fn prepare_run_files(
    output: &std::path::Path,
    dir: Option<&std::path::Path>,
    checkpoints: bool,
    resume: bool,
) -> anyhow::Result<PathBuf> {
    retune_trainer::output::check_replaceable(output)?;
    let dir = dir.map_or_else(|| output.with_extension("checkpoints"), ToOwned::to_owned);
    prepare_files(
        &output.with_extension("train_log.jsonl"),
        dir,
        checkpoints,
        resume,
    )
}

/// What a training error happened during: resuming on `train`, or training on it.
pub(crate) fn resume_context(resume: bool, train: &std::path::Path) -> String {
    if resume {
        format!("--resume with --train {}", train.display())
    } else {
        format!("training on {}", train.display())
    }
}

/// Refuses, before any work, a run whose outputs (`--output`, its log, its checkpoints and the
/// refit's) would be written over an input (`--model` when it is a folder, and `inputs`) or
/// would replace a folder holding one, and an `--output` folder retune did not write.
pub(crate) fn check_run_paths(
    model: &str,
    inputs: &[Option<(&str, &std::path::Path)>],
    output: &std::path::Path,
    checkpoint_dir: Option<&std::path::Path>,
    overwrite: bool,
) -> anyhow::Result<()> {
    use retune_data::paths::{Named, check_distinct};
    let model_dir = std::path::Path::new(model);
    let mut named: Vec<Named<'_>> = inputs
        .iter()
        .flatten()
        .map(|(option, path)| Named::new(option, path))
        .collect();
    if model_dir.exists() {
        named.push(Named::new("--model", model_dir));
    }
    let derived: Vec<PathBuf> = if output.file_name().is_some() {
        [
            "train_log.jsonl",
            "checkpoints",
            "refit.train_log.jsonl",
            "checkpoints-refit",
        ]
        .iter()
        .map(|e| output.with_extension(e))
        .collect()
    } else {
        Vec::new()
    };
    let mut outputs = vec![Named::new("--output", output)];
    outputs.extend(
        derived
            .iter()
            .map(|p| Named::new("a file derived from --output", p)),
    );
    if let Some(dir) = checkpoint_dir {
        outputs.push(Named::new("--checkpoint-dir", dir));
    }
    check_distinct(&named, &outputs)?;
    if overwrite {
        retune_trainer::output::claim(output)?;
    }
    retune_trainer::output::check_replaceable(output)?;
    Ok(())
}

/// As [`prepare_run_files`], for a run whose log and checkpoint folder are named by the caller
/// (the refit's): removes both for a fresh run, says where a resumed one continues from.
pub(crate) fn prepare_files(
    log_path: &std::path::Path,
    dir: PathBuf,
    checkpoints: bool,
    resume: bool,
) -> anyhow::Result<PathBuf> {
    if resume && !checkpoints {
        bail!("--resume needs checkpoints: drop `--checkpoints false`");
    }
    if resume {
        match retune_trainer::train::latest_checkpoint(&dir) {
            Some(c) => eprintln!("resuming from {}", c.display()),
            None => eprintln!(
                "no checkpoint in {}: starting from the beginning",
                dir.display()
            ),
        }
    } else {
        if log_path.exists() {
            std::fs::remove_file(log_path)
                .with_context(|| format!("removing {}", log_path.display()))?;
        }
        if dir.exists() {
            retune_trainer::output::check_replaceable(&dir)?;
            std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
        }
    }
    Ok(dir)
}

/// Checks before training that publishing can work (a token the Hub accepts, an `owner/name`
/// id), so a long run does not end in an error that was knowable at its start.
#[cfg(feature = "hub")]
fn publish_check(repo: &str) -> anyhow::Result<retune_trainer::hub::HubConfig> {
    let hub = retune_trainer::hub::HubConfig::from_env();
    let account = retune_trainer::hub::verify_token(&hub, repo)
        .with_context(|| format!("--push-to-hub {repo}"))?;
    eprintln!("--push-to-hub {repo}: the token belongs to {account}");
    Ok(hub)
}

/// Replaces each example's negatives with the `n` documents `embedder` finds most similar to
/// its anchor after the `skip` most similar, never its positive ([`retune_mining::mine_pairs`]).
pub fn add_hard_negatives<E: retune_data::Embedder>(
    embedder: &E,
    train: &mut [retune_trainer::train::TrainExample],
    corpus: &[CorpusDoc],
    n: usize,
    skip: usize,
) -> anyhow::Result<()> {
    let pairs: Vec<(&str, &str)> = train
        .iter()
        .map(|e| (e.anchor.as_str(), e.positive.as_str()))
        .collect();
    let config = retune_mining::MiningConfig::hard(n, skip);
    let mined = retune_mining::mine_pairs(embedder, &pairs, corpus, &config)?;
    let short: usize = mined.iter().map(|m| m.shortfall).sum();
    for (e, m) in train.iter_mut().zip(mined) {
        e.negatives = m
            .negatives
            .iter()
            .map(|&i| corpus[i].text.clone())
            .collect();
    }
    eprintln!("mined {n} hard negatives per example with the base model (shortfall {short})");
    Ok(())
}

#[cfg(feature = "hub")]
fn publish(
    hub: &retune_trainer::hub::HubConfig,
    dir: &std::path::Path,
    repo: &str,
    private: bool,
    base: &str,
) -> anyhow::Result<()> {
    let message = format!("Fine-tune of {base} with retune");
    let url = retune_trainer::hub::push_folder(hub, dir, repo, private, &message)?;
    eprintln!("published {} to {repo}: {url}", dir.display());
    Ok(())
}

#[cfg(not(feature = "hub"))]
fn publish_check(repo: &str) -> anyhow::Result<()> {
    bail!("--push-to-hub {repo}: this build has no `hub` feature")
}

#[cfg(not(feature = "hub"))]
fn publish(_: &(), _: &std::path::Path, _: &str, _: bool, _: &str) -> anyhow::Result<()> {
    unreachable!("publish_check refuses --push-to-hub without the hub feature")
}

#[cfg(test)]
mod tests {
    use super::*;
    use retune_trainer::train::TrainExample;

    fn args(extra: &[&str]) -> FinetuneArgs {
        let mut v = vec!["finetune", "--model", "m", "--train", "t", "--output", "o"];
        v.extend_from_slice(extra);
        FinetuneArgs::parse_from(v)
    }

    fn example(negatives: &[&str]) -> TrainExample {
        TrainExample {
            anchor: "a".into(),
            positive: "p".into(),
            negatives: negatives.iter().map(|n| n.to_string()).collect(),
            label: 0,
        }
    }

    #[test]
    fn corpus_negatives_auto_is_on_only_for_mnrl_small_corpora_and_bare_examples() {
        let bare = [example(&[]), example(&[])];
        let mined = [example(&[]), example(&["n"])];
        assert!(args(&[]).uses_corpus_negatives(27, &bare));
        assert!(!args(&[]).uses_corpus_negatives(513, &bare));
        assert!(!args(&[]).uses_corpus_negatives(27, &mined));
        assert!(!args(&["--loss", "cached-mnrl"]).uses_corpus_negatives(27, &bare));
        assert!(!args(&["--loss", "batch-semi-hard"]).uses_corpus_negatives(27, &bare));
        assert!(!args(&["--corpus-negatives", "false"]).uses_corpus_negatives(27, &bare));
        assert!(args(&["--corpus-negatives", "true"]).uses_corpus_negatives(27, &mined));
    }

    #[test]
    fn samples_follow_corpus_negatives_unless_forced() {
        let dir = tempfile::tempdir().unwrap();
        let cats = dir.path().join("c.json");
        std::fs::write(
            &cats,
            r#"[{"category":"Travel","sample_transactions":["Delta","Uber"]},{"category":"Rent"}]"#,
        )
        .unwrap();
        let jl = dir.path().join("c.jsonl");
        std::fs::write(&jl, "{\"text\":\"Travel\"}\n").unwrap();
        let c = cats.to_str().unwrap();
        let n = |extra: &[&str], cn: bool| {
            let a = args(extra);
            a.sample_queries(a.train_on_samples.decide(cn))
                .map(|v| v.len())
        };
        assert_eq!(n(&["--corpus", c], true).unwrap(), 2);
        assert_eq!(n(&["--corpus", c], false).unwrap(), 0);
        assert_eq!(n(&[], true).unwrap(), 0);
        assert_eq!(
            n(&["--corpus", c, "--train-on-samples", "false"], true).unwrap(),
            0
        );
        assert_eq!(
            n(&["--corpus", c, "--train-on-samples", "true"], false).unwrap(),
            2
        );
        let j = jl.to_str().unwrap();
        assert_eq!(n(&["--corpus", j], true).unwrap(), 0);
        let err = n(&["--corpus", j, "--train-on-samples", "true"], true).unwrap_err();
        assert!(err.to_string().contains("sample_transactions"), "{err}");
    }

    #[test]
    fn field_dropout_follows_corpus_negatives_and_copies_course_queries() {
        let course = |input: &str| {
            TrainRecord::Course(EvalItem {
                input: input.into(),
                expected: vec!["Travel".into()],
            })
        };
        let records = vec![
            course("\nName : Delta\nAmount: 420.0\nTrip Name: Boston\n"),
            course("Uber"),
            TrainRecord::Course(EvalItem {
                input: "Name : x\nAmount: 1".into(),
                expected: vec![],
            }),
        ];
        let dropout = |extra: &[&str], records: &[TrainRecord], cn: bool| {
            let a = args(extra);
            a.field_dropout_queries(records, a.field_dropout.decide(cn))
        };
        let n = |extra: &[&str], cn: bool| dropout(extra, &records, cn).map(|v| v.len());
        assert_eq!(
            n(&[], true).unwrap(),
            2,
            "two copies of the one multi-field query"
        );
        assert_eq!(n(&[], false).unwrap(), 0);
        assert_eq!(n(&["--field-dropout", "false"], true).unwrap(), 0);
        assert_eq!(n(&["--field-dropout", "true"], false).unwrap(), 2);
        assert_eq!(n(&["--field-dropout-copies", "5"], true).unwrap(), 5);
        let copies = dropout(&[], &records, true).unwrap();
        assert!(copies.iter().all(|c| c.expected == ["Travel"]));
        assert_ne!(
            copies,
            dropout(&["--seed", "1"], &records, true).unwrap(),
            "seeded by --seed"
        );
        let err = n(&["--field-dropout-rate", "1"], true).unwrap_err();
        assert!(err.to_string().contains("--field-dropout-rate"), "{err}");
        let err = dropout(&["--field-dropout", "true"], &records[1..], true).unwrap_err();
        assert!(err.to_string().contains("two or more lines"), "{err}");
    }
}
