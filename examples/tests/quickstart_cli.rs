//! The main job and its steps as binaries, run on the project's own domain data with the tiny
//! fixture model (fast): `split`, `evaluate` (outputs, charts, runs log, --compare-last) and
//! `quickstart` end to end.

use std::path::{Path, PathBuf};
use std::process::Output;

fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(p)
}

fn run(step: &str, args: &[&std::ffi::OsStr]) -> Output {
    let out = crate::support::retune(step).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "retune {step} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn lines(p: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn domain_fixture_is_a_reviewed_set_over_its_categories() {
    let items =
        retune_data::read_labeled_inputs(repo("fixtures/domain/transactions.jsonl")).unwrap();
    let cats = retune_data::load_corpus(repo("fixtures/domain/categories.json")).unwrap();
    assert!(items.len() >= 200, "{} transactions", items.len());
    let names: std::collections::BTreeSet<&str> = cats.iter().map(|c| c.text.as_str()).collect();
    for it in &items {
        assert!(names.contains(it.expected[0].as_str()), "{:?}", it.expected);
    }
    // Every category is used, and the same merchant appears under several categories:
    // the set is ambiguous on purpose.
    let used: std::collections::BTreeSet<&str> =
        items.iter().map(|i| i.expected[0].as_str()).collect();
    assert_eq!(used.len(), names.len());
    let merchant = |i: &retune_data::EvalItem| i.input.lines().nth(1).unwrap().to_owned();
    let mut cats_of: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> =
        Default::default();
    for it in &items {
        cats_of
            .entry(merchant(it))
            .or_default()
            .insert(it.expected[0].clone());
    }
    assert!(cats_of.values().filter(|c| c.len() > 1).count() >= 10);
}

#[test]
fn split_is_seeded_stratified_and_leak_free() {
    let dir = tempfile::tempdir().unwrap();
    let (t, e) = (
        dir.path().join("train.jsonl"),
        dir.path().join("eval.jsonl"),
    );
    let data = repo("fixtures/domain/transactions.jsonl");
    let args = [
        "--input".as_ref(),
        data.as_os_str(),
        "--train".as_ref(),
        t.as_os_str(),
        "--eval".as_ref(),
        e.as_os_str(),
        "--eval-ratio".as_ref(),
        "0.2".as_ref(),
        "--stratify".as_ref(),
    ];
    run("split", &args);
    let (train, eval) = (lines(&t), lines(&e));
    assert_eq!(train.len() + eval.len(), 300);
    assert_eq!(eval.len(), 60); // 20 categories x round(15 x 0.2)
    let first = std::fs::read(&e).unwrap();
    run("split", &args);
    assert_eq!(std::fs::read(&e).unwrap(), first, "same seed, same split");
    for item in &eval {
        assert!(!train.contains(item));
    }
    // A bad line is named, and the existing outputs are left as they were.
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(
        &bad,
        "{\"input\":\"a\",\"expected\":[\"X\"]}\n{\"input\":3}\n",
    )
    .unwrap();
    let out = crate::support::retune("split")
        .args(["--input".as_ref(), bad.as_os_str()])
        .args(&args[2..6])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad.jsonl:2: field `input`"));
    assert_eq!(std::fs::read(&e).unwrap(), first);
}

#[test]
fn evaluate_writes_outputs_charts_and_compares_with_the_last_run() {
    let dir = tempfile::tempdir().unwrap();
    let (t, e) = (
        dir.path().join("train.jsonl"),
        dir.path().join("eval.jsonl"),
    );
    let data = repo("fixtures/domain/transactions.jsonl");
    run(
        "split",
        &[
            "--input".as_ref(),
            data.as_os_str(),
            "--train".as_ref(),
            t.as_os_str(),
            "--eval".as_ref(),
            e.as_os_str(),
        ],
    );
    let model = repo("fixtures/tiny-bert");
    let cats = repo("fixtures/domain/categories.json");
    let out_dir = dir.path().join("report");
    let cache = dir.path().join("cache");
    let args = |extra: &[&str]| {
        let mut v: Vec<std::ffi::OsString> = vec![
            "--queries".into(),
            e.clone().into(),
            "--corpus".into(),
            cats.clone().into(),
            "--model".into(),
            model.clone().into(),
            "--model".into(),
            model.clone().into(),
            "--name".into(),
            "tiny".into(),
            "--name".into(),
            "tiny again".into(),
            "--out".into(),
            out_dir.clone().into(),
            "--cache-dir".into(),
            cache.clone().into(),
            "--resamples".into(),
            "200".into(),
        ];
        v.extend(extra.iter().map(Into::into));
        v
    };
    let first = crate::support::retune("evaluate")
        .args(args(&["--json"]))
        .output()
        .unwrap();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&first.stdout).unwrap();
    let systems = json["systems"].as_array().unwrap();
    assert_eq!(systems.len(), 2);
    assert_eq!(systems[1]["name"], "tiny again");
    for m in ["recall@1", "mrr@5", "ndcg@3", "map@5"] {
        let v = systems[0]["metrics"][m].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&v), "{m} = {v}");
        assert_eq!(
            systems[1]["metrics"][m], systems[0]["metrics"][m],
            "same model, same values"
        );
    }
    let c = &json["comparisons"][0]["comparison"];
    assert_eq!(
        (c["improved"].as_u64(), c["worsened"].as_u64()),
        (Some(0), Some(0))
    );
    let on_disk: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("metrics.json")).unwrap())
            .unwrap();
    assert_eq!(on_disk, json);
    let png = std::fs::read(out_dir.join("chart.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let svg = std::fs::read_to_string(out_dir.join("chart.svg")).unwrap();
    for label in ["Recall@k", "MRR@k", "tiny again", "@1", "@5"] {
        assert!(svg.contains(label), "chart.svg lacks {label:?}");
    }
    let csv = std::fs::read_to_string(out_dir.join("per_query.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 2 * 60);
    // The second run appends to the log and reports no change.
    let second = crate::support::retune("evaluate")
        .args(args(&["--compare-last"]))
        .output()
        .unwrap();
    assert!(second.status.success());
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        stderr.contains("changes since the previous run"),
        "{stderr}"
    );
    assert!(
        stderr.contains("no metric of a system in both runs changed"),
        "{stderr}"
    );
    assert!(String::from_utf8_lossy(&second.stdout).contains("| tiny again |"));
    let runs = lines(&out_dir.join("runs.jsonl"));
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[1]["systems"][0][0], "tiny");
}

#[test]
fn quickstart_runs_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("qs");
    let model = repo("fixtures/tiny-bert");
    let res = run(
        "quickstart",
        &[
            "--out".as_ref(),
            out.as_os_str(),
            "--model".as_ref(),
            model.as_os_str(),
            "--epochs".as_ref(),
            "1".as_ref(),
        ],
    );
    let stdout = String::from_utf8_lossy(&res.stdout);
    assert!(stdout.contains("report.md"), "{stdout}");
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(report.contains("| fine-tuned |"), "{report}");
    assert!(report.contains("fine-tuned vs base: recall@1"), "{report}");
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("metrics.json")).unwrap()).unwrap();
    assert_eq!(metrics["systems"][0]["name"], "base");
    assert_eq!(metrics["systems"][1]["name"], "fine-tuned");
    for f in [
        "chart.png",
        "chart.svg",
        "per_query.csv",
        "data/train.jsonl",
        "data/eval.jsonl",
        "data/train_mined.jsonl",
        "model/model.safetensors",
        "model/modules.json",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let mined = lines(&out.join("data/train_mined.jsonl"));
    assert_eq!(mined.len(), 220); // 300 minus 20 categories x round(15 x 0.25)
    for m in &mined {
        assert_ne!(m["negatives"][0], m["positive"]);
    }
}
