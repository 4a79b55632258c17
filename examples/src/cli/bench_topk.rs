//! `retune bench topk [--queries 20000] [--docs 200000] [--dim 384] [--k 10] [--kernel auto|gemm|amx]`:
//! exact top-k over random unit vectors; prints the kernel that ran, time, achieved GFLOP/s
//! (2 * queries * docs * dim / seconds, the f32 work whatever the kernel) and peak resident
//! memory. A benchmark, not a test: compare ratios measured side by side.

use clap::Parser;
use rand::{Rng, SeedableRng};
use retune_mining::Kernel;
use std::time::Instant;

/// Time exact top-k search.
#[derive(Parser, Debug)]
pub struct BenchTopkArgs {
    /// Query vectors.
    #[arg(long, default_value_t = 20_000, value_parser = crate::cli::ranges::at_least_one, allow_negative_numbers = true)]
    queries: usize,
    /// Document vectors.
    #[arg(long, default_value_t = 200_000, value_parser = crate::cli::ranges::at_least_one, allow_negative_numbers = true)]
    docs: usize,
    /// Dimension.
    #[arg(long, default_value_t = 384, value_parser = crate::cli::ranges::at_least_one, allow_negative_numbers = true)]
    dim: usize,
    /// Results per query.
    #[arg(long, default_value_t = 10, value_parser = crate::cli::ranges::at_least_one, allow_negative_numbers = true)]
    k: usize,
    /// Scoring kernel: auto (AMX screening where the CPU has it), gemm (f32) or amx.
    #[arg(long, default_value = "auto", value_parser = parse_kernel)]
    kernel: Kernel,
}

fn parse_kernel(s: &str) -> Result<Kernel, String> {
    match s {
        "auto" => Ok(Kernel::Auto),
        "gemm" => Ok(Kernel::Gemm),
        "amx" => Ok(Kernel::Amx),
        other => Err(format!(
            "unknown kernel {other:?}: expected auto, gemm or amx"
        )),
    }
}

fn unit_rows(n: usize, dim: usize, seed: u64) -> Vec<f32> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut v: Vec<f32> = (0..n * dim)
        .map(|_| rng.random::<f32>() * 2.0 - 1.0)
        .collect();
    for row in v.chunks_mut(dim) {
        let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
        row.iter_mut().for_each(|x| *x /= norm);
    }
    v
}

/// Runs the subcommand.
pub fn run(a: BenchTopkArgs) {
    let q = unit_rows(a.queries, a.dim, 1);
    let d = unit_rows(a.docs, a.dim, 2);
    let inputs_mb = ((q.len() + d.len()) * 4) as f64 / 1e6;
    let t = Instant::now();
    let kernel = a.kernel.resolve(a.queries, a.docs);
    let hits = retune_mining::exact_top_k_flat_with(&q, &d, a.dim, a.k, a.kernel);
    let secs = t.elapsed().as_secs_f64();
    let flops = 2.0 * a.queries as f64 * a.docs as f64 * a.dim as f64;
    assert_eq!(hits.len(), a.queries);
    println!(
        "| kernel | queries | docs | dim | k | threads | seconds | GFLOP/s | FLOP bound at 360 GFLOP/s | inputs MB | peak RSS MB |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    println!(
        "| {kernel:?} | {} | {} | {} | {} | {} | {secs:.2} | {:.1} | {:.2} s | {inputs_mb:.0} | {:.0} |",
        a.queries,
        a.docs,
        a.dim,
        a.k,
        rayon::current_num_threads(),
        flops / secs / 1e9,
        flops / 360e9,
        crate::alloc::peak_rss_mb().unwrap_or(f64::NAN)
    );
}
