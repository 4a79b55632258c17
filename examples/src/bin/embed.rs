//! `embed --model M --input IN.jsonl --output OUT.jsonl|OUT.parquet [--batch-size N]`: one
//! `{"text", "embedding"}` per input line, in input order (normalized when the model's
//! modules.json has Normalize). `--bench` instead times encoding at batch 1, 8 and 32 on the
//! input texts and prints texts/s and tokens/s, for the Burn model and the fused CPU path side
//! by side (or only the one `--engine` names).
//!
//! The code lives in [`retune_examples::cli::embed`], so the generic training and inference
//! stack is compiled once, in the library, instead of once per binary.

fn main() -> anyhow::Result<()> {
    retune_examples::cli::embed::main()
}
