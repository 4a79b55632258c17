//! Parity of Qwen3 (Qwen3-Embedding's shape) with sentence-transformers 6.2 on the tiny random
//! model of `fixtures/reference/arch/tiny-qwen3` (`scripts/make-reference.sh qwen3`): a causal
//! decoder with RMSNorm, rotary positions (theta 1e6), grouped-query attention (4 query heads
//! over 2 key/value heads) with query and key norms, SwiGLU; a byte-level BPE tokenizer that
//! appends `<|endoftext|>`; last-token pooling, which sentence-transformers runs on left-padded
//! batches and retune on right-padded ones (causal attention makes them equal). Burn engine;
//! `arch_parity`'s tolerances.

use crate::arch_parity::{embeddings_match, exported, gradients_match, load};
use crate::common::fixture;
use retune_trainer::backend::{Cpu, cpu_device};
use retune_trainer::cross::{CrossEncoder, CrossEncoderConfig};
use retune_trainer::{Engine, Family, Pooling};

#[test]
fn qwen3_embeds_as_sentence_transformers() {
    embeddings_match("tiny-qwen3", Family::Qwen3);
    let enc = load(
        fixture("arch/tiny-qwen3").to_str().unwrap(),
        8,
        Engine::Auto,
    );
    assert_eq!(enc.st_config.pooling, Pooling::LastToken);
    assert!(!enc.uses_fused());
    assert!(enc.load_report.unused.is_empty(), "{:?}", enc.load_report);
}

#[test]
fn qwen3_mnrl_gradients_match_sentence_transformers() {
    gradients_match("tiny-qwen3", Family::Qwen3);
}

/// An export has Qwen3's names and config and reloads to the same embeddings; a Qwen3
/// re-ranker is refused naming the family.
#[test]
fn qwen3_exports_and_refuses_to_rerank() {
    let (_out, saved, names) = exported("tiny-qwen3");
    for n in [
        "embed_tokens.weight",
        "layers.0.self_attn.k_norm.weight",
        "layers.1.self_attn.k_proj.weight",
        "layers.1.mlp.gate_proj.weight",
        "norm.weight",
    ] {
        assert!(names.contains(&n.to_string()), "{n} in {names:?}");
    }
    assert_eq!(names.len(), 2 + 11 * 2, "{names:?}");
    let pooling = std::fs::read_to_string(saved.join("1_Pooling/config.json")).unwrap();
    assert!(
        pooling.contains("\"pooling_mode_lasttoken\": true"),
        "{pooling}"
    );
    let dir = fixture("arch/tiny-qwen3");
    let err = CrossEncoder::<Cpu>::load(
        &CrossEncoderConfig::new(dir.to_string_lossy()),
        &cpu_device(),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("qwen3 re-rankers are not supported"), "{err}");
}
