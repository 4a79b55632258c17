//! Every refusal answers text-embeddings-inference's status with a JSON `{"error",
//! "error_type"}` body that names what is wrong; a configured key is required everywhere but
//! `/health` and never appears in an answer.

use crate::common::*;
use retune_serve::{QueueConfig, ServeConfig};
use serde_json::{Value, json};

fn strict() -> ServeConfig {
    ServeConfig {
        max_client_batch_size: 4,
        payload_limit: 2_000,
        auto_truncate: false,
        queue: QueueConfig::default(),
        ..quiet()
    }
}

/// POSTs a raw body.
fn post_raw(url: &str, body: &str) -> (u16, Value) {
    let r = reqwest::blocking::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().unwrap())
}

#[test]
fn each_bad_request_gets_its_status_and_a_message_naming_the_problem() {
    let s = start(Some(&embedder_path()), None, strict());
    let long = "expense report line item ".repeat(60);
    let cases: Vec<(&str, Value, u16, &str, &str)> = vec![
        (
            "/embed",
            json!({"inputs": []}),
            400,
            "Empty",
            "`inputs` cannot be empty",
        ),
        (
            "/embed",
            json!({"inputs": ["a", "b", "c", "d", "e"]}),
            422,
            "Validation",
            "batch size 5 > maximum allowed batch size 4",
        ),
        (
            "/embed",
            json!({"inputs": long}),
            413,
            "Validation",
            "longer than the model's limit of 64 tokens",
        ),
        (
            "/embed",
            json!({"inputs": 5}),
            422,
            "Validation",
            "`inputs` must be a string or a list of strings",
        ),
        (
            "/embed",
            json!({}),
            422,
            "Validation",
            "missing field `inputs`",
        ),
        (
            "/embed",
            json!({"inputs": "a", "normalize": "yes"}),
            422,
            "Validation",
            "at `normalize`",
        ),
        (
            "/embed",
            json!({"inputs": "a", "dimensions": 0}),
            422,
            "Validation",
            "`dimensions` must be between 1 and 32",
        ),
        (
            "/embed",
            json!({"inputs": "a", "dimensions": 33}),
            422,
            "Validation",
            "got 33",
        ),
        (
            "/embed",
            json!({"inputs": "a", "prompt_name": "nope"}),
            422,
            "Validation",
            "no prompt named \"nope\"",
        ),
        (
            "/embed",
            json!({"inputs": "a", "truncation_direction": "Left"}),
            422,
            "Validation",
            "truncation_direction",
        ),
        (
            "/v1/embeddings",
            json!({"input": [[1, 2]]}),
            422,
            "Validation",
            "token-id input is not supported",
        ),
        (
            "/v1/embeddings",
            json!({"input": "a", "encoding_format": "hex"}),
            422,
            "Validation",
            "`encoding_format`",
        ),
        (
            "/v1/embeddings",
            json!({"input": ["a", ""]}),
            422,
            "Validation",
            "`input[1]` is an empty text",
        ),
        (
            "/rerank",
            json!({"query": "q", "texts": ["a"]}),
            422,
            "Validation",
            "no re-ranker (start it with --reranker)",
        ),
        (
            "/embed",
            json!({"inputs": "x".repeat(3_000)}),
            413,
            "Validation",
            "over the payload limit of 2000 bytes",
        ),
    ];
    for (route, body, status, kind, text) in cases {
        let (got_status, got) = post(&s.at(route), &body);
        let what = format!(
            "{route} {}: {got}",
            &body.to_string()[..body.to_string().len().min(60)]
        );
        assert_eq!(got_status, status, "{what}");
        assert_eq!(got["error_type"], kind, "{what}");
        assert!(got["error"].as_str().unwrap().contains(text), "{what}");
    }
    let (status, got) = post_raw(&s.at("/embed"), "{\"inputs\": ");
    assert_eq!(status, 422, "{got}");
    assert!(
        got["error"].as_str().unwrap().contains("invalid JSON body"),
        "{got}"
    );
    // Truncation asked for by the request is honoured even with --auto-truncate false.
    let (status, got) = post(&s.at("/embed"), &json!({"inputs": long, "truncate": true}));
    assert_eq!(status, 200, "{got}");
    let r = reqwest::blocking::get(s.at("/no/such/route")).unwrap();
    assert_eq!(r.status(), 404);
    let got: Value = r.json().unwrap();
    assert_eq!(got["error_type"], "NotFound");
}

#[test]
fn rerank_refusals() {
    let s = start(None, Some(&reranker_path()), strict());
    let cases: Vec<(Value, u16, &str)> = vec![
        (
            json!({"query": "q", "texts": []}),
            400,
            "`texts` cannot be empty",
        ),
        (
            json!({"query": "", "texts": ["a"]}),
            422,
            "`query` is an empty text",
        ),
        (
            json!({"query": "q", "texts": ["a", "b", "c", "d", "e"]}),
            422,
            "maximum allowed batch size 4",
        ),
        (json!({"query": "q"}), 422, "missing field `texts`"),
    ];
    for (body, status, text) in cases {
        let (got_status, got) = post(&s.at("/rerank"), &body);
        assert_eq!(got_status, status, "{body}: {got}");
        assert!(
            got["error"].as_str().unwrap().contains(text),
            "{body}: {got}"
        );
    }
    let (status, got) = post(&s.at("/embed"), &json!({"inputs": "a"}));
    assert_eq!(status, 422, "{got}");
    assert!(
        got["error"]
            .as_str()
            .unwrap()
            .contains("no embedding model"),
        "{got}"
    );
    let (status, got) = post(&s.at("/"), &json!({"inputs": ["only one"]}));
    assert_eq!(status, 422, "{got}");
}

#[test]
fn a_configured_key_is_needed_everywhere_but_health_and_never_echoed() {
    const KEY: &str = "sk-serve-test-key-7c1d";
    const WRONG: &str = "sk-wrong-key-9f2e";
    let config = ServeConfig {
        api_key: Some(KEY.into()),
        ..quiet()
    };
    let s = start(Some(&embedder_path()), None, config);
    let client = reqwest::blocking::Client::new();
    let body = json!({"inputs": "Delta flight"});
    for auth in [
        None,
        Some(format!("Bearer {WRONG}")),
        Some(KEY.to_owned()),
        Some(format!("Basic {KEY}")),
    ] {
        let mut req = client.post(s.at("/embed")).json(&body);
        if let Some(a) = &auth {
            req = req.header("authorization", a);
        }
        let r = req.send().unwrap();
        assert_eq!(r.status(), 401, "{auth:?}");
        let text = r.text().unwrap();
        assert!(text.contains("\"error_type\":\"Unauthorized\""), "{text}");
        assert!(!text.contains(KEY) && !text.contains(WRONG), "{text}");
    }
    let ok = client
        .post(s.at("/embed"))
        .bearer_auth(KEY)
        .json(&body)
        .send()
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(client.get(s.at("/metrics")).send().unwrap().status(), 401);
    assert_eq!(client.get(s.at("/health")).send().unwrap().status(), 200);
}
