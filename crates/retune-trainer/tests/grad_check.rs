//! Gradient check: autodiff gradients through the whole tiny fixture encoder (embeddings,
//! attention, GELU, LayerNorms, mean pooling, normalization, MNRL) agree with central finite
//! differences on parameters from every kind of block.
//!
//! Tolerance: f32 forward passes with a step of 1e-2 give finite differences good to about 1%
//! on this smooth model; the check asserts 5% relative (plus 1e-4 absolute) per element.

use burn::module::Param;
use burn::tensor::{Tensor, TensorData};
use retune_trainer::backend::{CpuAutodiff, cpu_device};
use retune_trainer::fixture::tiny_bert_dir;
use retune_trainer::loss::LossConfig;
use retune_trainer::train::{TrainConfig, TrainExample, Trainer};
use retune_trainer::{EncoderConfig, SentenceEncoder};

type A = CpuAutodiff;

fn examples() -> Vec<TrainExample> {
    let cats = ["travel", "meals", "software", "office supplies"];
    (0..4)
        .map(|i| TrainExample {
            anchor: format!("uber {} amount {i}", cats[(i + 1) % 4]),
            positive: cats[i].to_owned(),
            negatives: vec![],
            label: i as i64,
        })
        .collect()
}

fn encoder() -> SentenceEncoder<A> {
    let mut enc = SentenceEncoder::<A>::load(
        &EncoderConfig::new(tiny_bert_dir().to_str().unwrap()),
        &cpu_device(),
    )
    .unwrap();
    let m = enc.model().clone().with_dropout(0.0);
    enc.set_model(m);
    enc
}

fn loss_and_grads(
    enc: SentenceEncoder<A>,
) -> (
    f64,
    retune_trainer::train::NamedGrads<<A as burn::tensor::backend::AutodiffBackend>::InnerBackend>,
) {
    let ex = examples();
    let refs: Vec<&TrainExample> = ex.iter().collect();
    let mut t = Trainer::new(
        enc,
        TrainConfig::new(
            LossConfig::Mnrl {
                scale: 20.0,
                symmetric: false,
            },
            1,
        ),
    );
    t.batch_gradients(&refs, 0, 1.0).unwrap()
}

fn bump<const D: usize>(p: &mut Param<Tensor<A, D>>, i: usize, by: f32) {
    let t = p.val();
    let (shape, device) = (t.shape(), t.device());
    let mut v: Vec<f32> = t.into_data().to_vec().unwrap();
    v[i] += by;
    *p = Param::from_tensor(Tensor::from_data(TensorData::new(v, shape), &device));
}

type Site = (&'static str, usize, fn(&mut SentenceEncoder<A>, usize, f32));

#[test]
fn autodiff_matches_finite_differences() {
    let sites: [Site; 6] = [
        ("embeddings.position_embeddings.weight", 40, |e, i, d| {
            bump(
                &mut e.model_mut().bert_mut().unwrap().embeddings.position.weight,
                i,
                d,
            )
        }),
        ("embeddings.LayerNorm.bias", 2, |e, i, d| {
            bump(
                e.model_mut()
                    .bert_mut()
                    .unwrap()
                    .embeddings
                    .norm
                    .beta
                    .as_mut()
                    .unwrap(),
                i,
                d,
            )
        }),
        (
            "encoder.layer.0.attention.self.query.weight",
            37,
            |e, i, d| {
                bump(
                    &mut e.model_mut().bert_mut().unwrap().layers[0]
                        .attention
                        .query
                        .weight,
                    i,
                    d,
                )
            },
        ),
        ("encoder.layer.0.attention.self.value.bias", 5, |e, i, d| {
            bump(
                e.model_mut().bert_mut().unwrap().layers[0]
                    .attention
                    .value
                    .bias
                    .as_mut()
                    .unwrap(),
                i,
                d,
            )
        }),
        ("encoder.layer.1.intermediate.dense.bias", 3, |e, i, d| {
            bump(
                e.model_mut().bert_mut().unwrap().layers[1]
                    .intermediate
                    .bias
                    .as_mut()
                    .unwrap(),
                i,
                d,
            )
        }),
        ("encoder.layer.1.output.LayerNorm.weight", 7, |e, i, d| {
            bump(
                &mut e.model_mut().bert_mut().unwrap().layers[1].norm.gamma,
                i,
                d,
            )
        }),
    ];
    let base = encoder();
    let (_, grads) = loss_and_grads(base.clone());
    let h = 1e-2f32;
    for (name, i, set) in sites {
        let analytic: f32 = grads[name].clone().into_data().to_vec::<f32>().unwrap()[i];
        let mut plus = base.clone();
        set(&mut plus, i, h);
        let mut minus = base.clone();
        set(&mut minus, i, -h);
        let numeric = (loss_and_grads(plus).0 - loss_and_grads(minus).0) / (2.0 * f64::from(h));
        let (a, n) = (f64::from(analytic), numeric);
        assert!(
            (a - n).abs() <= 0.05 * n.abs().max(a.abs()) + 1e-4,
            "{name}[{i}]: autodiff {a}, finite difference {n}"
        );
        assert!(
            a.abs() > 1e-4,
            "{name}[{i}]: a zero gradient checks nothing; pick another element"
        );
    }
}
