//! No step writes over its input: each command that names the same file (by any spelling) as an
//! input and an output, or one file as two outputs, exits non-zero before writing, names both
//! options, and leaves the input byte for byte as it was.

use std::path::{Path, PathBuf};

fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(p)
}

/// Runs `retune STEP args`, expects a refusal naming `options`, and checks `input` is intact.
fn refused(step: &str, args: &[&std::ffi::OsStr], options: &[&str], input: &Path) {
    let before = std::fs::read(input).unwrap();
    let out = crate::support::retune(step).args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "retune {step} succeeded: {stderr}");
    assert!(
        stderr.contains("refusing to write"),
        "retune {step}: {stderr}"
    );
    for o in options {
        assert!(
            stderr.contains(o),
            "retune {step}: {o} not named in {stderr}"
        );
    }
    assert_eq!(
        std::fs::read(input).unwrap(),
        before,
        "retune {step}: input changed"
    );
}

#[test]
fn an_output_named_as_an_input_is_refused_by_every_step() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let tx = d.join("transactions.jsonl");
    std::fs::copy(repo("fixtures/domain/transactions.jsonl"), &tx).unwrap();
    let cats = d.join("categories.json");
    std::fs::copy(repo("fixtures/domain/categories.json"), &cats).unwrap();
    let dotted = d.join(".").join("transactions.jsonl");
    let os = |p: &Path| p.as_os_str().to_owned();
    let s = |x: &str| std::ffi::OsString::from(x);

    let args = [s("--input"), os(&tx), s("--output"), os(&dotted)];
    let refs: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    refused("review", &refs, &["--input", "--output"], &tx);

    let args = [
        s("--input"),
        os(&tx),
        s("--train"),
        os(&tx),
        s("--eval"),
        os(&d.join("e.jsonl")),
    ];
    let refs: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    refused("split", &refs, &["--input", "--train"], &tx);

    let t = d.join("t.jsonl");
    let args = [
        s("--input"),
        os(&tx),
        s("--train"),
        os(&t),
        s("--eval"),
        os(&t),
    ];
    let refs: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    refused("split", &refs, &["--train", "--eval"], &tx);
    assert!(!t.exists(), "nothing written");

    let model = repo("fixtures/tiny-bert");
    let args = [
        s("--model"),
        os(&model),
        s("--queries"),
        os(&tx),
        s("--corpus"),
        os(&cats),
        s("--output"),
        os(&tx),
        s("--strategy"),
        s("hard"),
    ];
    let refs: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    refused("mine", &refs, &["--queries", "--output"], &tx);

    let args = [
        s("--model"),
        os(&model),
        s("--input"),
        os(&tx),
        s("--output"),
        os(&tx),
    ];
    let refs: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    refused("embed", &refs, &["--input", "--output"], &tx);

    let args = [
        s("--categories"),
        os(&cats),
        s("--count"),
        s("1"),
        s("--output"),
        os(&cats),
    ];
    let refs: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    refused("generate", &refs, &["--categories", "--output"], &cats);

    let queries = d.join("metrics.json");
    std::fs::write(
        &queries,
        "{\"input\": \"Uber\", \"expected\": [\"Airfare\"]}\n",
    )
    .unwrap();
    let args = [
        s("--queries"),
        os(&queries),
        s("--corpus"),
        os(&cats),
        s("--model"),
        os(&model),
        s("--out"),
        os(d),
    ];
    let refs: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    refused("evaluate", &refs, &["--queries", "--out"], &queries);

    let train = d.join("cohere-train.jsonl");
    std::fs::copy(&queries, &train).unwrap();
    let args = [
        s("--train"),
        os(&train),
        s("--corpus"),
        os(&cats),
        s("--name"),
        s("n"),
        s("--dry-run"),
        s("--out"),
        os(d),
    ];
    let refs: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    refused("cohere-finetune", &refs, &["--train", "--out"], &train);
}

/// `finetune` refuses an `--output` that is its base model's folder or holds its training file.
#[test]
fn finetune_never_replaces_its_model_or_a_folder_holding_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("model");
    std::fs::create_dir(&model).unwrap();
    for f in std::fs::read_dir(repo("fixtures/tiny-bert")).unwrap() {
        let f = f.unwrap();
        if f.path().is_file() {
            std::fs::copy(f.path(), model.join(f.file_name())).unwrap();
        }
    }
    std::fs::write(
        model.join(".retune-output"),
        "marked, as a previous run leaves it\n",
    )
    .unwrap();
    let train = model.join("train.jsonl");
    std::fs::copy(repo("fixtures/domain/transactions.jsonl"), &train).unwrap();
    let run = crate::support::retune("finetune")
        .arg("--model")
        .arg(&model)
        .arg("--train")
        .arg(&train)
        .arg("--output")
        .arg(&model)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        !run.status.success() && stderr.contains("refusing to write"),
        "{stderr}"
    );
    assert!(train.is_file() && model.join("model.safetensors").is_file());
}
