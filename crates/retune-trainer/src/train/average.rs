//! Weight averaging over the last epochs (stochastic weight averaging with a uniform mean, as
//! in Izmailov et al. 2018): the weights at the end of each of the last N epochs are averaged
//! on the host, and the mean becomes the run's result. On a plateau where the validation
//! score swings from epoch to epoch, the mean of the plateau's weights is one flatter point
//! instead of whichever noisy epoch happened to score best on a small validation split.

use crate::error::TrainerError;
use crate::transformer::Transformer;
use crate::weights::{
    collect_params, f32_bytes, f32_views, fill_params, load_weights, write_safetensors,
};
use burn::tensor::backend::Backend;
use safetensors::tensor::TensorView;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

type Named = BTreeMap<String, (Vec<usize>, Vec<f32>)>;

/// The running mean of a model's parameters (HF names and layout).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WeightAverage {
    /// Models averaged so far.
    pub count: usize,
    params: Named,
}

impl WeightAverage {
    /// Adds a model to the mean: `mean += (x - mean) / count`.
    pub fn add<B: Backend>(&mut self, model: &Transformer<B>) {
        let mut current = BTreeMap::new();
        collect_params(model, &mut current);
        self.count += 1;
        if self.count == 1 {
            self.params = current;
            return;
        }
        let n = self.count as f32;
        for (name, (_, values)) in current {
            let (_, mean) = self.params.get_mut(&name).expect("same model, same names");
            for (m, x) in mean.iter_mut().zip(values) {
                *m += (x - *m) / n;
            }
        }
    }

    /// `template` with the mean's weights.
    pub fn model<B: Backend>(
        &self,
        template: &Transformer<B>,
        device: &B::Device,
    ) -> Result<Transformer<B>, TrainerError> {
        let source = Path::new("averaged weights");
        let bytes = f32_bytes(&self.params);
        let views: HashMap<String, TensorView<'_>> =
            f32_views(&bytes, source)?.into_iter().collect();
        let mut model = template.clone();
        let (problems, _) = fill_params(&mut model, &views, device, &|_| false);
        if problems.is_empty() {
            Ok(model)
        } else {
            Err(TrainerError::Weights {
                path: source.to_owned(),
                problems,
            })
        }
    }

    /// Writes the mean as safetensors (the count goes into the checkpoint's state).
    pub(crate) fn save(&self, path: &Path) -> Result<(), TrainerError> {
        write_safetensors(path, &self.params)
    }

    /// The mean saved by [`save`](Self::save) in `path`, of `count` models.
    pub(crate) fn load<B: Backend>(
        path: &Path,
        count: usize,
        template: &Transformer<B>,
        device: &B::Device,
    ) -> Result<Self, TrainerError> {
        let mut model = template.clone();
        load_weights(&mut model, path, device)?;
        let mut params = BTreeMap::new();
        collect_params(&model, &mut params);
        Ok(Self { count, params })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::Cpu as NdArray;
    use crate::fixture::tiny_bert_config;

    #[test]
    fn mean_of_models_and_round_trip() {
        let device = Default::default();
        // Three random initializations (Burn's RNG: different weights each time).
        let config = crate::TransformerConfig::Bert(tiny_bert_config(120));
        let init = || Transformer::<NdArray>::init(&config, true, &device);
        let (a, b, c) = (init(), init(), init());
        let mut avg = WeightAverage::default();
        for m in [&a, &b, &c] {
            avg.add(m);
        }
        assert_eq!(avg.count, 3);
        let mean = avg.model(&a, &device).unwrap();
        let named = |m: &Transformer<NdArray>| {
            let mut out = BTreeMap::new();
            collect_params(m, &mut out);
            out
        };
        let (na, nb, nc, nm) = (named(&a), named(&b), named(&c), named(&mean));
        for (name, (_, m)) in &nm {
            for i in [0, m.len() / 2, m.len() - 1] {
                let want = (na[name].1[i] + nb[name].1[i] + nc[name].1[i]) / 3.0;
                assert!((m[i] - want).abs() < 1e-6, "{name}[{i}]");
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("average.safetensors");
        avg.save(&path).unwrap();
        let back = WeightAverage::load(&path, 3, &a, &device).unwrap();
        assert_eq!(back, avg);
    }
}
