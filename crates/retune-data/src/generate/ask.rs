//! One transaction from the model, with instructor's re-ask loop (wire-formats.md §3): parse
//! and check the answer; on failure append the answer as the assistant's message and a user
//! message with the errors, and ask again, up to `max_retries` more times. A refusal or an
//! answer cut off by the token limit (`finish_reason: length`) is reported, not retried:
//! asking again would only repeat it.

use super::draft::{check_transaction, parse_transaction, transaction_schema};
use crate::llm::{ChatMessage, ChatRequest, Llm, Role};
use crate::transaction::Transaction;

/// The text of the re-ask message, instructor's own wording.
pub const REASK_PREFIX: &str = "Correct your JSON ONLY RESPONSE, based on the following errors:\n";

/// How one request ended.
#[derive(Debug, Clone, PartialEq)]
pub enum AskOutcome {
    /// A valid transaction after `attempts` answers.
    Valid {
        /// The transaction.
        transaction: Transaction,
        /// Answers it took.
        attempts: u32,
    },
    /// The model refused.
    Refused(String),
    /// The answer hit the token limit.
    Truncated,
    /// Still invalid after every attempt; the last errors.
    Invalid {
        /// Answers received.
        attempts: u32,
        /// What was wrong with the last one.
        errors: String,
    },
}

/// Tokens used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Prompt tokens.
    pub prompt_tokens: u64,
    /// Completion tokens.
    pub completion_tokens: u64,
}

/// Settings of one request.
#[derive(Debug, Clone)]
pub struct AskConfig {
    /// Re-asks after the first answer (instructor's `max_retries`: 1 + this many attempts).
    pub max_retries: u32,
    /// Sampling temperature.
    pub temperature: Option<f32>,
    /// Most tokens per answer.
    pub max_tokens: Option<u32>,
}

impl Default for AskConfig {
    fn default() -> Self {
        Self {
            max_retries: 2,
            temperature: Some(1.0),
            max_tokens: Some(600),
        }
    }
}

/// Asks for one transaction of `category` with `prompt`.
pub fn ask_transaction<L: Llm>(
    llm: &L,
    prompt: &str,
    category: &str,
    config: &AskConfig,
    usage: &mut Usage,
) -> Result<AskOutcome, L::Error> {
    let mut request = ChatRequest {
        messages: vec![ChatMessage::new(Role::User, prompt)],
        schema_name: "Transaction".into(),
        schema: transaction_schema(),
        temperature: config.temperature,
        max_tokens: config.max_tokens,
    };
    let mut last_errors = String::new();
    for attempt in 1..=config.max_retries + 1 {
        let reply = llm.chat(&request)?;
        usage.prompt_tokens += reply.prompt_tokens;
        usage.completion_tokens += reply.completion_tokens;
        if let Some(r) = reply.refusal {
            return Ok(AskOutcome::Refused(r));
        }
        if reply.finish_reason.as_deref() == Some("length") {
            return Ok(AskOutcome::Truncated);
        }
        let content = reply.content.unwrap_or_default();
        let errors = match parse_transaction(&content) {
            Ok(mut t) => {
                if t.trip_name.as_deref().is_some_and(|s| s.trim().is_empty()) {
                    t.trip_name = None;
                }
                let problems = check_transaction(&t, category);
                if problems.is_empty() {
                    return Ok(AskOutcome::Valid {
                        transaction: t,
                        attempts: attempt,
                    });
                }
                format!(
                    "{} validation error{} for Transaction\n{}",
                    problems.len(),
                    if problems.len() == 1 { "" } else { "s" },
                    problems.join("\n")
                )
            }
            Err(e) => e,
        };
        request
            .messages
            .push(ChatMessage::new(Role::Assistant, content));
        request.messages.push(ChatMessage::new(
            Role::User,
            format!("{REASK_PREFIX}{errors}"),
        ));
        last_errors = errors;
    }
    Ok(AskOutcome::Invalid {
        attempts: config.max_retries + 1,
        errors: last_errors,
    })
}
