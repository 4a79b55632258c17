//! Copying a tensor's values to host memory as `f32`, whatever the backend's float type.

use crate::error::TrainerError;
use burn::tensor::{Tensor, backend::Backend};

/// The values of `t` in row-major order.
pub(crate) fn host_f32<B: Backend, const D: usize>(
    t: Tensor<B, D>,
) -> Result<Vec<f32>, TrainerError> {
    t.into_data()
        .convert::<f32>()
        .into_vec()
        .map_err(|source| TrainerError::TensorData { source })
}
