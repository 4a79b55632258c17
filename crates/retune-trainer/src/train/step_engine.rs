//! The engine a training step runs the encoder on, chosen once when a trainer is made: Burn's
//! autodiff over padded batches (the reference, and the CUDA path) or the fused CPU engine's
//! host forward and backward ([`FusedStep`]). The bi-encoder trainer and the cross-encoder
//! trainer embed or score, back-propagate and step the optimizer through this contract and
//! never ask which engine they hold.

use super::fused_step::FusedStep;
use super::optim::{AdamW, NamedGrads, accumulate, named_grads};
use crate::Pooling;
use crate::arch::Family;
use crate::cross::{CrossEncoder, CrossEncoderModel};
use crate::encoder::SentenceEncoder;
use crate::engine::Engine;
use crate::error::TrainerError;
use crate::tokenize::{Batch, Tokens};
use crate::transformer::Transformer;
use crate::weights::ParamTable;
use burn::tensor::Tensor;
use burn::tensor::backend::AutodiffBackend;

/// Where a training step's encoder passes run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Burn's autodiff graph over padded batches.
    Burn,
    /// The fused CPU engine, with the loss on Burn leaves.
    Fused,
}

/// A training step's engine and its state between passes and optimizer steps.
pub(crate) struct StepEngine<A: AutodiffBackend> {
    kind: Kind,
    /// The fused passes of the current batch, the weights they copied, and the optimizer's
    /// kept values; with Burn only the optimizer step is used (no passes, no copies).
    step: FusedStep<A>,
}

impl<A: AutodiffBackend> StepEngine<A> {
    /// The engine that an encoder's `engine` setting picks for a `family` model on this
    /// backend (its inner backend: the fused engine runs beside autodiff).
    pub(crate) fn new(engine: Engine, family: Family) -> Self {
        let kind = if engine.runs_fused::<A::InnerBackend>(family) {
            Kind::Fused
        } else {
            Kind::Burn
        };
        Self {
            kind,
            step: FusedStep::default(),
        }
    }

    /// Whether steps run on the fused CPU engine.
    pub(crate) fn is_fused(&self) -> bool {
        self.kind == Kind::Fused
    }

    /// Pooled (and, as the model says, normalized) embeddings of each group of rows with
    /// dropout from its seed, differentiable through [`gradients`](Self::gradients).
    pub(crate) fn embed_groups(
        &mut self,
        encoder: &SentenceEncoder<A>,
        groups: &[(&[&Tokens], u64)],
    ) -> Result<Vec<Tensor<A, 2>>, TrainerError> {
        match self.kind {
            Kind::Fused => self.step.embed_groups(encoder, groups),
            Kind::Burn => Ok(groups
                .iter()
                .map(|(rows, seed)| burn_embed(encoder, &encoder.model, rows, *seed))
                .collect()),
        }
    }

    /// [`embed_groups`](Self::embed_groups) of one group.
    pub(crate) fn embed(
        &mut self,
        encoder: &SentenceEncoder<A>,
        rows: &[&Tokens],
        seed: u64,
    ) -> Result<Tensor<A, 2>, TrainerError> {
        let mut parts = self.embed_groups(encoder, &[(rows, seed)])?;
        Ok(parts.remove(0))
    }

    /// The same values as [`embed`](Self::embed) (same dropout masks) without a graph
    /// (GradCache's first pass); Burn runs `frozen`, the model without autodiff.
    pub(crate) fn embed_detached(
        &mut self,
        encoder: &SentenceEncoder<A>,
        frozen: &Transformer<A::InnerBackend>,
        rows: &[&Tokens],
        seed: u64,
    ) -> Result<Tensor<A::InnerBackend, 2>, TrainerError> {
        match self.kind {
            Kind::Fused => self.step.embed_detached(encoder, rows, seed),
            Kind::Burn => Ok(burn_embed(encoder, frozen, rows, seed)),
        }
    }

    /// A cross-encoder's logit for each tokenized pair, with dropout from `seed`: the body's
    /// first-token state (a fused leaf, or Burn's graph) through the Burn head.
    pub(crate) fn cross_logits(
        &mut self,
        encoder: &CrossEncoder<A>,
        rows: &[&Tokens],
        seed: u64,
    ) -> Result<Tensor<A, 1>, TrainerError> {
        let device = encoder.device();
        let model = encoder.model();
        match self.kind {
            Kind::Burn => Ok(encoder.logits_with(model, rows, Some(seed))),
            Kind::Fused => {
                let body = (&model.body, &encoder.model_config);
                let first = self.step.leaf(body, Pooling::Cls, rows, seed, device)?;
                Ok(model.head(first))
            }
        }
    }

    /// A cross-encoder's gradients by name from the loss' gradients `g`: the graph's (head,
    /// and the body on Burn), plus the fused body's under the family's prefix.
    pub(crate) fn cross_gradients(
        &mut self,
        model: &mut CrossEncoderModel<A>,
        g: &A::Gradients,
        device: &A::Device,
    ) -> Result<NamedGrads<A::InnerBackend>, TrainerError> {
        let mut grads = named_grads(model, g);
        if self.step.has_passes() {
            let prefix = model.body_prefix();
            accumulate(
                &mut grads,
                self.step.backward_named(model, prefix, g, device)?,
            );
        }
        Ok(grads)
    }

    /// Forgets the passes of an unfinished batch.
    pub(crate) fn clear(&mut self) {
        self.step.clear();
    }

    /// Every parameter's gradient by name from the loss' gradients `g`: the graph's own,
    /// plus the fused passes' back-propagated on the host.
    pub(crate) fn gradients(
        &mut self,
        encoder: &mut SentenceEncoder<A>,
        g: &A::Gradients,
    ) -> Result<NamedGrads<A::InnerBackend>, TrainerError> {
        let mut grads = named_grads(&mut encoder.model, g);
        if self.step.has_passes() {
            accumulate(&mut grads, self.step.backward(encoder, g)?);
        }
        Ok(grads)
    }

    /// Sets up `optimizer` for this engine: the fused engine builds its next weights from the
    /// values the optimizer keeps after each host update.
    pub(crate) fn prepare(&self, optimizer: &mut AdamW<A::InnerBackend>) {
        optimizer.keep_values(self.is_fused());
    }

    /// Forgets any copied weights (after a restore changed the model).
    pub(crate) fn invalidate(&mut self) {
        self.step.invalidate();
    }

    /// One optimizer step with global-norm clipping; returns the norm before clipping
    /// ([`FusedStep::optimizer_step`]).
    pub(crate) fn optimizer_step(
        &mut self,
        optimizer: &mut AdamW<A::InnerBackend>,
        model: &mut impl ParamTable<A>,
        grads: NamedGrads<A::InnerBackend>,
        lr: f64,
        max_grad_norm: f64,
    ) -> f64 {
        self.step
            .optimizer_step(optimizer, model, grads, lr, max_grad_norm)
    }
}

/// Burn's embeddings of `rows` through `model` (the autodiff model, or its frozen copy),
/// padded into one batch, with dropout from `seed`.
fn burn_embed<A: AutodiffBackend, B: burn::tensor::backend::Backend>(
    encoder: &SentenceEncoder<A>,
    model: &Transformer<B>,
    rows: &[&Tokens],
    seed: u64,
) -> Tensor<B, 2> {
    let batch = Batch::pad(rows, encoder.tokenizer.pad_id());
    encoder.forward_seeded(model, &batch, Some(seed))
}
