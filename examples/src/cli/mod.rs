//! The heavier binaries' command lines and tasks. Each `src/bin` file is one line calling its
//! module's `main`: the binaries then instantiate none of the generic Burn code themselves,
//! and release builds compile it once here instead of once per binary (about 60-100 s each).

pub mod bench_train;
pub mod cohere_finetune;
pub mod embed;
pub mod finetune_reranker;
pub mod mine;
pub mod quickstart;
