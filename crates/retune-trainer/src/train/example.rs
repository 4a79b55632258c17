//! Training examples: an anchor, its positive, optional hard negatives, and a label (the
//! positive's identity) for the batch-triplet losses.

use retune_data::TrainRecord;
use std::collections::HashMap;

/// One training example.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrainExample {
    /// The query.
    pub anchor: String,
    /// A document that answers it.
    pub positive: String,
    /// Documents that do not (may be empty).
    pub negatives: Vec<String>,
    /// Index of the positive among the distinct positives (its class).
    pub label: i64,
}

impl TrainExample {
    /// Every text of the example (for duplicate checks).
    pub fn texts(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.anchor.as_str())
            .chain(std::iter::once(self.positive.as_str()))
            .chain(self.negatives.iter().map(String::as_str))
    }
}

/// Turns records into examples; labels number the distinct positives in order of appearance.
/// Records without a positive (course items with an empty `expected`) are skipped and counted.
pub fn examples_from_records(records: &[TrainRecord]) -> (Vec<TrainExample>, usize) {
    let mut labels: HashMap<String, i64> = HashMap::new();
    let mut skipped = 0;
    let mut out = Vec::with_capacity(records.len());
    for r in records {
        let Some((anchor, positive, negatives)) = r.parts() else {
            skipped += 1;
            continue;
        };
        let next = labels.len() as i64;
        let label = *labels.entry(positive.to_owned()).or_insert(next);
        out.push(TrainExample {
            anchor: anchor.to_owned(),
            positive: positive.to_owned(),
            negatives: negatives.into_iter().map(str::to_owned).collect(),
            label,
        });
    }
    (out, skipped)
}
