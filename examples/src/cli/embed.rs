//! `retune embed --model M --input IN.jsonl --output OUT.jsonl|OUT.parquet [--batch-size N]`:
//! one `{"text", "embedding"}` per input line, in input order (normalized when the model's
//! modules.json has Normalize). `retune bench encode` instead times encoding at batch 1, 8 and
//! 32 on the input texts and prints texts/s and tokens/s, for the Burn model and the fused CPU
//! path side by side (or only the one `--engine` names).

use crate::{BackendChoice, BackendTask, EngineChoice, dispatch, read_text_field};
use anyhow::Context;
use burn::tensor::backend::{AutodiffBackend, Backend};
use clap::Parser;
use retune_data::paths::Named;
use retune_data::{EmbeddingParquetWriter, EmbeddingRow, JsonlAppender};
use retune_trainer::{EncoderConfig, Engine, SentenceEncoder, Tokens};
use std::path::PathBuf;
use std::time::Instant;

/// Embed texts with a local model.
#[derive(Parser, Debug)]
pub struct EmbedArgs {
    /// Model folder or Hub id (looked up in the Hugging Face cache).
    #[arg(long)]
    model: String,
    /// JSONL input, one record per line.
    #[arg(long)]
    input: PathBuf,
    /// Output file: `.jsonl` or `.parquet` (text + embedding columns).
    #[arg(long, required = true)]
    output: Option<PathBuf>,
    /// Field of each input record holding the text.
    #[arg(long, default_value = "text")]
    field: String,
    /// Texts per forward pass.
    #[arg(long, default_value_t = 32, value_parser = crate::cli::ranges::at_least_one, allow_negative_numbers = true)]
    batch_size: usize,
    /// Texts held in memory at once while streaming.
    #[arg(long, default_value_t = 4096, value_parser = crate::cli::ranges::at_least_one, allow_negative_numbers = true)]
    chunk: usize,
    /// Time encoding instead of writing embeddings (set by `retune bench encode`).
    #[arg(skip)]
    bench: bool,
    /// Repetitions per batch size when timing.
    #[arg(skip = 3usize)]
    repeats: usize,
    /// Compute backend.
    #[arg(long, value_enum, default_value_t = BackendChoice::Cpu)]
    backend: BackendChoice,
    /// Inference engine: `auto` (fused on the CPU, Burn elsewhere), `burn` or `fused`.
    #[arg(long, value_enum, default_value_t = EngineChoice::Auto)]
    engine: EngineChoice,
}

/// Time encoding at batch 1, 8 and 32 on the input texts: texts/s and tokens/s for each engine.
#[derive(clap::Args, Debug)]
pub struct BenchEncodeArgs {
    /// Model folder or Hub id (looked up in the Hugging Face cache).
    #[arg(long)]
    model: String,
    /// JSONL input, one record per line.
    #[arg(long)]
    input: PathBuf,
    /// Field of each input record holding the text.
    #[arg(long, default_value = "text")]
    field: String,
    /// Repetitions per batch size.
    #[arg(long, default_value_t = 3)]
    repeats: usize,
    /// Compute backend.
    #[arg(long, value_enum, default_value_t = BackendChoice::Cpu)]
    backend: BackendChoice,
    /// Engines timed: `auto` times Burn and fused side by side (and fused-bf16 where the CPU
    /// has AMX); any other value times that one alone.
    #[arg(long, value_enum, default_value_t = EngineChoice::Auto)]
    engine: EngineChoice,
}

impl From<BenchEncodeArgs> for EmbedArgs {
    fn from(b: BenchEncodeArgs) -> Self {
        EmbedArgs {
            model: b.model,
            input: b.input,
            output: None,
            field: b.field,
            batch_size: 32,
            chunk: 4096,
            bench: true,
            repeats: b.repeats,
            backend: b.backend,
            engine: b.engine,
        }
    }
}

impl BackendTask for EmbedArgs {
    type Output = ();

    fn run<B: Backend, A: AutodiffBackend<InnerBackend = B>>(
        self,
        device: B::Device,
        _: A::Device,
    ) -> anyhow::Result<()> {
        if let Some(out) = &self.output {
            retune_data::paths::check_distinct(
                &[Named::new("--input", &self.input)],
                &[Named::new("--output", out)],
            )?;
        }
        let texts = read_text_field(&self.input, &self.field)?;
        let config = EncoderConfig::new(&self.model)
            .with_batch_size(self.batch_size)
            .with_engine(self.engine.into())
            .with_progress(true);
        let encoder = SentenceEncoder::<B>::load(&config, &device)
            .with_context(|| format!("loading {}", self.model))?;
        for u in &encoder.load_report.unused {
            eprintln!("note: unused tensor in checkpoint: {u}");
        }
        if self.bench {
            let fused = encoder.model_config.family().runs_fused();
            let engines = match self.engine {
                EngineChoice::Auto if !fused => vec![Engine::Burn],
                EngineChoice::Auto if retune_trainer::fused::FusedBert::bf16_available() => {
                    vec![Engine::Burn, Engine::Fused, Engine::FusedBf16]
                }
                EngineChoice::Auto => vec![Engine::Burn, Engine::Fused],
                one => vec![one.into()],
            };
            return bench(&encoder, &texts, self.repeats, &engines);
        }
        let output = self.output.context("--output is required")?;
        let parquet = output.extension().is_some_and(|e| e == "parquet");
        let mut rows_written = 0usize;
        let started = Instant::now();
        if parquet {
            let mut w = EmbeddingParquetWriter::create(&output)?;
            stream(&encoder, &texts, self.chunk, |rows| Ok(w.write(&rows)?))?;
            rows_written = w.finish()?;
        } else {
            if output.exists() {
                std::fs::remove_file(&output)
                    .with_context(|| format!("replacing {}", output.display()))?;
            }
            let mut w = JsonlAppender::open(&output)?;
            stream(&encoder, &texts, self.chunk, |rows| {
                for r in &rows {
                    w.append(r)?;
                }
                rows_written += rows.len();
                Ok(())
            })?;
        }
        eprintln!(
            "embedded {rows_written} texts in {:.1}s -> {}",
            started.elapsed().as_secs_f64(),
            output.display()
        );
        Ok(())
    }
}

fn stream<B: Backend>(
    encoder: &SentenceEncoder<B>,
    texts: &[String],
    chunk: usize,
    mut sink: impl FnMut(Vec<EmbeddingRow>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut offset = 0;
    encoder.encode_stream(texts.iter(), chunk, |embeddings| {
        let rows: Vec<EmbeddingRow> = embeddings
            .into_iter()
            .enumerate()
            .map(|(i, embedding)| EmbeddingRow {
                text: texts[offset + i].clone(),
                embedding,
            })
            .collect();
        offset += rows.len();
        sink(rows)
    })
}

fn bench<B: Backend>(
    encoder: &SentenceEncoder<B>,
    texts: &[String],
    repeats: usize,
    engines: &[Engine],
) -> anyhow::Result<()> {
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let tokens = encoder.tokenize(&refs, None)?;
    let real: usize = tokens.iter().map(|t| t.ids.len()).sum();
    println!(
        "| engine | batch | texts | tokens | seconds (best of {repeats}) | texts/s | tokens/s | padding |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for batch in [1usize, 8, 32] {
        for &engine in engines {
            let enc = encoder.clone().with_batch_size(batch).with_engine(engine)?;
            let _warm = enc.encode_tokens(&tokens[..batch.min(tokens.len())], None)?;
            let mut best = f64::INFINITY;
            for _ in 0..repeats.max(1) {
                let t = Instant::now();
                enc.encode_tokens(&tokens, None)?;
                best = best.min(t.elapsed().as_secs_f64());
            }
            let padded = if enc.uses_fused() {
                real
            } else {
                padded_tokens(&tokens, batch)
            };
            println!(
                "| {} | {batch} | {} | {real} | {best:.3} | {:.1} | {:.0} | {:.1}% |",
                match engine {
                    Engine::FusedBf16 if retune_trainer::fused::FusedBert::bf16_available() =>
                        "fused-bf16",
                    _ if enc.uses_fused() => "fused",
                    _ => "burn",
                },
                texts.len(),
                texts.len() as f64 / best,
                real as f64 / best,
                100.0 * (padded - real) as f64 / padded as f64
            );
        }
    }
    Ok(())
}

/// Tokens processed including padding when batches are formed longest-first.
fn padded_tokens(tokens: &[Tokens], batch: usize) -> usize {
    let mut lens: Vec<usize> = tokens.iter().map(|t| t.ids.len()).collect();
    lens.sort_unstable_by(|a, b| b.cmp(a));
    lens.chunks(batch).map(|c| c[0] * c.len()).sum()
}

/// Runs the subcommand.
pub fn run(args: EmbedArgs) -> anyhow::Result<()> {
    let backend = args.backend;
    dispatch(backend, args)
}
