//! `FinetunePlan`: every decision of a `finetune` run, resolved before any model is loaded: the
//! validation split, each `auto` switch (corpus negatives, sample transactions, field-dropout
//! copies, the refit), hard-negative mining and the training settings. `FinetuneArgs::plan` is
//! pure (it reads no file and loads no model), so users and tests inspect a run without running
//! it; the run writes the plan it followed to `OUTPUT/plan.json`.

use super::{FinetuneArgs, LossName, Switch};
use anyhow::bail;
use retune_data::TrainRecord;
use retune_trainer::train::{SamplerKind, TrainConfig, examples_from_records};
use serde::Serialize;

/// What a `finetune` run will do.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FinetunePlan {
    /// Rows of TRAIN held out for validation (its first rows).
    pub holdout: usize,
    /// Training examples from the other rows, before any added copies.
    pub train_examples: usize,
    /// Rows without a positive, skipped.
    pub skipped: usize,
    /// Documents in the corpus.
    pub corpus_docs: usize,
    /// Every batch scores its anchors against the whole corpus (MNRL over distinct candidates).
    pub corpus_negatives: bool,
    /// The corpus' sample transactions are added as training queries (when it has them).
    pub train_on_samples: bool,
    /// Field-dropout copies of the course-format training queries are added.
    pub field_dropout: bool,
    /// Hard negatives mined per example with the base model (0: none).
    pub hard_negatives: usize,
    /// After the validated run, the recipe is trained again on every row and stopped where
    /// the validated run was best.
    pub refit: bool,
    /// The validated run's training settings (checked by [`TrainConfig::validate`]).
    pub config: TrainConfig,
}

impl FinetuneArgs {
    /// The largest corpus `--corpus-negatives` embeds in every batch.
    pub(super) const MAX_CORPUS_NEGATIVES: usize = 512;

    /// Resolves every decision for `records` (TRAIN's rows, in order) and a corpus of
    /// `corpus_docs` documents; refuses a forced option that cannot run, and settings out of
    /// range, before any work.
    pub fn plan(
        &self,
        records: &[TrainRecord],
        corpus_docs: usize,
    ) -> anyhow::Result<FinetunePlan> {
        let holdout = ((records.len() as f64) * self.validation_ratio).round() as usize;
        if holdout >= records.len() {
            bail!(
                "--validation-ratio {} leaves no training data in {}",
                self.validation_ratio,
                self.train.display()
            );
        }
        let (train, skipped) = examples_from_records(&records[holdout..]);
        let corpus_negatives = self.uses_corpus_negatives(corpus_docs, &train);
        if corpus_negatives {
            if !matches!(self.loss, LossName::Mnrl) {
                bail!("--corpus-negatives needs --loss mnrl");
            }
            if corpus_docs > Self::MAX_CORPUS_NEGATIVES {
                bail!(
                    "--corpus-negatives embeds the whole corpus in every batch; {corpus_docs} documents is more than {} (use --hard-negatives instead)",
                    Self::MAX_CORPUS_NEGATIVES
                );
            }
        }
        let refit = self.refits(holdout, corpus_negatives)?;
        let mut config = self.train_config();
        if corpus_negatives {
            config.sampler = SamplerKind::Shuffled;
        }
        config.validate()?;
        Ok(FinetunePlan {
            holdout,
            train_examples: train.len(),
            skipped,
            corpus_docs,
            corpus_negatives,
            train_on_samples: self.train_on_samples.decide(corpus_negatives),
            field_dropout: self.field_dropout.decide(corpus_negatives),
            hard_negatives: if !corpus_negatives && self.mines_hard_negatives() {
                self.hard_negatives
            } else {
                0
            },
            refit,
            config,
        })
    }

    /// Whether `--refit` trains again on every row once the validated run has ended; an
    /// error when it is forced on where it cannot run.
    fn refits(&self, holdout: usize, corpus_negatives: bool) -> anyhow::Result<bool> {
        if self.refit == Switch::True {
            if holdout == 0 {
                bail!(
                    "--refit true needs a validation split to choose where the refit stops (--validation-ratio above 0)"
                );
            }
            if self.average_last_epochs > 0 {
                bail!(
                    "--refit true stops where the validated run's best weights were; it cannot average the last epochs (--average-last-epochs)"
                );
            }
        }
        Ok(holdout > 0 && self.average_last_epochs == 0 && self.refit.decide(corpus_negatives))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use retune_data::EvalItem;

    fn args(extra: &[&str]) -> FinetuneArgs {
        let mut v = vec!["finetune", "--model", "m", "--train", "t", "--output", "o"];
        v.extend_from_slice(extra);
        FinetuneArgs::parse_from(v)
    }

    fn course(n: usize) -> Vec<TrainRecord> {
        (0..n)
            .map(|i| {
                TrainRecord::Course(EvalItem {
                    input: format!("Name : merchant {i}\nAmount: {i}"),
                    expected: vec![format!("category {}", i % 3)],
                })
            })
            .collect()
    }

    #[test]
    fn the_default_plan_on_course_data_and_a_small_corpus() {
        let plan = args(&[]).plan(&course(100), 27).unwrap();
        assert_eq!(
            (plan.holdout, plan.train_examples, plan.skipped),
            (20, 80, 0)
        );
        assert!(plan.corpus_negatives && plan.train_on_samples && plan.field_dropout && plan.refit);
        assert_eq!(plan.hard_negatives, 0);
        assert_eq!(plan.config.sampler, SamplerKind::Shuffled);
    }

    #[test]
    fn a_large_corpus_turns_the_auto_switches_off_and_mines_instead() {
        let plan = args(&["--hard-negatives", "2"])
            .plan(&course(100), 600)
            .unwrap();
        assert!(!plan.corpus_negatives && !plan.train_on_samples && !plan.field_dropout);
        assert!(!plan.refit);
        assert_eq!(plan.hard_negatives, 2);
        assert_eq!(plan.config.sampler, SamplerKind::NoDuplicates);
    }

    #[test]
    fn forced_options_that_cannot_run_and_bad_settings_are_refused() {
        let refused = |extra: &[&str], corpus: usize| {
            args(extra)
                .plan(&course(100), corpus)
                .unwrap_err()
                .to_string()
        };
        assert!(
            refused(&["--validation-ratio", "0", "--refit", "true"], 27).contains("--refit true")
        );
        assert!(refused(&["--corpus-negatives", "true"], 600).contains("more than 512"));
        assert!(
            refused(&["--corpus-negatives", "true", "--loss", "batch-all"], 27)
                .contains("needs --loss mnrl")
        );
        assert!(refused(&["--best-metric", "accuracy"], 27).contains("best_metric"));
        let plan = args(&["--validation-ratio", "0"])
            .plan(&course(10), 27)
            .unwrap();
        assert!(plan.holdout == 0 && !plan.refit);
    }
}
