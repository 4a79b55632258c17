//! `retune`: the command-line program. Every step is a subcommand of [`retune_examples::cli::Cli`].

use clap::Parser;

fn main() -> anyhow::Result<()> {
    retune_examples::cli::Cli::parse().run()
}
