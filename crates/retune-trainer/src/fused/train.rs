//! The fused path's training pass: a forward over unpadded sequences that keeps what
//! backpropagation needs ([`TrainPass`]), and the backward that turns the gradient of the
//! last hidden states into every parameter's gradient ([`HostGrads`], by Hugging Face name).
//!
//! Dropout draws the very masks the Burn model draws for the same batch and seed (each site's
//! mask over the padded `[batch, seq, ...]` shape, read at the real tokens), so a step on this
//! path computes the same gradients as one through Burn's autodiff, up to f32 rounding
//! (`tests/fused_training.rs`).

use super::grad_ops::{
    NormSaved, activation_backward, add_column_sums, apply_mask, attention_backward,
    attention_saved, layer_norm_backward, layer_norm_saved, prob_offsets,
};
use super::matmul::{matmul_nt, matmul_tn_acc};
use super::ops::activate;
use super::{Dense, FusedBert, FusedStates, Norm};
use crate::arch::{EmbeddingPart, Family, LayerPart};
use crate::bert::mask_values;
use crate::error::TrainerError;
use crate::tokenize::Tokens;
use rayon::prelude::*;

/// What one layer's backward needs.
struct LayerPass {
    x_in: Vec<f32>,
    qkv: Vec<f32>,
    probs: Vec<f32>,
    probs_mask: Option<Vec<f32>>,
    ctx: Vec<f32>,
    attn_mask: Option<Vec<f32>>,
    attn_norm: NormSaved,
    a: Vec<f32>,
    inner_pre: Vec<f32>,
    inner_act: Vec<f32>,
    out_mask: Option<Vec<f32>>,
    norm: NormSaved,
}

/// A forward pass kept for backpropagation, with its last hidden states.
pub struct TrainPass {
    lens: Vec<usize>,
    /// `(token id, position, token type)` of every packed row.
    tokens: Vec<[usize; 3]>,
    emb_norm: NormSaved,
    emb_mask: Option<Vec<f32>>,
    layers: Vec<LayerPass>,
    states: FusedStates,
}

impl std::fmt::Debug for TrainPass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrainPass")
            .field("sequences", &self.lens.len())
            .field("tokens", &self.tokens.len())
            .finish_non_exhaustive()
    }
}

impl TrainPass {
    /// The last layer's hidden states.
    pub fn states(&self) -> &FusedStates {
        &self.states
    }

    /// The token id of every packed row: the only rows of the word-embedding table whose
    /// gradient this pass' backward makes nonzero.
    pub fn token_ids(&self) -> impl Iterator<Item = usize> + '_ {
        self.tokens.iter().map(|t| t[0])
    }
}

/// A linear layer's gradients, in the fused layout (`w` `[in, out]`).
#[derive(Debug, Clone)]
struct DenseGrad {
    w: Vec<f32>,
    b: Vec<f32>,
}

impl DenseGrad {
    fn zeros(d: &Dense) -> Self {
        Self {
            w: vec![0.0; d.din * d.dout],
            b: vec![0.0; d.dout],
        }
    }
}

#[derive(Debug, Clone)]
struct NormGrad {
    gamma: Vec<f32>,
    beta: Vec<f32>,
}

impl NormGrad {
    fn zeros(n: &Norm) -> Self {
        Self {
            gamma: vec![0.0; n.gamma.len()],
            beta: vec![0.0; n.beta.len()],
        }
    }
}

#[derive(Debug, Clone)]
struct LayerGrads {
    qkv: DenseGrad,
    attn_out: DenseGrad,
    attn_norm: NormGrad,
    intermediate: DenseGrad,
    output: DenseGrad,
    norm: NormGrad,
}

/// Gradients of every encoder parameter (the pooler takes no part), summed over the passes
/// given to [`FusedBert::backward`].
#[derive(Debug, Clone)]
pub struct HostGrads {
    family: Family,
    word: Vec<f32>,
    position: Vec<f32>,
    token_type: Vec<f32>,
    emb_norm: NormGrad,
    layers: Vec<LayerGrads>,
    relative_bias: Vec<f32>,
}

impl HostGrads {
    /// Zero gradients shaped as `model`'s parameters.
    pub fn zeros(model: &FusedBert) -> Self {
        Self {
            family: model.family,
            relative_bias: vec![0.0; model.relative_bias.len()],
            word: vec![0.0; model.word.len()],
            position: vec![0.0; model.position.len()],
            token_type: vec![0.0; model.token_type.len()],
            emb_norm: NormGrad::zeros(&model.emb_norm),
            layers: model
                .layers
                .iter()
                .map(|l| LayerGrads {
                    qkv: DenseGrad::zeros(&l.qkv),
                    attn_out: DenseGrad::zeros(&l.attn_out),
                    attn_norm: NormGrad::zeros(&l.attn_norm),
                    intermediate: DenseGrad::zeros(&l.intermediate),
                    output: DenseGrad::zeros(&l.output),
                    norm: NormGrad::zeros(&l.norm),
                })
                .collect(),
        }
    }

    /// Every gradient with the Hugging Face name of its parameter (from the family's name
    /// table), flattened in Burn's layout (linear weights `[in, out]`), as the trainer's named
    /// gradients hold them.
    pub fn into_named(self) -> Vec<(String, Vec<f32>)> {
        let family = self.family;
        let emb = |part| family.embedding_name(part);
        let mut out = vec![
            (format!("{}.weight", emb(EmbeddingPart::Word)), self.word),
            (
                format!("{}.weight", emb(EmbeddingPart::Position)),
                self.position,
            ),
        ];
        if !self.token_type.is_empty() {
            out.push((
                format!("{}.weight", emb(EmbeddingPart::TokenType)),
                self.token_type,
            ));
        }
        if !self.relative_bias.is_empty() {
            out.push((Family::RELATIVE_BIAS.to_owned(), self.relative_bias));
        }
        let norm = |out: &mut Vec<(String, Vec<f32>)>, p: String, g: NormGrad| {
            out.push((format!("{p}.weight"), g.gamma));
            out.push((format!("{p}.bias"), g.beta));
        };
        let dense = |out: &mut Vec<(String, Vec<f32>)>, p: String, g: DenseGrad| {
            out.push((format!("{p}.weight"), g.w));
            out.push((format!("{p}.bias"), g.b));
        };
        norm(&mut out, emb(EmbeddingPart::Norm).to_owned(), self.emb_norm);
        for (i, l) in self.layers.into_iter().enumerate() {
            let name = |part| family.layer_name(i, part);
            // Query, key and value are one [in, 3 * out] product here; split the columns.
            let h = l.qkv.b.len() / 3;
            let din = l.qkv.w.len() / (3 * h);
            let parts = [LayerPart::Query, LayerPart::Key, LayerPart::Value];
            for (part, which) in parts.into_iter().enumerate() {
                let mut w = Vec::with_capacity(din * h);
                for row in l.qkv.w.chunks_exact(3 * h).take(din) {
                    w.extend_from_slice(&row[part * h..(part + 1) * h]);
                }
                let b = l.qkv.b[part * h..(part + 1) * h].to_vec();
                dense(&mut out, name(which), DenseGrad { w, b });
            }
            dense(&mut out, name(LayerPart::AttentionOutput), l.attn_out);
            norm(&mut out, name(LayerPart::AttentionNorm), l.attn_norm);
            dense(&mut out, name(LayerPart::Intermediate), l.intermediate);
            dense(&mut out, name(LayerPart::Output), l.output);
            norm(&mut out, name(LayerPart::OutputNorm), l.norm);
        }
        out
    }
}

/// How a dropout site's mask is shaped: per token and hidden unit, or per attention
/// probability.
#[derive(Clone, Copy)]
enum Site {
    Hidden,
    Probs,
}

/// A site's mask over the padded shape Burn uses (`[batch, padded, width]` or `[batch,
/// heads, padded, padded]`), read at the real tokens in the packed layout.
fn packed_mask(
    (seed, site, p): (u64, u64, f64),
    kind: Site,
    lens: &[usize],
    (hidden, heads): (usize, usize),
) -> Vec<f32> {
    let batch = lens.len();
    let padded = lens.iter().copied().max().unwrap_or(0).max(1);
    match kind {
        Site::Hidden => {
            let full = mask_values(seed, site, batch * padded * hidden, p);
            let mut out = Vec::with_capacity(lens.iter().sum::<usize>() * hidden);
            for (n, &len) in lens.iter().enumerate() {
                out.extend_from_slice(&full[n * padded * hidden..(n * padded + len) * hidden]);
            }
            out
        }
        Site::Probs => {
            let full = mask_values(seed, site, batch * heads * padded * padded, p);
            let mut out = Vec::with_capacity(prob_offsets(lens, heads)[batch]);
            for (n, &len) in lens.iter().enumerate() {
                for head in 0..heads {
                    for i in 0..len {
                        let at = ((n * heads + head) * padded + i) * padded;
                        out.extend_from_slice(&full[at..at + len]);
                    }
                }
            }
            out
        }
    }
}

/// One dropout site's masks of consecutive groups joined, given each group's mask (`None`:
/// no dropout there) and size; `None` when no group has one. Each part is freed once copied.
fn join_masks(parts: Vec<(Option<Vec<f32>>, usize)>) -> Option<Vec<f32>> {
    if parts.iter().all(|(m, _)| m.is_none()) {
        return None;
    }
    let mut out = Vec::with_capacity(parts.iter().map(|(_, n)| n).sum());
    for (m, n) in parts {
        match m {
            Some(m) => out.extend_from_slice(&m),
            None => out.resize(out.len() + n, 1.0),
        }
    }
    Some(out)
}

/// `x += r`.
fn add_into(x: &mut [f32], r: &[f32]) {
    x.par_chunks_mut(1 << 14)
        .zip(r.par_chunks(1 << 14))
        .for_each(|(x, r)| x.iter_mut().zip(r).for_each(|(a, b)| *a += b));
}

/// `dense(x)`, dropout, then `+ residual`.
fn dense_dropout_residual(
    d: &Dense,
    x: &[f32],
    residual: &[f32],
    mask: Option<&[f32]>,
    rows: usize,
) -> Vec<f32> {
    match mask {
        None => d.apply(x, Some(residual), rows),
        Some(m) => {
            let mut out = d.apply(x, None, rows);
            apply_mask(&mut out, m);
            add_into(&mut out, residual);
            out
        }
    }
}

/// Back through `dense(x)` given the output gradient `d_out`: adds the weight and bias
/// gradients into `g` and the input gradient into `d_x` (or writes it there, `accumulate`
/// false).
fn dense_backward(
    d: &Dense,
    x: &[f32],
    d_out: &[f32],
    g: &mut DenseGrad,
    d_x: &mut [f32],
    accumulate: bool,
) {
    let rows = x.len() / d.din;
    add_column_sums(d_out, &mut g.b);
    matmul_tn_acc(x, d_out, &mut g.w, rows, d.din, d.dout);
    matmul_nt(d_out, &d.w, d_x, (rows, d.dout, d.din), accumulate);
}

impl FusedBert {
    fn check_trainable(&self) -> Result<(), TrainerError> {
        if self.layers.iter().any(|l| l.qkv.packed.is_some()) {
            return Err(TrainerError::Engine {
                problem: "the fused training pass needs f32 weights, not bf16 panels".into(),
            });
        }
        Ok(())
    }

    /// Every dropout mask of a pass over sequences of `lens` tokens drawn from `seed`
    /// (embeddings, then per layer: probabilities, attention output, layer output); `None`
    /// where the site's probability is 0 or there is no seed.
    #[allow(clippy::type_complexity)]
    fn dropout_masks(
        &self,
        seed: Option<u64>,
        lens: &[usize],
    ) -> (Option<Vec<f32>>, Vec<[Option<Vec<f32>>; 3]>) {
        let mut sites = vec![(0u64, Site::Hidden, self.emb_dropout)];
        for (i, l) in self.layers.iter().enumerate() {
            let s = 1 + 3 * i as u64;
            sites.push((s, Site::Probs, l.dropout[0]));
            sites.push((s + 1, Site::Hidden, l.dropout[1]));
            sites.push((s + 2, Site::Hidden, l.dropout[2]));
        }
        let shape = (self.hidden, self.heads);
        let mut masks: Vec<Option<Vec<f32>>> = sites
            .par_iter()
            .map(|&(site, kind, p)| {
                let seed = seed.filter(|_| p > 0.0)?;
                Some(packed_mask((seed, site, p), kind, lens, shape))
            })
            .collect();
        let mut rest = masks.split_off(1).into_iter();
        let layers = (0..self.layers.len())
            .map(|_| {
                let mut next = || rest.next().flatten();
                [next(), next(), next()]
            })
            .collect();
        (masks.pop().flatten(), layers)
    }

    /// [`dropout_masks`](Self::dropout_masks) of each group, joined site by site in the
    /// packed order (a group without a seed keeps every value: ones).
    #[allow(clippy::type_complexity)]
    fn group_dropout_masks(
        &self,
        groups: &[(&[&Tokens], Option<u64>)],
    ) -> (Option<Vec<f32>>, Vec<[Option<Vec<f32>>; 3]>) {
        let lens = |g: &[&Tokens]| g.iter().map(|s| s.ids.len()).collect::<Vec<_>>();
        if let [(g, seed)] = groups {
            return self.dropout_masks(*seed, &lens(g));
        }
        let (hidden, heads) = (self.hidden, self.heads);
        let mut parts: Vec<_> = groups
            .iter()
            .map(|(g, seed)| {
                let lens = lens(g);
                let sizes = (
                    lens.iter().sum::<usize>() * hidden,
                    prob_offsets(&lens, heads)[lens.len()],
                );
                (self.dropout_masks(*seed, &lens), sizes)
            })
            .collect();
        let emb = join_masks(
            parts
                .iter_mut()
                .map(|(m, (h, _))| (m.0.take(), *h))
                .collect(),
        );
        let layers = (0..self.layers.len())
            .map(|l| {
                let mut site = |k: usize| {
                    join_masks(
                        parts
                            .iter_mut()
                            .map(|(m, (h, p))| (m.1[l][k].take(), if k == 0 { *p } else { *h }))
                            .collect(),
                    )
                };
                [site(0), site(1), site(2)]
            })
            .collect();
        (emb, layers)
    }

    /// The forward pass of training: the same hidden states as [`forward`](Self::forward)
    /// with dropout drawn from `dropout_seed` as the Burn model draws it, keeping every
    /// activation [`backward`](Self::backward) needs.
    pub fn forward_train(
        &self,
        seqs: &[&Tokens],
        dropout_seed: Option<u64>,
    ) -> Result<TrainPass, TrainerError> {
        self.forward_train_groups(&[(seqs, dropout_seed)])
    }

    /// One training pass over several groups of sequences packed together (the columns of a
    /// loss: anchors, positives, negatives), each group's dropout drawn from its own seed as
    /// the Burn model draws it for that group alone; the pass' sequences are the groups'
    /// one after another. Larger products than a pass per group, the same values.
    pub fn forward_train_groups(
        &self,
        groups: &[(&[&Tokens], Option<u64>)],
    ) -> Result<TrainPass, TrainerError> {
        let seqs: Vec<&Tokens> = groups.iter().flat_map(|(g, _)| g.iter().copied()).collect();
        let seqs = seqs.as_slice();
        self.check_trainable()?;
        let (lens, offsets) = Self::packing(seqs);
        let bias = self.position_bias(&lens);
        let shape = self.attention_shape(bias.as_ref());
        let rows = offsets.last().copied().unwrap_or(0);
        let mut x = self.embedding_sums(seqs)?;
        let tokens = seqs
            .iter()
            .flat_map(|s| {
                s.ids.iter().enumerate().map(|(p, &id)| {
                    let tt = s.type_ids.get(p).copied().unwrap_or(0) as usize;
                    [id as usize, p + self.position_offset, tt]
                })
            })
            .collect();
        let emb_norm =
            layer_norm_saved(&mut x, &self.emb_norm.gamma, &self.emb_norm.beta, self.eps);
        let (emb_mask, layer_masks) = self.group_dropout_masks(groups);
        if let Some(m) = &emb_mask {
            apply_mask(&mut x, m);
        }
        let mut layers = Vec::with_capacity(self.layers.len());
        for (l, [probs_mask, attn_mask, out_mask]) in self.layers.iter().zip(layer_masks) {
            let x_in = x;
            let qkv = l.qkv.apply(&x_in, None, rows);
            let mut ctx = vec![0.0f32; rows * self.hidden];
            let probs = attention_saved(&qkv, &mut ctx, &lens, shape, probs_mask.as_deref());
            let mut a =
                dense_dropout_residual(&l.attn_out, &ctx, &x_in, attn_mask.as_deref(), rows);
            let attn_norm =
                layer_norm_saved(&mut a, &l.attn_norm.gamma, &l.attn_norm.beta, self.eps);
            let inner_pre = l.intermediate.apply(&a, None, rows);
            let mut inner_act = inner_pre.clone();
            activate(&mut inner_act, self.act);
            let mut out =
                dense_dropout_residual(&l.output, &inner_act, &a, out_mask.as_deref(), rows);
            let norm = layer_norm_saved(&mut out, &l.norm.gamma, &l.norm.beta, self.eps);
            x = out;
            layers.push(LayerPass {
                x_in,
                qkv,
                probs,
                probs_mask,
                ctx,
                attn_mask,
                attn_norm,
                a,
                inner_pre,
                inner_act,
                out_mask,
                norm,
            });
        }
        Ok(TrainPass {
            lens,
            tokens,
            emb_norm,
            emb_mask,
            layers,
            states: FusedStates {
                data: x,
                offsets,
                hidden: self.hidden,
            },
        })
    }

    /// Back-propagates `d_states` (the gradient of `pass`'s last hidden states, same layout)
    /// through the encoder, adding every parameter's gradient into `grads`.
    pub fn backward(
        &self,
        pass: &TrainPass,
        d_states: Vec<f32>,
        grads: &mut HostGrads,
    ) -> Result<(), TrainerError> {
        let h = self.hidden;
        if d_states.len() != pass.states.data.len() || grads.layers.len() != self.layers.len() {
            return Err(TrainerError::Engine {
                problem: format!(
                    "backward: {} state gradients for {} states, {} layer gradients for {} layers",
                    d_states.len(),
                    pass.states.data.len(),
                    grads.layers.len(),
                    self.layers.len()
                ),
            });
        }
        let rows = pass.tokens.len();
        let bias = self.position_bias(&pass.lens);
        let shape = self.attention_shape(bias.as_ref());
        let mut d = d_states;
        for ((l, lp), g) in self
            .layers
            .iter()
            .zip(&pass.layers)
            .zip(&mut grads.layers)
            .rev()
        {
            layer_norm_backward(
                &mut d,
                &lp.norm,
                &l.norm.gamma,
                &mut g.norm.gamma,
                &mut g.norm.beta,
            );
            let mut d_a = d.clone();
            if let Some(m) = &lp.out_mask {
                apply_mask(&mut d, m);
            }
            let mut d_inner = vec![0.0f32; rows * l.intermediate.dout];
            dense_backward(
                &l.output,
                &lp.inner_act,
                &d,
                &mut g.output,
                &mut d_inner,
                false,
            );
            activation_backward(&mut d_inner, &lp.inner_pre, self.act);
            dense_backward(
                &l.intermediate,
                &lp.a,
                &d_inner,
                &mut g.intermediate,
                &mut d_a,
                true,
            );
            layer_norm_backward(
                &mut d_a,
                &lp.attn_norm,
                &l.attn_norm.gamma,
                &mut g.attn_norm.gamma,
                &mut g.attn_norm.beta,
            );
            let mut d_x = d_a.clone();
            if let Some(m) = &lp.attn_mask {
                apply_mask(&mut d_a, m);
            }
            let mut d_ctx = vec![0.0f32; rows * h];
            dense_backward(
                &l.attn_out,
                &lp.ctx,
                &d_a,
                &mut g.attn_out,
                &mut d_ctx,
                false,
            );
            let mut d_qkv = vec![0.0f32; rows * 3 * h];
            let d_bias = attention_backward(
                &lp.qkv,
                &lp.probs,
                lp.probs_mask.as_deref(),
                &d_ctx,
                &mut d_qkv,
                &pass.lens,
                shape,
            );
            if let Some(bias) = &bias {
                let buckets = self.relative_bias.len() / self.heads;
                let table = bias.table_grad(&d_bias, buckets);
                add_into(&mut grads.relative_bias, &table);
            }
            dense_backward(&l.qkv, &lp.x_in, &d_qkv, &mut g.qkv, &mut d_x, true);
            d = d_x;
        }
        if let Some(m) = &pass.emb_mask {
            apply_mask(&mut d, m);
        }
        layer_norm_backward(
            &mut d,
            &pass.emb_norm,
            &self.emb_norm.gamma,
            &mut grads.emb_norm.gamma,
            &mut grads.emb_norm.beta,
        );
        let has_types = !grads.token_type.is_empty();
        for (row, &[id, p, tt]) in d.chunks_exact(h).zip(&pass.tokens) {
            let tables = [
                (&mut grads.word, id),
                (&mut grads.position, p),
                (&mut grads.token_type, tt),
            ];
            for (table, at) in tables.into_iter().take(if has_types { 3 } else { 2 }) {
                table[at * h..(at + 1) * h]
                    .iter_mut()
                    .zip(row)
                    .for_each(|(a, b)| *a += b);
            }
        }
        Ok(())
    }
}
