//! A BERT cross-encoder re-ranker in the Hugging Face `BertForSequenceClassification` layout
//! (encoder, pooler, one-label classifier head), which sentence-transformers' `CrossEncoder`
//! loads unchanged.
//!
//! A (query, document) pair is one sequence with token types, as Hugging Face encodes pairs.
//! The model starts from a cross-encoder checkpoint, or from any BERT checkpoint (a
//! sentence-transformers bi-encoder, fine-tuned or not) with a new head. Training uses
//! binary cross-entropy on labeled pairs or a listwise softmax loss over (query, positive,
//! negatives) groups, optionally plus a distillation term towards a teacher's scores of each
//! group (the retriever's), with the bi-encoder trainer's AdamW, schedule and clipping.

mod encoder;
mod loss;
mod model;
mod train;

pub use encoder::{CrossEncoder, CrossEncoderConfig};
pub use loss::{CrossLoss, bce_with_logits, listwise_distillation, listwise_softmax};
pub use model::CrossEncoderModel;
pub use train::{
    CrossTrainConfig, CrossTrainer, RerankGroup, RerankQuery, order_by_score, rerank_metrics,
};
