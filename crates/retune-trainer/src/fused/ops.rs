//! The fused path's per-token operations: LayerNorm over rows, the feed-forward activation, and
//! self-attention of unpadded sequences. Each runs over rows or blocks of query rows in parallel
//! with rayon and through the vectorized kernels of [`super::simd`].

// Index loops over fixed-size lane arrays are the form the vectorizer keeps in registers.
#![allow(clippy::needless_range_loop)]

use super::position_bias::PositionBias;
use super::simd::{self, multiversion};
use crate::bert::Activation;
use rayon::prelude::*;

/// Rows per parallel task for row-wise work.
const ROWS_PER_TASK: usize = 16;
/// Elements per parallel task for element-wise work.
const ELEMS_PER_TASK: usize = 1 << 14;

multiversion! {
    fn layer_norm_chunk(x: &mut [f32], gamma: &[f32], beta: &[f32], eps: f32) {
        let h = gamma.len();
        for row in x.chunks_exact_mut(h) {
            let mean = simd::sum(row) / h as f32;
            let var = simd::sum_sq_dev(row, mean) / h as f32;
            let inv = 1.0 / (var + eps).sqrt();
            for ((v, g), b) in row.iter_mut().zip(gamma).zip(beta) {
                *v = (*v - mean) * inv * g + b;
            }
        }
    }
}

/// LayerNorm of every `gamma.len()`-wide row of `x`, in place (biased variance, as torch).
pub(crate) fn layer_norm(x: &mut [f32], gamma: &[f32], beta: &[f32], eps: f32) {
    let h = gamma.len();
    x.par_chunks_mut(h * ROWS_PER_TASK)
        .for_each(|c| layer_norm_chunk(c, gamma, beta, eps));
}

multiversion! {
    fn gelu_chunk(x: &mut [f32]) {
        for v in x.iter_mut() {
            *v = 0.5 * *v * (1.0 + simd::erf(*v * std::f32::consts::FRAC_1_SQRT_2));
        }
    }
}

multiversion! {
    fn gelu_tanh_chunk(x: &mut [f32]) {
        const C: f32 = 0.797_884_6; // sqrt(2 / pi)
        for v in x.iter_mut() {
            let u = *v;
            *v = 0.5 * u * (1.0 + simd::tanh(C * (u + 0.044_715 * u * u * u)));
        }
    }
}

/// Applies the activation in place.
pub(crate) fn activate(x: &mut [f32], act: Activation) {
    x.par_chunks_mut(ELEMS_PER_TASK).for_each(|c| match act {
        Activation::Gelu => gelu_chunk(c),
        Activation::GeluTanh => gelu_tanh_chunk(c),
        Activation::Relu => c.iter_mut().for_each(|v| *v = v.max(0.0)),
    });
}

/// Shapes of one attention call, and the position bias added to its scores (MPNet).
#[derive(Debug, Clone, Copy)]
pub(crate) struct AttentionShape<'a> {
    /// Hidden size.
    pub hidden: usize,
    /// Heads.
    pub heads: usize,
    /// The relative position bias, for models that have one.
    pub bias: Option<&'a PositionBias>,
}

/// Query rows per parallel attention task.
const QUERY_ROWS_PER_TASK: usize = 8;
/// Keys are padded to a multiple of this many (one AVX-512 vector) so score loops have no
/// scalar tail.
const KEY_PAD: usize = 16;

/// One sequence's keys transposed: `[hidden][padded len]`, zero past the sequence's length.
/// Key column `c` is dimension `c % head_dim` of head `c / head_dim`, so this is also
/// `[heads][head_dim][padded len]`.
fn transpose_keys(qkv: &[f32], keys_t: &mut [f32], h: usize, lp: usize) {
    for (j, tok) in qkv.chunks_exact(3 * h).enumerate() {
        for (c, &kv) in tok[h..2 * h].iter().enumerate() {
            keys_t[c * lp + j] = kv;
        }
    }
}

/// Lanes of the register-blocked loops (one AVX-512 vector).
const V: usize = 16;

multiversion! {
    fn attend_rows(
        qkv: &[f32],
        keys_t: &[f32],
        ctx: &mut [f32],
        first_row: usize,
        shape: AttentionShape<'_>,
        scores: &mut Vec<f32>,
    ) {
        let h = shape.hidden;
        let hd = h / shape.heads;
        let len = qkv.len() / (3 * h);
        let lp = keys_t.len() / h;
        let scale = 1.0 / (hd as f32).sqrt();
        scores.resize(lp, 0.0);
        for (r, out_row) in ctx.chunks_exact_mut(h).enumerate() {
            let i = first_row + r;
            for head in 0..shape.heads {
                let (q0, v0) = (head * hd, 2 * h + head * hd);
                let q = &qkv[i * 3 * h + q0..i * 3 * h + q0 + hd];
                let kt = &keys_t[head * hd * lp..(head + 1) * hd * lp];
                // scores = (q * scale) K^T, V keys at a time, summed over the head's dimensions
                // in two registers (even and odd dimensions) to hide the FMA latency.
                for (jb, block) in scores.chunks_exact_mut(V).enumerate() {
                    let mut acc = [[0.0f32; V]; 2];
                    for (d, &qd) in q.iter().enumerate() {
                        let k = &kt[d * lp + jb * V..d * lp + jb * V + V];
                        let a = &mut acc[d & 1];
                        for l in 0..V {
                            a[l] = qd.mul_add(k[l], a[l]);
                        }
                    }
                    for l in 0..V {
                        block[l] = (acc[0][l] + acc[1][l]) * scale;
                    }
                }
                if let Some(bias) = shape.bias {
                    for (s, b) in scores[..len].iter_mut().zip(bias.row(head, i, len)) {
                        *s += b;
                    }
                }
                let mut max = [f32::NEG_INFINITY; V];
                for (jb, block) in scores.chunks_exact(V).enumerate() {
                    for l in 0..V {
                        let s = if jb * V + l < len { block[l] } else { f32::NEG_INFINITY };
                        max[l] = max[l].max(s);
                    }
                }
                let max = max.iter().fold(f32::NEG_INFINITY, |m, &s| m.max(s));
                for (jb, block) in scores.chunks_exact_mut(V).enumerate() {
                    for l in 0..V {
                        let e = simd::exp(block[l] - max);
                        block[l] = if jb * V + l < len { e } else { 0.0 };
                    }
                }
                let inv = 1.0 / simd::sum(scores);
                // context = probabilities V, V dimensions at a time in one register.
                let out = &mut out_row[q0..q0 + hd];
                let mut blocks = out.chunks_exact_mut(V);
                for (cb, o) in (&mut blocks).enumerate() {
                    let mut acc = [[0.0f32; V]; 2];
                    for (j, &p) in scores[..len].iter().enumerate() {
                        let at = j * 3 * h + v0 + cb * V;
                        let v = &qkv[at..at + V];
                        let a = &mut acc[j & 1];
                        for l in 0..V {
                            a[l] = p.mul_add(v[l], a[l]);
                        }
                    }
                    for l in 0..V {
                        o[l] = (acc[0][l] + acc[1][l]) * inv;
                    }
                }
                let rest = blocks.into_remainder();
                let c0 = hd - rest.len();
                for (l, o) in rest.iter_mut().enumerate() {
                    let mut acc = 0.0f32;
                    for (j, &p) in scores[..len].iter().enumerate() {
                        acc = p.mul_add(qkv[j * 3 * h + v0 + c0 + l], acc);
                    }
                    *o = acc * inv;
                }
            }
        }
    }
}

/// Splits `data` into consecutive chunks of the given sizes.
pub(crate) fn split_sizes<T>(
    mut data: &mut [T],
    sizes: impl Iterator<Item = usize>,
) -> Vec<&mut [T]> {
    let mut out = Vec::new();
    for n in sizes {
        let (a, b) = std::mem::take(&mut data).split_at_mut(n);
        out.push(a);
        data = b;
    }
    out
}

/// One attention task: a sequence's `qkv` rows, its transposed keys, the index of the first
/// query row, and that block's rows of the context.
type RowTask<'a> = (&'a [f32], &'a [f32], usize, &'a mut [f32]);

/// Multi-head self-attention of unpadded sequences packed one after another: `qkv` holds each
/// token's `[query | key | value]` (`3 * hidden` wide), `ctx` receives each token's context
/// (`hidden` wide), `lens` are the sequence lengths. Each sequence attends only to itself;
/// blocks of query rows run in parallel (so one long sequence uses every core too).
pub(crate) fn attention(qkv: &[f32], ctx: &mut [f32], lens: &[usize], shape: AttentionShape<'_>) {
    let h = shape.hidden;
    let padded: Vec<usize> = lens.iter().map(|l| l.next_multiple_of(KEY_PAD)).collect();
    let mut keys_t = vec![0.0f32; h * padded.iter().sum::<usize>()];
    // Split the inputs per sequence.
    let mut q_rest = qkv;
    let queries: Vec<&[f32]> = lens
        .iter()
        .map(|&len| {
            let (q, rest) = q_rest.split_at(len * 3 * h);
            q_rest = rest;
            q
        })
        .collect();
    let keys = split_sizes(&mut keys_t, padded.iter().map(|lp| lp * h));
    let mut seqs: Vec<(&[f32], &mut [f32])> = queries.into_iter().zip(keys).collect();
    seqs.par_iter_mut()
        .for_each(|(q, k)| transpose_keys(q, k, h, k.len() / h));
    // Tasks: a block of query rows of one sequence, with its slice of `ctx`.
    let mut tasks: Vec<RowTask<'_>> = Vec::new();
    let contexts = split_sizes(ctx, lens.iter().map(|l| l * h));
    for ((q, k), c) in seqs.iter().zip(contexts) {
        for (b, block) in c.chunks_mut(QUERY_ROWS_PER_TASK * h).enumerate() {
            tasks.push((q, k, b * QUERY_ROWS_PER_TASK, block));
        }
    }
    tasks
        .into_par_iter()
        .for_each_init(Vec::new, |scores, (q, k, first, block)| {
            attend_rows(q, k, block, first, shape, scores)
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_norm_gives_zero_mean_unit_variance_then_affine() {
        let mut x = vec![1.0f32, 2.0, 3.0, 4.0, -1.0, -1.0, -1.0, -1.0];
        layer_norm(&mut x, &[1.0, 1.0, 2.0, 2.0], &[0.0, 0.0, 0.0, 1.0], 1e-12);
        let s = 1.0 / 1.25f32.sqrt();
        let want = [-1.5 * s, -0.5 * s, 2.0 * 0.5 * s, 2.0 * 1.5 * s + 1.0];
        for (a, b) in x[..4].iter().zip(want) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
        assert_eq!(&x[4..], &[0.0, 0.0, 0.0, 1.0]);
    }

    #[test]
    fn activations_match_their_definitions() {
        let xs: Vec<f32> = (-40..=40).map(|i| i as f32 / 8.0).collect();
        let mut g = xs.clone();
        activate(&mut g, Activation::Gelu);
        let mut t = xs.clone();
        activate(&mut t, Activation::GeluTanh);
        let mut r = xs.clone();
        activate(&mut r, Activation::Relu);
        for (i, &x) in xs.iter().enumerate() {
            let x64 = f64::from(x);
            // erf by its series: exact to f64 precision on |x| <= 5 / sqrt(2).
            let z = x64 / std::f64::consts::SQRT_2;
            let mut term = z;
            let mut erf = z;
            for n in 1..200 {
                term *= -z * z / n as f64;
                erf += term / (2 * n + 1) as f64;
            }
            let erf = erf * 2.0 / std::f64::consts::PI.sqrt();
            let gelu = 0.5 * x64 * (1.0 + erf);
            assert!((f64::from(g[i]) - gelu).abs() < 2e-6, "gelu({x})");
            let c = (2.0 / std::f64::consts::PI).sqrt();
            let tanh = 0.5 * x64 * (1.0 + (c * (x64 + 0.044715 * x64.powi(3))).tanh());
            assert!((f64::from(t[i]) - tanh).abs() < 2e-6, "gelu_tanh({x})");
            assert_eq!(r[i], x.max(0.0));
        }
    }

    #[test]
    fn attention_of_one_token_is_its_value_and_sequences_stay_apart() {
        // hidden 2, one head; sequence A has one token, sequence B two tokens with equal keys.
        let shape = AttentionShape {
            hidden: 2,
            heads: 1,
            bias: None,
        };
        #[rustfmt::skip]
        let qkv = [
            1.0, 0.0,  5.0, 5.0,  7.0, -7.0, // A0: q, k, v
            1.0, 1.0,  1.0, 0.0,  2.0, 0.0,  // B0
            0.0, 1.0,  1.0, 0.0,  0.0, 4.0,  // B1
        ];
        let mut ctx = [9.0f32; 6];
        attention(&qkv, &mut ctx, &[1, 2], shape);
        assert_eq!(&ctx[..2], &[7.0, -7.0]);
        for row in ctx[2..].chunks(2) {
            assert!((row[0] - 1.0).abs() < 1e-6 && (row[1] - 2.0).abs() < 1e-6);
        }
    }
}
