//! `generate` against the mock OpenAI-compatible server: a run killed with SIGKILL mid-way and
//! rerun ends with exactly `--count` unique, whole records; the key never reaches the output.

use retune_data::generate::dedup_key;
use retune_data::{ReadMode, Transaction, read_jsonl};
use retune_providers::mock::{MockOpenAi, MockReply};
use serde_json::json;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The project's own 20 categories.
fn categories() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/domain/categories.json")
}

fn lines(p: &Path) -> usize {
    std::fs::read_to_string(p)
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

#[test]
fn killed_mid_run_then_resumed_ends_with_count_unique_records() {
    let mock = MockOpenAi::start(Arc::new(|n, body| {
        std::thread::sleep(Duration::from_millis(40));
        let prompt = body["messages"][0]["content"].as_str().unwrap_or("");
        let category = prompt.split('"').nth(1).unwrap_or("").to_string();
        MockReply::Content(
            json!({"merchant_name": format!("Vendor {n}"), "merchant_category": ["SaaS"],
                "department": "Engineering", "location": "Austin, TX", "amount": 10.0 + n as f64,
                "spend_program_name": "Annual Software Budget", "trip_name": null,
                "expense_category": category})
            .to_string(),
        )
    }));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("generated.jsonl");
    let run = |count: usize| {
        let mut c = crate::support::retune("generate");
        c.arg("--categories")
            .arg(categories())
            .args(["--count", &count.to_string(), "--concurrency", "2"])
            .args([
                "--base-url",
                &mock.base_url(),
                "--api-key",
                "sk-generate-secret",
            ])
            .arg("--output")
            .arg(&out)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    };
    let mut child = run(60).spawn().unwrap();
    let start = Instant::now();
    while lines(&out) < 10 && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let at_kill = lines(&out);
    assert!((10..60).contains(&at_kill), "{at_kill}");

    let done = run(60).output().unwrap();
    let stderr = String::from_utf8_lossy(&done.stderr);
    assert!(done.status.success(), "{stderr}");
    assert!(stderr.contains("existing"), "{stderr}");
    assert!(!stderr.contains("sk-generate-secret"));
    let (all, bad) = read_jsonl::<Transaction>(&out, ReadMode::Lenient).unwrap();
    assert!(bad.is_empty());
    assert_eq!(all.len(), 60);
    assert_eq!(all.iter().map(dedup_key).collect::<HashSet<_>>().len(), 60);
    // 20 categories: 60 = 20 x 3
    let per: Vec<usize> = {
        let mut m = std::collections::BTreeMap::<&str, usize>::new();
        for t in &all {
            *m.entry(t.expense_category.as_str()).or_default() += 1;
        }
        m.into_values().collect()
    };
    assert_eq!(per.len(), 20);
    assert!(per.iter().all(|&n| n == 3), "{per:?}");
    // a larger count continues; nothing is asked twice beyond requests in flight at the kill
    let more = run(70).output().unwrap();
    assert!(more.status.success());
    assert_eq!(lines(&out), 70);
    assert!(
        mock.chat_requests().len() <= 70 + 2,
        "{}",
        mock.chat_requests().len()
    );
}

/// `retune generate --count COUNT` against `mock` (one re-ask) into `out`: the run and its stderr.
fn generate_once(mock: &MockOpenAi, count: usize, out: &Path) -> (std::process::Output, String) {
    let run = crate::support::retune("generate")
        .arg("--categories")
        .arg(categories())
        .args(["--count", &count.to_string(), "--max-retries", "1"])
        .args(["--base-url", &mock.base_url(), "--api-key", "sk-x"])
        .arg("--output")
        .arg(out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr).into_owned();
    (run, stderr)
}

/// A run in which no answer is valid exits non-zero and says how many records it holds of how
/// many were asked, and why the rest failed.
#[test]
fn a_run_that_writes_fewer_records_than_asked_fails_and_says_why() {
    let mock = MockOpenAi::start(Arc::new(|_, _| {
        MockReply::Content(r#"{"merchant_name": "only a name"}"#.into())
    }));
    let dir = tempfile::tempdir().unwrap();
    let (run, stderr) = generate_once(&mock, 3, &dir.path().join("generated.jsonl"));
    assert!(!run.status.success(), "{stderr}");
    assert!(
        stderr.contains("holds 0 of the 3 records asked for") && stderr.contains("3 invalid"),
        "{stderr}"
    );
}

/// An answer with a terminal escape sequence in a field is invalid (re-asked, never written),
/// and nothing the model wrote reaches the terminal raw.
#[test]
fn escape_sequences_from_the_model_never_reach_the_file_or_the_terminal() {
    let mock = MockOpenAi::start(Arc::new(|_, body| {
        let prompt = body["messages"][0]["content"].as_str().unwrap_or("");
        let category = prompt.split('"').nth(1).unwrap_or("").to_string();
        MockReply::Content(
            json!({"merchant_name": "Evil\u{1b}[2J Corp", "merchant_category": ["SaaS"],
                "department": "Engineering", "location": "Austin, TX", "amount": 10.0,
                "spend_program_name": "Budget", "trip_name": null,
                "expense_category": category})
            .to_string(),
        )
    }));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("generated.jsonl");
    let (run, stderr) = generate_once(&mock, 1, &out);
    assert!(!run.status.success(), "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "{stderr:?}");
    assert!(stderr.contains("control character"), "{stderr}");
    assert_eq!(lines(&out), 0);
}
