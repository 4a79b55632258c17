//! Parity with trec_eval: every value of every case in `fixtures/reference/trec_eval_cases.json`
//! (computed by pytrec_eval-terrier 0.5.11 in `scripts/make-reference.sh`) within 1e-9, through the in-memory API and through
//! the TREC file readers.

use retune_metrics::{
    Metric, MissingQueries, Qrels, Relevance, Run, ScoredDoc, evaluate_run, read_qrels, read_run,
};
use serde_json::Value;
use std::io::Write;
use std::path::PathBuf;

/// Tolerance: trec_eval computes in double precision, as we do; 1e-9 leaves room only for
/// summation-order differences.
const TOL: f64 = 1e-9;

fn reference() -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/reference/trec_eval_cases.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}. scripts/make-reference.sh writes it with trec_eval (pytrec_eval-terrier)",
            path.display()
        )
    });
    serde_json::from_str(&text).unwrap()
}

fn parse_case(case: &Value) -> (Qrels, Run) {
    let mut qrels = Qrels::new();
    for (q, docs) in case["qrels"].as_object().unwrap() {
        let rel = Relevance::graded(
            docs.as_object()
                .unwrap()
                .iter()
                .map(|(d, g)| (d.clone(), g.as_i64().unwrap())),
        );
        qrels.insert(q.clone(), rel);
    }
    let mut run = Run::new();
    for (q, docs) in case["run"].as_object().unwrap() {
        let docs = docs
            .as_object()
            .unwrap()
            .iter()
            .map(|(d, s)| ScoredDoc::new(d.clone(), s.as_f64().unwrap()))
            .collect();
        run.insert(q.clone(), docs);
    }
    (qrels, run)
}

fn check(case: &Value, qrels: &Qrels, run: &Run) -> usize {
    let expected = case["expected"].as_object().unwrap();
    let first = expected.values().next().unwrap().as_object().unwrap();
    let metrics: Vec<Metric> = first.keys().map(|k| k.parse().unwrap()).collect();
    let eval = evaluate_run(qrels, run, &metrics, MissingQueries::Skip).unwrap();
    assert_eq!(eval.per_query.len(), expected.len(), "case {}", case["id"]);
    let mut checked = 0;
    for (qid, values) in expected {
        let got = &eval.per_query[qid];
        for (m, g) in metrics.iter().zip(got) {
            let want = values[&m.to_string()].as_f64().unwrap();
            assert!(
                (g - want).abs() <= TOL,
                "case {} query {qid} {m}: got {g}, trec_eval {want}",
                case["id"]
            );
            checked += 1;
        }
    }
    checked
}

#[test]
fn every_reference_value_matches_in_memory() {
    let refs = reference();
    let cases = refs["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 40);
    let checked: usize = cases
        .iter()
        .map(|c| {
            let (q, r) = parse_case(c);
            check(c, &q, &r)
        })
        .sum();
    assert!(checked > 1000, "only {checked} values checked");
}

#[test]
fn every_reference_value_matches_through_trec_files() {
    let refs = reference();
    let dir = tempfile::tempdir().unwrap();
    for case in refs["cases"].as_array().unwrap() {
        let (q, r) = parse_case(case);
        let qp = dir.path().join("qrels");
        let rp = dir.path().join("run");
        let mut qf = std::fs::File::create(&qp).unwrap();
        for (qid, docs) in case["qrels"].as_object().unwrap() {
            for (d, g) in docs.as_object().unwrap() {
                writeln!(qf, "{qid} 0 {d} {g}").unwrap();
            }
        }
        retune_metrics::write_run(&rp, &r, "ref").unwrap();
        let (q2, r2) = (read_qrels(&qp).unwrap(), read_run(&rp).unwrap());
        assert_eq!(q, q2);
        check(case, &q2, &r2);
    }
}
