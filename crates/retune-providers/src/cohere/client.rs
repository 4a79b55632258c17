//! The Cohere client: datasets, re-ranker fine-tunes (create, get, list, events, step metrics,
//! waiting) and the v2 rerank and embed endpoints, on the shared blocking HTTP layer.

use super::types::{
    Dataset, Event, FinetuneStatus, FinetunedModel, RerankResult, StepMetrics, ValidationStatus,
    wire,
};
use crate::error::ProviderError;
use crate::http::{Body, FilePart, Http, HttpConfig};
use reqwest::Method;
use std::path::Path;
use std::time::{Duration, Instant};

/// Cohere's public endpoint.
pub const COHERE_BASE_URL: &str = "https://api.cohere.com";

/// How to poll a long-running job.
#[derive(Debug, Clone)]
pub struct PollConfig {
    /// First wait between polls.
    pub interval: Duration,
    /// Waits grow by half each poll up to this.
    pub max_interval: Duration,
    /// Give up after this long.
    pub timeout: Duration,
}

impl Default for PollConfig {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(2),
            max_interval: Duration::from_secs(60),
            timeout: Duration::from_secs(6 * 3600),
        }
    }
}

/// Embedding input kinds of Cohere's v2 embed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputType {
    /// Documents to be searched.
    SearchDocument,
    /// Search queries.
    SearchQuery,
}

/// A Cohere API client.
#[derive(Debug, Clone)]
pub struct CohereClient {
    http: Http,
}

impl CohereClient {
    /// A client; `config.base_url` is usually [`COHERE_BASE_URL`] (a mock in tests).
    pub fn new(config: HttpConfig) -> Result<Self, ProviderError> {
        Ok(Self {
            http: Http::new(config)?,
        })
    }

    /// Uploads a re-ranker fine-tuning dataset (`data` and optionally `eval_data`, JSONL) and
    /// returns its id. Validation happens on Cohere's side afterwards: see
    /// [`wait_for_dataset`](Self::wait_for_dataset).
    pub fn create_rerank_dataset(
        &self,
        name: &str,
        data: &Path,
        eval_data: Option<&Path>,
    ) -> Result<String, ProviderError> {
        let read = |p: &Path, field: &'static str| -> Result<FilePart, ProviderError> {
            Ok(FilePart {
                field,
                file_name: p
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| format!("{field}.jsonl")),
                bytes: std::fs::read(p).map_err(|source| ProviderError::Io {
                    path: p.to_path_buf(),
                    source,
                })?,
            })
        };
        let mut parts = vec![read(data, "data")?];
        if let Some(e) = eval_data {
            parts.push(read(e, "eval_data")?);
        }
        let created: wire::Created = self.http.json(
            Method::POST,
            "/v1/datasets",
            &[
                ("name", name.to_string()),
                ("type", "reranker-finetune-input".to_string()),
            ],
            Body::Multipart(&parts),
        )?;
        Ok(created.id)
    }

    /// One dataset.
    pub fn get_dataset(&self, id: &str) -> Result<Dataset, ProviderError> {
        let env: wire::DatasetEnvelope =
            self.http
                .json(Method::GET, &format!("/v1/datasets/{id}"), &[], Body::None)?;
        Ok(env.dataset)
    }

    /// All datasets.
    pub fn list_datasets(&self) -> Result<Vec<Dataset>, ProviderError> {
        let l: wire::DatasetList = self
            .http
            .json(Method::GET, "/v1/datasets", &[], Body::None)?;
        Ok(l.datasets)
    }

    /// Deletes a dataset.
    pub fn delete_dataset(&self, id: &str) -> Result<(), ProviderError> {
        let _: serde_json::Value = self.http.json(
            Method::DELETE,
            &format!("/v1/datasets/{id}"),
            &[],
            Body::None,
        )?;
        Ok(())
    }

    /// Polls until the dataset is `validated`; `unknown`, `failed`, `skipped` and `cancelled`
    /// end the wait with [`ProviderError::JobFailed`] carrying `validation_error`.
    pub fn wait_for_dataset(
        &self,
        id: &str,
        poll: &PollConfig,
        mut on_status: impl FnMut(&Dataset, Duration),
    ) -> Result<Dataset, ProviderError> {
        poll_until(
            poll,
            "dataset",
            id,
            || {
                let d = self.get_dataset(id)?;
                let status = d.validation_status.as_str().to_string();
                let verdict = match &d.validation_status {
                    ValidationStatus::Validated => Verdict::Done,
                    s if s.is_pending() => Verdict::Pending,
                    _ => Verdict::Failed(d.validation_error.clone()),
                };
                Ok((d, verdict, status))
            },
            |d, t| on_status(d, t),
        )
    }

    /// Starts a fine-tune; the answer carries its id and first status.
    pub fn create_finetuned_model(
        &self,
        model: &FinetunedModel,
    ) -> Result<FinetunedModel, ProviderError> {
        let body = serde_json::to_value(model).expect("model serializes");
        let env: wire::ModelEnvelope = self.http.json(
            Method::POST,
            "/v1/finetuning/finetuned-models",
            &[],
            Body::Json(&body),
        )?;
        Ok(env.finetuned_model)
    }

    /// One fine-tuned model.
    pub fn get_finetuned_model(&self, id: &str) -> Result<FinetunedModel, ProviderError> {
        let env: wire::ModelEnvelope = self.http.json(
            Method::GET,
            &format!("/v1/finetuning/finetuned-models/{id}"),
            &[],
            Body::None,
        )?;
        Ok(env.finetuned_model)
    }

    /// Every fine-tuned model, following `next_page_token`.
    pub fn list_finetuned_models(&self) -> Result<Vec<FinetunedModel>, ProviderError> {
        let mut all = Vec::new();
        self.pages(
            "/v1/finetuning/finetuned-models",
            |page: wire::ModelPage| {
                all.extend(page.finetuned_models);
                page.next_page_token
            },
        )?;
        Ok(all)
    }

    /// Every lifecycle event of a fine-tune, oldest first as Cohere sends them.
    pub fn finetune_events(&self, id: &str) -> Result<Vec<Event>, ProviderError> {
        let mut all = Vec::new();
        self.pages(
            &format!("/v1/finetuning/finetuned-models/{id}/events"),
            |page: wire::EventPage| {
                all.extend(page.events);
                page.next_page_token
            },
        )?;
        Ok(all)
    }

    /// Every training-step metric of a fine-tune.
    pub fn training_step_metrics(&self, id: &str) -> Result<Vec<StepMetrics>, ProviderError> {
        let mut all = Vec::new();
        self.pages(
            &format!("/v1/finetuning/finetuned-models/{id}/training-step-metrics"),
            |page: wire::MetricsPage| {
                all.extend(page.step_metrics);
                page.next_page_token
            },
        )?;
        Ok(all)
    }

    /// Polls until `STATUS_READY`; `STATUS_FAILED`, `STATUS_DELETED`, `STATUS_PAUSED`,
    /// `STATUS_TEMPORARILY_OFFLINE` or an unknown status end the wait.
    pub fn wait_for_finetune(
        &self,
        id: &str,
        poll: &PollConfig,
        mut on_status: impl FnMut(&FinetunedModel, Duration),
    ) -> Result<FinetunedModel, ProviderError> {
        poll_until(
            poll,
            "fine-tuned model",
            id,
            || {
                let m = self.get_finetuned_model(id)?;
                let status = m.status.clone().unwrap_or(FinetuneStatus::Unspecified);
                let verdict = match &status {
                    FinetuneStatus::Ready => Verdict::Done,
                    s if s.is_pending() => Verdict::Pending,
                    _ => Verdict::Failed(None),
                };
                Ok((m, verdict, status.as_str().to_string()))
            },
            |m, t| on_status(m, t),
        )
    }

    /// Scores `documents` for `query` with `model` (a base model such as
    /// `rerank-english-v3.0`, or a fine-tune's `{id}-ft`); results sorted by score, at most
    /// `top_n`. Every index is checked against the documents sent.
    pub fn rerank(
        &self,
        model: &str,
        query: &str,
        documents: &[&str],
        top_n: Option<usize>,
    ) -> Result<Vec<RerankResult>, ProviderError> {
        let mut body = serde_json::json!({"model": model, "query": query, "documents": documents});
        if let Some(n) = top_n {
            body["top_n"] = n.max(1).into();
        }
        let r: wire::RerankResponse =
            self.http
                .json(Method::POST, "/v2/rerank", &[], Body::Json(&body))?;
        if let Some(bad) = r.results.iter().find(|x| x.index >= documents.len()) {
            return Err(ProviderError::Inconsistent {
                url: format!("{}/v2/rerank", self.http.config().base_url),
                problem: format!(
                    "result index {} but only {} documents were sent",
                    bad.index,
                    documents.len()
                ),
            });
        }
        Ok(r.results)
    }

    /// Float embeddings from v2 embed, one per text in order.
    pub fn embed(
        &self,
        model: &str,
        texts: &[&str],
        input_type: InputType,
    ) -> Result<Vec<Vec<f32>>, ProviderError> {
        let input_type = match input_type {
            InputType::SearchDocument => "search_document",
            InputType::SearchQuery => "search_query",
        };
        let body = serde_json::json!({"model": model, "texts": texts, "input_type": input_type, "embedding_types": ["float"]});
        let r: wire::EmbedResponse =
            self.http
                .json(Method::POST, "/v2/embed", &[], Body::Json(&body))?;
        if r.embeddings.float.len() != texts.len() {
            return Err(ProviderError::Inconsistent {
                url: format!("{}/v2/embed", self.http.config().base_url),
                problem: format!(
                    "{} embeddings for {} texts",
                    r.embeddings.float.len(),
                    texts.len()
                ),
            });
        }
        Ok(r.embeddings.float)
    }

    fn pages<P: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        mut take: impl FnMut(P) -> Option<String>,
    ) -> Result<(), ProviderError> {
        let mut token: Option<String> = None;
        for _ in 0..10_000 {
            let mut query = vec![("page_size", "100".to_string())];
            if let Some(t) = &token {
                query.push(("page_token", t.clone()));
            }
            let page: P = self.http.json(Method::GET, path, &query, Body::None)?;
            match take(page) {
                Some(t) if !t.is_empty() && Some(&t) != token.as_ref() => token = Some(t),
                _ => return Ok(()),
            }
        }
        Ok(())
    }
}

enum Verdict {
    Done,
    Pending,
    Failed(Option<String>),
}

fn poll_until<T>(
    poll: &PollConfig,
    what: &'static str,
    id: &str,
    mut check: impl FnMut() -> Result<(T, Verdict, String), ProviderError>,
    mut on_status: impl FnMut(&T, Duration),
) -> Result<T, ProviderError> {
    let start = Instant::now();
    let mut wait = poll.interval;
    loop {
        let (item, verdict, status) = check()?;
        on_status(&item, start.elapsed());
        match verdict {
            Verdict::Done => return Ok(item),
            Verdict::Failed(detail) => {
                return Err(ProviderError::JobFailed {
                    what,
                    id: id.to_string(),
                    status,
                    detail,
                });
            }
            Verdict::Pending => {}
        }
        if start.elapsed() + wait > poll.timeout {
            return Err(ProviderError::WaitTimedOut {
                what,
                id: id.to_string(),
                status,
                waited: start.elapsed(),
            });
        }
        std::thread::sleep(wait);
        wait = wait.mul_f64(1.5).min(poll.max_interval);
    }
}
