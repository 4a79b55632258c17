//! The course-data suite: the same parity checks against the read-only `shared/` folder beside
//! the checkout, which a user's clone does not have. Every test here is ignored by the README's
//! command and run by `.ci/run` with `--ignored`:
//!
//! - all-MiniLM-L6-v2 as shipped in `shared/models/` embeds the course's transactions as
//!   sentence-transformers 6.2 does (`shared/reference/minilm_reference_embeddings.json`);
//! - the tiny MPNet and XLM-RoBERTa models saved by sentence-transformers 6.3 (its new
//!   `modules.json` names and `pooling_mode` key) give 6.3's token ids and embeddings.

use crate::arch_parity::embeddings_match_in;
use crate::common::{embeddings_file, shared};
use crate::minilm_parity::parity_at_every_batch_size;
use retune_trainer::Family;

#[test]
#[ignore = "course-data suite: needs ../shared (or RETUNE_SHARED); .ci/run runs it with --ignored"]
fn course_minilm_embeds_the_course_transactions_as_sentence_transformers() {
    let (texts, want) = embeddings_file(&shared("reference/minilm_reference_embeddings.json"));
    parity_at_every_batch_size(&shared("models/all-MiniLM-L6-v2"), &texts, &want);
}

#[test]
#[ignore = "course-data suite: needs ../shared (or RETUNE_SHARED); .ci/run runs it with --ignored"]
fn course_sentence_transformers_6_3_folders_embed_alike() {
    for (name, family) in [
        ("tiny-mpnet", Family::MPNet),
        ("tiny-xlm-roberta", Family::XlmRoberta),
    ] {
        let path = shared(&format!("reference/arch/{name}.reference.json"));
        let r = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        embeddings_match_in(&shared(&format!("reference/arch/{name}")), &r, family);
    }
}
