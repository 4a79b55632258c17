//! The Cohere client against the mock Cohere on 127.0.0.1: the whole fine-tuning flow, a
//! dataset that fails validation, a fine-tune that fails, 429 then success, 5xx until the
//! retries run out, a malformed body, a hung server, a wrong key, and rerank behind the
//! `Reranker` contract.

use retune_data::{CohereRerankItem, Embedder, Reranker, write_jsonl_atomic};
use retune_providers::cohere::{
    CohereClient, CohereEmbedder, CohereReranker, FinetuneStatus, FinetunedModel, InputType,
    PollConfig, ValidationStatus,
};
use retune_providers::mock::{CohereScenario, Fault, FaultReply, MockCohere};
use retune_providers::{ApiKey, HttpConfig, ProviderError, RetryPolicy};
use std::path::{Path, PathBuf};
use std::time::Duration;

fn client(mock: &MockCohere, key: &str) -> CohereClient {
    let mut cfg = HttpConfig::new(mock.base_url(), Some(ApiKey::new(key).unwrap()));
    cfg.request_timeout = Duration::from_secs(2);
    cfg.retry = RetryPolicy {
        max_retries: 3,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_secs(2),
        total_budget: Duration::from_secs(20),
        on_retry: None,
    };
    CohereClient::new(cfg).unwrap()
}

fn fast_poll() -> PollConfig {
    PollConfig {
        interval: Duration::from_millis(5),
        max_interval: Duration::from_millis(20),
        timeout: Duration::from_secs(10),
    }
}

fn categories() -> Vec<String> {
    [
        "Travel: Airfare",
        "Meals & Entertainment",
        "Software & Licenses",
        "Office Supplies",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn write_items(dir: &Path, n: usize) -> PathBuf {
    let cats = categories();
    let items: Vec<CohereRerankItem> = (0..n)
        .map(|i| {
            let c = &cats[i % cats.len()];
            CohereRerankItem {
                query: format!("transaction {i} merchant for {c}"),
                relevant_passages: vec![c.clone()],
                hard_negatives: cats.iter().filter(|x| *x != c).take(2).cloned().collect(),
            }
        })
        .collect();
    let p = dir.join(format!("train-{n}.jsonl"));
    write_jsonl_atomic(&p, &items).unwrap();
    p
}

#[test]
fn the_whole_flow_upload_validate_finetune_wait_and_rerank() {
    let mock = MockCohere::start(CohereScenario::default());
    let c = client(&mock, "test-cohere-key");
    let dir = tempfile::tempdir().unwrap();
    let train = write_items(dir.path(), 300);
    let id = c
        .create_rerank_dataset("rerank-train", &train, None)
        .unwrap();
    let mut seen = Vec::new();
    let ds = c
        .wait_for_dataset(&id, &fast_poll(), |d, _| {
            seen.push(d.validation_status.clone())
        })
        .unwrap();
    assert_eq!(ds.validation_status, ValidationStatus::Validated);
    assert_eq!(seen.first(), Some(&ValidationStatus::Processing));
    assert_eq!(mock.dataset_items(&id).unwrap().len(), 300);
    assert!(c.list_datasets().unwrap().iter().any(|d| d.id == id));

    let created = c
        .create_finetuned_model(&FinetunedModel::rerank("rerank-ft", "english", &id))
        .unwrap();
    let mid = created.id.clone().unwrap();
    assert_eq!(created.status, Some(FinetuneStatus::Queued));
    let mut statuses = Vec::new();
    let done = c
        .wait_for_finetune(&mid, &fast_poll(), |m, _| {
            statuses.push(m.status.clone().unwrap())
        })
        .unwrap();
    assert_eq!(done.status, Some(FinetuneStatus::Ready));
    assert!(statuses.contains(&FinetuneStatus::Finetuning));
    assert!(statuses.contains(&FinetuneStatus::DeployingApi));

    // events and metrics come two per page: paging must collect all of them
    let events = c.finetune_events(&mid).unwrap();
    let names: Vec<&str> = events.iter().map(|e| e.status.as_str()).collect();
    assert_eq!(
        names,
        [
            "STATUS_QUEUED",
            "STATUS_FINETUNING",
            "STATUS_DEPLOYING_API",
            "STATUS_READY"
        ]
    );
    assert!(c.training_step_metrics(&mid).unwrap().len() >= 3);
    assert_eq!(c.list_finetuned_models().unwrap().len(), 1);

    // rerank with the fine-tune through the contract: scores in input order
    let rr = CohereReranker::new(c.clone(), done.rerank_model_id().unwrap());
    let docs: Vec<&str> = vec!["Office Supplies", "Travel: Airfare", "Software & Licenses"];
    let scores = rr
        .score("transaction 0 merchant for Travel: Airfare", &docs)
        .unwrap();
    assert_eq!(scores.len(), 3);
    assert!(scores[1] > scores[0] && scores[1] > scores[2], "{scores:?}");
    // base model, top_n
    let top = c
        .rerank("rerank-english-v3.0", "airfare travel", &docs, Some(1))
        .unwrap();
    assert_eq!(top.len(), 1);
    assert_eq!(top[0].index, 1);
    let e = c
        .embed("embed-english-v3.0", &["a b", "c"], InputType::SearchQuery)
        .unwrap();
    assert_eq!(e.len(), 2);
    // the Embedder contract: batches of 96, unit norm, input order
    let emb = CohereEmbedder::new(
        c.clone(),
        "embed-english-v3.0",
        InputType::SearchDocument,
        16,
    );
    let texts: Vec<String> = (0..200)
        .map(|i| format!("doc number {i} about travel"))
        .collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let vs = emb.embed(&refs).unwrap();
    assert_eq!(vs.len(), 200);
    assert!(
        vs.iter()
            .all(|v| (v.iter().map(|x| x * x).sum::<f32>() - 1.0).abs() < 1e-4)
    );
    assert_eq!(emb.embed(&refs[150..151]).unwrap()[0], vs[150]);
    assert_eq!(mock.count("POST", "/v2/embed"), 1 + 3 + 1);
    c.delete_dataset(&id).unwrap();
}

#[test]
fn a_dataset_that_fails_validation_says_why() {
    let mock = MockCohere::start(CohereScenario::default());
    let c = client(&mock, "test-cohere-key");
    let dir = tempfile::tempdir().unwrap();
    let small = write_items(dir.path(), 40);
    let id = c.create_rerank_dataset("small", &small, None).unwrap();
    match c
        .wait_for_dataset(&id, &fast_poll(), |_, _| {})
        .unwrap_err()
    {
        ProviderError::JobFailed { status, detail, .. } => {
            assert_eq!(status, "failed");
            assert!(detail.unwrap().contains("at least 256"));
        }
        e => panic!("{e}"),
    }
    // a fine-tune on it is refused with Cohere's message
    let e = c
        .create_finetuned_model(&FinetunedModel::rerank("x", "english", &id))
        .unwrap_err();
    assert_eq!(e.status(), Some(400));
    assert!(e.to_string().contains("not validated"), "{e}");
}

#[test]
fn a_finetune_that_fails_ends_the_wait() {
    let mock = MockCohere::start(CohereScenario {
        finetune_fails: true,
        ..CohereScenario::default()
    });
    let c = client(&mock, "test-cohere-key");
    let dir = tempfile::tempdir().unwrap();
    let id = c
        .create_rerank_dataset("d", &write_items(dir.path(), 260), None)
        .unwrap();
    c.wait_for_dataset(&id, &fast_poll(), |_, _| {}).unwrap();
    let m = c
        .create_finetuned_model(&FinetunedModel::rerank("ft", "multilingual", &id))
        .unwrap();
    let mid = m.id.unwrap();
    match c
        .wait_for_finetune(&mid, &fast_poll(), |_, _| {})
        .unwrap_err()
    {
        ProviderError::JobFailed { status, .. } => assert_eq!(status, "STATUS_FAILED"),
        e => panic!("{e}"),
    }
    // rerank on a model that is not ready: Cohere's 400
    let e = c
        .rerank(&format!("{mid}-ft"), "q", &["a"], None)
        .unwrap_err();
    assert!(e.to_string().contains("not ready for serving"), "{e}");
}

#[test]
fn rate_limited_then_success_honors_retry_after() {
    let mock = MockCohere::start(CohereScenario::default());
    mock.inject(Fault {
        method: "POST".into(),
        path_prefix: "/v2/rerank".into(),
        times: 2,
        reply: FaultReply::Status {
            status: 429,
            body: r#"{"message":"You are past the per minute request limit, please wait and try again later."}"#.into(),
            retry_after: Some("0.2".into()),
        },
    });
    let c = client(&mock, "test-cohere-key");
    let t = std::time::Instant::now();
    let r = c
        .rerank(
            "rerank-english-v3.0",
            "lunch",
            &["lunch meeting", "flight"],
            None,
        )
        .unwrap();
    assert_eq!(r[0].index, 0);
    assert_eq!(mock.count("POST", "/v2/rerank"), 3);
    assert!(
        t.elapsed() >= Duration::from_millis(400),
        "{:?}",
        t.elapsed()
    );
}

#[test]
fn server_errors_until_retries_run_out() {
    let mock = MockCohere::start(CohereScenario::default());
    mock.inject(Fault {
        method: "GET".into(),
        path_prefix: "/v1/datasets".into(),
        times: 100,
        reply: FaultReply::Status {
            status: 503,
            body: r#"{"message":"service unavailable"}"#.into(),
            retry_after: None,
        },
    });
    let c = client(&mock, "test-cohere-key");
    match c.get_dataset("x").unwrap_err() {
        ProviderError::RetriesExhausted { attempts, last, .. } => {
            assert_eq!(attempts, 4);
            assert_eq!(last.status(), Some(503));
            assert!(last.to_string().contains("service unavailable"));
        }
        e => panic!("{e}"),
    }
    assert_eq!(mock.count("GET", "/v1/datasets"), 4);
}

#[test]
fn a_malformed_body_is_a_decode_error_not_a_retry() {
    let mock = MockCohere::start(CohereScenario::default());
    mock.inject(Fault {
        method: "POST".into(),
        path_prefix: "/v2/rerank".into(),
        times: 1,
        reply: FaultReply::Malformed,
    });
    let c = client(&mock, "test-cohere-key");
    let e = c
        .rerank("rerank-english-v3.0", "q", &["a"], None)
        .unwrap_err();
    assert!(matches!(e, ProviderError::Decode { .. }), "{e}");
    assert_eq!(mock.count("POST", "/v2/rerank"), 1);
}

#[test]
fn a_hung_server_times_out_and_is_retried() {
    let mock = MockCohere::start(CohereScenario::default());
    mock.inject(Fault {
        method: "POST".into(),
        path_prefix: "/v2/rerank".into(),
        times: 1,
        reply: FaultReply::Hang(Duration::from_secs(30)),
    });
    let mut cfg = HttpConfig::new(
        mock.base_url(),
        Some(ApiKey::new("test-cohere-key").unwrap()),
    );
    cfg.request_timeout = Duration::from_millis(300);
    cfg.retry.base_delay = Duration::from_millis(5);
    let c = CohereClient::new(cfg).unwrap();
    let r = c.rerank("rerank-english-v3.0", "q", &["q"], None).unwrap();
    assert_eq!(r.len(), 1);
    assert_eq!(mock.count("POST", "/v2/rerank"), 2);
}

#[test]
fn a_wrong_key_is_final_and_never_printed() {
    let mock = MockCohere::start(CohereScenario::default());
    let c = client(&mock, "wrong-secret-key-123");
    let e = c.list_datasets().unwrap_err();
    assert_eq!(e.status(), Some(401));
    assert_eq!(mock.count("GET", "/v1/datasets"), 1);
    assert!(!e.to_string().contains("wrong-secret"));
    assert!(!format!("{e:?}").contains("wrong-secret"));
    assert!(!format!("{c:?}").contains("wrong-secret"), "{c:?}");
}

#[test]
fn unknown_dataset_is_a_404_with_cohere_message() {
    let mock = MockCohere::start(CohereScenario::default());
    let c = client(&mock, "test-cohere-key");
    let e = c.get_dataset("nope").unwrap_err();
    assert_eq!(e.status(), Some(404));
    assert!(
        e.to_string()
            .contains("The dataset with id 'nope' was not found."),
        "{e}"
    );
}
