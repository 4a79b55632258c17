//! The cross-encoder on the tiny fixture model: starting from a bi-encoder checkpoint with a
//! new head, scoring in any batch order, saving in the `BertForSequenceClassification` layout
//! and reloading to the same scores, training (both losses) that learns to rank, and an
//! exact resume from a checkpoint.

use retune_data::Reranker;
use retune_trainer::backend::{Cpu, CpuAutodiff};
use retune_trainer::cross::{
    CrossEncoder, CrossEncoderConfig, CrossLoss, CrossTrainConfig, CrossTrainer, RerankGroup,
    RerankQuery,
};
use retune_trainer::fixture::tiny_bert_dir;
use retune_trainer::train::RunFiles;

const CATS: [&str; 4] = ["travel", "meals", "software", "office supplies"];
const HINTS: [&str; 4] = ["uber", "pizza", "adobe", "paper"];

fn groups() -> Vec<RerankGroup> {
    (0..32)
        .map(|i| RerankGroup {
            query: format!("{} order {}", HINTS[i % 4], i),
            positive: CATS[i % 4].into(),
            negatives: (1..4).map(|d| CATS[(i + d) % 4].to_string()).collect(),
            teacher: Vec::new(),
        })
        .collect()
}

fn validation() -> Vec<RerankQuery> {
    (0..8)
        .map(|i| RerankQuery {
            query: format!("{} charge {}", HINTS[i % 4], 100 + i),
            candidates: CATS.iter().map(|c| c.to_string()).collect(),
            relevant: vec![CATS[i % 4].into()],
        })
        .collect()
}

fn load<B: burn::tensor::backend::Backend>(dir: &std::path::Path) -> CrossEncoder<B> {
    CrossEncoder::<B>::load(
        &CrossEncoderConfig::new(dir.to_string_lossy()),
        &Default::default(),
    )
    .unwrap()
}

#[test]
fn new_head_scores_save_and_reload() {
    let ce = load::<Cpu>(&tiny_bert_dir());
    assert!(!ce.head_loaded);
    let docs = [
        "travel",
        "a much longer document about office supplies",
        "meals",
    ];
    let scores = ce.score("uber to the airport", &docs).unwrap();
    assert!(scores.iter().all(|s| *s > 0.0 && *s < 1.0), "{scores:?}");
    // One at a time gives the same scores as the padded batch.
    for (d, s) in docs.iter().zip(&scores) {
        let alone = ce.score("uber to the airport", &[d]).unwrap()[0];
        assert!((alone - s).abs() < 1e-5, "{alone} vs {s}");
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("reranker");
    ce.save(&out, "# test\n").unwrap();
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["architectures"][0], "BertForSequenceClassification");
    assert_eq!(config["id2label"]["0"], "LABEL_0");
    let bytes = std::fs::read(out.join("model.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    assert_eq!(st.tensor("classifier.weight").unwrap().shape(), [1, 32]);
    assert_eq!(st.tensor("classifier.bias").unwrap().shape(), [1]);
    assert!(st.tensor("bert.pooler.dense.weight").is_ok());
    assert!(
        st.tensor("bert.encoder.layer.1.output.LayerNorm.weight")
            .is_ok()
    );
    assert!(out.join("tokenizer.json").is_file());
    let back = load::<Cpu>(&out);
    assert!(back.head_loaded);
    let again = back.score("uber to the airport", &docs).unwrap();
    for (a, b) in scores.iter().zip(&again) {
        assert!((a - b).abs() < 1e-6, "{a} vs {b}");
    }
}

fn train(loss: CrossLoss) -> (f64, f64, f64, f64) {
    let ce = load::<CpuAutodiff>(&tiny_bert_dir());
    let mut config = CrossTrainConfig::new(loss, 40);
    config.lr = 2e-3;
    config.batch_size = 8;
    let mut t = CrossTrainer::new(ce, config);
    let val = validation();
    let report = t.fit(&groups(), Some(&val), None).unwrap();
    let first: f64 = report.log[..4].iter().map(|s| s.loss).sum::<f64>() / 4.0;
    let last: f64 = report.log[report.log.len() - 4..]
        .iter()
        .map(|s| s.loss)
        .sum::<f64>()
        / 4.0;
    let before = report.evals[0].1["mrr@10"];
    let best = report.best.unwrap().1;
    // The inference copy carries the best weights.
    let after =
        CrossTrainer::<CpuAutodiff>::validate(&t.inference_encoder(), &val).unwrap()["mrr@10"];
    assert!((after - best).abs() < 1e-9, "{after} vs best {best}");
    (first, last, before, best)
}

#[test]
fn listwise_training_learns_to_rank() {
    let (first, last, before, best) = train(CrossLoss::Listwise);
    assert!(last < first * 0.7, "loss {first} -> {last}");
    assert!(best > before && best >= 0.8, "mrr@10 {before} -> {best}");
}

#[test]
fn bce_training_learns_to_rank() {
    let (first, last, before, best) = train(CrossLoss::Bce);
    assert!(last < first * 0.7, "loss {first} -> {last}");
    assert!(best > before && best >= 0.8, "mrr@10 {before} -> {best}");
}

#[test]
fn listwise_needs_negatives() {
    let ce = load::<CpuAutodiff>(&tiny_bert_dir());
    let mut t = CrossTrainer::new(ce, CrossTrainConfig::new(CrossLoss::Listwise, 1));
    let mut g = groups();
    g[3].negatives.clear();
    let err = t.fit(&g, None, None).err().unwrap().to_string();
    assert!(err.contains("needs negatives"), "{err}");
}

#[test]
fn distillation_needs_teacher_logits_and_learns_to_rank() {
    let mut config = CrossTrainConfig::new(CrossLoss::Listwise, 40);
    config.lr = 2e-3;
    config.distill_weight = 1.0;
    // A teacher that puts the positive first and the negatives in a fixed order.
    let mut g = groups();
    for x in &mut g {
        x.teacher = vec![4.0, 1.0, 0.0, -1.0];
    }
    let mut missing = g.clone();
    missing[5].teacher.pop();
    let mut t = CrossTrainer::new(load::<CpuAutodiff>(&tiny_bert_dir()), config.clone());
    let err = t.fit(&missing, None, None).err().unwrap().to_string();
    assert!(err.contains("teacher logit"), "{err}");
    let mut t = CrossTrainer::new(load::<CpuAutodiff>(&tiny_bert_dir()), config);
    let val = validation();
    let report = t.fit(&g, Some(&val), None).unwrap();
    let (first, last) = (report.log[0].loss, report.log[report.log.len() - 1].loss);
    assert!(last < first * 0.7, "loss {first} -> {last}");
    let (before, best) = (report.evals[0].1["mrr@10"], report.best.unwrap().1);
    assert!(best > before && best >= 0.8, "mrr@10 {before} -> {best}");
}

#[test]
fn fused_scoring_matches_burn_and_follows_new_weights() {
    use retune_trainer::Engine;
    let pairs = [
        ("uber to the airport", "travel"),
        (
            "uber to the airport",
            "a much longer document about office supplies",
        ),
        ("pizza for the team", "meals"),
        ("adobe subscription", "software"),
    ];
    let mut fused = load::<Cpu>(&tiny_bert_dir())
        .with_engine(Engine::Fused)
        .unwrap();
    let burn = fused.clone().with_engine(Engine::Burn).unwrap();
    assert!(fused.uses_fused() && !burn.uses_fused());
    assert!(
        load::<Cpu>(&tiny_bert_dir()).uses_fused(),
        "Auto scores on the fused path on the CPU backend"
    );
    let a = fused.logits(&pairs).unwrap();
    let b = burn.logits(&pairs).unwrap();
    let spread =
        a.iter().cloned().fold(f32::MIN, f32::max) - a.iter().cloned().fold(f32::MAX, f32::min);
    assert!(spread > 1e-4, "logits differ across pairs: {a:?}");
    for (x, y) in a.iter().zip(&b) {
        assert!((x - y).abs() <= 1e-5, "fused {x} vs burn {y}");
    }
    let other = retune_trainer::cross::CrossEncoderModel::<Cpu>::init(
        &fused.model_config,
        &Default::default(),
    );
    fused.set_model(other.clone());
    let mut burn2 = burn.clone();
    burn2.set_model(other);
    let c = fused.logits(&pairs).unwrap();
    let d = burn2.logits(&pairs).unwrap();
    assert!(
        a.iter().zip(&c).any(|(x, y)| (x - y).abs() > 1e-4),
        "new weights, new logits"
    );
    for (x, y) in c.iter().zip(&d) {
        assert!(
            (x - y).abs() <= 1e-5,
            "after set_model: fused {x} vs burn {y}"
        );
    }
}

#[test]
fn a_fresh_head_is_the_same_for_the_same_seed_whatever_burn_draws_meanwhile() {
    let pairs = [("uber to the airport", "travel"), ("pizza", "meals")];
    let a = load::<Cpu>(&tiny_bert_dir()).logits(&pairs).unwrap();
    // Burn's process-wide generator moves on; the seeded head must not.
    let _ = retune_trainer::cross::CrossEncoderModel::<Cpu>::init(
        &load::<Cpu>(&tiny_bert_dir()).model_config,
        &Default::default(),
    );
    let b = load::<Cpu>(&tiny_bert_dir()).logits(&pairs).unwrap();
    assert_eq!(a, b);
    let config = CrossEncoderConfig {
        head_seed: 7,
        ..CrossEncoderConfig::new(tiny_bert_dir().to_string_lossy())
    };
    let c = CrossEncoder::<Cpu>::load(&config, &Default::default())
        .unwrap()
        .logits(&pairs)
        .unwrap();
    assert_ne!(a, c, "another seed, another head");
}

/// A listwise trainer of `epochs` epochs on the tiny model.
fn resumable_trainer(epochs: usize) -> CrossTrainer<CpuAutodiff> {
    let mut config = CrossTrainConfig::new(CrossLoss::Listwise, epochs);
    config.lr = 2e-3;
    CrossTrainer::new(load::<CpuAutodiff>(&tiny_bert_dir()), config)
}

/// Scores of the current and of the best weights on a fixed query, to compare runs bit for bit.
fn fingerprint(t: &CrossTrainer<CpuAutodiff>) -> (Vec<f32>, Vec<f32>) {
    let q = "uber to the airport";
    (
        t.encoder.valid().score(q, &CATS).unwrap(),
        t.inference_encoder().score(q, &CATS).unwrap(),
    )
}

#[test]
fn cross_training_resumes_exactly_from_a_checkpoint_and_ignores_a_torn_write() {
    let (groups, val) = (groups(), validation());
    let full_dir = tempfile::tempdir().unwrap();
    let mut full = resumable_trainer(3);
    let full_report = full
        .fit_resumable(
            &groups,
            Some(&val),
            RunFiles {
                checkpoints: Some(full_dir.path()),
                ..RunFiles::default()
            },
        )
        .unwrap();
    let mut kept: Vec<String> = std::fs::read_dir(full_dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    kept.sort();
    assert_eq!(kept, [".retune-output", "checkpoint-002", "checkpoint-003"]);

    // Killed while writing checkpoint 3: checkpoint 2 and a torn `.partial` folder remain.
    let resumed_dir = tempfile::tempdir().unwrap();
    crate::common::copy_checkpoint(full_dir.path(), resumed_dir.path(), "checkpoint-002");
    let torn = resumed_dir.path().join(".checkpoint-003.999.partial");
    std::fs::create_dir(&torn).unwrap();
    std::fs::write(torn.join("model.safetensors"), b"half a file").unwrap();
    let mut resumed = resumable_trainer(3);
    let log = resumed_dir.path().join("log.jsonl");
    let report = resumed
        .fit_resumable(
            &groups,
            Some(&val),
            RunFiles {
                log: Some(&log),
                checkpoints: Some(resumed_dir.path()),
                resume: true,
            },
        )
        .unwrap();
    // It ran only the last epoch (a run from scratch would reach the same weights too): 4
    // steps of 8 groups and one validation pass.
    let rows: Vec<serde_json::Value> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let evals = rows.iter().filter(|r| r.get("eval").is_some()).count();
    assert_eq!((rows.len() - evals, evals), (4, 1), "{rows:?}");
    assert_eq!(report.steps, full_report.steps);
    assert_eq!(report.evals, full_report.evals);
    assert_eq!(report.best, full_report.best);
    let losses = |r: &retune_trainer::train::TrainReport| -> Vec<(usize, f64, f64)> {
        r.log.iter().map(|s| (s.step, s.loss, s.lr)).collect()
    };
    assert_eq!(losses(&report), losses(&full_report));
    assert_eq!(
        fingerprint(&resumed),
        fingerprint(&full),
        "same current and best weights"
    );

    // A resume with other settings is refused.
    let err = resumable_trainer(4)
        .fit_resumable(
            &groups,
            None,
            RunFiles {
                checkpoints: Some(resumed_dir.path()),
                resume: true,
                ..RunFiles::default()
            },
        )
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("other training settings"), "{err}");
}

/// Training on the fused CPU path (the default on CPU) and through Burn's autodiff: the
/// first step's loss and gradient norm agree (same weights, same dropout masks: the fused
/// body's gradients equal autodiff's), later steps stay close, and the trained models score
/// alike.
#[test]
fn cross_training_is_alike_on_both_engines() {
    use retune_trainer::Engine;
    let run = |engine: Engine| {
        let ce = load::<CpuAutodiff>(&tiny_bert_dir())
            .with_engine(engine)
            .unwrap();
        let mut config = CrossTrainConfig::new(CrossLoss::Listwise, 2);
        config.lr = 1e-3;
        config.batch_size = 8;
        let mut t = CrossTrainer::new(ce, config);
        let fused = t.trains_fused();
        let report = t.fit(&groups(), None, None).unwrap();
        let scores = t.inference_encoder().score("uber order 99", &CATS).unwrap();
        (fused, report, scores)
    };
    let (fb, burn, sb) = run(Engine::Burn);
    let (ff, fused, sf) = run(Engine::Fused);
    assert!(!fb && ff, "engines: burn trains fused {fb}, fused {ff}");
    let (b1, f1) = (&burn.log[0], &fused.log[0]);
    assert!(
        (b1.loss - f1.loss).abs() <= 1e-5 * b1.loss,
        "{} vs {}",
        b1.loss,
        f1.loss
    );
    assert!(
        (b1.grad_norm - f1.grad_norm).abs() <= 1e-4 * b1.grad_norm,
        "grad norm {} vs {}",
        b1.grad_norm,
        f1.grad_norm
    );
    assert_eq!(burn.steps, fused.steps);
    crate::common::assert_step_losses_close(&burn.log, &fused.log, 1e-3);
    for (a, b) in sb.iter().zip(&sf) {
        assert!((a - b).abs() <= 1e-3, "scores {sb:?} vs {sf:?}");
    }
}
