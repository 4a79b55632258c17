//! The runs log: every evaluation appends one JSON line (time, git revision, systems, hashes
//! of the data files, metrics) to `runs.jsonl`, through the crash-safe appender, and
//! `--compare-last` diffs a run against the one before it.

use crate::report::EvalReport;
use retune_data::{JsonlAppender, JsonlReader, ReadMode};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// One line of the runs log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Seconds since the Unix epoch.
    pub time: u64,
    /// `git rev-parse --short HEAD` of the working directory, when it is a repository.
    pub git_revision: Option<String>,
    /// System name -> model argument, in report order.
    pub systems: Vec<(String, String)>,
    /// Data file (canonical path) -> first 16 hex digits of its SHA-256.
    pub data: BTreeMap<String, String>,
    /// System name -> metric name -> mean.
    pub metrics: BTreeMap<String, BTreeMap<String, f64>>,
}

fn file_hash(p: &Path) -> anyhow::Result<String> {
    let bytes = std::fs::read(p).map_err(|e| anyhow::anyhow!("reading {}: {e}", p.display()))?;
    Ok(Sha256::digest(&bytes)
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect())
}

fn git_revision() -> Option<String> {
    std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
}

impl RunRecord {
    /// The record of `report`, hashing the data files it read.
    pub fn new(report: &EvalReport, data: &[&Path]) -> anyhow::Result<Self> {
        Ok(Self {
            time: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            git_revision: git_revision(),
            systems: report
                .systems
                .iter()
                .map(|s| (s.name.clone(), s.model.clone()))
                .collect(),
            data: data
                .iter()
                .map(|p| {
                    let key = std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
                    Ok((key.display().to_string(), file_hash(p)?))
                })
                .collect::<anyhow::Result<_>>()?,
            metrics: report
                .systems
                .iter()
                .map(|s| (s.name.clone(), s.evaluation.mean_by_name()))
                .collect(),
        })
    }
}

/// The last record of the log; `None` when it does not exist or is empty. Lines that do not
/// parse (an older format) are passed over.
pub fn last_run(log: &Path) -> anyhow::Result<Option<RunRecord>> {
    if !log.exists() {
        return Ok(None);
    }
    let mut last = None;
    for row in JsonlReader::<RunRecord>::open(log, ReadMode::Lenient)? {
        last = Some(row?.1);
    }
    Ok(last)
}

/// Appends a record (creating the folder and file).
pub fn append_run(log: &Path, record: &RunRecord) -> anyhow::Result<()> {
    if let Some(dir) = log.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut w = JsonlAppender::open(log)?;
    w.append(record)?;
    Ok(())
}

/// What changed from `prev` to `cur`: data files, revision, and each metric of each system
/// present in both.
pub fn compare_runs(prev: &RunRecord, cur: &RunRecord) -> String {
    let mut s = String::from("changes since the previous run:\n");
    if prev.git_revision != cur.git_revision {
        let _ = writeln!(
            s,
            "- git revision {} -> {}",
            prev.git_revision.as_deref().unwrap_or("none"),
            cur.git_revision.as_deref().unwrap_or("none")
        );
    }
    for (file, hash) in &cur.data {
        match prev.data.get(file) {
            Some(h) if h == hash => {}
            Some(h) => {
                let _ = writeln!(s, "- data {file} changed ({h} -> {hash})");
            }
            None => {
                let _ = writeln!(s, "- data {file} is new");
            }
        }
    }
    let mut any = false;
    for (name, metrics) in &cur.metrics {
        let Some(before) = prev.metrics.get(name) else {
            let _ = writeln!(s, "- system {name} is new");
            continue;
        };
        for (m, v) in metrics {
            if let Some(b) = before.get(m)
                && (v - b).abs() > 1e-12
            {
                any = true;
                let _ = writeln!(s, "- {name} {m}: {b:.4} -> {v:.4} ({:+.4})", v - b);
            }
        }
    }
    for name in prev
        .metrics
        .keys()
        .filter(|n| !cur.metrics.contains_key(*n))
    {
        let _ = writeln!(s, "- system {name} is gone");
    }
    if !any {
        s.push_str("- no metric of a system in both runs changed\n");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(v: f64, hash: &str) -> RunRecord {
        RunRecord {
            time: 1,
            git_revision: Some("abc".into()),
            systems: vec![("base".into(), "m".into())],
            data: [("eval.jsonl".to_string(), hash.to_string())].into(),
            metrics: [("base".to_string(), [("recall@1".to_string(), v)].into())].into(),
        }
    }

    #[test]
    fn log_round_trip_and_diff() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("sub/runs.jsonl");
        assert_eq!(last_run(&log).unwrap(), None);
        append_run(&log, &record(0.5, "aa")).unwrap();
        append_run(&log, &record(0.75, "bb")).unwrap();
        let last = last_run(&log).unwrap().unwrap();
        assert_eq!(last, record(0.75, "bb"));
        let d = compare_runs(&record(0.5, "aa"), &last);
        assert!(
            d.contains("base recall@1: 0.5000 -> 0.7500 (+0.2500)"),
            "{d}"
        );
        assert!(d.contains("data eval.jsonl changed (aa -> bb)"), "{d}");
        let same = compare_runs(&last, &last);
        assert!(same.contains("no metric"), "{same}");
    }
}
