//! The encoder on the tiny fixture model: order, batching, streaming and prompts.

use crate::common;

use common::max_abs_diff;
use retune_data::Embedder;
use retune_trainer::backend::{Cpu, cpu_device};
use retune_trainer::fixture::tiny_bert_dir;
use retune_trainer::{EncoderConfig, SentenceEncoder, TrainerError};

fn tiny(batch: usize) -> SentenceEncoder<Cpu> {
    let cfg = EncoderConfig::new(tiny_bert_dir().to_str().unwrap()).with_batch_size(batch);
    SentenceEncoder::load(&cfg, &cpu_device()).unwrap()
}

fn texts() -> Vec<String> {
    (0..23)
        .map(|i| {
            format!(
                "uber ride {} to the airport in new york{}",
                i,
                " travel".repeat(i % 7)
            )
        })
        .collect()
}

#[test]
fn output_follows_input_order_whatever_the_batch_size() {
    let t = texts();
    let refs: Vec<&str> = t.iter().map(String::as_str).collect();
    let one: Vec<Vec<f32>> = refs
        .iter()
        .map(|s| tiny(1).encode(&[s]).unwrap().remove(0))
        .collect();
    for batch in [1, 4, 32] {
        let got = tiny(batch).encode(&refs).unwrap();
        for (i, (a, b)) in got.iter().zip(&one).enumerate() {
            assert!(max_abs_diff(a, b) <= 1e-5, "batch {batch} text {i}");
        }
    }
    let e = tiny(4);
    assert_eq!((e.dimension(), e.normalized()), (32, true));
}

#[test]
fn streaming_gives_the_same_embeddings_in_chunks() {
    let t = texts();
    let refs: Vec<&str> = t.iter().map(String::as_str).collect();
    let enc = tiny(4);
    let whole = enc.encode(&refs).unwrap();
    let mut streamed = Vec::new();
    let mut chunks = 0;
    enc.encode_stream(t.iter(), 8, |chunk| {
        chunks += 1;
        assert!(chunk.len() <= 8);
        streamed.extend(chunk);
        Ok::<(), TrainerError>(())
    })
    .unwrap();
    assert_eq!(chunks, 3);
    for (a, b) in streamed.iter().zip(&whole) {
        assert!(max_abs_diff(a, b) <= 1e-5);
    }
}

#[test]
fn prompts_are_prepended_by_name() {
    let enc = tiny(4);
    let with = enc.encode_with_prompt(&["hotel"], Some("query")).unwrap();
    let manual = enc.encode(&["query: hotel"]).unwrap();
    assert!(max_abs_diff(&with[0], &manual[0]) <= 1e-6);
    let err = enc
        .encode_with_prompt(&["hotel"], Some("passage"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("no prompt named \"passage\""), "{err}");
}

#[test]
fn pairs_are_one_sequence_with_segment_ids() {
    let enc = tiny(4);
    let t = enc
        .tokenizer
        .encode_pairs(&[("uber", "travel")])
        .unwrap()
        .remove(0);
    assert_eq!(t.ids.len(), 5, "[CLS] uber [SEP] travel [SEP]");
    assert_eq!(t.type_ids, vec![0, 0, 0, 1, 1]);
    let long = "uber ".repeat(200);
    let t = enc
        .tokenizer
        .encode_pairs(&[(long.as_str(), "travel")])
        .unwrap()
        .remove(0);
    assert_eq!(t.ids.len(), 64, "truncated to max_seq_length");
    assert_eq!(
        t.type_ids.iter().filter(|&&x| x == 1).count(),
        2,
        "the short second text survives truncation"
    );
}
