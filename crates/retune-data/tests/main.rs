//! One test binary for bad input and seed rendering: each module below was its own binary, and one
//! link instead of 2 keeps a cold build's disk and link time down.

mod bad_input;
mod fuzz_readers;
mod seed_rendering;
