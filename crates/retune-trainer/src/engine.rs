//! Inference's engine, chosen once when a model is loaded: the public choice ([`Engine`]) and
//! what it resolves to for one model on one backend ([`Runner`]). A `Runner` embeds or scores a
//! batch of tokenized rows through Burn (padded, on the model's device) or through the fused
//! CPU engine's host copy of the weights, made on first use and forgotten when the weights
//! change. The encoder and the cross-encoder call it and never ask which engine they hold; this
//! file is the only place inference matches on the engine (training's is
//! `train::step_engine::StepEngine`).

use crate::arch::Family;
use crate::bert::BertInput;
use crate::error::TrainerError;
use crate::fused::{self, FusedBert};
use crate::host::host_f32;
use crate::pooling::l2_normalize;
use crate::st_config::SentenceTransformerConfig;
use crate::tokenize::{Batch, Tokens};
use crate::transformer::{Transformer, TransformerConfig};
use burn::nn::Linear;
use burn::tensor::{Tensor, backend::Backend};
use std::any::TypeId;
use std::sync::{Arc, OnceLock};

/// Which implementation runs inference ([`crate::SentenceEncoder::encode`] and friends).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Engine {
    /// The fused CPU path on this build's CPU backends, the Burn model on any other.
    #[default]
    Auto,
    /// Always the Burn model (on its device).
    Burn,
    /// Always the fused CPU path (weights copied to host memory once).
    Fused,
    /// The fused CPU path with the linear layers' products in bf16 on Intel AMX tiles
    /// ([`FusedBert::with_bf16`]): faster, within the parity stated in docs/benchmarks.md
    /// rather than f32 rounding. The f32 fused path where the CPU has no AMX.
    FusedBf16,
}

impl Engine {
    /// Whether this choice runs the fused path on backend `B`.
    pub fn fused_on<B: Backend>(self) -> bool {
        match self {
            Engine::Burn => false,
            Engine::Fused | Engine::FusedBf16 => true,
            Engine::Auto => is_cpu_backend::<B>(),
        }
    }

    /// Whether this choice runs the fused path on backend `B` for a model of `family`: never
    /// for a family the fused engine does not run.
    pub fn runs_fused<B: Backend>(self, family: Family) -> bool {
        family.runs_fused() && self.fused_on::<B>()
    }

    /// Refuses an explicit fused engine for a family it does not run.
    pub fn check(self, family: Family) -> Result<(), TrainerError> {
        if family.runs_fused() || matches!(self, Engine::Auto | Engine::Burn) {
            return Ok(());
        }
        Err(TrainerError::Setting {
            name: "engine".into(),
            problem: format!(
                "the fused CPU engine runs bert, xlm-roberta and mpnet; {} runs on burn \
                 (choose auto or burn)",
                family.model_type()
            ),
        })
    }

    /// The fused path's weights as this engine runs them: bf16 panels for `FusedBf16`.
    pub(crate) fn prepare(self, fused: FusedBert) -> FusedBert {
        match self {
            Engine::FusedBf16 => fused.with_bf16(),
            _ => fused,
        }
    }
}

/// Whether `B` is one of this build's CPU backends (not their autodiff wrappers).
pub(crate) fn is_cpu_backend<B: Backend>() -> bool {
    let t = TypeId::of::<B>();
    #[cfg(feature = "ndarray")]
    if t == TypeId::of::<crate::backend::NdArray>() {
        return true;
    }
    t == TypeId::of::<crate::backend::Cpu>()
}

/// The fused engine's copy of a network: the encoder, and a re-ranker's classifier
/// (weights, bias).
#[derive(Debug)]
struct FusedCopy {
    body: FusedBert,
    classifier: Option<(Vec<f32>, f32)>,
}

/// An [`Engine`] resolved for one model on one backend.
#[derive(Debug, Clone)]
pub(crate) struct Runner {
    engine: Engine,
    family: Family,
    fused: bool,
    copy: OnceLock<Arc<FusedCopy>>,
}

impl Runner {
    /// What `engine` runs for a `family` model on backend `B`; an explicit fused engine for a
    /// family it does not run is refused ([`Engine::check`]).
    pub(crate) fn new<B: Backend>(engine: Engine, family: Family) -> Result<Self, TrainerError> {
        engine.check(family)?;
        Ok(Self::resolved::<B>(engine, family))
    }

    fn resolved<B: Backend>(engine: Engine, family: Family) -> Self {
        Self {
            engine,
            family,
            fused: engine.runs_fused::<B>(family),
            copy: OnceLock::new(),
        }
    }

    /// The same choice for another model on backend `B` (no copy yet).
    pub(crate) fn for_backend<B: Backend>(&self) -> Self {
        Self::resolved::<B>(self.engine, self.family)
    }

    /// The engine as chosen.
    pub(crate) fn engine(&self) -> Engine {
        self.engine
    }

    /// Whether batches run on the fused CPU engine.
    pub(crate) fn is_fused(&self) -> bool {
        self.fused
    }

    /// Forgets the fused copy (the weights changed); the next batch makes a new one.
    pub(crate) fn reset(&mut self) {
        self.copy = OnceLock::new();
    }

    /// The fused copy, made on first use.
    fn copy<B: Backend>(
        &self,
        body: &Transformer<B>,
        config: &TransformerConfig,
        classifier: Option<&Linear<B>>,
    ) -> Result<&FusedCopy, TrainerError> {
        if let Some(c) = self.copy.get() {
            return Ok(c);
        }
        let classifier = match classifier {
            Some(head) => Some((
                host_f32(head.weight.val())?,
                match &head.bias {
                    Some(b) => host_f32(b.val())?[0],
                    None => 0.0,
                },
            )),
            None => None,
        };
        let body = self
            .engine
            .prepare(FusedBert::from_transformer(body, config)?);
        let made = Arc::new(FusedCopy { body, classifier });
        Ok(self.copy.get_or_init(|| made))
    }

    /// Sentence embeddings of one batch (pooled, normalized as `st` says), in row order.
    pub(crate) fn embed<B: Backend>(
        &self,
        (model, config): (&Transformer<B>, &TransformerConfig),
        st: &SentenceTransformerConfig,
        pad_id: u32,
        rows: &[&Tokens],
    ) -> Result<Vec<Vec<f32>>, TrainerError> {
        if !self.fused {
            let emb = sentence_embeddings(model, st, &Batch::pad(rows, pad_id), None);
            let [n, dim] = emb.dims();
            let values = host_f32(emb)?;
            return Ok((0..n)
                .map(|r| values[r * dim..(r + 1) * dim].to_vec())
                .collect());
        }
        let states = self.copy(model, config, None)?.body.forward(rows)?;
        Ok((0..rows.len())
            .map(|i| {
                let mut v = fused::pool(st.pooling, states.sequence(i), states.hidden);
                if st.normalize {
                    fused::normalize(&mut v);
                }
                v
            })
            .collect())
    }

    /// A re-ranker's raw logit for each tokenized pair of one batch, in row order.
    pub(crate) fn logits<B: Backend>(
        &self,
        (body, classifier): (&Transformer<B>, &Linear<B>),
        config: &TransformerConfig,
        pad_id: u32,
        rows: &[&Tokens],
    ) -> Result<Vec<f32>, TrainerError> {
        if !self.fused {
            return host_f32(pair_logits(
                body,
                classifier,
                &Batch::pad(rows, pad_id),
                None,
            ));
        }
        let copy = self.copy(body, config, Some(classifier))?;
        let (weights, bias) = copy.classifier.as_ref().expect("made with the classifier");
        let states = copy.body.forward(rows)?;
        let h = states.hidden;
        let projected = copy.body.pooled(&states).unwrap_or_else(|| {
            (0..rows.len())
                .map(|i| states.sequence(i)[..h].to_vec())
                .collect()
        });
        Ok(projected
            .iter()
            .map(|p| p.iter().zip(weights).map(|(a, b)| a * b).sum::<f32>() + bias)
            .collect())
    }
}

/// Burn's sentence embeddings of a padded batch through `model` (pooled, normalized as `st`
/// says), with dropout from `dropout_seed` when given: the differentiable path training uses.
pub(crate) fn sentence_embeddings<B: Backend>(
    model: &Transformer<B>,
    st: &SentenceTransformerConfig,
    batch: &Batch,
    dropout_seed: Option<u64>,
) -> Tensor<B, 2> {
    let mut input = batch.to_input::<B>(&model.device());
    input.dropout_seed = dropout_seed;
    let hidden = model.forward(&input);
    let pooled = st.pooling.pool(hidden, input.attention_mask);
    if st.normalize {
        l2_normalize(pooled)
    } else {
        pooled
    }
}

/// Burn's re-ranker logits of a padded batch of pairs: the first token's state through the
/// network's projection and `classifier`, with dropout from `dropout_seed` when given.
pub(crate) fn pair_logits<B: Backend>(
    body: &Transformer<B>,
    classifier: &Linear<B>,
    batch: &Batch,
    dropout_seed: Option<u64>,
) -> Tensor<B, 1> {
    let input: BertInput<B> = BertInput {
        dropout_seed,
        ..batch.to_input(&body.device())
    };
    let hidden = body.forward(&input);
    let [n, _, h] = hidden.dims();
    body.logit(hidden.narrow(1, 0, 1).reshape([n, h]), classifier)
}
