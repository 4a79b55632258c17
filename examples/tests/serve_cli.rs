//! `retune serve` as a user runs it: it prints where it listens, takes its key from
//! RETUNE_API_KEY and never prints it, and on SIGTERM while loaded stops accepting, answers
//! every request it accepted, and exits 0. Real clients (the `openai` SDK and huggingface_hub's
//! `InferenceClient`, installed from PyPI by `scripts/serve-clients.sh`) get what `retune embed`
//! writes for the same texts.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const KEY: &str = "sk-serve-cli-key-41b7";
const WRONG: &str = "sk-not-the-key-0a9c";

fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(p)
}

/// `retune serve` on port 0 with the key in its environment: the child, its URL, and every
/// line it prints (stdout and stderr), collected as they come.
fn serve() -> (Child, String, Arc<Mutex<Vec<String>>>) {
    let mut child = crate::support::retune("serve")
        .arg("--model")
        .arg(repo("fixtures/tiny-bert"))
        .args(["--port", "0"])
        .env("RETUNE_API_KEY", KEY)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = std::sync::mpsc::channel();
    for stream in [
        Box::new(child.stderr.take().unwrap()) as Box<dyn std::io::Read + Send>,
        Box::new(child.stdout.take().unwrap()),
    ] {
        let (lines, tx) = (lines.clone(), tx.clone());
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines() {
                let line = line.unwrap();
                if let Some(url) = line.strip_prefix("retune serve: listening on ") {
                    let _ = tx.send(url.to_owned());
                }
                lines.lock().unwrap().push(line);
            }
        });
    }
    let url = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("serve prints its URL");
    (child, url, lines)
}

#[test]
fn sigterm_while_loaded_answers_every_accepted_request_and_the_key_is_never_printed() {
    let (mut child, url, lines) = serve();
    let client = reqwest::blocking::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let wrong = client
        .post(format!("{url}/embed"))
        .bearer_auth(WRONG)
        .json(&serde_json::json!({"inputs": "x"}))
        .send()
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let texts: Vec<String> = (0..32)
        .map(|i| format!("Delta flight {i} to Denver and back again"))
        .collect();
    let (answered, after_signal) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let signalled: Mutex<Option<Instant>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..16 {
            scope.spawn(|| {
                let client = reqwest::blocking::Client::builder()
                    .pool_max_idle_per_host(0)
                    .build()
                    .unwrap();
                for _ in 0..200 {
                    let sent = client
                        .post(format!("{url}/embed"))
                        .bearer_auth(KEY)
                        .json(&serde_json::json!({"inputs": texts}))
                        .send();
                    // After the signal, new connections are refused: that request was never
                    // accepted. Any answer must be whole and right.
                    let Ok(r) = sent else { break };
                    assert_eq!(r.status(), 200);
                    let got: Vec<Vec<f32>> = r.json().expect("a whole answer");
                    assert_eq!(got.len(), 32);
                    answered.fetch_add(1, Ordering::SeqCst);
                    if signalled.lock().unwrap().is_some() {
                        after_signal.fetch_add(1, Ordering::SeqCst);
                    }
                }
            });
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        while answered.load(Ordering::SeqCst) < 100 {
            assert!(Instant::now() < deadline, "the server answered too little");
            std::thread::sleep(Duration::from_millis(2));
        }
        *signalled.lock().unwrap() = Some(Instant::now());
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
    });
    let status = child.wait().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let lines = lines.lock().unwrap().clone();
    let text = lines.join("\n");
    assert!(status.success(), "{status:?}\n{text}");
    assert!(text.contains("retune serve: stopped"), "{text}");
    let logged = lines
        .iter()
        .filter(|l| l.contains("POST /embed 200"))
        .count();
    assert_eq!(
        logged,
        answered.load(Ordering::SeqCst),
        "every answered request reached its client"
    );
    // Requests in flight when the signal came were answered, not dropped.
    assert!(after_signal.load(Ordering::SeqCst) > 0);
    assert!(text.contains("POST /embed 401"), "{text}");
    assert!(
        !text.contains(KEY) && !text.contains(WRONG),
        "a key was printed:\n{text}"
    );
}

#[test]
fn the_openai_sdk_and_huggingface_hub_get_what_embed_writes() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("texts.jsonl");
    let texts = [
        "Delta flight to Denver",
        "a",
        "東京駅タクシー",
        "Team lunch at Chipotle, 6 people",
    ];
    let lines: Vec<String> = texts
        .iter()
        .map(|t| serde_json::json!({"text": t}).to_string())
        .collect();
    std::fs::write(&input, lines.join("\n") + "\n").unwrap();
    let expected = dir.path().join("expected.jsonl");
    let embed = crate::support::retune("embed")
        .arg("--model")
        .arg(repo("fixtures/tiny-bert"))
        .arg("--input")
        .arg(&input)
        .arg("--output")
        .arg(&expected)
        .output()
        .unwrap();
    assert!(
        embed.status.success(),
        "{}",
        String::from_utf8_lossy(&embed.stderr)
    );
    let (mut child, url, lines) = serve();
    let clients = std::process::Command::new("bash")
        .arg(repo("scripts/serve-clients.sh"))
        .arg(&url)
        .arg(&expected)
        .env("RETUNE_API_KEY", KEY)
        .output()
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let out = String::from_utf8_lossy(&clients.stdout);
    let err = String::from_utf8_lossy(&clients.stderr);
    assert!(
        clients.status.success(),
        "{out}\n{err}\n{}",
        lines.lock().unwrap().join("\n")
    );
    for name in [
        "openai embeddings.create:",
        "openai embeddings.create float:",
        "huggingface_hub feature_extraction:",
        "401",
    ] {
        assert!(out.contains(name), "{out}");
    }
}
