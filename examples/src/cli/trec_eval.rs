//! `retune trec-eval QRELS RUN [--json] [--per-query]`: trec_eval's measures on TREC files.
//!
//! Prints the mean of each measure over the queries common to both files (trec_eval's default),
//! one `measure<TAB>all<TAB>value` line each, or with `--json`
//! `{"mean": {measure: value}, "per_query": {qid: {measure: value}}}`.

use anyhow::Context;
use clap::Parser;
use retune_metrics::{MissingQueries, evaluate_run, read_qrels, read_run, standard_metrics};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Evaluate a TREC run against qrels with trec_eval's definitions.
#[derive(Parser, Debug)]
pub struct TrecEvalArgs {
    /// Relevance judgments: lines `qid 0 docid rel`.
    qrels: PathBuf,
    /// The run: lines `qid Q0 docid rank score tag` (ranks are ignored; scores decide, ties by docid descending).
    run: PathBuf,
    /// Print JSON `{"mean": .., "per_query": ..}` instead of the text table.
    #[arg(long)]
    json: bool,
    /// Also print every query's values (text output; JSON always includes them).
    #[arg(long)]
    per_query: bool,
    /// Average judged queries that the run lacks in as zeros (trec_eval -c).
    #[arg(long)]
    complete: bool,
}

/// Runs the subcommand.
pub fn run(args: TrecEvalArgs) -> anyhow::Result<()> {
    let qrels = read_qrels(&args.qrels)?;
    let run = read_run(&args.run)?;
    let missing = if args.complete {
        MissingQueries::Zero
    } else {
        MissingQueries::Skip
    };
    let metrics = standard_metrics();
    let eval = evaluate_run(&qrels, &run, &metrics, missing).context("evaluating")?;
    let names: Vec<String> = metrics.iter().map(ToString::to_string).collect();
    if args.json {
        let per_query: BTreeMap<&str, BTreeMap<&str, f64>> = eval
            .per_query
            .iter()
            .map(|(q, v)| {
                (
                    q.as_str(),
                    names
                        .iter()
                        .map(String::as_str)
                        .zip(v.iter().copied())
                        .collect(),
                )
            })
            .collect();
        let out = serde_json::json!({ "mean": eval.mean_by_name(), "per_query": per_query });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    if args.per_query {
        for (q, values) in &eval.per_query {
            for (n, v) in names.iter().zip(values) {
                println!("{n:<14}\t{q}\t{v:.4}");
            }
        }
    }
    println!("{:<14}\tall\t{}", "num_q", eval.per_query.len());
    for (n, v) in names.iter().zip(eval.mean()) {
        println!("{n:<14}\tall\t{v:.4}");
    }
    Ok(())
}
