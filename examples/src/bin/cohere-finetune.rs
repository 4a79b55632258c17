//! `cohere-finetune --train T --corpus C --name NAME [--eval E] [--negatives random|hard]
//! [--model english|multilingual] [--hard-negatives N] [--base-url URL] [--poll-seconds S]
//! [--dry-run]`: the course's second notebook. Builds Cohere's re-ranker JSONL from T (each
//! query with N random wrong documents, written twice, as the course did; or N hard negatives
//! mined with a local retriever), validates it against Cohere's rules, uploads it, creates the
//! fine-tune, waits with progress, then, with E, evaluates retrieval alone vs the base rerank
//! model vs the fine-tune with the same code as `evaluate`.
//!
//! The code lives in [`retune_examples::cli::cohere_finetune`], so the generic training and inference
//! stack is compiled once, in the library, instead of once per binary.

fn main() -> anyhow::Result<()> {
    retune_examples::cli::cohere_finetune::main()
}
