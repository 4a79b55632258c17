//! Loading, scoring with and saving a cross-encoder.
//!
//! A checkpoint with `classifier.weight` loads as a cross-encoder; any other BERT checkpoint
//! (e.g. a sentence-transformers bi-encoder) loads as its encoder with a pooler (when the
//! checkpoint has none) and head initialized fresh as transformers does (normal, std 0.02; zero
//! biases) from a ChaCha8 generator seeded by [`CrossEncoderConfig::head_seed`], so the same
//! seed gives the same head whatever else the process is doing (Burn's own initializer draws
//! from one process-wide generator). That is how a re-ranker is started from a fine-tuned
//! bi-encoder. Scores are the sigmoid of the logit, as sentence-transformers'
//! `CrossEncoder.predict` returns for one-label models.
//!
//! Scoring runs on the fused CPU path ([`crate::fused`]) or the Burn model, by [`Engine`]
//! resolved once at load into the `Runner` that scores every batch, as the bi-encoder does.

use super::model::CrossEncoderModel;
use crate::engine::{Engine, Runner, pair_logits};
use crate::error::TrainerError;
use crate::export::{copy_tokenizer_files, replace_dir, write_json};
use crate::resolve::{ModelSource, resolve_model};
use crate::tokenize::{Batch, TextTokenizer, Tokens};
use crate::transformer::TransformerConfig;
use crate::weights::{
    ParamTable, Slot, TensorFile, canonical, collect_params, fill_params, write_safetensors,
};
use burn::module::Param;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Tensor, TensorData};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use safetensors::tensor::TensorView;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// How to load a cross-encoder.
#[derive(Debug, Clone, PartialEq)]
pub struct CrossEncoderConfig {
    /// Folder or Hub id.
    pub model: String,
    /// Longest (query, document) sequence in tokens (capped at the model's positions).
    pub max_length: usize,
    /// Pairs per forward pass when scoring.
    pub batch_size: usize,
    /// Which implementation scores.
    pub engine: Engine,
    /// Seed of a freshly initialized head (checkpoints without `classifier.weight`).
    pub head_seed: u64,
}

impl CrossEncoderConfig {
    /// Defaults: 256 tokens, batch 32.
    pub fn new(model: impl Into<String>) -> Self {
        Self {
            model: model.into(),
            max_length: 256,
            batch_size: 32,
            engine: Engine::Auto,
            head_seed: 0,
        }
    }
}

/// Draws `n` values from N(0, std^2) (Box-Muller).
fn normal(rng: &mut ChaCha8Rng, n: usize, std: f64) -> Vec<f32> {
    (0..n)
        .map(|_| {
            let u1: f64 = 1.0 - rng.random::<f64>();
            let u2: f64 = rng.random::<f64>();
            ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos() * std) as f32
        })
        .collect()
}

/// Sets the parameters whose names start with one of `prefixes` as transformers initializes
/// them: weights N(0, 0.02^2), biases 0.
fn seed_params<B: Backend>(
    model: &mut CrossEncoderModel<B>,
    prefixes: &[&str],
    seed: u64,
    device: &B::Device,
) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    model.visit_params(&mut |name, slot| {
        if !prefixes.iter().any(|p| name.starts_with(p)) {
            return;
        }
        match slot {
            Slot::Linear(p) | Slot::Matrix(p) => {
                let dims = p.val().dims();
                let data = TensorData::new(normal(&mut rng, dims[0] * dims[1], 0.02), dims);
                *p = Param::from_tensor(Tensor::from_data(data, device));
            }
            // A norm's scale starts at 1 (ModernBERT's head), every other vector at 0.
            Slot::Vector(p) if name.ends_with("norm.weight") => {
                *p = Param::from_tensor(p.val().ones_like());
            }
            Slot::Vector(p) => *p = Param::from_tensor(p.val().zeros_like()),
        }
    });
}

/// A cross-encoder with its tokenizer.
#[derive(Debug, Clone)]
pub struct CrossEncoder<B: Backend> {
    /// The network (read with [`model`](Self::model), replace with
    /// [`set_model`](Self::set_model) so the fused copy is refreshed).
    pub(crate) model: CrossEncoderModel<B>,
    /// The encoder's architecture.
    pub model_config: TransformerConfig,
    /// Pair tokenizer (truncates the longer text first).
    pub tokenizer: TextTokenizer,
    /// Where it was loaded from.
    pub source: ModelSource,
    /// The model argument, as given.
    pub model_id: String,
    /// Whether the head came from the checkpoint (false: freshly initialized).
    pub head_loaded: bool,
    batch_size: usize,
    runner: Runner,
    device: B::Device,
}

impl<B: Backend> CrossEncoder<B> {
    /// Loads a cross-encoder checkpoint, or an encoder checkpoint with a new head.
    pub fn load(config: &CrossEncoderConfig, device: &B::Device) -> Result<Self, TrainerError> {
        let source = resolve_model(&config.model)?;
        let dir = source.dir().to_owned();
        let model_config = TransformerConfig::from_file(dir.join("config.json"))?;
        if !model_config.family().has_reranker() {
            return Err(TrainerError::config(
                dir.join("config.json"),
                "model_type",
                format!(
                    "{} re-rankers are not supported (a cross-encoder needs bert, xlm-roberta, \
                     mpnet or modernbert)",
                    model_config.family().model_type()
                ),
            ));
        }
        let runner = Runner::new::<B>(config.engine, model_config.family())?;
        let max_len = config.max_length.min(model_config.max_tokens());
        let tokenizer = TextTokenizer::from_file(dir.join("tokenizer.json"), max_len)?;
        let path = dir.join("model.safetensors");
        let file = TensorFile::read(&path)?;
        let st = file.parse(&path)?;
        let family = model_config.family();
        let body = family.body_prefix();
        let (projection, output) = family.head_names();
        let tensors: HashMap<String, TensorView<'_>> = st
            .tensors()
            .into_iter()
            .map(|(n, v)| {
                let key =
                    if n.starts_with("classifier.") || n.starts_with(&format!("{projection}.")) {
                        n
                    } else {
                        format!("{body}{}", canonical(&n, body))
                    };
                (key, v)
            })
            .collect();
        let head_loaded = tensors.contains_key(&format!("{output}.weight"));
        let mut model = CrossEncoderModel::init(&model_config, device);
        let fresh_ok = |name: &str| {
            !head_loaded
                && (name.starts_with(&format!("{output}.")) || name.starts_with(&projection))
        };
        let (problems, _) = fill_params(&mut model, &tensors, device, &fresh_ok);
        if !problems.is_empty() {
            return Err(TrainerError::Weights { path, problems });
        }
        if !head_loaded {
            let output_prefix = format!("{output}.");
            let mut fresh = vec![output_prefix.as_str()];
            if !tensors
                .keys()
                .any(|n| n.starts_with(&format!("{projection}.")))
            {
                fresh.push(projection.as_str());
            }
            seed_params(&mut model, &fresh, config.head_seed, device);
        }
        Ok(Self {
            model,
            model_config,
            tokenizer,
            source,
            model_id: config.model.clone(),
            head_loaded,
            batch_size: config.batch_size.max(1),
            runner,
            device: device.clone(),
        })
    }

    /// The network.
    pub fn model(&self) -> &CrossEncoderModel<B> {
        &self.model
    }

    /// Replaces the network (same architecture); the fused copy is made again on next use.
    pub fn set_model(&mut self, model: CrossEncoderModel<B>) {
        self.runner.reset();
        self.model = model;
    }

    /// The same cross-encoder with another scoring engine; an explicit fused engine for a
    /// family it does not run is refused.
    pub fn with_engine(mut self, engine: Engine) -> Result<Self, TrainerError> {
        if engine != self.runner.engine() {
            self.runner = Runner::new::<B>(engine, self.model_config.family())?;
        }
        Ok(self)
    }

    /// The scoring engine (training follows it: fused on CPU backends under `Auto`).
    pub fn engine(&self) -> Engine {
        self.runner.engine()
    }

    /// Whether scoring runs on the fused CPU path.
    pub fn uses_fused(&self) -> bool {
        self.runner.is_fused()
    }

    /// The device the model lives on.
    pub fn device(&self) -> &B::Device {
        &self.device
    }

    /// Tokenizes (query, document) pairs.
    pub fn tokenize(&self, pairs: &[(&str, &str)]) -> Result<Vec<Tokens>, TrainerError> {
        self.tokenizer.encode_pairs(pairs)
    }

    /// Logits of tokenized pairs through `model` (this encoder's weights or a training copy),
    /// one batch, with dropout from `dropout_seed` when given.
    pub fn logits_with<B2: Backend>(
        &self,
        model: &CrossEncoderModel<B2>,
        tokens: &[&Tokens],
        dropout_seed: Option<u64>,
    ) -> burn::tensor::Tensor<B2, 1> {
        let batch = Batch::pad(tokens, self.tokenizer.pad_id());
        pair_logits(&model.body, &model.classifier, &batch, dropout_seed)
    }

    /// Raw logits of (query, document) pairs, in input order (batched, sorted by length).
    pub fn logits(&self, pairs: &[(&str, &str)]) -> Result<Vec<f32>, TrainerError> {
        self.logits_tokens(&self.tokenize(pairs)?)
    }

    /// Raw logits of already tokenized pairs, in input order (batched, sorted by length).
    pub fn logits_tokens(&self, tokens: &[Tokens]) -> Result<Vec<f32>, TrainerError> {
        let mut order: Vec<usize> = (0..tokens.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(tokens[i].ids.len()));
        let mut out = vec![0.0; tokens.len()];
        let net = (&self.model.body, &self.model.classifier);
        let pad_id = self.tokenizer.pad_id();
        for chunk in order.chunks(self.batch_size) {
            let rows: Vec<&Tokens> = chunk.iter().map(|&i| &tokens[i]).collect();
            let values = self.runner.logits(net, &self.model_config, pad_id, &rows)?;
            for (&i, v) in chunk.iter().zip(values) {
                out[i] = v;
            }
        }
        Ok(out)
    }

    /// Relevance scores in (0, 1): the sigmoid of each pair's logit.
    pub fn predict(&self, pairs: &[(&str, &str)]) -> Result<Vec<f32>, TrainerError> {
        Ok(self
            .logits(pairs)?
            .into_iter()
            .map(|x| 1.0 / (1.0 + (-x).exp()))
            .collect())
    }

    /// Saves in the family's `*ForSequenceClassification` layout that sentence-transformers'
    /// `CrossEncoder(dir)` and transformers load: `config.json` (architectures, one label,
    /// sigmoid activation), `model.safetensors` (`bert.*` / `roberta.*` / `mpnet.*` and the
    /// head), tokenizer files and a model card; `dir` is replaced atomically.
    pub fn save(&self, dir: &Path, model_card: &str) -> Result<(), TrainerError> {
        replace_dir(dir, |tmp| {
            let family = self.model_config.family();
            let mut config = self
                .model_config
                .to_hf_json(family.classifier_architecture());
            if let Some(obj) = config.as_object_mut() {
                obj.insert("id2label".into(), serde_json::json!({"0": "LABEL_0"}));
                obj.insert("label2id".into(), serde_json::json!({"LABEL_0": 0}));
                obj.insert(
                    "sentence_transformers".into(),
                    serde_json::json!({"activation_fn": "torch.nn.modules.activation.Sigmoid", "version": "5.0.0"}),
                );
            }
            write_json(&tmp.join("config.json"), &config)?;
            let mut tensors = BTreeMap::new();
            collect_params(&self.model, &mut tensors);
            write_safetensors(&tmp.join("model.safetensors"), &tensors)?;
            copy_tokenizer_files(self.source.dir(), tmp)?;
            std::fs::write(tmp.join("README.md"), model_card)
                .map_err(TrainerError::io(tmp.join("README.md")))
        })
    }
}

impl<A: AutodiffBackend> CrossEncoder<A> {
    /// The inference copy (no autodiff graph).
    pub fn valid(&self) -> CrossEncoder<A::InnerBackend> {
        use burn::module::AutodiffModule;
        CrossEncoder {
            model: self.model.valid(),
            model_config: self.model_config.clone(),
            tokenizer: self.tokenizer.clone(),
            source: self.source.clone(),
            model_id: self.model_id.clone(),
            head_loaded: self.head_loaded,
            batch_size: self.batch_size,
            runner: self.runner.for_backend::<A::InnerBackend>(),
            device: self.device.clone(),
        }
    }
}

impl<B: Backend> retune_data::Reranker for CrossEncoder<B> {
    type Error = TrainerError;

    fn model_id(&self) -> &str {
        &self.model_id
    }

    fn score(&self, query: &str, documents: &[&str]) -> Result<Vec<f32>, TrainerError> {
        let pairs: Vec<(&str, &str)> = documents.iter().map(|d| (query, *d)).collect();
        self.predict(&pairs)
    }
}
