//! Synthetic transactions from a chat model with structured output: the strict schema and
//! checks ([`draft`]), the course's prompts ([`prompts`]), instructor's re-ask loop ([`ask`])
//! and the resumable, concurrent, crash-safe run ([`run`]). The model is any [`Llm`](crate::Llm).

pub mod ask;
pub mod draft;
pub mod prompts;
pub mod run;

pub use ask::{AskConfig, AskOutcome, REASK_PREFIX, Usage, ask_transaction};
pub use draft::{
    check_transaction, dedup_key, parse_transaction, printable, transaction_problems,
    transaction_schema,
};
pub use prompts::{AMBIGUOUS_PROMPT, PromptKind, PromptTemplate, TRANSACTION_PROMPT};
pub use run::{GenerateConfig, GenerateReport, generate, shares};
