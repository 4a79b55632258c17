//! A server that echoes the key back (in an error message, in generated text) never gets it
//! into an error or an answer: every body is scrubbed in the HTTP layer. The server here is a
//! raw HTTP/1.1 responder that copies the request's bearer token into what it sends. A
//! refused connection names the URL that refused.

use retune_data::{ChatMessage, ChatRequest, Llm, Role};
use retune_providers::cohere::CohereClient;
use retune_providers::openai::OpenAiChat;
use retune_providers::{ApiKey, HttpConfig, ProviderError, RetryPolicy};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::time::Duration;

const KEY: &str = "sk-echo-this-secret-7f3a";

/// Serves `replies` (status, body template with `{KEY}` where the token goes) one per
/// connection; returns the base URL.
fn echo_server(replies: Vec<(u16, &'static str)>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for (status, template) in replies {
            let (mut stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let (mut token, mut length) = (String::new(), 0usize);
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                let lower = line.to_ascii_lowercase();
                if let Some(v) = lower.strip_prefix("authorization: bearer ") {
                    token = line[line.len() - v.len()..].trim().to_owned();
                }
                if let Some(v) = lower.strip_prefix("content-length: ") {
                    length = v.trim().parse().unwrap();
                }
                if line == "\r\n" || line.is_empty() {
                    break;
                }
            }
            let mut body = vec![0u8; length];
            reader.read_exact(&mut body).unwrap();
            let reply = template.replace("{KEY}", &token);
            write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
                reply.len()
            )
            .unwrap();
        }
    });
    url
}

/// The key, no retries.
fn config(url: &str) -> HttpConfig {
    let mut cfg = HttpConfig::new(url, Some(ApiKey::new(KEY).unwrap()));
    cfg.retry = RetryPolicy {
        max_retries: 0,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(1),
        total_budget: Duration::from_secs(5),
        on_retry: None,
    };
    cfg
}

fn chat(url: &str) -> OpenAiChat {
    OpenAiChat::new(config(url), "m").unwrap()
}

fn request() -> ChatRequest {
    ChatRequest {
        messages: vec![ChatMessage {
            role: Role::User,
            content: "hello".into(),
        }],
        schema_name: "T".into(),
        schema: serde_json::json!({"type": "object"}),
        temperature: None,
        max_tokens: None,
    }
}

#[test]
fn an_echoed_key_never_reaches_an_error_or_an_answer() {
    let url = echo_server(vec![
        (
            401,
            r#"{"error":{"message":"Incorrect API key provided: {KEY}","code":"invalid_api_key"}}"#,
        ),
        (
            200,
            r#"{"choices":[{"message":{"role":"assistant","content":"{\"note\": \"your key is {KEY}\"}"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1}}"#,
        ),
    ]);
    let llm = chat(&url);
    let err = llm.chat(&request()).unwrap_err().to_string();
    assert!(err.contains("Incorrect API key provided"), "{err}");
    assert!(!err.contains(KEY) && err.contains("<redacted>"), "{err}");
    let reply = llm.chat(&request()).unwrap();
    let content = reply.content.unwrap();
    assert!(
        !content.contains(KEY) && content.contains("<redacted>"),
        "{content}"
    );
}

#[test]
fn cohere_never_passes_on_an_echoed_key() {
    let url = echo_server(vec![
        (401, r#"{"message":"invalid api token: Bearer {KEY}"}"#),
        (
            200,
            r#"{"id":"r","results":[{"index":0,"relevance_score":0.9}],"meta":{"note":"{KEY}"}}"#,
        ),
    ]);
    let cohere = CohereClient::new(config(&url)).unwrap();
    let err = cohere
        .rerank("rerank-english-v3.0", "q", &["d"], None)
        .unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(text.contains("invalid api token"), "{text}");
    assert!(!text.contains(KEY) && text.contains("<redacted>"), "{text}");
    let ok = cohere
        .rerank("rerank-english-v3.0", "q", &["d"], None)
        .unwrap();
    assert_eq!(ok.len(), 1);
}

#[test]
fn a_refused_connection_names_the_url() {
    // A port that was free a moment ago: nothing listens there now.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let err = chat(&url).chat(&request()).unwrap_err();
    assert!(
        matches!(&err, ProviderError::Transport { url: u, timeout: false, .. } if u.starts_with(&url)),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains(&url) && text.contains("could not connect"),
        "{text}"
    );
    assert!(!text.contains("receiver is gone"), "{text}");
}
