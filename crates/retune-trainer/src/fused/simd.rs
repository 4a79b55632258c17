//! Element-wise kernels written so the compiler vectorizes them, compiled three times (AVX-512,
//! AVX2+FMA, baseline) and chosen once per process by what the CPU reports.
//!
//! `exp` and `erf` are branch-free polynomial approximations (Cephes' `expf`, relative error
//! about 1e-7; Abramowitz-Stegun 7.1.26 for erf, absolute error below 1.5e-7 plus f32 rounding),
//! so loops over them become SIMD code instead of one libm call per element. Sums keep 16
//! independent partial sums, which the compiler maps onto vector lanes.
//! Kernels use `mul_add`, one FMA instruction in the AVX2 and AVX-512 variants (on x86 CPUs
//! without FMA, the baseline variant, it is a slower library call).

/// Generates a safe function whose body is compiled for AVX-512, for AVX2+FMA and for the
/// baseline target, and which runs the best variant the CPU supports.
macro_rules! multiversion {
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident : $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        $(#[$meta])*
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            fn generic($($arg: $ty),*) $(-> $ret)? $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
                fn v4($($arg: $ty),*) $(-> $ret)? { generic($($arg),*) }
                #[target_feature(enable = "avx2,fma")]
                fn v3($($arg: $ty),*) $(-> $ret)? { generic($($arg),*) }
                match $crate::fused::simd::level() {
                    // SAFETY: `level()` reported that this CPU has every feature `v4` enables.
                    $crate::fused::simd::Level::V4 => {
                        #[allow(unsafe_code)]
                        return unsafe { v4($($arg),*) };
                    }
                    // SAFETY: as above, for `v3`'s features.
                    $crate::fused::simd::Level::V3 => {
                        #[allow(unsafe_code)]
                        return unsafe { v3($($arg),*) };
                    }
                    $crate::fused::simd::Level::Base => {}
                }
            }
            generic($($arg),*)
        }
    };
}
pub(crate) use multiversion;

/// The instruction sets this process uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Level {
    /// AVX-512 F + VL with AVX2 and FMA.
    V4,
    /// AVX2 and FMA.
    V3,
    /// The compile target's baseline.
    Base,
}

/// What this CPU supports, detected once.
pub(crate) fn level() -> Level {
    static LEVEL: std::sync::OnceLock<Level> = std::sync::OnceLock::new();
    *LEVEL.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            let v3 = is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma");
            if v3 && is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512vl") {
                return Level::V4;
            }
            if v3 {
                return Level::V3;
            }
        }
        Level::Base
    })
}

const LANES: usize = 16;

/// `e^x` for f32, branch-free (clamped to the finite range).
#[inline(always)]
pub(crate) fn exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const C1: f32 = 0.693_359_4;
    const C2: f32 = -2.121_944_4e-4;
    // 1.5 * 2^23: adding it rounds to the nearest integer and puts that integer in the low bits.
    const MAGIC: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 88.0);
    let t = x * LOG2E + MAGIC;
    let n = t - MAGIC;
    let r = x - n * C1 - n * C2;
    let mut p = 1.987_569_1e-4_f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 0.166_666_65;
    p = p * r + 0.5;
    let y = p * r * r + r + 1.0;
    let k = t.to_bits().wrapping_sub(MAGIC.to_bits()) as i32;
    y * f32::from_bits(((k + 127) as u32) << 23)
}

/// The error function, branch-free.
#[inline(always)]
pub(crate) fn erf(x: f32) -> f32 {
    let a = x.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * a);
    let poly = t
        * (0.254_829_6
            + t * (-0.284_496_74 + t * (1.421_413_8 + t * (-1.453_152 + t * 1.061_405_4))));
    let y = 1.0 - poly * exp(-a * a);
    y.copysign(x)
}

/// `tanh` from `exp`, branch-free.
#[inline(always)]
pub(crate) fn tanh(x: f32) -> f32 {
    let e = exp(2.0 * x.clamp(-15.0, 15.0));
    (e - 1.0) / (e + 1.0)
}

/// `sum_i a[i]`.
#[inline(always)]
pub(crate) fn sum(a: &[f32]) -> f32 {
    let mut acc = [0.0f32; LANES];
    let mut c = a.chunks_exact(LANES);
    for x in &mut c {
        for l in 0..LANES {
            acc[l] += x[l];
        }
    }
    acc.iter().sum::<f32>() + c.remainder().iter().sum::<f32>()
}

/// `sum_i (a[i] - mean)^2`.
#[inline(always)]
pub(crate) fn sum_sq_dev(a: &[f32], mean: f32) -> f32 {
    let mut acc = [0.0f32; LANES];
    let mut c = a.chunks_exact(LANES);
    for x in &mut c {
        for l in 0..LANES {
            let d = x[l] - mean;
            acc[l] += d * d;
        }
    }
    let tail: f32 = c.remainder().iter().map(|x| (x - mean) * (x - mean)).sum();
    acc.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_matches_std_across_the_range() {
        let mut worst = 0.0f32;
        for i in -8700..=8800 {
            let x = i as f32 / 100.0;
            let rel = ((exp(x) - x.exp()) / x.exp()).abs();
            worst = worst.max(rel);
        }
        assert!(worst < 3e-7, "worst relative error {worst}");
        assert_eq!(exp(-1000.0), exp(-87.0));
        assert!(exp(1000.0).is_finite());
    }

    #[test]
    fn erf_matches_reference_values() {
        // erf from Abramowitz-Stegun table 7.1 (10 digits).
        for (x, want) in [
            (0.0f32, 0.0f32),
            (0.1, 0.112_462_92),
            (0.5, 0.520_499_9),
            (1.0, 0.842_700_8),
            (1.5, 0.966_105_16),
            (2.0, 0.995_322_3),
            (3.0, 0.999_977_9),
        ] {
            assert!((erf(x) - want).abs() < 3e-7, "erf({x}) = {}", erf(x));
            assert!((erf(-x) + want).abs() < 3e-7);
        }
        assert_eq!(erf(10.0), 1.0);
    }

    #[test]
    fn tanh_matches_std() {
        for i in -200..=200 {
            let x = i as f32 / 20.0;
            assert!((tanh(x) - x.tanh()).abs() < 5e-7, "tanh({x})");
        }
    }

    #[test]
    fn reductions_match_naive_sums() {
        let a: Vec<f32> = (0..37).map(|i| (i as f32 * 0.37).sin()).collect();
        assert!((sum(&a) - a.iter().sum::<f32>()).abs() < 1e-5);
        let m = sum(&a) / 37.0;
        let sq: f32 = a.iter().map(|x| (x - m) * (x - m)).sum();
        assert!((sum_sq_dev(&a, m) - sq).abs() < 1e-5);
    }

    multiversion! {
        fn double_all(x: &mut [f32]) {
            for v in x.iter_mut() {
                *v *= 2.0;
            }
        }
    }

    #[test]
    fn multiversioned_functions_run_on_this_cpu() {
        let mut v = vec![1.0f32; 33];
        double_all(&mut v);
        assert!(v.iter().all(|&x| x == 2.0));
    }
}
