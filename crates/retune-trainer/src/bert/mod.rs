//! BERT in Burn, in the Hugging Face `BertModel` layout: embeddings (word, position, token type)
//! with LayerNorm, post-LN encoder layers, an optional pooler.
//!
//! Shapes: `input_ids`, `token_type_ids` and `attention_mask` are `[batch, seq]`; the encoder
//! returns hidden states `[batch, seq, hidden]`. Dropout acts only when the input carries a
//! dropout seed (training), from masks derived from that seed, so runs are reproducible.

mod attention;
mod config;
mod dropout;
mod embeddings;
mod layer;
mod linear;
mod model;

pub use attention::SelfAttention;
pub use config::{Activation, BertConfig};
pub(crate) use dropout::{dropout as dropout_seeded, mask_values};
pub use embeddings::BertEmbeddings;
pub use layer::BertLayer;
pub(crate) use linear::linear3;
pub use model::{BertInput, BertModel, Pooler, materialize};
pub(crate) use model::{padding_bias, pair_bias};
