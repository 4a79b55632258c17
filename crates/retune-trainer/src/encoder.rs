//! `SentenceEncoder`: a BERT model, its tokenizer and its sentence-transformers modules, turning
//! texts into embeddings exactly as sentence-transformers does.
//!
//! Encoding tokenizes a chunk of texts, sorts them by token count (longest first) so that each
//! batch pads only to its own longest text, runs the batches, and writes every embedding back to
//! its input position. Large inputs stream through [`SentenceEncoder::encode_stream`] in chunks,
//! so memory stays flat in the number of texts.
//!
//! Inference runs on the Burn model or on the fused CPU path ([`crate::fused`]), by
//! [`Engine`], resolved once when the encoder is loaded into the `Runner` that runs every
//! batch: `Auto` (the default) takes the fused path on this build's CPU backends for the
//! families it runs ([`crate::Family::runs_fused`]) and Burn elsewhere (CUDA, ModernBERT).
//! Training picks its engine the same way, once, in
//! `train::step_engine::StepEngine`: Burn's autodiff over
//! [`SentenceEncoder::forward_seeded`], or the fused engine's own forward and backward passes.

use crate::engine::{Engine, Runner, sentence_embeddings};
use crate::error::TrainerError;
use crate::resolve::{ModelSource, resolve_model};
use crate::st_config::SentenceTransformerConfig;
use crate::tokenize::{Batch, TextTokenizer, Tokens};
use crate::transformer::{Transformer, TransformerConfig};
use crate::weights::{LoadReport, load_model};
use burn::module::AutodiffModule;
use burn::tensor::{
    Tensor,
    backend::{AutodiffBackend, Backend},
};
use indicatif::{ProgressBar, ProgressStyle};

/// How to load and run an encoder.
#[derive(Debug, Clone, PartialEq)]
pub struct EncoderConfig {
    /// A model directory or Hub id.
    pub model: String,
    /// Texts per forward pass (default 32).
    pub batch_size: usize,
    /// Overrides the model's `max_seq_length` (still capped at its position embeddings).
    pub max_seq_length: Option<usize>,
    /// Show a progress bar on stderr when encoding more than one batch.
    pub progress: bool,
    /// Which implementation runs inference.
    pub engine: Engine,
}

impl EncoderConfig {
    /// Defaults for a model.
    pub fn new(model: impl Into<String>) -> Self {
        Self {
            model: model.into(),
            batch_size: 32,
            max_seq_length: None,
            progress: false,
            engine: Engine::Auto,
        }
    }

    /// Chooses the inference engine.
    #[must_use]
    pub fn with_engine(mut self, engine: Engine) -> Self {
        self.engine = engine;
        self
    }

    /// Sets the batch size (at least 1).
    #[must_use]
    pub fn with_batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size.max(1);
        self
    }

    /// Sets the longest sequence.
    #[must_use]
    pub fn with_max_seq_length(mut self, max: usize) -> Self {
        self.max_seq_length = Some(max);
        self
    }

    /// Turns the progress bar on or off.
    #[must_use]
    pub fn with_progress(mut self, progress: bool) -> Self {
        self.progress = progress;
        self
    }
}

/// A sentence-embedding model on a Burn backend.
#[derive(Debug, Clone)]
pub struct SentenceEncoder<B: Backend> {
    /// The transformer (read with [`model`](Self::model), change with
    /// [`model_mut`](Self::model_mut) so the fused path's copy of the weights is refreshed).
    pub(crate) model: Transformer<B>,
    /// Its architecture.
    pub model_config: TransformerConfig,
    /// Its tokenizer.
    pub tokenizer: TextTokenizer,
    /// Pooling, normalization, length and prompts.
    pub st_config: SentenceTransformerConfig,
    /// Where it was loaded from.
    pub source: ModelSource,
    /// What loading reported.
    pub load_report: LoadReport,
    model_id: String,
    batch_size: usize,
    progress: bool,
    runner: Runner,
    device: B::Device,
}

impl<B: Backend> SentenceEncoder<B> {
    /// Loads a model folder (or cached Hub id) onto a device.
    pub fn load(config: &EncoderConfig, device: &B::Device) -> Result<Self, TrainerError> {
        let source = resolve_model(&config.model)?;
        let dir = source.dir().to_owned();
        let model_config = TransformerConfig::from_file(dir.join("config.json"))?;
        let runner = Runner::new::<B>(config.engine, model_config.family())?;
        let mut st_config = SentenceTransformerConfig::from_dir(&dir, model_config.max_tokens())?;
        if let Some(max) = config.max_seq_length {
            st_config.max_seq_length = max.min(model_config.max_tokens());
        }
        let tokenizer =
            TextTokenizer::from_file(dir.join("tokenizer.json"), st_config.max_seq_length)?;
        let (model, load_report) =
            load_model(&model_config, dir.join("model.safetensors"), device)?;
        Ok(Self {
            model,
            model_config,
            tokenizer,
            st_config,
            model_id: config.model.clone(),
            source,
            load_report,
            batch_size: config.batch_size.max(1),
            progress: config.progress,
            runner,
            device: device.clone(),
        })
    }

    /// The transformer.
    pub fn model(&self) -> &Transformer<B> {
        &self.model
    }

    /// The transformer, to change; the fused path copies the weights again on its next use.
    pub fn model_mut(&mut self) -> &mut Transformer<B> {
        self.runner.reset();
        &mut self.model
    }

    /// Replaces the transformer (same architecture).
    pub fn set_model(&mut self, model: Transformer<B>) {
        *self.model_mut() = model;
    }

    /// The inference engine this encoder was configured with.
    pub fn engine(&self) -> Engine {
        self.runner.engine()
    }

    /// Whether inference (and training) runs on the fused CPU path.
    pub fn uses_fused(&self) -> bool {
        self.runner.is_fused()
    }

    /// The same encoder with another inference engine; an explicit fused engine for a family
    /// it does not run is refused.
    pub fn with_engine(mut self, engine: Engine) -> Result<Self, TrainerError> {
        if engine != self.runner.engine() {
            self.runner = Runner::new::<B>(engine, self.model_config.family())?;
        }
        Ok(self)
    }

    /// The device the model lives on.
    pub fn device(&self) -> &B::Device {
        &self.device
    }

    /// The same encoder with another batch size.
    #[must_use]
    pub fn with_batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size.max(1);
        self
    }

    /// The batch size used by [`encode`](Self::encode).
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// Pooled (and, if the model says so, normalized) embeddings of a padded batch, `[batch, dim]`.
    /// This is the differentiable path training uses.
    pub fn forward(&self, batch: &Batch) -> Tensor<B, 2> {
        self.forward_with(&self.model, batch)
    }

    /// As [`forward`](Self::forward) with another set of weights of the same architecture
    /// (the autodiff copy during training).
    pub fn forward_with<B2: Backend>(
        &self,
        model: &Transformer<B2>,
        batch: &Batch,
    ) -> Tensor<B2, 2> {
        self.forward_seeded(model, batch, None)
    }

    /// As [`forward_with`](Self::forward_with), with dropout from `dropout_seed` (training).
    pub fn forward_seeded<B2: Backend>(
        &self,
        model: &Transformer<B2>,
        batch: &Batch,
        dropout_seed: Option<u64>,
    ) -> Tensor<B2, 2> {
        sentence_embeddings(model, &self.st_config, batch, dropout_seed)
    }

    /// Tokenizes texts, prepending a named prompt (or the model's default prompt) when given.
    pub fn tokenize(
        &self,
        texts: &[&str],
        prompt_name: Option<&str>,
    ) -> Result<Vec<Tokens>, TrainerError> {
        let name = prompt_name.or(self.st_config.default_prompt_name.as_deref());
        match name {
            None => self.tokenizer.encode(texts),
            Some(name) => {
                let prompt =
                    self.st_config
                        .prompts
                        .get(name)
                        .ok_or_else(|| TrainerError::Config {
                            path: self.source.dir().join("config_sentence_transformers.json"),
                            field: "prompts".into(),
                            problem: format!(
                                "no prompt named {name:?} (have: {:?})",
                                self.st_config.prompts.keys().collect::<Vec<_>>()
                            ),
                        })?;
                let with: Vec<String> = texts.iter().map(|t| format!("{prompt}{t}")).collect();
                self.tokenizer
                    .encode(&with.iter().map(String::as_str).collect::<Vec<_>>())
            }
        }
    }

    /// Embeddings of already tokenized texts, in their order, batching longest first.
    pub fn encode_tokens(
        &self,
        tokens: &[Tokens],
        bar: Option<&ProgressBar>,
    ) -> Result<Vec<Vec<f32>>, TrainerError> {
        let mut order: Vec<usize> = (0..tokens.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(tokens[i].ids.len()));
        let mut out = vec![Vec::new(); tokens.len()];
        let model = (&self.model, &self.model_config);
        let pad_id = self.tokenizer.pad_id();
        for chunk in order.chunks(self.batch_size) {
            let rows: Vec<&Tokens> = chunk.iter().map(|&i| &tokens[i]).collect();
            let emb = self.runner.embed(model, &self.st_config, pad_id, &rows)?;
            for (v, &i) in emb.into_iter().zip(chunk) {
                out[i] = v;
            }
            if let Some(bar) = bar {
                bar.inc(chunk.len() as u64);
            }
        }
        Ok(out)
    }

    fn progress_bar(&self, total: usize) -> Option<ProgressBar> {
        (self.progress && total > self.batch_size).then(|| {
            let bar = ProgressBar::new(total as u64);
            bar.set_style(
                ProgressStyle::with_template(
                    "{msg} [{bar:30}] {pos}/{len} texts, {per_sec}, eta {eta}",
                )
                .expect("static template")
                .progress_chars("=> "),
            );
            bar.set_message("embedding");
            bar
        })
    }

    /// One embedding per text, in input order.
    pub fn encode(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, TrainerError> {
        self.encode_with_prompt(texts, None)
    }

    /// As [`encode`](Self::encode) with a named prompt.
    pub fn encode_with_prompt(
        &self,
        texts: &[&str],
        prompt_name: Option<&str>,
    ) -> Result<Vec<Vec<f32>>, TrainerError> {
        let bar = self.progress_bar(texts.len());
        let tokens = self.tokenize(texts, prompt_name)?;
        let out = self.encode_tokens(&tokens, bar.as_ref());
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        out
    }

    /// Encodes any number of texts in chunks of `chunk` texts (at least one batch), handing each
    /// chunk's embeddings, in input order, to `sink`. Memory holds one chunk at a time.
    pub fn encode_stream<I, S, E>(
        &self,
        texts: I,
        chunk: usize,
        mut sink: impl FnMut(Vec<Vec<f32>>) -> Result<(), E>,
    ) -> Result<(), E>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
        E: From<TrainerError>,
    {
        let chunk = chunk.max(self.batch_size);
        let mut buf: Vec<S> = Vec::with_capacity(chunk);
        let mut flush = |buf: &mut Vec<S>| -> Result<(), E> {
            if buf.is_empty() {
                return Ok(());
            }
            let refs: Vec<&str> = buf.iter().map(AsRef::as_ref).collect();
            let tokens = self.tokenize(&refs, None)?;
            sink(self.encode_tokens(&tokens, None)?)?;
            buf.clear();
            Ok(())
        };
        for t in texts {
            buf.push(t);
            if buf.len() == chunk {
                flush(&mut buf)?;
            }
        }
        flush(&mut buf)
    }

    /// Embedding dimension.
    pub fn dim(&self) -> usize {
        self.model_config.hidden_size()
    }
}

impl<A: AutodiffBackend> SentenceEncoder<A> {
    /// The same encoder on the inner (non-autodiff) backend: dropout off, for evaluation.
    pub fn valid(&self) -> SentenceEncoder<A::InnerBackend> {
        self.with_model(self.model.valid())
    }
}

impl<B: Backend> SentenceEncoder<B> {
    /// This encoder's tokenizer and settings around another model of the same architecture.
    pub fn with_model<B2: Backend<Device = B::Device>>(
        &self,
        model: Transformer<B2>,
    ) -> SentenceEncoder<B2> {
        SentenceEncoder {
            model,
            model_config: self.model_config.clone(),
            tokenizer: self.tokenizer.clone(),
            st_config: self.st_config.clone(),
            source: self.source.clone(),
            load_report: self.load_report.clone(),
            model_id: self.model_id.clone(),
            batch_size: self.batch_size,
            progress: self.progress,
            runner: self.runner.for_backend::<B2>(),
            device: self.device.clone(),
        }
    }
}

impl<B: Backend> retune_data::Embedder for SentenceEncoder<B> {
    type Error = TrainerError;

    fn model_id(&self) -> &str {
        &self.model_id
    }

    fn dimension(&self) -> usize {
        self.dim()
    }

    fn normalized(&self) -> bool {
        self.st_config.normalize
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, TrainerError> {
        self.encode(texts)
    }
}
