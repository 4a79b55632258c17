//! The review queue: a person approves (possibly after editing), or skips, each generated
//! transaction. Every decision is appended to a decisions log beside the output and synced
//! before it is acknowledged, so killing the process loses none; on start the log is replayed,
//! so a restart resumes exactly where the person stopped; the output (`cleaned.jsonl`: the
//! approved records, edited, in input order) is rebuilt from that state atomically after each
//! decision. Undo takes back the latest decision still standing.

use crate::error::DataError;
use crate::jsonl::{JsonlAppender, ReadMode, read_jsonl, write_jsonl_atomic};
use crate::transaction::Transaction;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// What was decided for an item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "lowercase")]
pub enum Decision {
    /// Keep it, as edited.
    Approve {
        /// The record as approved.
        record: Transaction,
    },
    /// Leave it out.
    Skip,
}

/// One line of the decisions log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogEntry {
    /// 1-based sequence number.
    pub seq: u64,
    /// Item index in the input (0-based).
    pub item: usize,
    /// Hash of the item's original record: a log from another input is refused.
    pub fingerprint: String,
    /// `Some` for a decision, `None` for an undo of the latest standing decision on `item`.
    pub decision: Option<Decision>,
    /// Seconds since the Unix epoch.
    pub at: u64,
}

/// Status of an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Not decided yet.
    Pending,
    /// Approved.
    Approved,
    /// Skipped.
    Skipped,
}

/// Counts for the progress display.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Progress {
    /// Items in the queue.
    pub total: usize,
    /// Approved.
    pub approved: usize,
    /// Skipped.
    pub skipped: usize,
    /// The first undecided item, if any.
    pub current: Option<usize>,
}

/// A review session over one input file.
#[derive(Debug)]
pub struct ReviewQueue {
    items: Vec<Transaction>,
    fingerprints: Vec<String>,
    decisions: Vec<Option<Decision>>,
    /// Items in the order their standing decisions were made (undo pops from the end); each
    /// with the decision it replaced.
    history: Vec<(usize, Option<Decision>)>,
    log: JsonlAppender,
    log_path: PathBuf,
    /// The exclusive lock on `OUTPUT.lock`, held while the queue is open: a second queue on the
    /// same output is refused instead of interleaving its decisions with this one's.
    _lock: std::fs::File,
    output: PathBuf,
    categories: Vec<String>,
    seq: u64,
}

/// Takes the exclusive lock of `OUTPUT.lock` (released by the system when the process ends,
/// however it ends) and writes this process's id into it; when another holds it, the error
/// names that process.
fn lock_output(output: &Path) -> Result<std::fs::File, DataError> {
    use std::io::{Read, Seek, Write};
    let name = output
        .file_name()
        .map_or_else(|| "review".into(), |n| n.to_string_lossy().into_owned());
    let path = output.with_file_name(format!("{name}.lock"));
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(DataError::io(&path))?;
    if let Err(e) = file.try_lock() {
        let mut holder = String::new();
        file.read_to_string(&mut holder).ok();
        let holder = holder.trim();
        return Err(DataError::Locked {
            path: output.to_path_buf(),
            holder: if holder.is_empty() {
                format!("another process ({e})")
            } else {
                format!("process {holder}")
            },
        });
    }
    file.set_len(0).map_err(DataError::io(&path))?;
    file.rewind().map_err(DataError::io(&path))?;
    write!(file, "{}", std::process::id()).map_err(DataError::io(&path))?;
    Ok(file)
}

fn fingerprint(t: &Transaction) -> String {
    let h = Sha256::digest(serde_json::to_vec(t).expect("transaction serializes"));
    h.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// The decisions log of an output: `cleaned.jsonl` → `cleaned.decisions.jsonl`.
pub fn decisions_log_path(output: &Path) -> PathBuf {
    let stem = output
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "review".into());
    output.with_file_name(format!("{stem}.decisions.jsonl"))
}

impl ReviewQueue {
    /// Opens a session: reads the input, replays the log beside `output` (refusing one written
    /// for other input), and rebuilds the output. `categories` (when not empty) are the only
    /// expense categories an edit may choose.
    pub fn open(input: &Path, output: &Path, categories: Vec<String>) -> Result<Self, DataError> {
        use crate::paths::{Named, check_distinct};
        let log_path = decisions_log_path(output);
        check_distinct(
            &[Named::new("--input", input)],
            &[
                Named::new("--output", output),
                Named::new("the decisions log", &log_path),
            ],
        )?;
        let lock = lock_output(output)?;
        let (items, _) = read_jsonl::<Transaction>(input, ReadMode::Strict)?;
        let fingerprints: Vec<String> = items.iter().map(fingerprint).collect();
        let log = JsonlAppender::open(&log_path)?;
        let (entries, bad) = read_jsonl::<LogEntry>(&log_path, ReadMode::Lenient)?;
        if let Some(b) = bad.first() {
            return Err(DataError::Invalid {
                path: log_path.clone(),
                line: b.line,
                field: ".".into(),
                problem: format!("unreadable decision ({}); fix or move the log", b.error),
            });
        }
        let mut q = Self {
            decisions: vec![None; items.len()],
            items,
            fingerprints,
            history: Vec::new(),
            log,
            log_path,
            _lock: lock,
            output: output.to_path_buf(),
            categories,
            seq: 0,
        };
        for (i, e) in entries.into_iter().enumerate() {
            if q.fingerprints.get(e.item) != Some(&e.fingerprint) {
                return Err(DataError::Invalid {
                    path: q.log_path.clone(),
                    line: i + 1,
                    field: "fingerprint".into(),
                    problem: format!(
                        "decision for item {} does not match {} (was the input changed?)",
                        e.item,
                        input.display()
                    ),
                });
            }
            q.seq = e.seq;
            q.apply(e.item, e.decision);
        }
        q.rebuild()?;
        Ok(q)
    }

    fn apply(&mut self, item: usize, decision: Option<Decision>) {
        match decision {
            Some(d) => {
                let previous = self.decisions[item].replace(d);
                self.history.push((item, previous));
            }
            None => {
                if let Some(pos) = self.history.iter().rposition(|(i, _)| *i == item) {
                    let (_, previous) = self.history.remove(pos);
                    self.decisions[item] = previous;
                }
            }
        }
    }

    fn record(&mut self, item: usize, decision: Option<Decision>) -> Result<(), DataError> {
        self.seq += 1;
        let entry = LogEntry {
            seq: self.seq,
            item,
            fingerprint: self.fingerprints[item].clone(),
            decision: decision.clone(),
            at: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
        };
        self.log.append(&entry)?;
        self.log.sync()?;
        self.apply(item, decision);
        self.rebuild()
    }

    fn rebuild(&self) -> Result<(), DataError> {
        let approved: Vec<&Transaction> = self
            .decisions
            .iter()
            .filter_map(|d| match d {
                Some(Decision::Approve { record }) => Some(record),
                _ => None,
            })
            .collect();
        write_jsonl_atomic(&self.output, approved)
    }

    fn check_item(&self, item: usize) -> Result<(), DataError> {
        if item >= self.items.len() {
            return Err(DataError::NoSuchItem { item });
        }
        Ok(())
    }

    /// Problems with an edited record, as (field, message).
    pub fn validate(&self, t: &Transaction) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = crate::generate::transaction_problems(t)
            .into_iter()
            .map(|(field, problem)| (field.to_string(), problem))
            .collect();
        if !self.categories.is_empty()
            && !t.expense_category.trim().is_empty()
            && !self.categories.contains(&t.expense_category)
        {
            out.push((
                "expense_category".into(),
                format!("{:?} is not a known category", t.expense_category),
            ));
        }
        out
    }

    /// Approves `item` as `record` (the original when `None`), after validating it.
    pub fn approve(&mut self, item: usize, record: Option<Transaction>) -> Result<(), DataError> {
        self.check_item(item)?;
        let mut record = record.unwrap_or_else(|| self.items[item].clone());
        if record
            .trip_name
            .as_deref()
            .is_some_and(|s| s.trim().is_empty())
        {
            record.trip_name = None;
        }
        let problems = self.validate(&record);
        if !problems.is_empty() {
            return Err(DataError::InvalidEdit { item, problems });
        }
        self.record(item, Some(Decision::Approve { record }))?;
        Ok(())
    }

    /// Skips `item`.
    pub fn skip(&mut self, item: usize) -> Result<(), DataError> {
        self.check_item(item)?;
        self.record(item, Some(Decision::Skip))?;
        Ok(())
    }

    /// Takes back the latest standing decision; returns its item, or `None` when there is none.
    pub fn undo(&mut self) -> Result<Option<usize>, DataError> {
        let Some(&(item, _)) = self.history.last() else {
            return Ok(None);
        };
        self.record(item, None)?;
        Ok(Some(item))
    }

    /// Items in the queue.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether the queue is empty.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The original record of an item.
    pub fn original(&self, item: usize) -> Option<&Transaction> {
        self.items.get(item)
    }

    /// The record to show: the approved edit, else the original.
    pub fn shown(&self, item: usize) -> Option<&Transaction> {
        match self.decisions.get(item)? {
            Some(Decision::Approve { record }) => Some(record),
            _ => self.items.get(item),
        }
    }

    /// Status of an item.
    pub fn status(&self, item: usize) -> Option<Status> {
        Some(match self.decisions.get(item)? {
            None => Status::Pending,
            Some(Decision::Approve { .. }) => Status::Approved,
            Some(Decision::Skip) => Status::Skipped,
        })
    }

    /// Counts and the first undecided item.
    pub fn progress(&self) -> Progress {
        let approved = self
            .decisions
            .iter()
            .filter(|d| matches!(d, Some(Decision::Approve { .. })))
            .count();
        let skipped = self
            .decisions
            .iter()
            .filter(|d| matches!(d, Some(Decision::Skip)))
            .count();
        Progress {
            total: self.items.len(),
            approved,
            skipped,
            current: self.decisions.iter().position(Option::is_none),
        }
    }

    /// The known categories.
    pub fn categories(&self) -> &[String] {
        &self.categories
    }

    /// The decisions log.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tx(i: usize) -> Transaction {
        Transaction {
            merchant_name: format!("Vendor {i}"),
            merchant_category: vec!["SaaS".into()],
            department: "IT".into(),
            location: "Austin, TX".into(),
            amount: 10.0 + i as f64,
            spend_program_name: "Budget".into(),
            trip_name: None,
            expense_category: "Software".into(),
        }
    }

    fn setup(n: usize) -> (tempfile::TempDir, PathBuf, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("generated.jsonl");
        let items: Vec<Transaction> = (0..n).map(tx).collect();
        write_jsonl_atomic(&input, &items).unwrap();
        let output = dir.path().join("cleaned.jsonl");
        (dir, input, output)
    }

    fn cleaned(p: &Path) -> Vec<Transaction> {
        read_jsonl::<Transaction>(p, ReadMode::Strict).unwrap().0
    }

    #[test]
    fn a_second_queue_on_one_output_is_refused_naming_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("generated.jsonl");
        crate::write_jsonl_atomic(&input, &[tx(0), tx(1)]).unwrap();
        let output = dir.path().join("cleaned.jsonl");
        let first = ReviewQueue::open(&input, &output, Vec::new()).unwrap();
        let Err(err) = ReviewQueue::open(&input, &output, Vec::new()) else {
            panic!("a second queue opened while the first is open");
        };
        let err = err.to_string();
        let pid = std::process::id().to_string();
        assert!(err.contains("cleaned.jsonl") && err.contains(&pid), "{err}");
        drop(first);
        ReviewQueue::open(&input, &output, Vec::new()).unwrap();
    }

    #[test]
    fn approve_edit_skip_undo_and_resume_after_restart() {
        let (_d, input, output) = setup(4);
        let cats = vec!["Software".to_string(), "Travel".to_string()];
        let mut q = ReviewQueue::open(&input, &output, cats.clone()).unwrap();
        assert_eq!(q.progress().current, Some(0));
        q.approve(0, None).unwrap();
        let mut edited = tx(1);
        edited.expense_category = "Travel".into();
        edited.trip_name = Some(" ".into());
        q.approve(1, Some(edited.clone())).unwrap();
        q.skip(2).unwrap();
        assert_eq!(q.progress().current, Some(3));
        assert_eq!(cleaned(&output).len(), 2);
        assert_eq!(q.undo().unwrap(), Some(2));
        assert_eq!(q.status(2), Some(Status::Pending));
        assert_eq!(q.progress().current, Some(2));
        drop(q);
        // a restart replays the log
        let q = ReviewQueue::open(&input, &output, cats).unwrap();
        let p = q.progress();
        assert_eq!((p.approved, p.skipped, p.current), (2, 0, Some(2)));
        let out = cleaned(&output);
        edited.trip_name = None;
        assert_eq!(out, vec![tx(0), edited]);
        assert_eq!(q.shown(1).unwrap().expense_category, "Travel");
    }

    #[test]
    fn redeciding_and_undo_restore_the_earlier_decision() {
        let (_d, input, output) = setup(2);
        let mut q = ReviewQueue::open(&input, &output, vec![]).unwrap();
        q.approve(0, None).unwrap();
        q.skip(0).unwrap();
        assert_eq!(q.status(0), Some(Status::Skipped));
        q.undo().unwrap();
        assert_eq!(q.status(0), Some(Status::Approved));
        q.undo().unwrap();
        assert_eq!(q.status(0), Some(Status::Pending));
        assert_eq!(q.undo().unwrap(), None);
        assert!(cleaned(&output).is_empty());
    }

    #[test]
    fn invalid_edits_and_unknown_items_are_refused_and_change_nothing() {
        let (_d, input, output) = setup(2);
        let mut q = ReviewQueue::open(&input, &output, vec!["Software".into()]).unwrap();
        let mut bad = tx(0);
        bad.amount = 0.0;
        bad.merchant_category = vec![];
        bad.expense_category = "Nope".into();
        match q.approve(0, Some(bad)).unwrap_err() {
            DataError::InvalidEdit { problems: p, .. } => {
                let fields: Vec<&str> = p.iter().map(|(f, _)| f.as_str()).collect();
                assert_eq!(fields, ["amount", "merchant_category", "expense_category"]);
            }
            e => panic!("{e}"),
        }
        assert!(matches!(q.skip(9), Err(DataError::NoSuchItem { item: 9 })));
        assert_eq!(q.progress().current, Some(0));
        assert_eq!(std::fs::read_to_string(q.log_path()).unwrap(), "");
    }

    #[test]
    fn a_log_from_other_input_is_refused() {
        let (d, input, output) = setup(2);
        let mut q = ReviewQueue::open(&input, &output, vec![]).unwrap();
        q.approve(1, None).unwrap();
        drop(q);
        let other: Vec<Transaction> = (5..7).map(tx).collect();
        write_jsonl_atomic(&input, &other).unwrap();
        let e = ReviewQueue::open(&input, &output, vec![]).unwrap_err();
        assert!(e.to_string().contains("was the input changed"), "{e}");
        drop(d);
    }
}
