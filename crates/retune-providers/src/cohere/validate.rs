//! Cohere's rules for re-ranker fine-tuning data, checked locally before anything is uploaded
//! (wire-formats.md §1.1), so that a bad file fails in a second with every problem and its line
//! instead of minutes later with Cohere's first one.

use retune_data::{CohereRerankItem, JsonlReader, ReadMode};
use std::collections::HashSet;
use std::path::Path;

/// One broken rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// 1-based line; 0 for the file as a whole.
    pub line: usize,
    /// The field at fault.
    pub field: String,
    /// What is wrong.
    pub problem: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line == 0 {
            write!(f, "  (file) `{}`: {}", self.field, self.problem)
        } else {
            write!(
                f,
                "  line {}: `{}`: {}",
                self.line, self.field, self.problem
            )
        }
    }
}

/// The limits checked.
#[derive(Debug, Clone)]
pub struct CohereRules {
    /// Distinct queries a training file needs (Cohere: 256; 0 for an eval file).
    pub min_unique_queries: usize,
    /// Query plus passage must fit this many tokens (Cohere: 510).
    pub max_tokens: usize,
    /// Largest file Cohere takes (1.5 GB).
    pub max_bytes: u64,
}

impl CohereRules {
    /// The rules for the training file.
    pub fn training() -> Self {
        Self {
            min_unique_queries: 256,
            max_tokens: 510,
            max_bytes: 1_500_000_000,
        }
    }

    /// The rules for a separate eval file (no minimum query count is documented).
    pub fn eval() -> Self {
        Self {
            min_unique_queries: 0,
            ..Self::training()
        }
    }
}

/// An upper estimate of the tokens of a text for Cohere's tokenizer, which retune does not have:
/// one token per 3 bytes, rounded up (English BPE averages about 4 characters per token, so real
/// counts are lower and a text that passes here passes there).
pub fn estimated_tokens(text: &str) -> usize {
    text.len().div_ceil(3)
}

/// Checks items (line `i + 1` is `items[i]`) and returns every violation.
pub fn validate_rerank_items(items: &[CohereRerankItem], rules: &CohereRules) -> Vec<Violation> {
    let mut out = Vec::new();
    let mut queries = HashSet::new();
    let v = |line, field: &str, problem: String| Violation {
        line,
        field: field.to_string(),
        problem,
    };
    for (i, it) in items.iter().enumerate() {
        let line = i + 1;
        if it.query.trim().is_empty() {
            out.push(v(line, "query", "is empty".into()));
        } else {
            queries.insert(it.query.trim().to_string());
        }
        if it.relevant_passages.is_empty() {
            out.push(v(
                line,
                "relevant_passages",
                "needs at least one passage".into(),
            ));
        }
        let relevant: HashSet<&str> = it.relevant_passages.iter().map(|p| p.trim()).collect();
        for (field, list) in [
            ("relevant_passages", &it.relevant_passages),
            ("hard_negatives", &it.hard_negatives),
        ] {
            for (j, p) in list.iter().enumerate() {
                let f = format!("{field}[{j}]");
                if p.trim().is_empty() {
                    out.push(v(line, &f, "is empty".into()));
                    continue;
                }
                let tokens = estimated_tokens(&it.query) + estimated_tokens(p);
                if tokens > rules.max_tokens {
                    out.push(v(
                        line,
                        &f,
                        format!(
                            "query + passage is about {tokens} tokens, over the limit of {}",
                            rules.max_tokens
                        ),
                    ));
                }
                if field == "hard_negatives" && relevant.contains(p.trim()) {
                    out.push(v(
                        line,
                        &f,
                        "is also a relevant passage of this query".into(),
                    ));
                }
            }
        }
    }
    if queries.len() < rules.min_unique_queries {
        out.push(v(
            0,
            "query",
            format!(
                "{} unique queries; Cohere needs at least {}",
                queries.len(),
                rules.min_unique_queries
            ),
        ));
    }
    out
}

/// Reads a JSONL file and checks it; lines that do not parse are violations too.
pub fn validate_rerank_file(
    path: &Path,
    rules: &CohereRules,
) -> Result<Vec<Violation>, retune_data::DataError> {
    let mut out = Vec::new();
    let size = std::fs::metadata(path)
        .map_err(|source| retune_data::DataError::Io {
            path: path.to_path_buf(),
            source,
        })?
        .len();
    if size > rules.max_bytes {
        out.push(Violation {
            line: 0,
            field: "file".into(),
            problem: format!("{size} bytes, over Cohere's limit of {}", rules.max_bytes),
        });
    }
    let mut items = Vec::new();
    let mut lines = Vec::new();
    let mut reader = JsonlReader::<CohereRerankItem>::open(path, ReadMode::Lenient)?;
    for row in reader.by_ref() {
        let (line, item) = row?;
        lines.push(line);
        items.push(item);
    }
    for bad in reader.bad_lines() {
        let field = match &bad.error {
            retune_data::DataError::Json { field, .. } => field.clone(),
            _ => ".".to_string(),
        };
        out.push(Violation {
            line: bad.line,
            field,
            problem: bad.error.to_string(),
        });
    }
    for mut viol in validate_rerank_items(&items, rules) {
        if viol.line > 0 {
            viol.line = lines[viol.line - 1];
        }
        out.push(viol);
    }
    out.sort_by_key(|v| v.line);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(q: &str, rel: &[&str], neg: &[&str]) -> CohereRerankItem {
        CohereRerankItem {
            query: q.into(),
            relevant_passages: rel.iter().map(|s| s.to_string()).collect(),
            hard_negatives: neg.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn every_rule_is_checked_with_its_line() {
        let long = "x".repeat(1600);
        let items = vec![
            item("q1", &["a"], &["b"]),
            item("q2", &[], &["b"]),
            item("q3", &["a"], &["a"]),
            item("  ", &["a"], &[]),
            item("q5", &[&long], &[""]),
        ];
        let v = validate_rerank_items(&items, &CohereRules::training());
        let got: Vec<(usize, &str)> = v.iter().map(|x| (x.line, x.field.as_str())).collect();
        assert_eq!(
            got,
            vec![
                (2, "relevant_passages"),
                (3, "hard_negatives[0]"),
                (4, "query"),
                (5, "relevant_passages[0]"),
                (5, "hard_negatives[0]"),
                (0, "query"),
            ]
        );
        assert!(
            v[5].problem.contains("4 unique queries"),
            "{}",
            v[5].problem
        );
    }

    #[test]
    fn enough_distinct_queries_pass() {
        let items: Vec<_> = (0..300)
            .map(|i| item(&format!("q{}", i % 260), &["yes"], &["no"]))
            .collect();
        assert!(validate_rerank_items(&items, &CohereRules::training()).is_empty());
        let few: Vec<_> = items[..10].to_vec();
        assert_eq!(validate_rerank_items(&few, &CohereRules::eval()), vec![]);
    }

    #[test]
    fn file_lines_that_do_not_parse_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.jsonl");
        std::fs::write(
            &p,
            "{\"query\":\"q\",\"relevant_passages\":[\"a\"]}\n{\"query\":1}\n{\"query\":\"q\",\"relevant_passages\":[\"a\"],\"hard_negatives\":[\"a\"]}\n",
        )
        .unwrap();
        let v = validate_rerank_file(&p, &CohereRules::eval()).unwrap();
        assert_eq!(v.len(), 2, "{v:?}");
        assert_eq!(v[0].line, 2);
        assert_eq!(v[1].line, 3);
        assert_eq!(v[1].field, "hard_negatives[0]");
    }
}
