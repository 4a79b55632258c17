//! The fused CPU inference path of the BERT encoder.
//!
//! [`FusedBert`] copies the weights of a Burn [`BertModel`] (the one definition, used for
//! training and CUDA) into plain row-major buffers and runs the forward pass without Burn:
//!
//! - sequences are packed one after another with no padding, so the linear layers multiply
//!   `[total tokens, in]` by `[in, out]` and no work is spent on pad tokens;
//! - query, key and value are one `[hidden, 3 * hidden]` product;
//! - each product accumulates into a buffer that already holds its bias, and for the output
//!   projections the residual too, so bias and residual cost no pass; LayerNorm, GELU and the
//!   attention softmax are vectorized kernels (AVX-512 / AVX2 chosen at run time);
//! - attention runs on each sequence's own tokens only, in parallel over blocks of query rows
//!   of every sequence (so a single long text uses every core too).
//!
//! It gives the same hidden states as the Burn model up to f32 rounding (parity tests:
//! `tests/fused_parity.rs`), and the encoder uses it for inference on CPU backends.

mod grad_ops;
mod matmul;
mod ops;
mod pool;
mod position_bias;
pub(crate) mod simd;
mod train;

use crate::arch::Family;
use crate::bert::{Activation, BertConfig, BertModel};
use crate::error::TrainerError;
use crate::host::host_f32;
use crate::tokenize::Tokens;
use crate::transformer::{Transformer, TransformerConfig};
use burn::module::{Param, ParamId};
use burn::nn::{LayerNorm, Linear};
use burn::tensor::{Tensor, backend::Backend};
use matmul::matmul_acc;
use ops::{AttentionShape, activate, attention, layer_norm};
pub use pool::normalize;
pub(crate) use pool::{pool, pool_backward};
use position_bias::PositionBias;
use retune_kernels::bf16_gemm::{self, PackedWeights};
use std::collections::HashMap;
pub use train::{HostGrads, TrainPass};

/// A linear layer: `w` is `[in, out]` row-major, or empty once `packed` holds it as bf16.
#[derive(Clone)]
struct Dense {
    w: Vec<f32>,
    b: Vec<f32>,
    din: usize,
    dout: usize,
    packed: Option<std::sync::Arc<PackedWeights>>,
}

impl Dense {
    /// `out = x * w + b (+ residual)` for `x` of `rows` rows.
    fn apply(&self, x: &[f32], residual: Option<&[f32]>, rows: usize) -> Vec<f32> {
        let mut out = Vec::with_capacity(rows * self.dout);
        match residual {
            Some(r) => {
                for row in r.chunks_exact(self.dout) {
                    out.extend(row.iter().zip(&self.b).map(|(a, b)| a + b));
                }
            }
            None => {
                for _ in 0..rows {
                    out.extend_from_slice(&self.b);
                }
            }
        }
        match &self.packed {
            Some(p) => bf16_gemm::matmul_acc(x, rows, p, &mut out),
            None => matmul_acc(x, &self.w, &mut out, rows, self.din, self.dout),
        }
        out
    }

    /// Moves the weights into bf16 panels for the AMX product.
    fn pack_bf16(&mut self) {
        if self.packed.is_none() {
            let packed = PackedWeights::pack(&self.w, self.din, self.dout);
            self.packed = Some(std::sync::Arc::new(packed));
            self.w = Vec::new();
        }
    }
}

#[derive(Clone)]
struct Norm {
    gamma: Vec<f32>,
    beta: Vec<f32>,
}

#[derive(Clone)]
struct Layer {
    qkv: Dense,
    attn_out: Dense,
    attn_norm: Norm,
    intermediate: Dense,
    output: Dense,
    norm: Norm,
    /// Dropout probabilities: attention probabilities, attention output, layer output.
    dropout: [f64; 3],
}

/// A BERT-shaped encoder's weights laid out for the fused CPU forward pass.
#[derive(Clone)]
pub struct FusedBert {
    family: Family,
    hidden: usize,
    heads: usize,
    eps: f32,
    act: Activation,
    word: Vec<f32>,
    position: Vec<f32>,
    /// The position id of each sequence's first token.
    position_offset: usize,
    /// `[type_vocab, hidden]`; empty when the model has no token types (MPNet).
    token_type: Vec<f32>,
    vocab: usize,
    max_positions: usize,
    type_vocab: usize,
    /// MPNet's relative position bias table `[buckets, heads]`; empty elsewhere.
    relative_bias: Vec<f32>,
    emb_norm: Norm,
    emb_dropout: f64,
    layers: Vec<Layer>,
    pooler: Option<Dense>,
}

impl std::fmt::Debug for FusedBert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FusedBert")
            .field("hidden", &self.hidden)
            .field("heads", &self.heads)
            .field("layers", &self.layers.len())
            .field("vocab", &self.vocab)
            .field("activation", &self.act)
            .finish_non_exhaustive()
    }
}

/// Last-layer hidden states of packed sequences.
#[derive(Debug, Clone)]
pub struct FusedStates {
    /// `[total tokens, hidden]`, row-major, sequences one after another.
    pub data: Vec<f32>,
    /// Where each sequence starts, in tokens; one more entry than sequences.
    pub offsets: Vec<usize>,
    /// Hidden size.
    pub hidden: usize,
}

impl FusedStates {
    /// The rows of sequence `i`.
    pub fn sequence(&self, i: usize) -> &[f32] {
        &self.data[self.offsets[i] * self.hidden..self.offsets[i + 1] * self.hidden]
    }
}

/// Host values of parameters by id, taken in place of reading their tensors (the optimizer
/// keeps them after a host update, so the next training pass does not copy the model again).
pub(crate) type KnownValues = HashMap<ParamId, Vec<f32>>;

fn values<B: Backend, const D: usize>(
    p: &Param<Tensor<B, D>>,
    known: &mut KnownValues,
) -> Result<Vec<f32>, TrainerError> {
    match known.remove(&p.id) {
        Some(v) if v.len() == p.val().shape().num_elements() => Ok(v),
        _ => host_f32(p.val()),
    }
}

fn dense<B: Backend>(l: &Linear<B>, known: &mut KnownValues) -> Result<Dense, TrainerError> {
    let [din, dout] = l.weight.val().dims();
    let b = match &l.bias {
        Some(b) => values(b, known)?,
        None => vec![0.0; dout],
    };
    Ok(Dense {
        w: values(&l.weight, known)?,
        b,
        din,
        dout,
        packed: None,
    })
}

fn norm<B: Backend>(n: &LayerNorm<B>, known: &mut KnownValues) -> Result<Norm, TrainerError> {
    let gamma = values(&n.gamma, known)?;
    let beta = match &n.beta {
        Some(b) => values(b, known)?,
        None => vec![0.0; gamma.len()],
    };
    Ok(Norm { gamma, beta })
}

/// Query, key and value side by side: `[in, 3 * out]`.
fn concat_columns(parts: [Dense; 3]) -> Dense {
    let (din, dout) = (parts[0].din, parts[0].dout);
    let mut w = Vec::with_capacity(din * 3 * dout);
    for r in 0..din {
        for p in &parts {
            w.extend_from_slice(&p.w[r * dout..(r + 1) * dout]);
        }
    }
    let b = parts.iter().flat_map(|p| p.b.iter().copied()).collect();
    Dense {
        w,
        b,
        din,
        dout: 3 * dout,
        packed: None,
    }
}

impl FusedBert {
    /// The fused copy of a loaded network; an error for a family the fused engine does not
    /// run (ModernBERT).
    pub fn from_transformer<B: Backend>(
        model: &Transformer<B>,
        config: &TransformerConfig,
    ) -> Result<Self, TrainerError> {
        let (model, config) = bert_shaped(model, config)?;
        Self::from_model(model, config)
    }

    /// Copies a Burn model's weights (from any backend) into the fused layout.
    pub fn from_model<B: Backend>(
        model: &BertModel<B>,
        config: &BertConfig,
    ) -> Result<Self, TrainerError> {
        Self::from_model_with(model, config, &mut KnownValues::new())
    }

    /// As [`from_model`](Self::from_model), taking the values in `known` (by parameter id, of
    /// the right size) instead of reading those tensors.
    pub(crate) fn from_model_with<B: Backend>(
        model: &BertModel<B>,
        config: &BertConfig,
        known: &mut KnownValues,
    ) -> Result<Self, TrainerError> {
        let e = &model.embeddings;
        let layers = model
            .layers
            .iter()
            .map(|l| {
                let a = &l.attention;
                Ok(Layer {
                    qkv: concat_columns([
                        dense(&a.query, known)?,
                        dense(&a.key, known)?,
                        dense(&a.value, known)?,
                    ]),
                    attn_out: dense(&a.output, known)?,
                    attn_norm: norm(&a.norm, known)?,
                    intermediate: dense(&l.intermediate, known)?,
                    output: dense(&l.output, known)?,
                    norm: norm(&l.norm, known)?,
                    dropout: [a.attn_dropout, a.dropout, l.dropout],
                })
            })
            .collect::<Result<Vec<_>, TrainerError>>()?;
        let [vocab, hidden] = e.word.weight.val().dims();
        let [max_positions, _] = e.position.weight.val().dims();
        let (token_type, type_vocab) = match &e.token_type {
            Some(tt) => (values(&tt.weight, known)?, tt.weight.val().dims()[0]),
            None => (Vec::new(), 0),
        };
        let relative_bias = match &model.relative_bias {
            Some(b) => values(&b.weight, known)?,
            None => Vec::new(),
        };
        Ok(Self {
            family: model.family,
            hidden,
            heads: config.num_attention_heads,
            eps: config.layer_norm_eps as f32,
            act: config.hidden_act,
            word: values(&e.word.weight, known)?,
            position: values(&e.position.weight, known)?,
            position_offset: e.position_offset,
            token_type,
            vocab,
            max_positions,
            type_vocab,
            relative_bias,
            emb_norm: norm(&e.norm, known)?,
            emb_dropout: e.dropout,
            layers,
            pooler: model
                .pooler
                .as_ref()
                .map(|p| dense(&p.dense, known))
                .transpose()?,
        })
    }

    /// Whether this CPU can run [`with_bf16`](Self::with_bf16)'s products (Intel AMX).
    pub fn bf16_available() -> bool {
        retune_kernels::amx::available()
    }

    /// The same model with every linear layer's product in bf16 on AMX tiles (weights
    /// rounded to bf16 once, activations per product, f32 accumulation; embeddings, LayerNorm,
    /// GELU and attention stay f32). Unchanged (f32) where [`bf16_available`](Self::bf16_available)
    /// is false.
    pub fn with_bf16(mut self) -> Self {
        if !Self::bf16_available() {
            return self;
        }
        for l in &mut self.layers {
            for d in [
                &mut l.qkv,
                &mut l.attn_out,
                &mut l.intermediate,
                &mut l.output,
            ] {
                d.pack_bf16();
            }
        }
        if let Some(p) = &mut self.pooler {
            p.pack_bf16();
        }
        self
    }

    /// Hidden size.
    pub fn hidden(&self) -> usize {
        self.hidden
    }

    fn embed(&self, seqs: &[&Tokens]) -> Result<Vec<f32>, TrainerError> {
        let mut x = self.embedding_sums(seqs)?;
        layer_norm(&mut x, &self.emb_norm.gamma, &self.emb_norm.beta, self.eps);
        Ok(x)
    }

    /// Word + position + token-type embeddings of every token (before the LayerNorm).
    fn embedding_sums(&self, seqs: &[&Tokens]) -> Result<Vec<f32>, TrainerError> {
        let h = self.hidden;
        let total: usize = seqs.iter().map(|s| s.ids.len()).sum();
        let mut x = Vec::with_capacity(total * h);
        for (n, s) in seqs.iter().enumerate() {
            if s.ids.len() + self.position_offset > self.max_positions {
                return Err(TrainerError::Input {
                    problem: format!(
                        "sequence {n} has {} tokens; the model has {} positions",
                        s.ids.len(),
                        self.max_positions - self.position_offset
                    ),
                });
            }
            for (p, &id) in s.ids.iter().enumerate() {
                let tt = s.type_ids.get(p).copied().unwrap_or(0) as usize;
                let id = id as usize;
                if id >= self.vocab || (self.type_vocab > 0 && tt >= self.type_vocab) {
                    return Err(TrainerError::Input {
                        problem: format!(
                            "sequence {n}, token {p}: id {id} / type {tt} outside the vocabulary \
                             ({} ids, {} types)",
                            self.vocab, self.type_vocab
                        ),
                    });
                }
                let w = &self.word[id * h..(id + 1) * h];
                let at = p + self.position_offset;
                let pe = &self.position[at * h..(at + 1) * h];
                if self.type_vocab > 0 {
                    let te = &self.token_type[tt * h..(tt + 1) * h];
                    x.extend(w.iter().zip(pe).zip(te).map(|((a, b), c)| a + b + c));
                } else {
                    x.extend(w.iter().zip(pe).map(|(a, b)| a + b));
                }
            }
        }
        Ok(x)
    }

    /// Sequence lengths and where each starts in the packed rows (one more entry than
    /// sequences).
    fn packing(seqs: &[&Tokens]) -> (Vec<usize>, Vec<usize>) {
        let lens: Vec<usize> = seqs.iter().map(|s| s.ids.len()).collect();
        let mut offsets = Vec::with_capacity(lens.len() + 1);
        offsets.push(0);
        for l in &lens {
            offsets.push(offsets.last().copied().unwrap_or(0) + l);
        }
        (lens, offsets)
    }

    /// The position bias for sequences of `lens` tokens, when the model has one.
    fn position_bias(&self, lens: &[usize]) -> Option<PositionBias> {
        let span = lens.iter().copied().max().unwrap_or(1);
        (!self.relative_bias.is_empty())
            .then(|| PositionBias::new(&self.relative_bias, self.heads, span))
    }

    /// The attention shape, with `bias` from [`position_bias`](Self::position_bias).
    fn attention_shape<'a>(&self, bias: Option<&'a PositionBias>) -> AttentionShape<'a> {
        AttentionShape {
            hidden: self.hidden,
            heads: self.heads,
            bias,
        }
    }

    /// The model family.
    pub fn family(&self) -> Family {
        self.family
    }

    /// Last-layer hidden states of the sequences (no padding anywhere).
    pub fn forward(&self, seqs: &[&Tokens]) -> Result<FusedStates, TrainerError> {
        let (lens, offsets) = Self::packing(seqs);
        let bias = self.position_bias(&lens);
        let shape = self.attention_shape(bias.as_ref());
        let rows = offsets.last().copied().unwrap_or(0);
        let mut x = self.embed(seqs)?;
        let mut ctx = vec![0.0f32; rows * self.hidden];
        for l in &self.layers {
            let qkv = l.qkv.apply(&x, None, rows);
            attention(&qkv, &mut ctx, &lens, shape);
            let mut a = l.attn_out.apply(&ctx, Some(&x), rows);
            layer_norm(&mut a, &l.attn_norm.gamma, &l.attn_norm.beta, self.eps);
            let mut inner = l.intermediate.apply(&a, None, rows);
            activate(&mut inner, self.act);
            x = l.output.apply(&inner, Some(&a), rows);
            layer_norm(&mut x, &l.norm.gamma, &l.norm.beta, self.eps);
        }
        Ok(FusedStates {
            data: x,
            offsets,
            hidden: self.hidden,
        })
    }

    /// The pooler (`tanh(dense(first token))`) of each sequence, when the model has one.
    pub fn pooled(&self, states: &FusedStates) -> Option<Vec<Vec<f32>>> {
        let p = self.pooler.as_ref()?;
        let h = self.hidden;
        let first: Vec<f32> = (0..states.offsets.len() - 1)
            .flat_map(|i| states.sequence(i)[..h].iter().copied())
            .collect();
        let n = first.len() / h;
        let out = p.apply(&first, None, n);
        Some(
            out.chunks_exact(p.dout)
                .map(|r| r.iter().map(|v| simd::tanh(*v)).collect())
                .collect(),
        )
    }
}

/// The BERT-shaped network and configuration the fused engine runs; an error naming the
/// family otherwise.
pub(crate) fn bert_shaped<'a, B: Backend>(
    model: &'a Transformer<B>,
    config: &'a TransformerConfig,
) -> Result<(&'a BertModel<B>, &'a BertConfig), TrainerError> {
    match (model.bert(), config.bert()) {
        (Some(m), Some(c)) => Ok((m, c)),
        _ => Err(TrainerError::Engine {
            problem: format!(
                "the fused CPU engine does not run {} models; they run on burn",
                config.family().model_type()
            ),
        }),
    }
}
