//! The `retune` command line: one subcommand per step, each mapping its arguments to the
//! crates' library calls. The modules hold the steps' arguments and tasks; the generic Burn code
//! is instantiated here, in the library, once (the binary only parses and calls
//! [`Cli::run`]), which keeps release builds from compiling it per entry point.

pub mod bench_serve;
pub mod bench_topk;
pub mod bench_train;
pub mod cohere_finetune;
pub mod embed;
pub mod finetune_reranker;
pub mod generate;
pub mod make_fixtures;
pub mod mine;
pub mod quickstart;
pub mod ranges;
pub mod review;
pub mod serve;
pub mod shell;
pub mod split;
pub mod trec_eval;

use clap::{Parser, Subcommand};

/// retune: make a general embedding model good at one domain's retrieval. Each subcommand is
/// one step of the loop; `retune quickstart` runs them all on the bundled data.
#[derive(Parser, Debug)]
#[command(name = "retune", version, propagate_version = true)]
pub struct Cli {
    /// The step to run.
    #[command(subcommand)]
    pub command: Step,
}

/// The steps, in the order of the loop.
#[derive(Subcommand, Debug)]
pub enum Step {
    /// Run the loop end to end on the bundled corporate-card data: split, mine, fine-tune,
    /// evaluate, report.
    Quickstart(quickstart::QuickstartArgs),
    /// Write synthetic transactions with any OpenAI-compatible LLM (structured output, re-ask,
    /// resumable).
    Generate(generate::GenerateArgs),
    /// Review generated transactions in the browser; approved ones go to the output.
    Review(review::ReviewArgs),
    /// Split reviewed transactions into train and eval (and test) files, seeded and leak-free.
    Split(split::SplitArgs),
    /// Embed the texts of a JSONL file with a local model, to JSONL or Parquet.
    Embed(embed::EmbedArgs),
    /// Mine negatives (random, hard, semi-hard, rank window) for retrieval training.
    Mine(mine::MineArgs),
    /// Fine-tune a bi-encoder and save it where sentence-transformers loads it unchanged.
    Finetune(crate::finetune::FinetuneArgs),
    /// Fine-tune a cross-encoder re-ranker on the same data.
    FinetuneReranker(finetune_reranker::RerankerArgs),
    /// Compare retrieval systems (models, re-rankers, fusions) on the same queries, with
    /// paired significance, a report and charts.
    Evaluate(crate::evaluate::EvaluateArgs),
    /// Score a TREC run file against qrels with trec_eval's definitions.
    TrecEval(trec_eval::TrecEvalArgs),
    /// Serve an embedder and / or a re-ranker over OpenAI's and text-embeddings-inference's
    /// HTTP APIs.
    Serve(serve::ServeArgs),
    /// Fine-tune a Cohere re-ranker through its API and evaluate it against the base re-ranker.
    CohereFinetune(cohere_finetune::CohereFinetuneArgs),
    /// Time the engines: exact top-k search, training steps, encoding, serving.
    #[command(subcommand)]
    Bench(Bench),
    /// Print shell completions for retune (bash, zsh, fish, elvish, powershell).
    Completions(shell::CompletionsArgs),
    /// Print the manual page (roff) of retune or of one step.
    Man(shell::ManArgs),
    /// Rewrite the project's own tiny test model (deterministic).
    #[command(hide = true)]
    MakeFixtures(make_fixtures::MakeFixturesArgs),
}

/// What `retune bench` times.
#[derive(Subcommand, Debug)]
pub enum Bench {
    /// Exact top-k search over random vectors.
    Topk(bench_topk::BenchTopkArgs),
    /// MNRL training steps at several batch sizes, each in a child process (peak memory
    /// apart).
    Train(bench_train::BenchTrainArgs),
    /// Encoding at batch 1, 8 and 32, engines side by side.
    Encode(embed::BenchEncodeArgs),
    /// `retune serve` at several client concurrencies beside offline embedding.
    Serve(bench_serve::BenchServeArgs),
}

impl Cli {
    /// Runs the chosen step.
    pub fn run(self) -> anyhow::Result<()> {
        match self.command {
            Step::Quickstart(a) => quickstart::run(a),
            Step::Generate(a) => generate::run(a),
            Step::Review(a) => review::run(a),
            Step::Split(a) => split::run(a),
            Step::Embed(a) => embed::run(a),
            Step::Mine(a) => mine::run(a),
            Step::Finetune(a) => a.execute().map(|_| ()),
            Step::FinetuneReranker(a) => finetune_reranker::run(a),
            Step::Evaluate(a) => a.execute().map(|_| ()),
            Step::TrecEval(a) => trec_eval::run(a),
            Step::Serve(a) => serve::run(a),
            Step::CohereFinetune(a) => cohere_finetune::run(a),
            Step::Bench(Bench::Topk(a)) => {
                bench_topk::run(a);
                Ok(())
            }
            Step::Bench(Bench::Train(a)) => bench_train::run(a),
            Step::Bench(Bench::Encode(a)) => embed::run(a.into()),
            Step::Bench(Bench::Serve(a)) => bench_serve::run(a),
            Step::Completions(a) => shell::completions(a),
            Step::Man(a) => shell::man(a),
            Step::MakeFixtures(a) => make_fixtures::run(a),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent_and_every_step_says_what_it_does() {
        let cmd = Cli::command();
        cmd.clone().debug_assert();
        let mut seen = std::collections::HashSet::new();
        for sub in cmd.get_subcommands() {
            let about = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
            assert!(!about.is_empty(), "{} has no description", sub.get_name());
            assert!(
                seen.insert(about.clone()),
                "{} repeats another step's description: {about}",
                sub.get_name()
            );
        }
        assert!(seen.len() >= 13, "{} steps", seen.len());
    }
}
