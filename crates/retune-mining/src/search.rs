//! Exact top-k search by inner product (cosine for normalized embeddings).
//!
//! Queries are scored against the corpus in chunks of queries, in parallel, keeping only a
//! k-sized selection per query, so the full similarity matrix never exists in memory. Results
//! are sorted by score, descending, ties broken by the lower document index, so the same
//! input always gives the same ranking.

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

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The `k` best documents for every query, best first.
pub fn exact_top_k(queries: &[Vec<f32>], docs: &[Vec<f32>], k: usize) -> Vec<Vec<Hit>> {
    let k = k.min(docs.len());
    queries
        .par_iter()
        .map(|q| {
            let mut hits: Vec<Hit> = docs
                .iter()
                .enumerate()
                .map(|(doc, d)| Hit {
                    doc,
                    score: dot(q, d),
                })
                .collect();
            if k < hits.len() {
                hits.select_nth_unstable_by(k, better);
                hits.truncate(k);
            }
            hits.sort_by(better);
            hits
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
