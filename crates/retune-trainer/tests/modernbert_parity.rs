//! Parity of ModernBERT with sentence-transformers 6.2 on the tiny random models of
//! `fixtures/reference/arch/` (written by `scripts/make-reference.sh modernbert`): rotary
//! positions with a global and a local theta, GeGLU, pre-norm without biases, a global layer
//! every third and a sliding window of 16 tokens elsewhere (the 128-token text crosses it), CLS
//! pooling, a byte-level BPE tokenizer with `[CLS] X [SEP]`. ModernBERT runs on the Burn engine;
//! the tolerances are `arch_parity`'s (cosine >= 0.99999, loss within 1e-5 relative, each
//! gradient within 1e-3 x its largest magnitude + 1e-6, re-ranker scores within 1e-4).

use crate::arch_parity::{
    CATS, embeddings_match, exported, gradients_match, load, rerank_groups, reranker,
    reranker_scores_match, saved_reranker, small_rows,
};
use crate::common::fixture;
use burn::tensor::backend::AutodiffBackend;
use retune_trainer::backend::{Cpu, CpuAutodiff, cpu_device};
use retune_trainer::cross::{CrossEncoder, CrossEncoderConfig};
use retune_trainer::loss::{LossConfig, TripletDistance};
use retune_trainer::train::{TrainConfig, TrainExample, Trainer};
use retune_trainer::{EncoderConfig, Engine, Family, Pooling, SentenceEncoder};

#[test]
fn modernbert_embeds_as_sentence_transformers() {
    embeddings_match("tiny-modernbert", Family::ModernBert);
    let enc = load(
        fixture("arch/tiny-modernbert").to_str().unwrap(),
        8,
        Engine::Auto,
    );
    assert_eq!(enc.st_config.pooling, Pooling::Cls);
    assert!(!enc.uses_fused(), "ModernBERT runs on Burn under auto");
    assert!(enc.load_report.unused.is_empty(), "{:?}", enc.load_report);
}

#[test]
fn modernbert_mnrl_gradients_match_sentence_transformers() {
    gradients_match("tiny-modernbert", Family::ModernBert);
}

#[test]
fn the_fused_engine_is_refused_for_modernbert_naming_the_choice() {
    let dir = fixture("arch/tiny-modernbert");
    for engine in [Engine::Fused, Engine::FusedBf16] {
        let cfg = EncoderConfig::new(dir.to_str().unwrap()).with_engine(engine);
        let err = SentenceEncoder::<Cpu>::load(&cfg, &cpu_device())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("engine") && err.contains("modernbert") && err.contains("burn"),
            "{err}"
        );
        let cross = CrossEncoderConfig {
            engine,
            ..CrossEncoderConfig::new(fixture("arch/tiny-modernbert-reranker").to_string_lossy())
        };
        let err = CrossEncoder::<Cpu>::load(&cross, &cpu_device())
            .unwrap_err()
            .to_string();
        assert!(err.contains("modernbert"), "{err}");
    }
}

/// An export has ModernBERT's own names and config, and reloads to the same embeddings.
#[test]
fn modernbert_export_keeps_its_names_and_embeddings() {
    let (_out, saved, names) = exported("tiny-modernbert");
    for n in [
        "embeddings.tok_embeddings.weight",
        "embeddings.norm.weight",
        "layers.0.attn.Wqkv.weight",
        "layers.1.attn_norm.weight",
        "layers.2.mlp.Wi.weight",
        "final_norm.weight",
    ] {
        assert!(names.contains(&n.to_string()), "{n} in {names:?}");
    }
    assert!(!names.contains(&"layers.0.attn_norm.weight".to_string()));
    assert_eq!(names.len(), 3 + 6 * 3 - 1, "{names:?}");
    let pooling = std::fs::read_to_string(saved.join("1_Pooling/config.json")).unwrap();
    assert!(
        pooling.contains("\"pooling_mode_cls_token\": true"),
        "{pooling}"
    );
}

/// `ModernBertForSequenceClassification` (CLS, then `head`: dense, GELU, norm; then
/// `classifier`): raw scores as sentence-transformers' `CrossEncoder`; a save has the same
/// names and reloads to the same scores.
#[test]
fn modernbert_reranker_scores_as_sentence_transformers() {
    let ce = reranker_scores_match("tiny-modernbert-reranker", Family::ModernBert);
    let (_dir, names) = saved_reranker(&ce, "ModernBertForSequenceClassification");
    for n in [
        "model.embeddings.tok_embeddings.weight",
        "model.layers.2.mlp.Wo.weight",
        "model.final_norm.weight",
        "head.dense.weight",
        "head.norm.weight",
        "classifier.weight",
        "classifier.bias",
    ] {
        assert!(names.contains(&n.to_string()), "{n} in {names:?}");
    }
}

/// A bi-encoder checkpoint becomes a re-ranker with a fresh head (norm scale 1, dense and
/// classifier drawn, biases 0) whose scores differ from pair to pair, and a few listwise steps
/// on Burn move its loss.
#[test]
fn a_modernbert_bi_encoder_trains_as_a_reranker() {
    use retune_trainer::cross::{CrossLoss, CrossTrainConfig, CrossTrainer};
    let dir = fixture("arch/tiny-modernbert");
    let fresh = reranker("tiny-modernbert", Engine::Auto);
    assert!(!fresh.head_loaded);
    let scores = fresh
        .logits(&[
            ("Delta flight", "Travel: Airfare"),
            ("team lunch", "Meals"),
            ("Adobe", "Software"),
        ])
        .unwrap();
    assert!(
        scores.windows(2).any(|w| (w[0] - w[1]).abs() > 1e-5),
        "{scores:?}"
    );
    let groups = rerank_groups();
    let config = CrossEncoderConfig::new(dir.to_string_lossy());
    let ce = CrossEncoder::<CpuAutodiff>::load(&config, &cpu_device()).unwrap();
    let mut tc = CrossTrainConfig::new(CrossLoss::Listwise, 2);
    tc.batch_size = 4;
    tc.lr = 1e-3;
    let log = CrossTrainer::new(ce, tc)
        .fit(&groups, None, None)
        .unwrap()
        .log;
    assert_eq!(log.len(), 8);
    assert!(log.iter().all(|s| s.loss.is_finite()), "{log:?}");
    let first = log[..2].iter().map(|s| s.loss).sum::<f64>();
    let last = log[6..].iter().map(|s| s.loss).sum::<f64>();
    assert!(last < first, "listwise loss {first} -> {last}");
}

type Inner = <CpuAutodiff as AutodiffBackend>::InnerBackend;

/// Every bi-encoder loss trains ModernBERT on Burn: finite losses, changed weights.
#[test]
fn modernbert_fine_tunes_with_every_loss() {
    let dir = fixture("arch/tiny-modernbert");
    let train: Vec<TrainExample> = small_rows(8)
        .into_iter()
        .map(|(anchor, c)| TrainExample {
            anchor,
            positive: CATS[c].into(),
            negatives: vec![CATS[(c + 1) % 4].into()],
            label: c as i64,
        })
        .collect();
    let losses = [
        LossConfig::Mnrl {
            scale: 20.0,
            symmetric: true,
        },
        LossConfig::CachedMnrl {
            scale: 20.0,
            symmetric: false,
            mini_batch: 2,
        },
        LossConfig::Triplet {
            distance: TripletDistance::Euclidean,
            margin: 5.0,
        },
        LossConfig::BatchHard { margin: 1.0 },
        LossConfig::BatchSemiHard { margin: 1.0 },
        LossConfig::BatchAll { margin: 1.0 },
    ];
    for loss in losses {
        let cfg = EncoderConfig::new(dir.to_str().unwrap());
        let enc = SentenceEncoder::<CpuAutodiff>::load(&cfg, &cpu_device()).unwrap();
        let before = weight(&enc);
        let mut tc = TrainConfig::new(loss, 1);
        tc.batch_size = 4;
        tc.lr = 1e-3;
        let mut t = Trainer::new(enc, tc);
        assert!(!t.trains_fused());
        let report = t.fit(&train, None, None).unwrap();
        assert!(
            !report.log.is_empty() && report.log.iter().all(|s| s.loss.is_finite()),
            "{loss:?}: {:?}",
            report.log
        );
        assert_ne!(before, weight(&t.encoder), "{loss:?} changed the weights");
    }
}

fn weight(enc: &SentenceEncoder<CpuAutodiff>) -> Vec<f32> {
    let mut model = enc.model().clone();
    let mut out = Vec::new();
    retune_trainer::ParamTable::visit_params(&mut model, &mut |name, slot| {
        if let ("layers.1.attn.Wqkv.weight", retune_trainer::Slot::Linear(p)) =
            (name.as_str(), slot)
        {
            out = burn::tensor::Tensor::<Inner, 2>::into_data(p.val().inner())
                .to_vec()
                .unwrap();
        }
    });
    out
}
