//! Per-query measures with trec_eval's definitions.
//!
//! With `R` the number of relevant documents of the query and `rel(i)` whether the document at
//! rank `i` (1-based) is relevant:
//! - `precision@k` = relevant in the top k / k (trec_eval's `P_k`: the divisor is k even when
//!   fewer than k documents were retrieved);
//! - `recall@k` = relevant in the top k / R (every relevant document counts, retrieved or not);
//! - `hit_rate@k` = 1 when any of the top k is relevant (trec_eval's `success_k`);
//! - `mrr@k` = 1 / rank of the first relevant document within the top k, else 0
//!   (`recip_rank` on the run cut to k); `mrr` is untruncated;
//! - `map@k` = sum over relevant documents at rank i <= k of precision@i, divided by R
//!   (`map_cut_k`); `map` is untruncated average precision;
//! - `ndcg@k` = DCG@k / IDCG@k with gain = the grade and discount log2(i + 1) (`ndcg_cut_k`);
//!   the ideal ranking orders every judged document by grade; `ndcg` is untruncated.
//!
//! A query with no relevant document (R = 0) scores 0 on every measure, as trec_eval reports
//! it. An empty ranking scores 0 too.

use crate::MetricsError;
use crate::relevance::Relevance;
use std::fmt;
use std::str::FromStr;

/// One measure, optionally cut at rank k.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Metric {
    /// `precision@k`.
    Precision(usize),
    /// `recall@k`.
    Recall(usize),
    /// `hit_rate@k` (trec_eval `success_k`).
    HitRate(usize),
    /// `mrr@k`, or untruncated `mrr` with `None`.
    Mrr(Option<usize>),
    /// `ndcg@k`, or untruncated `ndcg` with `None`.
    Ndcg(Option<usize>),
    /// `map@k`, or untruncated `map` with `None`.
    Map(Option<usize>),
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (name, k) = match *self {
            Metric::Precision(k) => ("precision", Some(k)),
            Metric::Recall(k) => ("recall", Some(k)),
            Metric::HitRate(k) => ("hit_rate", Some(k)),
            Metric::Mrr(k) => ("mrr", k),
            Metric::Ndcg(k) => ("ndcg", k),
            Metric::Map(k) => ("map", k),
        };
        match k {
            Some(k) => write!(f, "{name}@{k}"),
            None => f.write_str(name),
        }
    }
}

impl FromStr for Metric {
    type Err = MetricsError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let unknown = || MetricsError::UnknownMetric { name: s.to_owned() };
        let (name, k) = match s.split_once('@') {
            Some((name, k)) => {
                let k: usize = k.parse().map_err(|_| unknown())?;
                if k == 0 {
                    return Err(unknown());
                }
                (name, Some(k))
            }
            None => (s, None),
        };
        match (name, k) {
            ("precision", Some(k)) => Ok(Metric::Precision(k)),
            ("recall", Some(k)) => Ok(Metric::Recall(k)),
            ("hit_rate", Some(k)) => Ok(Metric::HitRate(k)),
            ("mrr", k) => Ok(Metric::Mrr(k)),
            ("ndcg", k) => Ok(Metric::Ndcg(k)),
            ("map", k) => Ok(Metric::Map(k)),
            _ => Err(unknown()),
        }
    }
}

/// The measures of `trec-eval`: precision, recall, ndcg, map, hit_rate and mrr at 1, 3, 5 and
/// 10, then untruncated map, mrr and ndcg.
pub fn standard_metrics() -> Vec<Metric> {
    let mut metrics = Vec::new();
    for k in [1, 3, 5, 10] {
        metrics.extend([
            Metric::Precision(k),
            Metric::Recall(k),
            Metric::Ndcg(Some(k)),
            Metric::Map(Some(k)),
            Metric::HitRate(k),
            Metric::Mrr(Some(k)),
        ]);
    }
    metrics.extend([Metric::Map(None), Metric::Mrr(None), Metric::Ndcg(None)]);
    metrics
}

/// Evaluates one query: `ranked` holds document ids best first (already in trec_eval's order, see
/// [`crate::sort_trec`]); returns one value per metric, in the order given.
pub fn evaluate_ranking<S: AsRef<str>>(
    ranked: &[S],
    relevance: &Relevance,
    metrics: &[Metric],
) -> Vec<f64> {
    let grades: Vec<i64> = ranked.iter().map(|d| relevance.grade(d.as_ref())).collect();
    let stats = QueryStats::new(&grades, relevance);
    metrics.iter().map(|m| stats.value(*m)).collect()
}

/// Prefix sums over one ranking, so each metric is O(1) or O(k) after one pass.
struct QueryStats<'a> {
    grades: Vec<i64>,
    /// `hits[i]` = relevant documents among the first i ranks.
    hits: Vec<usize>,
    /// `ap_sum[i]` = sum of precision@j over relevant ranks j <= i.
    ap_sum: Vec<f64>,
    num_relevant: usize,
    relevance: &'a Relevance,
}

impl<'a> QueryStats<'a> {
    fn new(grades: &[i64], relevance: &'a Relevance) -> Self {
        let mut hits = Vec::with_capacity(grades.len() + 1);
        let mut ap_sum = Vec::with_capacity(grades.len() + 1);
        hits.push(0);
        ap_sum.push(0.0);
        for (i, &g) in grades.iter().enumerate() {
            let rel = g >= 1;
            let h = hits[i] + usize::from(rel);
            hits.push(h);
            let add = if rel { h as f64 / (i + 1) as f64 } else { 0.0 };
            ap_sum.push(ap_sum[i] + add);
        }
        Self {
            grades: grades.to_vec(),
            hits,
            ap_sum,
            num_relevant: relevance.num_relevant(),
            relevance,
        }
    }

    fn cut(&self, k: Option<usize>) -> usize {
        k.map_or(self.grades.len(), |k| k.min(self.grades.len()))
    }

    fn value(&self, metric: Metric) -> f64 {
        if self.num_relevant == 0 {
            return 0.0;
        }
        let r = self.num_relevant as f64;
        match metric {
            Metric::Precision(k) => self.hits[self.cut(Some(k))] as f64 / k as f64,
            Metric::Recall(k) => self.hits[self.cut(Some(k))] as f64 / r,
            Metric::HitRate(k) => f64::from(u8::from(self.hits[self.cut(Some(k))] > 0)),
            Metric::Mrr(k) => {
                let n = self.cut(k);
                self.grades[..n]
                    .iter()
                    .position(|&g| g >= 1)
                    .map_or(0.0, |i| 1.0 / (i + 1) as f64)
            }
            Metric::Map(k) => self.ap_sum[self.cut(k)] / r,
            Metric::Ndcg(k) => self.ndcg(k),
        }
    }

    fn ndcg(&self, k: Option<usize>) -> f64 {
        let n = self.cut(k);
        let dcg: f64 = self.grades[..n]
            .iter()
            .enumerate()
            .filter(|(_, g)| **g > 0)
            .map(|(i, &g)| g as f64 / ((i + 2) as f64).log2())
            .fold(0.0, |a, b| a + b);
        let ideal = self.relevance.ideal_gains();
        let ideal_n = k.map_or(ideal.len(), |k| k.min(ideal.len()));
        let idcg: f64 = ideal[..ideal_n]
            .iter()
            .enumerate()
            .map(|(i, g)| g / ((i + 2) as f64).log2())
            .fold(0.0, |a, b| a + b);
        if idcg > 0.0 { dcg / idcg } else { 0.0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(ranked: &[&str], rels: &Relevance, metric: &str) -> f64 {
        evaluate_ranking(ranked, rels, &[metric.parse().unwrap()])[0]
    }

    #[test]
    fn names_round_trip() {
        for m in standard_metrics() {
            assert_eq!(m.to_string().parse::<Metric>().unwrap(), m);
        }
        assert!("recall".parse::<Metric>().is_err());
        assert!("ndcg@0".parse::<Metric>().is_err());
        assert!("bleu@3".parse::<Metric>().is_err());
    }

    #[test]
    fn hand_computed_case() {
        // relevant: a, c, z (z never retrieved)
        let rels = Relevance::binary(["a", "c", "z"]);
        let ranked = ["b", "a", "d", "c"];
        let cases = [
            ("precision@1", 0.0),
            ("precision@3", 1.0 / 3.0),
            ("precision@10", 0.2),
            ("recall@3", 1.0 / 3.0),
            ("recall@10", 2.0 / 3.0),
            ("hit_rate@1", 0.0),
            ("hit_rate@3", 1.0),
            ("mrr@1", 0.0),
            ("mrr", 0.5),
            ("map", (0.5 + 0.5) / 3.0),
            ("map@2", 0.5 / 3.0),
        ];
        for (name, want) in cases {
            let got = eval(&ranked, &rels, name);
            assert!((got - want).abs() < 1e-12, "{name}: {got} != {want}");
        }
        let dcg = 1.0 / 3f64.log2() + 1.0 / 5f64.log2();
        let idcg = 1.0 + 1.0 / 3f64.log2() + 1.0 / 4f64.log2();
        assert!((eval(&ranked, &rels, "ndcg") - dcg / idcg).abs() < 1e-12);
    }

    #[test]
    fn graded_gain_is_the_grade() {
        let rels = Relevance::graded([("a", 3), ("b", 1)]);
        let got = eval(&["b", "a"], &rels, "ndcg@2");
        let want = (1.0 + 3.0 / 3f64.log2()) / (3.0 + 1.0 / 3f64.log2());
        assert!((got - want).abs() < 1e-12);
    }

    #[test]
    fn no_relevant_and_empty_runs_score_zero() {
        let none = Relevance::graded([("a", 0)]);
        let some = Relevance::binary(["a"]);
        let empty: [&str; 0] = [];
        for m in standard_metrics() {
            let v = evaluate_ranking(&["b"], &some, &[m])[0];
            assert!(
                v == 0.0 && v.is_sign_positive(),
                "{m}: {v} (an empty sum must not print as -0)"
            );
            assert_eq!(evaluate_ranking(&["a"], &none, &[m])[0], 0.0, "{m}");
            assert_eq!(evaluate_ranking(&empty, &some, &[m])[0], 0.0, "{m}");
        }
    }
}
