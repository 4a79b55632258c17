//! The Hub client against a local imitation of the Hugging Face Hub endpoints it calls (port 0):
//! downloading the tiny fixture model into an empty cache in the standard layout and loading
//! it, failing fast when offline or unreachable, and publishing an exported folder (repository
//! creation, preupload, LFS negotiation, the NDJSON commit) with the files, the token and the
//! message checked on the wire.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use base64::Engine as _;
use retune_data::Embedder;
use retune_trainer::backend::{Cpu, cpu_device};
use retune_trainer::fixture::tiny_bert_dir;
use retune_trainer::hub::{HubConfig, download_model, push_folder, verify_token};
use retune_trainer::{EncoderConfig, ModelSource, SentenceEncoder, resolve_model_with};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";
const TOKEN: &str = "hf_mocktoken_never_logged_42";

#[derive(Default)]
struct Hub {
    /// Files served under `tiny/model`, by repository path.
    files: BTreeMap<String, Vec<u8>>,
    /// Every request: method, path, Authorization header.
    requests: Vec<(String, String, Option<String>)>,
    created: Vec<Value>,
    preuploaded: Vec<Value>,
    commits: Vec<Vec<Value>>,
}

type Shared = Arc<Mutex<Hub>>;

fn record(hub: &Shared, method: &Method, path: String, headers: &HeaderMap) {
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    hub.lock()
        .unwrap()
        .requests
        .push((method.to_string(), path, auth));
}

async fn resolve(
    State(hub): State<Shared>,
    method: Method,
    headers: HeaderMap,
    UrlPath((owner, name, rev, file)): UrlPath<(String, String, String, String)>,
) -> Response {
    record(
        &hub,
        &method,
        format!("/{owner}/{name}/resolve/{rev}/{file}"),
        &headers,
    );
    let body = match hub.lock().unwrap().files.get(&file) {
        Some(b) if owner == "tiny" && name == "model" => b.clone(),
        _ => {
            let status = if owner == "tiny" && name == "model" {
                StatusCode::NOT_FOUND
            } else {
                StatusCode::UNAUTHORIZED
            };
            let code = if status == StatusCode::NOT_FOUND {
                "EntryNotFound"
            } else {
                "RepoNotFound"
            };
            return (
                status,
                [("x-error-code", code), ("x-repo-commit", COMMIT)],
                "",
            )
                .into_response();
        }
    };
    let etag = format!("\"{:x}\"", Sha256::digest(&body));
    let headers = [
        (header::ETAG.as_str().to_owned(), etag),
        ("x-repo-commit".to_owned(), COMMIT.to_owned()),
        (
            header::CONTENT_LENGTH.as_str().to_owned(),
            body.len().to_string(),
        ),
    ];
    let mut response = if method == Method::HEAD {
        StatusCode::OK.into_response()
    } else {
        body.into_response()
    };
    for (k, v) in headers {
        response.headers_mut().insert(
            header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    response
}

async fn create(
    State(hub): State<Shared>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    record(&hub, &method, "/api/repos/create".into(), &headers);
    let v: Value = serde_json::from_slice(&body).unwrap();
    hub.lock().unwrap().created.push(v.clone());
    axum::Json(json!({"url": format!("http://hub/{}/{}", v["organization"].as_str().unwrap_or(""), v["name"].as_str().unwrap_or(""))}))
        .into_response()
}

async fn api(
    State(hub): State<Shared>,
    method: Method,
    headers: HeaderMap,
    UrlPath((owner, name, action, rev)): UrlPath<(String, String, String, String)>,
    body: Bytes,
) -> Response {
    record(
        &hub,
        &method,
        format!("/api/models/{owner}/{name}/{action}/{rev}"),
        &headers,
    );
    if headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        != Some(&format!("Bearer {TOKEN}"))
    {
        return (
            StatusCode::UNAUTHORIZED,
            format!("bad credentials: {:?}", headers.get(header::AUTHORIZATION)),
        )
            .into_response();
    }
    match action.as_str() {
        "preupload" => {
            let v: Value = serde_json::from_slice(&body).unwrap();
            let files: Vec<Value> = v["files"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| {
                    let path = f["path"].as_str().unwrap();
                    let mode = if path.ends_with(".safetensors") {
                        "lfs"
                    } else {
                        "regular"
                    };
                    json!({"path": path, "uploadMode": mode, "shouldIgnore": false})
                })
                .collect();
            hub.lock().unwrap().preuploaded.push(v);
            axum::Json(json!({ "files": files })).into_response()
        }
        "commit" => {
            let lines: Vec<Value> = body
                .split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
                .map(|l| serde_json::from_slice(l).unwrap())
                .collect();
            hub.lock().unwrap().commits.push(lines);
            axum::Json(json!({
                "commitUrl": format!("http://hub/{owner}/{name}/commit/{COMMIT}"),
                "commitOid": COMMIT,
            }))
            .into_response()
        }
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn lfs_batch(
    State(hub): State<Shared>,
    method: Method,
    headers: HeaderMap,
    UrlPath((owner, repo)): UrlPath<(String, String)>,
) -> Response {
    record(
        &hub,
        &method,
        format!("/{owner}/{repo}/info/lfs/objects/batch"),
        &headers,
    );
    // No xet, no basic upload URLs: the client falls back to sending the file in the commit.
    axum::Json(json!({"transfer": "basic", "objects": []})).into_response()
}

/// `GET /api/whoami-v2`: the account for the right token, 401 otherwise, quoting the
/// Authorization header it got back (as careless servers do).
async fn whoami(headers: HeaderMap) -> Response {
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if auth == format!("Bearer {TOKEN}") {
        axum::Json(json!({"name": "me", "type": "user"})).into_response()
    } else {
        (
            StatusCode::UNAUTHORIZED,
            axum::Json(
                json!({"error": format!("Invalid credentials in Authorization header: {auth}")}),
            ),
        )
            .into_response()
    }
}

/// Serves the imitation on 127.0.0.1:0 from a background thread; returns its base URL.
fn serve(hub: Shared) -> String {
    let app = Router::new()
        .route("/api/repos/create", post(create))
        .route("/api/whoami-v2", any(whoami))
        .route("/api/models/{owner}/{name}/{action}/{rev}", post(api))
        .route("/{owner}/{repo}/info/lfs/objects/batch", post(lfs_batch))
        .route("/{owner}/{name}/resolve/{rev}/{*file}", any(resolve))
        .with_state(hub);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    format!("http://{}", rx.recv().unwrap())
}

fn files_under(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn hub_with_fixture() -> (Shared, String) {
    let hub: Shared = Arc::default();
    hub.lock().unwrap().files = files_under(&tiny_bert_dir());
    let url = serve(hub.clone());
    (hub, url)
}

fn embed(dir: &Path) -> Vec<Vec<f32>> {
    let enc =
        SentenceEncoder::<Cpu>::load(&EncoderConfig::new(dir.to_str().unwrap()), &cpu_device())
            .unwrap();
    enc.embed(&["coffee with the team", "flight to Berlin"])
        .unwrap()
}

#[test]
fn downloads_into_the_standard_cache_and_loads() {
    let (hub, url) = hub_with_fixture();
    let cache = tempfile::tempdir().unwrap();
    let config = HubConfig::new(&url).with_cache(cache.path());
    let source = resolve_model_with("tiny/model", &config).unwrap();
    let repo = cache.path().join("models--tiny--model");
    let snapshot: PathBuf = repo.join("snapshots").join(COMMIT);
    assert_eq!(
        source,
        ModelSource::Cached {
            id: "tiny/model".into(),
            snapshot: snapshot.clone()
        }
    );
    assert_eq!(
        std::fs::read_to_string(repo.join("refs/main"))
            .unwrap()
            .trim(),
        COMMIT
    );
    for (file, bytes) in files_under(&tiny_bert_dir()) {
        assert_eq!(
            std::fs::read(snapshot.join(&file)).unwrap(),
            bytes,
            "{file}"
        );
    }
    assert_eq!(
        embed(&snapshot),
        embed(&tiny_bert_dir()),
        "the download embeds as the original"
    );
    let asked = hub.lock().unwrap().requests.len();
    assert!(asked > 0);
    // Cached now: resolving again sends nothing.
    resolve_model_with("tiny/model", &config).unwrap();
    assert_eq!(hub.lock().unwrap().requests.len(), asked);
    // A revision pinned by commit resolves from the cache too.
    resolve_model_with(&format!("tiny/model@{COMMIT}"), &config).unwrap();
    // An unknown repository is a clear error naming it.
    let err = download_model(&config, "other/model", "main")
        .unwrap_err()
        .to_string();
    assert!(err.contains("other/model"), "{err}");
}

#[test]
fn offline_or_unreachable_fails_fast_naming_the_model_and_cache() {
    let cache = tempfile::tempdir().unwrap();
    let mut offline = HubConfig::new("https://huggingface.co").with_cache(cache.path());
    offline.offline = true;
    let err = resolve_model_with("org/absent", &offline)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("org/absent")
            && err.contains(&cache.path().display().to_string())
            && err.contains("HF_HUB_OFFLINE"),
        "{err}"
    );
    // A port nobody listens on (refused at once) and a host that never resolves.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    for endpoint in [format!("http://{closed}"), "http://hub.invalid".to_owned()] {
        let mut c = HubConfig::new(&endpoint).with_cache(cache.path());
        c.connect_timeout = Duration::from_secs(2);
        let started = Instant::now();
        let err = resolve_model_with("org/absent", &c)
            .unwrap_err()
            .to_string();
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{endpoint}: {:?}",
            started.elapsed()
        );
        assert!(
            err.contains("org/absent") && err.contains(&cache.path().display().to_string()),
            "{err}"
        );
    }
}

#[test]
fn publishes_an_exported_folder_in_one_commit() {
    let (hub, url) = hub_with_fixture();
    let dir = tiny_bert_dir();
    let config = HubConfig::new(&url).with_token(TOKEN);
    let commit = push_folder(&config, &dir, "me/tuned", true, "Fine-tuned with retune").unwrap();
    assert!(
        commit.contains("me/tuned") && commit.contains(COMMIT),
        "{commit}"
    );
    let h = hub.lock().unwrap();
    assert_eq!(h.created.len(), 1);
    assert_eq!(h.created[0]["name"], "tuned");
    assert_eq!(h.created[0]["organization"], "me");
    assert_eq!(h.created[0]["private"], true);
    assert_eq!(h.commits.len(), 1, "one commit");
    let lines = &h.commits[0];
    assert_eq!(lines[0]["key"], "header");
    assert_eq!(lines[0]["value"]["summary"], "Fine-tuned with retune");
    let mut sent = BTreeMap::new();
    for l in &lines[1..] {
        assert_eq!(l["key"], "file", "{l}");
        let v = &l["value"];
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(v["content"].as_str().unwrap())
            .unwrap();
        sent.insert(v["path"].as_str().unwrap().to_owned(), bytes);
    }
    assert_eq!(sent, files_under(&dir), "every file, byte for byte");
    assert!(
        h.requests
            .iter()
            .all(|(_, _, auth)| auth.as_deref() == Some(&format!("Bearer {TOKEN}"))),
        "{:?}",
        h.requests.iter().map(|r| (&r.0, &r.1)).collect::<Vec<_>>()
    );
    drop(h);
    // The token is checked before any training: the right one names its account, a wrong one
    // is refused (without echoing it).
    assert_eq!(verify_token(&config, "me/tuned").unwrap(), "me");
    let err = verify_token(
        &HubConfig::new(&url).with_token("hf_wrong_token_x"),
        "me/tuned",
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("whoami")
            && err.contains("Invalid credentials")
            && !err.contains("hf_wrong_token_x"),
        "{err}"
    );
    // A rejected token: the error says so and does not echo the token the server quoted back.
    let wrong = HubConfig::new(&url).with_token(format!("{TOKEN}x"));
    let err = push_folder(&wrong, &dir, "me/tuned", false, "m").unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(!text.contains(TOKEN), "{text}");
    // No token: refused before anything is sent.
    let before = hub.lock().unwrap().requests.len();
    let err = push_folder(&HubConfig::new(&url), &dir, "me/tuned", false, "m")
        .unwrap_err()
        .to_string();
    assert!(err.contains("HF_TOKEN"), "{err}");
    assert_eq!(hub.lock().unwrap().requests.len(), before);
}
