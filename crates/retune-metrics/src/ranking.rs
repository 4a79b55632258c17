//! Scored documents and trec_eval's deterministic ranking order.
//!
//! trec_eval ignores the rank column of a run and orders each query's documents by score,
//! descending, breaking ties by document id, descending (byte-wise `strcmp`). [`sort_trec`]
//! reproduces that order so that ties rank the same here as there.

use std::collections::BTreeMap;

/// One retrieved document and its score.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoredDoc {
    /// The document id.
    pub doc_id: String,
    /// The retrieval score; higher is better.
    pub score: f64,
}

impl ScoredDoc {
    /// A scored document.
    pub fn new(doc_id: impl Into<String>, score: f64) -> Self {
        Self {
            doc_id: doc_id.into(),
            score,
        }
    }
}

/// Retrieved documents per query id.
pub type Run = BTreeMap<String, Vec<ScoredDoc>>;

/// Sorts documents as trec_eval does: score descending, then document id descending.
///
/// NaN scores sort last.
pub fn sort_trec(docs: &mut [ScoredDoc]) {
    docs.sort_by(|a, b| {
        b.score
            .partial_cmp(&a.score)
            .unwrap_or_else(|| a.score.is_nan().cmp(&b.score.is_nan()))
            .then_with(|| b.doc_id.as_bytes().cmp(a.doc_id.as_bytes()))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_break_by_doc_id_descending() {
        let mut docs = vec![
            ScoredDoc::new("d1", 0.5),
            ScoredDoc::new("d3", 0.5),
            ScoredDoc::new("d2", 0.9),
            ScoredDoc::new("d10", 0.5),
        ];
        sort_trec(&mut docs);
        let ids: Vec<&str> = docs.iter().map(|d| d.doc_id.as_str()).collect();
        // "d3" > "d10" > "d1" byte-wise, as strcmp orders them.
        assert_eq!(ids, ["d2", "d3", "d10", "d1"]);
    }

    #[test]
    fn nan_scores_sort_last() {
        let mut docs = vec![ScoredDoc::new("a", f64::NAN), ScoredDoc::new("b", -1.0)];
        sort_trec(&mut docs);
        assert_eq!(docs[0].doc_id, "b");
    }
}
