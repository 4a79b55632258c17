//! Seeded batch samplers. Each epoch's batches depend only on (seed, epoch), so a resumed run
//! draws exactly the batches the uninterrupted one would have.

use super::example::TrainExample;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, HashSet};

fn rng(seed: u64, epoch: usize) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// sentence-transformers' NO_DUPLICATES: shuffled examples fill each batch in turn, skipping any
/// example one of whose texts is already in the batch (it waits for a later batch). With
/// category names as positives this keeps every in-batch negative a real negative. The last
/// batch may be smaller; batches of one example are dropped (they have no in-batch negative).
pub fn no_duplicates_batches(
    examples: &[TrainExample],
    batch_size: usize,
    seed: u64,
    epoch: usize,
) -> Vec<Vec<usize>> {
    let mut remaining: Vec<usize> = (0..examples.len()).collect();
    remaining.shuffle(&mut rng(seed, epoch));
    let mut batches = Vec::new();
    while !remaining.is_empty() {
        let mut seen: HashSet<&str> = HashSet::new();
        let mut batch = Vec::new();
        let mut rest = Vec::with_capacity(remaining.len());
        for &i in &remaining {
            let texts: Vec<&str> = examples[i].texts().collect();
            if batch.len() < batch_size && texts.iter().all(|t| !seen.contains(t)) {
                seen.extend(texts);
                batch.push(i);
            } else {
                rest.push(i);
            }
        }
        remaining = rest;
        if batch.len() > 1 {
            batches.push(batch);
        }
    }
    batches
}

/// Shuffled examples cut into batches of `batch_size` (the last may be smaller; a batch of one
/// example is dropped), with no duplicate check.
pub fn shuffled_batches(
    examples: usize,
    batch_size: usize,
    seed: u64,
    epoch: usize,
) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..examples).collect();
    order.shuffle(&mut rng(seed, epoch));
    order
        .chunks(batch_size.max(2))
        .filter(|b| b.len() > 1)
        .map(<[usize]>::to_vec)
        .collect()
}

/// GROUP_BY_LABEL: each label's examples, shuffled, form pairs (a label with one example is
/// left out, an odd one out waits for the next epoch's shuffle); shuffled pairs fill batches of
/// `batch_size` (rounded down to even), so every example in a batch has a same-label partner.
pub fn group_by_label_batches(
    examples: &[TrainExample],
    batch_size: usize,
    seed: u64,
    epoch: usize,
) -> Vec<Vec<usize>> {
    let mut r = rng(seed, epoch);
    let mut groups: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
    for (i, e) in examples.iter().enumerate() {
        groups.entry(e.label).or_default().push(i);
    }
    let mut pairs: Vec<[usize; 2]> = Vec::new();
    for members in groups.values_mut() {
        members.shuffle(&mut r);
        pairs.extend(members.chunks_exact(2).map(|c| [c[0], c[1]]));
    }
    pairs.shuffle(&mut r);
    let per_batch = (batch_size / 2).max(1);
    pairs
        .chunks(per_batch)
        .filter(|c| c.len() >= 2 || per_batch == 1)
        .map(|c| c.iter().flatten().copied().collect())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn examples() -> Vec<TrainExample> {
        (0..40)
            .map(|i| TrainExample {
                anchor: format!("transaction {i}"),
                positive: format!("category {}", i % 5),
                negatives: vec![],
                label: (i % 5) as i64,
            })
            .collect()
    }

    #[test]
    fn no_duplicates_never_repeats_a_text_in_a_batch() {
        let ex = examples();
        let batches = no_duplicates_batches(&ex, 16, 3, 0);
        for b in &batches {
            let mut seen = HashSet::new();
            assert!(
                b.iter()
                    .flat_map(|&i| ex[i].texts())
                    .all(|t| seen.insert(t))
            );
            assert!(b.len() <= 5, "only 5 distinct positives exist");
        }
        let total: usize = batches.iter().map(Vec::len).sum();
        assert_eq!(total, 40);
        assert_eq!(batches, no_duplicates_batches(&ex, 16, 3, 0), "seeded");
        assert_ne!(
            batches,
            no_duplicates_batches(&ex, 16, 3, 1),
            "epochs differ"
        );
    }

    #[test]
    fn shuffled_batches_cover_every_example_once() {
        let batches = shuffled_batches(41, 16, 3, 0);
        assert_eq!(
            batches.iter().map(Vec::len).collect::<Vec<_>>(),
            [16, 16, 9]
        );
        let mut all: Vec<usize> = batches.concat();
        all.sort_unstable();
        assert_eq!(all, (0..41).collect::<Vec<_>>());
        assert_eq!(batches, shuffled_batches(41, 16, 3, 0), "seeded");
        assert_ne!(batches, shuffled_batches(41, 16, 3, 1), "epochs differ");
        assert_eq!(
            shuffled_batches(17, 16, 0, 0).len(),
            1,
            "a batch of one is dropped"
        );
    }

    #[test]
    fn group_by_label_pairs_labels() {
        let ex = examples();
        let batches = group_by_label_batches(&ex, 8, 1, 0);
        for b in &batches {
            assert!(b.len() % 2 == 0 && b.len() <= 8);
            for pair in b.chunks(2) {
                assert_eq!(ex[pair[0]].label, ex[pair[1]].label);
            }
        }
        assert_eq!(batches.iter().map(Vec::len).sum::<usize>(), 40);
        assert_eq!(batches, group_by_label_batches(&ex, 8, 1, 0));
    }
}
