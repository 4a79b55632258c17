//! Bad input never panics: truncated lines, invalid UTF-8, wrong types, missing fields, a 10 MB
//! line, CRLF endings and a BOM are each a clear error naming file, line and field, or handled.

use retune_data::{DataError, EvalItem, JsonlAppender, JsonlReader, ReadMode, read_jsonl};
use std::io::Write;

fn file(bytes: &[u8]) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(bytes).unwrap();
    f
}

const GOOD: &str = r#"{"input":"q","expected":["a"]}"#;

#[test]
fn crlf_bom_and_blank_lines_are_handled() {
    let text = format!("\u{feff}{GOOD}\r\n\r\n{GOOD}\r\n   \n{GOOD}");
    let f = file(text.as_bytes());
    let (items, bad) = read_jsonl::<EvalItem>(f.path(), ReadMode::Strict).unwrap();
    assert_eq!(items.len(), 3);
    assert!(bad.is_empty());
}

#[test]
fn errors_name_file_line_and_field() {
    let cases: [(&[u8], usize, &str); 5] = [
        (br#"{"input":"q","expected":"a"}"#, 2, "field `expected`"),
        (br#"{"input":"q"}"#, 2, "missing field `expected`"),
        (br#"{"input":7,"expected":[]}"#, 2, "field `input`"),
        (br#"{"input":"q","expected":["a""#, 2, "EOF while parsing"),
        (
            b"{\"input\":\"\xff\",\"expected\":[]}",
            2,
            "not valid UTF-8",
        ),
    ];
    for (bad_line, line, needle) in cases {
        let mut bytes = format!("{GOOD}\n").into_bytes();
        bytes.extend_from_slice(bad_line);
        bytes.extend_from_slice(format!("\n{GOOD}\n").as_bytes());
        let f = file(&bytes);
        let err = read_jsonl::<EvalItem>(f.path(), ReadMode::Strict).unwrap_err();
        let msg = err.to_string();
        let prefix = format!("{}:{line}:", f.path().display());
        assert!(msg.starts_with(&prefix) && msg.contains(needle), "{msg}");
        // Lenient mode skips the line, counts it and keeps the rest.
        let (items, bad) = read_jsonl::<EvalItem>(f.path(), ReadMode::Lenient).unwrap();
        assert_eq!((items.len(), bad.len(), bad[0].line), (2, 1, line));
    }
}

#[test]
fn strict_reader_stops_at_the_first_bad_line() {
    let f = file(format!("{GOOD}\nnot json\n{GOOD}\n").as_bytes());
    let results: Vec<_> = JsonlReader::<EvalItem>::open(f.path(), ReadMode::Strict)
        .unwrap()
        .collect();
    assert_eq!(results.len(), 2);
    assert!(results[0].is_ok() && results[1].is_err());
}

#[test]
fn ten_megabyte_line_is_read_or_refused_by_limit() {
    let big = "x".repeat(10 << 20);
    let f = file(format!("{{\"input\":\"{big}\",\"expected\":[\"a\"]}}\n{GOOD}\n").as_bytes());
    let (items, _) = read_jsonl::<EvalItem>(f.path(), ReadMode::Strict).unwrap();
    assert_eq!(items[0].input.len(), 10 << 20);
    let limited = JsonlReader::<EvalItem>::open(f.path(), ReadMode::Lenient)
        .unwrap()
        .with_max_line_bytes(1 << 20);
    let mut limited = limited;
    let rest: Vec<_> = limited.by_ref().collect::<Result<_, _>>().unwrap();
    assert_eq!(rest.len(), 1);
    assert!(matches!(
        limited.bad_lines()[0].error,
        DataError::LineTooLong { line: 1, .. }
    ));
}

#[test]
fn appender_sets_aside_a_crashed_partial_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("out.jsonl");
    std::fs::write(&p, format!("{GOOD}\n{{\"input\":\"half")).unwrap();
    let mut w = JsonlAppender::open(&p).unwrap();
    w.append(&EvalItem {
        input: "new".into(),
        expected: vec!["b".into()],
    })
    .unwrap();
    let (items, _) = read_jsonl::<EvalItem>(&p, ReadMode::Strict).unwrap();
    assert_eq!(
        items.iter().map(|i| i.input.as_str()).collect::<Vec<_>>(),
        ["q", "new"]
    );
    let partial = std::fs::read_to_string(dir.path().join("out.jsonl.partial")).unwrap();
    assert_eq!(partial, "{\"input\":\"half\n");
    // Reopening a clean file changes nothing.
    drop(w);
    JsonlAppender::open(&p).unwrap();
    assert_eq!(
        read_jsonl::<EvalItem>(&p, ReadMode::Strict)
            .unwrap()
            .0
            .len(),
        2
    );
}

#[test]
fn atomic_writer_replaces_whole_files() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("all.jsonl");
    let items = vec![
        EvalItem {
            input: "a".into(),
            expected: vec![]
        };
        3
    ];
    retune_data::write_jsonl_atomic(&p, &items).unwrap();
    retune_data::write_jsonl_atomic(&p, &items[..1]).unwrap();
    assert_eq!(
        read_jsonl::<EvalItem>(&p, ReadMode::Strict)
            .unwrap()
            .0
            .len(),
        1
    );
    let leftovers = std::fs::read_dir(dir.path()).unwrap().count();
    assert_eq!(leftovers, 1, "no temporary file is left behind");
}
