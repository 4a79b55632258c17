//! Reading TREC qrels (`qid iter docid rel`) and runs (`qid Q0 docid rank score tag`), writing runs.
//!
//! Fields are separated by any whitespace; blank lines are allowed; a malformed line is an error
//! naming the file, the line and the field; the same (query, document) pair twice is an error
//! naming both lines, as trec_eval refuses duplicate documents.

use crate::MetricsError;
use crate::ranking::{Run, ScoredDoc, sort_trec};
use crate::relevance::Qrels;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

fn open(path: &Path) -> Result<BufReader<std::fs::File>, MetricsError> {
    std::fs::File::open(path)
        .map(BufReader::new)
        .map_err(|source| MetricsError::Io {
            path: path.to_owned(),
            source,
        })
}

/// Calls `f(line_number, fields)` for every non-blank line.
fn for_each_line(
    path: &Path,
    mut f: impl FnMut(usize, &[&str]) -> Result<(), MetricsError>,
) -> Result<(), MetricsError> {
    let reader = open(path)?;
    for (i, line) in reader.lines().enumerate() {
        let line_no = i + 1;
        let line = line.map_err(|source| match source.kind() {
            std::io::ErrorKind::InvalidData => MetricsError::Malformed {
                path: path.to_owned(),
                line: line_no,
                field: "line",
                problem: "not valid UTF-8".into(),
            },
            _ => MetricsError::Io {
                path: path.to_owned(),
                source,
            },
        })?;
        // A byte-order mark (editors on Windows write one) is not part of the first query id.
        let text = if line_no == 1 {
            line.strip_prefix('\u{feff}').unwrap_or(&line)
        } else {
            &line
        };
        let fields: Vec<&str> = text.split_whitespace().collect();
        if !fields.is_empty() {
            f(line_no, &fields)?;
        }
    }
    Ok(())
}

struct Seen {
    path: PathBuf,
    first: HashMap<(String, String), usize>,
}

impl Seen {
    fn check(&mut self, line: usize, qid: &str, doc_id: &str) -> Result<(), MetricsError> {
        if let Some(&first_line) = self.first.get(&(qid.to_owned(), doc_id.to_owned())) {
            return Err(MetricsError::Duplicate {
                path: self.path.clone(),
                line,
                first_line,
                qid: qid.to_owned(),
                doc_id: doc_id.to_owned(),
            });
        }
        self.first.insert((qid.to_owned(), doc_id.to_owned()), line);
        Ok(())
    }
}

fn malformed(path: &Path, line: usize, field: &'static str, problem: String) -> MetricsError {
    MetricsError::Malformed {
        path: path.to_owned(),
        line,
        field,
        problem,
    }
}

/// Reads a qrels file.
pub fn read_qrels(path: impl AsRef<Path>) -> Result<Qrels, MetricsError> {
    let path = path.as_ref();
    let mut qrels = Qrels::new();
    let mut seen = Seen {
        path: path.to_owned(),
        first: HashMap::new(),
    };
    for_each_line(path, |line, fields| {
        if fields.len() != 4 {
            return Err(malformed(
                path,
                line,
                "fields",
                format!(
                    "expected 4 fields `qid iter docid rel`, found {}",
                    fields.len()
                ),
            ));
        }
        let rel: i64 = fields[3].parse().map_err(|_| {
            malformed(
                path,
                line,
                "rel",
                format!("{:?} is not an integer", fields[3]),
            )
        })?;
        seen.check(line, fields[0], fields[2])?;
        qrels
            .entry(fields[0].to_owned())
            .or_default()
            .insert(fields[2], rel);
        Ok(())
    })?;
    Ok(qrels)
}

/// Reads a run file; each query's documents come back in trec_eval's order.
pub fn read_run(path: impl AsRef<Path>) -> Result<Run, MetricsError> {
    let path = path.as_ref();
    let mut run = Run::new();
    let mut seen = Seen {
        path: path.to_owned(),
        first: HashMap::new(),
    };
    for_each_line(path, |line, fields| {
        if fields.len() != 6 {
            return Err(malformed(
                path,
                line,
                "fields",
                format!(
                    "expected 6 fields `qid Q0 docid rank score tag`, found {}",
                    fields.len()
                ),
            ));
        }
        fields[3].parse::<i64>().map_err(|_| {
            malformed(
                path,
                line,
                "rank",
                format!("{:?} is not an integer", fields[3]),
            )
        })?;
        let score: f64 = fields[4]
            .parse()
            .ok()
            .filter(|s: &f64| s.is_finite())
            .ok_or_else(|| {
                malformed(
                    path,
                    line,
                    "score",
                    format!("{:?} is not a finite number", fields[4]),
                )
            })?;
        seen.check(line, fields[0], fields[2])?;
        run.entry(fields[0].to_owned())
            .or_default()
            .push(ScoredDoc::new(fields[2], score));
        Ok(())
    })?;
    for docs in run.values_mut() {
        sort_trec(docs);
    }
    Ok(run)
}

/// Writes a run in trec_eval's order with ranks from 1, atomically (temp file, then rename).
pub fn write_run(path: impl AsRef<Path>, run: &Run, tag: &str) -> Result<(), MetricsError> {
    let path = path.as_ref();
    let io = |source| MetricsError::Io {
        path: path.to_owned(),
        source,
    };
    let tmp = path.with_extension("tmp-write");
    {
        let mut out = std::io::BufWriter::new(std::fs::File::create(&tmp).map_err(io)?);
        for (qid, docs) in run {
            let mut docs = docs.clone();
            sort_trec(&mut docs);
            for (rank, d) in docs.iter().enumerate() {
                writeln!(out, "{qid} Q0 {} {} {} {tag}", d.doc_id, rank + 1, d.score)
                    .map_err(io)?;
            }
        }
        out.into_inner()
            .map_err(|e| io(e.into_error()))?
            .sync_all()
            .map_err(io)?;
    }
    std::fs::rename(&tmp, path).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        f
    }

    #[test]
    fn reads_qrels_with_blank_lines() {
        let f = file("q1 0 d1 1\n\n  \nq1 0 d2 0\r\nq2 0 d1 2\n");
        let q = read_qrels(f.path()).unwrap();
        assert_eq!(q.len(), 2);
        assert_eq!(q["q1"].num_relevant(), 1);
        assert_eq!(q["q2"].grade("d1"), 2);
    }

    #[test]
    fn malformed_lines_name_file_line_and_field() {
        let f = file("q1 0 d1 1\nq1 0 d2 x\n");
        let err = read_qrels(f.path()).unwrap_err().to_string();
        assert!(err.contains(":2: rel:"), "{err}");
        let f = file("q1 Q0 d1 1 0.5 t\nq1 Q0 d2 2\n");
        let err = read_run(f.path()).unwrap_err().to_string();
        assert!(err.contains(":2: fields:"), "{err}");
        let f = file("q1 Q0 d1 1 nan t\n");
        assert!(
            read_run(f.path())
                .unwrap_err()
                .to_string()
                .contains(":1: score:")
        );
    }

    #[test]
    fn invalid_utf8_is_a_line_error() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(b"q1 0 d1 1\nq1 0 \xff 1\n").unwrap();
        let err = read_qrels(f.path()).unwrap_err().to_string();
        assert!(err.contains(":2: line: not valid UTF-8"), "{err}");
    }

    #[test]
    fn duplicates_are_reported_with_both_lines() {
        let f = file("q1 Q0 d1 1 0.5 t\nq1 Q0 d2 2 0.4 t\nq1 Q0 d1 3 0.3 t\n");
        let err = read_run(f.path()).unwrap_err();
        assert!(
            matches!(
                err,
                MetricsError::Duplicate {
                    line: 3,
                    first_line: 1,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn run_round_trips_in_trec_order() {
        let mut run = Run::new();
        run.insert(
            "q".into(),
            vec![ScoredDoc::new("a", 0.25), ScoredDoc::new("b", 0.5)],
        );
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("run.txt");
        write_run(&p, &run, "retune").unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert_eq!(text, "q Q0 b 1 0.5 retune\nq Q0 a 2 0.25 retune\n");
        assert_eq!(read_run(&p).unwrap(), {
            let mut r = run.clone();
            sort_trec(r.get_mut("q").unwrap());
            r
        });
    }

    #[test]
    fn a_byte_order_mark_is_not_part_of_the_first_query_id() {
        let q = file("\u{feff}q1 0 d1 1\nq2 0 d2 1\n");
        let r = file("\u{feff}q1 Q0 d1 1 0.5 t\n");
        let qrels = read_qrels(q.path()).unwrap();
        assert!(
            qrels.contains_key("q1") && qrels.contains_key("q2"),
            "{qrels:?}"
        );
        assert!(read_run(r.path()).unwrap().contains_key("q1"));
    }

    #[test]
    fn missing_file_names_the_path() {
        let err = read_qrels("/nonexistent/qrels.txt")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("/nonexistent/qrels.txt:"), "{err}");
    }
}
