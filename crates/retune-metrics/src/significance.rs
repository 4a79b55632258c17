//! Paired comparison of two systems over the same queries.
//!
//! For per-query values `a_i` (baseline) and `b_i` (candidate), the differences `d_i = b_i - a_i`
//! give: the mean difference; a 95% (by default) paired-bootstrap percentile interval of that
//! mean (queries resampled with replacement); a two-sided paired randomization (sign-flip) test,
//! `p = (1 + #{|mean(s * d)| >= |mean(d)|}) / (1 + resamples)`; and the counts of queries
//! improved, worsened and unchanged. Both resampling procedures are seeded and deterministic.

use crate::MetricsError;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Settings of [`compare_paired`].
#[derive(Debug, Clone, PartialEq)]
pub struct ComparisonConfig {
    /// Bootstrap and randomization resamples (default 10,000).
    pub resamples: usize,
    /// Confidence level of the interval (default 0.95).
    pub confidence: f64,
    /// Seed of both procedures (default 0).
    pub seed: u64,
}

impl Default for ComparisonConfig {
    fn default() -> Self {
        Self {
            resamples: 10_000,
            confidence: 0.95,
            seed: 0,
        }
    }
}

impl ComparisonConfig {
    /// Sets the number of resamples.
    #[must_use]
    pub fn with_resamples(mut self, resamples: usize) -> Self {
        self.resamples = resamples;
        self
    }

    /// Sets the seed.
    #[must_use]
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
}

/// The result of a paired comparison.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PairedComparison {
    /// Mean of candidate minus baseline.
    pub mean_difference: f64,
    /// Lower end of the bootstrap interval.
    pub ci_low: f64,
    /// Upper end of the bootstrap interval.
    pub ci_high: f64,
    /// Two-sided randomization-test p-value.
    pub p_value: f64,
    /// Queries where the candidate scored higher.
    pub improved: usize,
    /// Queries where the candidate scored lower.
    pub worsened: usize,
    /// Queries with equal scores.
    pub unchanged: usize,
}

/// Compares a candidate to a baseline on the same queries, in the same order.
pub fn compare_paired(
    baseline: &[f64],
    candidate: &[f64],
    config: &ComparisonConfig,
) -> Result<PairedComparison, MetricsError> {
    if baseline.len() != candidate.len() || baseline.is_empty() {
        return Err(MetricsError::Unpaired {
            left: baseline.len(),
            right: candidate.len(),
        });
    }
    let diffs: Vec<f64> = candidate.iter().zip(baseline).map(|(b, a)| b - a).collect();
    let n = diffs.len();
    let mean = diffs.iter().sum::<f64>() / n as f64;
    // Differences this small are float noise from equal values computed two ways.
    let eps = 1e-12;
    let improved = diffs.iter().filter(|d| **d > eps).count();
    let worsened = diffs.iter().filter(|d| **d < -eps).count();

    let resamples = config.resamples.max(1);
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let mut boot: Vec<f64> = (0..resamples)
        .map(|_| (0..n).map(|_| diffs[rng.random_range(0..n)]).sum::<f64>() / n as f64)
        .collect();
    boot.sort_by(f64::total_cmp);
    let alpha = (1.0 - config.confidence) / 2.0;
    let at = |q: f64| boot[((q * (resamples - 1) as f64).round() as usize).min(resamples - 1)];

    let observed = mean.abs();
    let mut extreme = 0usize;
    for _ in 0..resamples {
        let s: f64 = diffs
            .iter()
            .map(|d| if rng.random::<bool>() { *d } else { -*d })
            .sum();
        if (s / n as f64).abs() >= observed - eps {
            extreme += 1;
        }
    }
    Ok(PairedComparison {
        mean_difference: mean,
        ci_low: at(alpha),
        ci_high: at(1.0 - alpha),
        p_value: (1 + extreme) as f64 / (1 + resamples) as f64,
        improved,
        worsened,
        unchanged: n - improved - worsened,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_systems_differ_by_nothing() {
        let a = [0.0, 1.0, 0.5, 0.25];
        let c = compare_paired(&a, &a, &ComparisonConfig::default()).unwrap();
        assert_eq!(c.mean_difference, 0.0);
        assert_eq!((c.ci_low, c.ci_high), (0.0, 0.0));
        assert_eq!(c.p_value, 1.0);
        assert_eq!((c.improved, c.worsened, c.unchanged), (0, 0, 4));
    }

    #[test]
    fn better_everywhere_is_significant() {
        let a = vec![0.0; 30];
        let b: Vec<f64> = (0..30).map(|i| 0.5 + i as f64 / 100.0).collect();
        let c = compare_paired(&a, &b, &ComparisonConfig::default()).unwrap();
        assert!(c.p_value < 0.001, "{}", c.p_value);
        assert!(c.ci_low > 0.0 && c.ci_high <= 0.8);
        assert_eq!(c.improved, 30);
    }

    #[test]
    fn seeded_and_symmetric() {
        let a = [0.1, 0.9, 0.3, 0.4, 0.0, 1.0];
        let b = [0.2, 0.8, 0.6, 0.4, 1.0, 0.5];
        let cfg = ComparisonConfig::default().with_resamples(2000);
        let x = compare_paired(&a, &b, &cfg).unwrap();
        assert_eq!(x, compare_paired(&a, &b, &cfg).unwrap());
        let y = compare_paired(&b, &a, &cfg).unwrap();
        assert!((x.mean_difference + y.mean_difference).abs() < 1e-15);
        assert!(x.ci_low <= x.mean_difference && x.mean_difference <= x.ci_high);
        assert!(x.p_value > 0.2);
    }

    #[test]
    fn unpaired_inputs_are_refused() {
        let err = compare_paired(&[1.0], &[1.0, 2.0], &ComparisonConfig::default());
        assert!(matches!(
            err,
            Err(MetricsError::Unpaired { left: 1, right: 2 })
        ));
    }
}
