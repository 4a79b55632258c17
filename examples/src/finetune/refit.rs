//! `--refit`: the validated run holds rows out to choose where training should end; the refit
//! then trains again from the base model on every row of TRAIN, validation rows included, with
//! the same settings and learning-rate schedule, and stops at the same point (the end of the
//! best epoch). The refit has more data and no rows to validate on: what it saves is chosen
//! by the validated run. This is model selection on a held-out split followed by a final fit
//! on all the data, as scikit-learn's `refit=True` does.

use super::{FinetuneArgs, FinetunePlan};
use anyhow::Context;
use burn::tensor::backend::AutodiffBackend;
use retune_data::{CorpusDoc, TrainRecord};
use retune_trainer::SentenceEncoder;
use retune_trainer::train::{RunFiles, TrainConfig, Trainer};
use std::path::{Path, PathBuf};

/// What the refit needs from the validated run.
pub(super) struct RefitRun<'a> {
    /// Every row of TRAIN, validation rows included.
    pub records: &'a [TrainRecord],
    /// The documents.
    pub corpus: &'a [CorpusDoc],
    /// The run's plan (the refit trains on the same kind of set).
    pub plan: &'a FinetunePlan,
    /// The validated run's settings.
    pub config: &'a TrainConfig,
    /// The step at which each of the validated run's epochs ended.
    pub first_ends: &'a [usize],
    /// The step of the validated run's best weights.
    pub best_step: usize,
    /// The validated run's checkpoint folder (the refit's is beside it).
    pub checkpoints: &'a Path,
}

/// What the refit did, for the log and the model card.
#[derive(Debug, Clone)]
pub(super) struct Summary {
    /// Rows of TRAIN trained on.
    pub rows: usize,
    /// Training examples (the rows, their field-dropout copies, sample transactions).
    pub examples: usize,
    /// The validated run's best step and its schedule's length.
    pub best_step: (usize, usize),
    /// Steps the refit took, and its schedule's length.
    pub steps: (usize, usize),
    /// The refit's settings (the validated run's, with `stop_at_step`).
    pub config: TrainConfig,
}

/// Where the refit stops: at the end of the same epoch when the validated run's best step
/// ended an epoch, else at the same fraction of the schedule (at least one step).
pub(super) fn stop_step(first_ends: &[usize], best_step: usize, refit_ends: &[usize]) -> usize {
    let (Some(&first_total), Some(&refit_total)) = (first_ends.last(), refit_ends.last()) else {
        return 0;
    };
    if let Some(epoch) = first_ends.iter().position(|&s| s == best_step) {
        return refit_ends[epoch.min(refit_ends.len() - 1)];
    }
    let fraction = best_step as f64 / first_total.max(1) as f64;
    ((fraction * refit_total as f64).round() as usize).clamp(1, refit_total)
}

impl RefitRun<'_> {
    /// Trains the refit and returns its model.
    pub(super) fn run<A: AutodiffBackend>(
        &self,
        args: &FinetuneArgs,
        device: &A::Device,
    ) -> anyhow::Result<(SentenceEncoder<A::InnerBackend>, Summary)> {
        eprintln!(
            "refit: training again from {} on all {} rows of {}",
            args.model,
            self.records.len(),
            args.train.display()
        );
        let encoder = args.load_encoder::<A>(device)?;
        let set = args.training_set(self.records, self.corpus, self.plan, &encoder)?;
        let mut config = self.config.clone();
        let mut trainer = Trainer::new(encoder, config.clone());
        let ends = trainer.epoch_ends(&set.examples);
        config.stop_at_step = stop_step(self.first_ends, self.best_step, &ends);
        trainer.config = config.clone();
        let log = args.output.with_extension("refit.train_log.jsonl");
        let dir = super::prepare_files(
            &log,
            refit_dir(self.checkpoints),
            args.checkpoints,
            args.resume,
        )?;
        let total = ends.last().copied().unwrap_or(0);
        let first_total = self.first_ends.last().copied().unwrap_or(0);
        eprintln!(
            "refit: {} examples, stopping after step {} of {} (the validated run's best was step {} of {})",
            set.examples.len(),
            config.stop_at_step,
            total,
            self.best_step,
            first_total
        );
        let report = trainer
            .fit_resumable(
                &set.examples,
                None,
                RunFiles {
                    log: Some(&log),
                    checkpoints: args.checkpoints.then_some(dir.as_path()),
                    resume: args.resume,
                },
            )
            .with_context(|| super::resume_context(args.resume, &args.train))?;
        eprintln!(
            "refit: trained {} steps in {:.1}s (log: {})",
            report.steps,
            report.seconds,
            log.display()
        );
        let summary = Summary {
            rows: self.records.len(),
            examples: set.examples.len(),
            best_step: (self.best_step, first_total),
            steps: (report.steps, total),
            config,
        };
        Ok((trainer.inference_encoder(), summary))
    }
}

/// The refit's checkpoint folder beside the validated run's: `DIR-refit`.
fn refit_dir(dir: &Path) -> PathBuf {
    let mut name = dir.as_os_str().to_owned();
    name.push("-refit");
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refit_stops_at_the_end_of_the_best_epoch_or_the_same_fraction() {
        let first = [10, 20, 30, 40];
        let refit = [13, 26, 39, 52];
        assert_eq!(stop_step(&first, 20, &refit), 26, "end of epoch 2");
        assert_eq!(stop_step(&first, 40, &refit), 52, "the last epoch");
        assert_eq!(
            stop_step(&first, 15, &refit),
            20,
            "mid-epoch: 15/40 of 52, rounded"
        );
        assert_eq!(stop_step(&first, 1, &refit), 1);
        assert_eq!(stop_step(&[], 1, &refit), 0);
        assert_eq!(
            refit_dir(Path::new("runs/m.checkpoints")),
            Path::new("runs/m.checkpoints-refit")
        );
    }
}
