//! Training a cross-encoder: batches of (query, positive, negatives) groups, BCE or listwise
//! loss, the bi-encoder trainer's AdamW (Hugging Face defaults, no decay on biases and
//! LayerNorm), linear warmup/decay schedule and global-norm clipping, seeded dropout, a
//! validation pass that re-ranks candidate lists and keeps the best weights, and the
//! bi-encoder's per-epoch checkpoints with an exact resume (`checkpoint-NNN/`, written
//! atomically; shuffles depend on (seed, epoch) and dropout on (seed, step) only).

use super::encoder::CrossEncoder;
use super::loss::{CrossLoss, bce_with_logits, listwise_distillation, listwise_softmax};
use super::model::CrossEncoderModel;
use crate::error::TrainerError;
use crate::tokenize::Tokens;
use crate::train::checkpoint::{
    CheckpointState, fingerprint, restore, save_checkpoint, truncate_log,
};
use crate::train::step_engine::StepEngine;
use crate::train::{AdamW, LinearSchedule, RunFiles, StepLog, TrainReport};
use burn::module::AutodiffModule;
use burn::tensor::{ElementConversion, Tensor, backend::AutodiffBackend};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use retune_data::JsonlAppender;
use retune_metrics::{Metric, Relevance, evaluate_ranking};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Instant;

/// One training group: a query, a relevant document and documents that are not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RerankGroup {
    /// The query.
    pub query: String,
    /// A relevant document.
    pub positive: String,
    /// Irrelevant documents (mined hard negatives, ideally).
    pub negatives: Vec<String>,
    /// A teacher's logits for `[positive, negatives...]` (e.g. the retriever's similarities
    /// times its loss scale), for distillation; empty when there is no teacher.
    #[serde(default)]
    pub teacher: Vec<f32>,
}

/// A validation query: the candidates a retriever returned, and which are relevant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RerankQuery {
    /// The query.
    pub query: String,
    /// Candidate documents, in the retriever's order.
    pub candidates: Vec<String>,
    /// The relevant documents.
    pub relevant: Vec<String>,
}

/// Settings of a cross-encoder fine-tune.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CrossTrainConfig {
    /// The loss.
    pub loss: CrossLoss,
    /// Passes over the groups.
    pub epochs: usize,
    /// Groups per optimizer step.
    pub batch_size: usize,
    /// Peak learning rate.
    pub lr: f64,
    /// Warmup fraction of the steps.
    pub warmup_ratio: f64,
    /// AdamW weight decay.
    pub weight_decay: f64,
    /// Global gradient-norm clip (0: none).
    pub max_grad_norm: f64,
    /// Seed of shuffling and dropout.
    pub seed: u64,
    /// Metric of the validation pass that picks the best weights.
    pub best_metric: String,
    /// Learning-rate multiplier of the classifier head and pooler when the head is new
    /// (a head initialized at std 0.02 barely moves at a body's learning rate in a few hundred
    /// steps).
    pub new_head_lr_multiplier: f64,
    /// Weight of the distillation term (KL from the groups' teacher logits to the
    /// re-ranker's, listwise) added to the loss; 0: none.
    #[serde(default)]
    pub distill_weight: f64,
}

impl CrossTrainConfig {
    /// Defaults: batch 8 groups, lr 3e-5, warmup 0.1, weight decay 0.01, clip 1, seed 0, mrr@10,
    /// a new head at 20x the learning rate, no distillation.
    pub fn new(loss: CrossLoss, epochs: usize) -> Self {
        Self {
            loss,
            epochs,
            batch_size: 8,
            lr: 3e-5,
            warmup_ratio: 0.1,
            weight_decay: 0.01,
            max_grad_norm: 1.0,
            seed: 0,
            best_metric: "mrr@10".into(),
            new_head_lr_multiplier: 20.0,
            distill_weight: 0.0,
        }
    }
}

/// Fine-tunes a [`CrossEncoder`].
pub struct CrossTrainer<A: AutodiffBackend> {
    /// The model being trained.
    pub encoder: CrossEncoder<A>,
    /// The settings.
    pub config: CrossTrainConfig,
    optimizer: AdamW<A::InnerBackend>,
    best: Option<CrossEncoderModel<A::InnerBackend>>,
    /// The engine steps run the body on, chosen from the encoder's engine when the trainer is
    /// made.
    engine: StepEngine<A>,
}

/// Indices of `scores` from the highest score down; ties keep the input order (the
/// retriever's ranking), so re-ranking never reorders candidates it cannot tell apart.
pub fn order_by_score(scores: &[f32]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    order
}

/// Metrics of re-ranking: the candidates sorted by score, measured against the relevant set.
pub fn rerank_metrics() -> Vec<Metric> {
    vec![
        Metric::Recall(1),
        Metric::Recall(3),
        Metric::Mrr(Some(10)),
        Metric::Ndcg(Some(10)),
    ]
}

impl<A: AutodiffBackend> CrossTrainer<A> {
    /// A trainer for `encoder`.
    pub fn new(encoder: CrossEncoder<A>, config: CrossTrainConfig) -> Self {
        let mut optimizer = AdamW::new(config.weight_decay, 1e-6);
        if !encoder.head_loaded {
            let m = config.new_head_lr_multiplier;
            let (projection, output) = encoder.model.head_names();
            optimizer.lr_multipliers = vec![(format!("{output}."), m), (projection, m)];
        }
        let engine = StepEngine::new(encoder.engine(), encoder.model_config.family());
        Self {
            encoder,
            config,
            optimizer,
            best: None,
            engine,
        }
    }

    /// Whether training steps run the encoder body through the fused CPU path (the encoder's
    /// engine fused on this backend as the trainer was made: the default on CPU backends);
    /// the head and the loss stay Burn's.
    pub fn trains_fused(&self) -> bool {
        self.engine.is_fused()
    }

    /// The trained model for inference: the best validation weights if validation ran.
    pub fn inference_encoder(&self) -> CrossEncoder<A::InnerBackend> {
        let mut e = self.encoder.valid();
        if let Some(best) = &self.best {
            e.set_model(best.clone());
        }
        e
    }

    fn loss(&mut self, groups: &[&RerankGroup], seed: u64) -> Result<Tensor<A, 1>, TrainerError> {
        let mut pairs: Vec<(&str, &str)> = Vec::new();
        let mut sizes = Vec::new();
        let mut labels = Vec::new();
        let mut teacher = Vec::new();
        for g in groups {
            teacher.extend_from_slice(&g.teacher);
            pairs.push((&g.query, &g.positive));
            labels.push(1.0f32);
            for n in &g.negatives {
                pairs.push((&g.query, n));
                labels.push(0.0);
            }
            sizes.push(1 + g.negatives.len());
        }
        let tokens = self.encoder.tokenize(&pairs)?;
        let rows: Vec<&Tokens> = tokens.iter().collect();
        let device = self.encoder.device().clone();
        self.engine.clear();
        let logits = self.engine.cross_logits(&self.encoder, &rows, seed)?;
        let loss = match self.config.loss {
            CrossLoss::Bce => bce_with_logits(
                logits.clone(),
                Tensor::from_floats(labels.as_slice(), &device),
            ),
            CrossLoss::Listwise => listwise_softmax(logits.clone(), &sizes),
        };
        Ok(if self.config.distill_weight > 0.0 {
            loss + listwise_distillation(logits, &teacher, &sizes) * self.config.distill_weight
        } else {
            loss
        })
    }

    /// Re-ranks every validation query's candidates and measures.
    pub fn validate(
        encoder: &CrossEncoder<A::InnerBackend>,
        queries: &[RerankQuery],
    ) -> Result<std::collections::BTreeMap<String, f64>, TrainerError> {
        let metrics = rerank_metrics();
        let mut sums = vec![0.0; metrics.len()];
        for q in queries {
            let docs: Vec<&str> = q.candidates.iter().map(String::as_str).collect();
            let scores = retune_data::Reranker::score(encoder, &q.query, &docs)?;
            let ranked: Vec<&str> = order_by_score(&scores).iter().map(|&i| docs[i]).collect();
            let rel = Relevance::binary(q.relevant.iter().cloned());
            for (s, v) in sums
                .iter_mut()
                .zip(evaluate_ranking(&ranked, &rel, &metrics))
            {
                *s += v;
            }
        }
        let n = queries.len().max(1) as f64;
        Ok(metrics
            .iter()
            .map(ToString::to_string)
            .zip(sums.into_iter().map(|s| s / n))
            .collect())
    }

    fn evaluate(
        &mut self,
        queries: &[RerankQuery],
        step: usize,
        report: &mut TrainReport,
        log: &mut Option<JsonlAppender>,
    ) -> Result<(), TrainerError> {
        let valid = self.encoder.valid();
        let result = Self::validate(&valid, queries)?;
        let value = result
            .get(&self.config.best_metric)
            .copied()
            .ok_or_else(|| {
                TrainerError::config(
                    "cross-encoder train config",
                    "best_metric",
                    format!(
                        "{:?} is not one of {:?}",
                        self.config.best_metric,
                        result.keys().collect::<Vec<_>>()
                    ),
                )
            })?;
        if report.record_eval(step, result, value, log)? {
            self.best = Some(valid.model);
        }
        Ok(())
    }

    /// Trains on `groups`; re-ranks `validation` after each epoch (and before the first),
    /// keeping the best weights; appends each step to the JSONL file `log` when given.
    pub fn fit(
        &mut self,
        groups: &[RerankGroup],
        validation: Option<&[RerankQuery]>,
        log: Option<&Path>,
    ) -> Result<TrainReport, TrainerError> {
        self.fit_resumable(
            groups,
            validation,
            RunFiles {
                log,
                ..RunFiles::default()
            },
        )
    }

    /// Resumes from the newest checkpoint in `dir`: weights, optimizer moments and step, the
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
        let state = r.state;
        *report = state.report();
        Ok(state.epochs_done)
    }

    /// As [`fit`](Self::fit), writing a checkpoint into `checkpoints` after every epoch (the
    /// two newest are kept); with `resume`, continues from the newest one there, taking exactly
    /// the steps the uninterrupted run would have taken.
    pub fn fit_resumable(
        &mut self,
        groups: &[RerankGroup],
        validation: Option<&[RerankQuery]>,
        files: RunFiles<'_>,
    ) -> Result<TrainReport, TrainerError> {
        let RunFiles {
            log,
            checkpoints,
            resume,
        } = files;
        if groups.is_empty() {
            return Err(TrainerError::config(
                "training data",
                "groups",
                "no training groups",
            ));
        }
        if self.config.loss == CrossLoss::Listwise
            && let Some(g) = groups.iter().find(|g| g.negatives.is_empty())
        {
            return Err(TrainerError::config(
                "training data",
                "negatives",
                format!(
                    "the listwise loss needs negatives for every query; {:?} has none",
                    g.query
                ),
            ));
        }
        if self.config.distill_weight > 0.0
            && let Some(g) = groups
                .iter()
                .find(|g| g.teacher.len() != 1 + g.negatives.len())
        {
            return Err(TrainerError::config(
                "training data",
                "teacher",
                format!(
                    "distillation needs a teacher logit for the positive and each negative; {:?} has {} for {} documents",
                    g.query,
                    g.teacher.len(),
                    1 + g.negatives.len()
                ),
            ));
        }
        let started = Instant::now();
        self.engine.prepare(&mut self.optimizer);
        let bs = self.config.batch_size.max(1);
        let steps_per_epoch = groups.len().div_ceil(bs);
        let total = steps_per_epoch * self.config.epochs;
        let schedule = LinearSchedule::new(self.config.lr, self.config.warmup_ratio, total);
        let teachers: Vec<String> = groups.iter().map(|g| format!("{:?}", g.teacher)).collect();
        let data = fingerprint(groups.iter().zip(&teachers).flat_map(|(g, t)| {
            [g.query.as_str(), g.positive.as_str()]
                .into_iter()
                .chain(g.negatives.iter().map(String::as_str))
                .chain([t.as_str()])
        }));
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
        if let Some(v) = validation
            && done == 0
        {
            self.evaluate(v, 0, &mut report, &mut log)?;
        }
        for epoch in done..self.config.epochs {
            let mut order: Vec<usize> = (0..groups.len()).collect();
            order.shuffle(&mut ChaCha8Rng::seed_from_u64(
                self.config.seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
            ));
            for chunk in order.chunks(bs) {
                let batch: Vec<&RerankGroup> = chunk.iter().map(|&i| &groups[i]).collect();
                let seed = self.config.seed.wrapping_mul(0xBF58_476D_1CE4_E5B9)
                    ^ (report.steps as u64 + 1).wrapping_mul(0x94D0_49BB_1331_11EB);
                let loss = self.loss(&batch, seed)?;
                let value = f64::from(loss.clone().into_scalar().elem::<f32>());
                let g = loss.backward();
                let device = self.encoder.device().clone();
                let grads = self
                    .engine
                    .cross_gradients(&mut self.encoder.model, &g, &device)?;
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
                    loss: value,
                    lr,
                    grad_norm,
                    seconds: seconds_before + started.elapsed().as_secs_f64(),
                };
                report.record_step(entry, &mut log)?;
            }
            if let Some(v) = validation {
                self.evaluate(v, report.steps, &mut report, &mut log)?;
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
                    average_count: 0,
                    data: data.clone(),
                };
                save_checkpoint(
                    dir,
                    &self.encoder.model.valid(),
                    &self.optimizer,
                    self.best.as_ref(),
                    None,
                    &state,
                )?;
            }
        }
        report.seconds = seconds_before + started.elapsed().as_secs_f64();
        Ok(report)
    }
}
