//! Loading weights from a Hugging Face `model.safetensors` and saving them back.
//!
//! [`ParamTable`] is the one name table of a model: it walks the model and hands every
//! parameter to a callback with its Hugging Face name and layout ([`visit_bert`] for the
//! BERT-shaped families, `ModernBertModel::visit_params` for ModernBERT), and both loading and
//! saving go through it, so the names cannot drift apart. Linear weights are `[out, in]` in HF files and `[in, out]`
//! in Burn; they are transposed on the way in and back on the way out. Files may prefix names
//! with `bert.`, name LayerNorm parameters `gamma`/`beta`, and store f16, bf16 or f64: all are
//! accepted and read as f32. Saved files carry the metadata `format: pt`, without which
//! transformers refuses them.

use crate::arch::{EmbeddingPart, Family, LayerPart};
use crate::bert::BertModel;
use crate::error::TrainerError;
use crate::transformer::{Transformer, TransformerConfig};
use burn::module::Param;
use burn::tensor::{Tensor, TensorData, backend::Backend};
use safetensors::{Dtype, SafeTensors, tensor::TensorView};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// A parameter as the name table hands it out.
pub enum Slot<'a, B: Backend> {
    /// A Linear weight: Burn `[in, out]`, HF `[out, in]`.
    Linear(&'a mut Param<Tensor<B, 2>>),
    /// A matrix stored the same way in both (embedding tables).
    Matrix(&'a mut Param<Tensor<B, 2>>),
    /// A vector (biases, LayerNorm).
    Vector(&'a mut Param<Tensor<B, 1>>),
}

/// Hands a linear layer's weight and bias to `f` as `{prefix}.weight` / `{prefix}.bias`.
pub(crate) fn linear<B: Backend>(
    prefix: &str,
    l: &mut burn::nn::Linear<B>,
    f: &mut dyn FnMut(String, Slot<'_, B>),
) {
    f(format!("{prefix}.weight"), Slot::Linear(&mut l.weight));
    if let Some(b) = l.bias.as_mut() {
        f(format!("{prefix}.bias"), Slot::Vector(b));
    }
}

/// Hands a LayerNorm's weight and bias (when it has one) to `f` as `{prefix}.weight` / `{prefix}.bias`.
pub(crate) fn layer_norm<B: Backend>(
    prefix: &str,
    n: &mut burn::nn::LayerNorm<B>,
    f: &mut dyn FnMut(String, Slot<'_, B>),
) {
    f(format!("{prefix}.weight"), Slot::Vector(&mut n.gamma));
    if let Some(b) = n.beta.as_mut() {
        f(format!("{prefix}.bias"), Slot::Vector(b));
    }
}

/// The name table: every parameter of a BERT-shaped model's encoder (its pooler is named by
/// `Transformer::visit_named`) with its HF name under `prefix`, the names coming from the
/// model's [`Family`].
pub(crate) fn visit_bert<B: Backend>(
    model: &mut BertModel<B>,
    prefix: &str,
    f: &mut dyn FnMut(String, Slot<'_, B>),
) {
    let family = model.family;
    let e = &mut model.embeddings;
    let emb = |part| format!("{prefix}{}", family.embedding_name(part));
    f(
        format!("{}.weight", emb(EmbeddingPart::Word)),
        Slot::Matrix(&mut e.word.weight),
    );
    f(
        format!("{}.weight", emb(EmbeddingPart::Position)),
        Slot::Matrix(&mut e.position.weight),
    );
    if let Some(tt) = e.token_type.as_mut() {
        f(
            format!("{}.weight", emb(EmbeddingPart::TokenType)),
            Slot::Matrix(&mut tt.weight),
        );
    }
    layer_norm(&emb(EmbeddingPart::Norm), &mut e.norm, f);
    for (i, layer) in model.layers.iter_mut().enumerate() {
        let p = |part| format!("{prefix}{}", family.layer_name(i, part));
        let a = &mut layer.attention;
        linear(&p(LayerPart::Query), &mut a.query, f);
        linear(&p(LayerPart::Key), &mut a.key, f);
        linear(&p(LayerPart::Value), &mut a.value, f);
        linear(&p(LayerPart::AttentionOutput), &mut a.output, f);
        layer_norm(&p(LayerPart::AttentionNorm), &mut a.norm, f);
        linear(&p(LayerPart::Intermediate), &mut layer.intermediate, f);
        linear(&p(LayerPart::Output), &mut layer.output, f);
        layer_norm(&p(LayerPart::OutputNorm), &mut layer.norm, f);
    }
    if let Some(bias) = model.relative_bias.as_mut() {
        f(
            format!("{prefix}{}", Family::RELATIVE_BIAS),
            Slot::Matrix(&mut bias.weight),
        );
    }
}

/// A model whose parameters have Hugging Face names: loading, saving, gradients and the
/// optimizer all walk it through this one table.
pub trait ParamTable<B: Backend> {
    /// Hands every parameter to `f` with its HF name.
    fn visit_params(&mut self, f: &mut dyn FnMut(String, Slot<'_, B>));
}

/// What loading found besides the tensors it used.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoadReport {
    /// Tensors loaded.
    pub loaded: usize,
    /// Tensors in the file the model does not use, as `name [shape]` (`embeddings.position_ids`
    /// is left out: it is a buffer, not a weight).
    pub unused: Vec<String>,
    /// Whether the file had a pooler (the model then has one).
    pub has_pooler: bool,
    /// The prefix stripped from names (`bert.`), if any.
    pub stripped_prefix: Option<String>,
}

/// Reads tensor values as f32 whatever the stored float type.
pub(crate) fn to_f32(view: &TensorView<'_>) -> Option<Vec<f32>> {
    let d = view.data();
    let v = match view.dtype() {
        Dtype::F32 => d
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        Dtype::F16 => d
            .chunks_exact(2)
            .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect(),
        Dtype::BF16 => d
            .chunks_exact(2)
            .map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect(),
        Dtype::F64 => d
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")) as f32)
            .collect(),
        _ => return None,
    };
    Some(v)
}

fn transpose(v: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0.0; v.len()];
    for r in 0..rows {
        for c in 0..cols {
            out[c * rows + r] = v[r * cols + c];
        }
    }
    out
}

/// The HF name a file's tensor name stands for: without `prefix`, LayerNorm gamma/beta as weight/bias.
pub(crate) fn canonical(name: &str, prefix: &str) -> String {
    let name = name.strip_prefix(prefix).unwrap_or(name);
    if name.contains("LayerNorm") {
        if let Some(base) = name.strip_suffix(".gamma") {
            return format!("{base}.weight");
        }
        if let Some(base) = name.strip_suffix(".beta") {
            return format!("{base}.bias");
        }
    }
    name.to_owned()
}

/// Parsed tensors of one safetensors file, keyed by canonical name.
pub(crate) struct TensorFile {
    bytes: Vec<u8>,
}

impl TensorFile {
    pub(crate) fn read(path: &Path) -> Result<Self, TrainerError> {
        Ok(Self {
            bytes: std::fs::read(path).map_err(TrainerError::io(path))?,
        })
    }

    pub(crate) fn parse(&self, path: &Path) -> Result<SafeTensors<'_>, TrainerError> {
        SafeTensors::deserialize(&self.bytes).map_err(|source| TrainerError::Safetensors {
            path: path.to_owned(),
            source,
        })
    }
}

/// Sets every parameter the name table visits from `tensors` (canonical names); returns the
/// problems (missing, wrong shape or type) and the names used. Parameters for which
/// `may_be_missing` is true keep their initial values when the file lacks them.
pub(crate) fn fill_params<B: Backend>(
    model: &mut impl ParamTable<B>,
    tensors: &HashMap<String, TensorView<'_>>,
    device: &B::Device,
    may_be_missing: &dyn Fn(&str) -> bool,
) -> (Vec<String>, Vec<String>) {
    let mut problems = Vec::new();
    let mut used = Vec::new();
    model.visit_params(&mut |name, slot| {
        let Some(view) = tensors.get(&name) else {
            if !may_be_missing(&name) {
                problems.push(format!("{name}: missing"));
            }
            return;
        };
        let Some(values) = to_f32(view) else {
            problems.push(format!(
                "{name}: dtype {:?} is not a float type",
                view.dtype()
            ));
            return;
        };
        let bad = non_finite(&values);
        if bad > 0 {
            problems.push(format!(
                "{name}: {bad} of {} values are NaN or infinite (a diverged training run?)",
                values.len()
            ));
            return;
        }
        let shape = view.shape().to_vec();
        let check = |want: Vec<usize>, problems: &mut Vec<String>| {
            if shape == want {
                true
            } else {
                problems.push(format!("{name}: expected shape {want:?}, found {shape:?}"));
                false
            }
        };
        match slot {
            // The shapes of the lazy parameters: reading their values would first draw
            // the random initialization that the checkpoint replaces.
            Slot::Linear(p) => {
                let [din, dout] = p.lazy_shape().dims::<2>();
                if check(vec![dout, din], &mut problems) {
                    let data = TensorData::new(transpose(&values, dout, din), [din, dout]);
                    *p = Param::from_tensor(Tensor::from_data(data, device));
                }
            }
            Slot::Matrix(p) => {
                let dims = p.lazy_shape().dims::<2>();
                if check(dims.to_vec(), &mut problems) {
                    *p = Param::from_tensor(Tensor::from_data(
                        TensorData::new(values, dims),
                        device,
                    ));
                }
            }
            Slot::Vector(p) => {
                let dims = p.lazy_shape().dims::<1>();
                if check(dims.to_vec(), &mut problems) {
                    *p = Param::from_tensor(Tensor::from_data(
                        TensorData::new(values, dims),
                        device,
                    ));
                }
            }
        }
        used.push(name);
    });
    (problems, used)
}

/// Loads a checkpoint of any supported family; missing tensors and shape mismatches are one
/// error listing them all.
pub fn load_model<B: Backend>(
    config: &TransformerConfig,
    path: impl AsRef<Path>,
    device: &B::Device,
) -> Result<(Transformer<B>, LoadReport), TrainerError> {
    let path = path.as_ref();
    let file = TensorFile::read(path)?;
    let st = file.parse(path)?;
    let names = st.names();
    let body = config.family().body_prefix();
    let stripped_prefix = names
        .iter()
        .any(|n| n.starts_with(body))
        .then(|| body.to_owned());
    let prefix = stripped_prefix.as_deref().unwrap_or("");
    let tensors: HashMap<String, TensorView<'_>> = st
        .tensors()
        .into_iter()
        .map(|(n, v)| (canonical(&n, prefix), v))
        .collect();
    let has_pooler =
        config.bert().is_some() && tensors.contains_key(&format!("{}.weight", Family::POOLER));
    let mut model = Transformer::init(config, has_pooler, device);
    let (problems, used) = fill_params(&mut model, &tensors, device, &|_| false);
    if !problems.is_empty() {
        return Err(TrainerError::Weights {
            path: path.to_owned(),
            problems,
        });
    }
    let mut unused: Vec<String> = tensors
        .iter()
        .filter(|(n, _)| !used.contains(n) && n.as_str() != "embeddings.position_ids")
        .map(|(n, v)| format!("{n} {:?}", v.shape()))
        .collect();
    unused.sort();
    Ok((
        model,
        LoadReport {
            loaded: used.len(),
            unused,
            has_pooler,
            stripped_prefix,
        },
    ))
}

/// Collects every parameter under its HF name, in HF layout, as (shape, f32 values).
pub(crate) fn collect_params<B: Backend, M: ParamTable<B> + Clone>(
    model: &M,
    out: &mut BTreeMap<String, (Vec<usize>, Vec<f32>)>,
) {
    let mut model = model.clone();
    model.visit_params(&mut |name, slot| {
        let (shape, values) = match slot {
            Slot::Linear(p) => {
                let [din, dout] = p.val().dims();
                let v: Vec<f32> = p
                    .val()
                    .into_data()
                    .convert::<f32>()
                    .into_vec()
                    .expect("f32 data");
                (vec![dout, din], transpose(&v, din, dout))
            }
            Slot::Matrix(p) => (
                p.val().dims().to_vec(),
                p.val()
                    .into_data()
                    .convert::<f32>()
                    .into_vec()
                    .expect("f32 data"),
            ),
            Slot::Vector(p) => (
                p.val().dims().to_vec(),
                p.val()
                    .into_data()
                    .convert::<f32>()
                    .into_vec()
                    .expect("f32 data"),
            ),
        };
        out.insert(name, (shape, values));
    });
}

/// Named f32 tensors (as [`collect_params`] gives them) as the little-endian bytes that
/// safetensors views borrow: `(name, shape, bytes)`.
pub(crate) fn f32_bytes(
    tensors: &BTreeMap<String, (Vec<usize>, Vec<f32>)>,
) -> Vec<(&str, &[usize], Vec<u8>)> {
    tensors
        .iter()
        .map(|(n, (shape, v))| {
            (
                n.as_str(),
                shape.as_slice(),
                v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            )
        })
        .collect()
}

/// f32 safetensors views over [`f32_bytes`]; `path` names the tensors in an error.
pub(crate) fn f32_views<'a>(
    bytes: &'a [(&str, &[usize], Vec<u8>)],
    path: &Path,
) -> Result<Vec<(String, TensorView<'a>)>, TrainerError> {
    bytes
        .iter()
        .map(|(n, shape, b)| {
            TensorView::new(Dtype::F32, shape.to_vec(), b).map(|v| ((*n).to_owned(), v))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| TrainerError::Safetensors {
            path: path.to_owned(),
            source,
        })
}

/// How many of `values` are NaN or infinite.
pub(crate) fn non_finite(values: &[f32]) -> usize {
    values.iter().filter(|x| !x.is_finite()).count()
}

/// Writes named f32 tensors as safetensors with `format: pt` metadata, atomically; refuses
/// (writing nothing) when any value is NaN or infinite, naming the tensors.
pub(crate) fn write_safetensors(
    path: &Path,
    tensors: &BTreeMap<String, (Vec<usize>, Vec<f32>)>,
) -> Result<(), TrainerError> {
    let problems: Vec<String> = tensors
        .iter()
        .filter_map(|(name, (_, v))| {
            let bad = non_finite(v);
            (bad > 0).then(|| {
                format!(
                    "{name}: {bad} of {} values are NaN or infinite; not saved",
                    v.len()
                )
            })
        })
        .collect();
    if !problems.is_empty() {
        return Err(TrainerError::Weights {
            path: path.to_owned(),
            problems,
        });
    }
    let bytes = f32_bytes(tensors);
    let views = f32_views(&bytes, path)?;
    let metadata = HashMap::from([("format".to_owned(), "pt".to_owned())]);
    let tmp = path.with_extension("safetensors.tmp");
    safetensors::serialize_to_file(views, Some(metadata), &tmp).map_err(|source| {
        TrainerError::Safetensors {
            path: path.to_owned(),
            source,
        }
    })?;
    std::fs::rename(&tmp, path).map_err(TrainerError::io(path))
}

/// Saves a model as a Hugging Face `model.safetensors` (HF names, f32, `format: pt`).
pub fn save_model<B: Backend>(
    model: &Transformer<B>,
    path: impl AsRef<Path>,
) -> Result<(), TrainerError> {
    let mut tensors = BTreeMap::new();
    collect_params(model, &mut tensors);
    write_safetensors(path.as_ref(), &tensors)
}

/// Loads weights into `model` (any [`ParamTable`]) from a safetensors file of our own writing
/// (a checkpoint's, a weight average's): every parameter must be there.
pub(crate) fn load_weights<B: Backend>(
    model: &mut impl ParamTable<B>,
    path: &Path,
    device: &B::Device,
) -> Result<(), TrainerError> {
    let file = TensorFile::read(path)?;
    let st = file.parse(path)?;
    let tensors: HashMap<String, TensorView<'_>> = st.tensors().into_iter().collect();
    let (problems, _) = fill_params(model, &tensors, device, &|_| false);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(TrainerError::Weights {
            path: path.to_owned(),
            problems,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{Cpu, cpu_device};

    fn tiny() -> TransformerConfig {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.json");
        std::fs::write(&p, r#"{"vocab_size":20,"hidden_size":8,"num_hidden_layers":2,"num_attention_heads":2,"intermediate_size":16,"max_position_embeddings":16}"#).unwrap();
        TransformerConfig::from_file(&p).unwrap()
    }

    fn resized(
        config: &TransformerConfig,
        f: impl FnOnce(&mut crate::bert::BertConfig),
    ) -> TransformerConfig {
        let mut c = config.bert().unwrap().clone();
        f(&mut c);
        TransformerConfig::Bert(c)
    }

    #[test]
    fn save_then_load_is_identical_and_names_match_hf() {
        let dev = cpu_device();
        let config = tiny();
        let model = Transformer::<Cpu>::init(&config, true, &dev);
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("model.safetensors");
        save_model(&model, &p).unwrap();
        let (back, report) = load_model::<Cpu>(&config, &p, &dev).unwrap();
        assert!(report.has_pooler && report.unused.is_empty());
        assert_eq!(report.loaded, 5 + 16 * 2 + 2);
        let (mut a, mut b) = (BTreeMap::new(), BTreeMap::new());
        collect_params(&model, &mut a);
        collect_params(&back, &mut b);
        assert_eq!(a, b);
        assert!(a.contains_key("encoder.layer.1.attention.self.query.weight"));
        let file = TensorFile::read(&p).unwrap();
        let (_, meta) = SafeTensors::read_metadata(&file.bytes).unwrap();
        assert_eq!(meta.metadata().as_ref().unwrap()["format"], "pt");
    }

    #[test]
    fn prefixed_gamma_beta_f16_files_load_and_problems_are_listed() {
        let dev = cpu_device();
        let config = tiny();
        let model = Transformer::<Cpu>::init(&config, false, &dev);
        let mut params = BTreeMap::new();
        collect_params(&model, &mut params);
        let dir = tempfile::tempdir().unwrap();
        // bert. prefix, gamma/beta names, f16 storage, an extra head tensor.
        let mut owned: Vec<(String, Vec<usize>, Vec<u8>)> = params
            .iter()
            .map(|(n, (s, v))| {
                let n = n
                    .replace("LayerNorm.weight", "LayerNorm.gamma")
                    .replace("LayerNorm.bias", "LayerNorm.beta");
                (
                    format!("bert.{n}"),
                    s.clone(),
                    v.iter()
                        .flat_map(|x| half::f16::from_f32(*x).to_le_bytes())
                        .collect(),
                )
            })
            .collect();
        owned.push(("cls.predictions.bias".into(), vec![20], vec![0; 40]));
        let views: Vec<(String, TensorView<'_>)> = owned
            .iter()
            .map(|(n, s, b)| {
                (
                    n.clone(),
                    TensorView::new(Dtype::F16, s.clone(), b).unwrap(),
                )
            })
            .collect();
        let p = dir.path().join("m.safetensors");
        safetensors::serialize_to_file(views, None, &p).unwrap();
        let (back, report) = load_model::<Cpu>(&config, &p, &dev).unwrap();
        assert_eq!(report.stripped_prefix.as_deref(), Some("bert."));
        assert_eq!(report.unused, vec!["cls.predictions.bias [20]".to_string()]);
        let mut got = BTreeMap::new();
        collect_params(&back, &mut got);
        for (n, (_, v)) in &params {
            let w = &got[n].1;
            assert!(
                v.iter()
                    .zip(w)
                    .all(|(a, b)| (a - b).abs() <= 1e-3 * a.abs().max(1.0)),
                "{n}"
            );
        }
        // A wrong shape and a missing tensor are both reported.
        let small = tiny();
        let bigger = resized(&small, |c| {
            c.hidden_size = 12;
            c.num_attention_heads = 3;
        });
        let err = load_model::<Cpu>(&bigger, &p, &dev)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(
                "embeddings.word_embeddings.weight: expected shape [20, 12], found [20, 8]"
            ),
            "{err}"
        );
        let deeper = resized(&small, |c| c.num_hidden_layers = 3);
        let err = load_model::<Cpu>(&deeper, &p, &dev)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("encoder.layer.2.attention.self.query.weight: missing"),
            "{err}"
        );
    }
}
