//! The model card (`README.md`) of a `finetune` output: base model, loss, hyper-parameters,
//! data sizes, a refit when there was one, and the evaluation before and after.

use super::FinetuneArgs;
use super::refit::Summary;
use retune_trainer::train::TrainConfig;
use std::collections::BTreeMap;

/// What the card states.
pub(super) struct Facts<'a> {
    /// The command line.
    pub args: &'a FinetuneArgs,
    /// The saved model's training settings.
    pub config: &'a TrainConfig,
    /// Training examples of the validated run, and rows held out for validation.
    pub train: usize,
    pub holdout: usize,
    /// Field-dropout copies and sample transactions among the validated run's examples.
    pub dropped: usize,
    pub samples: usize,
    /// The refit, when the saved model is one.
    pub refit: Option<&'a Summary>,
    /// EVAL metrics of the base model, of the validated run (when a refit is saved) and of
    /// the saved model.
    pub before: Option<&'a BTreeMap<String, f64>>,
    pub validated: Option<&'a BTreeMap<String, f64>>,
    pub after: Option<&'a BTreeMap<String, f64>>,
}

/// The card's Markdown, with the Hub's YAML header.
pub(super) fn model_card(facts: &Facts<'_>) -> String {
    let Facts {
        args,
        config,
        train,
        holdout,
        dropped,
        samples,
        refit,
        before,
        validated,
        after,
    } = *facts;
    let mut s = format!(
        "---\nlibrary_name: sentence-transformers\npipeline_tag: sentence-similarity\ntags: [sentence-transformers, retune]\nbase_model: {}\n---\n\n# Fine-tuned with retune\n\nBase model: `{}`. Loss: {} ({}). Epochs {}, batch {}, lr {}, warmup ratio {}, weight decay {}, seed {}.\nTraining examples: {train}; validation (held out from the training file): {holdout}.\n",
        args.model,
        args.model,
        config.loss.st_name(),
        serde_json::to_string(&config.loss).unwrap_or_default(),
        config.epochs,
        config.batch_size,
        config.lr,
        config.warmup_ratio,
        config.weight_decay,
        config.seed
    );
    let negatives = if !config.shared_negatives.is_empty() {
        format!(
            "every anchor scored against all {} corpus documents in every batch",
            config.shared_negatives.len()
        )
    } else if args.mines_hard_negatives() {
        format!(
            "in-batch, plus {} hard negative(s) per example mined with the base model",
            args.hard_negatives
        )
    } else {
        "in-batch (and any the training file gives)".to_owned()
    };
    s.push_str(&format!("Negatives: {negatives}.\n"));
    if dropped > 0 {
        s.push_str(&format!("The training examples include {dropped} field-dropout copies of the training queries ({} per query, each field left out with probability {}).\n", args.field_dropout_copies, args.field_dropout_rate));
    }
    if samples > 0 {
        s.push_str(&format!("The training examples include the corpus' {samples} sample transactions, each a query for its category.\n"));
    }
    if let Some(r) = refit {
        s.push_str(&format!(
            "Refit: after the validated run chose its best weights (step {} of {}), the model was trained again from the base model on all {} rows of the training file (validation rows included; {} examples) with the same settings and schedule, and stopped at step {} of {}. This model is the refit.\n",
            r.best_step.0, r.best_step.1, r.rows, r.examples, r.steps.0, r.steps.1
        ));
    }
    if let (Some(b), Some(a)) = (before, after) {
        let (head, rule) = match validated {
            Some(_) => (
                "| metric | base | validated run | fine-tuned (refit) |",
                "|---|---|---|---|",
            ),
            None => ("| metric | base | fine-tuned |", "|---|---|---|"),
        };
        s.push_str(&format!("\n## Evaluation\n\n{head}\n{rule}\n"));
        for (k, v) in b {
            let cell = |m: &BTreeMap<String, f64>| {
                format!(" {:.4} |", m.get(k).copied().unwrap_or(f64::NAN))
            };
            let middle = validated.map(cell).unwrap_or_default();
            s.push_str(&format!("| {k} | {v:.4} |{middle}{}\n", cell(a)));
        }
    }
    s.push_str("\n## Use\n\n```python\nfrom sentence_transformers import SentenceTransformer\nmodel = SentenceTransformer(\"path/to/this/folder\")\n```\n");
    s
}
