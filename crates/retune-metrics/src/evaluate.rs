//! Evaluating a whole run against qrels: per-query values and their means.
//!
//! As trec_eval does by default, only queries present in both the run and the qrels are
//! evaluated; run queries without judgments are ignored. [`MissingQueries::Zero`] is trec_eval's
//! `-c`: a judged query that the run lacks is averaged in with zeros.

use crate::MetricsError;
use crate::measures::{Metric, evaluate_ranking};
use crate::ranking::{Run, sort_trec};
use crate::relevance::{Qrels, Relevance};
use std::collections::BTreeMap;

/// What to do with a judged query that the run does not contain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MissingQueries {
    /// Leave it out of the means (trec_eval's default).
    #[default]
    Skip,
    /// Count it with every measure 0 (trec_eval `-c`).
    Zero,
}

/// Per-query values and means of a set of metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// The metrics, in the order of every value vector below.
    pub metrics: Vec<Metric>,
    /// Values per query id.
    pub per_query: BTreeMap<String, Vec<f64>>,
}

impl Evaluation {
    /// Evaluates already-ranked lists of document ids (best first), one per query.
    pub fn from_rankings<'a, I, S>(rankings: I, metrics: &[Metric]) -> Self
    where
        I: IntoIterator<Item = (String, &'a [S], &'a Relevance)>,
        S: AsRef<str> + 'a,
    {
        let per_query = rankings
            .into_iter()
            .map(|(qid, ranked, rel)| (qid, evaluate_ranking(ranked, rel, metrics)))
            .collect();
        Self {
            metrics: metrics.to_vec(),
            per_query,
        }
    }

    /// Mean of each metric over the evaluated queries (0 when there are none).
    pub fn mean(&self) -> Vec<f64> {
        let n = self.per_query.len();
        let mut sums = vec![0.0; self.metrics.len()];
        for values in self.per_query.values() {
            for (s, v) in sums.iter_mut().zip(values) {
                *s += v;
            }
        }
        if n > 0 {
            sums.iter_mut().for_each(|s| *s /= n as f64);
        }
        sums
    }

    /// The means keyed by metric name.
    pub fn mean_by_name(&self) -> BTreeMap<String, f64> {
        self.metrics
            .iter()
            .map(ToString::to_string)
            .zip(self.mean())
            .collect()
    }

    /// The per-query values of one metric, in query-id order; `None` if it was not computed.
    pub fn column(&self, metric: Metric) -> Option<Vec<f64>> {
        let i = self.metrics.iter().position(|m| *m == metric)?;
        Some(self.per_query.values().map(|v| v[i]).collect())
    }
}

/// Evaluates a scored run against qrels with trec_eval's ordering and query selection.
pub fn evaluate_run(
    qrels: &Qrels,
    run: &Run,
    metrics: &[Metric],
    missing: MissingQueries,
) -> Result<Evaluation, MetricsError> {
    let common = run.keys().filter(|q| qrels.contains_key(*q)).count();
    if common == 0 {
        return Err(MetricsError::NoCommonQuery {
            run_queries: run.len(),
            qrels_queries: qrels.len(),
        });
    }
    let mut per_query = BTreeMap::new();
    for (qid, rel) in qrels {
        match run.get(qid) {
            Some(docs) => {
                let mut docs = docs.clone();
                sort_trec(&mut docs);
                let ids: Vec<&str> = docs.iter().map(|d| d.doc_id.as_str()).collect();
                per_query.insert(qid.clone(), evaluate_ranking(&ids, rel, metrics));
            }
            None if missing == MissingQueries::Zero => {
                per_query.insert(qid.clone(), vec![0.0; metrics.len()]);
            }
            None => {}
        }
    }
    Ok(Evaluation {
        metrics: metrics.to_vec(),
        per_query,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ScoredDoc;

    fn setup() -> (Qrels, Run) {
        let mut qrels = Qrels::new();
        qrels.insert("q1".into(), Relevance::binary(["a"]));
        qrels.insert("q2".into(), Relevance::binary(["b"]));
        let mut run = Run::new();
        run.insert(
            "q1".into(),
            vec![ScoredDoc::new("b", 0.9), ScoredDoc::new("a", 0.1)],
        );
        run.insert("unjudged".into(), vec![ScoredDoc::new("a", 1.0)]);
        (qrels, run)
    }

    #[test]
    fn skips_or_zeroes_missing_queries() {
        let (qrels, run) = setup();
        let m = [Metric::Mrr(None)];
        let skip = evaluate_run(&qrels, &run, &m, MissingQueries::Skip).unwrap();
        assert_eq!(skip.per_query.len(), 1);
        assert_eq!(skip.mean(), vec![0.5]);
        let zero = evaluate_run(&qrels, &run, &m, MissingQueries::Zero).unwrap();
        assert_eq!(zero.per_query.len(), 2);
        assert_eq!(zero.mean(), vec![0.25]);
    }

    #[test]
    fn no_common_query_is_an_error() {
        let (qrels, _) = setup();
        let mut run = Run::new();
        run.insert("other".into(), vec![ScoredDoc::new("a", 1.0)]);
        let err = evaluate_run(&qrels, &run, &[Metric::Mrr(None)], MissingQueries::Skip);
        assert!(matches!(err, Err(MetricsError::NoCommonQuery { .. })));
    }

    #[test]
    fn scores_not_rank_column_decide_order() {
        let (qrels, mut run) = setup();
        run.get_mut("q1").unwrap().reverse();
        let e = evaluate_run(&qrels, &run, &[Metric::Mrr(None)], MissingQueries::Skip).unwrap();
        assert_eq!(e.mean(), vec![0.5]);
    }
}
