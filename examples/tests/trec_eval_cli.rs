//! The `trec-eval` binary: JSON output agrees with the reference values, errors name the line.

use std::io::Write;
use std::process::Command;

fn bin() -> Command {
    crate::support::retune("trec-eval")
}

#[test]
fn json_output_matches_trec_eval_reference() {
    let refs: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../fixtures/reference/trec_eval_cases.json"
        ))
        .expect("fixtures/reference/trec_eval_cases.json (scripts/make-reference.sh)"),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    for case in refs["cases"].as_array().unwrap().iter().take(12) {
        let (qp, rp) = (dir.path().join("qrels"), dir.path().join("run"));
        let mut q = std::fs::File::create(&qp).unwrap();
        for (qid, docs) in case["qrels"].as_object().unwrap() {
            for (d, g) in docs.as_object().unwrap() {
                writeln!(q, "{qid} 0 {d} {g}").unwrap();
            }
        }
        let mut r = std::fs::File::create(&rp).unwrap();
        for (qid, docs) in case["run"].as_object().unwrap() {
            for (i, (d, s)) in docs.as_object().unwrap().iter().enumerate() {
                writeln!(r, "{qid} Q0 {d} {} {} tag", i + 1, s).unwrap();
            }
        }
        let out = bin().arg(&qp).arg(&rp).arg("--json").output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        for (qid, values) in case["expected"].as_object().unwrap() {
            for (m, want) in values.as_object().unwrap() {
                let g = got["per_query"][qid][m].as_f64().unwrap();
                assert!(
                    (g - want.as_f64().unwrap()).abs() <= 1e-9,
                    "case {} {qid} {m}",
                    case["id"]
                );
            }
        }
        assert!(got["mean"]["ndcg@10"].is_number());
    }
}

#[test]
fn malformed_and_disjoint_inputs_fail_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let (qp, rp) = (dir.path().join("qrels"), dir.path().join("run"));
    std::fs::write(&qp, "q1 0 d1 1\n").unwrap();
    std::fs::write(&rp, "q1 Q0 d1 1 0.5 t\nq1 Q0 d2 two 0.4 t\n").unwrap();
    let out = bin().arg(&qp).arg(&rp).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("run:2: rank"), "{err}");
    std::fs::write(&rp, "q9 Q0 d1 1 0.5 t\n").unwrap();
    let out = bin().arg(&qp).arg(&rp).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("no query in common"));
    let out = bin()
        .arg(dir.path().join("absent"))
        .arg(&rp)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("absent"));
}
