//! One test binary for metric invariants and trec_eval parity: each module below was its own
//! binary, and one link instead of 2 keeps a cold build's disk and link time down.

mod fuzz_readers;
mod invariants;
mod trec_eval_parity;
