//! Applying a `Linear` to `[batch, seq, in]` as one `[batch * seq, in]` matrix product.
//!
//! Burn's `Linear` on a 3-D input broadcasts the weight into a batched matmul, which CPU backends
//! run as `batch` small products; flattening first gives the GEMM kernel one large product,
//! several times faster on the CPU and no slower on the GPU.

use burn::nn::Linear;
use burn::tensor::{Tensor, backend::Backend};

/// `x` `[batch, seq, in]` through `linear` to `[batch, seq, out]`.
pub(crate) fn linear3<B: Backend>(linear: &Linear<B>, x: Tensor<B, 3>) -> Tensor<B, 3> {
    let [batch, seq, din] = x.dims();
    let y = linear.forward(x.reshape([batch * seq, din]));
    let [_, dout] = y.dims();
    y.reshape([batch, seq, dout])
}
