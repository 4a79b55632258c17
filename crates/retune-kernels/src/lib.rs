//! CPU kernels that more than one retune crate needs and no maintained crate provides: bf16
//! matrix products on Intel AMX tiles (Sapphire Rapids and later, on Linux), used by
//! retune-mining's screened exact search and by the encoder's optional bf16 inference path.
//! Everything here answers [`amx::available`] first; callers keep their f32 path for every
//! other CPU.
#![warn(missing_docs)]

pub mod amx;
pub mod bf16_gemm;
