//! The fused CPU inference path against the Burn model it copies: the same embeddings within
//! 1e-5 (max abs difference; both are f32 with different summation orders and the fused GELU
//! uses an erf approximation good to 1.5e-7) on the tiny fixture for every pooling mode, with and
//! without normalization, for pairs with token types, and on all-MiniLM-L6-v2 for the project's
//! domain transactions. Changing the weights through `model_mut` reaches the fused path.

use crate::common;

use common::{MINILM, domain_pairs, max_abs_diff, real_model};
use retune_trainer::backend::{Cpu, cpu_device};
use retune_trainer::fixture::tiny_bert_dir;
use retune_trainer::fused::FusedBert;
use retune_trainer::{EncoderConfig, Engine, Pooling, SentenceEncoder, Tokens};

fn load(dir: &str, engine: Engine, batch: usize) -> SentenceEncoder<Cpu> {
    let cfg = EncoderConfig::new(dir)
        .with_engine(engine)
        .with_batch_size(batch);
    SentenceEncoder::load(&cfg, &cpu_device()).unwrap()
}

fn texts() -> Vec<String> {
    (0..19)
        .map(|i| {
            format!(
                "{} payment {i} to the airline travel{}",
                ["uber ride", "office chair", "team dinner", "a"][i % 4],
                " new york".repeat(i % 5)
            )
        })
        .collect()
}

fn assert_close(a: &[Vec<f32>], b: &[Vec<f32>], tol: f32, what: &str) {
    assert_eq!(a.len(), b.len());
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        let d = max_abs_diff(x, y);
        assert!(d <= tol, "{what}: text {i}: max abs diff {d}");
    }
}

#[test]
fn tiny_model_agrees_with_burn_for_every_pooling_mode() {
    let dir = tiny_bert_dir();
    let t = texts();
    let refs: Vec<&str> = t.iter().map(String::as_str).collect();
    for pooling in [
        Pooling::Mean,
        Pooling::Cls,
        Pooling::Max,
        Pooling::MeanSqrtLen,
    ] {
        for normalize in [true, false] {
            let mut burn = load(dir.to_str().unwrap(), Engine::Burn, 8);
            let mut fused = load(dir.to_str().unwrap(), Engine::Fused, 8);
            for e in [&mut burn, &mut fused] {
                e.st_config.pooling = pooling;
                e.st_config.normalize = normalize;
            }
            assert!(!burn.uses_fused() && fused.uses_fused());
            let a = burn.encode(&refs).unwrap();
            let b = fused.encode(&refs).unwrap();
            assert_close(&a, &b, 1e-5, &format!("{pooling:?}, normalize {normalize}"));
        }
    }
}

#[test]
fn token_types_and_hidden_states_match_the_burn_forward() {
    let enc = load(tiny_bert_dir().to_str().unwrap(), Engine::Burn, 8);
    let mut tokens = enc
        .tokenize(&["uber ride", "office chair for the team"], None)
        .unwrap();
    // The second text as a pair's second segment.
    tokens[1].type_ids = tokens[1]
        .ids
        .iter()
        .enumerate()
        .map(|(i, _)| u32::from(i > 2))
        .collect();
    let rows: Vec<&Tokens> = tokens.iter().collect();
    let batch = retune_trainer::Batch::pad(&rows, enc.tokenizer.pad_id());
    let hidden = enc.model().forward(&batch.to_input::<Cpu>(&cpu_device()));
    let [_, seq, h] = hidden.dims();
    let burn: Vec<f32> = hidden.into_data().to_vec().unwrap();
    let fused = FusedBert::from_transformer(enc.model(), &enc.model_config).unwrap();
    let states = fused.forward(&rows).unwrap();
    for (i, t) in tokens.iter().enumerate() {
        let want = &burn[i * seq * h..(i * seq + t.ids.len()) * h];
        let d = max_abs_diff(states.sequence(i), want);
        assert!(d <= 1e-5, "text {i}: hidden states differ by {d}");
    }
    let bad = Tokens {
        ids: vec![u32::MAX],
        type_ids: vec![0],
        truncated: false,
    };
    let err = fused.forward(&[&bad]).unwrap_err().to_string();
    assert!(err.contains("outside the vocabulary"), "{err}");
}

#[test]
fn changing_the_weights_reaches_the_fused_path() {
    let mut enc = load(tiny_bert_dir().to_str().unwrap(), Engine::Fused, 8);
    let before = enc.encode(&["uber ride"]).unwrap();
    let fresh = retune_trainer::Transformer::<Cpu>::init(&enc.model_config, false, &cpu_device());
    enc.set_model(fresh);
    let after = enc.encode(&["uber ride"]).unwrap();
    let burn = enc
        .clone()
        .with_engine(Engine::Burn)
        .unwrap()
        .encode(&["uber ride"])
        .unwrap();
    assert!(
        max_abs_diff(&before[0], &after[0]) > 1e-3,
        "new weights, new embedding"
    );
    assert_close(&after, &burn, 1e-5, "after set_model");
}

#[test]
fn minilm_agrees_with_burn_on_domain_transactions() {
    let dir = real_model(MINILM);
    let texts: Vec<String> = domain_pairs()
        .into_iter()
        .take(80)
        .map(|(t, _)| t)
        .collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let a = load(dir.to_str().unwrap(), Engine::Burn, 32)
        .encode(&refs)
        .unwrap();
    let b = load(dir.to_str().unwrap(), Engine::Fused, 32)
        .encode(&refs)
        .unwrap();
    assert_close(&a, &b, 1e-5, "MiniLM");
}
