//! What goes wrong when mining with a model.

/// An error of [`crate::mine_pairs`].
#[derive(Debug, thiserror::Error)]
pub enum MiningError {
    /// A pair's positive names no document of the corpus (by key or text).
    #[error("positive {positive:?} of pair {pair} is not in the corpus; mining needs it there")]
    PositiveNotInCorpus {
        /// The pair's index.
        pair: usize,
        /// Its positive.
        positive: String,
    },
    /// The embedder failed.
    #[error("embedding with {model} failed")]
    Embed {
        /// The embedder's model id.
        model: String,
        /// Its error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}
