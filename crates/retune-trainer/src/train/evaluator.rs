//! Retrieval evaluation: embed queries and corpus, exact top-k, trec_eval's measures.

use crate::encoder::SentenceEncoder;
use crate::error::TrainerError;
use burn::tensor::backend::Backend;
use retune_data::{CorpusDoc, EvalItem};
use retune_metrics::{Evaluation, Metric, Relevance};
use retune_mining::exact_top_k;

/// Queries with their relevant documents, and the corpus they retrieve from.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalSet {
    /// Queries (`input`) and their relevant document keys (`expected`).
    pub queries: Vec<EvalItem>,
    /// The documents.
    pub corpus: Vec<CorpusDoc>,
}

/// The metrics reported during training and by default in evaluations.
pub fn retrieval_metrics() -> Vec<Metric> {
    let mut m = Vec::new();
    for k in [1, 3, 5, 10] {
        m.push(Metric::Recall(k));
    }
    for k in [1, 3, 5, 10] {
        m.push(Metric::Mrr(Some(k)));
    }
    m.extend([Metric::Ndcg(Some(10)), Metric::Map(Some(10))]);
    m
}

/// Ranks the corpus for every query (top `k`) and evaluates; query ids are `q00000`, `q00001`, ...
pub fn evaluate_retrieval<B: Backend>(
    encoder: &SentenceEncoder<B>,
    set: &EvalSet,
    metrics: &[Metric],
    k: usize,
) -> Result<Evaluation, TrainerError> {
    let queries: Vec<&str> = set.queries.iter().map(|q| q.input.as_str()).collect();
    let docs: Vec<&str> = set.corpus.iter().map(|d| d.text.as_str()).collect();
    let q = encoder.encode(&queries)?;
    let d = encoder.encode(&docs)?;
    Ok(evaluate_embeddings(set, &q, &d, metrics, k))
}

/// As [`evaluate_retrieval`] with the embeddings already computed (`q` per query, `d` per
/// corpus document, in `set`'s order): exact top `k`, then the metrics.
pub fn evaluate_embeddings(
    set: &EvalSet,
    q: &[Vec<f32>],
    d: &[Vec<f32>],
    metrics: &[Metric],
    k: usize,
) -> Evaluation {
    evaluate_ranked(set, &rank_embeddings(q, d, k), metrics)
}

/// The corpus indices of each query's top `k` documents by cosine, best first.
pub fn rank_embeddings(q: &[Vec<f32>], d: &[Vec<f32>], k: usize) -> Vec<Vec<usize>> {
    exact_top_k(q, d, k)
        .iter()
        .map(|h| h.iter().map(|hit| hit.doc).collect())
        .collect()
}

/// Evaluates rankings given as corpus indices (one list per query of `set`, best first).
pub fn evaluate_ranked(set: &EvalSet, ranked: &[Vec<usize>], metrics: &[Metric]) -> Evaluation {
    let ranked: Vec<Vec<&str>> = ranked
        .iter()
        .map(|r| r.iter().map(|&i| set.corpus[i].key()).collect())
        .collect();
    let rels: Vec<Relevance> = set
        .queries
        .iter()
        .map(|q| Relevance::binary(q.expected.iter().cloned()))
        .collect();
    Evaluation::from_rankings(
        ranked
            .iter()
            .zip(&rels)
            .enumerate()
            .map(|(i, (r, rel))| (format!("q{i:05}"), r.as_slice(), rel)),
        metrics,
    )
}
