//! `BertModel`: embeddings, the layer stack and an optional pooler; for MPNet also the relative
//! position bias shared by every layer's attention.

use super::config::BertConfig;
use super::embeddings::BertEmbeddings;
use super::layer::BertLayer;
use crate::arch::{Family, relative_bucket};
use burn::module::{Module, ModuleVisitor, Param};
use burn::nn::{Embedding, EmbeddingConfig, Linear, LinearConfig};
use burn::tensor::{Int, Tensor, TensorData, backend::Backend};

/// Added to the attention scores of masked keys: large enough that exp() underflows to 0.
pub(crate) const MASK_BIAS: f32 = -1.0e9;

/// The additive mask of padded keys, `[batch, 1, 1, seq]`, from `mask` `[batch, seq]`
/// (1 for tokens).
pub(crate) fn padding_bias<B: Backend>(mask: &Tensor<B, 2, Int>) -> Tensor<B, 4> {
    let [batch, seq] = mask.dims();
    ((mask.clone().float().neg() + 1.0) * MASK_BIAS).reshape([batch, 1, 1, seq])
}

/// The additive mask `[1, 1, seq, seq]` of (query, key) pairs where `sees(query, key)` is false.
pub(crate) fn pair_bias<B: Backend>(
    seq: usize,
    sees: impl Fn(usize, usize) -> bool,
    device: &B::Device,
) -> Tensor<B, 4> {
    let values: Vec<f32> = (0..seq)
        .flat_map(|q| (0..seq).map(move |k| (q, k)))
        .map(|(q, k)| if sees(q, k) { 0.0 } else { MASK_BIAS })
        .collect();
    Tensor::from_data(TensorData::new(values, [1, 1, seq, seq]), device)
}

/// The pooler (`pooler.dense` + tanh on the first token), used by classification heads.
#[derive(Module, Debug)]
pub struct Pooler<B: Backend> {
    /// `pooler.dense`.
    pub dense: Linear<B>,
}

impl<B: Backend> Pooler<B> {
    /// `[batch, seq, hidden]` to `[batch, hidden]`.
    pub fn forward(&self, hidden: Tensor<B, 3>) -> Tensor<B, 2> {
        let [batch, _, h] = hidden.dims();
        let first = hidden.narrow(1, 0, 1).reshape([batch, h]);
        self.dense.forward(first).tanh()
    }
}

/// One tokenized batch on a device.
#[derive(Debug, Clone)]
pub struct BertInput<B: Backend> {
    /// `[batch, seq]` token ids.
    pub input_ids: Tensor<B, 2, Int>,
    /// `[batch, seq]` segment ids.
    pub token_type_ids: Tensor<B, 2, Int>,
    /// `[batch, seq]`, 1 for tokens, 0 for padding.
    pub attention_mask: Tensor<B, 2, Int>,
    /// Seed of this pass's dropout masks; `None` (inference) disables dropout.
    pub dropout_seed: Option<u64>,
}

/// The BERT encoder.
#[derive(Module, Debug)]
pub struct BertModel<B: Backend> {
    /// Embedding block.
    pub embeddings: BertEmbeddings<B>,
    /// Encoder layers.
    pub layers: Vec<BertLayer<B>>,
    /// Pooler, when the checkpoint has one.
    pub pooler: Option<Pooler<B>>,
    /// MPNet's relative position bias `[buckets, heads]` (`encoder.relative_attention_bias`).
    pub relative_bias: Option<Embedding<B>>,
    /// The family: parameter names and positions.
    #[module(skip)]
    pub family: Family,
}

impl<B: Backend> BertModel<B> {
    /// A randomly initialized model; `with_pooler` adds the pooler.
    ///
    /// Parameters are materialized at once (Burn initializes them lazily otherwise, and two
    /// clones of a lazy module would draw different random values).
    pub fn init(config: &BertConfig, with_pooler: bool, device: &B::Device) -> Self {
        let model = Self {
            embeddings: BertEmbeddings::init(config, device),
            layers: (0..config.num_hidden_layers)
                .map(|_| BertLayer::init(config, device))
                .collect(),
            pooler: with_pooler.then(|| Pooler {
                dense: LinearConfig::new(config.hidden_size, config.hidden_size).init(device),
            }),
            relative_bias: (config.relative_attention_num_buckets > 0).then(|| {
                EmbeddingConfig::new(
                    config.relative_attention_num_buckets,
                    config.num_attention_heads,
                )
                .init(device)
            }),
            family: config.family,
        };
        materialize(&model);
        model
    }

    /// The same model with every dropout probability set to `p` (0 turns dropout off).
    #[must_use]
    pub fn with_dropout(mut self, p: f64) -> Self {
        self.embeddings.dropout = p;
        for l in &mut self.layers {
            l.dropout = p;
            l.attention.dropout = p;
            l.attention.attn_dropout = p;
        }
        self
    }

    /// Hidden states of the last layer, `[batch, seq, hidden]`.
    pub fn forward(&self, input: &BertInput<B>) -> Tensor<B, 3> {
        let [_, seq] = input.attention_mask.dims();
        let mut mask_bias = padding_bias(&input.attention_mask);
        if let Some(bias) = &self.relative_bias {
            mask_bias = mask_bias + relative_bias_scores(bias, seq);
        }
        let seed = input.dropout_seed;
        let mut x =
            self.embeddings
                .forward(input.input_ids.clone(), input.token_type_ids.clone(), seed);
        for (i, layer) in self.layers.iter().enumerate() {
            x = layer.forward(x, mask_bias.clone(), seed, i);
        }
        x
    }
}

/// MPNet's position bias for `seq` tokens: `[1, heads, seq (query), seq (key)]`, the table's
/// row of each (query, key) pair's relative bucket.
fn relative_bias_scores<B: Backend>(table: &Embedding<B>, seq: usize) -> Tensor<B, 4> {
    let [buckets, heads] = table.weight.val().dims();
    let ids: Vec<i64> = (0..seq)
        .flat_map(|q| (0..seq).map(move |k| relative_bucket(k as i64 - q as i64, buckets) as i64))
        .collect();
    let device = table.weight.device();
    let ids = Tensor::<B, 2, Int>::from_data(TensorData::new(ids, [1, seq * seq]), &device);
    table
        .forward(ids)
        .reshape([seq, seq, heads])
        .permute([2, 0, 1])
        .reshape([1, heads, seq, seq])
}

/// Forces every lazily initialized parameter of a module to take its value now.
pub fn materialize<B: Backend, M: Module<B>>(module: &M) {
    struct Touch;
    impl<B: Backend> ModuleVisitor<B> for Touch {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            let _ = param.val();
        }
    }
    module.visit(&mut Touch);
}
