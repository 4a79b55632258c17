//! The contract of a chat model that answers with structured output, as the generation step
//! uses it. Implementations live elsewhere (an OpenAI-compatible server in retune-providers; a
//! scripted fake in tests), so this crate needs no HTTP stack.

use serde::{Deserialize, Serialize};

/// Who speaks a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Instructions.
    System,
    /// The person (or the program speaking for one).
    User,
    /// The model.
    Assistant,
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// Speaker.
    pub role: Role,
    /// Text.
    pub content: String,
}

impl ChatMessage {
    /// A message.
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
        }
    }
}

/// A request for one answer that follows a JSON schema.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChatRequest {
    /// The conversation so far.
    pub messages: Vec<ChatMessage>,
    /// Name of the schema (the Rust type's name).
    pub schema_name: String,
    /// The JSON schema the answer must follow (sent with `strict: true`).
    pub schema: serde_json::Value,
    /// Sampling temperature.
    pub temperature: Option<f32>,
    /// Most tokens to generate.
    pub max_tokens: Option<u32>,
}

/// What the model answered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChatReply {
    /// The answer's text (the JSON), when it gave one.
    pub content: Option<String>,
    /// A refusal, when it refused.
    pub refusal: Option<String>,
    /// Why it stopped (`stop`, `length`, `content_filter`, or whatever the server says).
    pub finish_reason: Option<String>,
    /// Prompt tokens used.
    pub prompt_tokens: u64,
    /// Completion tokens used.
    pub completion_tokens: u64,
}

/// A chat model with structured output.
pub trait Llm: Send + Sync {
    /// What can go wrong (transport and API errors; a bad answer is a reply, not an error).
    type Error: std::error::Error + Send + Sync + 'static;

    /// The model's name.
    fn model_id(&self) -> &str;

    /// One answer.
    fn chat(&self, request: &ChatRequest) -> Result<ChatReply, Self::Error>;
}
