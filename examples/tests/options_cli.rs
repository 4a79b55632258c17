//! Numeric options out of their range are refused at parse time, before any file is read, with
//! the option, the value and the range; negative numbers parse as numbers.

#[test]
fn settings_that_make_no_sense_are_refused_with_their_range() {
    let cases: &[(&str, &[&str], &str)] = &[
        ("finetune", &["--epochs", "0"], "must be at least 1"),
        ("finetune", &["--lr", "-1"], "must be above 0, got -1"),
        ("finetune", &["--lr", "NaN"], "not a finite number"),
        ("finetune", &["--warmup-ratio", "5"], "between 0 and 1"),
        ("finetune", &["--batch-size", "0"], "must be at least 1"),
        ("finetune", &["--margin", "NaN"], "not a finite number"),
        ("mine", &["--num-negatives", "0"], "must be at least 1"),
        ("mine", &["--margin", "NaN"], "not a finite number"),
        ("generate", &["--temperature", "NaN"], "not a finite number"),
        ("generate", &["--concurrency", "0"], "must be at least 1"),
        ("evaluate", &["--top", "0"], "must be at least 1"),
        ("split", &["--eval-ratio", "1"], "below 1"),
        ("finetune-reranker", &["--lr", "0"], "must be above 0"),
    ];
    let required: &[(&str, &[&str])] = &[
        (
            "finetune",
            &["--model", "m", "--train", "t", "--output", "o"],
        ),
        (
            "mine",
            &[
                "--model",
                "m",
                "--queries",
                "q",
                "--corpus",
                "c",
                "--output",
                "o",
                "--strategy",
                "hard",
            ],
        ),
        (
            "generate",
            &["--categories", "c", "--count", "1", "--output", "o"],
        ),
        (
            "evaluate",
            &["--queries", "q", "--corpus", "c", "--model", "m"],
        ),
        ("split", &["--input", "i", "--train", "t", "--eval", "e"]),
        (
            "finetune-reranker",
            &[
                "--model", "m", "--train", "t", "--corpus", "c", "--output", "o",
            ],
        ),
    ];
    for (step, bad, why) in cases {
        let base = required.iter().find(|(s, _)| s == step).unwrap().1;
        let out = crate::support::retune(step)
            .args(base)
            .args(*bad)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(2),
            "retune {step} {bad:?}: {stderr}"
        );
        assert!(
            stderr.contains(bad[0]) && stderr.contains(why),
            "retune {step} {bad:?}: {stderr}"
        );
    }
}
