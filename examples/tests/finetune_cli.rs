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
