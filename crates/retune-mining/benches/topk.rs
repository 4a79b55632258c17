//! Exact top-10 search throughput at a size that runs in seconds (2,000 queries x 50,000
//! documents x 384 dimensions, random unit vectors), reported as GFLOP/s of the inner products.
//! Run as is and with `--no-default-features` to compare the AVX-512 kernels with FMA/AVX2; the
//! full-size comparison with numpy is `bench-topk` (docs/benchmarks.md).

// `criterion_group!` defines an undocumented public function.
#![allow(missing_docs)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rand::{Rng, SeedableRng};
use retune_mining::exact_top_k_flat;

fn unit_rows(n: usize, dim: usize, seed: u64) -> Vec<f32> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut v: Vec<f32> = (0..n * dim)
        .map(|_| rng.random_range(-1.0f32..1.0))
        .collect();
    for row in v.chunks_mut(dim) {
        let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
        row.iter_mut().for_each(|x| *x /= norm);
    }
    v
}

fn topk(c: &mut Criterion) {
    let (nq, nd, dim) = (2_000, 50_000, 384);
    let q = unit_rows(nq, dim, 1);
    let d = unit_rows(nd, dim, 2);
    let mut g = c.benchmark_group("exact_top_k");
    g.sample_size(10);
    g.throughput(Throughput::Elements((2 * nq * nd * dim) as u64));
    g.bench_function("2000x50000x384_top10", |b| {
        b.iter(|| exact_top_k_flat(&q, &d, dim, 10))
    });
    g.finish();
}

criterion_group!(benches, topk);
criterion_main!(benches);
