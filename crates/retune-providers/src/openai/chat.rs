//! Chat completions with `response_format: json_schema` (`strict: true`), read leniently.

use crate::error::ProviderError;
use crate::http::{Body, Http, HttpConfig};
use retune_data::{ChatReply, ChatRequest, Llm};
use serde::Deserialize;

/// OpenAI's endpoint (the base includes `/v1`, as `OPENAI_BASE_URL` does).
pub const OPENAI_BASE_URL: &str = "https://api.openai.com/v1";

/// A chat model on an OpenAI-compatible server.
#[derive(Debug, Clone)]
pub struct OpenAiChat {
    http: Http,
    model: String,
}

#[derive(Deserialize)]
struct Completion {
    #[serde(default)]
    choices: Vec<Choice>,
    #[serde(default)]
    usage: Option<Usage>,
}

#[derive(Deserialize)]
struct Choice {
    #[serde(default)]
    message: Option<Message>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct Message {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    refusal: Option<String>,
}

#[derive(Deserialize, Default)]
struct Usage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
}

impl OpenAiChat {
    /// A client for `model` at `config.base_url` (e.g. `http://127.0.0.1:11434/v1`).
    pub fn new(config: HttpConfig, model: impl Into<String>) -> Result<Self, ProviderError> {
        Ok(Self {
            http: Http::new(config)?,
            model: model.into(),
        })
    }

    /// The request body as sent.
    pub fn body(&self, request: &ChatRequest) -> serde_json::Value {
        let mut body = serde_json::json!({
            "model": self.model,
            "messages": request.messages,
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": request.schema_name, "schema": request.schema, "strict": true}
            }
        });
        if let Some(t) = request.temperature {
            body["temperature"] = t.into();
        }
        if let Some(m) = request.max_tokens {
            body["max_tokens"] = m.into();
        }
        body
    }
}

impl Llm for OpenAiChat {
    type Error = ProviderError;

    fn model_id(&self) -> &str {
        &self.model
    }

    fn chat(&self, request: &ChatRequest) -> Result<ChatReply, ProviderError> {
        let body = self.body(request);
        let c: Completion = self.http.json(
            reqwest::Method::POST,
            "/chat/completions",
            &[],
            Body::Json(&body),
        )?;
        let usage = c.usage.unwrap_or_default();
        let choice = c
            .choices
            .into_iter()
            .next()
            .ok_or_else(|| ProviderError::Decode {
                url: format!("{}/chat/completions", self.http.config().base_url),
                field: "choices".into(),
                problem: "no choice in the answer".into(),
            })?;
        let (content, refusal) = match choice.message {
            Some(m) => (m.content, m.refusal.filter(|r| !r.is_empty())),
            None => (None, None),
        };
        Ok(ChatReply {
            content,
            refusal,
            finish_reason: choice.finish_reason,
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
        })
    }
}
