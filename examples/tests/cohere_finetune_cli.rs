//! `cohere-finetune` on the project's domain data: `--dry-run` writes and validates the JSONL without
//! a network; a file with too few queries is refused with the rule; the whole flow runs against
//! the mock Cohere (upload, validation, fine-tune, wait, evaluation of retrieval alone vs base
//! rerank vs the fine-tune), and the key never appears in the output.

use retune_data::{CohereRerankItem, ReadMode, read_jsonl};
use retune_providers::mock::{CohereScenario, MockCohere};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The project's domain transactions split 270 train / 30 eval (`split --eval-ratio 0.1`): enough
/// unique training queries for Cohere's minimum of 256. Returns (train, eval).
fn domain_split(dir: &Path) -> (PathBuf, PathBuf) {
    let (train, eval) = (dir.join("train.jsonl"), dir.join("eval.jsonl"));
    let out = crate::support::retune("split")
        .arg("--input")
        .arg(repo("fixtures/domain/transactions.jsonl"))
        .arg("--train")
        .arg(&train)
        .arg("--eval")
        .arg(&eval)
        .args(["--eval-ratio", "0.1"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (train, eval)
}

fn line_count(p: &Path) -> usize {
    std::fs::read_to_string(p).unwrap().lines().count()
}

fn categories() -> PathBuf {
    repo("fixtures/domain/categories.json")
}

fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(p)
}

fn cmd() -> Command {
    let mut c = crate::support::retune("cohere-finetune");
    c.env_remove("CO_API_KEY");
    c
}

#[test]
fn dry_run_writes_two_lines_per_query_and_validates_them() {
    let dir = tempfile::tempdir().unwrap();
    let (train, _) = domain_split(dir.path());
    let out = cmd()
        .arg("--train")
        .arg(&train)
        .arg("--corpus")
        .arg(categories())
        .args(["--name", "domain", "--dry-run", "--out"])
        .arg(dir.path().join("out"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("deprecated"), "{err}");
    let (items, _) =
        read_jsonl::<CohereRerankItem>(dir.path().join("out/cohere-train.jsonl"), ReadMode::Strict)
            .unwrap();
    assert_eq!(items.len(), 2 * line_count(&train));
    for it in &items {
        assert_eq!(it.hard_negatives.len(), 4);
        assert!(!it.hard_negatives.contains(&it.relevant_passages[0]));
    }
    // the two lines of a query have different negatives
    assert_eq!(items[0].query, items[1].query);
    assert_ne!(items[0].hard_negatives, items[1].hard_negatives);
}

#[test]
fn too_few_queries_are_refused_before_any_upload() {
    let dir = tempfile::tempdir().unwrap();
    let (_, small) = domain_split(dir.path());
    assert_eq!(line_count(&small), 30);
    let out = cmd()
        .arg("--train")
        .arg(&small)
        .arg("--corpus")
        .arg(categories())
        .args([
            "--name",
            "small",
            "--base-url",
            "http://127.0.0.1:9",
            "--out",
        ])
        .arg(dir.path().join("out"))
        .env("CO_API_KEY", "k")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("30 unique queries; Cohere needs at least 256"),
        "{err}"
    );
    assert!(err.contains("nothing uploaded"), "{err}");
}

#[test]
fn the_whole_flow_against_the_mock_cohere() {
    let mock = MockCohere::start(CohereScenario {
        api_key: "co-secret-key-xyz".into(),
        ..CohereScenario::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let (train, eval) = domain_split(dir.path());
    let out = cmd()
        .arg("--train")
        .arg(&train)
        .arg("--corpus")
        .arg(categories())
        .arg("--eval")
        .arg(&eval)
        .arg("--retriever")
        .arg(repo("fixtures/tiny-bert"))
        .args(["--name", "rerank-domain", "--poll-seconds", "0.01"])
        .args(["--base-url", &mock.base_url(), "--out"])
        .arg(dir.path().join("out"))
        .arg("--cache-dir")
        .arg(dir.path().join("cache"))
        .env("CO_API_KEY", "co-secret-key-xyz")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    for line in [
        "STATUS_FINETUNING",
        "STATUS_DEPLOYING_API",
        "STATUS_READY",
        "dataset validated",
    ] {
        assert!(stderr.contains(line), "{line} missing from:\n{stderr}");
    }
    assert!(stdout.contains("fine-tuned re-ranker ready"), "{stdout}");
    assert!(stdout.contains("(retrieval alone)"), "{stdout}");
    assert!(
        stdout.contains("+ base rerank (rerank-english-v3.0)"),
        "{stdout}"
    );
    assert!(stdout.contains("+ fine-tuned rerank ("), "{stdout}");
    assert!(!stdout.contains("co-secret") && !stderr.contains("co-secret"));
    assert_eq!(mock.count("POST", "/v1/datasets"), 1);
    assert_eq!(mock.count("POST", "/v1/finetuning/finetuned-models"), 1);
    // every eval query, re-ranked by both models
    assert_eq!(mock.count("POST", "/v2/rerank"), 2 * line_count(&eval));
    let record: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("out/finetune.json")).unwrap(),
    )
    .unwrap();
    assert!(record["rerank_model"].as_str().unwrap().ends_with("-ft"));
    assert!(dir.path().join("out/eval/metrics.json").exists());
}

#[test]
fn evaluate_reranks_with_cohere_through_the_same_contract() {
    let mock = MockCohere::start(CohereScenario {
        api_key: "co-eval-key".into(),
        ..CohereScenario::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let (_, eval) = domain_split(dir.path());
    let out = crate::support::retune("evaluate")
        .arg("--queries")
        .arg(&eval)
        .arg("--corpus")
        .arg(categories())
        .arg("--model")
        .arg(repo("fixtures/tiny-bert"))
        .args([
            "--name",
            "tiny",
            "--reranker",
            "cohere:rerank-english-v3.0",
            "--top",
            "10",
        ])
        .args(["--cohere-base-url", &mock.base_url(), "--resamples", "200"])
        .arg("--cache-dir")
        .arg(dir.path().join("cache"))
        .arg("--runs-log")
        .arg(dir.path().join("runs.jsonl"))
        .env("CO_API_KEY", "co-eval-key")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("| tiny + cohere:rerank-english-v3.0 |"),
        "{stdout}"
    );
    assert_eq!(mock.count("POST", "/v2/rerank"), line_count(&eval));
}
