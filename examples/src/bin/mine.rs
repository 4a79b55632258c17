//! `mine --model M --queries train.jsonl --corpus C --output OUT.jsonl --strategy hard|semi-hard|random|range
//! [--num-negatives N] [--range A-B] [--margin F] [--format triplet|n-tuple|cohere|labeled-pair]`:
//! negatives for each query from the base model's similarities. Queries are the course format
//! (`{input, expected}`: every expected document is a positive). Embeddings are cached in
//! Parquet under `--cache-dir`, keyed by model and text, so a rerun embeds nothing again.
//!
//! The code lives in [`retune_examples::cli::mine`], so the generic training and inference
//! stack is compiled once, in the library, instead of once per binary.

fn main() -> anyhow::Result<()> {
    retune_examples::cli::mine::main()
}
