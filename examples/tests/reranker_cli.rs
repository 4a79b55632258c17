//! `finetune-reranker` and `evaluate --reranker` on the tiny fixture model and the project's
//! domain data: a re-ranker is trained, saved in the cross-encoder layout, resumed from its
//! checkpoint, and every model appears in the evaluation alone and then re-ranked.

use std::path::{Path, PathBuf};

fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(p)
}

#[test]
fn finetune_reranker_then_evaluate_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let (train, eval) = (
        dir.path().join("train.jsonl"),
        dir.path().join("eval.jsonl"),
    );
    let data = repo("fixtures/domain/transactions.jsonl");
    let split = crate::support::retune("split")
        .args([
            "--input".as_ref(),
            data.as_os_str(),
            "--train".as_ref(),
            train.as_os_str(),
        ])
        .args([
            "--eval".as_ref(),
            eval.as_os_str(),
            "--eval-ratio".as_ref(),
            "0.1".as_ref(),
        ])
        .output()
        .unwrap();
    assert!(split.status.success());
    let model = repo("fixtures/tiny-bert");
    let cats = repo("fixtures/domain/categories.json");
    let out = dir.path().join("reranker");
    let cache = dir.path().join("cache");
    let finetune = |extra: &[&str]| {
        crate::support::retune("finetune-reranker")
            .args([
                "--model".as_ref(),
                model.as_os_str(),
                "--train".as_ref(),
                train.as_os_str(),
            ])
            .args([
                "--corpus".as_ref(),
                cats.as_os_str(),
                "--output".as_ref(),
                out.as_os_str(),
            ])
            .args([
                "--eval".as_ref(),
                eval.as_os_str(),
                "--cache-dir".as_ref(),
                cache.as_os_str(),
            ])
            .args([
                "--epochs",
                "1",
                "--negatives",
                "3",
                "--top",
                "5",
                "--lr",
                "1e-3",
            ])
            .args(extra)
            .output()
            .unwrap()
    };
    let ft = finetune(&[]);
    let stderr = String::from_utf8_lossy(&ft.stderr);
    assert!(ft.status.success(), "{stderr}");
    assert!(stderr.contains("a new classification head"), "{stderr}");
    assert!(
        stderr.contains("x (1 positive + 3 mined negatives"),
        "{stderr}"
    );
    let stdout = String::from_utf8_lossy(&ft.stdout);
    assert!(stdout.contains("+ re-ranker |"), "{stdout}");
    assert!(stdout.contains("+ re-ranker, fused (weight "), "{stdout}");
    assert!(
        stderr.contains("score fusion chosen on the validation split"),
        "{stderr}"
    );
    let fusion: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("retune_fusion.json")).unwrap())
            .unwrap();
    let w = fusion["reranker_weight"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&w), "{fusion}");
    assert_eq!(fusion["validation"].as_array().unwrap().len(), 21);
    assert!(
        stdout.contains("re-ranking latency for 5 candidates per query"),
        "{stdout}"
    );
    let config = std::fs::read_to_string(out.join("config.json")).unwrap();
    assert!(config.contains("BertForSequenceClassification"));
    let log = std::fs::read_to_string(out.with_extension("train_log.jsonl")).unwrap();
    assert!(log.lines().count() >= 2);
    let checkpoint = out.with_extension("checkpoints").join("checkpoint-001");
    assert!(checkpoint.join("state.json").is_file());
    let weights = std::fs::read(out.join("model.safetensors")).unwrap();

    // Resuming the finished run trains nothing more and saves the same re-ranker.
    let again = finetune(&["--resume"]);
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(again.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("resuming from {}", checkpoint.display())),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read(out.join("model.safetensors")).unwrap(),
        weights
    );
    let resumed_log = std::fs::read_to_string(out.with_extension("train_log.jsonl")).unwrap();
    assert_eq!(resumed_log, log, "no step was taken again");

    let report = dir.path().join("report");
    let ev = crate::support::retune("evaluate")
        .args([
            "--queries".as_ref(),
            eval.as_os_str(),
            "--corpus".as_ref(),
            cats.as_os_str(),
        ])
        .args([
            "--model".as_ref(),
            model.as_os_str(),
            "--model".as_ref(),
            model.as_os_str(),
        ])
        .args(["--name", "a", "--name", "b", "--reranker"])
        .arg(&out)
        .args(["--top", "5", "--json", "--resamples", "100", "--out"])
        .arg(&report)
        .args(["--cache-dir".as_ref(), cache.as_os_str()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&ev.stderr);
    assert!(ev.status.success(), "{stderr}");
    assert!(
        stderr.contains("re-ranking 5 candidates per query"),
        "{stderr}"
    );
    let json: serde_json::Value = serde_json::from_slice(&ev.stdout).unwrap();
    let names: Vec<&str> = json["systems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    let r = out.display().to_string();
    assert_eq!(
        names,
        [
            "a".to_string(),
            format!("a + {r}"),
            format!("a + {r}, fused"),
            "b".into(),
            format!("b + {r}"),
            format!("b + {r}, fused"),
        ]
    );
    assert!(stderr.contains("validation split"), "{stderr}");
    // Re-ranking (fused or not) the top 5 cannot change recall@5.
    for i in [1, 2] {
        assert_eq!(
            json["systems"][0]["metrics"]["recall@5"],
            json["systems"][i]["metrics"]["recall@5"]
        );
    }
    assert_eq!(json["comparisons"].as_array().unwrap().len(), 5 * 12);

    // The fusion weight is never chosen on the file being evaluated.
    let refused = crate::support::retune("evaluate")
        .args(["--queries".as_ref(), eval.as_os_str()])
        .args(["--corpus".as_ref(), cats.as_os_str()])
        .args(["--model".as_ref(), model.as_os_str(), "--reranker".as_ref()])
        .arg(&out)
        .args(["--fuse-on".as_ref(), eval.as_os_str()])
        .args(["--cache-dir".as_ref(), cache.as_os_str()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(stderr.contains("is the file being evaluated"), "{stderr}");
}
