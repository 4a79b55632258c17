//! Every reader of user files takes random bytes and random JSON without a panic: it returns
//! records or an error, nothing else (JSONL records of each type, categories, corpora, labeled
//! queries and inputs).

use proptest::prelude::*;
use retune_data::{
    EvalItem, NTuple, ReadMode, TrainRecord, Transaction, load_categories, load_corpus, read_jsonl,
    read_labeled_inputs, read_labeled_queries,
};
use std::path::Path;

/// Calls every reader on `path` (a `.jsonl` and a `.json` copy), ignoring their results.
fn read_everything(bytes: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    let jsonl = dir.path().join("x.jsonl");
    let json = dir.path().join("x.json");
    std::fs::write(&jsonl, bytes).unwrap();
    std::fs::write(&json, bytes).unwrap();
    for mode in [ReadMode::Strict, ReadMode::Lenient] {
        let _ = read_jsonl::<Transaction>(&jsonl, mode);
        let _ = read_jsonl::<EvalItem>(&jsonl, mode);
        let _ = read_jsonl::<TrainRecord>(&jsonl, mode);
        let _ = read_jsonl::<NTuple>(&jsonl, mode);
    }
    let _ = load_categories(&json);
    let _ = read_labeled_inputs(&jsonl);
    for p in [&jsonl, &json] {
        if let Ok(corpus) = load_corpus(p) {
            let _ = read_labeled_queries(&jsonl, &corpus, Path::new(p), false);
        }
    }
}

/// Random JSON values, nested a few levels.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        "[a-z \\u{1b}\\n\"]{0,12}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(serde_json::Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("input".to_owned()),
                    Just("expected".to_owned()),
                    Just("category".to_owned()),
                    Just("id".to_owned()),
                    Just("text".to_owned()),
                    Just("anchor".to_owned()),
                    Just("positive".to_owned()),
                    Just("merchant_name".to_owned()),
                    "[a-z]{1,8}",
                ],
                inner,
                0..6
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn random_bytes_never_panic_a_reader(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        read_everything(&bytes);
    }

    #[test]
    fn random_json_never_panics_a_reader(values in prop::collection::vec(json_value(), 0..6)) {
        let lines: Vec<String> = values.iter().map(ToString::to_string).collect();
        read_everything(lines.join("\n").as_bytes());
        read_everything(serde_json::Value::Array(values).to_string().as_bytes());
    }
}
