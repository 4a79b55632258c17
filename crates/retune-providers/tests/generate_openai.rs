//! Generation through the OpenAI-compatible client against the mock server: the request
//! (strict JSON schema), valid answers, invalid JSON then valid (the re-ask content), a wrong
//! category then valid, a refusal, a cut-off answer, 429 with Retry-After, 500 until the
//! retries run out, a hung connection, a local server's odd `finish_reason`, and the key kept
//! out of every Debug and error text.

use retune_data::generate::{
    AskConfig, AskOutcome, GenerateConfig, PromptKind, PromptTemplate, REASK_PREFIX, Usage,
    ask_transaction, generate,
};
use retune_data::{Category, Llm};
use retune_providers::mock::{MockOpenAi, MockReply, completion};
use retune_providers::openai::OpenAiChat;
use retune_providers::{ApiKey, HttpConfig, ProviderError, RetryPolicy};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn valid(category: &str, merchant: &str) -> String {
    json!({"merchant_name": merchant, "merchant_category": ["SaaS"], "department": "Engineering",
        "location": "Austin, TX", "amount": 120.0, "spend_program_name": "Annual Software Budget",
        "trip_name": null, "expense_category": category})
    .to_string()
}

/// The category the prompt asks for (the first quoted text).
fn asked(body: &Value) -> String {
    let prompt = body["messages"][0]["content"].as_str().unwrap();
    prompt.split('"').nth(1).unwrap().to_string()
}

fn chat(mock: &MockOpenAi) -> OpenAiChat {
    let mut cfg = HttpConfig::new(mock.base_url(), Some(ApiKey::new("sk-secret-abc").unwrap()));
    cfg.request_timeout = Duration::from_millis(800);
    cfg.retry = RetryPolicy {
        max_retries: 2,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_secs(2),
        total_budget: Duration::from_secs(20),
        on_retry: None,
    };
    OpenAiChat::new(cfg, "llama3.2:1b").unwrap()
}

fn ask(llm: &OpenAiChat, category: &str) -> Result<AskOutcome, ProviderError> {
    let prompt = format!("Write one for \"{category}\"");
    ask_transaction(
        llm,
        &prompt,
        category,
        &AskConfig::default(),
        &mut Usage::default(),
    )
}

#[test]
fn valid_answers_and_the_request_format() {
    let mock = MockOpenAi::start(Arc::new(|n, b| {
        MockReply::Content(valid(&asked(b), &format!("Vendor {n}")))
    }));
    let llm = chat(&mock);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("generated.jsonl");
    let cats: Vec<Category> = ["Software & Licenses", "Travel: Airfare"]
        .iter()
        .map(|c| Category {
            category: c.to_string(),
            sample_transactions: vec!["Example".into()],
            departments: vec!["Engineering".into()],
            description: None,
        })
        .collect();
    let config = GenerateConfig {
        count: 4,
        concurrency: 2,
        ..GenerateConfig::default()
    };
    let r = generate(
        &llm,
        &cats,
        &PromptTemplate::builtin(PromptKind::Transaction),
        &[],
        &out,
        &config,
        &|_, _| {},
    )
    .unwrap();
    assert_eq!(r.written, 4);
    assert_eq!(r.usage.prompt_tokens, 40);
    let reqs = mock.chat_requests();
    assert_eq!(reqs.len(), 4);
    let rf = &reqs[0]["response_format"];
    assert_eq!(rf["type"], "json_schema");
    assert_eq!(rf["json_schema"]["name"], "Transaction");
    assert_eq!(rf["json_schema"]["strict"], true);
    assert_eq!(rf["json_schema"]["schema"]["additionalProperties"], false);
    assert_eq!(reqs[0]["model"], "llama3.2:1b");
    assert_eq!(reqs[0]["messages"][0]["role"], "user");
}

#[test]
fn invalid_json_then_valid_reasks_with_the_errors() {
    let mock = MockOpenAi::start(Arc::new(|n, b| {
        if n == 0 {
            MockReply::Content("{\"merchant_name\": \"Delta".into())
        } else {
            MockReply::Content(valid(&asked(b), "Delta"))
        }
    }));
    let llm = chat(&mock);
    match ask(&llm, "Travel: Airfare").unwrap() {
        AskOutcome::Valid { attempts, .. } => assert_eq!(attempts, 2),
        o => panic!("{o:?}"),
    }
    let reqs = mock.chat_requests();
    let msgs = reqs[1]["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 3);
    assert_eq!(msgs[1]["role"], "assistant");
    assert_eq!(msgs[1]["content"], "{\"merchant_name\": \"Delta");
    assert_eq!(msgs[2]["role"], "user");
    let reask = msgs[2]["content"].as_str().unwrap();
    assert!(reask.starts_with(REASK_PREFIX), "{reask}");
    assert!(reask.contains("EOF while parsing"), "{reask}");
}

#[test]
fn a_wrong_category_then_valid() {
    let mock = MockOpenAi::start(Arc::new(|n, b| {
        if n == 0 {
            MockReply::Content(valid("Meals & Entertainment", "Delta"))
        } else {
            MockReply::Content(valid(&asked(b), "Delta"))
        }
    }));
    let llm = chat(&mock);
    assert!(matches!(
        ask(&llm, "Travel: Airfare").unwrap(),
        AskOutcome::Valid { attempts: 2, .. }
    ));
    let reask = mock.chat_requests()[1]["messages"][2]["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(reask.contains("expense_category"), "{reask}");
    assert!(
        reask.contains("must be exactly \"Travel: Airfare\""),
        "{reask}"
    );
}

#[test]
fn still_invalid_after_every_attempt() {
    let mock = MockOpenAi::start(Arc::new(|_, _| MockReply::Content(valid("Wrong", "X"))));
    let llm = chat(&mock);
    match ask(&llm, "Travel: Airfare").unwrap() {
        AskOutcome::Invalid { attempts, errors } => {
            assert_eq!(attempts, 3);
            assert!(errors.contains("expense_category"));
        }
        o => panic!("{o:?}"),
    }
    // the conversation grew by two messages per failed attempt
    let reqs = mock.chat_requests();
    assert_eq!(reqs.len(), 3);
    assert_eq!(reqs[2]["messages"].as_array().unwrap().len(), 5);
}

#[test]
fn refusals_and_cut_off_answers_are_reported_not_retried() {
    let mock = MockOpenAi::start(Arc::new(|_, _| {
        MockReply::Refusal("I can't help with that.".into())
    }));
    let llm = chat(&mock);
    assert_eq!(
        ask(&llm, "Travel: Airfare").unwrap(),
        AskOutcome::Refused("I can't help with that.".into())
    );
    assert_eq!(mock.chat_requests().len(), 1);

    let mock = MockOpenAi::start(Arc::new(|_, _| MockReply::Length("{\"merchant_na".into())));
    let llm = chat(&mock);
    assert_eq!(ask(&llm, "Travel: Airfare").unwrap(), AskOutcome::Truncated);
    assert_eq!(mock.chat_requests().len(), 1);
}

#[test]
fn rate_limited_with_retry_after_then_success() {
    let mock = MockOpenAi::start(Arc::new(|n, b| {
        if n == 0 {
            MockReply::status(429, "Rate limit reached", Some("0.3"))
        } else {
            MockReply::Content(valid(&asked(b), "Delta"))
        }
    }));
    let llm = chat(&mock);
    let t = Instant::now();
    assert!(matches!(
        ask(&llm, "Travel: Airfare").unwrap(),
        AskOutcome::Valid { attempts: 1, .. }
    ));
    assert!(t.elapsed() >= Duration::from_millis(300));
    assert_eq!(mock.chat_requests().len(), 2);
}

#[test]
fn server_errors_until_the_retries_run_out() {
    let mock = MockOpenAi::start(Arc::new(|_, _| MockReply::status(500, "boom", None)));
    let llm = chat(&mock);
    match ask(&llm, "Travel: Airfare").unwrap_err() {
        ProviderError::RetriesExhausted { attempts, last, .. } => {
            assert_eq!(attempts, 3);
            assert_eq!(last.status(), Some(500));
        }
        e => panic!("{e}"),
    }
    // one retry loop only: max_retries + 1 requests, not multiplied by a second layer
    assert_eq!(mock.chat_requests().len(), 3);
}

#[test]
fn a_hung_connection_times_out_and_is_retried() {
    let mock = MockOpenAi::start(Arc::new(|n, b| {
        if n == 0 {
            MockReply::hang(Duration::from_secs(20))
        } else {
            MockReply::Content(valid(&asked(b), "Delta"))
        }
    }));
    let llm = chat(&mock);
    let t = Instant::now();
    assert!(matches!(
        ask(&llm, "Travel: Airfare").unwrap(),
        AskOutcome::Valid { .. }
    ));
    assert!(t.elapsed() < Duration::from_secs(10));
    assert_eq!(mock.chat_requests().len(), 2);
}

#[test]
fn local_server_quirks_are_tolerated() {
    // vLLM / llama.cpp style: finish_reason "abort" is unknown to async-openai; no usage;
    // an integer error code on a 400
    let mock = MockOpenAi::start(Arc::new(|n, b| {
        if n == 0 {
            MockReply::Fault(retune_providers::mock::FaultReply::Status {
                status: 400,
                body: r#"{"error":{"code":400,"message":"bad grammar","type":"invalid_request_error"}}"#.into(),
                retry_after: None,
            })
        } else {
            let mut c = completion(Some(&valid(&asked(b), "Delta")), None, "abort");
            c.as_object_mut().unwrap().remove("usage");
            MockReply::Body(c)
        }
    }));
    let llm = chat(&mock);
    let e = ask(&llm, "Travel: Airfare").unwrap_err();
    assert_eq!(e.status(), Some(400));
    assert!(e.to_string().contains("bad grammar"), "{e}");
    assert!(matches!(
        ask(&llm, "Travel: Airfare").unwrap(),
        AskOutcome::Valid { .. }
    ));
}

#[test]
fn the_key_never_appears_in_debug_or_errors() {
    let mock = MockOpenAi::start(Arc::new(|_, _| MockReply::status(401, "invalid key", None)));
    let llm = chat(&mock);
    assert!(!format!("{llm:?}").contains("sk-secret"));
    let e = ask(&llm, "X").unwrap_err();
    assert!(!e.to_string().contains("sk-secret"));
    assert!(!format!("{e:?}").contains("sk-secret"));
    assert_eq!(
        mock.auth_headers()[0].as_deref(),
        Some("Bearer sk-secret-abc")
    );
    assert_eq!(llm.model_id(), "llama3.2:1b");
}
