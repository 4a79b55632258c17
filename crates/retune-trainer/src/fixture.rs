//! The tiny random BERT that unit tests run on: 2 layers, hidden 32, 4 heads, a WordPiece
//! vocabulary of the transaction domain with a real `tokenizer.json`, mean pooling and
//! normalization, in the full sentence-transformers layout. Weights come from a seeded ChaCha
//! generator, so [`write_tiny_bert`] gives byte-identical files every time;
//! `fixtures/tiny-bert/` holds its output (regenerate with `retune make-fixtures`). Built for
//! the crate's tests and under the `fixtures` feature only: it is no part of the library's
//! API.

use crate::bert::{Activation, BertConfig};
use crate::error::TrainerError;
use crate::export::{write_json, write_st_files};
use crate::pooling::Pooling;
use crate::st_config::SentenceTransformerConfig;
use crate::weights::write_safetensors;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const SPECIAL: [&str; 5] = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];
const WORDS: &str = "name category department location amount card trip unknown travel meals \
    software licenses cloud hosting hardware equipment office supplies marketing advertising \
    professional services consulting legal training education subscriptions memberships \
    internet network it support maintenance facilities rent utilities insurance events \
    conferences recruiting employee benefits shipping postage telecommunications research \
    development engineering finance sales hr operations annual budget program inc llc corp \
    ground transport airfare accommodation entertainment stationery san francisco new york \
    chicago austin seattle boston ca ny il tx wa ma usa uber delta hilton amazon adobe zoom \
    the and of for to in a & : , . - /";

/// The architecture of the tiny model.
pub fn tiny_bert_config(vocab_size: usize) -> BertConfig {
    BertConfig {
        family: crate::arch::Family::Bert,
        relative_attention_num_buckets: 0,
        vocab_size,
        hidden_size: 32,
        num_hidden_layers: 2,
        num_attention_heads: 4,
        intermediate_size: 64,
        max_position_embeddings: 128,
        type_vocab_size: 2,
        layer_norm_eps: 1e-12,
        hidden_act: Activation::Gelu,
        hidden_dropout_prob: 0.1,
        attention_probs_dropout_prob: 0.1,
        pad_token_id: 0,
    }
}

fn vocabulary() -> Vec<String> {
    let mut v: Vec<String> = SPECIAL.iter().map(|s| s.to_string()).collect();
    let chars: Vec<char> = ('a'..='z').chain('0'..='9').collect();
    v.extend(chars.iter().map(|c| c.to_string()));
    v.extend("!\"#$%&'()*+,-./:;<=>?@[]_".chars().map(|c| c.to_string()));
    v.extend(chars.iter().map(|c| format!("##{c}")));
    for w in WORDS.split_whitespace() {
        if !v.iter().any(|x| x == w) {
            v.push(w.to_owned());
        }
    }
    v
}

fn tok_err(path: &Path) -> impl Fn(tokenizers::Error) -> TrainerError + '_ {
    move |e| TrainerError::Tokenizer {
        path: path.to_owned(),
        message: e.to_string(),
    }
}

fn write_tokenizer(dir: &Path, vocab: &[String]) -> Result<(), TrainerError> {
    use tokenizers::models::wordpiece::WordPiece;
    use tokenizers::normalizers::bert::BertNormalizer;
    use tokenizers::pre_tokenizers::bert::BertPreTokenizer;
    use tokenizers::processors::template::TemplateProcessing;
    let vocab_path = dir.join("vocab.txt");
    std::fs::write(&vocab_path, vocab.join("\n") + "\n").map_err(TrainerError::io(&vocab_path))?;
    let path = dir.join("tokenizer.json");
    let err = tok_err(&path);
    let wp = WordPiece::from_file(&vocab_path.to_string_lossy())
        .unk_token("[UNK]".into())
        .build()
        .map_err(&err)?;
    let mut tok = tokenizers::Tokenizer::new(wp);
    tok.with_normalizer(Some(BertNormalizer::new(true, true, None, true)));
    tok.with_pre_tokenizer(Some(BertPreTokenizer));
    let post = TemplateProcessing::builder()
        .try_single("[CLS] $A [SEP]")
        .map_err(|e| err(e.into()))?
        .try_pair("[CLS] $A [SEP] $B:1 [SEP]:1")
        .map_err(|e| err(e.into()))?
        .special_tokens(vec![("[CLS]", 2), ("[SEP]", 3)])
        .build()
        .map_err(|e| err(e.into()))?;
    tok.with_post_processor(Some(post));
    tok.save(&path, true).map_err(&err)?;
    let cfg = dir.join("tokenizer_config.json");
    let text = serde_json::json!({
        "do_lower_case": true, "unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]",
        "cls_token": "[CLS]", "mask_token": "[MASK]", "tokenize_chinese_chars": true,
        "tokenizer_class": "BertTokenizer", "model_max_length": 128
    });
    std::fs::write(&cfg, text.to_string()).map_err(TrainerError::io(&cfg))
}

/// Seeded values for named tensors in HF layout.
struct WeightGen {
    rng: ChaCha8Rng,
    out: BTreeMap<String, (Vec<usize>, Vec<f32>)>,
}

impl WeightGen {
    /// Uniform values in `center ± spread`.
    fn add(&mut self, name: String, shape: Vec<usize>, center: f32, spread: f32) {
        let n: usize = shape.iter().product();
        let v = (0..n)
            .map(|_| center + spread * (self.rng.random::<f32>() * 2.0 - 1.0))
            .collect();
        self.out.insert(name, (shape, v));
    }

    /// A LayerNorm near the identity (small noise, so gradient checks see non-trivial norms).
    fn norm(&mut self, prefix: &str, dim: usize) {
        self.add(format!("{prefix}.weight"), vec![dim], 1.0, 0.1);
        self.add(format!("{prefix}.bias"), vec![dim], 0.0, 0.1);
    }

    /// A Linear layer `[dout, din]` with a fan-in scaled uniform init.
    fn linear(&mut self, prefix: &str, dout: usize, din: usize) {
        self.add(
            format!("{prefix}.weight"),
            vec![dout, din],
            0.0,
            (3.0 / din as f32).sqrt(),
        );
        self.add(format!("{prefix}.bias"), vec![dout], 0.0, 0.05);
    }
}

/// Seeded weights for the whole model.
fn random_weights(config: &BertConfig, seed: u64) -> BTreeMap<String, (Vec<usize>, Vec<f32>)> {
    let mut g = WeightGen {
        rng: ChaCha8Rng::seed_from_u64(seed),
        out: BTreeMap::new(),
    };
    let (h, i) = (config.hidden_size, config.intermediate_size);
    g.add(
        "embeddings.word_embeddings.weight".into(),
        vec![config.vocab_size, h],
        0.0,
        0.5,
    );
    g.add(
        "embeddings.position_embeddings.weight".into(),
        vec![config.max_position_embeddings, h],
        0.0,
        0.1,
    );
    g.add(
        "embeddings.token_type_embeddings.weight".into(),
        vec![config.type_vocab_size, h],
        0.0,
        0.1,
    );
    g.norm("embeddings.LayerNorm", h);
    for l in 0..config.num_hidden_layers {
        let p = format!("encoder.layer.{l}");
        for name in ["query", "key", "value"] {
            g.linear(&format!("{p}.attention.self.{name}"), h, h);
        }
        g.linear(&format!("{p}.attention.output.dense"), h, h);
        g.norm(&format!("{p}.attention.output.LayerNorm"), h);
        g.linear(&format!("{p}.intermediate.dense"), i, h);
        g.linear(&format!("{p}.output.dense"), h, i);
        g.norm(&format!("{p}.output.LayerNorm"), h);
    }
    g.linear("pooler.dense", h, h);
    g.out
}

/// Writes the tiny model into `dir` (created if needed).
pub fn write_tiny_bert(dir: &Path, seed: u64) -> Result<(), TrainerError> {
    std::fs::create_dir_all(dir).map_err(TrainerError::io(dir))?;
    let vocab = vocabulary();
    let config = tiny_bert_config(vocab.len());
    write_tokenizer(dir, &vocab)?;
    write_json(&dir.join("config.json"), &config.to_hf_json())?;
    write_safetensors(
        &dir.join("model.safetensors"),
        &random_weights(&config, seed),
    )?;
    let st = SentenceTransformerConfig {
        pooling: Pooling::Mean,
        normalize: true,
        max_seq_length: 64,
        prompts: BTreeMap::from([("query".to_owned(), "query: ".to_owned())]),
        default_prompt_name: None,
    };
    write_st_files(dir, &st, config.hidden_size)
}

/// The committed copy of the tiny model, `fixtures/tiny-bert` at the workspace root.
pub fn tiny_bert_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/tiny-bert");
    assert!(
        dir.join("model.safetensors").exists(),
        "{} is missing: regenerate it with `cargo run --release -- make-fixtures`",
        dir.display()
    );
    dir
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_fixture_is_what_the_generator_writes() {
        let dir = tempfile::tempdir().unwrap();
        write_tiny_bert(dir.path(), 0).unwrap();
        let committed = tiny_bert_dir();
        for f in [
            "config.json",
            "model.safetensors",
            "tokenizer.json",
            "vocab.txt",
            "modules.json",
            "1_Pooling/config.json",
        ] {
            let a = std::fs::read(dir.path().join(f)).unwrap();
            let b = std::fs::read(committed.join(f)).unwrap();
            assert!(
                a == b,
                "{f} differs from the generator's output: rerun make-fixtures"
            );
        }
    }
}
