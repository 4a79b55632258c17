//! `finetune --push-to-hub` checks what publishing needs before it trains: without a token it
//! stops at once, says which variable to set, and writes nothing.

use std::path::{Path, PathBuf};
use std::process::Command;

#[test]
fn push_to_hub_without_a_token_fails_before_training() {
    let out_dir = tempfile::tempdir().unwrap();
    let output = out_dir.path().join("model");
    let run = crate::support::retune("finetune")
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
    let bad_id = crate::support::retune("finetune")
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

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The fixture's domain transactions split by the `split` binary into `dir`: (train, eval).
fn split(dir: &Path, eval_ratio: &str) -> (PathBuf, PathBuf) {
    let (train, eval) = (dir.join("train.jsonl"), dir.join("eval.jsonl"));
    let split = crate::support::retune("split")
        .arg("--input")
        .arg(repo().join("fixtures/domain/transactions.jsonl"))
        .arg("--train")
        .arg(&train)
        .arg("--eval")
        .arg(&eval)
        .args(["--eval-ratio", eval_ratio])
        .output()
        .unwrap();
    assert!(
        split.status.success(),
        "{}",
        String::from_utf8_lossy(&split.stderr)
    );
    (train, eval)
}

/// `finetune` of the tiny fixture model on `train` against the fixture's categories.
fn tiny_finetune(train: &Path, output: &Path) -> Command {
    let mut cmd = crate::support::retune("finetune");
    cmd.arg("--model")
        .arg(repo().join("fixtures/tiny-bert"))
        .arg("--train")
        .arg(train)
        .arg("--corpus")
        .arg(repo().join("fixtures/domain/categories.json"))
        .arg("--output")
        .arg(output);
    cmd
}

/// On course-format transactions with a categories corpus (corpus negatives on), `finetune`
/// adds field-dropout copies of the training queries by default, says so, and writes it into
/// the model card; `--field-dropout false` trains on the rows alone.
#[test]
fn field_dropout_copies_reach_training_and_the_model_card() {
    let dir = tempfile::tempdir().unwrap();
    let (train, _) = split(dir.path(), "0.8");
    let rows = std::fs::read_to_string(&train).unwrap().lines().count();
    let run = |name: &str, extra: &[&str]| {
        let output = dir.path().join(name);
        let run = tiny_finetune(&train, &output)
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

/// With corpus negatives and a validation split, `finetune` refits by default: after the
/// validated run it trains again on every row of TRAIN, stops at the end of the epoch the
/// validation chose, and saves that model, saying so in its log, card and config.
/// `--refit false` saves the validated run; `--refit true` without a validation split is
/// refused before training.
#[test]
fn refit_trains_again_on_every_row_and_stops_at_the_best_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let (train, eval) = split(dir.path(), "0.5");
    let rows = std::fs::read_to_string(&train).unwrap().lines().count();
    let run = |name: &str, extra: &[&str]| {
        let output = dir.path().join(name);
        let run = tiny_finetune(&train, &output)
            .arg("--eval")
            .arg(&eval)
            .args(["--epochs", "4", "--lr", "5e-3", "--checkpoints", "false"])
            .args(["--train-on-samples", "false", "--field-dropout", "false"])
            .args(extra)
            .output()
            .unwrap();
        (output, run)
    };
    let (output, refit) = run("refit", &[]);
    let stderr = String::from_utf8_lossy(&refit.stderr).into_owned();
    assert!(refit.status.success(), "{stderr}");
    let plan = saved_plan(&output);
    assert_eq!(plan["refit"], true, "{plan}");
    assert_eq!(
        plan["holdout"],
        (rows as f64 * 0.2).round() as u64,
        "{plan}"
    );
    assert!(
        stderr.contains(&format!("on all {rows} rows of")),
        "{stderr}"
    );
    // "stopping after step S of T (the validated run's best was step B of N)": on this
    // fixture the best epoch is not the last, so the refit ends mid-schedule.
    let plan: Vec<usize> = {
        let at = stderr
            .find("stopping after step ")
            .expect("the refit's plan");
        stderr[at..]
            .split(|c: char| !c.is_ascii_digit())
            .filter_map(|w| w.parse().ok())
            .take(4)
            .collect()
    };
    let (stop, total) = (plan[0], plan[1]);
    assert!(stop < total && plan[2] < plan[3], "{plan:?}");
    assert!(
        stop > plan[2],
        "more rows, more steps to the same epoch: {plan:?}"
    );
    let log = std::fs::read_to_string(output.with_extension("refit.train_log.jsonl")).unwrap();
    let steps = log.lines().filter(|l| l.contains("\"loss\"")).count();
    assert_eq!(steps, stop, "the refit stops where it said");
    assert!(
        !log.contains("\"eval\""),
        "the refit has nothing to validate on"
    );
    let last: serde_json::Value = serde_json::from_str(log.lines().last().unwrap()).unwrap();
    assert!(
        last["lr"].as_f64().unwrap() > 1e-4,
        "the learning rate follows the whole schedule and is not decayed to 0: {last}"
    );
    // The validated run's best step ended an epoch; the refit's stop ends the same epoch of
    // a longer schedule (more rows, same batch size).
    let first = std::fs::read_to_string(output.with_extension("train_log.jsonl")).unwrap();
    let per_epoch = |log: &str, epoch: usize| {
        log.lines()
            .filter(|l| l.contains(&format!("\"epoch\":{epoch},")))
            .count()
    };
    assert!(
        per_epoch(&log, 0) > per_epoch(&first, 0),
        "more rows per epoch"
    );
    assert!(
        (1..=4).any(|e| stop == (0..e).map(|i| per_epoch(&log, i)).sum::<usize>()),
        "stops at an epoch's end: {stop}"
    );
    assert!(stderr.contains("fine-tuned, refit on all rows"), "{stderr}");
    let card = std::fs::read_to_string(output.join("README.md")).unwrap();
    assert!(card.contains("This model is the refit"), "{card}");
    assert!(
        card.contains("| validated run | fine-tuned (refit) |"),
        "{card}"
    );
    let config = std::fs::read_to_string(output.join("training_config.json")).unwrap();
    assert!(
        config.contains(&format!("\"stop_at_step\": {stop}")),
        "{config}"
    );

    let (output, plain) = run("plain", &["--refit", "false"]);
    assert_eq!(saved_plan(&output)["refit"], false);
    let stderr = String::from_utf8_lossy(&plain.stderr);
    assert!(
        plain.status.success() && !stderr.contains("refit"),
        "{stderr}"
    );
    assert!(!output.with_extension("refit.train_log.jsonl").exists());
    let card = std::fs::read_to_string(output.join("README.md")).unwrap();
    assert!(!card.contains("Refit"), "{card}");

    let (output, refused) = run("refused", &["--refit", "true", "--validation-ratio", "0"]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "{stderr}");
    assert!(
        stderr.contains("--refit true needs a validation split"),
        "{stderr}"
    );
    assert!(!output.exists());
}

/// A run killed during its refit and resumed with `--resume` ends on the same model as the
/// uninterrupted run: the validated run is complete in its checkpoints, and the refit
/// continues from its own (`DIR.checkpoints-refit`).
#[test]
fn a_run_killed_during_its_refit_resumes_to_the_same_model() {
    let dir = tempfile::tempdir().unwrap();
    let (train, _) = split(dir.path(), "0.5");
    let run = |output: &Path, extra: &[&str]| {
        let run = tiny_finetune(&train, output)
            .args(["--epochs", "4", "--lr", "5e-3"])
            .args(["--train-on-samples", "false", "--field-dropout", "false"])
            .args(extra)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&run.stderr).into_owned();
        assert!(run.status.success(), "{stderr}");
        stderr
    };
    let whole = dir.path().join("whole");
    run(&whole, &[]);
    let killed = dir.path().join("killed");
    let copy = |from: &Path, to: &Path| {
        let status = Command::new("cp").arg("-r").arg(from).arg(to).status();
        assert!(status.unwrap().success());
    };
    copy(
        &whole.with_extension("checkpoints"),
        &killed.with_extension("checkpoints"),
    );
    let refit_ck = killed.with_extension("checkpoints-refit");
    copy(&whole.with_extension("checkpoints-refit"), &refit_ck);
    // Killed before its last refit epoch was checkpointed: only the one before is left.
    let mut kept: Vec<PathBuf> = std::fs::read_dir(&refit_ck)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("checkpoint-")
        })
        .collect();
    kept.sort();
    assert_eq!(kept.len(), 2, "{kept:?}");
    std::fs::remove_dir_all(&kept[1]).unwrap();
    let stderr = run(&killed, &["--resume"]);
    assert!(stderr.contains("refit: trained"), "{stderr}");
    let weights = |p: &Path| std::fs::read(p.join("model.safetensors")).unwrap();
    assert!(
        weights(&killed) == weights(&whole),
        "the same refit weights"
    );
    // It took only the refit's last epoch (the logs were not copied).
    let steps = |p: &Path| {
        std::fs::read_to_string(p.with_extension("refit.train_log.jsonl"))
            .unwrap()
            .lines()
            .filter(|l| l.contains("\"loss\""))
            .count()
    };
    assert!(
        steps(&killed) > 0 && steps(&killed) < steps(&whole),
        "{} of {} refit steps",
        steps(&killed),
        steps(&whole)
    );
    assert!(
        !killed.with_extension("train_log.jsonl").exists() || {
            let log = std::fs::read_to_string(killed.with_extension("train_log.jsonl")).unwrap();
            !log.contains("\"loss\"")
        }
    );
}

/// `--output` never deletes what retune did not write: a folder holding the training data and
/// the current directory are refused before any training, naming the folder, and the data is
/// intact; `--overwrite` takes a folder retune did not write, never the current directory; an
/// output retune wrote (marked) is replaced by the next run.
#[test]
fn output_folders_retune_did_not_write_are_refused_before_training() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let (train, _) = split(&data, "0.8");
    let before = std::fs::read(&train).unwrap();
    let run = tiny_finetune(&train, &data)
        .args(["--epochs", "1"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success());
    assert!(
        stderr.contains("refusing to") && stderr.contains(&*data.to_string_lossy()),
        "{stderr}"
    );
    assert!(
        !stderr.contains("trained "),
        "refused before training: {stderr}"
    );
    assert_eq!(std::fs::read(&train).unwrap(), before, "the data is intact");

    let here = dir.path().join("here");
    std::fs::create_dir(&here).unwrap();
    std::fs::write(here.join("notes.txt"), "mine").unwrap();
    // Refused as the current directory, with --overwrite too.
    for (output, extra) in [
        (here.clone(), None),
        (PathBuf::from("."), None),
        (PathBuf::from("."), Some("--overwrite")),
    ] {
        let run = tiny_finetune(&train, &output)
            .args(extra)
            .current_dir(&here)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(
            !run.status.success() && stderr.contains("current directory"),
            "{stderr}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(here.join("notes.txt")).unwrap(),
        "mine"
    );
    // --overwrite replaces a folder retune did not write when it is not the current directory.
    let run = tiny_finetune(&train, &here)
        .args(["--epochs", "1", "--checkpoints", "false", "--overwrite"])
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(!here.join("notes.txt").exists() && here.join("model.safetensors").is_file());

    let output = dir.path().join("model");
    for _ in 0..2 {
        let run = tiny_finetune(&train, &output)
            .args(["--epochs", "1", "--checkpoints", "false"])
            .output()
            .unwrap();
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        assert!(output.join(".retune-output").is_file());
    }
}

/// `--lr 5e5` diverges: the run stops with the step and a hint, exits non-zero, and saves no
/// model (none with NaN weights, none at all).
#[test]
fn a_diverging_run_stops_and_saves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (train, _) = split(dir.path(), "0.8");
    let output = dir.path().join("model");
    let run = tiny_finetune(&train, &output)
        .args(["--epochs", "3", "--lr", "5e5", "--validation-ratio", "0"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success(), "{stderr}");
    assert!(
        stderr.contains("diverged at step") && stderr.contains("learning rate"),
        "{stderr}"
    );
    assert!(!output.exists(), "no model saved");
}

/// `--resume` with another training file is refused, naming the file, instead of training on.
#[test]
fn resuming_on_other_data_is_refused_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let (train, eval) = split(dir.path(), "0.5");
    let output = dir.path().join("model");
    let first = tiny_finetune(&train, &output)
        .args(["--epochs", "2", "--validation-ratio", "0"])
        .output()
        .unwrap();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let again = tiny_finetune(&eval, &output)
        .args(["--epochs", "2", "--validation-ratio", "0", "--resume"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(!again.status.success(), "{stderr}");
    assert!(
        stderr.contains("other data") && stderr.contains(&*eval.to_string_lossy()),
        "{stderr}"
    );
}

/// The plan a run followed (`OUTPUT/plan.json`).
fn saved_plan(output: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(output.join("plan.json")).unwrap()).unwrap()
}
