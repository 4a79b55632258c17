//! A run that diverges stops at the step where its loss or gradient norm stops being finite,
//! with that step and value and a hint; no non-finite weights are ever written, and a
//! checkpoint with them is refused on load.

use retune_trainer::backend::{CpuAutodiff, cpu_device};
use retune_trainer::fixture::tiny_bert_dir;
use retune_trainer::loss::LossConfig;
use retune_trainer::train::{RunFiles, TrainConfig, TrainExample, Trainer};
use retune_trainer::{EncoderConfig, SentenceEncoder, TrainerError};

fn examples() -> Vec<TrainExample> {
    (0..24)
        .map(|i| TrainExample {
            anchor: format!("{} charge {i}", ["uber", "delta", "adobe", "zoom"][i % 4]),
            positive: ["travel", "airfare", "software", "meetings"][i % 4].to_owned(),
            negatives: vec![],
            label: (i % 4) as i64,
        })
        .collect()
}

#[test]
fn an_absurd_learning_rate_stops_the_run_at_the_first_non_finite_step() {
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
        20,
    );
    config.batch_size = 4;
    config.lr = 5e5;
    config.warmup_ratio = 0.0;
    config.max_grad_norm = f64::INFINITY;
    let ckpt = tempfile::tempdir().unwrap();
    let mut t = Trainer::new(enc, config);
    let err = t
        .fit_resumable(
            &examples(),
            None,
            RunFiles {
                checkpoints: Some(ckpt.path()),
                ..RunFiles::default()
            },
        )
        .expect_err("the run diverges");
    let TrainerError::Diverged { step, value, .. } = &err else {
        panic!("{err}");
    };
    assert!(*step >= 1 && !value.is_finite(), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("learning rate") && text.contains("5e5"),
        "{text}"
    );
    // Every checkpoint written before the divergence holds finite weights.
    for entry in std::fs::read_dir(ckpt.path()).unwrap() {
        let path = entry.unwrap().path().join("model.safetensors");
        if path.is_file() {
            let bytes = std::fs::read(&path).unwrap();
            let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
            for (name, view) in st.tensors() {
                assert!(
                    view.data()
                        .chunks_exact(4)
                        .all(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]).is_finite()),
                    "{}: {name}",
                    path.display()
                );
            }
        }
    }
}

#[test]
fn a_checkpoint_with_nan_weights_is_refused_on_load() {
    let dir = crate::common::tiny_bert_copy();
    let path = dir.path().join("model.safetensors");
    let mut bytes = std::fs::read(&path).unwrap();
    let (name, offset) = {
        let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let (name, view) = st
            .tensors()
            .into_iter()
            .find(|(n, _)| n.ends_with("query.weight"))
            .unwrap();
        let offset = view.data().as_ptr() as usize - bytes.as_ptr() as usize;
        (name, offset)
    };
    bytes[offset..offset + 4].copy_from_slice(&f32::NAN.to_le_bytes());
    std::fs::write(&path, &bytes).unwrap();
    let Err(err) = SentenceEncoder::<CpuAutodiff>::load(
        &EncoderConfig::new(dir.path().to_str().unwrap()),
        &cpu_device(),
    ) else {
        panic!("a model with a NaN weight loaded");
    };
    let err = err.to_string();
    assert!(
        err.contains(&name) && err.contains("NaN or infinite"),
        "{err}"
    );
}
