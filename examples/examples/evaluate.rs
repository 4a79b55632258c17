//! Evaluate rankings with trec_eval's definitions and compare two retrievers on the same
//! queries with a paired bootstrap and randomization test. The rankings can come from anything
//! (your own search service, a TREC run file through `retune_metrics::read_run`); here two
//! hand-written systems rank expense categories for four transactions.
//!
//! `cargo run --release --example evaluate`

use retune_metrics::{ComparisonConfig, Evaluation, Metric, Relevance, compare_paired};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let queries = [
        ("uber-sfo", "Travel: Ground Transport"),
        ("delta-jfk", "Travel: Airfare"),
        ("aws-invoice", "Cloud Hosting"),
        ("team-lunch", "Meals & Entertainment"),
    ];
    let baseline: [&[&str]; 4] = [
        &[
            "Travel: Airfare",
            "Travel: Ground Transport",
            "Meals & Entertainment",
        ],
        &["Travel: Airfare", "Travel: Ground Transport"],
        &[
            "Software & Subscriptions",
            "Office Supplies",
            "Cloud Hosting",
        ],
        &["Office Supplies", "Travel: Airfare"],
    ];
    let candidate: [&[&str]; 4] = [
        &["Travel: Ground Transport", "Travel: Airfare"],
        &["Travel: Airfare", "Travel: Ground Transport"],
        &["Cloud Hosting", "Software & Subscriptions"],
        &["Meals & Entertainment", "Office Supplies"],
    ];
    let metrics = [
        Metric::Recall(1),
        Metric::Mrr(Some(10)),
        Metric::Ndcg(Some(10)),
    ];
    let relevance: Vec<Relevance> = queries
        .iter()
        .map(|(_, category)| Relevance::binary([*category]))
        .collect();
    let evaluate = |system: &[&[&str]; 4]| {
        Evaluation::from_rankings(
            queries
                .iter()
                .zip(system)
                .zip(&relevance)
                .map(|(((id, _), ranked), rel)| (id.to_string(), *ranked, rel)),
            &metrics,
        )
    };
    let (base, cand) = (evaluate(&baseline), evaluate(&candidate));
    println!("| metric | baseline | candidate | difference (95% CI) | p |");
    println!("|---|---|---|---|---|");
    for (i, metric) in metrics.iter().enumerate() {
        let (b, c) = (base.column(*metric).unwrap(), cand.column(*metric).unwrap());
        let paired = compare_paired(&b, &c, &ComparisonConfig::default())?;
        println!(
            "| {metric} | {:.3} | {:.3} | {:+.3} ({:+.3} .. {:+.3}) | {:.3} |",
            base.mean()[i],
            cand.mean()[i],
            paired.mean_difference,
            paired.ci_low,
            paired.ci_high,
            paired.p_value
        );
    }
    Ok(())
}
