//! Exact top-k through a bf16 screen: every score is first computed from bf16 copies of the
//! vectors (AMX tiles, f32 accumulation), the candidates that could still be among the k best
//! are kept, and only those are scored again exactly, in f64 rounded to f32.
//!
//! Why it is exact: let `e` bound `|s~ - s|` for every pair, where `s~` is the screened score
//! and `s` the rescored one. When screening ends, let `t` be the k-th largest `s~`. Those k
//! documents have `s >= t - e`, so the k-th largest `s` is at least `t - e`, and every document
//! of the true top k (ties included) has `s~ >= s - e >= t - 2e`. Keeping every document with
//! `s~ >= t - 2e` therefore keeps the whole top k; the threshold only rises during the scan,
//! so pruning against the current one never drops a document the final one would keep.
//!
//! The bound, for `K` dimensions and unit roundoffs `u = 2^-8` (bf16) and `v = 2^-24` (f32):
//! rounding both inputs changes each product by at most `(2u + u^2) |q_i d_i|`; the products
//! of bf16 values are exact in f32 and K f32 additions add at most `γ_K (1 + u)^2 sum |q_i d_i|`
//! with `γ_K = K v / (1 - K v)`; the f64 rescore rounded to f32 is within `v |s| + K 2^-53
//! sum |q_i d_i|`. `sum |q_i d_i| <= |q| |d|` (Cauchy-Schwarz), so
//! `e = c_K |q| max|d|` with `c_K` the sum of those coefficients (plus 1% of slack and an
//! absolute 1e-30 for AMX's flushing of subnormals). For unit vectors of 384 dimensions
//! `2e` is about 0.016: on random vectors a few dozen candidates per query reach the rescore.

use super::{Hit, better};
use rayon::prelude::*;
use retune_kernels::amx::{self, PANEL, PANEL_SLICE, SLICE, pack_docs, pack_queries};

/// Rows of queries one task screens against the whole corpus (a multiple of 32).
const QUERY_GROUP: usize = 256;
/// Document panels (of 32) screened before moving to the next 32 queries: 512 documents,
/// 384 KB of packed bf16 at 384 dimensions, stay in the core's L2 cache.
const DOC_PANELS: usize = 16;
/// Inputs beyond this magnitude (or not finite) are left to the f32 path.
const MAX_ABS: f32 = 1e15;

/// Computes one 32 x 32 block of bf16 scores (the AMX tiles, or an emulation in tests).
pub(super) trait BlockScorer {
    /// `out[i * 32 + j]` = row i of `a` (32 rows of `width` bf16) times document j of the
    /// packed panel `b`.
    fn block(&self, a: &[u16], width: usize, b: &[u16], out: &mut [f32; 1024]);
}

#[cfg(target_arch = "x86_64")]
impl BlockScorer for amx::Tiles {
    fn block(&self, a: &[u16], width: usize, b: &[u16], out: &mut [f32; 1024]) {
        amx::Tiles::block(self, a, width, b, out);
    }
}

/// `c_K` of the module docs: `|s~ - s| <= c_K |q| |d|`.
fn error_coefficient(dim: usize) -> f64 {
    let (u, v) = (2f64.powi(-8), 2f64.powi(-24));
    let k = dim as f64;
    let gamma = k * v / (1.0 - k * v);
    let c = 2.0 * u + u * u + gamma * (1.0 + u).powi(2) + v + k * 2f64.powi(-53);
    c * 1.01
}

/// `x - y` rounded down to f32.
fn minus_down(x: f32, y: f64) -> f32 {
    let exact = f64::from(x) - y;
    let r = exact as f32;
    if f64::from(r) > exact {
        r.next_down()
    } else {
        r
    }
}

/// One query's candidates: every document whose screened score reached the cut.
struct Screen {
    k: usize,
    margin: f64,
    cut: f32,
    cands: Vec<(f32, u32)>,
    cap: usize,
}

impl Screen {
    fn new(k: usize, margin: f64) -> Self {
        Self {
            k,
            margin,
            cut: f32::NEG_INFINITY,
            cands: Vec::with_capacity(4 * k + 64),
            cap: 4 * k + 64,
        }
    }

    #[inline(always)]
    fn offer(&mut self, row: &[f32], first_doc: usize) {
        let cut = self.cut;
        if !row.iter().fold(false, |any, &s| any | (s >= cut)) {
            return;
        }
        for (j, &s) in row.iter().enumerate() {
            if s >= cut {
                self.cands.push((s, (first_doc + j) as u32));
            }
        }
        if self.cands.len() >= self.cap {
            self.prune();
        }
    }

    /// Raise the cut to (k-th best screened score) - 2e and drop what is below it.
    fn prune(&mut self) {
        if self.cands.len() >= self.k {
            let kth = self
                .cands
                .select_nth_unstable_by(self.k - 1, |a, b| b.0.total_cmp(&a.0))
                .1
                .0;
            self.cut = minus_down(kth, self.margin);
            let cut = self.cut;
            self.cands.retain(|c| c.0 >= cut);
        }
        self.cap = (2 * self.cands.len()).max(4 * self.k + 64);
    }

    /// The k best by the exact score, best first.
    fn finish(mut self, q: &[f32], docs: &[f32], dim: usize) -> Vec<Hit> {
        self.prune();
        let mut hits: Vec<Hit> = self
            .cands
            .iter()
            .map(|&(_, doc)| {
                let doc = doc as usize;
                Hit {
                    doc,
                    score: exact_dot(q, &docs[doc * dim..(doc + 1) * dim]),
                }
            })
            .collect();
        hits.sort_by(better);
        hits.truncate(self.k);
        hits
    }
}

/// The inner product in f64, rounded to f32 (f32 products are exact in f64).
pub(super) fn exact_dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| f64::from(x) * f64::from(y))
        .sum::<f64>() as f32
}

fn norm(v: &[f32]) -> f64 {
    v.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>().sqrt()
}

/// Offer a 32 x 32 block of screened scores to the screens of its rows.
#[inline(always)]
fn offer_block(screens: &mut [Screen], out: &[f32; 1024], cols: usize, first_doc: usize) {
    for (r, screen) in screens.iter_mut().enumerate() {
        screen.offer(&out[r * 32..r * 32 + cols], first_doc);
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn offer_block_avx512(screens: &mut [Screen], out: &[f32; 1024], cols: usize, first_doc: usize) {
    offer_block(screens, out, cols, first_doc);
}

fn offer_block_best(
    screens: &mut [Screen],
    out: &[f32; 1024],
    cols: usize,
    first_doc: usize,
    avx512: bool,
) {
    #[cfg(target_arch = "x86_64")]
    if avx512 {
        // SAFETY: `avx512` is true only when the CPU has AVX-512F (checked by the caller).
        #[allow(unsafe_code)]
        return unsafe { offer_block_avx512(screens, out, cols, first_doc) };
    }
    let _ = avx512;
    offer_block(screens, out, cols, first_doc);
}

#[cfg(target_arch = "x86_64")]
fn has_avx512f() -> bool {
    std::is_x86_feature_detected!("avx512f")
}

#[cfg(not(target_arch = "x86_64"))]
fn has_avx512f() -> bool {
    false
}

fn screenable(v: &[f32]) -> bool {
    v.par_chunks(1 << 16)
        .all(|c| c.iter().all(|x| x.is_finite() && x.abs() <= MAX_ABS))
}

/// The exact top k of every query, screened in bf16 by the scorers `make` builds (one per
/// task, on the thread that runs it); `None` when an input is not finite or too large for the
/// bound (or the corpus has more than `u32::MAX` documents), so the caller takes the f32 path.
pub(super) fn top_k<S: BlockScorer>(
    queries: &[f32],
    docs: &[f32],
    dim: usize,
    k: usize,
    make: &(dyn Fn() -> S + Sync),
) -> Option<Vec<Vec<Hit>>> {
    let (m, n) = (queries.len() / dim, docs.len() / dim);
    // Candidates hold u32 document indices.
    if u32::try_from(n).is_err() || !screenable(queries) || !screenable(docs) {
        return None;
    }
    let k = k.min(n);
    if k == 0 || m == 0 {
        return Some(vec![Vec::new(); m]);
    }
    let slices = dim.div_ceil(SLICE);
    let width = slices * SLICE;
    let packed_docs = pack_docs(docs, dim, slices);
    let packed_queries = pack_queries(queries, dim, slices);
    let doc_max = docs.par_chunks(dim).map(norm).reduce(|| 0.0, f64::max);
    let c = error_coefficient(dim);
    let panels = n.div_ceil(PANEL);
    let panel_len = slices * PANEL_SLICE;
    let avx512 = has_avx512f();
    let results = packed_queries
        .par_chunks(QUERY_GROUP * width)
        .enumerate()
        .flat_map_iter(|(g, group)| {
            let scorer = make();
            let first = g * QUERY_GROUP;
            let real = (group.len() / width).min(m - first);
            let mut screens: Vec<Screen> = (first..first + real)
                .map(|i| {
                    let q = &queries[i * dim..(i + 1) * dim];
                    Screen::new(k, 2.0 * c * norm(q) * doc_max + 1e-30)
                })
                .collect();
            let mut out = [0f32; 1024];
            for start in (0..panels).step_by(DOC_PANELS) {
                for (s, rows) in group.chunks(PANEL * width).enumerate() {
                    let live = &mut screens[(s * PANEL).min(real)..((s + 1) * PANEL).min(real)];
                    if live.is_empty() {
                        break;
                    }
                    for p in start..(start + DOC_PANELS).min(panels) {
                        let panel = &packed_docs[p * panel_len..(p + 1) * panel_len];
                        scorer.block(rows, width, panel, &mut out);
                        let cols = PANEL.min(n - p * PANEL);
                        offer_block_best(live, &out, cols, p * PANEL, avx512);
                    }
                }
            }
            drop(scorer);
            screens
                .into_iter()
                .enumerate()
                .map(move |(i, screen)| {
                    let q = &queries[(first + i) * dim..(first + i + 1) * dim];
                    screen.finish(q, docs, dim)
                })
                .collect::<Vec<_>>()
        })
        .collect();
    Some(results)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use retune_kernels::amx::from_bf16;

    /// The tile kernel's arithmetic in scalar code (bf16 products, f32 sums in order), so the
    /// screen is tested on every machine.
    pub struct Emulated;

    impl BlockScorer for Emulated {
        fn block(&self, a: &[u16], width: usize, b: &[u16], out: &mut [f32; 1024]) {
            for i in 0..32 {
                for j in 0..32 {
                    let (h, jj) = (j / 16, j % 16);
                    let mut acc = 0f32;
                    for k in 0..width {
                        let (c, r, t) = (k / SLICE, (k % SLICE) / 2, k % 2);
                        let bv = b[c * PANEL_SLICE + h * PANEL_SLICE / 2 + r * 32 + 2 * jj + t];
                        acc += from_bf16(a[i * width + k]) * from_bf16(bv);
                    }
                    out[i * 32 + j] = acc;
                }
            }
        }
    }

    #[test]
    fn coefficient_of_384_dimensions() {
        let c = error_coefficient(384);
        assert!(c > 2.0 * 2f64.powi(-8) && c < 0.0081, "{c}");
    }

    #[test]
    fn cut_rounds_down() {
        let x = 0.3f32;
        let cut = minus_down(x, 1e-9);
        assert!(f64::from(cut) <= f64::from(x) - 1e-9);
        assert_eq!(minus_down(1.0, 0.0), 1.0);
    }

    #[test]
    fn non_finite_inputs_go_to_the_f32_path() {
        let q = vec![f32::NAN, 0.0];
        let d = vec![1.0, 0.0];
        assert!(top_k(&q, &d, 2, 1, &|| Emulated).is_none());
        assert!(top_k(&d, &[1e20, 0.0], 2, 1, &|| Emulated).is_none());
    }
}
