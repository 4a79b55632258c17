//! `finetune-reranker --model M --train T --corpus C --output DIR [--retriever R] [--eval E] ...`:
//! fine-tunes a local cross-encoder re-ranker, the maintained replacement for Cohere's
//! managed re-ranker fine-tuning.
//!
//! The code lives in [`retune_examples::cli::finetune_reranker`], so the generic training and inference
//! stack is compiled once, in the library, instead of once per binary.

fn main() -> anyhow::Result<()> {
    retune_examples::cli::finetune_reranker::main()
}
