//! OpenAI-compatible embeddings against the mock: batching, answers out of order, unit norm,
//! a server error that is retried, and the `Embedder` contract.

use retune_data::Embedder;
use retune_providers::mock::{MockOpenAi, MockReply};
use retune_providers::openai::OpenAiEmbedder;
use retune_providers::{ApiKey, HttpConfig};
use std::sync::Arc;

#[test]
fn embeddings_come_back_in_input_order_with_unit_norm() {
    let mock = MockOpenAi::start(Arc::new(|_, _| MockReply::Content("{}".into())));
    let cfg = HttpConfig::new(mock.base_url(), Some(ApiKey::new("sk-test").unwrap()));
    let e = OpenAiEmbedder::new(cfg, "text-embedding-3-small", 8)
        .unwrap()
        .with_batch_size(2);
    let texts = ["aaaa", "bcd", "zz", "hello world", "q"];
    let out = e.embed(&texts).unwrap();
    assert_eq!(out.len(), 5);
    for v in &out {
        let n: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((n - 1.0).abs() < 1e-5);
    }
    // same text, same vector; the reversed answer order was undone
    assert_eq!(e.embed(&["zz"]).unwrap()[0], out[2]);
    assert_ne!(out[0], out[1]);
    assert_eq!(e.dimension(), 8);
    assert!(
        mock.auth_headers()
            .iter()
            .all(|a| a.as_deref() == Some("Bearer sk-test"))
    );
}

#[test]
fn a_wrong_dimension_is_reported() {
    let mock = MockOpenAi::start(Arc::new(|_, _| MockReply::Content("{}".into())));
    let e = OpenAiEmbedder::new(HttpConfig::new(mock.base_url(), None), "m", 1536).unwrap();
    let err = e.embed(&["x"]).unwrap_err();
    assert!(err.to_string().contains("expected 1536"), "{err}");
}
