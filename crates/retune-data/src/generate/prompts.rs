//! The course's two prompts as minijinja templates, each replaceable by a file:
//! `transaction` (a transaction of a tech company filed under a given category, unlike the
//! category's samples, with the spend-program and merchant-category guidance) and `ambiguous`
//! (a transaction that could fit the category or a similar one, with the full category list and
//! few-shot examples from the approved set: the refinement loop). Undefined variables are
//! errors, so a template with a typo fails at once instead of sending a broken prompt.

use crate::corpus::Category;
use crate::error::DataError;
use crate::transaction::Transaction;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// The built-in `transaction` prompt.
pub const TRANSACTION_PROMPT: &str = r#"Generate one realistic corporate card transaction for a mid-sized technology company that is filed under the expense category "{{ category.category }}".
{% if category.description %}
About this category: {{ category.description }}
{% endif %}
Here are sample transactions of this category; yours must be different from all of them (another merchant, another purchase):
{% for s in category.sample_transactions %}- {{ s }}
{% endfor %}
Guidance:
- merchant_name is the name as printed on the card statement.
- merchant_category lists 1 to 3 categories that describe what the merchant sells (e.g. "SaaS", "Airlines"), not the expense category.
- department is one of the departments that use this category{% if category.departments %}: {{ category.departments | join(", ") }}{% endif %}.
- spend_program_name is the card's spend program, named the way a finance team names budgets (e.g. "Annual Marketing Technology Budget"); it should be plausible for the department.
- trip_name is the business trip the spend belongs to, or null when it belongs to none.
- amount is in US dollars and greater than 0.
- expense_category must be exactly "{{ category.category }}".
Answer with the JSON object only."#;

/// The built-in `ambiguous` prompt.
pub const AMBIGUOUS_PROMPT: &str = r#"We are building a hard evaluation set for a system that files corporate card transactions of a technology company into expense categories.

Generate one transaction whose correct expense category is "{{ category.category }}" but which could plausibly be mistaken for another, similar category from this list:
{% for c in categories %}- {{ c }}
{% endfor %}
Make it deliberately ambiguous: the merchant or merchant categories should suggest the similar category, and only details such as the spend program, the department or the trip should show that "{{ category.category }}" is right.
{% if examples %}
Approved examples of the format and style (do not copy them):
{% for e in examples %}{{ e }}
{% endfor %}{% endif %}
Rules: merchant_category lists 1 to 3 merchant categories; amount is in US dollars and greater than 0; trip_name is null unless the spend belongs to a trip; expense_category must be exactly "{{ category.category }}".
Answer with the JSON object only."#;

/// Which prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptKind {
    /// A plain transaction of the category.
    Transaction,
    /// A deliberately ambiguous one, with few-shot examples.
    Ambiguous,
}

/// A prompt template and where it came from.
#[derive(Debug, Clone)]
pub struct PromptTemplate {
    kind: PromptKind,
    source: String,
    origin: Option<PathBuf>,
}

#[derive(Serialize)]
struct CategoryCtx<'a> {
    category: &'a str,
    sample_transactions: &'a [String],
    departments: &'a [String],
    description: Option<&'a str>,
}

#[derive(Serialize)]
struct Ctx<'a> {
    category: CategoryCtx<'a>,
    categories: Vec<&'a str>,
    examples: Vec<String>,
}

impl PromptTemplate {
    /// The built-in template of `kind`.
    pub fn builtin(kind: PromptKind) -> Self {
        let source = match kind {
            PromptKind::Transaction => TRANSACTION_PROMPT,
            PromptKind::Ambiguous => AMBIGUOUS_PROMPT,
        };
        Self {
            kind,
            source: source.to_string(),
            origin: None,
        }
    }

    /// A template read from a file; it is rendered once with a dummy category to catch errors.
    pub fn from_file(kind: PromptKind, path: &Path) -> Result<Self, DataError> {
        let source = std::fs::read_to_string(path).map_err(DataError::io(path))?;
        let t = Self {
            kind,
            source,
            origin: Some(path.to_path_buf()),
        };
        let probe = Category {
            category: "Probe".into(),
            sample_transactions: vec!["a".into()],
            departments: vec!["b".into()],
            description: None,
        };
        t.render(&probe, std::slice::from_ref(&probe), &[])?;
        Ok(t)
    }

    /// Which prompt this is.
    pub fn kind(&self) -> PromptKind {
        self.kind
    }

    /// Renders the prompt for `category`; `examples` are approved transactions (few-shot).
    pub fn render(
        &self,
        category: &Category,
        all: &[Category],
        examples: &[Transaction],
    ) -> Result<String, DataError> {
        let mut env = minijinja::Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        let name = self
            .origin
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| format!("{:?} prompt", self.kind));
        let fail = |e: minijinja::Error| DataError::Invalid {
            path: self.origin.clone().unwrap_or_else(|| PathBuf::from(&name)),
            line: e.line().unwrap_or(0),
            field: "template".into(),
            problem: e.to_string(),
        };
        env.add_template(&name, &self.source).map_err(fail)?;
        let ctx = Ctx {
            category: CategoryCtx {
                category: &category.category,
                sample_transactions: &category.sample_transactions,
                departments: &category.departments,
                description: category.description.as_deref(),
            },
            categories: all.iter().map(|c| c.category.as_str()).collect(),
            examples: examples
                .iter()
                .map(|t| serde_json::to_string(t).expect("transaction serializes"))
                .collect(),
        };
        env.get_template(&name)
            .and_then(|t| t.render(&ctx))
            .map_err(fail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cat() -> Category {
        Category {
            category: "Travel: Airfare".into(),
            sample_transactions: vec!["Delta flight".into(), "United upgrade".into()],
            departments: vec!["Sales".into(), "Marketing".into()],
            description: Some("Flights for business trips".into()),
        }
    }

    #[test]
    fn builtin_prompts_render_the_category_samples_and_examples() {
        let c = cat();
        let other = Category {
            category: "Travel: Lodging".into(),
            ..cat()
        };
        let all = vec![c.clone(), other];
        let p = PromptTemplate::builtin(PromptKind::Transaction)
            .render(&c, &all, &[])
            .unwrap();
        assert!(p.contains("\"Travel: Airfare\""));
        assert!(p.contains("- Delta flight\n"));
        assert!(p.contains("Sales, Marketing"));
        assert!(p.contains("Flights for business trips"));
        let ex = Transaction {
            merchant_name: "Hilton <b>".into(),
            merchant_category: vec!["Hotels".into()],
            department: "Sales".into(),
            location: "Austin, TX".into(),
            amount: 300.0,
            spend_program_name: "Travel".into(),
            trip_name: None,
            expense_category: "Travel: Lodging".into(),
        };
        let p = PromptTemplate::builtin(PromptKind::Ambiguous)
            .render(&c, &all, &[ex])
            .unwrap();
        assert!(p.contains("- Travel: Lodging\n"));
        assert!(p.contains("\"merchant_name\":\"Hilton <b>\""), "{p}");
    }

    #[test]
    fn a_template_file_with_an_unknown_variable_fails_with_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.j2");
        std::fs::write(&p, "line one\nCategory {{ category.nmae }}\n").unwrap();
        let e = PromptTemplate::from_file(PromptKind::Transaction, &p).unwrap_err();
        let s = e.to_string();
        assert!(s.contains("t.j2:2"), "{s}");
        std::fs::write(&p, "Write one for {{ category.category }}").unwrap();
        let t = PromptTemplate::from_file(PromptKind::Transaction, &p).unwrap();
        assert_eq!(
            t.render(&cat(), &[], &[]).unwrap(),
            "Write one for Travel: Airfare"
        );
    }
}
