//! Seeded train / eval / test splits of course-format items, optionally stratified by the
//! expected category, with a leak check: no input text may sit in two splits.
//!
//! Items with the same input text are kept together (they count once when sizes are
//! computed), so a split of deduplicated-or-not data never leaks by construction.

use crate::{DataError, EvalItem, JsonlReader, ReadMode, Transaction};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// Reads items to split: each line is either a course item (`{input, expected}`) or a reviewed
/// transaction (rendered to its text, its `expense_category` expected). Errors name the line
/// and field.
pub fn read_labeled_inputs(path: impl AsRef<Path>) -> Result<Vec<EvalItem>, DataError> {
    let path = path.as_ref();
    let mut out = Vec::new();
    for row in JsonlReader::<serde_json::Value>::open(path, ReadMode::Strict)? {
        let (line, value) = row?;
        let as_item = value.get("input").is_some();
        let fail = |e: serde_path_to_error::Error<serde_json::Error>| DataError::Json {
            path: path.to_owned(),
            line,
            field: e.path().to_string(),
            source: e.into_inner(),
        };
        out.push(if as_item {
            serde_path_to_error::deserialize::<_, EvalItem>(value).map_err(fail)?
        } else {
            let t: Transaction = serde_path_to_error::deserialize(value).map_err(fail)?;
            EvalItem {
                input: t.render(),
                expected: vec![t.expense_category],
            }
        });
    }
    Ok(out)
}

/// How to split.
#[derive(Debug, Clone, PartialEq)]
pub struct SplitConfig {
    /// Fraction of the items that go to eval.
    pub eval_ratio: f64,
    /// Fraction that goes to test (0: no test split).
    pub test_ratio: f64,
    /// Seed of the shuffle.
    pub seed: u64,
    /// Split each category (`expected[0]`) separately, so every split keeps its proportions.
    pub stratify: bool,
}

impl SplitConfig {
    /// An eval fraction; no test split, seed 0, not stratified.
    pub fn new(eval_ratio: f64) -> Self {
        Self {
            eval_ratio,
            test_ratio: 0.0,
            seed: 0,
            stratify: false,
        }
    }

    /// Sets the seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Splits each category separately.
    pub fn stratified(mut self, on: bool) -> Self {
        self.stratify = on;
        self
    }

    /// Sets the test fraction.
    pub fn with_test_ratio(mut self, r: f64) -> Self {
        self.test_ratio = r;
        self
    }
}

/// The result of a split; each part keeps the input order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Splits {
    /// Training items.
    pub train: Vec<EvalItem>,
    /// Evaluation items.
    pub eval: Vec<EvalItem>,
    /// Test items (empty without a test ratio).
    pub test: Vec<EvalItem>,
    /// Groups of more than one item whose inputs are the same text up to case and whitespace,
    /// each kept in one split.
    pub kept_together: usize,
}

/// The form of an input that decides whether two items are one text: trimmed, lowercased,
/// every run of whitespace one space. A trailing space or a capital letter does not make a
/// second text that could sit in another split.
pub fn duplicate_key(input: &str) -> String {
    input
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// An input text found in more than one split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leak {
    /// The text.
    pub input: String,
    /// The names of the splits that hold it.
    pub splits: Vec<String>,
}

/// Splits `items` as `config` says. Errors when the ratios are out of range.
pub fn split_items(items: &[EvalItem], config: &SplitConfig) -> Result<Splits, String> {
    let (e, t) = (config.eval_ratio, config.test_ratio);
    if !(0.0..1.0).contains(&e) || !(0.0..1.0).contains(&t) || e + t >= 1.0 {
        return Err(format!(
            "eval ratio {e} and test ratio {t} must each be in [0, 1) and leave training data"
        ));
    }
    // Groups of the same input (up to case and whitespace), in first-seen order.
    let mut group_of: HashMap<String, usize> = HashMap::new();
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut group_index = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let g = *group_of
            .entry(duplicate_key(&item.input))
            .or_insert_with(|| {
                groups.push(Vec::new());
                groups.len() - 1
            });
        groups[g].push(i);
        group_index.push(g);
    }
    let mut strata: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (g, members) in groups.iter().enumerate() {
        let key = if config.stratify {
            items[members[0]]
                .expected
                .first()
                .map_or("", String::as_str)
        } else {
            ""
        };
        strata.entry(key).or_default().push(g);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    // 0 train, 1 eval, 2 test, per group.
    let mut part = vec![0u8; groups.len()];
    for gs in strata.values_mut() {
        gs.shuffle(&mut rng);
        let n = gs.len() as f64;
        let n_eval = (n * e).round() as usize;
        let n_test = ((n * t).round() as usize).min(gs.len() - n_eval.min(gs.len()));
        for (rank, &g) in gs.iter().enumerate() {
            part[g] = if rank < n_eval {
                1
            } else if rank < n_eval + n_test {
                2
            } else {
                0
            };
        }
    }
    let mut out = Splits {
        kept_together: groups.iter().filter(|g| g.len() > 1).count(),
        ..Splits::default()
    };
    for (item, &g) in items.iter().zip(&group_index) {
        let target = match part[g] {
            1 => &mut out.eval,
            2 => &mut out.test,
            _ => &mut out.train,
        };
        target.push(item.clone());
    }
    Ok(out)
}

/// Input texts that occur in more than one of the named splits (compared by
/// [`duplicate_key`]; each leak is named by that form).
pub fn find_leaks(splits: &[(&str, &[EvalItem])]) -> Vec<Leak> {
    let mut seen: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, items) in splits {
        for item in *items {
            let names = seen.entry(duplicate_key(&item.input)).or_default();
            if !names.iter().any(|n| n == name) {
                names.push((*name).to_owned());
            }
        }
    }
    seen.into_iter()
        .filter(|(_, names)| names.len() > 1)
        .map(|(input, splits)| Leak { input, splits })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(n: usize, cats: usize) -> Vec<EvalItem> {
        (0..n)
            .map(|i| EvalItem {
                input: format!("text {i}"),
                expected: vec![format!("cat {}", i % cats)],
            })
            .collect()
    }

    #[test]
    fn inputs_equal_up_to_case_and_whitespace_stay_in_one_split() {
        let mut all = items(60, 3);
        for i in 0..60 {
            all.push(EvalItem {
                input: format!("  TEXT   {i} \n"),
                expected: vec![format!("cat {}", i % 3)],
            });
        }
        let s = split_items(&all, &SplitConfig::new(0.3).with_seed(4)).unwrap();
        assert_eq!(s.kept_together, 60);
        assert!(find_leaks(&[("train", &s.train), ("eval", &s.eval)]).is_empty());
        assert_eq!(s.train.len() + s.eval.len(), 120);
        // A split made without the normalization leaks: find_leaks sees it.
        let leaky = [("train", &all[..1]), ("eval", &all[60..61])];
        assert_eq!(find_leaks(&leaky).len(), 1);
    }

    #[test]
    fn sizes_seed_and_order() {
        let data = items(100, 4);
        let cfg = SplitConfig::new(0.2).with_test_ratio(0.1).with_seed(7);
        let s = split_items(&data, &cfg).unwrap();
        assert_eq!((s.train.len(), s.eval.len(), s.test.len()), (70, 20, 10));
        assert_eq!(s, split_items(&data, &cfg).unwrap());
        let other = split_items(&data, &cfg.clone().with_seed(8)).unwrap();
        assert_ne!(s.eval, other.eval);
        // Input order is kept inside each split.
        let pos = |it: &EvalItem| data.iter().position(|d| d == it).unwrap();
        assert!(s.train.windows(2).all(|w| pos(&w[0]) < pos(&w[1])));
        assert!(
            find_leaks(&[("train", &s.train), ("eval", &s.eval), ("test", &s.test)]).is_empty()
        );
    }

    #[test]
    fn stratified_keeps_every_category_in_eval() {
        let data = items(40, 4);
        let s = split_items(&data, &SplitConfig::new(0.25).stratified(true)).unwrap();
        for c in 0..4 {
            let n = s
                .eval
                .iter()
                .filter(|i| i.expected[0] == format!("cat {c}"))
                .count();
            assert_eq!(n, 3, "category {c}"); // 10 * 0.25 = 2.5 rounds away from zero
        }
    }

    #[test]
    fn duplicates_stay_together_and_leaks_are_found() {
        let mut data = items(30, 3);
        data.extend(items(30, 3)); // every input twice
        let s = split_items(&data, &SplitConfig::new(0.3).with_seed(1)).unwrap();
        assert_eq!(s.eval.len(), 18);
        assert!(find_leaks(&[("train", &s.train), ("eval", &s.eval)]).is_empty());
        let leaked = find_leaks(&[("train", &data[..2]), ("eval", &data[30..31])]);
        assert_eq!(
            leaked,
            vec![Leak {
                input: "text 0".into(),
                splits: vec!["train".into(), "eval".into()]
            }]
        );
    }

    #[test]
    fn bad_ratios_are_refused() {
        let data = items(10, 2);
        assert!(split_items(&data, &SplitConfig::new(1.0)).is_err());
        assert!(split_items(&data, &SplitConfig::new(0.6).with_test_ratio(0.4)).is_err());
        assert!(split_items(&data, &SplitConfig::new(-0.1)).is_err());
    }

    #[test]
    fn reads_transactions_and_items_with_line_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("mixed.jsonl");
        std::fs::write(
            &p,
            concat!(
                r#"{"input":"a","expected":["X"]}"#,
                "\n",
                r#"{"merchant_name":"M","merchant_category":["c"],"department":"D","location":"L","amount":2.5,"spend_program_name":"P","trip_name":null,"expense_category":"Y"}"#,
                "\n"
            ),
        )
        .unwrap();
        let items = read_labeled_inputs(&p).unwrap();
        assert_eq!(items[0].expected, vec!["X"]);
        assert!(items[1].input.contains("Amount: 2.5\n"));
        assert_eq!(items[1].expected, vec!["Y"]);
        std::fs::write(&p, "{\"input\":\"a\",\"expected\":[\"X\"]}\n{\"merchant_name\":\"M\",\"amount\":\"ten\"}\n").unwrap();
        let err = read_labeled_inputs(&p).unwrap_err().to_string();
        assert!(err.contains("mixed.jsonl:2:"), "{err}");
    }
}
