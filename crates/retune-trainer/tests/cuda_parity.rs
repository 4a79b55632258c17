//! The MiniLM parity test on CUDA (`--features cuda`, needs a GPU): same reference, same
//! tolerances as on the CPU (cosine >= 0.99999, max abs difference <= 1e-4).
//!
//! ```sh
//! cargo test --release -p retune-trainer --features cuda --test integration cuda_parity
//! ```
#![cfg(feature = "cuda")]

use crate::common;

use common::{MINILM, cosine, fixture, max_abs_diff, real_model};
use retune_trainer::backend::Gpu;
use retune_trainer::{EncoderConfig, SentenceEncoder};

#[test]
fn cuda_embeddings_match_sentence_transformers() {
    let refs: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("minilm_embeddings.json")).unwrap())
            .unwrap();
    let texts: Vec<&str> = refs["texts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    let dir = real_model(MINILM);
    let enc = SentenceEncoder::<Gpu>::load(
        &EncoderConfig::new(dir.to_str().unwrap()),
        &Default::default(),
    )
    .unwrap();
    let got = enc.encode(&texts).unwrap();
    for (i, (g, w)) in got
        .iter()
        .zip(refs["embeddings"].as_array().unwrap())
        .enumerate()
    {
        let w: Vec<f32> = w
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect();
        let (c, d) = (cosine(g, &w), max_abs_diff(g, &w));
        assert!(
            c >= 0.99999 && d <= 1e-4,
            "text {i}: cosine {c}, max abs diff {d}"
        );
    }
}
