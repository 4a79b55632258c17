//! `bench-train --model M --train T [--batch-sizes 16,32] [--steps N]`: training speed and
//! peak memory of MNRL fine-tuning, one child process per batch size (so each peak is its
//! own), printed as a table of steps, seconds per step, samples/s and peak resident memory.
//!
//! The code lives in [`retune_examples::cli::bench_train`], so the generic training and inference
//! stack is compiled once, in the library, instead of once per binary.

fn main() -> anyhow::Result<()> {
    retune_examples::cli::bench_train::main()
}
