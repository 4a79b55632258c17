//! Bounded load on loopback: 2,000 requests of mixed sizes at concurrency 64 all succeed with
//! the reference embeddings; beyond `max_concurrent_requests` the answer is 429 and only that.

use crate::common::*;
use retune_serve::ServeConfig;
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};

/// `n` distinct texts of mixed lengths.
fn pool(n: usize) -> Vec<String> {
    let words = [
        "Delta", "flight", "Uber", "lunch", "AWS", "invoice", "hotel", "taxi", "東京",
    ];
    (0..n)
        .map(|i| {
            (0..1 + (i * 7) % 40)
                .map(|j| words[(i + j * 3) % words.len()])
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

#[test]
fn two_thousand_requests_at_concurrency_64_all_answer_the_reference() {
    let texts = pool(97);
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let want = encoder(&embedder_path()).encode(&refs).unwrap();
    let s = start(Some(&embedder_path()), None, quiet());
    let next = AtomicUsize::new(0);
    let failures = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..64 {
            scope.spawn(|| {
                let client = reqwest::blocking::Client::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= 2_000 {
                        break;
                    }
                    let picks: Vec<usize> = (0..1 + i % 8)
                        .map(|k| (i * 13 + k * 29) % texts.len())
                        .collect();
                    let inputs: Vec<&str> = picks.iter().map(|&k| refs[k]).collect();
                    let r = client
                        .post(s.at("/embed"))
                        .json(&json!({"inputs": inputs}))
                        .send()
                        .unwrap();
                    if r.status() != 200 {
                        failures.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    let got: Vec<Vec<f32>> = r.json().unwrap();
                    let expected: Vec<Vec<f32>> = picks.iter().map(|&k| want[k].clone()).collect();
                    assert!(max_diff(&got, &expected) <= 1e-6, "request {i}");
                }
            });
        }
    });
    assert_eq!(failures.load(Ordering::Relaxed), 0);
}

#[test]
fn beyond_the_concurrency_limit_the_answer_is_429_and_only_that() {
    let config = ServeConfig {
        max_concurrent_requests: 2,
        ..quiet()
    };
    let s = start(Some(&embedder_path()), None, config);
    let texts = pool(32);
    let (ok, overloaded) = (AtomicUsize::new(0), AtomicUsize::new(0));
    // Rounds of 16 simultaneous requests of 32 texts until one is refused (bounded).
    for _ in 0..50 {
        let barrier = std::sync::Barrier::new(16);
        std::thread::scope(|scope| {
            for _ in 0..16 {
                scope.spawn(|| {
                    let client = reqwest::blocking::Client::new();
                    barrier.wait();
                    let r = client
                        .post(s.at("/embed"))
                        .json(&json!({"inputs": texts}))
                        .send()
                        .unwrap();
                    match r.status().as_u16() {
                        200 => ok.fetch_add(1, Ordering::Relaxed),
                        429 => {
                            let body: serde_json::Value = r.json().unwrap();
                            assert_eq!(body["error_type"], "Overloaded", "{body}");
                            overloaded.fetch_add(1, Ordering::Relaxed)
                        }
                        other => panic!("status {other}"),
                    };
                });
            }
        });
        if overloaded.load(Ordering::Relaxed) > 0 {
            break;
        }
    }
    assert!(
        overloaded.load(Ordering::Relaxed) > 0,
        "no request was ever refused"
    );
    assert!(ok.load(Ordering::Relaxed) > 0);
    // One at a time is never refused.
    for _ in 0..20 {
        let (status, _) = post(&s.at("/embed"), &json!({"inputs": texts}));
        assert_eq!(status, 200);
    }
}
