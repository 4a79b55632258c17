//! `finetune --push-to-hub` checks what publishing needs before it trains: without a token it
//! stops at once, says which variable to set, and writes nothing.

use std::process::Command;

#[test]
fn push_to_hub_without_a_token_fails_before_training() {
    let out_dir = tempfile::tempdir().unwrap();
    let output = out_dir.path().join("model");
    let run = Command::new(env!("CARGO_BIN_EXE_finetune"))
        .args([
            "--model",
            "does-not-matter",
            "--train",
            "no-such-file.jsonl",
            "--output",
        ])
        .arg(&output)
        .args(["--push-to-hub", "me/tuned", "--private"])
        .env_remove("HF_TOKEN")
        .env("HF_HUB_OFFLINE", "1")
        .output()
        .unwrap();
    assert!(!run.status.success());
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("HF_TOKEN") && stderr.contains("me/tuned"),
        "{stderr}"
    );
    assert!(!output.exists(), "nothing written");
    let bad_id = Command::new(env!("CARGO_BIN_EXE_finetune"))
        .args(["--model", "m", "--train", "t.jsonl", "--output"])
        .arg(&output)
        .args(["--push-to-hub", "no-owner"])
        .env("HF_TOKEN", "hf_dummy_for_the_check")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&bad_id.stderr);
    assert!(
        !bad_id.status.success() && stderr.contains("owner/name"),
        "{stderr}"
    );
    assert!(!stderr.contains("hf_dummy_for_the_check"), "{stderr}");
}

/// On course-format transactions with a categories corpus (corpus negatives on), `finetune`
/// adds field-dropout copies of the training queries by default, says so, and writes it into
/// the model card; `--field-dropout false` trains on the rows alone.
#[test]
fn field_dropout_copies_reach_training_and_the_model_card() {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = tempfile::tempdir().unwrap();
    let train = dir.path().join("train.jsonl");
    let split = Command::new(env!("CARGO_BIN_EXE_split"))
        .arg("--input")
        .arg(repo.join("fixtures/domain/transactions.jsonl"))
        .arg("--train")
        .arg(&train)
        .arg("--eval")
        .arg(dir.path().join("eval.jsonl"))
        .args(["--eval-ratio", "0.8"])
        .output()
        .unwrap();
    assert!(
        split.status.success(),
        "{}",
        String::from_utf8_lossy(&split.stderr)
    );
    let rows = std::fs::read_to_string(&train).unwrap().lines().count();
    let run = |name: &str, extra: &[&str]| {
        let output = dir.path().join(name);
        let run = Command::new(env!("CARGO_BIN_EXE_finetune"))
            .arg("--model")
            .arg(repo.join("fixtures/tiny-bert"))
            .arg("--train")
            .arg(&train)
            .arg("--corpus")
            .arg(repo.join("fixtures/domain/categories.json"))
            .arg("--output")
            .arg(&output)
            .args(["--epochs", "1", "--checkpoints", "false"])
            .args(["--train-on-samples", "false"])
            .args(extra)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&run.stderr).into_owned();
        assert!(run.status.success(), "{stderr}");
        let card = std::fs::read_to_string(output.join("README.md")).unwrap();
        (stderr, card)
    };
    let (stderr, card) = run("with", &["--field-dropout-copies", "3"]);
    let trained = rows - (rows as f64 * 0.2).round() as usize;
    let line = format!("training also on {} field-dropout copies", 3 * trained);
    assert!(stderr.contains(&line), "{line} in {stderr}");
    assert!(
        card.contains(&format!("{} field-dropout copies", 3 * trained)),
        "{card}"
    );
    let steps = |stderr: &str| -> usize {
        let at = stderr.find("trained ").expect("a training summary") + "trained ".len();
        stderr[at..].split(' ').next().unwrap().parse().unwrap()
    };
    let with = steps(&stderr);
    let (stderr, card) = run("without", &["--field-dropout", "false"]);
    assert!(!stderr.contains("field-dropout"), "{stderr}");
    let without = steps(&stderr);
    assert!(
        with >= 3 * without,
        "the copies are trained on: {with} steps against {without}"
    );
    assert!(!card.contains("field-dropout"), "{card}");
}
