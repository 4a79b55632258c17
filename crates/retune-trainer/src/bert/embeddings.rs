//! Word + position (+ token-type) embeddings, then LayerNorm and dropout (HF `BertEmbeddings`;
//! RoBERTa and MPNet count positions from `pad_token_id + 1`, and MPNet has no token types).

use super::config::BertConfig;
use super::dropout::dropout;
use burn::module::Module;
use burn::nn::{Embedding, EmbeddingConfig, LayerNorm, LayerNormConfig};
use burn::tensor::{Int, Tensor, backend::Backend};

/// The embedding block.
#[derive(Module, Debug)]
pub struct BertEmbeddings<B: Backend> {
    /// `[vocab, hidden]`.
    pub word: Embedding<B>,
    /// `[max_positions, hidden]`.
    pub position: Embedding<B>,
    /// `[type_vocab, hidden]`; `None` for MPNet, which has no token types.
    pub token_type: Option<Embedding<B>>,
    /// LayerNorm over the sum.
    pub norm: LayerNorm<B>,
    /// Dropout probability after the norm.
    pub dropout: f64,
    /// The position id of each sequence's first token.
    #[module(skip)]
    pub position_offset: usize,
}

impl<B: Backend> BertEmbeddings<B> {
    /// Randomly initialized embeddings of the configured sizes.
    pub fn init(config: &BertConfig, device: &B::Device) -> Self {
        let h = config.hidden_size;
        Self {
            word: EmbeddingConfig::new(config.vocab_size, h).init(device),
            position: EmbeddingConfig::new(config.max_position_embeddings, h).init(device),
            token_type: (config.type_vocab_size > 0)
                .then(|| EmbeddingConfig::new(config.type_vocab_size, h).init(device)),
            norm: LayerNormConfig::new(h)
                .with_epsilon(config.layer_norm_eps)
                .init(device),
            dropout: config.hidden_dropout_prob,
            position_offset: config.family.position_offset(config.pad_token_id),
        }
    }

    /// `[batch, seq]` ids and token types to `[batch, seq, hidden]`.
    pub fn forward(
        &self,
        input_ids: Tensor<B, 2, Int>,
        token_type_ids: Tensor<B, 2, Int>,
        seed: Option<u64>,
    ) -> Tensor<B, 3> {
        let [batch, seq] = input_ids.dims();
        let device = input_ids.device();
        let first = self.position_offset as i64;
        let positions = Tensor::<B, 1, Int>::arange(first..first + seq as i64, &device)
            .reshape([1, seq])
            .expand([batch, seq]);
        let mut x = self.word.forward(input_ids) + self.position.forward(positions);
        if let Some(tt) = &self.token_type {
            x = x + tt.forward(token_type_ids);
        }
        dropout(self.norm.forward(x), self.dropout, seed, 0)
    }
}
