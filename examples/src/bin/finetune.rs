//! `finetune --model M --train TRAIN.jsonl --output DIR [--corpus C] [--eval EVAL.jsonl] ...`:
//! fine-tunes a sentence-transformers model with Burn and saves it in the layout
//! sentence-transformers loads unchanged. The options are documented in
//! [`retune_examples::finetune`].

use clap::Parser;
use retune_examples::finetune::FinetuneArgs;

fn main() -> anyhow::Result<()> {
    let args = FinetuneArgs::parse();
    args.execute().map(|_| ())
}
