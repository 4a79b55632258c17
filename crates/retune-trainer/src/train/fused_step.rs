//! Training steps through the fused CPU path: the encoder's forward and backward run on the
//! host ([`FusedBert::forward_train`] / [`FusedBert::backward`]) while the loss stays the
//! Burn code every engine shares.
//!
//! Each embedding call pools the fused pass' last hidden states into a Burn leaf tensor that
//! requires a gradient (normalized by Burn when the model normalizes); the loss is built and
//! differentiated on those leaves, and each leaf's gradient is then pushed back through its
//! pooling and encoder pass on the host. The gradients come out by Hugging Face name, as
//! [`named_grads`](super::optim::named_grads) gives them from Burn's autodiff, so clipping,
//! accumulation, AdamW and checkpoints are unchanged. The cross-encoder uses the same steps
//! on its BERT body: the first token's state is the leaf, its pooler and head stay Burn's.

use super::optim::{AdamW, NamedGrads, RowHints, StepRate, clip_scale, global_norm_rows};
use super::rows::TouchedRows;
use crate::Pooling;
use crate::encoder::SentenceEncoder;
use crate::error::TrainerError;
use crate::fused::{
    FusedBert, HostGrads, KnownValues, TrainPass, bert_shaped, pool, pool_backward,
};
use crate::host::host_f32;
use crate::pooling::l2_normalize;
use crate::tokenize::Tokens;
use crate::transformer::{Transformer, TransformerConfig};
use crate::weights::ParamTable;
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{Tensor, TensorData};
use std::collections::{BTreeMap, HashMap};

/// The fused path's copy of the weights and the passes of the current batch.
pub(crate) struct FusedStep<A: AutodiffBackend> {
    weights: Option<FusedBert>,
    /// New parameter values the optimizer kept, used instead of reading the model's tensors
    /// when the weights are next copied.
    known: KnownValues,
    passes: Vec<(TrainPass, Tensor<A, 2>, Pooling)>,
    /// The word-embedding table's name, width and the token ids back-propagated through
    /// since the last optimizer step: its only rows with a gradient.
    touched: Option<(String, usize, Vec<usize>)>,
}

impl<A: AutodiffBackend> Default for FusedStep<A> {
    fn default() -> Self {
        Self {
            weights: None,
            known: KnownValues::new(),
            passes: Vec::new(),
            touched: None,
        }
    }
}

impl<A: AutodiffBackend> FusedStep<A> {
    /// Forgets the copied weights (after a restore changed the model).
    pub(crate) fn invalidate(&mut self) {
        self.weights = None;
        self.known.clear();
    }

    /// One optimizer step of `model` with torch's global-norm clipping at `max_grad_norm`
    /// folded into the update (one pass over the gradients fewer); the copied weights go
    /// before the update allocates new values, and the next pass builds them from the values
    /// the optimizer kept. Returns the gradients' norm before clipping.
    /// The word embeddings' gradient is read only in the rows of the tokens back-propagated
    /// through here (the same bits as reading all of it).
    pub(crate) fn optimizer_step(
        &mut self,
        optimizer: &mut AdamW<A::InnerBackend>,
        model: &mut impl ParamTable<A>,
        mut grads: NamedGrads<A::InnerBackend>,
        lr: f64,
        max_grad_norm: f64,
    ) -> f64 {
        let hints: RowHints = self
            .touched
            .take()
            .map(|(name, width, ids)| (name, TouchedRows::new(width, ids)))
            .into_iter()
            .collect();
        let norm = global_norm_rows(&mut grads, &hints);
        let grad_scale = clip_scale(norm, max_grad_norm);
        self.invalidate();
        optimizer.step_rows(model, grads, StepRate { lr, grad_scale }, &hints);
        self.known = optimizer.take_kept_values();
        norm
    }

    /// Forgets the passes of an unfinished batch.
    pub(crate) fn clear(&mut self) {
        self.passes.clear();
    }

    /// The pass of `model` over the groups of rows (each with its dropout seed) packed
    /// together, and its states pooled by `mode` (`[all rows, dim]`).
    fn pass(
        &mut self,
        (model, config): (&Transformer<A>, &TransformerConfig),
        mode: Pooling,
        groups: &[(&[&Tokens], u64)],
    ) -> Result<(TrainPass, TensorData), TrainerError> {
        if self.weights.is_none() {
            let (model, config) = bert_shaped(model, config)?;
            let weights = FusedBert::from_model_with(model, config, &mut self.known);
            self.known.clear();
            self.weights = Some(weights?);
        }
        let weights = self.weights.as_ref().expect("set above");
        let seeded: Vec<(&[&Tokens], Option<u64>)> = groups
            .iter()
            .map(|&(rows, seed)| (rows, Some(seed)))
            .collect();
        let pass = weights.forward_train_groups(&seeded)?;
        let dim = weights.hidden();
        let n = pass.states().offsets.len() - 1;
        let pooled: Vec<f32> = (0..n)
            .flat_map(|i| pool(mode, pass.states().sequence(i), dim))
            .collect();
        Ok((pass, TensorData::new(pooled, [n, dim])))
    }

    /// `model`'s states of `rows` pooled by `mode` (dropout from `seed`) as a Burn leaf
    /// `[rows, hidden]` that [`backward_named`](Self::backward_named) back-propagates from
    /// (the cross-encoder reads the first token: [`Pooling::Cls`]).
    pub(crate) fn leaf(
        &mut self,
        model: (&Transformer<A>, &TransformerConfig),
        mode: Pooling,
        rows: &[&Tokens],
        seed: u64,
        device: &A::Device,
    ) -> Result<Tensor<A, 2>, TrainerError> {
        let (pass, pooled) = self.pass(model, mode, &[(rows, seed)])?;
        let leaf = Tensor::<A, 2>::from_data(pooled, device).require_grad();
        self.passes.push((pass, leaf.clone(), mode));
        Ok(leaf)
    }

    /// Pooled (and, as the model says, normalized) embeddings of each group of rows with
    /// dropout from its seed, differentiable through [`backward`](Self::backward): one pass
    /// over every group, one leaf, sliced per group.
    pub(crate) fn embed_groups(
        &mut self,
        encoder: &SentenceEncoder<A>,
        groups: &[(&[&Tokens], u64)],
    ) -> Result<Vec<Tensor<A, 2>>, TrainerError> {
        let model = (&encoder.model, &encoder.model_config);
        let mode = encoder.st_config.pooling;
        let (pass, pooled) = self.pass(model, mode, groups)?;
        let leaf = Tensor::<A, 2>::from_data(pooled, encoder.device()).require_grad();
        self.passes.push((pass, leaf.clone(), mode));
        let all = if encoder.st_config.normalize {
            l2_normalize(leaf)
        } else {
            leaf
        };
        let mut start = 0;
        Ok(groups
            .iter()
            .map(|(rows, _)| {
                let part = all.clone().narrow(0, start, rows.len());
                start += rows.len();
                part
            })
            .collect())
    }

    /// As [`embed_groups`](Self::embed_groups) of one group without keeping the pass: the
    /// same values (same dropout masks), no graph (GradCache's first pass).
    pub(crate) fn embed_detached(
        &mut self,
        encoder: &SentenceEncoder<A>,
        rows: &[&Tokens],
        seed: u64,
    ) -> Result<Tensor<A::InnerBackend, 2>, TrainerError> {
        let model = (&encoder.model, &encoder.model_config);
        let (_, pooled) = self.pass(model, encoder.st_config.pooling, &[(rows, seed)])?;
        let t = Tensor::<A::InnerBackend, 2>::from_data(pooled, encoder.device());
        Ok(if encoder.st_config.normalize {
            l2_normalize(t)
        } else {
            t
        })
    }

    /// Whether the current batch was embedded here.
    pub(crate) fn has_passes(&self) -> bool {
        !self.passes.is_empty()
    }

    /// Back-propagates the loss' gradients `g` through every pass of the batch; the
    /// parameters' gradients by name (only those `model` has), for a sentence encoder.
    pub(crate) fn backward(
        &mut self,
        encoder: &mut SentenceEncoder<A>,
        g: &A::Gradients,
    ) -> Result<NamedGrads<A::InnerBackend>, TrainerError> {
        let device = encoder.device().clone();
        self.backward_named(&mut encoder.model, "", g, &device)
    }

    /// As [`backward`](Self::backward) for any model whose BERT parameters carry `prefix`
    /// before their Hugging Face names (the family's body prefix, `bert.` / `roberta.` / `mpnet.`, in the cross-encoder).
    pub(crate) fn backward_named(
        &mut self,
        model: &mut impl ParamTable<A>,
        prefix: &str,
        g: &A::Gradients,
        device: &A::Device,
    ) -> Result<NamedGrads<A::InnerBackend>, TrainerError> {
        let passes = std::mem::take(&mut self.passes);
        let weights = self.weights.as_ref().ok_or_else(|| TrainerError::Engine {
            problem: "a backward pass without its forward pass".into(),
        })?;
        let mut grads = HostGrads::zeros(weights);
        let word = format!("{prefix}embeddings.word_embeddings.weight");
        let touched = self
            .touched
            .get_or_insert_with(|| (word, weights.hidden(), Vec::new()));
        for (pass, leaf, mode) in passes {
            let Some(d) = leaf.grad(g) else { continue };
            touched.2.extend(pass.token_ids());
            let d_pooled = host_f32(d)?;
            let states = pass.states();
            let h = states.hidden;
            let mut d_states = vec![0.0f32; states.data.len()];
            for (i, dp) in d_pooled.chunks_exact(h).enumerate() {
                let (a, b) = (states.offsets[i] * h, states.offsets[i + 1] * h);
                pool_backward(mode, states.sequence(i), dp, &mut d_states[a..b]);
            }
            weights.backward(&pass, d_states, &mut grads)?;
        }
        let mut by_name: HashMap<String, Vec<f32>> = grads
            .into_named()
            .into_iter()
            .map(|(name, v)| (format!("{prefix}{name}"), v))
            .collect();
        let mut out = BTreeMap::new();
        model.visit_params(&mut |name, _| {
            if let Some(v) = by_name.remove(&name) {
                let n = v.len();
                out.insert(
                    name,
                    Tensor::<A::InnerBackend, 1>::from_data(TensorData::new(v, [n]), device),
                );
            }
        });
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{CpuAutodiff, cpu_device};
    use crate::fixture::tiny_bert_dir;
    use crate::{EncoderConfig, Engine};

    /// Every row of the word embeddings' gradient that is not zero belongs to a token of the
    /// batch, so the optimizer may skip the others ([`super::super::rows`]); over two
    /// backward passes (gradient accumulation) the rows of both are kept, and the optimizer
    /// step takes them.
    #[test]
    fn touched_rows_hold_every_nonzero_word_gradient() {
        let dir = tiny_bert_dir();
        let config = EncoderConfig::new(dir.to_str().unwrap()).with_engine(Engine::Fused);
        let mut enc = SentenceEncoder::<CpuAutodiff>::load(&config, &cpu_device()).unwrap();
        let mut step = FusedStep::<CpuAutodiff>::default();
        let mut seen = Vec::new();
        let batches = [
            ["uber ride to the airport", "team dinner in new york"],
            ["aws invoice march", "office chairs"],
        ];
        for (i, texts) in batches.iter().enumerate() {
            let rows = enc.tokenize(texts, None).unwrap();
            let refs: Vec<&Tokens> = rows.iter().collect();
            seen.extend(
                rows.iter()
                    .flat_map(|t| t.ids.iter().map(|&id| id as usize)),
            );
            let e = step
                .embed_groups(&enc, &[(&refs, 11 + i as u64)])
                .unwrap()
                .remove(0);
            let weights = Tensor::<CpuAutodiff, 2>::from_data(
                TensorData::new(vec![0.3f32; e.dims()[0] * e.dims()[1]], e.dims()),
                enc.device(),
            );
            let loss = (e * weights).sum();
            let grads = step.backward(&mut enc, &loss.backward()).unwrap();
            let word = host_f32(grads["embeddings.word_embeddings.weight"].clone()).unwrap();
            let (name, width, ids) = step.touched.clone().expect("rows recorded");
            assert_eq!(name, "embeddings.word_embeddings.weight");
            let touched = TouchedRows::new(width, ids);
            assert!(touched.fits(word.len()));
            let nonzero: Vec<usize> = (0..word.len() / width)
                .filter(|&r| word[r * width..(r + 1) * width].iter().any(|&v| v != 0.0))
                .collect();
            assert!(!nonzero.is_empty());
            let missing: Vec<_> = nonzero
                .iter()
                .filter(|r| touched.rows.binary_search(r).is_err())
                .collect();
            assert!(missing.is_empty(), "rows {missing:?} have gradients");
            assert_eq!(touched.rows, TouchedRows::new(width, seen.clone()).rows);
            assert!(touched.rows.len() < word.len() / width / 2);
        }
        let grads = BTreeMap::new();
        let mut opt = AdamW::new(0.01, 1e-6);
        step.optimizer_step(&mut opt, &mut enc.model, grads, 1e-3, 1.0);
        assert!(step.touched.is_none(), "the step takes the rows");
    }
}
