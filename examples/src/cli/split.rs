//! `retune split --input cleaned.jsonl --train TRAIN.jsonl --eval EVAL.jsonl [--test TEST.jsonl]
//! [--eval-ratio 0.2] [--test-ratio 0] [--seed 0] [--stratify]`: a seeded train/eval(/test)
//! split in the course `{input, expected}` format. The input holds reviewed transactions or
//! course items; identical inputs stay in one split, and the written splits are checked for
//! leaks before anything is replaced.

use anyhow::bail;
use clap::Parser;
use retune_data::paths::{Named, check_distinct};
use retune_data::{SplitConfig, find_leaks, read_labeled_inputs, split_items, write_jsonl_atomic};
use std::path::PathBuf;

/// Split reviewed transactions into train and eval (and test) files.
#[derive(Parser, Debug)]
pub struct SplitArgs {
    /// Reviewed transactions (or `{input, expected}` items), JSONL.
    #[arg(long)]
    input: PathBuf,
    /// Where the training items go.
    #[arg(long)]
    train: PathBuf,
    /// Where the evaluation items go.
    #[arg(long)]
    eval: PathBuf,
    /// Where test items go (needs --test-ratio > 0).
    #[arg(long)]
    test: Option<PathBuf>,
    /// Fraction for eval.
    #[arg(long, default_value_t = 0.2, value_parser = crate::cli::ranges::open_fraction, allow_negative_numbers = true)]
    eval_ratio: f64,
    /// Fraction for test.
    #[arg(long, default_value_t = 0.0, value_parser = crate::cli::ranges::fraction, allow_negative_numbers = true)]
    test_ratio: f64,
    /// Seed of the shuffle.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Keep each category's share in every split.
    #[arg(long)]
    stratify: bool,
}

/// Runs the subcommand.
pub fn run(a: SplitArgs) -> anyhow::Result<()> {
    if a.test.is_some() != (a.test_ratio > 0.0) {
        bail!("--test and --test-ratio > 0 go together");
    }
    let mut outputs = vec![
        Named::new("--train", &a.train),
        Named::new("--eval", &a.eval),
    ];
    if let Some(t) = &a.test {
        outputs.push(Named::new("--test", t));
    }
    check_distinct(&[Named::new("--input", &a.input)], &outputs)?;
    let items = read_labeled_inputs(&a.input)?;
    let config = SplitConfig::new(a.eval_ratio)
        .with_test_ratio(a.test_ratio)
        .with_seed(a.seed)
        .stratified(a.stratify);
    let s = split_items(&items, &config).map_err(anyhow::Error::msg)?;
    let leaks = find_leaks(&[("train", &s.train), ("eval", &s.eval), ("test", &s.test)]);
    if let Some(l) = leaks.first() {
        bail!(
            "{} inputs leak across splits, e.g. {:?} in {:?}",
            leaks.len(),
            l.input,
            l.splits
        );
    }
    write_jsonl_atomic(&a.train, &s.train)?;
    write_jsonl_atomic(&a.eval, &s.eval)?;
    if let Some(t) = &a.test {
        write_jsonl_atomic(t, &s.test)?;
    }
    if s.kept_together > 0 {
        eprintln!(
            "{} groups of inputs equal up to case and whitespace kept in one split each",
            s.kept_together
        );
    }
    eprintln!(
        "{} items from {}: train {} -> {}, eval {} -> {}{}",
        items.len(),
        a.input.display(),
        s.train.len(),
        a.train.display(),
        s.eval.len(),
        a.eval.display(),
        a.test.as_ref().map_or(String::new(), |t| format!(
            ", test {} -> {}",
            s.test.len(),
            t.display()
        ))
    );
    Ok(())
}
