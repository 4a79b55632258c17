//! `evaluate --queries EVAL.jsonl --corpus C --model M [--model M2 ..] [--k 1,3,5] [--json]
//! [--out DIR] [--compare-last]`: retrieval metrics per system compared with the first; see
//! [`retune_examples::evaluate`].

use clap::Parser;
use retune_examples::evaluate::EvaluateArgs;

fn main() -> anyhow::Result<()> {
    let args = EvaluateArgs::parse();
    args.execute().map(|_| ())
}
