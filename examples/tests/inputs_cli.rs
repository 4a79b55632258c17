//! One rule for inputs: an empty queries file or corpus is an error, and an expected label that
//! names no document is an error listing it with its line, unless `--allow-unknown-labels`
//! counts it as a miss and the report says so.

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
        .arg(repo("fixtures/tiny-bert"))
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
