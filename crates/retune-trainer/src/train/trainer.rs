//! The training loop: seeded batches, forward through the encoder on an autodiff backend, the
//! configured loss, gradient accumulation, global-norm clipping, AdamW on the linear schedule,
//! evaluation on a validation set, the best model kept by a chosen metric, a JSONL log.

use super::average::WeightAverage;
use super::checkpoint::{CheckpointState, fingerprint, restore, save_checkpoint, truncate_log};
use super::config::{SamplerKind, TrainConfig};
use super::evaluator::{EvalSet, evaluate_retrieval, retrieval_metrics};
use super::example::TrainExample;
use super::optim::{AdamW, LinearSchedule, NamedGrads, accumulate, layer_lr_multipliers};
use super::report::{RunFiles, StepLog, TrainReport};
use super::sampler::{group_by_label_batches, no_duplicates_batches, shuffled_batches};
use super::step_engine::StepEngine;
use crate::encoder::SentenceEncoder;
use crate::error::TrainerError;
use crate::loss::{self, LossConfig};
use crate::tokenize::Tokens;
use crate::transformer::Transformer;
use burn::module::AutodiffModule;
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{ElementConversion, Tensor};
use indicatif::{ProgressBar, ProgressStyle};
use retune_data::JsonlAppender;
use retune_metrics::Metric;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::Instant;

/// Trains an encoder.
pub struct Trainer<A: AutodiffBackend> {
    /// The encoder being trained.
    pub encoder: SentenceEncoder<A>,
    /// The run's settings.
    pub config: TrainConfig,
    optimizer: AdamW<A::InnerBackend>,
    tokens: HashMap<String, Tokens>,
    best: Option<Transformer<A::InnerBackend>>,
    average: WeightAverage,
    /// The mean of `average`, built once when training ends.
    averaged: Option<Transformer<A::InnerBackend>>,
    /// The engine steps run on, chosen from the encoder's engine when the trainer is made.
    engine: StepEngine<A>,
}

#[derive(Serialize)]
struct AverageLog<'a> {
    step: usize,
    averaged_epochs: usize,
    eval_average: &'a BTreeMap<String, f64>,
}

impl<A: AutodiffBackend> Trainer<A> {
    /// A trainer for an encoder loaded on an autodiff backend.
    pub fn new(encoder: SentenceEncoder<A>, config: TrainConfig) -> Self {
        let optimizer = AdamW::new(config.weight_decay, config.adam_epsilon);
        let engine = StepEngine::new(encoder.engine(), encoder.model_config.family());
        Self {
            encoder,
            config,
            optimizer,
            tokens: HashMap::new(),
            best: None,
            average: WeightAverage::default(),
            averaged: None,
            engine,
        }
    }

    /// Whether training steps run the encoder through the fused CPU path: when the encoder's
    /// engine was fused on this backend (the default on CPU backends) as the trainer was made.
    pub fn trains_fused(&self) -> bool {
        self.engine.is_fused()
    }

    /// Tokens of `texts` (tokenized once per run).
    fn rows(&mut self, texts: &[&str]) -> Result<Vec<Tokens>, TrainerError> {
        self.tokenize_missing(texts)?;
        Ok(texts.iter().map(|t| self.tokens[*t].clone()).collect())
    }

    /// The trained encoder for inference: the weight average when the config keeps one,
    /// else the best validated weights when there was a validation set, else the last.
    pub fn inference_encoder(&self) -> SentenceEncoder<A::InnerBackend> {
        match self.averaged.as_ref().or(self.best.as_ref()) {
            Some(m) => self.encoder.with_model(m.clone()),
            None => self.encoder.valid(),
        }
    }

    fn batches(&self, train: &[TrainExample], epoch: usize) -> Vec<Vec<usize>> {
        match self.config.sampler {
            SamplerKind::NoDuplicates => {
                no_duplicates_batches(train, self.config.batch_size, self.config.seed, epoch)
            }
            SamplerKind::GroupByLabel => {
                group_by_label_batches(train, self.config.batch_size, self.config.seed, epoch)
            }
            SamplerKind::Shuffled => {
                shuffled_batches(train.len(), self.config.batch_size, self.config.seed, epoch)
            }
        }
    }

    /// Embeddings of each column of texts with dropout from its seed: on the fused path one
    /// pass over all the columns (larger products), else one Burn forward per column.
    fn embed_columns(
        &mut self,
        columns: &[(Vec<&str>, u64)],
    ) -> Result<Vec<Tensor<A, 2>>, TrainerError> {
        for (texts, _) in columns {
            self.tokenize_missing(texts)?;
        }
        let rows: Vec<Vec<&Tokens>> = columns
            .iter()
            .map(|(texts, _)| texts.iter().map(|t| &self.tokens[*t]).collect())
            .collect();
        let groups: Vec<(&[&Tokens], u64)> = rows
            .iter()
            .zip(columns)
            .map(|(r, (_, seed))| (r.as_slice(), *seed))
            .collect();
        self.engine.embed_groups(&self.encoder, &groups)
    }

    /// The MNRL columns of a batch: anchors, positives, then each negative column, with the
    /// dropout seed of each column.
    fn mnrl_columns<'e>(examples: &[&'e TrainExample], seed: u64) -> Vec<(Vec<&'e str>, u64)> {
        let mut cols = vec![
            (examples.iter().map(|e| e.anchor.as_str()).collect(), seed),
            (
                examples.iter().map(|e| e.positive.as_str()).collect(),
                seed ^ 1,
            ),
        ];
        let negatives = examples
            .iter()
            .map(|e| e.negatives.len())
            .min()
            .unwrap_or(0);
        for c in 0..negatives {
            cols.push((
                examples.iter().map(|e| e.negatives[c].as_str()).collect(),
                seed ^ (2 + c as u64),
            ));
        }
        cols
    }

    /// GradCache: embed every column in mini-batches without a graph, take the loss's
    /// gradient with respect to the embeddings, then re-embed each mini-batch with its graph
    /// (same dropout masks, from the same seeds) and back-propagate the cached gradient.
    fn cached_mnrl_gradients(
        &mut self,
        examples: &[&TrainExample],
        seed: u64,
        weight: f64,
        (scale, symmetric, mini): (f64, bool, usize),
    ) -> Result<(f64, NamedGrads<A::InnerBackend>), TrainerError> {
        let mini = mini.max(1);
        let cols = Self::mnrl_columns(examples, seed);
        let chunk_seed =
            |col_seed: u64, chunk: usize| col_seed.wrapping_add((chunk as u64 + 1) << 48);
        let frozen = self.encoder.model.valid();
        let mut embedded: Vec<Tensor<A, 2>> = Vec::with_capacity(cols.len());
        for (texts, col_seed) in &cols {
            let mut parts = Vec::new();
            for (i, chunk) in texts.chunks(mini).enumerate() {
                let seed = chunk_seed(*col_seed, i);
                let rows = self.rows(chunk)?;
                let rows: Vec<&Tokens> = rows.iter().collect();
                parts.push(
                    self.engine
                        .embed_detached(&self.encoder, &frozen, &rows, seed)?,
                );
            }
            embedded.push(Tensor::from_inner(Tensor::cat(parts, 0)).require_grad());
        }
        let loss = loss::mnrl(
            embedded[0].clone(),
            embedded[1].clone(),
            &embedded[2..],
            scale,
            symmetric,
        ) * weight;
        let value = f64::from(loss.clone().into_scalar().elem::<f32>());
        let g = loss.backward();
        let cached: Vec<Tensor<A::InnerBackend, 2>> = embedded
            .iter()
            .map(|e| e.grad(&g).expect("embeddings take part in the loss"))
            .collect();
        let mut grads = BTreeMap::new();
        for ((texts, col_seed), col_grad) in cols.iter().zip(cached) {
            for (i, chunk) in texts.chunks(mini).enumerate() {
                let seed = chunk_seed(*col_seed, i);
                self.engine.clear();
                let rows = self.rows(chunk)?;
                let rows: Vec<&Tokens> = rows.iter().collect();
                let emb = self.engine.embed(&self.encoder, &rows, seed)?;
                let rows = col_grad.clone().narrow(0, i * mini, chunk.len());
                let surrogate = (emb * Tensor::from_inner(rows)).sum();
                let gi = surrogate.backward();
                accumulate(&mut grads, self.engine.gradients(&mut self.encoder, &gi)?);
            }
        }
        Ok((value, grads))
    }

    /// Loss value and parameter gradients of one batch, the loss scaled by `weight` (1 / the
    /// number of accumulated batches).
    pub fn batch_gradients(
        &mut self,
        examples: &[&TrainExample],
        seed: u64,
        weight: f64,
    ) -> Result<(f64, NamedGrads<A::InnerBackend>), TrainerError> {
        if let LossConfig::CachedMnrl {
            scale,
            symmetric,
            mini_batch,
        } = self.config.loss
        {
            return self.cached_mnrl_gradients(
                examples,
                seed,
                weight,
                (scale, symmetric, mini_batch),
            );
        }
        self.engine.clear();
        let loss = self.batch_loss(examples, seed)? * weight;
        let value = f64::from(loss.clone().into_scalar().elem::<f32>());
        let g = loss.backward();
        let grads = self.engine.gradients(&mut self.encoder, &g)?;
        Ok((value, grads))
    }

    fn tokenize_missing(&mut self, texts: &[&str]) -> Result<(), TrainerError> {
        let missing: Vec<&str> = texts
            .iter()
            .copied()
            .filter(|t| !self.tokens.contains_key(*t))
            .collect();
        if !missing.is_empty() {
            for (t, tok) in missing.iter().zip(self.encoder.tokenize(&missing, None)?) {
                self.tokens.insert((*t).to_owned(), tok);
            }
        }
        Ok(())
    }

    fn batch_loss(
        &mut self,
        examples: &[&TrainExample],
        seed: u64,
    ) -> Result<Tensor<A, 1>, TrainerError> {
        let anchors: Vec<&str> = examples.iter().map(|e| e.anchor.as_str()).collect();
        let column = |f: fn(&TrainExample) -> &str| examples.iter().map(|e| f(e)).collect();
        let loss = match self.config.loss {
            LossConfig::Mnrl { scale, symmetric } if self.config.distinct_candidates() => {
                let shared = self.config.shared_negatives.clone();
                let (texts, targets) = distinct_candidates(examples, &shared);
                let [a, c]: [Tensor<A, 2>; 2] = self
                    .embed_columns(&[(anchors, seed), (texts, seed ^ 1)])?
                    .try_into()
                    .expect("two columns");
                loss::mnrl_with_targets(a, c, &targets, scale, symmetric)
            }
            LossConfig::Mnrl { scale, symmetric }
            | LossConfig::CachedMnrl {
                scale, symmetric, ..
            } => {
                let columns = Self::mnrl_columns(examples, seed);
                let mut embedded = self.embed_columns(&columns)?.into_iter();
                let (a, p) = (
                    embedded.next().expect("anchors"),
                    embedded.next().expect("positives"),
                );
                let negs: Vec<Tensor<A, 2>> = embedded.collect();
                loss::mnrl(a, p, &negs, scale, symmetric)
            }
            LossConfig::Triplet { distance, margin } => {
                let columns = [
                    (anchors, seed),
                    (column(|e| e.positive.as_str()), seed ^ 1),
                    (column(|e| e.negatives[0].as_str()), seed ^ 2),
                ];
                let [a, p, n]: [Tensor<A, 2>; 3] = self
                    .embed_columns(&columns)?
                    .try_into()
                    .expect("three columns");
                loss::triplet(a, p, n, distance, margin)
            }
            LossConfig::BatchHard { margin }
            | LossConfig::BatchSemiHard { margin }
            | LossConfig::BatchAll { margin } => {
                let labels: Vec<i64> = examples.iter().map(|e| e.label).collect();
                let a = self
                    .embed_columns(&[(anchors, seed)])?
                    .pop()
                    .expect("one column");
                match self.config.loss {
                    LossConfig::BatchHard { .. } => loss::batch_hard(a, &labels, margin),
                    LossConfig::BatchSemiHard { .. } => loss::batch_semi_hard(a, &labels, margin),
                    _ => loss::batch_all(a, &labels, margin),
                }
            }
        };
        Ok(loss)
    }

    fn evaluate(
        &mut self,
        eval: &EvalSet,
        step: usize,
        report: &mut TrainReport,
        log: &mut Option<JsonlAppender>,
    ) -> Result<(), TrainerError> {
        let metrics = retrieval_metrics();
        let valid = self.encoder.valid();
        let result = evaluate_retrieval(&valid, eval, &metrics, 10)?.mean_by_name();
        let best_metric: Metric =
            self.config
                .best_metric
                .parse()
                .map_err(|_| TrainerError::Setting {
                    name: "best_metric".into(),
                    problem: format!("unknown metric {:?}", self.config.best_metric),
                })?;
        let value = result.get(&best_metric.to_string()).copied().unwrap_or(0.0);
        if report.record_eval(step, result, value, log)? {
            self.best = Some(valid.model);
        }
        Ok(())
    }

    /// Trains on `train`; evaluates on `eval` (every `eval_every` steps, and after each epoch)
    /// keeping the best weights; appends every step to the JSONL file `log` when given.
    pub fn fit(
        &mut self,
        train: &[TrainExample],
        eval: Option<&EvalSet>,
        log: Option<&Path>,
    ) -> Result<TrainReport, TrainerError> {
        self.fit_resumable(
            train,
            eval,
            RunFiles {
                log,
                ..RunFiles::default()
            },
        )
    }

    /// Resumes from the newest checkpoint in `dir`: weights, optimizer moments, step counter,
    /// best weights and the report so far; returns the epochs already done (0 without one).
    fn resume_from(
        &mut self,
        dir: &Path,
        data: &str,
        report: &mut TrainReport,
    ) -> Result<usize, TrainerError> {
        let device = self.encoder.device().clone();
        let Some(r) = restore(
            dir,
            &mut self.encoder.model,
            &mut self.optimizer,
            (&self.config, data),
            &device,
        )?
        else {
            return Ok(0);
        };
        self.best = r.best;
        self.engine.invalidate();
        let (ckpt, state) = (r.path, r.state);
        let average = ckpt.join("average.safetensors");
        self.average = if state.average_count > 0 && average.is_file() {
            let template = self.encoder.model.valid();
            WeightAverage::load(&average, state.average_count, &template, &device)?
        } else {
            WeightAverage::default()
        };
        *report = state.report();
        Ok(state.epochs_done)
    }

    /// The optimizer step at which each epoch of a run on `train` ends (the last is the
    /// schedule's length), without training: the batches are drawn as `fit` draws them.
    pub fn epoch_ends(&self, train: &[TrainExample]) -> Vec<usize> {
        Self::ends(
            &self.epoch_batches(train),
            self.config.grad_accumulation.max(1),
        )
    }

    /// Every epoch's batches, as `fit` trains them.
    fn epoch_batches(&self, train: &[TrainExample]) -> Vec<Vec<Vec<usize>>> {
        (0..self.config.epochs)
            .map(|e| self.batches(train, e))
            .collect()
    }

    fn ends(epochs: &[Vec<Vec<usize>>], accum: usize) -> Vec<usize> {
        epochs
            .iter()
            .scan(0, |done, b| {
                *done += b.len().div_ceil(accum);
                Some(*done)
            })
            .collect()
    }

    /// As [`fit`](Self::fit), with the run's [`RunFiles`]: a checkpoint into
    /// `files.checkpoints` after every epoch; with `files.resume`, continues from the newest
    /// checkpoint there, taking exactly the steps the uninterrupted run would have taken.
    pub fn fit_resumable(
        &mut self,
        train: &[TrainExample],
        eval: Option<&EvalSet>,
        files: RunFiles<'_>,
    ) -> Result<TrainReport, TrainerError> {
        let RunFiles {
            log,
            checkpoints,
            resume,
        } = files;
        self.config.validate()?;
        if matches!(self.config.loss, LossConfig::Triplet { .. })
            && let Some(e) = train.iter().find(|e| e.negatives.is_empty())
        {
            return Err(TrainerError::config(
                "training data",
                "negative",
                format!(
                    "TripletLoss needs a negative for every example; {:?} has none (mine negatives first)",
                    e.anchor
                ),
            ));
        }
        self.optimizer.lr_multipliers = if self.config.layer_lr_decay == 1.0 {
            Vec::new()
        } else {
            let config = &self.encoder.model_config;
            layer_lr_multipliers(
                config.family(),
                config.num_hidden_layers(),
                self.config.layer_lr_decay,
                "",
            )
        };
        let started = Instant::now();
        self.engine.prepare(&mut self.optimizer);
        let accum = self.config.grad_accumulation.max(1);
        let epochs = self.epoch_batches(train);
        let total: usize = Self::ends(&epochs, accum).last().copied().unwrap_or(0);
        let schedule = LinearSchedule::new(self.config.lr, self.config.warmup_ratio, total);
        let stop = match self.config.stop_at_step {
            0 => total,
            s => s.min(total),
        };
        let data = fingerprint(train.iter().flat_map(|e| {
            [e.anchor.as_str(), e.positive.as_str()]
                .into_iter()
                .chain(e.negatives.iter().map(String::as_str))
                .chain([""])
        }));
        let bar = ProgressBar::new(stop as u64);
        bar.set_style(
            ProgressStyle::with_template("training [{bar:30}] {pos}/{len} steps {msg} eta {eta}")
                .expect("static template")
                .progress_chars("=> "),
        );
        let mut report = TrainReport::default();
        let done = match checkpoints {
            Some(dir) if resume => self.resume_from(dir, &data, &mut report)?,
            _ => 0,
        };
        if let Some(path) = log
            && done > 0
        {
            truncate_log(path, report.steps)?;
        }
        let mut log = log.map(JsonlAppender::open).transpose()?;
        let seconds_before = report.seconds;
        bar.set_position(report.steps as u64);
        if let Some(eval) = eval
            && done == 0
        {
            self.evaluate(eval, 0, &mut report, &mut log)?;
        }
        for (epoch, batches) in epochs.iter().enumerate().skip(done) {
            if report.steps >= stop {
                break;
            }
            for group in batches.chunks(accum) {
                if report.steps >= stop {
                    break;
                }
                let mut grads: NamedGrads<A::InnerBackend> = BTreeMap::new();
                let mut loss_sum = 0.0;
                for (i, batch) in group.iter().enumerate() {
                    let micro = (report.steps * accum + i) as u64;
                    let seed = self.config.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15)
                        ^ (micro.wrapping_mul(0xBF58_476D_1CE4_E5B9) << 4);
                    let examples: Vec<&TrainExample> = batch.iter().map(|&j| &train[j]).collect();
                    let (value, g) =
                        self.batch_gradients(&examples, seed, 1.0 / group.len() as f64)?;
                    loss_sum += value;
                    accumulate(&mut grads, g);
                }
                let lr = schedule.lr(report.steps);
                let grad_norm = self.engine.optimizer_step(
                    &mut self.optimizer,
                    &mut self.encoder.model,
                    grads,
                    lr,
                    self.config.max_grad_norm,
                );
                report.steps += 1;
                let entry = StepLog {
                    step: report.steps,
                    epoch,
                    loss: loss_sum,
                    lr,
                    grad_norm,
                    seconds: seconds_before + started.elapsed().as_secs_f64(),
                };
                bar.set_message(format!("loss {loss_sum:.4} lr {lr:.2e}"));
                bar.inc(1);
                report.record_step(entry, &mut log)?;
                if let Some(eval) = eval
                    && self.config.eval_every > 0
                    && report.steps % self.config.eval_every == 0
                {
                    self.evaluate(eval, report.steps, &mut report, &mut log)?;
                }
            }
            if let Some(eval) = eval
                && (self.config.eval_every == 0 || report.steps % self.config.eval_every != 0)
            {
                self.evaluate(eval, report.steps, &mut report, &mut log)?;
            }
            if epoch + self.config.average_last_epochs >= self.config.epochs {
                self.average.add(&self.encoder.model.valid());
            }
            if let Some(dir) = checkpoints {
                let state = CheckpointState {
                    epochs_done: epoch + 1,
                    steps: report.steps,
                    optimizer_step: self.optimizer.step,
                    log: report.log.clone(),
                    evals: report.evals.clone(),
                    best: report.best,
                    seconds: seconds_before + started.elapsed().as_secs_f64(),
                    config: self.config.clone(),
                    average_count: self.average.count,
                    data: data.clone(),
                };
                save_checkpoint(
                    dir,
                    &self.encoder.model.valid(),
                    &self.optimizer,
                    self.best.as_ref(),
                    Some(&self.average),
                    &state,
                )?;
            }
        }
        bar.finish_and_clear();
        if self.average.count > 0 {
            let valid = self.encoder.valid();
            self.averaged = Some(self.average.model(&valid.model, valid.device())?);
        }
        if let Some(eval) = eval
            && self.average.count > 0
        {
            let averaged = self.inference_encoder();
            let result =
                evaluate_retrieval(&averaged, eval, &retrieval_metrics(), 10)?.mean_by_name();
            if let Some(w) = &mut log {
                w.append(&AverageLog {
                    step: report.steps,
                    averaged_epochs: self.average.count,
                    eval_average: &result,
                })?;
            }
            report.average = Some((self.average.count, result));
        }
        report.seconds = seconds_before + started.elapsed().as_secs_f64();
        Ok(report)
    }
}

/// The distinct texts among a batch's positives, its negatives and the shared negatives, in
/// that order of first appearance, and the index of each example's positive among them.
fn distinct_candidates<'e>(
    examples: &[&'e TrainExample],
    shared: &'e [String],
) -> (Vec<&'e str>, Vec<usize>) {
    let mut texts: Vec<&'e str> = Vec::new();
    let mut index: HashMap<&'e str, usize> = HashMap::new();
    let mut slot = |t: &'e str| {
        *index.entry(t).or_insert_with(|| {
            texts.push(t);
            texts.len() - 1
        })
    };
    let targets: Vec<usize> = examples.iter().map(|e| slot(&e.positive)).collect();
    for t in examples.iter().flat_map(|e| &e.negatives).chain(shared) {
        slot(t);
    }
    (texts, targets)
}
