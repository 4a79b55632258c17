//! The fused training path's per-token operations and their gradients: LayerNorm that keeps
//! what its backward needs, the activations' derivatives, dropout masks applied in place, and
//! self-attention of unpadded sequences that keeps its probabilities, with its backward.
//! Work is split over rows or sequences with rayon.

// Index loops over fixed-size lane arrays are the form the vectorizer keeps in registers.
#![allow(clippy::needless_range_loop)]

use super::ops::{AttentionShape, split_sizes};
use super::position_bias::PositionBias;
use super::simd::{self, multiversion};
use crate::bert::Activation;
use rayon::prelude::*;

/// Rows per parallel task for row-wise work.
const ROWS_PER_TASK: usize = 16;
/// Elements per parallel task for element-wise work.
const ELEMS_PER_TASK: usize = 1 << 14;

/// What LayerNorm's backward needs: the normalized rows (before the affine) and each row's
/// inverse standard deviation.
#[derive(Debug, Clone, Default)]
pub(crate) struct NormSaved {
    pub x_hat: Vec<f32>,
    pub inv: Vec<f32>,
}

/// LayerNorm of every `gamma.len()`-wide row of `x` in place (biased variance, as torch),
/// returning what [`layer_norm_backward`] needs.
pub(crate) fn layer_norm_saved(x: &mut [f32], gamma: &[f32], beta: &[f32], eps: f32) -> NormSaved {
    let h = gamma.len();
    let rows = x.len() / h;
    let mut saved = NormSaved {
        x_hat: vec![0.0; x.len()],
        inv: vec![0.0; rows],
    };
    x.par_chunks_mut(h * ROWS_PER_TASK)
        .zip(saved.x_hat.par_chunks_mut(h * ROWS_PER_TASK))
        .zip(saved.inv.par_chunks_mut(ROWS_PER_TASK))
        .for_each(|((x, x_hat), inv)| {
            for ((row, hat), inv) in x
                .chunks_exact_mut(h)
                .zip(x_hat.chunks_exact_mut(h))
                .zip(inv)
            {
                let mean = simd::sum(row) / h as f32;
                let var = simd::sum_sq_dev(row, mean) / h as f32;
                *inv = 1.0 / (var + eps).sqrt();
                for (((v, xh), g), b) in row.iter_mut().zip(hat.iter_mut()).zip(gamma).zip(beta) {
                    *xh = (*v - mean) * *inv;
                    *v = *xh * g + b;
                }
            }
        });
    saved
}

/// Back through LayerNorm: `d` holds the output gradient and receives the input gradient;
/// the gradients of `gamma` and `beta` are added into `d_gamma` and `d_beta`.
pub(crate) fn layer_norm_backward(
    d: &mut [f32],
    saved: &NormSaved,
    gamma: &[f32],
    d_gamma: &mut [f32],
    d_beta: &mut [f32],
) {
    let h = gamma.len();
    let partials = d
        .par_chunks_mut(h * ROWS_PER_TASK)
        .zip(saved.x_hat.par_chunks(h * ROWS_PER_TASK))
        .zip(saved.inv.par_chunks(ROWS_PER_TASK))
        .map(|((d, x_hat), inv)| {
            let mut dg = vec![0.0f32; h];
            let mut db = vec![0.0f32; h];
            let mut gd = vec![0.0f32; h];
            for ((row, hat), &inv) in d.chunks_exact_mut(h).zip(x_hat.chunks_exact(h)).zip(inv) {
                let (mut s1, mut s2) = (0.0f32, 0.0f32);
                for c in 0..h {
                    dg[c] += row[c] * hat[c];
                    db[c] += row[c];
                    gd[c] = row[c] * gamma[c];
                    s1 += gd[c];
                    s2 += gd[c] * hat[c];
                }
                let (m1, m2) = (s1 / h as f32, s2 / h as f32);
                for c in 0..h {
                    row[c] = inv * (gd[c] - m1 - hat[c] * m2);
                }
            }
            (dg, db)
        })
        .collect::<Vec<_>>();
    // Partial sums are added in chunk order, so the result does not depend on scheduling.
    for (dg, db) in partials {
        d_gamma.iter_mut().zip(dg).for_each(|(x, y)| *x += y);
        d_beta.iter_mut().zip(db).for_each(|(x, y)| *x += y);
    }
}

/// `x *= mask` element-wise (an inverted-dropout mask: `1 / keep` or 0).
pub(crate) fn apply_mask(x: &mut [f32], mask: &[f32]) {
    x.par_chunks_mut(ELEMS_PER_TASK)
        .zip(mask.par_chunks(ELEMS_PER_TASK))
        .for_each(|(x, m)| x.iter_mut().zip(m).for_each(|(v, m)| *v *= m));
}

/// Column sums of `rows x width` `d`, added into `out` (a bias gradient).
pub(crate) fn add_column_sums(d: &[f32], out: &mut [f32]) {
    let w = out.len();
    let partials = d
        .par_chunks(w * ROWS_PER_TASK * 4)
        .map(|c| {
            let mut s = vec![0.0f32; w];
            for row in c.chunks_exact(w) {
                s.iter_mut().zip(row).for_each(|(a, b)| *a += b);
            }
            s
        })
        .collect::<Vec<_>>();
    // Added in chunk order: deterministic whatever the scheduling.
    for s in partials {
        out.iter_mut().zip(s).for_each(|(a, b)| *a += b);
    }
}

multiversion! {
    fn gelu_grad_chunk(d: &mut [f32], x: &[f32]) {
        const INV_SQRT_2PI: f32 = 0.398_942_3;
        for (g, &v) in d.iter_mut().zip(x) {
            let cdf = 0.5 * (1.0 + simd::erf(v * std::f32::consts::FRAC_1_SQRT_2));
            let pdf = INV_SQRT_2PI * simd::exp(-0.5 * v * v);
            *g *= cdf + v * pdf;
        }
    }
}

multiversion! {
    fn gelu_tanh_grad_chunk(d: &mut [f32], x: &[f32]) {
        const C: f32 = 0.797_884_6; // sqrt(2 / pi)
        const A: f32 = 0.044_715;
        for (g, &v) in d.iter_mut().zip(x) {
            let t = simd::tanh(C * (v + A * v * v * v));
            *g *= 0.5 * (1.0 + t) + 0.5 * v * (1.0 - t * t) * C * (1.0 + 3.0 * A * v * v);
        }
    }
}

/// `d *= f'(pre)` for the activation `f`, `pre` its input.
pub(crate) fn activation_backward(d: &mut [f32], pre: &[f32], act: Activation) {
    d.par_chunks_mut(ELEMS_PER_TASK)
        .zip(pre.par_chunks(ELEMS_PER_TASK))
        .for_each(|(d, x)| match act {
            Activation::Gelu => gelu_grad_chunk(d, x),
            Activation::GeluTanh => gelu_tanh_grad_chunk(d, x),
            Activation::Relu => d
                .iter_mut()
                .zip(x)
                .for_each(|(g, &v)| *g = if v > 0.0 { *g } else { 0.0 }),
        });
}

/// `sum_i a[i] * b[i]` in 16 partial sums.
#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    const L: usize = 16;
    let mut acc = [0.0f32; L];
    let (ca, cb) = (a.chunks_exact(L), b.chunks_exact(L));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for l in 0..L {
            acc[l] = x[l].mul_add(y[l], acc[l]);
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// `out += s * x`.
#[inline(always)]
fn axpy(out: &mut [f32], s: f32, x: &[f32]) {
    for (o, v) in out.iter_mut().zip(x) {
        *o = s.mul_add(*v, *o);
    }
}

/// Where each sequence's attention probabilities start (`heads * len * len` each), with the
/// total at the end.
pub(crate) fn prob_offsets(lens: &[usize], heads: usize) -> Vec<usize> {
    let mut offsets = Vec::with_capacity(lens.len() + 1);
    offsets.push(0);
    for l in lens {
        offsets.push(offsets.last().copied().unwrap_or(0) + heads * l * l);
    }
    offsets
}

/// One sequence's attention task: its `qkv` rows, its probabilities, its dropout mask on
/// them, and its context rows.
type SeqTask<'a> = (&'a [f32], &'a mut [f32], Option<&'a [f32]>, &'a mut [f32]);

multiversion! {
    fn attend_sequence(
        qkv: &[f32],
        probs: &mut [f32],
        mask: Option<&[f32]>,
        ctx: &mut [f32],
        shape: AttentionShape<'_>,
    ) {
        let h = shape.hidden;
        let hd = h / shape.heads;
        let len = qkv.len() / (3 * h);
        let scale = 1.0 / (hd as f32).sqrt();
        ctx.fill(0.0);
        for head in 0..shape.heads {
            for i in 0..len {
                let q = &qkv[i * 3 * h + head * hd..i * 3 * h + (head + 1) * hd];
                let at = (head * len + i) * len;
                let p = &mut probs[at..at + len];
                for (j, s) in p.iter_mut().enumerate() {
                    let k = &qkv[j * 3 * h + h + head * hd..j * 3 * h + h + (head + 1) * hd];
                    *s = dot(q, k) * scale;
                }
                if let Some(bias) = shape.bias {
                    p.iter_mut().zip(bias.row(head, i, len)).for_each(|(s, b)| *s += b);
                }
                let max = p.iter().fold(f32::NEG_INFINITY, |m, &s| m.max(s));
                for s in p.iter_mut() {
                    *s = simd::exp(*s - max);
                }
                let inv = 1.0 / simd::sum(p);
                p.iter_mut().for_each(|s| *s *= inv);
                let out = &mut ctx[i * h + head * hd..i * h + (head + 1) * hd];
                for (j, &pj) in p.iter().enumerate() {
                    let pj = mask.map_or(pj, |m| pj * m[at + j]);
                    let v = &qkv[j * 3 * h + 2 * h + head * hd..j * 3 * h + 2 * h + (head + 1) * hd];
                    axpy(out, pj, v);
                }
            }
        }
    }
}

/// Multi-head self-attention of unpadded sequences packed one after another (`qkv` holds each
/// token's `[query | key | value]`), writing each token's context into `ctx` and returning
/// the softmax probabilities (before dropout) in [`prob_offsets`]' layout; `mask` is the
/// dropout mask on the probabilities in the same layout.
pub(crate) fn attention_saved(
    qkv: &[f32],
    ctx: &mut [f32],
    lens: &[usize],
    shape: AttentionShape<'_>,
    mask: Option<&[f32]>,
) -> Vec<f32> {
    let h = shape.hidden;
    let offsets = prob_offsets(lens, shape.heads);
    let mut probs = vec![0.0f32; offsets.last().copied().unwrap_or(0)];
    let mut tasks: Vec<SeqTask<'_>> = Vec::with_capacity(lens.len());
    let sizes = offsets.windows(2).map(|w| w[1] - w[0]);
    let prob_chunks = split_sizes(&mut probs, sizes);
    let ctx_chunks = split_sizes(ctx, lens.iter().map(|l| l * h));
    let mut row = 0;
    for (n, (p, c)) in prob_chunks.into_iter().zip(ctx_chunks).enumerate() {
        let len = lens[n];
        let m = mask.map(|m| &m[offsets[n]..offsets[n + 1]]);
        tasks.push((&qkv[row * 3 * h..(row + len) * 3 * h], p, m, c));
        row += len;
    }
    tasks
        .into_par_iter()
        .for_each(|(q, p, m, c)| attend_sequence(q, p, m, c, shape));
    probs
}

/// One sequence's attention backward task: its `qkv` rows, probabilities, mask, context
/// gradient, and the `qkv` gradient rows it writes.
type SeqGradTask<'a> = (
    &'a [f32],
    &'a [f32],
    Option<&'a [f32]>,
    &'a [f32],
    &'a mut [f32],
);

multiversion! {
    fn attend_sequence_backward(
        qkv: &[f32],
        probs: &[f32],
        mask: Option<&[f32]>,
        d_ctx: &[f32],
        d_qkv: &mut [f32],
        shape: AttentionShape<'_>,
        d_bias: &mut [f32],
    ) {
        let h = shape.hidden;
        let hd = h / shape.heads;
        let len = qkv.len() / (3 * h);
        let scale = 1.0 / (hd as f32).sqrt();
        d_qkv.fill(0.0);
        let mut ds = vec![0.0f32; len];
        let mut q = vec![0.0f32; hd];
        let mut dq = vec![0.0f32; hd];
        for head in 0..shape.heads {
            let (q0, k0, v0) = (head * hd, h + head * hd, 2 * h + head * hd);
            for i in 0..len {
                let at = (head * len + i) * len;
                let p = &probs[at..at + len];
                let dc = &d_ctx[i * h + head * hd..i * h + (head + 1) * hd];
                // dP = (dC V^T) * mask; dV += P'^T dC; dS = P * (dP - sum(P * dP)) * scale.
                let mut row_dot = 0.0f32;
                for j in 0..len {
                    let m = mask.map_or(1.0, |m| m[at + j]);
                    let v = &qkv[j * 3 * h + v0..j * 3 * h + v0 + hd];
                    let dp = dot(dc, v) * m;
                    ds[j] = dp;
                    row_dot += p[j] * dp;
                    let dv = &mut d_qkv[j * 3 * h + v0..j * 3 * h + v0 + hd];
                    axpy(dv, p[j] * m, dc);
                }
                for j in 0..len {
                    ds[j] = p[j] * (ds[j] - row_dot);
                }
                // The bias is added after the scale: its gradient is dS before the scale.
                if let Some(bias) = shape.bias {
                    let at = bias.row_start(head, i);
                    for (g, d) in d_bias[at..at + len].iter_mut().zip(&ds[..len]) {
                        *g += d;
                    }
                }
                for d in &mut ds[..len] {
                    *d *= scale;
                }
                // dQ_i = dS K; dK_j += dS_ij Q_i.
                q.copy_from_slice(&qkv[i * 3 * h + q0..i * 3 * h + q0 + hd]);
                dq.fill(0.0);
                for j in 0..len {
                    let k = &qkv[j * 3 * h + k0..j * 3 * h + k0 + hd];
                    axpy(&mut dq, ds[j], k);
                    let dk = &mut d_qkv[j * 3 * h + k0..j * 3 * h + k0 + hd];
                    axpy(dk, ds[j], &q);
                }
                d_qkv[i * 3 * h + q0..i * 3 * h + q0 + hd].copy_from_slice(&dq);
            }
        }
    }
}

/// Back through [`attention_saved`]: from the context gradient `d_ctx`, writes the gradient
/// of every token's `[query | key | value]` into `d_qkv`, and returns the gradient of the
/// position bias' offsets (empty without a bias).
pub(crate) fn attention_backward(
    qkv: &[f32],
    probs: &[f32],
    mask: Option<&[f32]>,
    d_ctx: &[f32],
    d_qkv: &mut [f32],
    lens: &[usize],
    shape: AttentionShape<'_>,
) -> Vec<f32> {
    let h = shape.hidden;
    let offsets = prob_offsets(lens, shape.heads);
    let chunks = split_sizes(d_qkv, lens.iter().map(|l| l * 3 * h));
    let mut tasks: Vec<SeqGradTask<'_>> = Vec::with_capacity(lens.len());
    let mut row = 0;
    for (n, dq) in chunks.into_iter().enumerate() {
        let len = lens[n];
        let (a, b) = (offsets[n], offsets[n + 1]);
        tasks.push((
            &qkv[row * 3 * h..(row + len) * 3 * h],
            &probs[a..b],
            mask.map(|m| &m[a..b]),
            &d_ctx[row * h..(row + len) * h],
            dq,
        ));
        row += len;
    }
    let bias_len = shape.bias.map_or(0, PositionBias::len);
    tasks
        .into_par_iter()
        .fold(
            || vec![0.0f32; bias_len],
            |mut d_bias, (q, p, m, dc, dq)| {
                attend_sequence_backward(q, p, m, dc, dq, shape, &mut d_bias);
                d_bias
            },
        )
        .reduce(
            || vec![0.0f32; bias_len],
            |mut a, b| {
                a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
                a
            },
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic pseudo-random vector.
    fn values(n: usize, salt: u64) -> Vec<f32> {
        (0..n as u64)
            .map(|i| {
                let x = (i.wrapping_mul(2_654_435_761) ^ salt.wrapping_mul(40_503)) % 1000;
                x as f32 / 500.0 - 1.0
            })
            .collect()
    }

    /// `sum(w * f(x))` and its numerical gradient with respect to `x`.
    fn numeric_grad(x: &[f32], f: impl Fn(&[f32]) -> f64) -> Vec<f64> {
        let eps = 1e-3f32;
        (0..x.len())
            .map(|i| {
                let mut a = x.to_vec();
                let mut b = x.to_vec();
                a[i] += eps;
                b[i] -= eps;
                (f(&a) - f(&b)) / (2.0 * f64::from(eps))
            })
            .collect()
    }

    fn weighted(y: &[f32], w: &[f32]) -> f64 {
        y.iter().zip(w).map(|(a, b)| f64::from(a * b)).sum()
    }

    fn assert_close(got: &[f32], want: &[f64], tol: f64, what: &str) {
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert!(
                (f64::from(*g) - w).abs() <= tol * (1.0 + w.abs()),
                "{what}[{i}]: {g} vs {w}"
            );
        }
    }

    #[test]
    fn layer_norm_backward_matches_finite_differences() {
        let h = 6;
        let x = values(3 * h, 1);
        let gamma = values(h, 2);
        let beta = values(h, 3);
        let w = values(3 * h, 4);
        let f = |x: &[f32]| {
            let mut y = x.to_vec();
            layer_norm_saved(&mut y, &gamma, &beta, 1e-5);
            weighted(&y, &w)
        };
        let mut d = w.clone();
        let mut y = x.clone();
        let saved = layer_norm_saved(&mut y, &gamma, &beta, 1e-5);
        let (mut dg, mut db) = (vec![0.0; h], vec![0.0; h]);
        layer_norm_backward(&mut d, &saved, &gamma, &mut dg, &mut db);
        assert_close(&d, &numeric_grad(&x, f), 2e-3, "dx");
        let fg = |g: &[f32]| {
            let mut y = x.clone();
            layer_norm_saved(&mut y, g, &beta, 1e-5);
            weighted(&y, &w)
        };
        assert_close(&dg, &numeric_grad(&gamma, fg), 2e-3, "dgamma");
        let want_db: Vec<f64> = (0..h)
            .map(|c| (0..3).map(|r| f64::from(w[r * h + c])).sum())
            .collect();
        assert_close(&db, &want_db, 1e-6, "dbeta");
    }

    #[test]
    fn activation_derivatives_match_finite_differences() {
        let x: Vec<f32> = (-30..=30).map(|i| i as f32 / 7.0 + 0.01).collect();
        for act in [Activation::Gelu, Activation::GeluTanh, Activation::Relu] {
            let mut d = vec![1.0f32; x.len()];
            activation_backward(&mut d, &x, act);
            for (i, &v) in x.iter().enumerate() {
                let f = |u: f32| {
                    let mut y = [u];
                    super::super::ops::activate(&mut y, act);
                    f64::from(y[0])
                };
                let want = (f(v + 1e-3) - f(v - 1e-3)) / 2e-3;
                assert!(
                    (f64::from(d[i]) - want).abs() < 2e-3,
                    "{act:?}'({v}): {} vs {want}",
                    d[i]
                );
            }
        }
    }

    #[test]
    fn attention_backward_matches_finite_differences() {
        let shape = AttentionShape {
            hidden: 4,
            heads: 2,
            bias: None,
        };
        let lens = [3, 2];
        let rows: usize = lens.iter().sum();
        let qkv = values(rows * 12, 5);
        let w = values(rows * 4, 6);
        let n_probs = prob_offsets(&lens, 2)[2];
        let mask: Vec<f32> = (0..n_probs)
            .map(|i| if i % 5 == 3 { 0.0 } else { 1.25 })
            .collect();
        let f = |qkv: &[f32]| {
            let mut ctx = vec![0.0f32; rows * 4];
            attention_saved(qkv, &mut ctx, &lens, shape, Some(&mask));
            weighted(&ctx, &w)
        };
        let mut ctx = vec![0.0f32; rows * 4];
        let probs = attention_saved(&qkv, &mut ctx, &lens, shape, Some(&mask));
        // Probabilities of each query row sum to 1; the second sequence never sees the first.
        for row in probs[..3 * 3 * 2].chunks(3) {
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        }
        let mut d_qkv = vec![9.0f32; rows * 12];
        attention_backward(&qkv, &probs, Some(&mask), &w, &mut d_qkv, &lens, shape);
        assert_close(&d_qkv, &numeric_grad(&qkv, f), 2e-3, "dqkv");
    }

    #[test]
    fn position_bias_gradient_matches_finite_differences() {
        // MPNet's bias table [32 buckets, 2 heads]: the loss' gradient with respect to every
        // table entry, through the spread-out offsets and the softmax, against central
        // differences; the query/key/value gradient keeps matching with the bias on.
        let lens = [5, 3];
        let rows: usize = lens.iter().sum();
        let qkv = values(rows * 12, 7);
        let w = values(rows * 4, 8);
        let table = values(64, 9);
        let run = |qkv: &[f32], table: &[f32]| {
            let bias = PositionBias::new(table, 2, 5);
            let shape = AttentionShape {
                hidden: 4,
                heads: 2,
                bias: Some(&bias),
            };
            let mut ctx = vec![0.0f32; rows * 4];
            let probs = attention_saved(qkv, &mut ctx, &lens, shape, None);
            (bias, probs, weighted(&ctx, &w))
        };
        let (bias, probs, _) = run(&qkv, &table);
        let shape = AttentionShape {
            hidden: 4,
            heads: 2,
            bias: Some(&bias),
        };
        let mut d_qkv = vec![0.0f32; rows * 12];
        let d_offsets = attention_backward(&qkv, &probs, None, &w, &mut d_qkv, &lens, shape);
        let d_table = bias.table_grad(&d_offsets, 32);
        assert_close(
            &d_table,
            &numeric_grad(&table, |t| run(&qkv, t).2),
            2e-3,
            "dbias",
        );
        assert_close(
            &d_qkv,
            &numeric_grad(&qkv, |q| run(q, &table).2),
            2e-3,
            "dqkv",
        );
        assert!(d_table.iter().any(|g| g.abs() > 1e-3), "{d_table:?}");
    }
}
