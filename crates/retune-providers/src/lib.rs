//! Hosted model APIs behind retune's contracts: Cohere (datasets, re-ranker fine-tuning,
//! rerank, embed) and OpenAI-compatible embeddings, implementing the `Embedder` and `Reranker`
//! traits that the local models implement too.
#![warn(missing_docs)]
