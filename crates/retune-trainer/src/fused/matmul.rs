//! Matrix products of the fused path through the `gemm` crate (the kernels Burn's CPU backend
//! uses, with AVX-512 chosen at run time), accumulating into an output that already holds the
//! bias (and, where the model adds one, the residual), so neither costs a pass of its own.

/// Below this many multiply-adds a product runs on the calling thread.
const PARALLEL_MIN: usize = 1 << 18;

/// `out[m x n] += x[m x k] * w[k x n]`, every matrix row-major and contiguous.
pub(crate) fn matmul_acc(x: &[f32], w: &[f32], out: &mut [f32], m: usize, k: usize, n: usize) {
    assert!(
        x.len() == m * k && w.len() == k * n && out.len() == m * n,
        "matmul shapes: x {} (m {m} k {k}), w {} (n {n}), out {}",
        x.len(),
        w.len(),
        out.len()
    );
    if m == 0 || n == 0 || k == 0 {
        return;
    }
    let parallelism = if m * n * k >= PARALLEL_MIN {
        gemm::Parallelism::Rayon(0)
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: the assert above makes every access in bounds: `x` is m x k (row stride k,
    // column stride 1), `w` is k x n (row stride n), `out` is m x n (row stride n); `out` is a
    // unique borrow distinct from the two shared ones, so nothing aliases.
    #[allow(unsafe_code)]
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            out.as_mut_ptr(),
            1,
            n as isize,
            true,
            x.as_ptr(),
            1,
            k as isize,
            w.as_ptr(),
            1,
            n as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accumulates_the_product_into_out() {
        // [[1, 2], [3, 4], [5, 6]] x [[1, 0, 2], [0, 1, 3]] + 10
        let x = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let w = [1.0, 0.0, 2.0, 0.0, 1.0, 3.0];
        let mut out = [10.0f32; 9];
        matmul_acc(&x, &w, &mut out, 3, 2, 3);
        assert_eq!(out, [11.0, 12.0, 18.0, 13.0, 14.0, 28.0, 15.0, 16.0, 38.0]);
    }

    #[test]
    fn large_products_match_a_naive_loop() {
        let (m, k, n) = (70, 96, 130);
        let x: Vec<f32> = (0..m * k)
            .map(|i| ((i * 7 % 13) as f32 - 6.0) / 8.0)
            .collect();
        let w: Vec<f32> = (0..k * n)
            .map(|i| ((i * 5 % 11) as f32 - 5.0) / 4.0)
            .collect();
        let mut out = vec![0.5f32; m * n];
        matmul_acc(&x, &w, &mut out, m, k, n);
        for i in 0..m {
            for j in 0..n {
                let want: f32 = 0.5 + (0..k).map(|p| x[i * k + p] * w[p * n + j]).sum::<f32>();
                assert!((out[i * n + j] - want).abs() < 1e-3, "({i}, {j})");
            }
        }
    }
}
