//! Matrix products of the fused path (retune-kernels' one wrapper of the `gemm` crate),
//! accumulating into an output that already holds the bias (and, where the model adds one, the
//! residual), so neither costs a pass of its own.

use retune_kernels::f32_gemm::{Threads, View, product as gemm_product};

fn product(
    mkn: (usize, usize, usize),
    lhs: View<'_>,
    rhs: View<'_>,
    out: &mut [f32],
    accumulate: bool,
) {
    gemm_product(mkn, lhs, rhs, out, accumulate, Threads::Auto);
}

/// `out[m x n] += x[m x k] * w[k x n]`, every matrix row-major and contiguous.
pub(crate) fn matmul_acc(x: &[f32], w: &[f32], out: &mut [f32], m: usize, k: usize, n: usize) {
    assert!(
        x.len() == m * k && w.len() == k * n,
        "matmul_acc operand sizes"
    );
    product((m, k, n), View::plain(x, k), View::plain(w, n), out, true);
}

/// `out[m x n] += a^T * b` for `a` `[k x m]` and `b` `[k x n]` (a weight's gradient from the
/// layer's inputs `a` and output gradients `b`, summed over `k` rows).
pub(crate) fn matmul_tn_acc(a: &[f32], b: &[f32], out: &mut [f32], k: usize, m: usize, n: usize) {
    assert!(
        a.len() == k * m && b.len() == k * n,
        "matmul_tn_acc operand sizes"
    );
    product(
        (m, k, n),
        View::transposed(a, m),
        View::plain(b, n),
        out,
        true,
    );
}

/// `out[m x n] (+)= a * b^T` for `a` `[m x k]` and `b` `[n x k]` (a layer's input gradient
/// from its output gradients `a` and weights `b` `[in = n, out = k]`).
pub(crate) fn matmul_nt(
    a: &[f32],
    b: &[f32],
    out: &mut [f32],
    (m, k, n): (usize, usize, usize),
    accumulate: bool,
) {
    assert!(
        a.len() == m * k && b.len() == n * k,
        "matmul_nt operand sizes"
    );
    product(
        (m, k, n),
        View::plain(a, k),
        View::transposed(b, k),
        out,
        accumulate,
    );
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

    #[test]
    fn transposed_products_match_a_naive_loop() {
        let (m, k, n) = (37, 150, 29);
        let a: Vec<f32> = (0..k * m)
            .map(|i| ((i * 3 % 17) as f32 - 8.0) / 8.0)
            .collect();
        let b: Vec<f32> = (0..k * n)
            .map(|i| ((i * 7 % 19) as f32 - 9.0) / 8.0)
            .collect();
        let mut tn = vec![1.0f32; m * n];
        matmul_tn_acc(&a, &b, &mut tn, k, m, n);
        // a as [m x k] times b^T with b as [n x k]
        let a2: Vec<f32> = (0..m * k)
            .map(|i| ((i * 5 % 13) as f32 - 6.0) / 4.0)
            .collect();
        let b2: Vec<f32> = (0..n * k)
            .map(|i| ((i * 11 % 23) as f32 - 11.0) / 4.0)
            .collect();
        let mut nt = vec![5.0f32; m * n];
        matmul_nt(&a2, &b2, &mut nt, (m, k, n), false);
        for i in 0..m {
            for j in 0..n {
                let want: f32 = 1.0 + (0..k).map(|p| a[p * m + i] * b[p * n + j]).sum::<f32>();
                assert!((tn[i * n + j] - want).abs() < 1e-3, "tn ({i}, {j})");
                let want: f32 = (0..k).map(|p| a2[i * k + p] * b2[j * k + p]).sum::<f32>();
                assert!((nt[i * n + j] - want).abs() < 1e-3, "nt ({i}, {j})");
            }
        }
    }
}
