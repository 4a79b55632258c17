//! CPU kernels that more than one retune crate needs: bf16 matrix products on Intel AMX tiles
//! (Sapphire Rapids and later, on Linux), used by retune-mining's screened exact search and by
//! the encoder's optional bf16 inference path (they answer [`amx::available`] first; callers
//! keep their f32 path for every other CPU), and the one safe wrapper of the `gemm` crate's f32
//! product ([`f32_gemm`]) that both crates' f32 paths call.
#![warn(missing_docs)]

pub mod amx;
pub mod bf16_gemm;
pub mod f32_gemm;
