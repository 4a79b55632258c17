//! Training and evaluation records: the course's `{input, expected}` items, pairs, triplets,
//! n-tuples, labeled pairs and Cohere re-ranker items, with the JSONL field names of design.md.

use serde::{Deserialize, Serialize};

/// A query and the documents that answer it (the course's train/eval format).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvalItem {
    /// The query text (a rendered transaction).
    pub input: String,
    /// The relevant documents (category names); the first is the positive for training.
    pub expected: Vec<String>,
}

/// An (anchor, positive) pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pair {
    /// The query.
    pub anchor: String,
    /// A document that answers it.
    pub positive: String,
}

/// An (anchor, positive, negative) triplet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Triplet {
    /// The query.
    pub anchor: String,
    /// A document that answers it.
    pub positive: String,
    /// A document that does not.
    pub negative: String,
}

/// An anchor, its positive and several negatives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NTuple {
    /// The query.
    pub anchor: String,
    /// A document that answers it.
    pub positive: String,
    /// Documents that do not.
    pub negatives: Vec<String>,
}

/// A (query, document) pair with a relevance label, for cross-encoders.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabeledPair {
    /// The query.
    pub query: String,
    /// The document.
    pub document: String,
    /// 1.0 relevant, 0.0 not (or a graded score).
    pub label: f32,
}

/// One line of Cohere's re-ranker fine-tuning input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CohereRerankItem {
    /// The query.
    pub query: String,
    /// Passages that answer it.
    pub relevant_passages: Vec<String>,
    /// Passages that look relevant but are not.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hard_negatives: Vec<String>,
}

/// Any training record `finetune` accepts, told apart by its fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TrainRecord {
    /// `{anchor, positive, negatives}`.
    NTuple(NTuple),
    /// `{anchor, positive, negative}`.
    Triplet(Triplet),
    /// `{anchor, positive}`.
    Pair(Pair),
    /// `{input, expected}`.
    Course(EvalItem),
}

impl TrainRecord {
    /// The query, the positive and the negatives of the record (none for pairs and course items).
    ///
    /// A course item without `expected` has no positive; `None` then.
    pub fn parts(&self) -> Option<(&str, &str, Vec<&str>)> {
        match self {
            TrainRecord::NTuple(t) => Some((
                &t.anchor,
                &t.positive,
                t.negatives.iter().map(String::as_str).collect(),
            )),
            TrainRecord::Triplet(t) => Some((&t.anchor, &t.positive, vec![t.negative.as_str()])),
            TrainRecord::Pair(p) => Some((&p.anchor, &p.positive, Vec::new())),
            TrainRecord::Course(c) => c
                .expected
                .first()
                .map(|p| (c.input.as_str(), p.as_str(), Vec::new())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn train_records_are_told_apart_by_fields() {
        let cases = [
            (
                r#"{"anchor":"a","positive":"p","negatives":["n1","n2"]}"#,
                2,
            ),
            (r#"{"anchor":"a","positive":"p","negative":"n"}"#, 1),
            (r#"{"anchor":"a","positive":"p"}"#, 0),
            (r#"{"input":"a","expected":["p"]}"#, 0),
        ];
        for (line, negatives) in cases {
            let r: TrainRecord = serde_json::from_str(line).unwrap();
            let (a, p, n) = r.parts().unwrap();
            assert_eq!((a, p, n.len()), ("a", "p", negatives), "{line}");
        }
    }

    #[test]
    fn cohere_item_uses_cohere_field_names() {
        let item = CohereRerankItem {
            query: "q".into(),
            relevant_passages: vec!["p".into()],
            hard_negatives: vec!["n".into()],
        };
        assert_eq!(
            serde_json::to_string(&item).unwrap(),
            r#"{"query":"q","relevant_passages":["p"],"hard_negatives":["n"]}"#
        );
    }
}
