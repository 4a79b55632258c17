//! An evaluation report: the systems' metrics, paired comparisons against the first system,
//! and how they are written: the markdown table, the JSON shape of `metrics.json`
//! (`{"systems": [{"name", "metrics"}], "comparisons": [..]}`), the per-query CSV and charts.

use crate::chart::write_charts;
use retune_metrics::{ComparisonConfig, Evaluation, Metric, PairedComparison, compare_paired};
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// One evaluated system.
#[derive(Debug, Clone)]
pub struct SystemResult {
    /// Display name.
    pub name: String,
    /// The model argument it was loaded from.
    pub model: String,
    /// Per-query values.
    pub evaluation: Evaluation,
}

/// A system compared with the baseline on one metric.
#[derive(Debug, Clone)]
pub struct Comparison {
    /// The candidate system's name.
    pub system: String,
    /// The baseline's name.
    pub baseline: String,
    /// The metric.
    pub metric: Metric,
    /// Difference, interval, p-value and wins/losses.
    pub result: PairedComparison,
}

/// Metrics of several systems on the same queries, compared with the first.
#[derive(Debug, Clone)]
pub struct EvalReport {
    /// The metrics, in display order.
    pub metrics: Vec<Metric>,
    /// The systems, the baseline first.
    pub systems: Vec<SystemResult>,
    /// Each later system against the first, per metric.
    pub comparisons: Vec<Comparison>,
    /// Expected labels of the queries that name no document (`--allow-unknown-labels`): each
    /// is a miss for every system, and the report says so.
    pub unknown_labels: usize,
}

impl EvalReport {
    /// Compares every system after the first with it (`resamples` bootstrap and
    /// randomization resamples).
    pub fn build(
        metrics: Vec<Metric>,
        systems: Vec<SystemResult>,
        resamples: usize,
    ) -> anyhow::Result<Self> {
        anyhow::ensure!(!systems.is_empty(), "no systems to report");
        let cfg = ComparisonConfig::default().with_resamples(resamples);
        let mut comparisons = Vec::new();
        let base = &systems[0];
        for sys in &systems[1..] {
            for &m in &metrics {
                let column = |s: &SystemResult| {
                    s.evaluation
                        .column(m)
                        .ok_or_else(|| anyhow::anyhow!("{m} missing for {}", s.name))
                };
                comparisons.push(Comparison {
                    system: sys.name.clone(),
                    baseline: base.name.clone(),
                    metric: m,
                    result: compare_paired(&column(base)?, &column(sys)?, &cfg)?,
                });
            }
        }
        Ok(Self {
            metrics,
            systems,
            comparisons,
            unknown_labels: 0,
        })
    }

    /// The mean of `metric` for system `i`.
    pub fn value(&self, i: usize, metric: Metric) -> f64 {
        let e = &self.systems[i].evaluation;
        e.metrics
            .iter()
            .position(|m| *m == metric)
            .map_or(f64::NAN, |j| e.mean()[j])
    }

    /// The shape of `metrics.json` and of `--json`.
    pub fn to_json(&self) -> Value {
        let systems: Vec<Value> = self
            .systems
            .iter()
            .map(|s| json!({"name": s.name, "model": s.model, "queries": s.evaluation.per_query.len(), "metrics": s.evaluation.mean_by_name()}))
            .collect();
        let comparisons: Vec<Value> = self
            .comparisons
            .iter()
            .map(|c| json!({"system": c.system, "baseline": c.baseline, "metric": c.metric.to_string(), "comparison": c.result}))
            .collect();
        json!({"systems": systems, "comparisons": comparisons})
    }

    /// The markdown table (one row per system) and one line per comparison.
    pub fn markdown(&self) -> String {
        let names: Vec<String> = self.metrics.iter().map(ToString::to_string).collect();
        let mut s = format!(
            "| system | {} |\n|---|{}\n",
            names.join(" | "),
            "---|".repeat(names.len())
        );
        for (i, sys) in self.systems.iter().enumerate() {
            let v: Vec<String> = self
                .metrics
                .iter()
                .map(|&m| format!("{:.4}", self.value(i, m)))
                .collect();
            let _ = writeln!(s, "| {} | {} |", sys.name, v.join(" | "));
        }
        if !self.comparisons.is_empty() {
            s.push('\n');
        }
        for c in &self.comparisons {
            let r = &c.result;
            let _ = writeln!(
                s,
                "- {} vs {}: {} {:+.4} (95% CI {:+.4} .. {:+.4}, p = {:.4}); {} improvements, {} regressions",
                c.system,
                c.baseline,
                c.metric,
                r.mean_difference,
                r.ci_low,
                r.ci_high,
                r.p_value,
                r.improved,
                r.worsened
            );
        }
        if self.unknown_labels > 0 {
            let _ = writeln!(
                s,
                "\nNote: {} expected label(s) name no document in the corpus; they count as misses for every system (--allow-unknown-labels).",
                self.unknown_labels
            );
        }
        s
    }

    /// The per-query CSV: `system,query,<metric>...`, one row per system and query.
    pub fn per_query_csv(&self) -> String {
        let mut csv = String::from("system,query");
        for m in &self.metrics {
            let _ = write!(csv, ",{m}");
        }
        csv.push('\n');
        for sys in &self.systems {
            let e = &sys.evaluation;
            let idx: Vec<Option<usize>> = self
                .metrics
                .iter()
                .map(|m| e.metrics.iter().position(|x| x == m))
                .collect();
            for (q, values) in &e.per_query {
                let _ = write!(csv, "{},{}", csv_field(&sys.name), csv_field(q));
                for i in &idx {
                    let _ = write!(csv, ",{}", i.map_or(f64::NAN, |i| values[i]));
                }
                csv.push('\n');
            }
        }
        csv
    }

    /// Writes `metrics.json`, `per_query.csv`, `chart.png` and `chart.svg` into `dir`
    /// (each atomically); returns the paths.
    pub fn write_dir(&self, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
        std::fs::create_dir_all(dir)?;
        let metrics = dir.join("metrics.json");
        write_file(
            &metrics,
            (serde_json::to_string_pretty(&self.to_json())? + "\n").as_bytes(),
        )?;
        let csv = dir.join("per_query.csv");
        write_file(&csv, self.per_query_csv().as_bytes())?;
        let mut files = vec![metrics, csv];
        files.extend(write_charts(self, dir)?);
        Ok(files)
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// Writes a file through a temporary sibling and a rename, so readers never see half of it.
pub fn write_file(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    pub(crate) fn toy_report() -> EvalReport {
        let metrics = vec![Metric::Recall(1), Metric::Mrr(Some(5))];
        let sys = |name: &str, vals: &[(f64, f64)]| SystemResult {
            name: name.into(),
            model: format!("models/{name}"),
            evaluation: Evaluation {
                metrics: metrics.clone(),
                per_query: vals
                    .iter()
                    .enumerate()
                    .map(|(i, (a, b))| (format!("q{i}"), vec![*a, *b]))
                    .collect::<BTreeMap<_, _>>(),
            },
        };
        let base = sys("base", &[(0.0, 0.5), (1.0, 1.0), (0.0, 0.0), (0.0, 0.25)]);
        let tuned = sys(
            "fine, \"tuned\"",
            &[(1.0, 1.0), (1.0, 1.0), (0.0, 0.5), (1.0, 1.0)],
        );
        EvalReport::build(metrics, vec![base, tuned], 500).unwrap()
    }

    #[test]
    fn json_table_and_csv_agree() {
        let r = toy_report();
        let j = r.to_json();
        assert_eq!(j["systems"][0]["metrics"]["recall@1"], 0.25);
        assert_eq!(j["systems"][1]["metrics"]["recall@1"], 0.75);
        assert_eq!(j["comparisons"].as_array().unwrap().len(), 2);
        assert_eq!(j["comparisons"][0]["comparison"]["improved"], 2);
        assert_eq!(j["comparisons"][0]["comparison"]["worsened"], 0);
        let md = r.markdown();
        assert!(md.contains("| base | 0.2500 | 0.4375 |"), "{md}");
        assert!(md.contains("recall@1 +0.5000"), "{md}");
        let csv = r.per_query_csv();
        assert!(csv.starts_with("system,query,recall@1,mrr@5\n"));
        assert!(csv.contains("\"fine, \"\"tuned\"\"\",q2,0,0.5\n"), "{csv}");
        assert_eq!(csv.lines().count(), 9);
    }

    #[test]
    fn writes_every_file() {
        let dir = tempfile::tempdir().unwrap();
        let files = toy_report().write_dir(dir.path()).unwrap();
        let names: Vec<String> = files
            .iter()
            .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            ["metrics.json", "per_query.csv", "chart.png", "chart.svg"]
        );
        let parsed: Value =
            serde_json::from_str(&std::fs::read_to_string(&files[0]).unwrap()).unwrap();
        assert_eq!(parsed, toy_report().to_json());
    }
}
