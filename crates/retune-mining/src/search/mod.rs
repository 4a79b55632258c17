//! Exact top-k search by inner product (cosine for normalized embeddings).
//!
//! Queries are scored against the corpus block by block: a block of 256 queries times a block
//! of 4,096 documents is one matrix product by the `gemm` crate (the kernel Burn's CPU backend
//! uses), then each query keeps only its k best so far. Blocks of queries run in parallel, so
//! memory is the inputs plus one 4 MB score block per thread, never the full similarity matrix.
//! Results are sorted by score, descending, ties broken by the lower document index, so the
//! same input always gives the same ranking, whatever the block sizes.
//!
//! On CPUs with Intel AMX (Sapphire Rapids and later, on Linux) large searches take a faster
//! road with the same answer: every score is screened from bf16 copies on the AMX tiles, and
//! only the documents that a proven error bound cannot rule out are scored again exactly
//! (`screen`). [`Kernel`] chooses; [`Kernel::Auto`] takes AMX when the CPU and the system
//! allow it and the search has at least [`SCREEN_MIN_SCORES`] scores.

mod screen;

use retune_kernels::amx;
use retune_kernels::f32_gemm::{Threads, View, product};

use rayon::prelude::*;

/// Which kernel scores query-document blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Kernel {
    /// AMX screening for large searches where available, f32 `gemm` otherwise.
    #[default]
    Auto,
    /// f32 products through the `gemm` crate; scores are gemm's f32 sums.
    Gemm,
    /// bf16 screening on AMX tiles, then an exact rescore of the candidates; scores are the
    /// inner products computed in f64 and rounded to f32. Falls back to [`Kernel::Gemm`]
    /// where AMX is not available or an input is not finite.
    Amx,
}

/// Searches with fewer scores than this stay on `gemm` under [`Kernel::Auto`] (packing the
/// corpus into bf16 panels does not pay for itself below it).
pub const SCREEN_MIN_SCORES: usize = 1 << 22;

impl Kernel {
    /// The kernel a search of `queries x docs` scores actually runs on this machine.
    pub fn resolve(self, queries: usize, docs: usize) -> Kernel {
        match self {
            Kernel::Gemm => Kernel::Gemm,
            Kernel::Amx if amx::available() => Kernel::Amx,
            Kernel::Auto
                if amx::available() && queries.saturating_mul(docs) >= SCREEN_MIN_SCORES =>
            {
                Kernel::Amx
            }
            _ => Kernel::Gemm,
        }
    }

    /// Whether this process can run the AMX kernel.
    pub fn amx_available() -> bool {
        amx::available()
    }
}

/// One retrieved document.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    /// Index of the document in the corpus.
    pub doc: usize,
    /// Its score.
    pub score: f32,
}

fn better(a: &Hit, b: &Hit) -> std::cmp::Ordering {
    b.score.total_cmp(&a.score).then(a.doc.cmp(&b.doc))
}

const QUERY_BLOCK: usize = 256;
const DOC_BLOCK: usize = 4096;

/// `out[i * n + j] = sum_k q[i * dim + k] * d[j * dim + k]` for `m` queries and `n` documents.
fn scores_block(q: &[f32], d: &[f32], dim: usize, out: &mut [f32]) {
    let (m, n) = (q.len() / dim, d.len() / dim);
    assert!(
        q.len() == m * dim && d.len() == n * dim && out.len() == m * n,
        "block shapes"
    );
    // Blocks run in parallel already: each product stays on its thread.
    product(
        (m, dim, n),
        View::plain(q, dim),
        View::transposed(d, dim),
        out,
        false,
        Threads::Caller,
    );
}

/// Keeps the k best hits seen so far for one query.
struct TopK {
    k: usize,
    hits: Vec<Hit>,
    floor: f32,
}

impl TopK {
    fn new(k: usize) -> Self {
        Self {
            k,
            hits: Vec::with_capacity(2 * k + 1),
            floor: f32::NEG_INFINITY,
        }
    }

    fn offer(&mut self, doc: usize, score: f32) {
        // Documents arrive in index order, so an equal score later loses the tie: skip it.
        if self.hits.len() >= self.k && score <= self.floor {
            return;
        }
        self.hits.push(Hit { doc, score });
        if self.hits.len() >= 2 * self.k.max(1) {
            self.shrink();
        }
    }

    fn shrink(&mut self) {
        if self.hits.len() > self.k {
            self.hits.select_nth_unstable_by(self.k, better);
            self.hits.truncate(self.k);
        }
        if self.hits.len() == self.k {
            self.floor = self
                .hits
                .iter()
                .map(|h| h.score)
                .fold(f32::INFINITY, f32::min);
        }
    }

    fn finish(mut self) -> Vec<Hit> {
        self.shrink();
        self.hits.sort_by(better);
        self.hits
    }
}

/// The `k` best documents for every query, best first; `queries` and `docs` are row-major
/// matrices of `dim` columns. Runs on [`Kernel::Auto`].
pub fn exact_top_k_flat(queries: &[f32], docs: &[f32], dim: usize, k: usize) -> Vec<Vec<Hit>> {
    exact_top_k_flat_with(queries, docs, dim, k, Kernel::Auto)
}

/// [`exact_top_k_flat`] on a chosen kernel.
pub fn exact_top_k_flat_with(
    queries: &[f32],
    docs: &[f32],
    dim: usize,
    k: usize,
    kernel: Kernel,
) -> Vec<Vec<Hit>> {
    assert!(
        dim > 0 && queries.len().is_multiple_of(dim) && docs.len().is_multiple_of(dim),
        "inputs must be whole rows of {dim}"
    );
    #[cfg(target_arch = "x86_64")]
    if kernel.resolve(queries.len() / dim, docs.len() / dim) == Kernel::Amx
        && let Some(hits) = screen::top_k(queries, docs, dim, k, &amx::Tiles::new)
    {
        return hits;
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = kernel;
    gemm_top_k(queries, docs, dim, k)
}

fn gemm_top_k(queries: &[f32], docs: &[f32], dim: usize, k: usize) -> Vec<Vec<Hit>> {
    let n_docs = docs.len() / dim;
    let k = k.min(n_docs);
    queries
        .par_chunks(QUERY_BLOCK * dim)
        .flat_map_iter(|qb| {
            let m = qb.len() / dim;
            let mut tops: Vec<TopK> = (0..m).map(|_| TopK::new(k)).collect();
            let mut block = vec![0.0f32; m * DOC_BLOCK];
            for (b, db) in docs.chunks(DOC_BLOCK * dim).enumerate() {
                let n = db.len() / dim;
                let out = &mut block[..m * n];
                scores_block(qb, db, dim, out);
                for (i, top) in tops.iter_mut().enumerate() {
                    for (j, &s) in out[i * n..(i + 1) * n].iter().enumerate() {
                        top.offer(b * DOC_BLOCK + j, s);
                    }
                }
            }
            tops.into_iter().map(TopK::finish)
        })
        .collect()
}

/// The `k` best documents for every query, best first.
pub fn exact_top_k(queries: &[Vec<f32>], docs: &[Vec<f32>], k: usize) -> Vec<Vec<Hit>> {
    let Some(dim) = docs
        .first()
        .or(queries.first())
        .map(Vec::len)
        .filter(|&d| d > 0)
    else {
        return vec![Vec::new(); queries.len()];
    };
    let q: Vec<f32> = queries.iter().flat_map(|v| v.iter().copied()).collect();
    let d: Vec<f32> = docs.iter().flat_map(|v| v.iter().copied()).collect();
    exact_top_k_flat(&q, &d, dim, k)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn ranks_by_score_then_index() {
        let docs = vec![
            vec![1.0, 0.0],
            vec![0.0, 1.0],
            vec![1.0, 0.0],
            vec![0.6, 0.8],
        ];
        let hits = exact_top_k(&[vec![1.0, 0.0]], &docs, 3);
        let order: Vec<usize> = hits[0].iter().map(|h| h.doc).collect();
        assert_eq!(order, vec![0, 2, 3]);
        assert_eq!(exact_top_k(&[vec![0.0, 1.0]], &docs, 10)[0].len(), 4);
    }

    fn unit_rows(rng: &mut impl Rng, n: usize, dim: usize) -> Vec<f32> {
        let mut v: Vec<f32> = (0..n * dim)
            .map(|_| rng.random_range(-1.0f32..1.0))
            .collect();
        for row in v.chunks_mut(dim) {
            let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
            row.iter_mut().for_each(|x| *x /= norm);
        }
        v
    }

    /// The top k by `screen::exact_dot`, over every document.
    fn brute_force(q: &[f32], d: &[f32], dim: usize, k: usize) -> Vec<Vec<Hit>> {
        q.chunks(dim)
            .map(|qr| {
                let mut all: Vec<Hit> = d
                    .chunks(dim)
                    .enumerate()
                    .map(|(doc, dr)| Hit {
                        doc,
                        score: screen::exact_dot(qr, dr),
                    })
                    .collect();
                all.sort_by(better);
                all.truncate(k);
                all
            })
            .collect()
    }

    /// Shapes off every block size: queries and documents not multiples of 32, the dimension
    /// not a multiple of the 32-wide slice, k above and below the corpus size.
    const SHAPES: [(usize, usize, usize, usize); 5] = [
        (300, 1100, 72, 10),
        (33, 70, 384, 25),
        (5, 20, 30, 50),
        (64, 513, 40, 1),
        (1, 1, 1, 3),
    ];

    #[test]
    fn bf16_screen_equals_exact_brute_force() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        for (m, n, dim, k) in SHAPES {
            let (q, d) = (unit_rows(&mut rng, m, dim), unit_rows(&mut rng, n, dim));
            let got = screen::top_k(&q, &d, dim, k, &|| screen::tests::Emulated).unwrap();
            assert_eq!(got, brute_force(&q, &d, dim, k), "{m} x {n} x {dim}, k {k}");
        }
    }

    #[test]
    fn bf16_screen_keeps_near_ties_and_duplicates() {
        // Documents that differ from each other by less than bf16 can tell apart, many exact
        // duplicates, and vectors of any norm: the rescore decides, ties by index.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        let dim = 48;
        let base = unit_rows(&mut rng, 4, dim);
        let mut d = Vec::new();
        for i in 0..600 {
            let b = &base[(i % 4) * dim..(i % 4 + 1) * dim];
            let jitter = if i % 3 == 0 { 0.0 } else { 1e-4 };
            d.extend(
                b.iter()
                    .map(|&x| 2.5 * (x + jitter * rng.random_range(-1.0f32..1.0))),
            );
        }
        let q = unit_rows(&mut rng, 40, dim);
        let got = screen::top_k(&q, &d, dim, 30, &|| screen::tests::Emulated).unwrap();
        assert_eq!(got, brute_force(&q, &d, dim, 30));
    }

    #[test]
    fn amx_kernel_equals_exact_brute_force() {
        if !Kernel::amx_available() {
            eprintln!("AMX not available here: the AMX search is not exercised");
            assert_eq!(Kernel::Amx.resolve(10, 10), Kernel::Gemm);
            return;
        }
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(13);
        for (m, n, dim, k) in SHAPES.into_iter().chain([(700, 9000, 384, 10)]) {
            let (q, d) = (unit_rows(&mut rng, m, dim), unit_rows(&mut rng, n, dim));
            let got = exact_top_k_flat_with(&q, &d, dim, k, Kernel::Amx);
            assert_eq!(got, brute_force(&q, &d, dim, k), "{m} x {n} x {dim}, k {k}");
            // The f32 gemm path finds the same documents (scores agree to f32 rounding).
            let gemm = exact_top_k_flat_with(&q, &d, dim, k, Kernel::Gemm);
            for (a, b) in got.iter().zip(&gemm) {
                let ids = |h: &[Hit]| h.iter().map(|x| x.doc).collect::<Vec<_>>();
                assert_eq!(ids(a), ids(b));
                assert!(
                    a.iter()
                        .zip(b)
                        .all(|(x, y)| (x.score - y.score).abs() < 1e-5)
                );
            }
        }
    }

    #[test]
    fn auto_takes_gemm_for_small_searches() {
        assert_eq!(Kernel::Auto.resolve(66, 27), Kernel::Gemm);
        assert_eq!(Kernel::Gemm.resolve(1 << 20, 1 << 20), Kernel::Gemm);
    }

    #[test]
    fn blocked_gemm_search_equals_brute_force() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let dim = 24;
        // More than one block of each, with many exact ties (values from a small set).
        let q: Vec<f32> = (0..300 * dim)
            .map(|_| f32::from(rng.random_range(-2i8..3)) / 2.0)
            .collect();
        let d: Vec<f32> = (0..5000 * dim)
            .map(|_| f32::from(rng.random_range(-2i8..3)) / 2.0)
            .collect();
        let got = exact_top_k_flat(&q, &d, dim, 10);
        for (i, hits) in got.iter().enumerate().step_by(37) {
            let mut all: Vec<Hit> = (0..5000)
                .map(|j| Hit {
                    doc: j,
                    score: (0..dim).map(|t| q[i * dim + t] * d[j * dim + t]).sum(),
                })
                .collect();
            all.sort_by(better);
            assert_eq!(
                hits.iter().map(|h| h.doc).collect::<Vec<_>>(),
                all[..10].iter().map(|h| h.doc).collect::<Vec<_>>(),
                "query {i}"
            );
        }
    }
}
