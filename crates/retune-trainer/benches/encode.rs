//! Criterion benchmark: all-MiniLM-L6-v2 encoding the 66 course eval transactions at batch
//! 1, 8 and 32 on this build's CPU backend, through the Burn model and through the fused CPU
//! path side by side (texts pre-tokenized; `embed --bench` prints the same measurement as a
//! table with texts/s and tokens/s).
#![allow(missing_docs)] // criterion's macros generate undocumented functions

use criterion::{Criterion, criterion_group, criterion_main};
use retune_trainer::backend::{Cpu, cpu_device};
use retune_trainer::{EncoderConfig, Engine, SentenceEncoder};
use std::path::PathBuf;

fn shared(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared")
        .join(rel)
}

fn bench(c: &mut Criterion) {
    let dir = shared("models/all-MiniLM-L6-v2");
    let enc =
        SentenceEncoder::<Cpu>::load(&EncoderConfig::new(dir.to_str().unwrap()), &cpu_device())
            .expect("MiniLM in shared/models");
    let texts: Vec<String> =
        std::fs::read_to_string(shared("data/seed-week2/eval_transactions.jsonl"))
            .expect("course eval file")
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["input"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let tokens = enc.tokenize(&refs, None).unwrap();
    let mut group = c.benchmark_group("minilm_encode_66_transactions");
    group.sample_size(10);
    for batch in [1usize, 8, 32] {
        for (name, engine) in [("burn", Engine::Burn), ("fused", Engine::Fused)] {
            let e = enc
                .clone()
                .with_batch_size(batch)
                .with_engine(engine)
                .unwrap();
            group.bench_function(format!("{name}_batch_{batch}"), |b| {
                b.iter(|| e.encode_tokens(&tokens, None).unwrap())
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
