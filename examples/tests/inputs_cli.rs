//! One rule for inputs: an empty queries file or corpus is an error, and an expected label that
//! names no document is an error listing it with its line, unless `--allow-unknown-labels`
//! counts it as a miss and the report says so. A model with a NaN weight is refused before
//! anything is embedded or scored.

use std::path::{Path, PathBuf};

fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(p)
}

/// Two labeled queries; the second's label is in no corpus here.
fn one_unknown_label(dir: &Path) -> PathBuf {
    let path = dir.join("labeled.jsonl");
    std::fs::write(
        &path,
        concat!(
            r#"{"input": "Delta flight to Denver", "expected": ["Airfare"]}"#,
            "\n",
            r#"{"input": "Team lunch", "expected": ["Meals (old name)"]}"#,
            "\n"
        ),
    )
    .unwrap();
    path
}

fn evaluate(queries: &Path, corpus: &Path, extra: &[&str]) -> (bool, String, String) {
    evaluate_model(&repo("fixtures/tiny-bert"), queries, corpus, extra)
}

/// `retune evaluate` of `model`, its cache and runs log in a temporary folder: (success,
/// stdout, stderr).
fn evaluate_model(
    model: &Path,
    queries: &Path,
    corpus: &Path,
    extra: &[&str],
) -> (bool, String, String) {
    let scratch = tempfile::tempdir().unwrap();
    let out = crate::support::retune("evaluate")
        .arg("--cache-dir")
        .arg(scratch.path().join("cache"))
        .arg("--runs-log")
        .arg(scratch.path().join("runs.jsonl"))
        .arg("--queries")
        .arg(queries)
        .arg("--corpus")
        .arg(corpus)
        .arg("--model")
        .arg(model)
        .args(["--resamples", "100"])
        .args(extra)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn empty_inputs_and_unknown_labels_are_refused_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let cats = repo("fixtures/domain/categories.json");
    let empty = dir.path().join("empty.jsonl");
    std::fs::write(&empty, "").unwrap();
    let (ok, _, err) = evaluate(&empty, &cats, &[]);
    assert!(!ok && err.contains("the queries file is empty"), "{err}");

    let queries = one_unknown_label(dir.path());
    let empty_corpus = dir.path().join("corpus.jsonl");
    std::fs::write(&empty_corpus, "").unwrap();
    let (ok, _, err) = evaluate(&queries, &empty_corpus, &[]);
    assert!(!ok && err.contains("the corpus is empty"), "{err}");

    let (ok, _, err) = evaluate(&queries, &cats, &[]);
    assert!(
        !ok && err.contains("1 expected label(s) are not in the corpus")
            && err.contains(r#"line 2 "Meals (old name)""#),
        "{err}"
    );
    let (ok, stdout, err) = evaluate(&queries, &cats, &["--allow-unknown-labels"]);
    assert!(ok, "{err}");
    assert!(
        stdout.contains("count as misses for every system"),
        "{stdout}"
    );
}

/// `finetune` follows the same rule for its training file against `--corpus`.
#[test]
fn finetune_refuses_training_labels_missing_from_its_corpus() {
    let dir = tempfile::tempdir().unwrap();
    let train = one_unknown_label(dir.path());
    let out = crate::support::retune("finetune")
        .arg("--model")
        .arg(repo("fixtures/tiny-bert"))
        .arg("--train")
        .arg(&train)
        .arg("--corpus")
        .arg(repo("fixtures/domain/categories.json"))
        .arg("--output")
        .arg(dir.path().join("model"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains(r#"line 2 "Meals (old name)""#),
        "{err}"
    );
    let empty = dir.path().join("empty.jsonl");
    std::fs::write(&empty, "\n").unwrap();
    let out = crate::support::retune("finetune")
        .arg("--model")
        .arg(repo("fixtures/tiny-bert"))
        .arg("--train")
        .arg(&empty)
        .arg("--output")
        .arg(dir.path().join("model"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("the training file is empty"),
        "{err}"
    );
}

/// A copy of the tiny model with one weight of `tensor` set to NaN.
fn model_with_a_nan(dir: &Path, tensor: &str) -> PathBuf {
    let model = dir.join("nan-model");
    std::fs::create_dir(&model).unwrap();
    for entry in std::fs::read_dir(repo("fixtures/tiny-bert")).unwrap() {
        let from = entry.unwrap().path();
        if from.is_file() {
            std::fs::copy(&from, model.join(from.file_name().unwrap())).unwrap();
        }
    }
    let pooling = model.join("1_Pooling");
    std::fs::create_dir(&pooling).unwrap();
    std::fs::copy(
        repo("fixtures/tiny-bert/1_Pooling/config.json"),
        pooling.join("config.json"),
    )
    .unwrap();
    let path = model.join("model.safetensors");
    let mut bytes = std::fs::read(&path).unwrap();
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + header_len]).unwrap();
    assert_eq!(header[tensor]["dtype"], "F32", "{tensor}");
    let at = 8 + header_len + header[tensor]["data_offsets"][0].as_u64().unwrap() as usize;
    bytes[at..at + 4].copy_from_slice(&f32::NAN.to_le_bytes());
    std::fs::write(&path, bytes).unwrap();
    model
}

#[test]
fn a_model_with_nan_weights_is_refused_by_embed_and_evaluate() {
    let dir = tempfile::tempdir().unwrap();
    let tensor = "encoder.layer.0.attention.self.query.weight";
    let model = model_with_a_nan(dir.path(), tensor);
    let texts = dir.path().join("texts.jsonl");
    std::fs::write(&texts, "{\"text\": \"Delta flight to Denver\"}\n").unwrap();
    let vectors = dir.path().join("vectors.parquet");
    let out = crate::support::retune("embed")
        .arg("--model")
        .arg(&model)
        .arg("--input")
        .arg(&texts)
        .arg("--output")
        .arg(&vectors)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains(tensor) && err.contains("NaN"), "{err}");
    assert!(!vectors.exists(), "embed wrote vectors from a NaN model");

    let queries = dir.path().join("queries.jsonl");
    std::fs::write(
        &queries,
        "{\"input\": \"Delta flight to Denver\", \"expected\": [\"Airfare\"]}\n",
    )
    .unwrap();
    let (ok, _, err) = evaluate_model(
        &model,
        &queries,
        &repo("fixtures/domain/categories.json"),
        &[],
    );
    assert!(!ok, "{err}");
    assert!(err.contains(tensor) && err.contains("NaN"), "{err}");
}
