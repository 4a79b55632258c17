//! Relevance judgments: per query, a grade for each judged document (trec_eval's qrels).
//!
//! A grade >= 1 makes a document relevant (trec_eval's default `relevance_level` of 1); grades
//! <= 0 are judged non-relevant. NDCG uses the grade itself as the gain, so graded judgments
//! reward putting the most relevant documents first. Documents that are not judged at all count
//! as non-relevant, as in trec_eval.

use std::collections::{BTreeMap, HashMap};

/// The grades of the judged documents of one query.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Relevance {
    grades: HashMap<String, i64>,
}

impl Relevance {
    /// Judgments from (document id, grade) pairs; a later grade for the same id replaces an earlier one.
    pub fn graded<I, S>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (S, i64)>,
        S: Into<String>,
    {
        Self {
            grades: pairs.into_iter().map(|(d, g)| (d.into(), g)).collect(),
        }
    }

    /// Binary judgments: every listed document has grade 1.
    pub fn binary<I, S>(relevant: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self::graded(relevant.into_iter().map(|d| (d, 1)))
    }

    /// The grade of a document, 0 when it is not judged.
    pub fn grade(&self, doc_id: &str) -> i64 {
        self.grades.get(doc_id).copied().unwrap_or(0)
    }

    /// Whether the document counts as relevant (grade >= 1).
    pub fn is_relevant(&self, doc_id: &str) -> bool {
        self.grade(doc_id) >= 1
    }

    /// How many documents are relevant: the denominator of recall and MAP.
    pub fn num_relevant(&self) -> usize {
        self.grades.values().filter(|&&g| g >= 1).count()
    }

    /// The positive grades in descending order: the ideal ranking's gains for NDCG.
    pub fn ideal_gains(&self) -> Vec<f64> {
        let mut gains: Vec<i64> = self.grades.values().copied().filter(|&g| g > 0).collect();
        gains.sort_unstable_by(|a, b| b.cmp(a));
        gains.into_iter().map(|g| g as f64).collect()
    }

    /// Adds or replaces one judgment; returns the previous grade if the document was judged.
    pub fn insert(&mut self, doc_id: impl Into<String>, grade: i64) -> Option<i64> {
        self.grades.insert(doc_id.into(), grade)
    }

    /// Number of judged documents (relevant or not).
    pub fn len(&self) -> usize {
        self.grades.len()
    }

    /// Whether no document is judged.
    pub fn is_empty(&self) -> bool {
        self.grades.is_empty()
    }
}

/// Judgments for a set of queries, keyed by query id (sorted, so output is deterministic).
pub type Qrels = BTreeMap<String, Relevance>;
