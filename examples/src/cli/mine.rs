//! `retune mine --model M --queries train.jsonl --corpus C --output OUT.jsonl --strategy hard|semi-hard|random|range
//! [--num-negatives N] [--range A-B] [--margin F] [--format triplet|n-tuple|cohere|labeled-pair]`:
//! negatives for each query from the base model's similarities. Queries are the course format
//! (`{input, expected}`: every expected document is a positive). Embeddings are cached in
//! Parquet under `--cache-dir`, keyed by model and text, so a rerun embeds nothing again.

use crate::cache::embed_cached;
use crate::{BackendChoice, BackendTask, dispatch};
use anyhow::{Context, bail};
use burn::tensor::backend::{AutodiffBackend, Backend};
use clap::{Parser, ValueEnum};
use retune_data::paths::Named;
use retune_data::{
    CohereRerankItem, EvalItem, LabeledPair, NTuple, ReadMode, Triplet, load_corpus, read_jsonl,
    write_jsonl_atomic,
};
use retune_mining::{MiningConfig, Sampling, Strategy, mine_negatives};
use retune_trainer::{EncoderConfig, SentenceEncoder};
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum StrategyName {
    Hard,
    SemiHard,
    Random,
    Range,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Triplet,
    NTuple,
    Cohere,
    LabeledPair,
}

/// Mine negatives for retrieval training.
#[derive(Parser, Debug)]
pub struct MineArgs {
    /// Model that scores the candidates.
    #[arg(long)]
    model: String,
    /// Queries in the course format.
    #[arg(long)]
    queries: PathBuf,
    /// Documents: categories.json or JSONL {id?, text}.
    #[arg(long)]
    corpus: PathBuf,
    /// Output JSONL (replaced atomically).
    #[arg(long)]
    output: PathBuf,
    /// Window strategy.
    #[arg(long, value_enum, default_value_t = StrategyName::Hard)]
    strategy: StrategyName,
    /// Negatives per query.
    #[arg(long, default_value_t = 3, value_parser = crate::cli::ranges::at_least_one, allow_negative_numbers = true)]
    num_negatives: usize,
    /// Rank window for `range`, e.g. 2-200.
    #[arg(long, default_value = "2-200")]
    range: String,
    /// Semi-hard window width; for other strategies, the absolute false-negative margin.
    #[arg(long, value_parser = crate::cli::ranges::non_negative_f32, allow_negative_numbers = true)]
    margin: Option<f32>,
    /// Relative false-negative margin (drop candidates above positive * (1 - m)).
    #[arg(long, value_parser = crate::cli::ranges::non_negative_f32, allow_negative_numbers = true)]
    relative_margin: Option<f32>,
    /// Pick randomly within the window instead of the top.
    #[arg(long)]
    random_sampling: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Triplet)]
    format: Format,
    /// Seed of random sampling.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Embedding cache folder.
    #[arg(long, default_value = ".retune-cache/embeddings")]
    cache_dir: PathBuf,
    /// Compute backend.
    #[arg(long, value_enum, default_value_t = BackendChoice::Cpu)]
    backend: BackendChoice,
}

impl MineArgs {
    fn config(&self) -> anyhow::Result<MiningConfig> {
        let strategy = match self.strategy {
            StrategyName::Hard => Strategy::Hard,
            StrategyName::Random => Strategy::Random,
            StrategyName::SemiHard => Strategy::SemiHard {
                margin: self.margin.unwrap_or(0.1),
            },
            StrategyName::Range => {
                let (a, b) = self
                    .range
                    .split_once('-')
                    .context("--range is A-B, e.g. 2-200")?;
                let (min, max): (usize, usize) = (
                    a.trim().parse().context("--range start")?,
                    b.trim().parse().context("--range end")?,
                );
                if min >= max {
                    bail!("--range {}: the start must be below the end", self.range);
                }
                Strategy::Range { min, max }
            }
        };
        let mut c = MiningConfig::new(strategy, self.num_negatives);
        c.seed = self.seed;
        c.sampling = if self.random_sampling {
            Sampling::Random
        } else {
            Sampling::Top
        };
        if self.strategy != StrategyName::SemiHard {
            c.absolute_margin = self.margin;
        }
        c.relative_margin = self.relative_margin;
        Ok(c)
    }
}

impl BackendTask for MineArgs {
    type Output = ();

    fn run<B: Backend, A: AutodiffBackend<InnerBackend = B>>(
        self,
        device: B::Device,
        _: A::Device,
    ) -> anyhow::Result<()> {
        let config = self.config()?;
        retune_data::paths::check_distinct(
            &[
                Named::new("--queries", &self.queries),
                Named::new("--corpus", &self.corpus),
            ],
            &[Named::new("--output", &self.output)],
        )?;
        let (queries, _) = read_jsonl::<EvalItem>(&self.queries, ReadMode::Strict)?;
        let corpus = load_corpus(&self.corpus)?;
        let texts: Vec<&str> = corpus.iter().map(|d| d.text.as_str()).collect();
        let mut positives = Vec::with_capacity(queries.len());
        for (i, q) in queries.iter().enumerate() {
            let p: Vec<usize> = q
                .expected
                .iter()
                .filter_map(|e| corpus.iter().position(|d| d.key() == e || d.text == *e))
                .collect();
            if p.is_empty() {
                bail!(
                    "{}:{}: field `expected`: none of {:?} is in the corpus {}",
                    self.queries.display(),
                    i + 1,
                    q.expected,
                    self.corpus.display()
                );
            }
            positives.push(p);
        }
        let encoder = SentenceEncoder::<B>::load(
            &EncoderConfig::new(&self.model).with_progress(true),
            &device,
        )?;
        let anchors: Vec<&str> = queries.iter().map(|q| q.input.as_str()).collect();
        let (q, new_q) = embed_cached(&encoder, &anchors, Some(&self.cache_dir))?;
        let (d, new_d) = embed_cached(&encoder, &texts, Some(&self.cache_dir))?;
        eprintln!(
            "embedded {} new texts ({} from the cache)",
            new_q + new_d,
            anchors.len() + texts.len() - new_q - new_d
        );
        let mined = mine_negatives(&q, &d, &texts, &positives, &config);
        let short: Vec<usize> = mined
            .iter()
            .enumerate()
            .filter(|(_, m)| m.shortfall > 0)
            .map(|(i, _)| i + 1)
            .collect();
        if !short.is_empty() {
            eprintln!(
                "note: {} queries got fewer than {} negatives (lines {:?}{})",
                short.len(),
                self.num_negatives,
                &short[..short.len().min(10)],
                if short.len() > 10 { ", ..." } else { "" }
            );
        }
        let pos_text = |i: usize| corpus[positives[i][0]].text.clone();
        let neg_texts = |m: &retune_mining::Mined| -> Vec<String> {
            m.negatives
                .iter()
                .map(|&n| corpus[n].text.clone())
                .collect()
        };
        let n = match self.format {
            Format::Triplet => {
                let rows: Vec<Triplet> = mined
                    .iter()
                    .enumerate()
                    .flat_map(|(i, m)| neg_texts(m).into_iter().map(move |neg| (i, neg)))
                    .map(|(i, negative)| Triplet {
                        anchor: queries[i].input.clone(),
                        positive: pos_text(i),
                        negative,
                    })
                    .collect();
                write_jsonl_atomic(&self.output, &rows)?;
                rows.len()
            }
            Format::NTuple => {
                let rows: Vec<NTuple> = mined
                    .iter()
                    .enumerate()
                    .map(|(i, m)| NTuple {
                        anchor: queries[i].input.clone(),
                        positive: pos_text(i),
                        negatives: neg_texts(m),
                    })
                    .collect();
                write_jsonl_atomic(&self.output, &rows)?;
                rows.len()
            }
            Format::Cohere => {
                let rows: Vec<CohereRerankItem> = mined
                    .iter()
                    .enumerate()
                    .map(|(i, m)| CohereRerankItem {
                        query: queries[i].input.clone(),
                        relevant_passages: positives[i]
                            .iter()
                            .map(|&p| corpus[p].text.clone())
                            .collect(),
                        hard_negatives: neg_texts(m),
                    })
                    .collect();
                write_jsonl_atomic(&self.output, &rows)?;
                rows.len()
            }
            Format::LabeledPair => {
                let mut rows = Vec::new();
                for (i, m) in mined.iter().enumerate() {
                    rows.push(LabeledPair {
                        query: queries[i].input.clone(),
                        document: pos_text(i),
                        label: 1.0,
                    });
                    rows.extend(neg_texts(m).into_iter().map(|document| LabeledPair {
                        query: queries[i].input.clone(),
                        document,
                        label: 0.0,
                    }));
                }
                write_jsonl_atomic(&self.output, &rows)?;
                rows.len()
            }
        };
        eprintln!("wrote {n} records to {}", self.output.display());
        Ok(())
    }
}

/// Runs the subcommand.
pub fn run(args: MineArgs) -> anyhow::Result<()> {
    let backend = args.backend;
    dispatch(backend, args)
}
