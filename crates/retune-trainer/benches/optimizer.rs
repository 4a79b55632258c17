//! Criterion benchmark: one optimizer step (global norm, then AdamW with the clipping factor)
//! on a word-embedding table 384 wide whose gradient has 300 nonzero rows, as a batch of
//! course transactions leaves it: every row read (dense) against the touched rows only
//! (`RowHints`, the fused training path's default; the same bits). Tables of
//! all-MiniLM-L6-v2's 30,522 rows and of a multilingual model's 250,002. Gradients are built
//! outside the timed part.
#![allow(missing_docs)] // criterion's macros generate undocumented functions

use burn::module::Param;
use burn::tensor::{Tensor, TensorData};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use rand::{Rng, SeedableRng};
use retune_trainer::backend::{Cpu, CpuAutodiff, cpu_device};
use retune_trainer::train::{
    AdamW, NamedGrads, RowHints, StepRate, TouchedRows, clip_scale, global_norm_rows,
};
use retune_trainer::{ParamTable, Slot};

const NAME: &str = "embeddings.word_embeddings.weight";
const WIDTH: usize = 384;

struct Table(Param<Tensor<CpuAutodiff, 2>>);

impl ParamTable<CpuAutodiff> for Table {
    fn visit_params(&mut self, f: &mut dyn FnMut(String, Slot<'_, CpuAutodiff>)) {
        f(NAME.to_owned(), Slot::Matrix(&mut self.0));
    }
}

fn bench(c: &mut Criterion) {
    let dev = cpu_device();
    let mut group = c.benchmark_group("adamw_word_embeddings_300_rows");
    group.sample_size(10);
    for rows in [30_522usize, 250_002] {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let init: Vec<f32> = (0..rows * WIDTH)
            .map(|_| rng.random_range(-0.1..0.1))
            .collect();
        let ids: Vec<usize> = (0..300).map(|_| rng.random_range(0..rows)).collect();
        let hint = TouchedRows::new(WIDTH, ids.clone());
        let grads = move || -> NamedGrads<Cpu> {
            let mut g = vec![0.0f32; rows * WIDTH];
            for &r in &ids {
                g[r * WIDTH..(r + 1) * WIDTH].fill(1e-3);
            }
            let t = Tensor::from_data(TensorData::new(g, [rows * WIDTH]), &cpu_device());
            [(NAME.to_owned(), t)].into_iter().collect()
        };
        for (mode, hints) in [
            ("dense", RowHints::new()),
            (
                "touched",
                [(NAME.to_owned(), hint.clone())].into_iter().collect(),
            ),
        ] {
            let value = Tensor::from_data(TensorData::new(init.clone(), [rows, WIDTH]), &dev);
            let mut table = Table(Param::from_tensor(value));
            let mut opt = AdamW::<Cpu>::new(0.01, 1e-6);
            group.bench_function(format!("{rows}_rows/{mode}"), |b| {
                b.iter_batched(
                    &grads,
                    |mut g| {
                        let grad_scale = clip_scale(global_norm_rows(&mut g, &hints), 1.0);
                        let rate = StepRate {
                            lr: 1e-4,
                            grad_scale,
                        };
                        opt.step_rows(&mut table, g, rate, &hints);
                    },
                    BatchSize::PerIteration,
                )
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
