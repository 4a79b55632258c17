//! The backends this build offers, named in one place so binaries choose without `#[cfg]` of
//! their own. [`Cpu`] is `flex` when that feature is on (the default), else `ndarray`;
//! [`CpuAutodiff`] wraps it for training. With the `cuda` feature, `Gpu` is Burn's CUDA backend.

#[cfg(not(any(feature = "flex", feature = "ndarray")))]
compile_error!("retune-trainer needs a CPU backend: enable feature `flex` (default) or `ndarray`");

/// The CPU backend of this build.
#[cfg(feature = "flex")]
pub type Cpu = burn::backend::Flex;
/// The CPU backend of this build.
#[cfg(all(feature = "ndarray", not(feature = "flex")))]
pub type Cpu = burn::backend::NdArray;

/// The `ndarray` backend, when built in.
#[cfg(feature = "ndarray")]
pub type NdArray = burn::backend::NdArray;

/// The CPU backend with automatic differentiation, for training.
pub type CpuAutodiff = burn::backend::Autodiff<Cpu>;

/// The CUDA backend.
#[cfg(feature = "cuda")]
pub type Gpu = burn::backend::Cuda;

/// The CUDA backend with automatic differentiation.
#[cfg(feature = "cuda")]
pub type GpuAutodiff = burn::backend::Autodiff<Gpu>;

/// The device type of [`Cpu`].
#[cfg(feature = "flex")]
pub type CpuDevice = burn::backend::flex::FlexDevice;
/// The device type of [`Cpu`].
#[cfg(all(feature = "ndarray", not(feature = "flex")))]
pub type CpuDevice = burn::backend::ndarray::NdArrayDevice;

/// The device of [`Cpu`].
pub fn cpu_device() -> CpuDevice {
    CpuDevice::default()
}

/// Name of the CPU backend of this build, for logs and benchmark tables.
pub fn cpu_backend_name() -> &'static str {
    if cfg!(feature = "flex") {
        if cfg!(feature = "x86-v4") {
            "flex+x86-v4"
        } else {
            "flex"
        }
    } else {
        "ndarray"
    }
}
