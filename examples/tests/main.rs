//! One test binary for the binaries, run as a user runs them: each module below was its own binary,
//! and one link instead of 8 keeps a cold build's disk and link time down.

mod cohere_finetune_cli;
mod finetune_cli;
mod generate_cli;
mod inputs_cli;
mod options_cli;
mod paths_cli;
mod quickstart_cli;
mod reranker_cli;
mod review_api;
mod review_browser;
mod serve_cli;
mod support;
mod trec_eval_cli;
