//! A mock Cohere: datasets (multipart upload, validation by Cohere's rules, polling), re-ranker
//! fine-tunes (a lifecycle advanced one stage per poll, events and step metrics paged two at a
//! time), rerank (base models score by word overlap; a ready fine-tune has learned, from its
//! training file, which words point to which passages) and embed.

use super::{Fault, Running, fault_response, serve, take_fault};
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use retune_data::CohereRerankItem;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// How the mock behaves.
#[derive(Debug, Clone)]
pub struct CohereScenario {
    /// The key it accepts (`Authorization: Bearer <key>`).
    pub api_key: String,
    /// Polls of a dataset that answer `processing` before its final status.
    pub dataset_processing_polls: u32,
    /// Polls spent in each fine-tune stage (QUEUED, FINETUNING, DEPLOYING_API).
    pub polls_per_stage: u32,
    /// Whether fine-tunes end in `STATUS_FAILED` instead of `STATUS_READY`.
    pub finetune_fails: bool,
    /// Distinct queries a dataset needs (Cohere: 256).
    pub min_unique_queries: usize,
    /// Faults to inject.
    pub faults: Vec<Fault>,
}

impl Default for CohereScenario {
    fn default() -> Self {
        Self {
            api_key: "test-cohere-key".into(),
            dataset_processing_polls: 1,
            polls_per_stage: 1,
            finetune_fails: false,
            min_unique_queries: 256,
            faults: Vec::new(),
        }
    }
}

struct DatasetRec {
    body: Value,
    processing_left: u32,
    final_status: &'static str,
    error: Option<String>,
    items: Vec<CohereRerankItem>,
}

struct ModelRec {
    body: Value,
    polls: u32,
    events: Vec<Value>,
    dataset_id: String,
}

#[derive(Default)]
struct St {
    datasets: HashMap<String, DatasetRec>,
    models: HashMap<String, ModelRec>,
    requests: Vec<(String, String)>,
    next: u64,
}

struct Shared {
    scenario: Mutex<CohereScenario>,
    st: Mutex<St>,
}

/// A running mock Cohere.
pub struct MockCohere {
    shared: Arc<Shared>,
    running: Running,
}

impl MockCohere {
    /// Starts one.
    pub fn start(scenario: CohereScenario) -> Self {
        let shared = Arc::new(Shared {
            scenario: Mutex::new(scenario),
            st: Mutex::new(St::default()),
        });
        let router = axum::Router::new()
            .fallback(handle)
            .with_state(shared.clone());
        Self {
            running: serve(router),
            shared,
        }
    }

    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        self.running.addr
    }

    /// Its base URL, e.g. `http://127.0.0.1:41234`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.running.addr)
    }

    /// Every request so far as `(method, path)`.
    pub fn requests(&self) -> Vec<(String, String)> {
        self.shared.st.lock().unwrap().requests.clone()
    }

    /// How many requests went to paths starting with `prefix`.
    pub fn count(&self, method: &str, prefix: &str) -> usize {
        self.requests()
            .iter()
            .filter(|(m, p)| m == method && p.starts_with(prefix))
            .count()
    }

    /// Adds a fault while running.
    pub fn inject(&self, fault: Fault) {
        self.shared.scenario.lock().unwrap().faults.push(fault);
    }

    /// The training lines of an uploaded dataset.
    pub fn dataset_items(&self, id: &str) -> Option<Vec<CohereRerankItem>> {
        self.shared
            .st
            .lock()
            .unwrap()
            .datasets
            .get(id)
            .map(|d| d.items.clone())
    }
}

fn err(status: StatusCode, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"id": "mock-err", "message": message})),
    )
        .into_response()
}

fn ok(v: Value) -> Response {
    (StatusCode::OK, axum::Json(v)).into_response()
}

async fn handle(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let query: HashMap<String, String> = req
        .uri()
        .query()
        .map(|q| {
            q.split('&')
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_string(), v.replace("%20", " ")))
                .collect()
        })
        .unwrap_or_default();
    shared
        .st
        .lock()
        .unwrap()
        .requests
        .push((method.to_string(), path.clone()));
    let fault = {
        let mut sc = shared.scenario.lock().unwrap();
        take_fault(&mut sc.faults, method.as_str(), &path)
    };
    if let Some(f) = fault {
        return fault_response(f).await;
    }
    let key = shared.scenario.lock().unwrap().api_key.clone();
    let auth = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if auth != format!("Bearer {key}") {
        return err(StatusCode::UNAUTHORIZED, "invalid api token");
    }
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (method.clone(), segs.as_slice()) {
        (Method::POST, ["v1", "datasets"]) => create_dataset(&shared, &query, req).await,
        (Method::GET, ["v1", "datasets"]) => {
            let st = shared.st.lock().unwrap();
            let list: Vec<Value> = st.datasets.values().map(|d| d.body.clone()).collect();
            ok(json!({"datasets": list}))
        }
        (Method::GET, ["v1", "datasets", id]) => get_dataset(&shared, id),
        (Method::DELETE, ["v1", "datasets", id]) => {
            match shared.st.lock().unwrap().datasets.remove(*id) {
                Some(_) => ok(json!({})),
                None => err(
                    StatusCode::NOT_FOUND,
                    &format!("The dataset with id '{id}' was not found."),
                ),
            }
        }
        (Method::POST, ["v1", "finetuning", "finetuned-models"]) => {
            let body = match json_body(req).await {
                Ok(v) => v,
                Err(r) => return r,
            };
            create_model(&shared, body)
        }
        (Method::GET, ["v1", "finetuning", "finetuned-models"]) => {
            let st = shared.st.lock().unwrap();
            let mut all: Vec<Value> = st.models.values().map(|m| m.body.clone()).collect();
            all.sort_by_key(|m| m["id"].as_str().unwrap_or("").to_string());
            page(&query, all, "finetuned_models")
        }
        (Method::GET, ["v1", "finetuning", "finetuned-models", id]) => get_model(&shared, id),
        (Method::GET, ["v1", "finetuning", "finetuned-models", id, "events"]) => {
            let st = shared.st.lock().unwrap();
            match st.models.get(*id) {
                Some(m) => page(&query, m.events.clone(), "events"),
                None => err(
                    StatusCode::NOT_FOUND,
                    &format!("finetuned model {id} not found"),
                ),
            }
        }
        (
            Method::GET,
            [
                "v1",
                "finetuning",
                "finetuned-models",
                id,
                "training-step-metrics",
            ],
        ) => {
            let st = shared.st.lock().unwrap();
            match st.models.get(*id) {
                Some(m) => {
                    let steps: Vec<Value> = (0..m.polls.min(5))
                        .map(|i| json!({"created_at": "2024-01-17T20:00:00Z", "step_number": i * 10, "metrics": {"accuracy": 0.5 + 0.05 * i as f64}}))
                        .collect();
                    page(&query, steps, "step_metrics")
                }
                None => err(
                    StatusCode::NOT_FOUND,
                    &format!("finetuned model {id} not found"),
                ),
            }
        }
        (Method::POST, ["v2", "rerank"]) => {
            let body = match json_body(req).await {
                Ok(v) => v,
                Err(r) => return r,
            };
            rerank(&shared, &body)
        }
        (Method::POST, ["v2", "embed"]) => {
            let body = match json_body(req).await {
                Ok(v) => v,
                Err(r) => return r,
            };
            embed(&body)
        }
        _ => err(StatusCode::NOT_FOUND, &format!("no route {method} {path}")),
    }
}

async fn json_body(req: Request) -> Result<Value, Response> {
    let bytes = axum::body::to_bytes(req.into_body(), 64 << 20)
        .await
        .map_err(|_| err(StatusCode::BAD_REQUEST, "unreadable body"))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| err(StatusCode::BAD_REQUEST, &format!("invalid request: {e}")))
}

fn page(query: &HashMap<String, String>, all: Vec<Value>, field: &str) -> Response {
    // pages of at most 2, whatever is asked, so that clients must follow the token
    let size = query
        .get("page_size")
        .and_then(|s| s.parse::<usize>().ok())
        .unwrap_or(2)
        .clamp(1, 2);
    let start: usize = query
        .get("page_token")
        .and_then(|t| t.strip_prefix("p"))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let end = (start + size).min(all.len());
    let next = if end < all.len() {
        format!("p{end}")
    } else {
        String::new()
    };
    let items: Vec<Value> = all[start.min(all.len())..end].to_vec();
    ok(json!({field: items, "next_page_token": next, "total_size": all.len()}))
}

async fn create_dataset(
    shared: &Arc<Shared>,
    query: &HashMap<String, String>,
    req: Request,
) -> Response {
    let Some(name) = query.get("name").cloned() else {
        return err(StatusCode::BAD_REQUEST, "name is required");
    };
    if query.get("type").map(String::as_str) != Some("reranker-finetune-input") {
        return err(
            StatusCode::BAD_REQUEST,
            "type must be reranker-finetune-input here",
        );
    }
    let mut mp = match Multipart::from_request(req, &()).await {
        Ok(m) => m,
        Err(e) => return err(StatusCode::BAD_REQUEST, &format!("expected multipart: {e}")),
    };
    let mut parts: BTreeMap<String, String> = BTreeMap::new();
    while let Ok(Some(field)) = mp.next_field().await {
        let fname = field.name().unwrap_or("").to_string();
        match field.text().await {
            Ok(t) => {
                parts.insert(fname, t);
            }
            Err(_) => return err(StatusCode::BAD_REQUEST, "part is not UTF-8"),
        }
    }
    let Some(data) = parts.get("data") else {
        return err(StatusCode::BAD_REQUEST, "multipart part `data` is required");
    };
    let min = shared.scenario.lock().unwrap().min_unique_queries;
    let (items, error) = validate(data, min);
    let eval_error = parts.get("eval_data").and_then(|e| validate(e, 0).1);
    let error = error.or(eval_error);
    let mut st = shared.st.lock().unwrap();
    st.next += 1;
    let id = format!("{name}-{:06x}", st.next * 7919);
    let processing_left = shared.scenario.lock().unwrap().dataset_processing_polls;
    let body = json!({"id": id, "name": name, "created_at": "2024-01-17T20:00:00Z", "updated_at": "2024-01-17T20:00:00Z",
        "dataset_type": "reranker-finetune-input", "validation_status": "queued", "validation_warnings": []});
    st.datasets.insert(
        id.clone(),
        DatasetRec {
            body,
            processing_left,
            final_status: if error.is_some() {
                "failed"
            } else {
                "validated"
            },
            error,
            items,
        },
    );
    ok(json!({"id": id}))
}

/// Cohere's checks, as the service would run them: the first problem is reported.
fn validate(data: &str, min_unique: usize) -> (Vec<CohereRerankItem>, Option<String>) {
    let mut items = Vec::new();
    for (i, line) in data.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<CohereRerankItem>(line) {
            Ok(it) => {
                if it.relevant_passages.is_empty() {
                    return (items, Some(format!("line {}: no relevant passages", i + 1)));
                }
                if it
                    .hard_negatives
                    .iter()
                    .any(|n| it.relevant_passages.contains(n))
                {
                    return (
                        items,
                        Some(format!(
                            "line {}: a passage is both relevant and a hard negative",
                            i + 1
                        )),
                    );
                }
                items.push(it);
            }
            Err(e) => return (items, Some(format!("line {}: invalid JSON: {e}", i + 1))),
        }
    }
    let unique: HashSet<&str> = items.iter().map(|i| i.query.as_str()).collect();
    if unique.len() < min_unique {
        let msg = format!(
            "the dataset has {} unique queries, at least {min_unique} are required",
            unique.len()
        );
        return (items, Some(msg));
    }
    (items, None)
}

fn get_dataset(shared: &Arc<Shared>, id: &str) -> Response {
    let mut st = shared.st.lock().unwrap();
    let Some(d) = st.datasets.get_mut(id) else {
        return err(
            StatusCode::NOT_FOUND,
            &format!("The dataset with id '{id}' was not found."),
        );
    };
    if d.processing_left > 0 {
        d.processing_left -= 1;
        d.body["validation_status"] = "processing".into();
    } else {
        d.body["validation_status"] = d.final_status.into();
        if let Some(e) = &d.error {
            d.body["validation_error"] = e.clone().into();
        } else {
            d.body["metrics"] = json!({"finetune_dataset_metrics": {"train_examples": d.items.len(), "eval_examples": 0}});
        }
    }
    ok(json!({"dataset": d.body}))
}

fn create_model(shared: &Arc<Shared>, body: Value) -> Response {
    let (Some(name), Some(settings)) = (body["name"].as_str(), body.get("settings")) else {
        return err(
            StatusCode::BAD_REQUEST,
            "invalid request: name and settings are required",
        );
    };
    if settings["base_model"]["base_type"] != "BASE_TYPE_RERANK" {
        return err(
            StatusCode::BAD_REQUEST,
            "invalid request: base_model.base_type must be set",
        );
    }
    let Some(ds) = settings["dataset_id"].as_str() else {
        return err(
            StatusCode::BAD_REQUEST,
            "invalid request: settings.dataset_id is required",
        );
    };
    let mut st = shared.st.lock().unwrap();
    match st.datasets.get(ds) {
        None => {
            return err(
                StatusCode::NOT_FOUND,
                &format!("The dataset with id '{ds}' was not found."),
            );
        }
        Some(d) if d.body["validation_status"] != "validated" => {
            return err(
                StatusCode::BAD_REQUEST,
                "invalid request: dataset is not validated",
            );
        }
        Some(_) => {}
    }
    st.next += 1;
    let id = format!("9d927c5e-7598-4772-98b7-{:012x}", st.next);
    let mut model = body.clone();
    model["id"] = id.clone().into();
    model["creator_id"] = "7a31".into();
    model["organization_id"] = "6bdc".into();
    model["status"] = "STATUS_QUEUED".into();
    model["created_at"] = "2024-01-17 20:17:16.997608+00:00".into();
    model["updated_at"] = model["created_at"].clone();
    model["settings"]["base_model"]["version"] = "2.0.0".into();
    model["settings"]["base_model"]["strategy"] = "STRATEGY_VANILLA".into();
    let events = vec![
        json!({"user_id": "7a31", "status": "STATUS_QUEUED", "created_at": "2024-01-17T20:17:17Z"}),
    ];
    st.models.insert(
        id.clone(),
        ModelRec {
            body: model.clone(),
            polls: 0,
            events,
            dataset_id: ds.to_string(),
        },
    );
    let _ = name;
    ok(json!({"finetuned_model": model}))
}

fn get_model(shared: &Arc<Shared>, id: &str) -> Response {
    let (per, fails) = {
        let sc = shared.scenario.lock().unwrap();
        (sc.polls_per_stage.max(1), sc.finetune_fails)
    };
    let mut st = shared.st.lock().unwrap();
    let Some(m) = st.models.get_mut(id) else {
        return err(
            StatusCode::NOT_FOUND,
            &format!("finetuned model {id} not found"),
        );
    };
    m.polls += 1;
    let stage = (m.polls / per) as usize;
    let status = match stage {
        0 => "STATUS_QUEUED",
        1 => "STATUS_FINETUNING",
        2 if fails => "STATUS_FAILED",
        2 => "STATUS_DEPLOYING_API",
        _ if fails => "STATUS_FAILED",
        _ => "STATUS_READY",
    };
    if m.body["status"] != status {
        m.body["status"] = status.into();
        m.events
            .push(json!({"status": status, "created_at": "2024-01-17T20:30:00Z"}));
        if status == "STATUS_READY" || status == "STATUS_FAILED" {
            m.body["completed_at"] = "2024-01-17 21:00:00+00:00".into();
        }
    }
    ok(json!({"finetuned_model": m.body}))
}

fn words(s: &str) -> Vec<String> {
    s.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.len() > 1)
        .map(str::to_string)
        .collect()
}

fn overlap(q: &str, d: &str) -> f32 {
    let qw: HashSet<String> = words(q).into_iter().collect();
    let dw: HashSet<String> = words(d).into_iter().collect();
    if qw.is_empty() || dw.is_empty() {
        return 0.0;
    }
    qw.intersection(&dw).count() as f32 / (qw.len().min(dw.len()) as f32)
}

fn rerank(shared: &Arc<Shared>, body: &Value) -> Response {
    let (Some(model), Some(query), Some(docs)) = (
        body["model"].as_str(),
        body["query"].as_str(),
        body["documents"].as_array(),
    ) else {
        return err(
            StatusCode::BAD_REQUEST,
            "invalid request: model, query and documents are required",
        );
    };
    let docs: Vec<&str> = docs.iter().filter_map(Value::as_str).collect();
    // a fine-tune learns word -> passage counts from its training lines
    let learned: Option<HashMap<(String, String), f32>> =
        if let Some(id) = model.strip_suffix("-ft") {
            let st = shared.st.lock().unwrap();
            let Some(m) = st.models.get(id) else {
                return err(
                    StatusCode::NOT_FOUND,
                    &format!("finetuned model {model} not found"),
                );
            };
            if m.body["status"] != "STATUS_READY" {
                return err(
                    StatusCode::BAD_REQUEST,
                    &format!(
                        "finetuned model with name {} is not ready for serving",
                        m.body["name"].as_str().unwrap_or("")
                    ),
                );
            }
            let mut counts = HashMap::new();
            if let Some(d) = st.datasets.get(&m.dataset_id) {
                for it in &d.items {
                    for w in words(&it.query) {
                        for p in &it.relevant_passages {
                            *counts.entry((w.clone(), p.clone())).or_insert(0.0) += 1.0;
                        }
                        for n in &it.hard_negatives {
                            *counts.entry((w.clone(), n.clone())).or_insert(0.0) -= 0.25;
                        }
                    }
                }
            }
            // each word's counts become shares of its positive mass, so common words weigh little
            let mut totals: HashMap<String, f32> = HashMap::new();
            for ((w, _), c) in &counts {
                if *c > 0.0 {
                    *totals.entry(w.clone()).or_insert(0.0) += c;
                }
            }
            for ((w, _), c) in counts.iter_mut() {
                *c /= totals.get(w).copied().unwrap_or(1.0).max(1.0);
            }
            Some(counts)
        } else if model.starts_with("rerank-") {
            None
        } else {
            return err(StatusCode::NOT_FOUND, &format!("model '{model}' not found"));
        };
    let mut results: Vec<(usize, f32)> = docs
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let base = overlap(query, d);
            let s = match &learned {
                None => base,
                Some(c) => {
                    let qw = words(query);
                    let v: f32 = qw
                        .iter()
                        .map(|w| c.get(&(w.clone(), d.to_string())).copied().unwrap_or(0.0))
                        .sum::<f32>()
                        / qw.len().max(1) as f32;
                    0.5 * base + v
                }
            };
            (i, 1.0 / (1.0 + (-4.0 * (s - 0.5)).exp()))
        })
        .collect();
    results.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    if let Some(n) = body["top_n"].as_u64() {
        results.truncate(n as usize);
    }
    let results: Vec<Value> = results
        .into_iter()
        .map(|(i, s)| json!({"index": i, "relevance_score": s}))
        .collect();
    ok(json!({"id": "07734bd2", "results": results, "meta": {"billed_units": {"search_units": 1}}}))
}

fn embed(body: &Value) -> Response {
    let Some(texts) = body["texts"].as_array() else {
        return err(
            StatusCode::BAD_REQUEST,
            "invalid request: texts is required",
        );
    };
    let vecs: Vec<Vec<f32>> = texts
        .iter()
        .map(|t| {
            let mut v = vec![0f32; 16];
            for w in words(t.as_str().unwrap_or("")) {
                let h = w
                    .bytes()
                    .fold(2166136261u32, |h, b| (h ^ b as u32).wrapping_mul(16777619));
                v[(h % 16) as usize] += 1.0;
            }
            v
        })
        .collect();
    ok(json!({"id": "e1", "embeddings": {"float": vecs}, "texts": texts, "meta": {}}))
}
