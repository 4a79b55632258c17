//! One test binary for the encoder, losses and training: each module below was its own binary, and
//! one link instead of 11 keeps a cold build's disk and link time down.

mod arch_parity;
mod cached_mnrl;
mod common;
mod course_suite;
mod cross_encoder;
mod cuda_parity;
mod divergence;
mod fused_parity;
mod fused_training;
mod fuzz_config;
mod grad_check;
mod hub;
mod loss_parity;
mod loss_sign;
mod minilm_parity;
mod modernbert_parity;
mod qwen3_parity;
mod tiny_encoder;
mod tiny_training;
