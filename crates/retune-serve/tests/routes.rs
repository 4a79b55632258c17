//! Every route answers what the models give directly: `/embed`, `/`, `/v1/embeddings` (float
//! and base64) and `/similarity` against the encoder's own vectors, `/rerank` and `/` against
//! the cross-encoder's logits, `/tokenize` against the tokenizer; `/info`, `/health` and
//! `/metrics` report them.
//!
//! Tolerance: 1e-6 absolute. The server packs rows into other batches than `encode` does; the
//! fused engine does not pad, so a row's numbers do not depend on its batch beyond the
//! matrix products' blocking, which moves at most the last bits of f32.

use crate::common::*;
use base64::Engine as _;
use retune_serve::{EmbedOptions, Embedding};
use retune_trainer::Tokens;
use serde_json::{Value, json};

const TOL: f32 = 1e-6;

/// The encoder's vectors before its Normalize module, and after.
fn direct(model: &str, texts: &[&str]) -> (Vec<Vec<f32>>, Vec<Vec<f32>>) {
    let mut enc = encoder(model);
    enc.st_config.normalize = false;
    let raw = enc.encode(texts).unwrap();
    let normalized = raw
        .iter()
        .map(|v| {
            let mut v = v.clone();
            retune_trainer::fused::normalize(&mut v);
            v
        })
        .collect();
    (raw, normalized)
}

#[test]
fn embeddings_equal_the_encoders_on_every_route_and_architecture() {
    let models = [
        embedder_path(),
        fixture("reference/arch/tiny-mpnet")
            .to_string_lossy()
            .into_owned(),
        fixture("reference/arch/tiny-xlm-roberta")
            .to_string_lossy()
            .into_owned(),
    ];
    let owned = texts();
    let texts: Vec<&str> = owned.iter().map(String::as_str).collect();
    for model in &models {
        let (raw, normalized) = direct(model, &texts);
        let s = start(Some(model), None, quiet());
        let (status, got) = post(&s.at("/embed"), &json!({ "inputs": texts }));
        assert_eq!(status, 200, "{model}: {got}");
        assert!(
            max_diff(&vectors(&got), &normalized) <= TOL,
            "{model} /embed"
        );
        let (_, got) = post(
            &s.at("/embed"),
            &json!({ "inputs": texts, "normalize": false }),
        );
        assert!(max_diff(&vectors(&got), &raw) <= TOL, "{model} /embed raw");
        let (_, got) = post(&s.at("/"), &json!({ "inputs": texts[0] }));
        assert!(
            max_diff(&vectors(&got), &normalized[..1]) <= TOL,
            "{model} /"
        );
        let (_, got) = post(
            &s.at("/embed"),
            &json!({ "inputs": texts, "dimensions": 8 }),
        );
        let short: Vec<Vec<f32>> = raw
            .iter()
            .map(|v| {
                let mut v = v[..8].to_vec();
                retune_trainer::fused::normalize(&mut v);
                v
            })
            .collect();
        assert!(
            max_diff(&vectors(&got), &short) <= TOL,
            "{model} dimensions"
        );

        let (status, got) = post(
            &s.at("/v1/embeddings"),
            &json!({ "input": texts, "model": "m" }),
        );
        assert_eq!(status, 200, "{got}");
        assert_eq!(
            (got["object"].as_str(), got["model"].as_str()),
            (Some("list"), Some("m"))
        );
        let data = got["data"].as_array().unwrap();
        let floats: Vec<Vec<f32>> = data
            .iter()
            .enumerate()
            .map(|(i, d)| {
                assert_eq!(
                    (d["object"].as_str(), d["index"].as_u64()),
                    (Some("embedding"), Some(i as u64))
                );
                serde_json::from_value(d["embedding"].clone()).unwrap()
            })
            .collect();
        assert!(
            max_diff(&floats, &normalized) <= TOL,
            "{model} /v1/embeddings"
        );
        let tokens: usize = encoder(model)
            .tokenize(&texts, None)
            .unwrap()
            .iter()
            .map(|t: &Tokens| t.ids.len())
            .sum();
        assert_eq!(got["usage"]["prompt_tokens"].as_u64(), Some(tokens as u64));
        let (_, got) = post(
            &s.at("/embeddings"),
            &json!({ "input": texts, "encoding_format": "base64" }),
        );
        let decoded: Vec<Vec<f32>> = got["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(d["embedding"].as_str().unwrap())
                    .unwrap();
                bytes
                    .chunks(4)
                    .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
                    .collect()
            })
            .collect();
        assert!(
            max_diff(&decoded, &floats) == 0.0,
            "{model} base64 is the float answer"
        );
    }
}

#[test]
fn rerank_orders_and_scores_as_the_cross_encoder() {
    let query = "airline ticket";
    let docs = [
        "Delta flight to Denver",
        "Team lunch",
        "Uber to the airport",
        "東京駅タクシー",
    ];
    let pairs: Vec<(&str, &str)> = docs.iter().map(|d| (query, *d)).collect();
    let logits = cross(&reranker_path()).logits(&pairs).unwrap();
    let s = start(None, Some(&reranker_path()), quiet());
    let (status, got) = post(
        &s.at("/rerank"),
        &json!({"query": query, "texts": docs, "raw_scores": true, "return_text": true}),
    );
    assert_eq!(status, 200, "{got}");
    let ranks = got.as_array().unwrap();
    assert_eq!(ranks.len(), docs.len());
    let mut want: Vec<usize> = (0..docs.len()).collect();
    want.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]));
    for (r, &i) in ranks.iter().zip(&want) {
        assert_eq!(r["index"].as_u64(), Some(i as u64), "{got}");
        assert!(
            (r["score"].as_f64().unwrap() as f32 - logits[i]).abs() <= 1e-5,
            "{got}"
        );
        assert_eq!(r["text"].as_str(), Some(docs[i]));
    }
    let (_, got) = post(&s.at("/rerank"), &json!({"query": query, "texts": docs}));
    for r in got.as_array().unwrap() {
        let i = r["index"].as_u64().unwrap() as usize;
        let want = 1.0 / (1.0 + (-logits[i]).exp());
        assert!((r["score"].as_f64().unwrap() as f32 - want).abs() <= 1e-6);
        assert!(r.get("text").is_none());
    }
    // `/` on a re-ranker: TEI's predict shape, one pair or a list of pairs.
    let (status, got) = post(
        &s.at("/"),
        &json!({"inputs": [query, docs[0]], "raw_scores": true}),
    );
    assert_eq!(status, 200, "{got}");
    assert!((got[0]["score"].as_f64().unwrap() as f32 - logits[0]).abs() <= 1e-5);
    let list: Vec<[&str; 2]> = docs.iter().map(|d| [query, *d]).collect();
    let (_, got) = post(&s.at("/"), &json!({"inputs": list, "raw_scores": true}));
    for (i, item) in got.as_array().unwrap().iter().enumerate() {
        assert!((item[0]["score"].as_f64().unwrap() as f32 - logits[i]).abs() <= 1e-5);
    }
}

#[test]
fn similarity_tokenize_info_health_and_metrics() {
    let s = start(Some(&embedder_path()), Some(&reranker_path()), quiet());
    let sentences = ["Delta flight", "Team lunch"];
    let (status, got) = post(
        &s.at("/similarity"),
        &json!({"inputs": {"source_sentence": "airfare", "sentences": sentences}}),
    );
    assert_eq!(status, 200, "{got}");
    let (_, n) = direct(&embedder_path(), &["airfare", sentences[0], sentences[1]]);
    for (i, score) in got.as_array().unwrap().iter().enumerate() {
        let want: f32 = n[0].iter().zip(&n[i + 1]).map(|(a, b)| a * b).sum();
        assert!(
            (score.as_f64().unwrap() as f32 - want).abs() <= 1e-5,
            "{got}"
        );
    }
    let (_, got) = post(&s.at("/tokenize"), &json!({"inputs": ["Uber ride"]}));
    let ids: Vec<u32> = got[0]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_u64().unwrap() as u32)
        .collect();
    let want = encoder(&embedder_path())
        .tokenize(&["Uber ride"], None)
        .unwrap();
    assert_eq!(ids, want[0].ids);
    assert_eq!(got[0][1]["text"].as_str(), Some("Uber"));
    assert_eq!(got[0][0]["special"].as_bool(), Some(true));

    let info: Value = reqwest::blocking::get(s.at("/info"))
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(info["model_type"]["embedding"]["pooling"], "mean");
    assert_eq!(info["dimension"], 32);
    assert_eq!(info["max_client_batch_size"], 32);
    assert_eq!(
        info["reranker"]["architecture"],
        "XLMRobertaForSequenceClassification"
    );
    assert_eq!(
        reqwest::blocking::get(s.at("/health")).unwrap().status(),
        200
    );
    let metrics = reqwest::blocking::get(s.at("/metrics"))
        .unwrap()
        .text()
        .unwrap();
    assert!(
        metrics.contains("retune_requests_total{route=\"/similarity\",status=\"200\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("retune_queue_size{queue=\"rerank\"} 0"));
    assert!(metrics.contains("retune_batch_tokens_count"));
}

#[test]
fn a_service_embeds_through_the_queue_without_http() {
    let embedding = Embedding::new(encoder(&embedder_path()), Default::default(), None);
    let owned = texts();
    let texts: Vec<&str> = owned.iter().map(String::as_str).collect();
    let (_, normalized) = direct(&embedder_path(), &texts);
    let got = embedding
        .embed_blocking(&texts, &EmbedOptions::default())
        .unwrap();
    assert!(max_diff(&got.vectors, &normalized) <= TOL);
    // From many threads at once: each caller gets its own rows back.
    std::thread::scope(|scope| {
        for (i, text) in texts.iter().enumerate() {
            let (embedding, want) = (&embedding, &normalized[i]);
            scope.spawn(move || {
                let got = embedding
                    .embed_blocking(&[text], &EmbedOptions::default())
                    .unwrap();
                assert!(max_diff(&got.vectors, std::slice::from_ref(want)) <= TOL);
            });
        }
    });
}
