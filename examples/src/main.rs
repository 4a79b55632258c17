//! `retune`: the command-line program. Every step is a subcommand of [`retune_examples::cli::Cli`].
//! An error prints as one line (its causes once each, outermost first) and exits with 1; the
//! backtrace follows only when `RUST_BACKTRACE` asks for it.

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    match retune_examples::cli::Cli::parse().run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", retune_examples::one_line(&e));
            if std::env::var_os("RUST_BACKTRACE").is_some_and(|v| v != "0") {
                eprintln!("{}", e.backtrace());
            }
            ExitCode::FAILURE
        }
    }
}
