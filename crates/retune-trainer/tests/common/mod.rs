//! Helpers shared by the integration tests: where the shared reference files are, and
//! comparisons of training runs.

use std::path::PathBuf;

/// The read-only `shared/` folder beside the checkout (or `$RETUNE_SHARED`).
#[allow(dead_code)]
pub fn shared(rel: &str) -> PathBuf {
    let root = std::env::var_os("RETUNE_SHARED").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
        PathBuf::from,
    );
    let p = root.join(rel);
    assert!(
        p.exists(),
        "{} is missing: parity tests need the read-only shared/ folder beside the checkout (or RETUNE_SHARED); they never skip",
        p.display()
    );
    p
}

/// Cosine similarity of two vectors.
#[allow(dead_code)]
pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| f64::from(*x) * f64::from(*y))
        .sum();
    let na: f64 = a.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    dot / (na * nb)
}

/// Largest absolute element-wise difference.
#[allow(dead_code)]
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// sentence-transformers' MiniLM reference: its texts and their embeddings.
#[allow(dead_code)]
pub fn minilm_reference() -> (Vec<String>, Vec<Vec<f32>>) {
    let refs: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(shared("reference/minilm_reference_embeddings.json")).unwrap(),
    )
    .unwrap();
    let texts = refs["texts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_owned())
        .collect();
    let embeddings = refs["embeddings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            e.as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap() as f32)
                .collect()
        })
        .collect();
    (texts, embeddings)
}

/// Copies checkpoint `name` from `from` into `to`; returns its new folder.
pub fn copy_checkpoint(
    from: &std::path::Path,
    to: &std::path::Path,
    name: &str,
) -> std::path::PathBuf {
    let dst = to.join(name);
    std::fs::create_dir(&dst).unwrap();
    for f in std::fs::read_dir(from.join(name)).unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), dst.join(f.file_name())).unwrap();
    }
    dst
}

/// Asserts that two runs logged the same steps with losses within `rel` of each other
/// (relative to the first run's loss, or absolute below 1).
#[allow(dead_code)]
pub fn assert_step_losses_close(
    a: &[retune_trainer::train::StepLog],
    b: &[retune_trainer::train::StepLog],
    rel: f64,
) {
    assert_eq!(a.len(), b.len(), "logged steps");
    for (x, y) in a.iter().zip(b) {
        assert!(
            (x.loss - y.loss).abs() <= rel * x.loss.max(1.0),
            "step {}: loss {} vs {}",
            x.step,
            x.loss,
            y.loss
        );
    }
}
