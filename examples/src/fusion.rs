//! Score fusion of a retriever and a re-ranker: each query's candidate scores from both are
//! standardized (z-scores within the query's candidates, so a cosine and a logit become
//! comparable) and mixed as `w * reranker + (1 - w) * retriever`. The weight is chosen on a
//! labeled validation set (never the eval file) and saved beside the re-ranker as
//! `retune_fusion.json`, which `evaluate --reranker DIR` then applies.

use anyhow::Context;
use retune_metrics::Metric;
use retune_trainer::cross::order_by_score;
use retune_trainer::train::{EvalSet, evaluate_ranked};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The fusion weight and how it was chosen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fusion {
    /// Weight of the re-ranker's standardized score (the retriever's is `1 - w`).
    pub reranker_weight: f64,
    /// The metric that chose it.
    pub metric: String,
    /// That metric on the validation set for every weight tried, `(weight, value)`.
    pub validation: Vec<(f64, f64)>,
}

impl Fusion {
    /// The file name inside a re-ranker folder.
    pub const FILE: &'static str = "retune_fusion.json";

    /// Weights tried: 0, 0.05, ..., 1.
    pub fn grid() -> Vec<f64> {
        (0..=20).map(|i| f64::from(i) / 20.0).collect()
    }

    /// The weight of `grid()` with the best `metric` on `set` (ties: the larger weight, so an
    /// equally good re-ranker is trusted), from the candidates of each query and both scores.
    pub fn choose(
        set: &EvalSet,
        candidates: &[Vec<usize>],
        retriever: &[Vec<f32>],
        reranker: &[Vec<f32>],
        metric: Metric,
    ) -> Self {
        let validation: Vec<(f64, f64)> = Self::grid()
            .into_iter()
            .map(|w| {
                let ranked = fuse(candidates, retriever, reranker, w);
                let value = evaluate_ranked(set, &ranked, &[metric]).mean()[0];
                (w, value)
            })
            .collect();
        let best = validation
            .iter()
            .copied()
            .fold(None::<(f64, f64)>, |best, (w, v)| match best {
                Some((_, bv)) if bv > v => best,
                _ => Some((w, v)),
            })
            .expect("the grid is not empty");
        Self {
            reranker_weight: best.0,
            metric: metric.to_string(),
            validation,
        }
    }

    /// The fusion saved in a re-ranker folder, if there is one.
    pub fn load(dir: &Path) -> anyhow::Result<Option<Self>> {
        let path = dir.join(Self::FILE);
        if !path.is_file() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let fusion: Self = serde_json::from_str(&text)
            .with_context(|| format!("{}: not a fusion file", path.display()))?;
        anyhow::ensure!(
            (0.0..=1.0).contains(&fusion.reranker_weight),
            "{}: field reranker_weight must be within 0..=1, found {}",
            path.display(),
            fusion.reranker_weight
        );
        Ok(Some(fusion))
    }

    /// Writes `retune_fusion.json` into `dir`.
    pub fn save(&self, dir: &Path) -> anyhow::Result<()> {
        let path = dir.join(Self::FILE);
        std::fs::write(&path, serde_json::to_string_pretty(self)?)
            .with_context(|| format!("writing {}", path.display()))
    }
}

/// Scores standardized within one query: mean 0, standard deviation 1 (all zeros when the
/// scores are all equal).
pub fn standardize(scores: &[f32]) -> Vec<f64> {
    let n = scores.len().max(1) as f64;
    let mean = scores.iter().map(|&s| f64::from(s)).sum::<f64>() / n;
    let var = scores
        .iter()
        .map(|&s| (f64::from(s) - mean).powi(2))
        .sum::<f64>()
        / n;
    let sd = var.sqrt();
    scores
        .iter()
        .map(|&s| {
            if sd > 0.0 {
                (f64::from(s) - mean) / sd
            } else {
                0.0
            }
        })
        .collect()
}

/// Re-orders each query's candidates by `w * z(reranker) + (1 - w) * z(retriever)` (ties keep
/// the retriever's order). `retriever[i]` and `reranker[i]` score `candidates[i]`, in order.
pub fn fuse(
    candidates: &[Vec<usize>],
    retriever: &[Vec<f32>],
    reranker: &[Vec<f32>],
    w: f64,
) -> Vec<Vec<usize>> {
    candidates
        .iter()
        .zip(retriever.iter().zip(reranker))
        .map(|(cands, (ret, rr))| {
            assert!(
                cands.len() == ret.len() && cands.len() == rr.len(),
                "one score per candidate"
            );
            let (zr, zc) = (standardize(ret), standardize(rr));
            let fused: Vec<f32> = zr
                .iter()
                .zip(&zc)
                .map(|(r, c)| (w * c + (1.0 - w) * r) as f32)
                .collect();
            order_by_score(&fused).iter().map(|&i| cands[i]).collect()
        })
        .collect()
}

/// The retriever's score (inner product of the embeddings) of each query's candidates.
pub fn retriever_scores(
    queries: &[Vec<f32>],
    docs: &[Vec<f32>],
    candidates: &[Vec<usize>],
) -> Vec<Vec<f32>> {
    queries
        .iter()
        .zip(candidates)
        .map(|(q, cands)| {
            cands
                .iter()
                .map(|&i| q.iter().zip(&docs[i]).map(|(a, b)| a * b).sum())
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use retune_data::{CorpusDoc, EvalItem};

    fn set() -> EvalSet {
        let doc = |t: &str| CorpusDoc {
            id: None,
            text: t.into(),
        };
        let q = |t: &str, e: &str| EvalItem {
            input: t.into(),
            expected: vec![e.into()],
        };
        EvalSet {
            queries: vec![q("q0", "a"), q("q1", "b")],
            corpus: vec![doc("a"), doc("b"), doc("c")],
        }
    }

    #[test]
    fn standardized_scores() {
        let z = standardize(&[1.0, 2.0, 3.0]);
        assert!((z[0] + 1.224_744_9).abs() < 1e-6 && z[1].abs() < 1e-12);
        assert_eq!(standardize(&[5.0, 5.0]), vec![0.0, 0.0]);
    }

    #[test]
    fn weight_moves_the_order_between_the_two_scores() {
        let cands = vec![vec![2, 0, 1]];
        let ret = vec![vec![0.9, 0.8, 0.1]];
        let rr = vec![vec![-3.0, 4.0, 0.0]];
        assert_eq!(fuse(&cands, &ret, &rr, 0.0), vec![vec![2, 0, 1]]);
        assert_eq!(fuse(&cands, &ret, &rr, 1.0), vec![vec![0, 1, 2]]);
        // Halfway: z(ret) = [0.86, 0.54, -1.40], z(rr) = [-1.14, 1.30, -0.16].
        assert_eq!(fuse(&cands, &ret, &rr, 0.5), vec![vec![0, 2, 1]]);
    }

    #[test]
    fn choose_picks_the_best_validated_weight() {
        // The retriever is right on q0 only, the re-ranker on q1 only; mixing is right on both.
        let cands = vec![vec![0, 1, 2], vec![0, 1, 2]];
        let ret = vec![vec![0.9, 0.5, 0.1], vec![0.6, 0.5, 0.1]];
        let rr = vec![vec![0.2, 0.3, 0.0], vec![0.0, 9.0, 0.1]];
        let f = Fusion::choose(&set(), &cands, &ret, &rr, "recall@1".parse().unwrap());
        let at = |w: f64| {
            f.validation
                .iter()
                .find(|(x, _)| (x - w).abs() < 1e-9)
                .unwrap()
                .1
        };
        assert_eq!((at(0.0), at(1.0)), (0.5, 0.5));
        assert!(f.reranker_weight > 0.0 && f.reranker_weight < 1.0);
        assert_eq!(at(f.reranker_weight), 1.0);
        let dir = tempfile::tempdir().unwrap();
        f.save(dir.path()).unwrap();
        assert_eq!(Fusion::load(dir.path()).unwrap(), Some(f));
        std::fs::write(
            dir.path().join(Fusion::FILE),
            r#"{"reranker_weight": 2, "metric": "m", "validation": []}"#,
        )
        .unwrap();
        let err = Fusion::load(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("reranker_weight") && err.contains(Fusion::FILE),
            "{err}"
        );
    }
}
