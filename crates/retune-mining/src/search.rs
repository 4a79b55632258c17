//! Exact top-k search by inner product (cosine for normalized embeddings).
//!
//! Queries are scored against the corpus block by block: a block of 256 queries times a block
//! of 4,096 documents is one matrix product by the `gemm` crate (the kernel Burn's CPU backend
//! uses), then each query keeps only its k best so far. Blocks of queries run in parallel, so
//! memory is the inputs plus one 4 MB score block per thread, never the full similarity matrix.
//! Results are sorted by score, descending, ties broken by the lower document index, so the
//! same input always gives the same ranking, whatever the block sizes.

use rayon::prelude::*;

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
    if m == 0 || n == 0 {
        return;
    }
    // SAFETY: the asserts above bound every access: `q` is m x dim row-major (row stride dim,
    // column stride 1), `d` read as its transpose dim x n (row stride 1, column stride dim),
    // `out` is m x n row-major; the three slices are distinct borrows, so nothing aliases.
    #[allow(unsafe_code)]
    unsafe {
        gemm::gemm(
            m,
            n,
            dim,
            out.as_mut_ptr(),
            1,
            n as isize,
            false,
            q.as_ptr(),
            1,
            dim as isize,
            d.as_ptr(),
            dim as isize,
            1,
            0.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
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
/// matrices of `dim` columns.
pub fn exact_top_k_flat(queries: &[f32], docs: &[f32], dim: usize, k: usize) -> Vec<Vec<Hit>> {
    assert!(
        dim > 0 && queries.len().is_multiple_of(dim) && docs.len().is_multiple_of(dim),
        "inputs must be whole rows of {dim}"
    );
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
