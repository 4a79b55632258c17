//! Choosing negatives for each query from the scores of every document.
//!
//! The steps follow sentence-transformers' `mine_hard_negatives`, in its order: score all
//! documents; drop the positives and any document whose text equals a positive's after
//! normalization (case, surrounding and repeated white space); drop candidates within an
//! absolute margin of the best positive (`score > max_pos - absolute_margin`) or above a
//! relative one (`score > max_pos * (1 - relative_margin)`); drop scores above `max_score` or
//! below `min_score`; keep the best `range_max`; skip the first `range_min`; then take the top
//! `num_negatives` or a seeded random sample of them. The strategy decides the window:
//! [`Strategy::Hard`] ranks from the top, [`Strategy::SemiHard`] keeps only candidates below the
//! best positive but within `margin` of it, [`Strategy::Range`] is FlagEmbedding's
//! `range_for_sampling`, [`Strategy::Random`] samples uniformly from every non-positive.
//!
//! Too few candidates is never filled with positives: the shortfall is reported per query.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// Which part of the ranking negatives come from.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "kebab-case")]
pub enum Strategy {
    /// Uniformly from every non-positive document (the course's Cohere data).
    Random,
    /// The most similar non-positives.
    Hard,
    /// Less similar than the best positive, by at most `margin`.
    SemiHard {
        /// Width of the window below the positive's score.
        margin: f32,
    },
    /// Ranks `min..max` (0-based, after filtering), as FlagEmbedding's `range_for_sampling`.
    Range {
        /// First rank kept.
        min: usize,
        /// One past the last rank kept.
        max: usize,
    },
}

/// How the final negatives are picked from the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sampling {
    /// The best-scoring ones.
    Top,
    /// A seeded random sample.
    Random,
}

/// Settings of a mining run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MiningConfig {
    /// The window strategy.
    pub strategy: Strategy,
    /// Negatives wanted per query.
    pub num_negatives: usize,
    /// Top or random picking within the window (Random strategy always samples).
    pub sampling: Sampling,
    /// Drop candidates with `score > max_positive - absolute_margin`.
    pub absolute_margin: Option<f32>,
    /// Drop candidates with `score > max_positive * (1 - relative_margin)`.
    pub relative_margin: Option<f32>,
    /// Drop candidates scoring above this.
    pub max_score: Option<f32>,
    /// Drop candidates scoring below this.
    pub min_score: Option<f32>,
    /// Seed of random sampling.
    pub seed: u64,
}

impl MiningConfig {
    /// A strategy with `num_negatives` per query and no filters.
    pub fn new(strategy: Strategy, num_negatives: usize) -> Self {
        Self {
            strategy,
            num_negatives,
            sampling: Sampling::Top,
            absolute_margin: None,
            relative_margin: None,
            max_score: None,
            min_score: None,
            seed: 0,
        }
    }

    /// The `n` most similar non-positive documents after skipping the `skip` most similar
    /// (a rank window `skip..skip + n`; plain hard negatives when `skip` is 0).
    pub fn hard(n: usize, skip: usize) -> Self {
        let strategy = if skip > 0 {
            Strategy::Range {
                min: skip,
                max: skip + n,
            }
        } else {
            Strategy::Hard
        };
        Self::new(strategy, n)
    }
}

/// The negatives of one query.
#[derive(Debug, Clone, PartialEq)]
pub struct Mined {
    /// Document indices, best-scoring first (or in sampled order for random sampling).
    pub negatives: Vec<usize>,
    /// Their scores.
    pub scores: Vec<f32>,
    /// Best positive score.
    pub positive_score: f32,
    /// How many fewer negatives than asked for qualified.
    pub shortfall: usize,
}

/// Lowercase, trimmed, inner white space collapsed: texts equal under this are the same document.
pub fn normalize_text(t: &str) -> String {
    t.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Mines negatives for every query. `positives[i]` are the document indices relevant to query
/// `i`; `doc_texts` are used to exclude documents equal to a positive.
pub fn mine_negatives<S: AsRef<str> + Sync>(
    queries: &[Vec<f32>],
    docs: &[Vec<f32>],
    doc_texts: &[S],
    positives: &[Vec<usize>],
    config: &MiningConfig,
) -> Vec<Mined> {
    let normalized: Vec<String> = doc_texts
        .iter()
        .map(|t| normalize_text(t.as_ref()))
        .collect();
    queries
        .par_iter()
        .enumerate()
        .map(|(qi, q)| {
            let pos = &positives[qi];
            let pos_texts: HashSet<&str> = pos.iter().map(|&p| normalized[p].as_str()).collect();
            let scores: Vec<f32> = docs.iter().map(|d| dot(q, d)).collect();
            let max_pos = pos
                .iter()
                .map(|&p| scores[p])
                .fold(f32::NEG_INFINITY, f32::max);
            let mut cands: Vec<usize> = (0..docs.len())
                .filter(|d| !pos.contains(d) && !pos_texts.contains(normalized[*d].as_str()))
                .filter(|&d| {
                    let s = scores[d];
                    config.absolute_margin.is_none_or(|m| s + m <= max_pos)
                        && config
                            .relative_margin
                            .is_none_or(|m| s <= max_pos * (1.0 - m))
                        && config.max_score.is_none_or(|m| s <= m)
                        && config.min_score.is_none_or(|m| s >= m)
                })
                .collect();
            cands.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
            let window: Vec<usize> = match config.strategy {
                Strategy::Random | Strategy::Hard => cands,
                Strategy::SemiHard { margin } => cands
                    .into_iter()
                    .filter(|&d| scores[d] < max_pos && scores[d] >= max_pos - margin)
                    .collect(),
                Strategy::Range { min, max } => cands.into_iter().take(max).skip(min).collect(),
            };
            let random =
                matches!(config.strategy, Strategy::Random) || config.sampling == Sampling::Random;
            let mut chosen = window;
            if random {
                let mut rng = ChaCha8Rng::seed_from_u64(
                    config.seed ^ (qi as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
                );
                chosen.shuffle(&mut rng);
            }
            chosen.truncate(config.num_negatives);
            Mined {
                scores: chosen.iter().map(|&d| scores[d]).collect(),
                shortfall: config.num_negatives - chosen.len(),
                negatives: chosen,
                positive_score: max_pos,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (Vec<Vec<f32>>, Vec<Vec<f32>>, Vec<&'static str>) {
        let q = vec![vec![1.0, 0.0]];
        // scores: 1.0 (positive), 0.9, 0.8, 0.6, 0.3, 0.0, and a duplicate of the positive's text.
        let docs = [1.0f32, 0.9, 0.8, 0.6, 0.3, 0.0, 0.95]
            .iter()
            .map(|&s| vec![s, (1.0 - s * s).sqrt()])
            .collect();
        let texts = vec![
            "Travel",
            "Meals",
            "Software",
            "Office",
            "Legal",
            "Rent",
            "  travel ",
        ];
        (q, docs, texts)
    }

    fn run(config: MiningConfig) -> Mined {
        let (q, d, t) = setup();
        mine_negatives(&q, &d, &t, &[vec![0]], &config).remove(0)
    }

    #[test]
    fn strategies_pick_their_windows() {
        assert_eq!(
            run(MiningConfig::new(Strategy::Hard, 2)).negatives,
            vec![1, 2],
            "the positive's twin text (6) is excluded"
        );
        assert_eq!(
            run(MiningConfig::new(Strategy::SemiHard { margin: 0.25 }, 5)).negatives,
            vec![1, 2]
        );
        assert_eq!(
            run(MiningConfig::new(Strategy::Range { min: 1, max: 3 }, 5)).negatives,
            vec![2, 3]
        );
        let r = run(MiningConfig::new(Strategy::Random, 3));
        assert_eq!(r.negatives.len(), 3);
        assert!(!r.negatives.contains(&0) && !r.negatives.contains(&6));
    }

    #[test]
    fn filters_apply_and_shortfall_is_reported() {
        let mut c = MiningConfig::new(Strategy::Hard, 3);
        c.absolute_margin = Some(0.15);
        assert_eq!(run(c.clone()).negatives, vec![2, 3, 4]);
        c.absolute_margin = None;
        c.relative_margin = Some(0.35);
        assert_eq!(run(c.clone()).negatives, vec![3, 4, 5]);
        c.relative_margin = None;
        c.min_score = Some(0.5);
        c.max_score = Some(0.85);
        let m = run(c);
        assert_eq!((m.negatives, m.shortfall), (vec![2, 3], 1));
    }
}
