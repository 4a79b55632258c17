//! Fine-tune a bi-encoder from code and prove the gain: the bundled corporate-card
//! transactions (`fixtures/domain`) split three to one, MNRL on the training part, retrieval
//! of the categories evaluated before and after on the held-out part with a paired test, and
//! the model saved where sentence-transformers loads it unchanged.
//!
//! `cargo run --release --example finetune -- [MODEL] [OUT]` from the repository root
//! (defaults: the tiny test model `fixtures/tiny-bert`, and a temporary folder).

use retune_data::{DocText, EvalItem, category_docs, load_categories, read_labeled_inputs};
use retune_metrics::{ComparisonConfig, Metric, compare_paired};
use retune_trainer::backend::{Cpu, CpuAutodiff, cpu_device};
use retune_trainer::export::save_sentence_transformer;
use retune_trainer::loss::LossConfig;
use retune_trainer::train::{EvalSet, TrainConfig, TrainExample, Trainer, evaluate_retrieval};
use retune_trainer::{EncoderConfig, SentenceEncoder};
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let model = args
        .next()
        .unwrap_or_else(|| "fixtures/tiny-bert".to_owned());
    let scratch = tempfile_dir()?;
    let out = args
        .next()
        .map_or_else(|| scratch.join("model"), PathBuf::from);

    let items = read_labeled_inputs("fixtures/domain/transactions.jsonl")?;
    let corpus = category_docs(
        load_categories("fixtures/domain/categories.json")?,
        DocText::Name,
    );
    let (mut train, mut held_out) = (Vec::<EvalItem>::new(), Vec::<EvalItem>::new());
    for (i, item) in items.into_iter().enumerate() {
        if i % 4 == 0 {
            &mut held_out
        } else {
            &mut train
        }
        .push(item);
    }
    let labels: Vec<&str> = corpus.iter().map(|d| d.text.as_str()).collect();
    let examples: Vec<TrainExample> = train
        .iter()
        .map(|item| TrainExample {
            anchor: item.input.clone(),
            positive: item.expected[0].clone(),
            negatives: vec![],
            label: labels
                .iter()
                .position(|l| *l == item.expected[0])
                .unwrap_or(0) as i64,
        })
        .collect();
    let set = EvalSet {
        queries: held_out,
        corpus,
    };
    let metrics = [Metric::Recall(1), Metric::Mrr(Some(10))];

    let base = SentenceEncoder::<Cpu>::load(&EncoderConfig::new(&model), &cpu_device())?;
    let before = evaluate_retrieval(&base, &set, &metrics, 10)?;

    let encoder = SentenceEncoder::<CpuAutodiff>::load(&EncoderConfig::new(&model), &cpu_device())?;
    let loss = LossConfig::Mnrl {
        scale: 20.0,
        symmetric: false,
    };
    let mut config = TrainConfig::new(loss, 4);
    config.batch_size = 16;
    config.lr = if model == "fixtures/tiny-bert" {
        1e-3
    } else {
        2e-5
    };
    config.validate()?;
    let mut trainer = Trainer::new(encoder, config);
    let report = trainer.fit(&examples, None, None)?;
    let tuned = trainer.inference_encoder();
    let after = evaluate_retrieval(&tuned, &set, &metrics, 10)?;

    println!(
        "{model}: {} training steps on {} transactions, {} held out",
        report.log.len(),
        examples.len(),
        set.queries.len()
    );
    for metric in metrics {
        let (b, a) = (
            before.column(metric).unwrap(),
            after.column(metric).unwrap(),
        );
        let c = compare_paired(&b, &a, &ComparisonConfig::default())?;
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        println!(
            "  {metric}: {:.3} -> {:.3} ({:+.3}, 95% CI {:+.3} .. {:+.3}, p = {:.3})",
            mean(&b),
            mean(&a),
            c.mean_difference,
            c.ci_low,
            c.ci_high,
            c.p_value
        );
    }
    save_sentence_transformer(&tuned, &out, "Fine-tuned by retune's finetune example.")?;
    println!("saved to {}", out.display());
    Ok(())
}

/// A fresh folder under the system's temporary directory.
fn tempfile_dir() -> std::io::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("retune-finetune-example-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
