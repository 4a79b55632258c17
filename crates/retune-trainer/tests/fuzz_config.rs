//! Loading a model folder whose configuration files hold random JSON (with the real keys and
//! small numbers among the values) returns a model or an error, never a panic: `config.json`,
//! `sentence_bert_config.json`, `modules.json`, `1_Pooling/config.json` and
//! `tokenizer_config.json` in turn.

use proptest::prelude::*;
use retune_trainer::backend::{Cpu, cpu_device};
use retune_trainer::{EncoderConfig, SentenceEncoder};

const FILES: [&str; 5] = [
    "config.json",
    "sentence_bert_config.json",
    "modules.json",
    "1_Pooling/config.json",
    "tokenizer_config.json",
];

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        (-3i64..600).prop_map(serde_json::Value::from),
        (-1.0f64..2.0).prop_map(serde_json::Value::from),
        prop_oneof![
            Just("bert"),
            Just("mpnet"),
            Just("xlm-roberta"),
            Just("gelu"),
            Just("mean"),
            Just("cls"),
            Just(""),
            Just("sentence_transformers.models.Pooling"),
        ]
        .prop_map(serde_json::Value::from),
    ];
    let keys = prop_oneof![
        Just("model_type"),
        Just("architectures"),
        Just("hidden_size"),
        Just("num_attention_heads"),
        Just("num_hidden_layers"),
        Just("intermediate_size"),
        Just("vocab_size"),
        Just("max_position_embeddings"),
        Just("type_vocab_size"),
        Just("pad_token_id"),
        Just("layer_norm_eps"),
        Just("hidden_act"),
        Just("max_seq_length"),
        Just("do_lower_case"),
        Just("word_embedding_dimension"),
        Just("pooling_mode"),
        Just("pooling_mode_mean_tokens"),
        Just("pooling_mode_cls_token"),
        Just("model_max_length"),
        Just("path"),
        Just("type"),
        Just("idx"),
    ];
    leaf.prop_recursive(2, 16, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            prop::collection::btree_map(keys.clone().prop_map(str::to_owned), inner, 0..8)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A copy of the tiny model with `file` replaced by `text`.
fn folder_with(file: &str, text: &str) -> tempfile::TempDir {
    let dir = crate::common::tiny_bert_copy();
    std::fs::write(dir.path().join(file), text).unwrap();
    dir
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(60))]

    #[test]
    fn random_configuration_files_never_panic_the_loader(
        which in 0..FILES.len(),
        value in json_value(),
        raw in prop::collection::vec(any::<u8>(), 0..64),
        use_raw in any::<bool>(),
    ) {
        let text = if use_raw { String::from_utf8_lossy(&raw).into_owned() } else { value.to_string() };
        let dir = folder_with(FILES[which], &text);
        let _ = SentenceEncoder::<Cpu>::load(
            &EncoderConfig::new(dir.path().to_str().unwrap()),
            &cpu_device(),
        );
    }
}
