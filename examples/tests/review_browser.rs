//! The review page in a real headless browser (Debian's chromium driven by playwright-core;
//! `scripts/install-browser.sh` installs both, and this test runs it when they are missing):
//! a merchant name of `<img src=x onerror=alert(1)>` is shown as text and nothing runs;
//! Ctrl+E approves (checked in `cleaned.jsonl`), Ctrl+R skips, and an invalid edit is refused
//! with a message.

use crate::support;

use retune_data::{ReadMode, Transaction, read_jsonl, write_jsonl_atomic};
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn ensure_browser() {
    let e2e = repo().join("examples/tests/e2e");
    if Path::new("/usr/bin/chromium").exists() && e2e.join("node_modules/playwright-core").exists()
    {
        return;
    }
    let st = Command::new(repo().join("scripts/install-browser.sh"))
        .status()
        .expect("scripts/install-browser.sh runs");
    assert!(
        st.success(),
        "scripts/install-browser.sh failed: the browser test needs chromium and playwright-core"
    );
}

#[test]
fn untrusted_text_stays_text_and_hotkeys_decide() {
    ensure_browser();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("generated.jsonl");
    let output = dir.path().join("cleaned.jsonl");
    let evil = "<img src=x onerror=alert(1)>";
    let mk = |name: &str, amount: f64| Transaction {
        merchant_name: name.into(),
        merchant_category: vec!["<script>alert(2)</script>".into()],
        department: "Engineering".into(),
        location: "Austin, TX".into(),
        amount,
        spend_program_name: "Annual Software Budget\"><svg onload=alert(3)>".into(),
        trip_name: None,
        expense_category: "Software Subscriptions".into(),
    };
    let items = vec![mk(evil, 12.5), mk("Second", 20.0), mk("Third", 30.0)];
    write_jsonl_atomic(&input, &items).unwrap();
    let cats = repo().join("fixtures/domain/categories.json");
    let server = support::start(&input, &output, Some(&cats));
    let out = Command::new("node")
        .arg(repo().join("examples/tests/e2e/review.mjs"))
        .arg(format!("{}/", server.url))
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: serde_json::Value = serde_json::from_str(stdout.trim().lines().last().unwrap()).unwrap();
    assert_eq!(r["merchantValue"], evil, "{r}");
    assert_eq!(r["imgCount"], 0, "{r}");
    assert_eq!(r["queueFirst"], format!("#1 {evil}"), "{r}");
    assert_eq!(r["dialogsAtEnd"], 0, "{r}");
    assert!(
        r["afterApprove"]
            .as_str()
            .unwrap()
            .starts_with("1 / 3 decided (1 approved"),
        "{r}"
    );
    assert!(
        r["afterSkip"]
            .as_str()
            .unwrap()
            .starts_with("2 / 3 decided (1 approved, 1 skipped)"),
        "{r}"
    );
    assert!(
        r["invalidMessage"].as_str().unwrap().contains("amount"),
        "{r}"
    );
    assert!(
        r["afterInvalid"].as_str().unwrap().starts_with("2 / 3"),
        "{r}"
    );
    let (cleaned, _) = read_jsonl::<Transaction>(&output, ReadMode::Strict).unwrap();
    assert_eq!(cleaned, vec![items[0].clone()]);
}
