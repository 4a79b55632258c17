//! Re-ranking a retriever's candidates with any [`Reranker`], with per-query latency, shared
//! by `evaluate --reranker` and `finetune-reranker --eval`.

use retune_data::{CorpusDoc, Reranker};
use retune_trainer::cross::order_by_score;
use std::time::Instant;

/// Rankings after re-ranking, and how long each query's scoring took.
#[derive(Debug, Clone)]
pub struct Reranked {
    /// Corpus indices per query, best first.
    pub ranked: Vec<Vec<usize>>,
    /// Seconds spent scoring each query's candidates.
    pub seconds: Vec<f64>,
    /// The re-ranker's score of each query's candidates, in the retriever's order.
    pub scores: Vec<Vec<f32>>,
}

impl Reranked {
    /// Mean, median and 95th-percentile latency in milliseconds.
    pub fn latency_ms(&self) -> (f64, f64, f64) {
        let mut s: Vec<f64> = self.seconds.iter().map(|x| x * 1e3).collect();
        if s.is_empty() {
            return (0.0, 0.0, 0.0);
        }
        s.sort_by(f64::total_cmp);
        let pick = |q: f64| s[((s.len() - 1) as f64 * q).round() as usize];
        (
            s.iter().sum::<f64>() / s.len() as f64,
            pick(0.5),
            pick(0.95),
        )
    }
}

/// Scores each query's candidates (`candidates[i]`, corpus indices in retriever order) with
/// `reranker` and sorts them by score (ties keep the retriever's order).
pub fn rerank<R: Reranker>(
    reranker: &R,
    queries: &[&str],
    corpus: &[CorpusDoc],
    candidates: &[Vec<usize>],
) -> Result<Reranked, R::Error> {
    let mut ranked = Vec::with_capacity(queries.len());
    let mut seconds = Vec::with_capacity(queries.len());
    let mut all_scores = Vec::with_capacity(queries.len());
    for (q, cands) in queries.iter().zip(candidates) {
        let docs: Vec<&str> = cands.iter().map(|&i| corpus[i].text.as_str()).collect();
        let start = Instant::now();
        let scores = reranker.score(q, &docs)?;
        seconds.push(start.elapsed().as_secs_f64());
        ranked.push(order_by_score(&scores).iter().map(|&i| cands[i]).collect());
        all_scores.push(scores);
    }
    Ok(Reranked {
        ranked,
        seconds,
        scores: all_scores,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Scores a document by how many characters it shares with the query.
    struct Overlap;

    impl Reranker for Overlap {
        type Error = std::convert::Infallible;
        fn model_id(&self) -> &str {
            "overlap"
        }
        fn score(&self, q: &str, docs: &[&str]) -> Result<Vec<f32>, Self::Error> {
            Ok(docs
                .iter()
                .map(|d| d.chars().filter(|c| q.contains(*c)).count() as f32)
                .collect())
        }
    }

    #[test]
    fn sorts_candidates_by_score_keeping_ties_in_order() {
        let corpus: Vec<CorpusDoc> = ["xyz", "abc", "abx", "qqq"]
            .iter()
            .map(|t| CorpusDoc {
                id: None,
                text: (*t).into(),
            })
            .collect();
        let r = rerank(&Overlap, &["abc"], &corpus, &[vec![0, 3, 2, 1]]).unwrap();
        assert_eq!(r.ranked, vec![vec![1, 2, 0, 3]]);
        assert_eq!(r.seconds.len(), 1);
        let (mean, p50, p95) = r.latency_ms();
        assert!(mean >= 0.0 && p50 <= p95);
    }
}
