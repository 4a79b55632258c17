//! Cohere's wire types (`../shared/docs/wire-formats.md` §1), read leniently: optional fields
//! default, unknown enum values are kept as text instead of failing the whole body, and
//! timestamps stay strings (the API's own examples mix `T` and space separators).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A dataset's validation state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ValidationStatus {
    /// Unknown (a failure for waiting).
    Unknown,
    /// Waiting to be validated.
    Queued,
    /// Being validated.
    Processing,
    /// Rejected: see `validation_error`.
    Failed,
    /// Ready to train on.
    Validated,
    /// Not validated (a failure for waiting).
    Skipped,
    /// Cancelled.
    Cancelled,
    /// A value this client does not know.
    #[serde(untagged)]
    Other(String),
}

impl ValidationStatus {
    /// The wire name.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Unknown => "unknown",
            Self::Queued => "queued",
            Self::Processing => "processing",
            Self::Failed => "failed",
            Self::Validated => "validated",
            Self::Skipped => "skipped",
            Self::Cancelled => "cancelled",
            Self::Other(s) => s,
        }
    }

    /// Still moving.
    pub fn is_pending(&self) -> bool {
        matches!(self, Self::Queued | Self::Processing)
    }
}

/// `GET /v1/datasets/{id}`'s `dataset`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dataset {
    /// Id.
    pub id: String,
    /// Name given at upload.
    pub name: String,
    /// Created.
    pub created_at: String,
    /// Updated.
    pub updated_at: String,
    /// e.g. `reranker-finetune-input`.
    pub dataset_type: String,
    /// Validation state.
    pub validation_status: ValidationStatus,
    /// Why validation failed.
    #[serde(default)]
    pub validation_error: Option<String>,
    /// Warnings from validation.
    #[serde(default)]
    pub validation_warnings: Vec<String>,
    /// Counts reported by Cohere.
    #[serde(default)]
    pub metrics: Option<serde_json::Value>,
}

/// A fine-tuned model's lifecycle state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum FinetuneStatus {
    /// Unspecified.
    #[serde(rename = "STATUS_UNSPECIFIED")]
    Unspecified,
    /// Training.
    #[serde(rename = "STATUS_FINETUNING")]
    Finetuning,
    /// Being deployed.
    #[serde(rename = "STATUS_DEPLOYING_API")]
    DeployingApi,
    /// Ready for rerank calls.
    #[serde(rename = "STATUS_READY")]
    Ready,
    /// Failed.
    #[serde(rename = "STATUS_FAILED")]
    Failed,
    /// Deleted.
    #[serde(rename = "STATUS_DELETED")]
    Deleted,
    /// Temporarily offline.
    #[serde(rename = "STATUS_TEMPORARILY_OFFLINE")]
    TemporarilyOffline,
    /// Paused.
    #[serde(rename = "STATUS_PAUSED")]
    Paused,
    /// Waiting to train.
    #[serde(rename = "STATUS_QUEUED")]
    Queued,
    /// A value this client does not know.
    #[serde(untagged)]
    Other(String),
}

impl FinetuneStatus {
    /// The wire name.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Unspecified => "STATUS_UNSPECIFIED",
            Self::Finetuning => "STATUS_FINETUNING",
            Self::DeployingApi => "STATUS_DEPLOYING_API",
            Self::Ready => "STATUS_READY",
            Self::Failed => "STATUS_FAILED",
            Self::Deleted => "STATUS_DELETED",
            Self::TemporarilyOffline => "STATUS_TEMPORARILY_OFFLINE",
            Self::Paused => "STATUS_PAUSED",
            Self::Queued => "STATUS_QUEUED",
            Self::Other(s) => s,
        }
    }

    /// States a wait should keep waiting through.
    pub fn is_pending(&self) -> bool {
        matches!(
            self,
            Self::Queued | Self::Finetuning | Self::DeployingApi | Self::Unspecified
        )
    }
}

/// Which kind of model is fine-tuned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BaseType {
    /// Unspecified.
    #[serde(rename = "BASE_TYPE_UNSPECIFIED")]
    Unspecified,
    /// Generative.
    #[serde(rename = "BASE_TYPE_GENERATIVE")]
    Generative,
    /// Classification.
    #[serde(rename = "BASE_TYPE_CLASSIFICATION")]
    Classification,
    /// Re-ranker.
    #[serde(rename = "BASE_TYPE_RERANK")]
    Rerank,
    /// Chat.
    #[serde(rename = "BASE_TYPE_CHAT")]
    Chat,
}

/// The base model of a fine-tune.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaseModel {
    /// `english` or `multilingual` for re-rankers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Version chosen by Cohere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Kind.
    pub base_type: BaseType,
    /// Training strategy chosen by Cohere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<String>,
}

/// Optional training hyper-parameters (Cohere documents ranges only for chat).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Hyperparameters {
    /// Evaluations without improvement before stopping.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub early_stopping_patience: Option<u32>,
    /// Minimum improvement that counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub early_stopping_threshold: Option<f64>,
    /// Batch size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_batch_size: Option<u32>,
    /// Epochs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_epochs: Option<u32>,
    /// Learning rate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub learning_rate: Option<f64>,
}

/// Settings of a fine-tune.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// Base model.
    pub base_model: BaseModel,
    /// The training dataset.
    pub dataset_id: String,
    /// Hyper-parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hyperparameters: Option<Hyperparameters>,
}

/// A fine-tuned model (the POST body and the `finetuned_model` of answers).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FinetunedModel {
    /// Id (absent in a create request).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Name.
    pub name: String,
    /// Settings.
    pub settings: Settings,
    /// State (absent in a create request).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<FinetuneStatus>,
    /// Created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// Updated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    /// Completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<String>,
}

impl FinetunedModel {
    /// A re-ranker fine-tune request on `base` (`english` or `multilingual`).
    pub fn rerank(name: &str, base: &str, dataset_id: &str) -> Self {
        Self {
            id: None,
            name: name.to_string(),
            settings: Settings {
                base_model: BaseModel {
                    name: Some(base.to_string()),
                    version: None,
                    base_type: BaseType::Rerank,
                    strategy: None,
                },
                dataset_id: dataset_id.to_string(),
                hyperparameters: None,
            },
            status: None,
            created_at: None,
            updated_at: None,
            completed_at: None,
        }
    }

    /// The id to pass to rerank: `{id}-ft`.
    pub fn rerank_model_id(&self) -> Option<String> {
        self.id.as_ref().map(|id| format!("{id}-ft"))
    }
}

/// One lifecycle event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Who caused it.
    #[serde(default)]
    pub user_id: Option<String>,
    /// The state entered.
    pub status: FinetuneStatus,
    /// When.
    #[serde(default)]
    pub created_at: Option<String>,
}

/// Metrics at one training step (rerank keys are undocumented, so kept as a map).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepMetrics {
    /// When.
    #[serde(default)]
    pub created_at: Option<String>,
    /// Step.
    #[serde(default)]
    pub step_number: Option<u64>,
    /// Metric name to value.
    #[serde(default)]
    pub metrics: BTreeMap<String, f64>,
}

/// One rerank result.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RerankResult {
    /// Index into the documents sent.
    pub index: usize,
    /// Score in [0, 1].
    pub relevance_score: f32,
}

/// Envelopes of the answers.
pub(crate) mod wire {
    use super::*;

    #[derive(Deserialize)]
    pub struct Created {
        pub id: String,
    }
    #[derive(Deserialize)]
    pub struct DatasetEnvelope {
        pub dataset: Dataset,
    }
    #[derive(Deserialize)]
    pub struct DatasetList {
        #[serde(default)]
        pub datasets: Vec<Dataset>,
    }
    #[derive(Deserialize)]
    pub struct ModelEnvelope {
        pub finetuned_model: FinetunedModel,
    }
    #[derive(Deserialize)]
    pub struct ModelPage {
        #[serde(default)]
        pub finetuned_models: Vec<FinetunedModel>,
        #[serde(default)]
        pub next_page_token: Option<String>,
    }
    #[derive(Deserialize)]
    pub struct EventPage {
        #[serde(default)]
        pub events: Vec<Event>,
        #[serde(default)]
        pub next_page_token: Option<String>,
    }
    #[derive(Deserialize)]
    pub struct MetricsPage {
        #[serde(default)]
        pub step_metrics: Vec<StepMetrics>,
        #[serde(default)]
        pub next_page_token: Option<String>,
    }
    #[derive(Deserialize)]
    pub struct RerankResponse {
        pub results: Vec<RerankResult>,
    }
    #[derive(Deserialize)]
    pub struct EmbedResponse {
        pub embeddings: EmbedFloats,
    }
    #[derive(Deserialize)]
    pub struct EmbedFloats {
        pub float: Vec<Vec<f32>>,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_model_shape_parses() {
        let body = r#"{"finetuned_model":{"id":"9d927c5e-7598-4772-98b7-cdf2014e8874","name":"rerank-ft","creator_id":"7a31","organization_id":"6bdc",
 "settings":{"base_model":{"name":"english","version":"2.0.0","base_type":"BASE_TYPE_RERANK","strategy":"STRATEGY_VANILLA"},"dataset_id":"rerank-dataset-d820xf"},
 "status":"STATUS_READY","created_at":"2024-01-17 20:17:16.997608+00:00","updated_at":"x","completed_at":"y"}}"#;
        let m: wire::ModelEnvelope = serde_json::from_str(body).unwrap();
        assert_eq!(m.finetuned_model.status, Some(FinetuneStatus::Ready));
        assert_eq!(
            m.finetuned_model.rerank_model_id().unwrap(),
            "9d927c5e-7598-4772-98b7-cdf2014e8874-ft"
        );
    }

    #[test]
    fn unknown_statuses_are_kept() {
        let s: FinetuneStatus = serde_json::from_str(r#""STATUS_NEW_THING""#).unwrap();
        assert_eq!(s, FinetuneStatus::Other("STATUS_NEW_THING".into()));
        let v: ValidationStatus = serde_json::from_str(r#""validated""#).unwrap();
        assert_eq!(v, ValidationStatus::Validated);
        let v: ValidationStatus = serde_json::from_str(r#""weird""#).unwrap();
        assert_eq!(v, ValidationStatus::Other("weird".into()));
    }

    #[test]
    fn create_body_is_the_model_itself() {
        let body = serde_json::to_value(FinetunedModel::rerank("ft", "english", "ds-1")).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"name":"ft","settings":{"base_model":{"name":"english","base_type":"BASE_TYPE_RERANK"},"dataset_id":"ds-1"}})
        );
    }
}
