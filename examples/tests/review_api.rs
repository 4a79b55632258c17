//! The review server's HTTP API on a real socket: approve, skip, edit, undo, unknown ids,
//! invalid edits, the session token and Host checks, concurrent requests, and a restart after
//! SIGKILL that resumes with every decision kept.

use crate::support;

use retune_data::{ReadMode, Transaction, read_jsonl, write_jsonl_atomic};
use serde_json::{Value, json};
use std::path::Path;

fn tx(i: usize) -> Transaction {
    Transaction {
        merchant_name: format!("Vendor {i}"),
        merchant_category: vec!["SaaS".into()],
        department: "Engineering".into(),
        location: "Austin, TX".into(),
        amount: 10.0 + i as f64,
        spend_program_name: "Annual Software Budget".into(),
        trip_name: None,
        expense_category: "Software Subscriptions".into(),
    }
}

struct Api {
    http: reqwest::blocking::Client,
    url: String,
    token: String,
}

impl Api {
    fn new(url: &str) -> Self {
        let http = reqwest::blocking::Client::new();
        let page = http.get(format!("{url}/")).send().unwrap();
        let csp = page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(csp.contains("script-src 'nonce-"), "{csp}");
        let html = page.text().unwrap();
        let token = html
            .split("name=\"review-token\" content=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_string();
        Self {
            http,
            url: url.to_string(),
            token,
        }
    }

    fn get(&self, path: &str) -> (u16, Value) {
        let r = self.http.get(format!("{}{path}", self.url)).send().unwrap();
        (r.status().as_u16(), r.json().unwrap_or(Value::Null))
    }

    fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}{path}", self.url))
            .header("x-review-token", &self.token)
            .json(&body)
            .send()
            .unwrap();
        (r.status().as_u16(), r.json().unwrap_or(Value::Null))
    }
}

fn cleaned(p: &Path) -> Vec<Transaction> {
    read_jsonl::<Transaction>(p, ReadMode::Strict).unwrap().0
}

#[test]
fn approve_skip_edit_undo_errors_and_resume_after_kill() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("generated.jsonl");
    let output = dir.path().join("cleaned.jsonl");
    let items: Vec<Transaction> = (0..5).map(tx).collect();
    write_jsonl_atomic(&input, &items).unwrap();
    let cats = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/domain/categories.json");
    let server = support::start(&input, &output, Some(&cats));
    let api = Api::new(&server.url);

    let (s, state) = api.get("/api/state");
    assert_eq!(s, 200);
    assert_eq!(state["progress"]["total"], 5);
    assert_eq!(state["progress"]["current"], 0);
    assert!(state["categories"].as_array().unwrap().len() >= 20);

    assert_eq!(api.post("/api/items/0/approve", json!({})).0, 200);
    let mut edited = serde_json::to_value(tx(1)).unwrap();
    edited["expense_category"] = "Airfare".into();
    edited["merchant_category"] = json!(["Airlines", "Travel"]);
    let (s, r) = api.post("/api/items/1/approve", json!({"record": edited}));
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["progress"]["current"], 2);
    assert_eq!(api.post("/api/items/2/skip", json!({})).0, 200);
    assert_eq!(cleaned(&output).len(), 2);
    assert_eq!(cleaned(&output)[1].expense_category, "Airfare");

    // undo takes back the skip
    let (s, r) = api.post("/api/undo", json!({}));
    assert_eq!((s, r["undone"].clone()), (200, json!(2)));
    assert_eq!(r["progress"]["current"], 2);

    // unknown ids and invalid edits
    assert_eq!(api.post("/api/items/99/skip", json!({})).0, 404);
    assert_eq!(api.post("/api/items/abc/skip", json!({})).0, 404);
    assert_eq!(api.get("/api/items/99").0, 404);
    let mut bad = serde_json::to_value(tx(3)).unwrap();
    bad["amount"] = json!(-3.0);
    bad["expense_category"] = "Not A Category".into();
    let (s, r) = api.post("/api/items/3/approve", json!({"record": bad}));
    assert_eq!(s, 422);
    let fields: Vec<&str> = r["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["amount", "expense_category"]);
    let mut wrong_type = serde_json::to_value(tx(3)).unwrap();
    wrong_type["amount"] = "ten".into();
    let (s, r) = api.post("/api/items/3/approve", json!({"record": wrong_type}));
    assert_eq!((s, r["errors"][0]["field"].as_str()), (422, Some("amount")));

    // without the token, or from another Host, nothing changes
    let no_token = api
        .http
        .post(format!("{}/api/items/3/skip", api.url))
        .json(&json!({}))
        .send()
        .unwrap();
    assert_eq!(no_token.status().as_u16(), 403);
    let rebinding = api
        .http
        .get(format!("{}/api/state", api.url))
        .header("host", "evil.example:80")
        .send()
        .unwrap();
    assert_eq!(rebinding.status().as_u16(), 403);
    assert_eq!(api.get("/api/state").1["progress"]["current"], 2);

    // kill -9 and restart: every decision is still there, and the queue resumes at item 2
    drop(server);
    let server = support::start(&input, &output, Some(&cats));
    let api = Api::new(&server.url);
    let (_, state) = api.get("/api/state");
    assert_eq!(state["progress"]["approved"], 2);
    assert_eq!(state["progress"]["skipped"], 0);
    assert_eq!(state["progress"]["current"], 2);
    assert_eq!(state["items"][1]["expense_category"], "Airfare");
    let (_, item) = api.get("/api/items/1");
    assert_eq!(item["status"], "approved");
    assert_eq!(
        item["original"]["expense_category"],
        "Software Subscriptions"
    );
    assert_eq!(cleaned(&output).len(), 2);
}

#[test]
fn concurrent_decisions_are_all_kept() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("generated.jsonl");
    let output = dir.path().join("cleaned.jsonl");
    let items: Vec<Transaction> = (0..24).map(tx).collect();
    write_jsonl_atomic(&input, &items).unwrap();
    let server = support::start(&input, &output, None);
    let api = Api::new(&server.url);
    std::thread::scope(|s| {
        for t in 0..8 {
            let api = &api;
            s.spawn(move || {
                for i in (t..24).step_by(8) {
                    let action = if i % 3 == 0 { "skip" } else { "approve" };
                    let (code, _) = api.post(&format!("/api/items/{i}/{action}"), json!({}));
                    assert_eq!(code, 200);
                }
            });
        }
    });
    let (_, state) = api.get("/api/state");
    assert_eq!(state["progress"]["approved"], 16);
    assert_eq!(state["progress"]["skipped"], 8);
    assert_eq!(state["progress"]["current"], Value::Null);
    let out = cleaned(&output);
    assert_eq!(out.len(), 16);
    // in input order, whatever order the requests came in
    let names: Vec<String> = out.iter().map(|t| t.merchant_name.clone()).collect();
    let expected: Vec<String> = (0..24)
        .filter(|i| i % 3 != 0)
        .map(|i| format!("Vendor {i}"))
        .collect();
    assert_eq!(names, expected);
    let log = std::fs::read_to_string(dir.path().join("cleaned.decisions.jsonl")).unwrap();
    assert_eq!(log.lines().count(), 24);
}
