//! Training on the tiny fixture model: the loss goes down, the same seed gives the same
//! weights, and an exported model reloads to identical embeddings in the sentence-transformers
//! layout (file set, tensor names, dtypes, `format: pt` metadata).

use crate::common;

use common::max_abs_diff;
use retune_trainer::backend::{Cpu, CpuAutodiff, cpu_device};
use retune_trainer::export::save_sentence_transformer;
use retune_trainer::fixture::tiny_bert_dir;
use retune_trainer::loss::LossConfig;
use retune_trainer::train::{RunFiles, SamplerKind, TrainConfig, TrainExample, Trainer};
use retune_trainer::{EncoderConfig, SentenceEncoder};

fn examples() -> Vec<TrainExample> {
    let cats = [
        "travel",
        "meals",
        "software",
        "office supplies",
        "cloud hosting",
    ];
    (0..30)
        .map(|i| TrainExample {
            anchor: format!(
                "{} {} amount {}",
                ["uber", "delta", "adobe", "zoom", "amazon"][i % 5],
                cats[i % 5],
                i
            ),
            positive: cats[i % 5].to_owned(),
            negatives: vec![],
            label: (i % 5) as i64,
        })
        .collect()
}

fn train(
    loss: LossConfig,
    epochs: usize,
    seed: u64,
) -> (Trainer<CpuAutodiff>, retune_trainer::train::TrainReport) {
    let enc = SentenceEncoder::<CpuAutodiff>::load(
        &EncoderConfig::new(tiny_bert_dir().to_str().unwrap()),
        &cpu_device(),
    )
    .unwrap();
    let mut config = TrainConfig::new(loss, epochs);
    config.batch_size = 8;
    config.lr = 1e-3;
    config.seed = seed;
    let mut t = Trainer::new(enc, config);
    let report = t.fit(&examples(), None, None).unwrap();
    (t, report)
}

fn weights(t: &Trainer<CpuAutodiff>) -> Vec<Vec<f32>> {
    t.inference_encoder()
        .encode(&["uber travel", "adobe software", "office supplies"])
        .unwrap()
}

#[test]
fn loss_goes_down_and_runs_are_deterministic() {
    for loss in [
        LossConfig::Mnrl {
            scale: 20.0,
            symmetric: false,
        },
        LossConfig::BatchSemiHard { margin: 1.0 },
    ] {
        let (t, report) = train(loss, 8, 1);
        let first: f64 = report.log[..3].iter().map(|s| s.loss).sum::<f64>() / 3.0;
        let n = report.log.len();
        let last: f64 = report.log[n - 3..].iter().map(|s| s.loss).sum::<f64>() / 3.0;
        assert!(last < first, "{loss:?}: loss {first} -> {last}");
        let (again, _) = train(loss, 8, 1);
        assert_eq!(
            weights(&t),
            weights(&again),
            "{loss:?}: same seed, same weights"
        );
        let (other, _) = train(loss, 8, 2);
        assert_ne!(
            weights(&t),
            weights(&other),
            "{loss:?}: another seed differs"
        );
    }
}

#[test]
fn exported_model_reloads_to_identical_embeddings() {
    let (t, _) = train(
        LossConfig::Mnrl {
            scale: 20.0,
            symmetric: true,
        },
        2,
        0,
    );
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("model");
    let trained = t.inference_encoder();
    save_sentence_transformer(&trained, &out, "# card\n").unwrap();
    for f in [
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "vocab.txt",
        "modules.json",
        "1_Pooling/config.json",
        "sentence_bert_config.json",
        "config_sentence_transformers.json",
        "README.md",
    ] {
        assert!(out.join(f).exists(), "{f} missing from the export");
    }
    let reloaded =
        SentenceEncoder::<Cpu>::load(&EncoderConfig::new(out.to_str().unwrap()), &cpu_device())
            .unwrap();
    let texts = ["uber travel", "zoom software subscription"];
    let (a, b) = (
        trained.encode(&texts).unwrap(),
        reloaded.encode(&texts).unwrap(),
    );
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(max_abs_diff(x, y), 0.0);
    }
    // What transformers checks when it loads the weights.
    let bytes = std::fs::read(out.join("model.safetensors")).unwrap();
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    assert_eq!(meta.metadata().as_ref().unwrap()["format"], "pt");
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let names = st.names();
    assert!(
        names.contains(&"encoder.layer.1.output.LayerNorm.weight")
            && names.contains(&"pooler.dense.weight")
    );
    assert!(
        st.tensors()
            .iter()
            .all(|(_, v)| v.dtype() == safetensors::Dtype::F32)
    );
    assert_eq!(
        st.tensor("encoder.layer.0.intermediate.dense.weight")
            .unwrap()
            .shape(),
        &[64, 32]
    );
    let modules: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("modules.json")).unwrap()).unwrap();
    assert_eq!(modules[2]["type"], "sentence_transformers.models.Normalize");
}

fn trainer(epochs: usize, accum: usize) -> Trainer<CpuAutodiff> {
    let enc = SentenceEncoder::<CpuAutodiff>::load(
        &EncoderConfig::new(tiny_bert_dir().to_str().unwrap()),
        &cpu_device(),
    )
    .unwrap();
    let mut config = TrainConfig::new(
        LossConfig::Mnrl {
            scale: 20.0,
            symmetric: true,
        },
        epochs,
    );
    config.batch_size = 4;
    config.lr = 1e-3;
    config.grad_accumulation = accum;
    Trainer::new(enc, config)
}

fn eval_set() -> retune_trainer::train::EvalSet {
    retune_trainer::train::EvalSet {
        queries: examples()[..10]
            .iter()
            .map(|e| retune_data::EvalItem {
                input: e.anchor.clone(),
                expected: vec![e.positive.clone()],
            })
            .collect(),
        corpus: [
            "travel",
            "meals",
            "software",
            "office supplies",
            "cloud hosting",
        ]
        .iter()
        .map(|t| retune_data::CorpusDoc {
            id: None,
            text: (*t).into(),
        })
        .collect(),
    }
}

/// Resumes `t` from the newest checkpoint in `dir`.
fn resume(
    t: &mut Trainer<CpuAutodiff>,
    train_set: &[TrainExample],
    eval: &retune_trainer::train::EvalSet,
    dir: &std::path::Path,
) -> retune_trainer::train::TrainReport {
    t.fit_resumable(
        train_set,
        Some(eval),
        RunFiles {
            checkpoints: Some(dir),
            resume: true,
            ..RunFiles::default()
        },
    )
    .unwrap()
}

#[test]
fn resuming_from_a_checkpoint_is_exact_and_ignores_a_torn_write() {
    let train_set = examples();
    let eval = eval_set();
    let full_dir = tempfile::tempdir().unwrap();
    let mut full = trainer(3, 2);
    let full_report = full
        .fit_resumable(
            &train_set,
            Some(&eval),
            RunFiles {
                checkpoints: Some(full_dir.path()),
                ..RunFiles::default()
            },
        )
        .unwrap();
    // Only the two newest checkpoints are kept.
    let mut kept: Vec<String> = std::fs::read_dir(full_dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    kept.sort();
    assert_eq!(kept, [".retune-output", "checkpoint-002", "checkpoint-003"]);

    // A run killed after epoch 2, while writing checkpoint 3: its folder holds checkpoint 2
    // and a torn `.partial` folder.
    let resumed_dir = tempfile::tempdir().unwrap();
    common::copy_checkpoint(full_dir.path(), resumed_dir.path(), "checkpoint-002");
    let torn = resumed_dir.path().join(".checkpoint-003.999.partial");
    std::fs::create_dir(&torn).unwrap();
    std::fs::write(torn.join("model.safetensors"), b"half a file").unwrap();
    let mut resumed = trainer(3, 2);
    let log = resumed_dir.path().join("log.jsonl");
    let report = resumed
        .fit_resumable(
            &train_set,
            Some(&eval),
            RunFiles {
                log: Some(&log),
                checkpoints: Some(resumed_dir.path()),
                resume: true,
            },
        )
        .unwrap();
    // It ran only the last epoch (from scratch it would reach the same weights too).
    let last_epoch = full_report.log.iter().filter(|s| s.epoch == 2).count();
    let rows = std::fs::read_to_string(&log).unwrap();
    let evals = rows.lines().filter(|l| l.contains("\"eval\"")).count();
    assert_eq!((rows.lines().count() - evals, evals), (last_epoch, 1));
    assert_eq!(report.steps, full_report.steps);
    assert_eq!(report.log.len(), full_report.log.len());
    assert_eq!(report.evals.len(), full_report.evals.len());
    assert_eq!(report.best, full_report.best);
    for (a, b) in report.log.iter().zip(&full_report.log) {
        assert_eq!((a.step, a.loss, a.lr), (b.step, b.loss, b.lr));
    }
    assert_eq!(
        weights(&resumed),
        weights(&full),
        "resumed run ends on the same weights"
    );

    // Other settings are refused instead of silently mixing runs.
    let mut other = trainer(4, 2);
    let err = other
        .fit_resumable(
            &train_set,
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

    // Other training data is refused too, naming the checkpoint's state file.
    let mut changed = train_set.clone();
    changed[0].anchor.push_str(" (edited)");
    let mut same_settings = trainer(3, 2);
    let err = same_settings
        .fit_resumable(
            &changed,
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
    assert!(
        err.contains("other data") && err.contains("state.json"),
        "{err}"
    );
}

/// A resumed run's log ends as the uninterrupted run's: the rows a killed run wrote after its
/// last checkpoint are dropped before the resumed steps are logged again.
#[test]
fn a_resumed_run_logs_each_step_once() {
    let train_set = examples();
    let eval = eval_set();
    let dir = tempfile::tempdir().unwrap();
    let full_log = dir.path().join("full.jsonl");
    let full_ck = dir.path().join("full");
    trainer(3, 2)
        .fit_resumable(
            &train_set,
            Some(&eval),
            RunFiles {
                log: Some(&full_log),
                checkpoints: Some(&full_ck),
                ..RunFiles::default()
            },
        )
        .unwrap();
    // Killed after its last epoch was logged but before its checkpoint was written.
    let killed_ck = dir.path().join("killed");
    std::fs::create_dir(&killed_ck).unwrap();
    common::copy_checkpoint(&full_ck, &killed_ck, "checkpoint-002");
    let killed_log = dir.path().join("killed.jsonl");
    std::fs::copy(&full_log, &killed_log).unwrap();
    trainer(3, 2)
        .fit_resumable(
            &train_set,
            Some(&eval),
            RunFiles {
                log: Some(&killed_log),
                checkpoints: Some(&killed_ck),
                resume: true,
            },
        )
        .unwrap();
    let steps = |p: &std::path::Path| -> Vec<u64> {
        std::fs::read_to_string(p)
            .unwrap()
            .lines()
            .filter(|l| l.contains("\"loss\""))
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["step"]
                    .as_u64()
                    .unwrap()
            })
            .collect()
    };
    assert_eq!(steps(&killed_log), steps(&full_log));
}

#[test]
fn gradient_accumulation_matches_one_large_batch_in_step_count_and_learns() {
    // Two batches of 4 accumulated make one optimizer step per 8 examples.
    let train_set = examples();
    let mut single = trainer(1, 1);
    let r1 = single.fit(&train_set, None, None).unwrap();
    let mut accum = trainer(1, 2);
    let r2 = accum.fit(&train_set, None, None).unwrap();
    assert_eq!(r2.steps, r1.steps.div_ceil(2));
    assert!(
        r2.log
            .iter()
            .all(|s| s.loss.is_finite() && s.grad_norm > 0.0)
    );
}

#[test]
fn corpus_negatives_train_full_batches_and_need_plain_mnrl() {
    let corpus = [
        "travel",
        "meals",
        "software",
        "office supplies",
        "cloud hosting",
        "legal fees",
    ];
    let load = || {
        SentenceEncoder::<CpuAutodiff>::load(
            &EncoderConfig::new(tiny_bert_dir().to_str().unwrap()),
            &cpu_device(),
        )
        .unwrap()
    };
    let mnrl = LossConfig::Mnrl {
        scale: 20.0,
        symmetric: true,
    };
    let mut config = TrainConfig::new(mnrl, 8);
    config.batch_size = 8;
    config.lr = 1e-3;
    config.sampler = SamplerKind::Shuffled;
    config.shared_negatives = corpus.iter().map(|s| s.to_string()).collect();
    let mut t = Trainer::new(load(), config.clone());
    let report = t.fit(&examples(), None, None).unwrap();
    // 30 examples in shuffled batches of 8: 4 steps per epoch, though only 5 positives exist
    // (NO_DUPLICATES would allow batches of 5 at most).
    assert_eq!(report.steps, 8 * 4);
    let first: f64 = report.log[..4].iter().map(|s| s.loss).sum::<f64>() / 4.0;
    let last: f64 = report.log[report.steps - 4..]
        .iter()
        .map(|s| s.loss)
        .sum::<f64>()
        / 4.0;
    assert!(last < first, "loss {first} -> {last}");
    let mut again = Trainer::new(load(), config.clone());
    again.fit(&examples(), None, None).unwrap();
    assert_eq!(weights(&t), weights(&again), "same seed, same weights");
    let mut cached = config;
    cached.loss = LossConfig::CachedMnrl {
        scale: 20.0,
        symmetric: true,
        mini_batch: 4,
    };
    let err = Trainer::new(load(), cached)
        .fit(&examples(), None, None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("shared_negatives"), "{err}");
}

/// Every tensor of a safetensors file as f32 values.
fn tensors(path: &std::path::Path) -> std::collections::BTreeMap<String, Vec<f32>> {
    let bytes = std::fs::read(path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    st.tensors()
        .into_iter()
        .map(|(name, view)| {
            let v = view
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            (name, v)
        })
        .collect()
}

#[test]
fn weight_average_of_the_last_epochs_is_the_result_and_resumes_exactly() {
    let train_set = examples();
    let eval = eval_set();
    let averaged = |epochs: usize| {
        let mut t = trainer(epochs, 1);
        t.config.average_last_epochs = 2;
        t
    };
    let full_dir = tempfile::tempdir().unwrap();
    let mut full = averaged(3);
    let full_report = full
        .fit_resumable(
            &train_set,
            Some(&eval),
            RunFiles {
                checkpoints: Some(full_dir.path()),
                ..RunFiles::default()
            },
        )
        .unwrap();
    let (count, result) = full_report.average.clone().expect("an averaged validation");
    assert_eq!(count, 2);
    assert!(result.contains_key("mrr@10"));

    // The saved mean is the mean of the weights after epochs 2 and 3.
    let ck = |n: &str, f: &str| tensors(&full_dir.path().join(n).join(f));
    let (two, three) = (
        ck("checkpoint-002", "model.safetensors"),
        ck("checkpoint-003", "model.safetensors"),
    );
    let mean = ck("checkpoint-003", "average.safetensors");
    assert_eq!(mean.len(), three.len());
    let mut moved = 0.0f32;
    for (name, m) in &mean {
        for (i, &x) in m.iter().enumerate() {
            let want = (two[name][i] + three[name][i]) / 2.0;
            assert!((x - want).abs() <= 1e-6 * (1.0 + want.abs()), "{name}[{i}]");
            moved = moved.max((x - three[name][i]).abs());
        }
    }
    assert!(moved > 1e-5, "the mean differs from the last weights");

    // The result is the mean, not the last or the best epoch.
    let mut plain = trainer(3, 1);
    plain.fit(&train_set, None, None).unwrap();
    let flat = |w: Vec<Vec<f32>>| w.concat();
    assert!(max_abs_diff(&flat(weights(&full)), &flat(weights(&plain))) > 1e-5);

    // Resumed from epoch 2 (whose checkpoint holds a mean of one), it ends on the same mean.
    let resumed_dir = tempfile::tempdir().unwrap();
    let dst = common::copy_checkpoint(full_dir.path(), resumed_dir.path(), "checkpoint-002");
    assert!(dst.join("average.safetensors").is_file());
    let mut resumed = averaged(3);
    let report = resume(&mut resumed, &train_set, &eval, resumed_dir.path());
    assert_eq!(report.average, full_report.average);
    assert_eq!(weights(&resumed), weights(&full));
}

/// How far each tensor of a trained model moved from the fixture's weights (max |difference|).
fn movement(t: &Trainer<CpuAutodiff>) -> std::collections::BTreeMap<String, f32> {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("model");
    save_sentence_transformer(&t.inference_encoder(), &out, "# card\n").unwrap();
    let (after, before) = (
        tensors(&out.join("model.safetensors")),
        tensors(&tiny_bert_dir().join("model.safetensors")),
    );
    after
        .iter()
        .map(|(name, a)| (name.clone(), max_abs_diff(a, &before[name])))
        .collect()
}

#[test]
fn layer_lr_decay_slows_the_lower_layers_and_rejects_bad_factors() {
    let run = |decay: f64| {
        let mut t = trainer(1, 1);
        t.config.layer_lr_decay = decay;
        t.fit(&examples(), None, None).map(|_| movement(&t))
    };
    let (plain, decayed) = (run(1.0).unwrap(), run(0.01).unwrap());
    let top = "encoder.layer.1.attention.self.query.weight";
    let (low, emb) = (
        "encoder.layer.0.attention.self.query.weight",
        "embeddings.word_embeddings.weight",
    );
    // The top layer trains at the full rate either way; below it, 1/100 and 1/10,000.
    assert!(
        decayed[top] > 0.3 * plain[top],
        "{} vs {}",
        decayed[top],
        plain[top]
    );
    assert!(plain[low] > 0.0 && plain[emb] > 0.0);
    assert!(
        decayed[low] < 0.05 * plain[low],
        "{} vs {}",
        decayed[low],
        plain[low]
    );
    assert!(
        decayed[emb] < 0.001 * plain[emb],
        "{} vs {}",
        decayed[emb],
        plain[emb]
    );
    for bad in [0.0, -0.5, 1.5, f64::NAN] {
        let err = run(bad).unwrap_err().to_string();
        assert!(err.contains("layer_lr_decay"), "{err}");
    }
}

#[test]
fn a_run_stopped_early_is_the_head_of_the_full_schedule() {
    let train_set = examples();
    let full_dir = tempfile::tempdir().unwrap();
    let mut full = trainer(3, 1);
    let full_report = full
        .fit_resumable(
            &train_set,
            None,
            RunFiles {
                checkpoints: Some(full_dir.path()),
                ..RunFiles::default()
            },
        )
        .unwrap();
    // Stop where epoch 2 ends: the same steps, learning rates and losses as the full run's
    // first two epochs (not a two-epoch schedule), ending on its weights after epoch 2.
    let head = full_report.log.iter().filter(|s| s.epoch < 2).count();
    let ends = full.epoch_ends(&train_set);
    assert_eq!((ends[1], ends[2]), (head, full_report.steps));
    let mut stopped = trainer(3, 1);
    stopped.config.stop_at_step = head;
    let report = stopped.fit(&train_set, None, None).unwrap();
    assert_eq!(report.steps, head);
    for (a, b) in report.log.iter().zip(&full_report.log) {
        assert_eq!(
            (a.step, a.epoch, a.loss, a.lr),
            (b.step, b.epoch, b.loss, b.lr)
        );
    }
    let two = tensors(&full_dir.path().join("checkpoint-002/model.safetensors"));
    let out = tempfile::tempdir().unwrap();
    let saved = out.path().join("model");
    save_sentence_transformer(&stopped.inference_encoder(), &saved, "# card\n").unwrap();
    assert_eq!(tensors(&saved.join("model.safetensors")), two);
    let mut two_epochs = trainer(2, 1);
    let short = two_epochs.fit(&train_set, None, None).unwrap();
    assert_ne!(
        short.log[head - 1].lr,
        report.log[head - 1].lr,
        "the 3-epoch schedule"
    );

    // Stopping mid-epoch, and a stop that cannot be combined with averaging.
    let mut mid = trainer(3, 1);
    mid.config.stop_at_step = 3;
    assert_eq!(mid.fit(&train_set, None, None).unwrap().steps, 3);
    let mut both = trainer(3, 1);
    both.config.stop_at_step = 3;
    both.config.average_last_epochs = 1;
    let err = both.fit(&train_set, None, None).unwrap_err().to_string();
    assert!(err.contains("stop_at_step"), "{err}");
}
