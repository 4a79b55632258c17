//! `out[m x n] += x[m x k] * w[k x n]` with both inputs rounded to bf16 and f32 accumulation,
//! on AMX tiles. `w` is packed once ([`PackedWeights`], the layout of [`amx::pack_docs`] over
//! its columns); `x` is rounded per call. Work is split over blocks of 32 rows with rayon.
//!
//! Rounding both inputs to bf16 (8 significant bits) gives each product a relative error of
//! at most `2^-7`; the sums keep f32 precision. Callers choose it knowingly (the encoder's
//! `Engine::FusedBf16` states its measured parity).

use crate::amx::{self, PANEL, PANEL_SLICE, SLICE};
use rayon::prelude::*;

/// A `[k, n]` weight matrix as bf16 panels of 32 columns.
#[derive(Debug, Clone)]
pub struct PackedWeights {
    k: usize,
    n: usize,
    slices: usize,
    panels: Vec<u16>,
}

impl PackedWeights {
    /// Packs `w`, row-major `[k, n]`.
    pub fn pack(w: &[f32], k: usize, n: usize) -> Self {
        assert_eq!(w.len(), k * n, "weight shape");
        let mut columns = vec![0f32; n * k];
        for (i, row) in w.chunks_exact(n).enumerate() {
            for (j, &x) in row.iter().enumerate() {
                columns[j * k + i] = x;
            }
        }
        let slices = k.div_ceil(SLICE);
        Self {
            k,
            n,
            slices,
            panels: amx::pack_docs(&columns, k, slices),
        }
    }

    /// Rows (the inner dimension).
    pub fn k(&self) -> usize {
        self.k
    }

    /// Columns.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.panels.len() * 2
    }
}

/// `out[m x n] += x[m x k] * w` (`x`, `out` row-major). Panics unless [`amx::available`].
#[cfg(not(target_arch = "x86_64"))]
pub fn matmul_acc(_: &[f32], _: usize, _: &PackedWeights, _: &mut [f32]) {
    panic!("AMX is not available on this architecture");
}

/// `out[m x n] += x[m x k] * w` (`x`, `out` row-major). Panics unless [`amx::available`].
#[cfg(target_arch = "x86_64")]
pub fn matmul_acc(x: &[f32], m: usize, w: &PackedWeights, out: &mut [f32]) {
    let (k, n) = (w.k, w.n);
    assert!(
        x.len() == m * k && out.len() == m * n,
        "matmul shapes: x {} (m {m}, k {k}), out {} (n {n})",
        x.len(),
        out.len()
    );
    if m == 0 || n == 0 {
        return;
    }
    let width = w.slices * SLICE;
    let xb = amx::pack_queries(x, k, w.slices);
    let panel_len = w.slices * PANEL_SLICE;
    let panels = n.div_ceil(PANEL);
    out.par_chunks_mut(PANEL * n)
        .zip(xb.par_chunks(PANEL * width))
        .for_each(|(rows, a)| {
            let tiles = amx::Tiles::new();
            let here = rows.len() / n;
            let mut tmp = [0f32; 1024];
            for p in 0..panels {
                let b = &w.panels[p * panel_len..(p + 1) * panel_len];
                let cols = PANEL.min(n - p * PANEL);
                if here == PANEL && cols == PANEL {
                    tiles.block_acc(a, width, b, &mut rows[p * PANEL..], n);
                    continue;
                }
                tmp.fill(0.0);
                for r in 0..here {
                    let src = &rows[r * n + p * PANEL..r * n + p * PANEL + cols];
                    tmp[r * PANEL..r * PANEL + cols].copy_from_slice(src);
                }
                tiles.block_acc(a, width, b, &mut tmp, PANEL);
                for r in 0..here {
                    rows[r * n + p * PANEL..r * n + p * PANEL + cols]
                        .copy_from_slice(&tmp[r * PANEL..r * PANEL + cols]);
                }
            }
        });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::amx::{from_bf16, to_bf16};

    #[test]
    fn packs_the_columns_of_w() {
        let (k, n) = (3, 40);
        let w: Vec<f32> = (0..k * n).map(|i| (i % 200) as f32).collect();
        let p = PackedWeights::pack(&w, k, n);
        assert_eq!((p.k(), p.n(), p.bytes()), (3, 40, 2 * 2 * PANEL_SLICE));
        // Column 35 is doc 3 of panel 1's first tile; rows 0 and 1 of w are its first pair.
        let at = PANEL_SLICE + 2 * 3;
        assert_eq!(from_bf16(p.panels[at]), w[35]);
        assert_eq!(from_bf16(p.panels[at + 1]), w[n + 35]);
    }

    #[test]
    fn accumulates_bf16_products_into_out() {
        if !amx::available() {
            // Without AMX the product refuses to run (a panic, never an illegal instruction).
            let w = PackedWeights::pack(&[1.0; 64 * 32], 64, 32);
            let refused =
                std::panic::catch_unwind(|| matmul_acc(&[1.0; 64], 1, &w, &mut [0.0; 32]));
            assert!(refused.is_err());
            eprintln!("AMX not available here: the bf16 product is not exercised");
            return;
        }
        // Every edge: rows, columns and the inner dimension off the 32-blocks.
        for (m, k, n) in [(70, 96, 130), (32, 64, 64), (5, 40, 33), (1, 384, 1152)] {
            let x: Vec<f32> = (0..m * k)
                .map(|i| ((i * 7 % 13) as f32 - 6.0) / 7.0)
                .collect();
            let w: Vec<f32> = (0..k * n)
                .map(|i| ((i * 5 % 11) as f32 - 5.0) / 3.0)
                .collect();
            let mut out: Vec<f32> = (0..m * n).map(|i| (i % 3) as f32).collect();
            let start = out.clone();
            matmul_acc(&x, m, &PackedWeights::pack(&w, k, n), &mut out);
            let r = |v: f32| f64::from(from_bf16(to_bf16(v)));
            for i in 0..m {
                for j in 0..n {
                    let want: f64 = f64::from(start[i * n + j])
                        + (0..k)
                            .map(|t| r(x[i * k + t]) * r(w[t * n + j]))
                            .sum::<f64>();
                    let got = f64::from(out[i * n + j]);
                    assert!(
                        (got - want).abs() <= 1e-4 * (1.0 + want.abs()),
                        "{m}x{k}x{n} [{i},{j}]: {got} vs {want}"
                    );
                }
            }
        }
    }
}
