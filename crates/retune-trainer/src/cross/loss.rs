//! Cross-encoder losses on logits.
//!
//! - [`bce_with_logits`]: mean binary cross-entropy of labeled pairs,
//!   `mean(max(x, 0) - x y + ln(1 + e^{-|x|}))` (the numerically stable form of torch's
//!   `BCEWithLogitsLoss`).
//! - [`listwise_softmax`]: for each group of logits whose first entry is the positive,
//!   `logsumexp(l) - l_0`, averaged over groups: the cross-encoder form of MNRL (softmax
//!   cross-entropy over one positive and its negatives, as ListNet with a one-hot target).
//! - [`listwise_distillation`]: for each group, `KL(softmax(t) || softmax(l))` against a
//!   teacher's logits `t` (a bi-encoder's scaled similarities): `logsumexp(l) - sum p_t l -
//!   H(p_t)`, averaged over groups; it teaches the order of the negatives too, where the
//!   one-hot target says only which document is right.

use burn::tensor::{Tensor, backend::Backend};
use serde::{Deserialize, Serialize};

/// Which loss trains the cross-encoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CrossLoss {
    /// Binary cross-entropy: the positive labeled 1, every negative 0.
    Bce,
    /// Softmax cross-entropy over each (positive, negatives) group.
    Listwise,
}

/// Mean BCE of `logits` against `labels` (same length, labels in [0, 1]).
pub fn bce_with_logits<B: Backend>(logits: Tensor<B, 1>, labels: Tensor<B, 1>) -> Tensor<B, 1> {
    let pos = logits.clone().clamp_min(0.0);
    let soft = logits.clone().abs().neg().exp().log1p();
    (pos - logits * labels + soft).mean()
}

/// Mean over groups of `logsumexp(group) - group[0]`; `sizes` gives each group's length, in
/// the order the groups are concatenated in `logits`.
pub fn listwise_softmax<B: Backend>(logits: Tensor<B, 1>, sizes: &[usize]) -> Tensor<B, 1> {
    let mut start = 0;
    let mut total: Option<Tensor<B, 1>> = None;
    for &n in sizes {
        let g = logits.clone().narrow(0, start, n);
        let term = logsumexp(g.clone()) - g.narrow(0, 0, 1);
        total = Some(match total {
            Some(t) => t + term,
            None => term,
        });
        start += n;
    }
    total.expect("at least one group") / sizes.len() as f64
}

/// `logsumexp` of a group (the max subtracted first, so large logits stay finite).
fn logsumexp<B: Backend>(g: Tensor<B, 1>) -> Tensor<B, 1> {
    let max = g.clone().max().detach();
    (g - max.clone()).exp().sum().log() + max
}

/// Mean over groups of `KL(softmax(teacher_g) || softmax(logits_g))`; `teacher` holds one
/// logit per entry of `logits` (the same groups, the same order).
pub fn listwise_distillation<B: Backend>(
    logits: Tensor<B, 1>,
    teacher: &[f32],
    sizes: &[usize],
) -> Tensor<B, 1> {
    let device = logits.device();
    let mut start = 0;
    let mut total: Option<Tensor<B, 1>> = None;
    for &n in sizes {
        let t = &teacher[start..start + n];
        let max = t
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, |m, x| m.max(f64::from(x)));
        let mut q: Vec<f64> = t.iter().map(|&x| (f64::from(x) - max).exp()).collect();
        let z: f64 = q.iter().sum();
        q.iter_mut().for_each(|x| *x /= z);
        let entropy: f64 = q.iter().filter(|&&x| x > 0.0).map(|&x| -x * x.ln()).sum();
        let p: Vec<f32> = q.iter().map(|&x| x as f32).collect();
        let g = logits.clone().narrow(0, start, n);
        let expected = (g.clone() * Tensor::<B, 1>::from_floats(p.as_slice(), &device)).sum();
        let term = logsumexp(g) - expected - entropy;
        total = Some(match total {
            Some(acc) => acc + term,
            None => term,
        });
        start += n;
    }
    total.expect("at least one group") / sizes.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{Cpu, cpu_device};

    fn t(v: &[f32]) -> Tensor<Cpu, 1> {
        Tensor::from_floats(v, &cpu_device())
    }

    fn scalar(x: Tensor<Cpu, 1>) -> f64 {
        f64::from(x.into_scalar())
    }

    #[test]
    fn bce_matches_hand_computed_values() {
        // -ln s(2) = ln(1 + e^-2); -ln(1 - s(-1)) = ln(1 + e^-1); -ln(1 - s(30)) = 30 + ln(1 + e^-30)
        // (the last in closed form: 1 - s(30) computed directly loses digits in f64).
        let want =
            ((-2.0f64).exp().ln_1p() + (-1.0f64).exp().ln_1p() + 30.0 + (-30.0f64).exp().ln_1p())
                / 3.0;
        let got = scalar(bce_with_logits(t(&[2.0, -1.0, 30.0]), t(&[1.0, 0.0, 0.0])));
        assert!((got - want).abs() < 1e-5, "{got} vs {want}");
        // A positive label: -ln s(0.5) = ln(1 + e^-0.5).
        let pos = scalar(bce_with_logits(t(&[0.5]), t(&[1.0])));
        assert!((pos - (-0.5f64).exp().ln_1p()).abs() < 1e-6, "{pos}");
    }

    #[test]
    fn listwise_matches_hand_computed_values() {
        let g1 = [2.0f64, 0.0, -1.0];
        let g2 = [0.5f64, 1.5];
        let ce = |g: &[f64]| g.iter().map(|x| x.exp()).sum::<f64>().ln() - g[0];
        let want = (ce(&g1) + ce(&g2)) / 2.0;
        let got = scalar(listwise_softmax(t(&[2.0, 0.0, -1.0, 0.5, 1.5]), &[3, 2]));
        assert!((got - want).abs() < 1e-6, "{got} vs {want}");
        // Large logits stay finite (the max is subtracted).
        let big = scalar(listwise_softmax(t(&[500.0, 499.0]), &[2]));
        assert!((big - (1.0 + (-1.0f64).exp()).ln()).abs() < 1e-4, "{big}");
    }

    #[test]
    fn distillation_matches_hand_computed_kl_and_vanishes_at_the_teacher() {
        let softmax = |g: &[f64]| {
            let z: f64 = g.iter().map(|x| x.exp()).sum();
            g.iter().map(|x| x.exp() / z).collect::<Vec<_>>()
        };
        let kl = |t: &[f64], l: &[f64]| {
            let (p, q) = (softmax(t), softmax(l));
            p.iter().zip(&q).map(|(a, b)| a * (a / b).ln()).sum::<f64>()
        };
        let (l1, t1) = ([2.0f64, 0.0, -1.0], [1.0f64, 1.5, -2.0]);
        let (l2, t2) = ([0.5f64, 1.5], [3.0f64, 0.0]);
        let want = (kl(&t1, &l1) + kl(&t2, &l2)) / 2.0;
        let teacher: Vec<f32> = t1.iter().chain(&t2).map(|&x| x as f32).collect();
        let got = scalar(listwise_distillation(
            t(&[2.0, 0.0, -1.0, 0.5, 1.5]),
            &teacher,
            &[3, 2],
        ));
        assert!((got - want).abs() < 1e-5, "{got} vs {want}");
        // Zero when the student's logits equal the teacher's up to a shift, and never below.
        let same = scalar(listwise_distillation(
            t(&[11.0, 11.5, 8.0]),
            &[1.0, 1.5, -2.0],
            &[3],
        ));
        assert!(same.abs() < 1e-5, "{same}");
        // Large logits stay finite.
        let big = scalar(listwise_distillation(
            t(&[500.0, 499.0]),
            &[40.0, 0.0],
            &[2],
        ));
        assert!(big.is_finite() && big > 0.0, "{big}");
    }
}
