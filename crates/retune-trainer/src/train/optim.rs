//! AdamW as torch implements it (decoupled weight decay, bias-corrected moments), with
//! Hugging Face's parameter groups (no decay on biases and LayerNorm), global-norm gradient
//! clipping as `clip_grad_norm_`, and the linear warmup-then-decay schedule of
//! `get_linear_schedule_with_warmup`.
//!
//! Burn's own AdamW clips per tensor and defaults to other constants; this one works by
//! Hugging Face name over the model's name table, so its state is a plain map of named tensors
//! that checkpoints write and read as safetensors.

use crate::weights::{ParamTable, Slot};
use burn::module::Param;
use burn::tensor::Tensor;
use burn::tensor::backend::{AutodiffBackend, Backend};
use std::collections::BTreeMap;

/// Gradients by parameter name, flattened.
pub type NamedGrads<B> = BTreeMap<String, Tensor<B, 1>>;

/// Linear warmup from 0 to the peak over `warmup` steps, then linear decay to 0 at `total`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinearSchedule {
    /// Peak learning rate.
    pub peak: f64,
    /// Warmup steps.
    pub warmup: usize,
    /// Total optimizer steps.
    pub total: usize,
}

impl LinearSchedule {
    /// The schedule of a run: `ceil(warmup_ratio * total)` warmup steps, as transformers.
    pub fn new(peak: f64, warmup_ratio: f64, total: usize) -> Self {
        Self {
            peak,
            warmup: (warmup_ratio * total as f64).ceil() as usize,
            total,
        }
    }

    /// Learning rate for the optimizer step with 0-based index `step`.
    pub fn lr(&self, step: usize) -> f64 {
        if step < self.warmup {
            return self.peak * step as f64 / self.warmup.max(1) as f64;
        }
        let left = self.total.saturating_sub(step) as f64;
        let span = self.total.saturating_sub(self.warmup).max(1) as f64;
        self.peak * (left / span).max(0.0)
    }
}

/// AdamW state and settings.
#[derive(Debug, Clone)]
pub struct AdamW<B: Backend> {
    /// Weight decay.
    pub weight_decay: f64,
    /// Epsilon.
    pub epsilon: f64,
    /// First-moment decay.
    pub beta1: f64,
    /// Second-moment decay.
    pub beta2: f64,
    /// Optimizer steps taken.
    pub step: usize,
    /// First moments by name.
    pub m: BTreeMap<String, Tensor<B, 1>>,
    /// Second moments by name.
    pub v: BTreeMap<String, Tensor<B, 1>>,
    /// Learning-rate multipliers by name prefix (the first match applies; others train at 1x),
    /// e.g. a freshly initialized head that must move faster than the pretrained body.
    pub lr_multipliers: Vec<(String, f64)>,
}

/// Hugging Face's no-decay rule: biases and LayerNorm parameters.
pub fn decays(name: &str) -> bool {
    !(name.ends_with(".bias") || name.contains("LayerNorm"))
}

impl<B: Backend> AdamW<B> {
    /// Fresh state.
    pub fn new(weight_decay: f64, epsilon: f64) -> Self {
        Self {
            weight_decay,
            epsilon,
            beta1: 0.9,
            beta2: 0.999,
            step: 0,
            m: BTreeMap::new(),
            v: BTreeMap::new(),
            lr_multipliers: Vec::new(),
        }
    }

    /// The multiplier of parameter `name`.
    pub fn lr_multiplier(&self, name: &str) -> f64 {
        self.lr_multipliers
            .iter()
            .find(|(prefix, _)| name.starts_with(prefix.as_str()))
            .map_or(1.0, |(_, m)| *m)
    }

    fn update(
        &mut self,
        name: &str,
        value: Tensor<B, 1>,
        grad: Tensor<B, 1>,
        lr: f64,
    ) -> Tensor<B, 1> {
        let lr = lr * self.lr_multiplier(name);
        let t = self.step as i32;
        let m = match self.m.remove(name) {
            Some(m) => m * self.beta1 + grad.clone() * (1.0 - self.beta1),
            None => grad.clone() * (1.0 - self.beta1),
        };
        let v = match self.v.remove(name) {
            Some(v) => v * self.beta2 + grad.clone() * grad.clone() * (1.0 - self.beta2),
            None => grad.clone() * grad * (1.0 - self.beta2),
        };
        let bc1 = 1.0 - self.beta1.powi(t);
        let bc2 = 1.0 - self.beta2.powi(t);
        let mut p = value;
        if decays(name) && self.weight_decay > 0.0 {
            p = p * (1.0 - lr * self.weight_decay);
        }
        let denom = v.clone().sqrt() / bc2.sqrt() + self.epsilon;
        let p = p - m.clone() / denom * (lr / bc1);
        self.m.insert(name.to_owned(), m);
        self.v.insert(name.to_owned(), v);
        p
    }
}

fn set_param<A: AutodiffBackend, const D: usize>(
    p: &mut Param<Tensor<A, D>>,
    flat: Tensor<A::InnerBackend, 1>,
) {
    let dims = p.val().dims();
    let value = Tensor::<A, D>::from_inner(flat.reshape(dims)).require_grad();
    *p = Param::initialized(p.id, value);
}

fn flat_grad<A: AutodiffBackend, const D: usize>(
    p: &Param<Tensor<A, D>>,
    grads: &A::Gradients,
) -> Option<Tensor<A::InnerBackend, 1>> {
    p.val().grad(grads).map(|g| {
        let n = g.shape().num_elements();
        g.reshape([n])
    })
}

/// Reads every parameter's gradient from a backward pass, by name.
pub fn named_grads<A: AutodiffBackend>(
    model: &mut impl ParamTable<A>,
    grads: &A::Gradients,
) -> NamedGrads<A::InnerBackend> {
    let mut out = BTreeMap::new();
    model.visit_params(&mut |name, slot| {
        let g = match slot {
            Slot::Linear(p) | Slot::Matrix(p) => flat_grad(p, grads),
            Slot::Vector(p) => flat_grad(p, grads),
        };
        if let Some(g) = g {
            out.insert(name, g);
        }
    });
    out
}

/// Adds `more` into `acc`.
pub fn accumulate<B: Backend>(acc: &mut NamedGrads<B>, more: NamedGrads<B>) {
    for (k, g) in more {
        match acc.remove(&k) {
            Some(a) => acc.insert(k, a + g),
            None => acc.insert(k, g),
        };
    }
}

/// Scales gradients so their global L2 norm is at most `max_norm` (torch `clip_grad_norm_`:
/// factor `max_norm / (norm + 1e-6)` when above); returns the norm before clipping.
pub fn clip_global_norm<B: Backend>(grads: &mut NamedGrads<B>, max_norm: f64) -> f64 {
    let total: f64 = grads
        .values()
        .map(|g| f64::from(g.clone().powf_scalar(2.0).sum().into_scalar().to_f32()))
        .sum::<f64>()
        .sqrt();
    if max_norm > 0.0 && total > max_norm {
        let factor = max_norm / (total + 1e-6);
        for g in grads.values_mut() {
            *g = g.clone() * factor;
        }
    }
    total
}

trait ToF32 {
    fn to_f32(self) -> f32;
}

impl<E: burn::tensor::ElementConversion> ToF32 for E {
    fn to_f32(self) -> f32 {
        self.elem()
    }
}

impl<B: Backend> AdamW<B> {
    /// One optimizer step over the model's parameters with the given gradients and rate.
    pub fn step<A: AutodiffBackend<InnerBackend = B>>(
        &mut self,
        model: &mut impl ParamTable<A>,
        grads: &NamedGrads<B>,
        lr: f64,
    ) {
        self.step += 1;
        model.visit_params(&mut |name, slot| {
            let Some(g) = grads.get(&name) else { return };
            match slot {
                Slot::Linear(p) | Slot::Matrix(p) => {
                    let n = p.val().shape().num_elements();
                    let value = p.val().inner().reshape([n]);
                    let updated = self.update(&name, value, g.clone(), lr);
                    set_param(p, updated);
                }
                Slot::Vector(p) => {
                    let value = p.val().inner();
                    let updated = self.update(&name, value, g.clone(), lr);
                    set_param(p, updated);
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_matches_transformers() {
        let s = LinearSchedule::new(1.0, 0.1, 100);
        assert_eq!(s.warmup, 10);
        assert_eq!(s.lr(0), 0.0);
        assert!((s.lr(5) - 0.5).abs() < 1e-12);
        assert_eq!(s.lr(10), 1.0);
        assert!((s.lr(55) - 0.5).abs() < 1e-12);
        assert_eq!(s.lr(100), 0.0);
        let none = LinearSchedule::new(2.0, 0.0, 4);
        assert_eq!((none.lr(0), none.lr(2)), (2.0, 1.0));
    }

    #[test]
    fn no_decay_on_biases_and_layer_norm() {
        assert!(decays("encoder.layer.0.attention.self.query.weight"));
        assert!(!decays("encoder.layer.0.attention.self.query.bias"));
        assert!(!decays("embeddings.LayerNorm.weight"));
    }
}
