//! CachedMultipleNegativesRankingLoss (GradCache) gives MNRL's loss and gradients for any
//! mini-batch size (dropout off, so both paths see the same network).

use retune_trainer::backend::{CpuAutodiff, cpu_device};
use retune_trainer::fixture::tiny_bert_dir;
use retune_trainer::loss::LossConfig;
use retune_trainer::train::{TrainConfig, TrainExample, Trainer};
use retune_trainer::{EncoderConfig, SentenceEncoder};

fn trainer(loss: LossConfig) -> Trainer<CpuAutodiff> {
    let mut enc = SentenceEncoder::<CpuAutodiff>::load(
        &EncoderConfig::new(tiny_bert_dir().to_str().unwrap()),
        &cpu_device(),
    )
    .unwrap();
    let m = enc.model().clone().with_dropout(0.0);
    enc.set_model(m);
    Trainer::new(enc, TrainConfig::new(loss, 1))
}

#[test]
fn cached_equals_plain_for_any_mini_batch() {
    let cats = [
        "travel",
        "meals",
        "software",
        "office supplies",
        "cloud hosting",
        "legal",
        "rent",
    ];
    let examples: Vec<TrainExample> = (0..7)
        .map(|i| TrainExample {
            anchor: format!("uber {} ride amount {i}", cats[i]),
            positive: cats[i].to_owned(),
            negatives: vec![cats[(i + 1) % 7].to_owned()],
            label: i as i64,
        })
        .collect();
    let refs: Vec<&TrainExample> = examples.iter().collect();
    let (plain_loss, plain) = trainer(LossConfig::Mnrl {
        scale: 20.0,
        symmetric: true,
    })
    .batch_gradients(&refs, 3, 1.0)
    .unwrap();
    for mini in [1, 3, 16] {
        let (loss, cached) = trainer(LossConfig::CachedMnrl {
            scale: 20.0,
            symmetric: true,
            mini_batch: mini,
        })
        .batch_gradients(&refs, 3, 1.0)
        .unwrap();
        assert!(
            (loss - plain_loss).abs() <= 1e-5 * plain_loss.abs(),
            "mini {mini}: loss {loss} vs {plain_loss}"
        );
        assert_eq!(cached.len(), plain.len());
        for (name, g) in &plain {
            let a: Vec<f32> = g.clone().into_data().to_vec().unwrap();
            let b: Vec<f32> = cached[name].clone().into_data().to_vec().unwrap();
            let scale = a.iter().fold(0f32, |m, x| m.max(x.abs())).max(1e-6);
            let worst = a
                .iter()
                .zip(&b)
                .map(|(x, y)| (x - y).abs())
                .fold(0f32, f32::max);
            // f32 sums in another order: relative to the tensor's largest gradient, plus 1e-7 for
            // gradients that are exactly 0 in theory (key biases cancel in the softmax) and noise here.
            assert!(
                worst <= 1e-4 * scale + 1e-7,
                "mini {mini}: {name}: max diff {worst} (scale {scale})"
            );
        }
    }
}
