//! OpenAI-compatible servers (OpenAI, Ollama, vLLM, llama.cpp, LM Studio): chat completions with
//! structured output behind [`Llm`](retune_data::Llm), and `/v1/embeddings` behind
//! [`Embedder`](retune_data::Embedder).
//!
//! Hand-rolled on the shared HTTP layer rather than on async-openai: its response types refuse
//! what local servers send (`finish_reason: "abort"`, llama.cpp's integer error `code`), and it
//! retries 3 times on its own underneath any retry loop of ours, so attempts would multiply.
//! Here the answer is read leniently and one [`RetryPolicy`](crate::RetryPolicy) decides.

mod chat;
mod embeddings;

pub use chat::{OPENAI_BASE_URL, OpenAiChat};
pub use embeddings::OpenAiEmbedder;
