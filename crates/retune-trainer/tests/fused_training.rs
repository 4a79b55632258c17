//! Training steps through the fused CPU path against Burn's autodiff: one batch's loss and
//! every parameter's gradient agree, with dropout on (both draw the same masks from the same
//! seed), for every pooling mode with and without normalization, for MNRL with a hard negative
//! and for a batch-triplet loss, on the tiny fixture and on all-MiniLM-L6-v2 with domain
//! transactions.
//!
//! Tolerance, per gradient tensor: max abs difference <= 2e-4 x the tensor's largest magnitude
//! (+1e-7). Both sides are f32 with different summation orders (packed against padded
//! sequences, other GEMM blockings), and the fused GELU uses an erf approximation good to
//! 1.5e-7; measured differences are below 1e-5 relative on the tiny model (printed).

use crate::common::{MINILM, domain_pairs, real_model};
use retune_trainer::backend::{CpuAutodiff, cpu_device};
use retune_trainer::fixture::tiny_bert_dir;
use retune_trainer::loss::LossConfig;
use retune_trainer::train::{NamedGrads, TrainConfig, TrainExample, Trainer};
use retune_trainer::{EncoderConfig, Engine, Pooling, SentenceEncoder};

type A = CpuAutodiff;
type Grads = NamedGrads<<A as burn::tensor::backend::AutodiffBackend>::InnerBackend>;

fn examples(n: usize) -> Vec<TrainExample> {
    let cats = [
        "travel",
        "meals",
        "software",
        "office supplies",
        "hotel",
        "airfare",
    ];
    (0..n)
        .map(|i| TrainExample {
            anchor: format!(
                "{} payment {i} at {}",
                ["uber ride", "team dinner", "aws invoice"][i % 3],
                "new york ".repeat(i % 4)
            ),
            positive: cats[i % cats.len()].to_owned(),
            negatives: vec![cats[(i + 1) % cats.len()].to_owned()],
            label: (i % cats.len()) as i64,
        })
        .collect()
}

fn step(
    dir: &str,
    engine: Engine,
    loss: LossConfig,
    pooling: Pooling,
    normalize: bool,
    ex: &[TrainExample],
) -> (f64, Grads, bool) {
    let mut enc =
        SentenceEncoder::<A>::load(&EncoderConfig::new(dir).with_engine(engine), &cpu_device())
            .unwrap();
    enc.st_config.pooling = pooling;
    enc.st_config.normalize = normalize;
    let mut t = Trainer::new(enc, TrainConfig::new(loss, 1));
    let fused = t.trains_fused();
    let refs: Vec<&TrainExample> = ex.iter().collect();
    let (value, grads) = t.batch_gradients(&refs, 0xA5A5_1234, 0.5).unwrap();
    (value, grads, fused)
}

fn values(
    t: &burn::tensor::Tensor<<A as burn::tensor::backend::AutodiffBackend>::InnerBackend, 1>,
) -> Vec<f32> {
    t.clone().into_data().to_vec().unwrap()
}

/// Compares every gradient; returns the largest relative difference among tensors whose
/// gradient is not zero up to rounding.
fn compare(burn: &Grads, fused: &Grads, what: &str) -> f64 {
    assert_eq!(
        burn.keys().collect::<Vec<_>>(),
        fused.keys().collect::<Vec<_>>(),
        "{what}: the same parameters get gradients"
    );
    let mut worst = 0.0f64;
    for (name, g) in burn {
        let (a, b) = (values(g), values(&fused[name]));
        let scale = a.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let diff = a
            .iter()
            .zip(&b)
            .fold(0.0f32, |m, (x, y)| m.max((x - y).abs()));
        assert!(
            diff <= 2e-4 * scale + 1e-7,
            "{what}: {name}: max abs diff {diff} against max |grad| {scale}"
        );
        // Some gradients are 0 in exact arithmetic (the key bias: softmax ignores a shift of
        // a row's scores) and only rounding noise here; they are held to the absolute bound.
        if scale > 1e-5 {
            worst = worst.max(f64::from(diff / scale));
        }
    }
    worst
}

#[test]
fn tiny_model_fused_gradients_equal_autodiff_with_dropout() {
    let dir = tiny_bert_dir();
    let dir = dir.to_str().unwrap();
    let ex = examples(7);
    let mnrl = LossConfig::Mnrl {
        scale: 20.0,
        symmetric: true,
    };
    let mut worst = 0.0f64;
    for pooling in [
        Pooling::Mean,
        Pooling::Cls,
        Pooling::Max,
        Pooling::MeanSqrtLen,
    ] {
        for normalize in [true, false] {
            let (lb, gb, fb) = step(dir, Engine::Burn, mnrl, pooling, normalize, &ex);
            let (lf, gf, ff) = step(dir, Engine::Fused, mnrl, pooling, normalize, &ex);
            assert!(!fb && ff, "engines: burn trains fused {fb}, fused {ff}");
            let what = format!("{pooling:?} normalize {normalize}");
            assert!(
                (lb - lf).abs() <= 1e-5 * lb.abs().max(1.0),
                "{what}: loss {lb} vs {lf}"
            );
            worst = worst.max(compare(&gb, &gf, &what));
        }
    }
    let semi = LossConfig::BatchSemiHard { margin: 5.0 };
    let (lb, gb, _) = step(dir, Engine::Burn, semi, Pooling::Mean, true, &ex);
    let (lf, gf, _) = step(dir, Engine::Fused, semi, Pooling::Mean, true, &ex);
    assert!(
        (lb - lf).abs() <= 1e-5 * lb.abs().max(1.0),
        "semi-hard loss {lb} vs {lf}"
    );
    worst = worst.max(compare(&gb, &gf, "batch semi-hard"));
    println!("tiny model: largest relative gradient difference {worst:.2e}");
}

#[test]
fn minilm_fused_gradients_equal_autodiff_on_domain_transactions() {
    let dir = real_model(MINILM);
    let ex: Vec<TrainExample> = domain_pairs()
        .into_iter()
        .take(8)
        .enumerate()
        .map(|(i, (anchor, positive))| TrainExample {
            anchor,
            positive,
            negatives: vec![],
            label: i as i64,
        })
        .collect();
    let mnrl = LossConfig::Mnrl {
        scale: 20.0,
        symmetric: true,
    };
    let dir = dir.to_str().unwrap();
    let (lb, gb, _) = step(dir, Engine::Burn, mnrl, Pooling::Mean, true, &ex);
    let (lf, gf, _) = step(dir, Engine::Fused, mnrl, Pooling::Mean, true, &ex);
    assert!(
        (lb - lf).abs() <= 1e-4 * lb.abs().max(1.0),
        "loss {lb} vs {lf}"
    );
    let worst = compare(&gb, &gf, "MiniLM");
    println!("MiniLM: loss {lb:.6} / {lf:.6}, largest relative gradient difference {worst:.2e}");
}

/// A short run on each engine (the fused one stepping AdamW on host memory, syncing the Burn
/// model at the end): the trained models embed alike, and both moved away from the start.
#[test]
fn tiny_model_trains_alike_on_both_engines() {
    let dir = tiny_bert_dir();
    let ex = examples(24);
    let texts: Vec<String> = ex.iter().map(|e| e.anchor.clone()).collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let run = |engine: Engine| {
        let enc = SentenceEncoder::<A>::load(
            &EncoderConfig::new(dir.to_str().unwrap()).with_engine(engine),
            &cpu_device(),
        )
        .unwrap();
        let before = enc.valid().encode(&refs).unwrap();
        let mut config = TrainConfig::new(
            LossConfig::Mnrl {
                scale: 20.0,
                symmetric: true,
            },
            2,
        );
        config.batch_size = 6;
        config.lr = 1e-3;
        let mut t = Trainer::new(enc, config);
        let report = t.fit(&ex, None, None).unwrap();
        assert!(report.steps >= 6, "{} steps", report.steps);
        let after = t.inference_encoder().encode(&refs).unwrap();
        (before, after, report)
    };
    let (b0, burn, rb) = run(Engine::Burn);
    let (_, fused, rf) = run(Engine::Fused);
    crate::common::assert_step_losses_close(&rb.log, &rf.log, 1e-3);
    let mut moved = 0.0f64;
    for i in 0..refs.len() {
        let c = crate::common::cosine(&burn[i], &fused[i]);
        assert!(
            c >= 0.9999,
            "text {i}: cosine {c} between the engines' trained models"
        );
        moved = moved.max(1.0 - crate::common::cosine(&b0[i], &burn[i]));
    }
    assert!(moved > 1e-3, "training moved the embeddings by {moved}");
}

/// Columns packed into one training pass (`forward_train_groups`, what the trainer runs for
/// a loss' anchors, positives and negatives) give each column's hidden states as its own
/// pass does: each group draws its own dropout masks, and a group without a seed none.
/// Tolerance 1e-5 absolute: the same kernels on more rows (other GEMM blockings only).
#[test]
fn grouped_training_pass_equals_a_pass_per_group() {
    let dir = tiny_bert_dir();
    let enc = SentenceEncoder::<A>::load(
        &EncoderConfig::new(dir.to_str().unwrap()).with_engine(Engine::Fused),
        &cpu_device(),
    )
    .unwrap();
    let fused =
        retune_trainer::fused::FusedBert::from_transformer(enc.model(), &enc.model_config).unwrap();
    let ex = examples(5);
    let anchors: Vec<&str> = ex.iter().map(|e| e.anchor.as_str()).collect();
    let names: Vec<&str> = ex.iter().map(|e| e.positive.as_str()).collect();
    let (a, p) = (
        enc.tokenize(&anchors, None).unwrap(),
        enc.tokenize(&names, None).unwrap(),
    );
    let (a, p): (Vec<_>, Vec<_>) = (a.iter().collect(), p.iter().collect());
    for seeds in [(Some(7), Some(8)), (Some(7), None), (None, None)] {
        let joined = fused
            .forward_train_groups(&[(&a, seeds.0), (&p, seeds.1)])
            .unwrap();
        let alone = [
            fused.forward_train(&a, seeds.0).unwrap(),
            fused.forward_train(&p, seeds.1).unwrap(),
        ];
        let mut row = 0;
        for pass in &alone {
            let n = pass.states().offsets.len() - 1;
            for i in 0..n {
                let (x, y) = (pass.states().sequence(i), joined.states().sequence(row + i));
                let diff = x
                    .iter()
                    .zip(y)
                    .fold(0.0f32, |m, (x, y)| m.max((x - y).abs()));
                assert!(diff <= 1e-5, "{seeds:?}: sequence {i} differs by {diff}");
            }
            row += n;
        }
        assert_eq!(row, joined.states().offsets.len() - 1, "every row once");
    }
    let differs = |s: (Option<u64>, Option<u64>)| {
        let x = fused.forward_train(&a, s.0).unwrap();
        let y = fused.forward_train(&a, s.1).unwrap();
        x.states().data != y.states().data
    };
    assert!(differs((Some(7), None)), "dropout is on in this model");
}

/// `Engine::Auto` trains on the fused engine on the CPU backend (resolved on the autodiff
/// backend's inner backend), for the bi-encoder and the cross-encoder alike.
#[test]
fn auto_trains_fused_on_the_cpu_backend() {
    let dir = tiny_bert_dir();
    let enc = SentenceEncoder::<A>::load(&EncoderConfig::new(dir.to_str().unwrap()), &cpu_device())
        .unwrap();
    let loss = LossConfig::Mnrl {
        scale: 20.0,
        symmetric: false,
    };
    assert!(Trainer::new(enc, TrainConfig::new(loss, 1)).trains_fused());
    let config = retune_trainer::cross::CrossEncoderConfig::new(dir.to_string_lossy());
    let ce = retune_trainer::cross::CrossEncoder::<A>::load(&config, &cpu_device()).unwrap();
    let tc =
        retune_trainer::cross::CrossTrainConfig::new(retune_trainer::cross::CrossLoss::Listwise, 1);
    assert!(retune_trainer::cross::CrossTrainer::new(ce, tc).trains_fused());
}
