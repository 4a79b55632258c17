//! Fine-tuning a [`SentenceEncoder`](crate::SentenceEncoder): training examples, seeded batch
//! samplers, AdamW with Hugging Face's defaults and schedule, retrieval evaluation, the loop.

mod average;
pub(crate) mod checkpoint;
mod config;
mod evaluator;
mod example;
pub(crate) mod fused_step;
pub(crate) mod optim;
mod report;
mod rows;
mod sampler;
pub(crate) mod step_engine;
mod trainer;

pub use average::WeightAverage;
pub use checkpoint::{CheckpointState, fingerprint, latest_checkpoint};
pub use config::{SamplerKind, TrainConfig};
pub use evaluator::{
    EvalSet, evaluate_embeddings, evaluate_ranked, evaluate_retrieval, rank_embeddings,
    retrieval_metrics,
};
pub use example::{TrainExample, examples_from_records};
pub use optim::{
    AdamW, LinearSchedule, NamedGrads, RowHints, StepRate, clip_scale, global_norm_rows,
    layer_lr_multipliers, named_grads,
};
pub use report::{RunFiles, StepLog, TrainReport};
pub use rows::TouchedRows;
pub use sampler::{group_by_label_batches, no_duplicates_batches, shuffled_batches};
pub use trainer::Trainer;
