//! `make-fixtures [--out DIR]`: regenerates the tiny random BERT of `fixtures/tiny-bert`.

use clap::Parser;
use std::path::PathBuf;

/// Regenerate the project's own test fixtures (deterministic: the same bytes every run).
#[derive(Parser, Debug)]
pub struct MakeFixturesArgs {
    /// Where to write the tiny model.
    #[arg(long, default_value = "fixtures/tiny-bert")]
    out: PathBuf,
}

/// Runs the subcommand.
pub fn run(args: MakeFixturesArgs) -> anyhow::Result<()> {
    retune_trainer::fixture::write_tiny_bert(&args.out, 0)?;
    eprintln!("wrote the tiny BERT to {}", args.out.display());
    Ok(())
}
