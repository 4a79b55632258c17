//! AdamW as torch implements it (decoupled weight decay, bias-corrected moments), with
//! Hugging Face's parameter groups (no decay on biases and LayerNorm), global-norm gradient
//! clipping as `clip_grad_norm_`, and the linear warmup-then-decay schedule of
//! `get_linear_schedule_with_warmup`.
//!
//! Burn's own AdamW clips per tensor and defaults to other constants; this one works by
//! Hugging Face name over the model's name table, so its state is a plain map of named tensors
//! that checkpoints write and read as safetensors.

use super::rows::{RowState, TouchedRows, chunk_sums};
use crate::arch::Family;
use crate::fused::simd::multiversion;
use crate::host::host_f32;
use crate::weights::{ParamTable, Slot};
use burn::module::{Param, ParamId};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Tensor, TensorData};
use rayon::prelude::*;
use std::collections::{BTreeMap, HashMap};

/// Gradients by parameter name, flattened.
pub type NamedGrads<B> = BTreeMap<String, Tensor<B, 1>>;

/// The only rows that may hold a nonzero gradient, for some matrix parameters by name (the
/// word embeddings of a batch, [`TouchedRows`]); parameters not named here are dense.
pub type RowHints = HashMap<String, TouchedRows>;

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
    /// On CPU backends the moments live here between steps, `[m, v]` by name, so a step does
    /// not copy them out of and back into tensors; [`named_moments`](Self::named_moments)
    /// reads both stores.
    host: BTreeMap<String, [Vec<f32>; 2]>,
    /// Learning-rate multipliers by name prefix (the first match applies; others train at 1x),
    /// e.g. a freshly initialized head that must move faster than the pretrained body.
    pub lr_multipliers: Vec<(String, f64)>,
    /// Whether host updates keep a copy of each new value (for the fused path's weights).
    keep_values: bool,
    /// The values of the last step's host updates, by parameter, when `keep_values`.
    kept: HashMap<ParamId, Vec<f32>>,
    /// Which rows have moments, for the tables updated with [`RowHints`] on the host.
    row_states: HashMap<String, RowState>,
}

/// Learning-rate multipliers of layer-wise decay for a BERT of `layers` layers whose parameter
/// names start with `prefix` (e.g. `""` or `"bert."`): layer `i` trains at
/// `decay^(layers - 1 - i)`, the embeddings at `decay^layers`; the pooler and anything else
/// at 1x. Prefixes end in a dot, so layer 1 does not match layer 10.
pub fn layer_lr_multipliers(
    family: Family,
    layers: usize,
    decay: f64,
    prefix: &str,
) -> Vec<(String, f64)> {
    let mut out: Vec<(String, f64)> = (0..layers)
        .map(|i| {
            let depth = (layers - 1 - i) as i32;
            (
                format!("{prefix}{}", family.layer_prefix(i)),
                decay.powi(depth),
            )
        })
        .collect();
    out.push((format!("{prefix}embeddings."), decay.powi(layers as i32)));
    out
}

/// Hugging Face's no-decay rule: biases and LayerNorm parameters (BERT's `LayerNorm`,
/// ModernBERT's `norm`, `attn_norm`, `mlp_norm`, `final_norm`).
pub fn decays(name: &str) -> bool {
    !(name.ends_with(".bias") || name.contains("LayerNorm") || name.contains("norm."))
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
            host: BTreeMap::new(),
            lr_multipliers: Vec::new(),
            keep_values: false,
            kept: HashMap::new(),
            row_states: HashMap::new(),
        }
    }

    /// Whether host updates (CPU backends) keep a copy of every new parameter value for
    /// [`take_kept_values`](Self::take_kept_values): the fused training path then builds its
    /// next weights from them instead of reading each tensor back.
    pub(crate) fn keep_values(&mut self, on: bool) {
        self.keep_values = on;
        self.kept.clear();
    }

    /// The values the last step kept, by parameter id (empty unless
    /// [`keep_values`](Self::keep_values) is on and the update ran on the host).
    pub(crate) fn take_kept_values(&mut self) -> HashMap<ParamId, Vec<f32>> {
        std::mem::take(&mut self.kept)
    }

    /// Every moment as host values, named `m.NAME` and `v.NAME` (what checkpoints store).
    pub fn named_moments(&self) -> BTreeMap<String, Vec<f32>> {
        let values = |t: &Tensor<B, 1>| host_f32(t.clone()).expect("f32 tensor data");
        let mut out = BTreeMap::new();
        for (kind, map) in [("m", &self.m), ("v", &self.v)] {
            for (name, t) in map {
                out.insert(format!("{kind}.{name}"), values(t));
            }
        }
        for (name, [m, v]) in &self.host {
            out.insert(format!("m.{name}"), m.clone());
            out.insert(format!("v.{name}"), v.clone());
        }
        out
    }

    /// Forgets every moment (before a restore fills `m` and `v`).
    pub fn clear_moments(&mut self) {
        self.m.clear();
        self.v.clear();
        self.host.clear();
        self.row_states.clear();
    }

    /// The multiplier of parameter `name`.
    pub fn lr_multiplier(&self, name: &str) -> f64 {
        self.lr_multipliers
            .iter()
            .find(|(prefix, _)| name.starts_with(prefix.as_str()))
            .map_or(1.0, |(_, m)| *m)
    }

    /// Updates one parameter with its gradient times `scale` (the clipping factor); on the
    /// host, only the `touched` rows (and those with moments) take the full update.
    fn update(
        &mut self,
        (id, name): (ParamId, &str),
        (value, grad): (Tensor<B, 1>, Tensor<B, 1>),
        rate: StepRate,
        touched: Option<&TouchedRows>,
    ) -> Tensor<B, 1> {
        let lr = rate.lr * self.lr_multiplier(name);
        let scale = rate.grad_scale;
        if crate::engine::is_cpu_backend::<B>() {
            let keep = self.keep_values.then_some(id);
            self.update_on_host(name, (value, grad), (lr, scale as f32), keep, touched)
        } else if scale != 1.0 {
            self.update_tensors(name, value, grad * scale, lr)
        } else {
            self.update_tensors(name, value, grad, lr)
        }
    }

    /// torch's AdamW update of one parameter as tensor operations (on the device).
    fn update_tensors(
        &mut self,
        name: &str,
        value: Tensor<B, 1>,
        grad: Tensor<B, 1>,
        lr: f64,
    ) -> Tensor<B, 1> {
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

    /// The same update in one pass over host memory (CPU backends): tensor by tensor the
    /// element-wise chain above costs a dozen passes, each allocating a tensor as large as
    /// the parameter (the word embeddings are half of BERT's weights). With `keep_as`, a copy
    /// of the new value is kept under that id. With `touched` rows (which must hold every
    /// nonzero gradient), rows that never had a gradient only decay: the same bits as the
    /// full update, which leaves their zero moments at zero ([`super::rows`]).
    fn update_on_host(
        &mut self,
        name: &str,
        (value, grad): (Tensor<B, 1>, Tensor<B, 1>),
        (lr, scale): (f64, f32),
        keep_as: Option<ParamId>,
        touched: Option<&TouchedRows>,
    ) -> Tensor<B, 1> {
        let device = value.device();
        let host = |t: Tensor<B, 1>| host_f32(t).expect("f32 tensor data");
        let mut p = host(value);
        let g = host(grad);
        let [mut m, mut v] = self.host.remove(name).unwrap_or_else(|| {
            let take = |map: &mut BTreeMap<String, Tensor<B, 1>>| {
                map.remove(name).map_or_else(|| vec![0.0; g.len()], host)
            };
            [take(&mut self.m), take(&mut self.v)]
        });
        let t = self.step as i32;
        let (b1, b2) = (self.beta1 as f32, self.beta2 as f32);
        let (c1, c2) = ((1.0 - self.beta1) as f32, (1.0 - self.beta2) as f32);
        let inv_bc2_sqrt = (1.0 / (1.0 - self.beta2.powi(t)).sqrt()) as f32;
        let step = (lr / (1.0 - self.beta1.powi(t))) as f32;
        let eps = self.epsilon as f32;
        let keep = if decays(name) && self.weight_decay > 0.0 {
            (1.0 - lr * self.weight_decay) as f32
        } else {
            1.0
        };
        let k = AdamConstants {
            b1,
            c1,
            b2,
            c2,
            inv_bc2_sqrt,
            eps,
            keep,
            step,
            scale,
        };
        match touched.filter(|t| t.fits(g.len())) {
            None => {
                // Any row may get moments here: a later hinted step finds them anew.
                self.row_states.remove(name);
                const CHUNK: usize = 1 << 15;
                p.par_chunks_mut(CHUNK)
                    .zip(m.par_chunks_mut(CHUNK))
                    .zip(v.par_chunks_mut(CHUNK))
                    .zip(g.par_chunks(CHUNK))
                    .for_each(|(((p, m), v), g)| adamw_chunk(p, m, v, g, k));
            }
            Some(t) => {
                let w = t.width;
                let state = self
                    .row_states
                    .entry(name.to_owned())
                    .or_insert_with(|| RowState::from_moments(&m, &v, w));
                state.touch(&t.rows);
                let state = &*state;
                p.par_chunks_mut(w)
                    .zip(m.par_chunks_mut(w))
                    .zip(v.par_chunks_mut(w))
                    .zip(g.par_chunks(w))
                    .enumerate()
                    .with_min_len(256)
                    .for_each(|(r, (((p, m), v), g))| {
                        if state.is_active(r) {
                            adamw_chunk(p, m, v, g, k);
                        } else if keep != 1.0 {
                            decay_chunk(p, keep);
                        }
                    });
            }
        }
        self.host.insert(name.to_owned(), [m, v]);
        if let Some(id) = keep_as {
            self.kept.insert(id, p.clone());
        }
        let n = p.len();
        Tensor::<B, 1>::from_data(TensorData::new(p, [n]), &device)
    }
}

multiversion! {
    /// A row without gradient or moments under AdamW: `p * keep` (`- 0 / denom * step`
    /// subtracts `+0.0`, which changes no bits).
    fn decay_chunk(p: &mut [f32], keep: f32) {
        for p in p {
            *p *= keep;
        }
    }
}

/// The constants of one parameter's AdamW update on the host.
#[derive(Debug, Clone, Copy)]
struct AdamConstants {
    /// beta1.
    b1: f32,
    /// 1 - beta1.
    c1: f32,
    /// beta2.
    b2: f32,
    /// 1 - beta2.
    c2: f32,
    /// 1 / sqrt(bias correction 2).
    inv_bc2_sqrt: f32,
    /// epsilon.
    eps: f32,
    /// 1 - lr * weight decay (1 without decay).
    keep: f32,
    /// lr / bias correction 1.
    step: f32,
    /// The gradient scale (clipping).
    scale: f32,
}

multiversion! {
    /// torch's AdamW update of one chunk in place (vectorized: the same IEEE operations per
    /// element as a scalar loop, so the same bits; the gradient is scaled as clipping would
    /// have scaled it).
    fn adamw_chunk(p: &mut [f32], m: &mut [f32], v: &mut [f32], g: &[f32], k: AdamConstants) {
        let AdamConstants {
            b1,
            c1,
            b2,
            c2,
            inv_bc2_sqrt,
            eps,
            keep,
            step,
            scale,
        } = k;
        let n = p.len().min(m.len()).min(v.len()).min(g.len());
        let (p, m, v, g) = (&mut p[..n], &mut m[..n], &mut v[..n], &g[..n]);
        for (((p, m), v), &g) in p.iter_mut().zip(m.iter_mut()).zip(v.iter_mut()).zip(g) {
            let g = if scale == 1.0 { g } else { g * scale };
            *m = *m * b1 + g * c1;
            *v = *v * b2 + g * g * c2;
            let denom = v.sqrt() * inv_bc2_sqrt + eps;
            *p = *p * keep - *m / denom * step;
        }
    }
}

fn set_param<A: AutodiffBackend, const D: usize>(
    p: &mut Param<Tensor<A, D>>,
    value: Tensor<A::InnerBackend, D>,
) {
    let value = Tensor::<A, D>::from_inner(value).require_grad();
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

/// The learning rate of one optimizer step and the factor its gradients are multiplied by
/// first (the clipping factor of [`clip_scale`]; 1 leaves them as they are).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepRate {
    /// The learning rate (before any layer-wise multiplier).
    pub lr: f64,
    /// The gradient scale.
    pub grad_scale: f64,
}

/// The factor torch's `clip_grad_norm_` multiplies gradients of global norm `norm` by:
/// `max_norm / (norm + 1e-6)` when the norm is above `max_norm` (> 0), else 1.
pub fn clip_scale(norm: f64, max_norm: f64) -> f64 {
    if max_norm > 0.0 && norm > max_norm {
        max_norm / (norm + 1e-6)
    } else {
        1.0
    }
}

/// The global L2 norm of every gradient, reading only the touched rows of the tables `hints`
/// names: the same bits, since the other rows are zero (`train::rows`). On the CPU backends
/// each gradient is moved out of its tensor (no copy when the map holds the only reference),
/// read on the host and moved back; elsewhere it is a sum of tensor reductions.
pub fn global_norm_rows<B: Backend>(grads: &mut NamedGrads<B>, hints: &RowHints) -> f64 {
    if !crate::engine::is_cpu_backend::<B>() {
        return grads
            .values()
            .map(|g| f64::from(g.clone().powf_scalar(2.0).sum().into_scalar().to_f32()))
            .sum::<f64>()
            .sqrt();
    }
    let mut total = 0.0f64;
    for (name, g) in std::mem::take(grads) {
        let device = g.device();
        let v = host_f32(g).expect("f32 tensor data");
        // Partial sums per fixed chunk, added in order: the same norm on every run.
        total += chunk_sums(&v, hints.get(&name)).iter().sum::<f64>();
        let n = v.len();
        grads.insert(name, Tensor::from_data(TensorData::new(v, [n]), &device));
    }
    total.sqrt()
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
    /// One optimizer step over the model's parameters with the given gradients, at `rate.lr`
    /// with every gradient multiplied by `rate.grad_scale` first (the factor of [`clip_scale`]: clipping
    /// folded into the update instead of a pass of its own). The tables `hints` names have
    /// nonzero gradients in their touched rows only: on the host the other rows skip the
    /// moment arithmetic (the same bits, `train::rows`). The gradients are consumed and each
    /// parameter's value is moved out of the model for its update, so on the CPU backends
    /// neither is copied on its way to host memory.
    pub fn step_rows<A: AutodiffBackend<InnerBackend = B>>(
        &mut self,
        model: &mut impl ParamTable<A>,
        mut grads: NamedGrads<B>,
        rate: StepRate,
        hints: &RowHints,
    ) {
        self.step += 1;
        model.visit_params(&mut |name, slot| {
            let Some(g) = grads.remove(&name) else { return };
            match slot {
                Slot::Linear(p) | Slot::Matrix(p) => {
                    let (dims, value) = take_value(p);
                    let n = value.shape().num_elements();
                    let touched = hints.get(&name);
                    let pair = (value.reshape([n]), g);
                    let updated = self.update((p.id, &name), pair, rate, touched);
                    set_param(p, updated.reshape(dims));
                }
                Slot::Vector(p) => {
                    let (dims, value) = take_value(p);
                    let updated = self.update((p.id, &name), (value, g), rate, None);
                    set_param(p, updated.reshape(dims));
                }
            }
        });
    }
}

/// Moves a parameter's value out of the model (an empty tensor stands in until
/// [`set_param`] puts the update back), so the model holds no second reference to it.
fn take_value<A: AutodiffBackend, const D: usize>(
    p: &mut Param<Tensor<A, D>>,
) -> ([usize; D], Tensor<A::InnerBackend, D>) {
    let current = p.val();
    let (dims, device) = (current.dims(), current.device());
    drop(current);
    let stand_in = Tensor::<A, D>::empty([0; D], &device);
    let value = std::mem::replace(p, Param::initialized(p.id, stand_in)).into_value();
    (dims, value.inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_decay_multipliers_match_their_own_layer_only() {
        let mut opt = AdamW::<crate::backend::Cpu>::new(0.01, 1e-6);
        opt.lr_multipliers = layer_lr_multipliers(Family::Bert, 12, 0.5, "");
        let m = |name: &str| opt.lr_multiplier(name);
        assert_eq!(m("encoder.layer.11.output.dense.weight"), 1.0);
        assert_eq!(m("encoder.layer.10.output.dense.weight"), 0.5);
        assert_eq!(
            m("encoder.layer.1.attention.self.query.bias"),
            0.5f64.powi(10)
        );
        assert_eq!(
            m("encoder.layer.0.output.LayerNorm.weight"),
            0.5f64.powi(11)
        );
        assert_eq!(m("embeddings.word_embeddings.weight"), 0.5f64.powi(12));
        assert_eq!(m("pooler.dense.weight"), 1.0);
        let prefixed = layer_lr_multipliers(Family::Bert, 2, 0.5, "bert.");
        assert_eq!(prefixed[0], ("bert.encoder.layer.0.".to_owned(), 0.5));
        assert_eq!(prefixed[2], ("bert.embeddings.".to_owned(), 0.25));
    }

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
    fn host_update_equals_the_tensor_update() {
        use crate::backend::{Cpu, cpu_device};
        let dev = cpu_device();
        let t =
            |v: Vec<f32>| Tensor::<Cpu, 1>::from_data(TensorData::new(v.clone(), [v.len()]), &dev);
        let p: Vec<f32> = (0..100_000)
            .map(|i| ((i % 97) as f32 - 48.0) / 50.0)
            .collect();
        let mut a = AdamW::<Cpu>::new(0.01, 1e-6);
        let mut b = a.clone();
        let (mut pa, mut pb) = (t(p.clone()), t(p));
        for step in 1..=3 {
            let g: Vec<f32> = (0..100_000)
                .map(|i| ((i * step % 89) as f32 - 44.0) / 1000.0)
                .collect();
            a.step = step;
            b.step = step;
            pa = a.update_on_host("w.weight", (pa, t(g.clone())), (1e-3, 1.0), None, None);
            pb = b.update_tensors("w.weight", pb, t(g), 1e-3);
        }
        let (x, y): (Vec<f32>, Vec<f32>) = (
            pa.into_data().to_vec().unwrap(),
            pb.into_data().to_vec().unwrap(),
        );
        for (i, (x, y)) in x.iter().zip(&y).enumerate() {
            assert!((x - y).abs() <= 1e-6 * (1.0 + y.abs()), "[{i}] {x} vs {y}");
        }
        let (ma, mb) = (a.named_moments(), b.named_moments());
        assert_eq!(ma.keys().collect::<Vec<_>>(), ["m.w.weight", "v.w.weight"]);
        assert_eq!(ma.keys().collect::<Vec<_>>(), mb.keys().collect::<Vec<_>>());
        for (k, x) in &ma {
            assert!(
                x.iter().zip(&mb[k]).all(|(x, y)| (x - y).abs() <= 1e-9),
                "{k}"
            );
        }
    }

    #[test]
    fn touched_rows_update_exactly_as_the_dense_update() {
        use crate::backend::{Cpu, cpu_device};
        use rand::{Rng, SeedableRng};
        let dev = cpu_device();
        let t =
            |v: &[f32]| Tensor::<Cpu, 1>::from_data(TensorData::new(v.to_vec(), [v.len()]), &dev);
        let values = |t: Tensor<Cpu, 1>| -> Vec<u32> {
            t.into_data()
                .to_vec::<f32>()
                .unwrap()
                .iter()
                .map(|v| v.to_bits())
                .collect()
        };
        let (rows, width) = (300, 24);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let mut p: Vec<f32> = (0..rows * width)
            .map(|_| rng.random_range(-1.0..1.0))
            .collect();
        p[5] = -0.0;
        let mut dense = AdamW::<Cpu>::new(0.01, 1e-6);
        let mut sparse = dense.clone();
        let (mut pd, mut ps) = (t(&p), t(&p));
        for step in 1..=6 {
            // A few rows with gradients (one of them zero), the rest zero; the last row gets
            // one only in the dense step 5, so it must not be skipped after it.
            let ids: Vec<usize> = (0..12).map(|_| rng.random_range(0..rows - 1)).collect();
            let mut g = vec![0.0f32; rows * width];
            for &r in &ids[1..] {
                for v in &mut g[r * width..(r + 1) * width] {
                    *v = rng.random_range(-0.1..0.1);
                }
            }
            let hint = TouchedRows::new(width, ids);
            dense.step = step;
            sparse.step = step;
            let scale = if step % 2 == 0 { 0.5 } else { 1.0 };
            let lr = (1e-3, scale);
            // Step 5 is dense on both sides, with gradients in rows no hint named.
            let hint = (step != 5).then_some(&hint);
            if step == 5 {
                g[(rows - 1) * width] = 0.05;
            }
            pd = dense.update_on_host("word.weight", (pd, t(&g)), lr, None, None);
            ps = sparse.update_on_host("word.weight", (ps, t(&g)), lr, None, hint);
            if step == 3 {
                // A restore: the moments come back as tensors and the rows are found anew.
                let moments = sparse.named_moments();
                sparse.clear_moments();
                for (k, map) in [("m", &mut sparse.m), ("v", &mut sparse.v)] {
                    map.insert(
                        "word.weight".into(),
                        t(&moments[&format!("{k}.word.weight")]),
                    );
                }
            }
        }
        let (pd, ps) = (values(pd), values(ps));
        assert_eq!(pd, ps);
        assert_ne!(pd, p.iter().map(|v| v.to_bits()).collect::<Vec<_>>());
        assert_eq!(dense.named_moments(), sparse.named_moments());
        // Without weight decay (a bias) untouched rows stay as they were.
        let mut b = AdamW::<Cpu>::new(0.01, 1e-6);
        b.step = 1;
        let hint = TouchedRows::new(width, vec![2]);
        let g = vec![0.0f32; rows * width];
        let out =
            values(b.update_on_host("x.bias", (t(&p), t(&g)), (1e-3, 1.0), None, Some(&hint)));
        assert_eq!(out, p.iter().map(|v| v.to_bits()).collect::<Vec<_>>());
    }

    #[test]
    fn no_decay_on_biases_and_layer_norm() {
        assert!(decays("encoder.layer.0.attention.self.query.weight"));
        assert!(!decays("encoder.layer.0.attention.self.query.bias"));
        assert!(!decays("embeddings.LayerNorm.weight"));
    }
}
