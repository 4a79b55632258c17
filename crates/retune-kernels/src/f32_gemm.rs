//! The one safe wrapper around the `gemm` crate's f32 product (the kernels Burn's CPU backend
//! uses, with AVX-512 chosen at run time): shapes and strides checked once here, so callers
//! (the encoder's fused engine, exact search) hold no `unsafe`.

/// Below this many multiply-adds, [`Threads::Auto`] runs a product on the calling thread.
const PARALLEL_MIN: usize = 1 << 18;

/// One operand of a product: row-major data with the strides of the matrix as it enters the
/// product (a transposed view swaps them).
#[derive(Clone, Copy, Debug)]
pub struct View<'a> {
    data: &'a [f32],
    row_stride: usize,
    col_stride: usize,
}

impl<'a> View<'a> {
    /// `data` as a row-major matrix of `cols` columns.
    pub fn plain(data: &'a [f32], cols: usize) -> Self {
        Self {
            data,
            row_stride: cols,
            col_stride: 1,
        }
    }

    /// The transpose of `data` read as a row-major matrix of `cols` columns.
    pub fn transposed(data: &'a [f32], cols: usize) -> Self {
        Self {
            data,
            row_stride: 1,
            col_stride: cols,
        }
    }

    /// Whether every element of a `rows x cols` view lies inside `data`.
    fn fits(&self, rows: usize, cols: usize) -> bool {
        rows == 0
            || cols == 0
            || (rows - 1) * self.row_stride + (cols - 1) * self.col_stride < self.data.len()
    }
}

/// Where a product runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Threads {
    /// On the calling thread (the caller parallelizes around it).
    Caller,
    /// On rayon's pool when the product is large enough to pay for it.
    Auto,
}

/// `out[m x n] = (accumulate ? out : 0) + lhs[m x k] * rhs[k x n]`, `out` row-major.
///
/// # Panics
/// When `out` is not `m x n` or a view reaches outside its data.
pub fn product(
    (m, k, n): (usize, usize, usize),
    lhs: View<'_>,
    rhs: View<'_>,
    out: &mut [f32],
    accumulate: bool,
    threads: Threads,
) {
    assert!(
        out.len() == m * n && lhs.fits(m, k) && rhs.fits(k, n),
        "matmul shapes: m {m} k {k} n {n}, lhs {}, rhs {}, out {}",
        lhs.data.len(),
        rhs.data.len(),
        out.len()
    );
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            out.fill(0.0);
        }
        return;
    }
    let parallelism = if threads == Threads::Auto && m * n * k >= PARALLEL_MIN {
        gemm::Parallelism::Rayon(0)
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: the assert above keeps every element the product reads inside `lhs` and `rhs`
    // (the last element of each view is in bounds and strides are non-negative) and every
    // element it writes inside `out` (m x n, row stride n); `out` is a unique borrow distinct
    // from the two shared ones, so nothing aliases.
    #[allow(unsafe_code)]
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            out.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            lhs.data.as_ptr(),
            lhs.col_stride as isize,
            lhs.row_stride as isize,
            rhs.data.as_ptr(),
            rhs.col_stride as isize,
            rhs.row_stride as isize,
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
    fn products_and_transposes_match_a_naive_loop_on_either_thread_setting() {
        let (m, k, n) = (70, 96, 130);
        let x: Vec<f32> = (0..m * k)
            .map(|i| ((i * 7 % 13) as f32 - 6.0) / 8.0)
            .collect();
        let w: Vec<f32> = (0..n * k)
            .map(|i| ((i * 5 % 11) as f32 - 5.0) / 4.0)
            .collect();
        for threads in [Threads::Caller, Threads::Auto] {
            let mut out = vec![0.5f32; m * n];
            product(
                (m, k, n),
                View::plain(&x, k),
                View::transposed(&w, k),
                &mut out,
                true,
                threads,
            );
            for i in 0..m {
                for j in 0..n {
                    let want: f32 = 0.5 + (0..k).map(|p| x[i * k + p] * w[j * k + p]).sum::<f32>();
                    assert!((out[i * n + j] - want).abs() < 1e-3, "({i}, {j})");
                }
            }
        }
        let mut out = vec![7.0f32; 4];
        product(
            (2, 0, 2),
            View::plain(&[], 0),
            View::plain(&[], 2),
            &mut out,
            false,
            Threads::Auto,
        );
        assert_eq!(out, [0.0; 4]);
    }

    #[test]
    #[should_panic(expected = "matmul shapes")]
    fn a_view_outside_its_data_is_refused() {
        let mut out = vec![0.0f32; 4];
        product(
            (2, 3, 2),
            View::plain(&[1.0; 5], 3),
            View::plain(&[1.0; 6], 2),
            &mut out,
            false,
            Threads::Caller,
        );
    }
}
