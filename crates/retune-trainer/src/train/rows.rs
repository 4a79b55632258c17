//! Row-sparse gradients of embedding tables, kept exact.
//!
//! A batch reads a few hundred rows of the word-embedding table (its token ids), so every
//! other row of that table's gradient is zero: about 95% of the 11.7M values of MiniLM's,
//! which is half the model. The fused path knows those rows, and hands them to the optimizer
//! as [`TouchedRows`], so that the global norm and AdamW skip the zeros with the **same bits**
//! as the dense computations:
//!
//! - The norm's partial sums run over 16 lanes per fixed chunk ([`sum_squares`]); a zero adds
//!   nothing to a lane, so summing only the touched rows' values into their own lanes, in
//!   index order, gives each chunk's partial sum exactly. A chunk with no touched row adds
//!   `+0.0` to the total, which changes nothing.
//! - AdamW on a row whose gradient and both moments are zero leaves the moments at zero and
//!   multiplies the row by `1 - lr * weight_decay` (torch's `p * keep - m / denom * step` with
//!   `m = 0`). So rows that never had a gradient ([`RowState`]) take that one product, and
//!   every other row the full update.

use rayon::prelude::*;

/// Values per partial sum of the gradient norm (fixed, so the norm has the same bits on
/// every run).
pub(crate) const NORM_CHUNK: usize = 1 << 15;

/// The rows of a matrix parameter (`[rows, width]`, row-major) whose gradient may be nonzero;
/// every other row's gradient is zero.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TouchedRows {
    /// Values per row.
    pub width: usize,
    /// Row indices, ascending and distinct.
    pub rows: Vec<usize>,
}

impl TouchedRows {
    /// The rows of `ids` (any order, repeats allowed) of a table `width` values wide.
    pub fn new(width: usize, mut ids: Vec<usize>) -> Self {
        ids.sort_unstable();
        ids.dedup();
        Self { width, rows: ids }
    }

    /// Whether these rows describe a buffer of `len` values: the width divides it and every
    /// row is inside. A hint that does not fit is not used (the dense path is always right).
    pub fn fits(&self, len: usize) -> bool {
        self.width > 0
            && len.is_multiple_of(self.width)
            && self.rows.last().is_none_or(|&r| r < len / self.width)
    }
}

super::super::fused::simd::multiversion! {
    /// The sum of squares of `x` in f64 (16 partial sums, which vectorize, then the tail).
    pub(crate) fn sum_squares(x: &[f32]) -> f64 {
        let mut acc = [0.0f64; 16];
        let mut chunks = x.chunks_exact(16);
        for c in &mut chunks {
            for (a, &v) in acc.iter_mut().zip(c) {
                *a += square(v);
            }
        }
        finish(&acc, chunks.remainder())
    }
}

#[inline(always)]
fn square(v: f32) -> f64 {
    f64::from(v) * f64::from(v)
}

/// A chunk's partial sum from its 16 lane sums and the values past the last full 16.
#[inline(always)]
fn finish(acc: &[f64; 16], tail: &[f32]) -> f64 {
    let rest: f64 = tail.iter().map(|&v| square(v)).sum();
    acc.iter().sum::<f64>() + rest
}

/// The partial sums of squares of `x` per [`NORM_CHUNK`] values, in order: every chunk's
/// when `touched` is `None`, else those of the chunks holding a touched row, each equal to
/// the dense one because every other value is zero.
pub(crate) fn chunk_sums(x: &[f32], touched: Option<&TouchedRows>) -> Vec<f64> {
    match touched {
        Some(t) if t.fits(x.len()) => touched_chunk_sums(x, t),
        _ => x.par_chunks(NORM_CHUNK).map(sum_squares).collect(),
    }
}

fn touched_chunk_sums(x: &[f32], t: &TouchedRows) -> Vec<f64> {
    let mut out = Vec::new();
    // Chunk `c`'s first value, the end of its full groups of 16 (its lanes), and its end.
    let bounds = |c: usize| {
        let start = c * NORM_CHUNK;
        let end = (start + NORM_CHUNK).min(x.len());
        (start, start + (end - start) / 16 * 16, end)
    };
    // The chunk being summed: its index and lane sums.
    let mut open: Option<(usize, [f64; 16])> = None;
    let close = |(c, acc): (usize, [f64; 16]), out: &mut Vec<f64>| {
        let (_, body, end) = bounds(c);
        out.push(finish(&acc, &x[body..end]));
    };
    for &r in &t.rows {
        let (mut i, end) = (r * t.width, (r + 1) * t.width);
        while i < end {
            let c = i / NORM_CHUNK;
            if open.is_some_and(|(o, _)| o != c) {
                close(open.take().expect("checked"), &mut out);
            }
            let (_, acc) = open.get_or_insert((c, [0.0; 16]));
            let (start, body, chunk_end) = bounds(c);
            let piece_end = end.min(chunk_end);
            // Values past the chunk's last full 16 are summed by `finish` from `x` itself.
            for (j, &v) in x[i..piece_end.min(body).max(i)].iter().enumerate() {
                acc[(i + j - start) % 16] += square(v);
            }
            i = piece_end;
        }
    }
    if let Some(o) = open {
        close(o, &mut out);
    }
    out
}

/// Which rows of one table have (or may have) nonzero AdamW moments.
#[derive(Debug, Clone)]
pub(crate) struct RowState {
    active: Vec<bool>,
}

impl RowState {
    /// The rows of moments `m` and `v` (`width` wide) holding any value other than `+0.0`.
    pub(crate) fn from_moments(m: &[f32], v: &[f32], width: usize) -> Self {
        let nonzero = |x: &[f32]| x.iter().any(|v| v.to_bits() != 0);
        let active = m
            .par_chunks(width)
            .zip(v.par_chunks(width))
            .map(|(m, v)| nonzero(m) || nonzero(v))
            .collect();
        Self { active }
    }

    /// Marks `rows` as updated from now on.
    pub(crate) fn touch(&mut self, rows: &[usize]) {
        for &r in rows {
            self.active[r] = true;
        }
    }

    /// Whether row `r` takes the full update.
    pub(crate) fn is_active(&self, r: usize) -> bool {
        self.active[r]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// A `[rows, width]` buffer that is zero outside the returned rows (some of which are
    /// zero too), with values of mixed magnitude.
    fn sparse(rows: usize, width: usize, seed: u64) -> (Vec<f32>, TouchedRows) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut x = vec![0.0f32; rows * width];
        let ids: Vec<usize> = (0..rows / 7).map(|_| rng.random_range(0..rows)).collect();
        for &r in &ids {
            if rng.random_bool(0.9) {
                for v in &mut x[r * width..(r + 1) * width] {
                    *v = rng.random_range(-1.0f32..1.0) * 10f32.powi(rng.random_range(-6..2));
                }
            }
        }
        (x, TouchedRows::new(width, ids))
    }

    fn total(partials: &[f64]) -> f64 {
        partials.iter().sum()
    }

    #[test]
    fn touched_rows_give_the_dense_norm_bit_for_bit() {
        // Rows that straddle lanes and chunks (width 37), a last chunk with a tail that is not
        // a multiple of 16, MiniLM's width, and a table inside one chunk.
        for (rows, width, seed) in [(2001, 37, 1), (2001, 37, 2), (300, 384, 3), (50, 16, 4)] {
            let (x, t) = sparse(rows, width, seed);
            let dense = total(&chunk_sums(&x, None));
            let hinted = total(&chunk_sums(&x, Some(&t)));
            assert_eq!(dense.to_bits(), hinted.to_bits(), "{rows}x{width}");
            assert!(dense > 0.0);
        }
        // No touched rows: zero, as the dense sum of zeros.
        let zeros = vec![0.0f32; 4000];
        let none = TouchedRows::new(40, Vec::new());
        assert_eq!(total(&chunk_sums(&zeros, Some(&none))), 0.0);
    }

    #[test]
    fn hints_that_do_not_fit_are_not_used() {
        let (x, mut t) = sparse(100, 8, 5);
        let dense = total(&chunk_sums(&x, None));
        t.width = 7;
        assert!(!t.fits(x.len()));
        assert_eq!(total(&chunk_sums(&x, Some(&t))).to_bits(), dense.to_bits());
        let outside = TouchedRows::new(8, vec![3, 100]);
        assert!(!outside.fits(x.len()));
        assert!(TouchedRows::new(8, vec![99]).fits(x.len()));
        assert_eq!(TouchedRows::new(4, vec![5, 1, 5, 3]).rows, [1, 3, 5]);
    }

    #[test]
    fn rows_with_any_nonzero_moment_are_active() {
        let (mut m, v) = (vec![0.0f32; 12], vec![0.0f32; 12]);
        m[5] = -0.0;
        let mut v = v;
        v[10] = 1e-30;
        let state = RowState::from_moments(&m, &v, 4);
        assert_eq!(
            (0..3).map(|r| state.is_active(r)).collect::<Vec<_>>(),
            [false, true, true]
        );
    }
}
