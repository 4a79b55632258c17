//! Categories and corpora: the documents a query retrieves from.
//!
//! In the transaction domain the corpus is the list of category names from a `categories.json`
//! (the course's file: `[{category, sample_transactions, departments}]`, optionally with a
//! `description`). Any other corpus is JSONL `{"id"?, "text"}`; a document without an id is
//! known by its text, which is what course-format `expected` lists name.

use crate::error::DataError;
use crate::items::EvalItem;
use crate::jsonl::{ReadMode, read_jsonl};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;

/// One expense category of a `categories.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Category {
    /// The category name: the document text that queries retrieve.
    pub category: String,
    /// Example transactions of the category.
    #[serde(default)]
    pub sample_transactions: Vec<String>,
    /// Departments that use it.
    #[serde(default)]
    pub departments: Vec<String>,
    /// A one-sentence description, when the file has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// One document of a corpus.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorpusDoc {
    /// The document id; absent in the file means the text is the id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The document text.
    pub text: String,
}

impl CorpusDoc {
    /// The id, or the text when there is none.
    pub fn key(&self) -> &str {
        self.id.as_deref().unwrap_or(&self.text)
    }
}

/// Reads a `categories.json`; duplicate or empty category names are errors.
pub fn load_categories(path: impl AsRef<Path>) -> Result<Vec<Category>, DataError> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(DataError::io(path))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let de = &mut serde_json::Deserializer::from_str(text);
    let cats: Vec<Category> = serde_path_to_error::deserialize(de).map_err(|e| {
        let field = e.path().to_string();
        let inner = e.into_inner();
        DataError::Json {
            path: path.to_owned(),
            line: inner.line(),
            field,
            source: inner,
        }
    })?;
    if cats.is_empty() {
        return Err(DataError::Empty {
            path: path.to_owned(),
            what: "the categories file".into(),
        });
    }
    let mut seen = HashMap::new();
    for (i, c) in cats.iter().enumerate() {
        if c.category.trim().is_empty() {
            return Err(invalid(path, i, "category", "empty category name".into()));
        }
        if let Some(first) = seen.insert(c.category.as_str(), i) {
            return Err(invalid(
                path,
                i,
                "category",
                format!("{:?} repeats entry {}", c.category, first + 1),
            ));
        }
    }
    Ok(cats)
}

fn invalid(path: &Path, index: usize, field: &str, problem: String) -> DataError {
    DataError::Invalid {
        path: path.to_owned(),
        line: 0,
        field: format!("[{index}].{field}"),
        problem,
    }
}

/// What text a category document carries. Its id is always the category name, so
/// evaluation matches `expected` names whatever the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DocText {
    /// The name alone (what the course embedded).
    #[default]
    Name,
    /// `"{name}: {description}"` (the name alone when there is none).
    Description,
    /// `"{name}: {sample}, {sample}, ..."` from `sample_transactions`.
    Samples,
}

impl std::str::FromStr for DocText {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "name" => Ok(Self::Name),
            "description" => Ok(Self::Description),
            "samples" => Ok(Self::Samples),
            _ => Err(format!(
                "unknown document text {s:?}: use name, description or samples"
            )),
        }
    }
}

/// The documents of categories, with the chosen text.
pub fn category_docs(cats: Vec<Category>, text: DocText) -> Vec<CorpusDoc> {
    cats.into_iter()
        .map(|c| {
            let extra = match text {
                DocText::Name => None,
                DocText::Description => c.description.clone(),
                DocText::Samples => {
                    (!c.sample_transactions.is_empty()).then(|| c.sample_transactions.join(", "))
                }
            };
            match extra {
                None => CorpusDoc {
                    id: None,
                    text: c.category,
                },
                Some(x) => CorpusDoc {
                    text: format!("{}: {x}", c.category),
                    id: Some(c.category),
                },
            }
        })
        .collect()
}

/// Reads a corpus: a `.json` categories file (documents = category names) or JSONL documents.
/// Ids must be unique.
pub fn load_corpus(path: impl AsRef<Path>) -> Result<Vec<CorpusDoc>, DataError> {
    load_corpus_as(path, DocText::Name)
}

/// As [`load_corpus`], with category documents carrying `text` (JSONL corpora keep theirs).
pub fn load_corpus_as(path: impl AsRef<Path>, text: DocText) -> Result<Vec<CorpusDoc>, DataError> {
    let path = path.as_ref();
    let docs: Vec<CorpusDoc> = if path.extension().is_some_and(|e| e == "json") {
        category_docs(load_categories(path)?, text)
    } else {
        read_jsonl(path, ReadMode::Strict)?.0
    };
    if docs.is_empty() {
        return Err(DataError::Empty {
            path: path.to_owned(),
            what: "the corpus".into(),
        });
    }
    let mut seen = HashMap::new();
    for (i, d) in docs.iter().enumerate() {
        if let Some(first) = seen.insert(d.key(), i) {
            return Err(DataError::Invalid {
                path: path.to_owned(),
                line: i + 1,
                field: "id".into(),
                problem: format!("document {:?} repeats line {}", d.key(), first + 1),
            });
        }
    }
    Ok(docs)
}

/// Labeled queries (`{input, expected}` JSONL) checked against `corpus`: the file must hold
/// at least one, and every expected label must name a document (by id or text). With
/// `allow_unknown`, unknown labels are kept (they count as misses) and their number returned;
/// otherwise they are an error listing the first few with their lines.
pub fn read_labeled_queries(
    path: impl AsRef<Path>,
    corpus: &[CorpusDoc],
    corpus_path: &Path,
    allow_unknown: bool,
) -> Result<(Vec<EvalItem>, usize), DataError> {
    let path = path.as_ref();
    let known: std::collections::HashSet<&str> = corpus
        .iter()
        .flat_map(|d| [d.key(), d.text.as_str()])
        .collect();
    let mut items = Vec::new();
    let mut unknown = Vec::new();
    for entry in crate::JsonlReader::<EvalItem>::open(path, ReadMode::Strict)? {
        let (line, item) = entry?;
        for label in &item.expected {
            if !known.contains(label.as_str()) {
                unknown.push((line, label.clone()));
            }
        }
        items.push(item);
    }
    if items.is_empty() {
        return Err(DataError::Empty {
            path: path.to_owned(),
            what: "the queries file".into(),
        });
    }
    if !unknown.is_empty() && !allow_unknown {
        return Err(DataError::UnknownLabels {
            path: path.to_owned(),
            corpus: corpus_path.to_owned(),
            count: unknown.len(),
            first: unknown.into_iter().take(5).collect(),
        });
    }
    Ok((items, unknown.len()))
}

/// The sample transactions of a `categories.json` as labeled queries (course format: the
/// sample is the `input`, its category the one `expected` document), in file order. A JSONL
/// corpus has no samples and gives none.
pub fn sample_queries(path: impl AsRef<Path>) -> Result<Vec<EvalItem>, DataError> {
    let path = path.as_ref();
    if path.extension().is_none_or(|e| e != "json") {
        return Ok(Vec::new());
    }
    Ok(load_categories(path)?
        .into_iter()
        .flat_map(|c| {
            let name = c.category;
            c.sample_transactions
                .into_iter()
                .filter(|s| !s.trim().is_empty())
                .map(move |s| EvalItem {
                    input: s,
                    expected: vec![name.clone()],
                })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn category_texts_keep_the_name_as_key() {
        let cat = |name: &str, desc: Option<&str>, samples: &[&str]| Category {
            category: name.into(),
            sample_transactions: samples.iter().map(|s| s.to_string()).collect(),
            departments: vec![],
            description: desc.map(Into::into),
        };
        let cats = vec![
            cat("Travel", Some("Trips."), &["Uber", "Delta"]),
            cat("Meals", None, &[]),
        ];
        let by = |t| category_docs(cats.clone(), t);
        assert_eq!(by(DocText::Name)[0].text, "Travel");
        assert_eq!(by(DocText::Samples)[0].text, "Travel: Uber, Delta");
        assert_eq!(by(DocText::Description)[0].text, "Travel: Trips.");
        for t in [DocText::Name, DocText::Samples, DocText::Description] {
            let docs = by(t);
            assert_eq!((docs[0].key(), docs[1].key()), ("Travel", "Meals"));
            assert_eq!(docs[1].text, "Meals");
        }
        assert_eq!("samples".parse::<DocText>(), Ok(DocText::Samples));
        assert!("names".parse::<DocText>().is_err());
    }

    #[test]
    fn categories_and_jsonl_corpora() {
        let dir = tempfile::tempdir().unwrap();
        let cats = dir.path().join("c.json");
        std::fs::write(&cats, r#"[{"category":"Travel","sample_transactions":["Delta"],"departments":["Sales"]},{"category":"Meals"}]"#).unwrap();
        let docs = load_corpus(&cats).unwrap();
        assert_eq!(
            docs.iter().map(CorpusDoc::key).collect::<Vec<_>>(),
            ["Travel", "Meals"]
        );
        let jl = dir.path().join("c.jsonl");
        let mut f = std::fs::File::create(&jl).unwrap();
        writeln!(f, r#"{{"id":"d1","text":"one"}}"#).unwrap();
        writeln!(f, r#"{{"text":"two"}}"#).unwrap();
        let docs = load_corpus(&jl).unwrap();
        assert_eq!(
            docs.iter().map(CorpusDoc::key).collect::<Vec<_>>(),
            ["d1", "two"]
        );
    }

    #[test]
    fn samples_become_labeled_queries() {
        let dir = tempfile::tempdir().unwrap();
        let cats = dir.path().join("c.json");
        std::fs::write(&cats, r#"[{"category":"Travel","sample_transactions":["Delta","Uber"," "]},{"category":"Meals"},{"category":"Rent","sample_transactions":["May rent"]}]"#).unwrap();
        let q = sample_queries(&cats).unwrap();
        let got: Vec<(&str, &str)> = q
            .iter()
            .map(|i| (i.input.as_str(), i.expected[0].as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("Delta", "Travel"),
                ("Uber", "Travel"),
                ("May rent", "Rent")
            ]
        );
        assert!(q.iter().all(|i| i.expected.len() == 1));
        let jl = dir.path().join("c.jsonl");
        std::fs::write(&jl, "{\"text\":\"one\"}\n").unwrap();
        assert!(sample_queries(&jl).unwrap().is_empty());
        std::fs::write(
            &cats,
            "[{\"category\":\"Travel\",\"sample_transactions\":\"Delta\"}]",
        )
        .unwrap();
        let err = sample_queries(&cats).unwrap_err().to_string();
        assert!(err.contains("sample_transactions"), "{err}");
    }

    #[test]
    fn duplicate_categories_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let cats = dir.path().join("c.json");
        std::fs::write(&cats, r#"[{"category":"Travel"},{"category":"Travel"}]"#).unwrap();
        let err = load_categories(&cats).unwrap_err().to_string();
        assert!(
            err.contains("[1].category") && err.contains("repeats entry 1"),
            "{err}"
        );
        std::fs::write(&cats, r#"[{"category":"Travel","departments":"Sales"}]"#).unwrap();
        let err = load_categories(&cats).unwrap_err().to_string();
        assert!(err.contains("[0].departments"), "{err}");
        std::fs::write(&cats, "[]").unwrap();
        let err = load_categories(&cats).unwrap_err().to_string();
        assert!(
            err.contains("c.json") && err.contains("the categories file is empty"),
            "{err}"
        );
    }
}
