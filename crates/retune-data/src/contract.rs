//! The contracts that every model behind retune implements, local or hosted.
//!
//! They live here, in the crate every other crate already depends on, so that the local Burn
//! models (retune-trainer) and the hosted APIs (retune-providers) implement the same traits
//! without depending on each other, and callers (mining, evaluation, services) accept either.

/// Turns texts into vectors.
pub trait Embedder {
    /// What can go wrong.
    type Error: std::error::Error + Send + Sync + 'static;

    /// A stable name of the model (a path or id), used to key embedding caches.
    fn model_id(&self) -> &str;

    /// Length of each embedding.
    fn dimension(&self) -> usize;

    /// Whether embeddings come out with unit L2 norm (cosine = dot product).
    fn normalized(&self) -> bool;

    /// One embedding per text, in input order.
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, Self::Error>;
}

/// Scores documents for a query, higher meaning more relevant.
pub trait Reranker {
    /// What can go wrong.
    type Error: std::error::Error + Send + Sync + 'static;

    /// A stable name of the model.
    fn model_id(&self) -> &str;

    /// One score per document, in input order.
    fn score(&self, query: &str, documents: &[&str]) -> Result<Vec<f32>, Self::Error>;
}
