//! What the LLM must answer: a [`Transaction`] as strict JSON. The schema is derived from the
//! Rust type (schemars) and tightened for OpenAI's `strict: true` (every property required,
//! no others allowed, the trip nullable); an answer is parsed strictly (no coercion of `"25"`
//! to a number, no unknown fields) and then checked against the request.

use crate::transaction::Transaction;
use serde_json::Value;

/// The JSON schema sent as `response_format`, named `Transaction`.
pub fn transaction_schema() -> Value {
    let schema = schemars::schema_for!(Transaction);
    let mut v = serde_json::to_value(schema).expect("schema serializes");
    strictify(&mut v);
    if let Some(o) = v.as_object_mut() {
        o.remove("$schema");
        o.remove("title");
    }
    v
}

/// Makes every object schema strict: all properties required, `additionalProperties: false`.
fn strictify(v: &mut Value) {
    match v {
        Value::Object(o) => {
            if let Some(Value::Object(props)) = o.get("properties") {
                let names: Vec<Value> = props.keys().cloned().map(Value::String).collect();
                o.insert("required".into(), Value::Array(names));
                o.insert("additionalProperties".into(), Value::Bool(false));
            }
            o.values_mut().for_each(strictify);
        }
        Value::Array(a) => a.iter_mut().for_each(strictify),
        _ => {}
    }
}

/// Parses an answer strictly; the error text says which field and why, the way the re-ask
/// message shows it to the model.
pub fn parse_transaction(content: &str) -> Result<Transaction, String> {
    let de = &mut serde_json::Deserializer::from_str(content.trim());
    serde_path_to_error::deserialize::<_, Transaction>(de).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." {
            "(answer)".to_string()
        } else {
            path
        };
        format!(
            "1 validation error for Transaction\n{field}\n  {}",
            e.inner()
        )
    })
}

/// The rules every transaction keeps, whoever wrote it (the model or a reviewer's edit), as
/// (field, problem): no empty text field, an amount greater than 0, 1 to 3 non-empty merchant
/// categories.
pub fn transaction_problems(t: &Transaction) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    for (name, value) in [
        ("merchant_name", &t.merchant_name),
        ("department", &t.department),
        ("location", &t.location),
        ("spend_program_name", &t.spend_program_name),
        ("expense_category", &t.expense_category),
    ] {
        if value.trim().is_empty() {
            out.push((name, "must not be empty".to_string()));
        }
    }
    if !(t.amount.is_finite() && t.amount > 0.0) {
        out.push((
            "amount",
            format!("must be greater than 0, got {}", t.amount),
        ));
    }
    let n = t.merchant_category.len();
    if !(1..=3).contains(&n) {
        out.push((
            "merchant_category",
            format!("must list 1 to 3 categories, got {n}"),
        ));
    }
    if t.merchant_category.iter().any(|c| c.trim().is_empty()) {
        out.push(("merchant_category", "entries must not be empty".into()));
    }
    let single_line = [
        ("merchant_name", &t.merchant_name),
        ("department", &t.department),
        ("location", &t.location),
        ("spend_program_name", &t.spend_program_name),
        ("expense_category", &t.expense_category),
    ]
    .into_iter()
    .chain(t.trip_name.iter().map(|v| ("trip_name", v)))
    .chain(t.merchant_category.iter().map(|v| ("merchant_category", v)));
    for (name, value) in single_line {
        if let Some(c) = value.chars().find(|c| c.is_control()) {
            out.push((
                name,
                format!(
                    "must be one line of printable text (found control character U+{:04X})",
                    u32::from(c)
                ),
            ));
        }
    }
    out
}

/// `text` safe to print on a terminal: control characters (escape sequences, newlines, bells)
/// are shown escaped (`\u{1b}`, `\n`) instead of acting on the terminal.
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(text);
    }
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect::<String>()
        .into()
}

/// Checks a parsed answer against what was asked; each problem is one line.
pub fn check_transaction(t: &Transaction, requested_category: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if t.expense_category != requested_category {
        errors.push(format!(
            "expense_category\n  must be exactly {requested_category:?}, got {:?}",
            t.expense_category
        ));
    }
    errors.extend(
        transaction_problems(t)
            .into_iter()
            .map(|(field, problem)| format!("{field}\n  {problem}")),
    );
    errors
}

/// The key near-duplicates share: the merchant name lower-cased with everything but letters
/// and digits dropped, and the category.
pub fn dedup_key(t: &Transaction) -> String {
    let merchant: String = t
        .merchant_name
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect();
    format!("{merchant}\u{1f}{}", t.expense_category)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_refused_in_fields_and_escaped_when_printed() {
        let t = Transaction {
            merchant_name: "Evil\u{1b}[2J Corp".into(),
            merchant_category: vec!["SaaS\nline two".into()],
            department: "IT".into(),
            location: "Austin, TX".into(),
            amount: 10.0,
            spend_program_name: "Budget".into(),
            trip_name: None,
            expense_category: "Software".into(),
        };
        let problems = transaction_problems(&t);
        let fields: Vec<&str> = problems.iter().map(|(f, _)| *f).collect();
        assert_eq!(
            fields,
            ["merchant_name", "merchant_category"],
            "{problems:?}"
        );
        assert!(problems[0].1.contains("U+001B"), "{problems:?}");
        assert_eq!(printable("Evil\u{1b}[2J"), "Evil\\u{1b}[2J");
        assert_eq!(printable("plain"), "plain");
    }

    #[test]
    fn schema_is_strict_and_complete() {
        let s = transaction_schema();
        assert_eq!(s["type"], "object");
        assert_eq!(s["additionalProperties"], false);
        let req: Vec<&str> = s["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        for f in [
            "merchant_name",
            "merchant_category",
            "department",
            "location",
            "amount",
            "spend_program_name",
            "trip_name",
            "expense_category",
        ] {
            assert!(req.contains(&f), "{f} not required in {s}");
        }
        assert_eq!(s["properties"]["merchant_category"]["type"], "array");
        let trip = s["properties"]["trip_name"].to_string();
        assert!(trip.contains("null"), "{trip}");
    }

    #[test]
    fn strict_parsing_and_checks() {
        let ok = r#"{"merchant_name":"Delta","merchant_category":["Airlines"],"department":"Sales","location":"Atlanta, GA","amount":420.5,"spend_program_name":"Travel","trip_name":"Q3 kickoff","expense_category":"Travel: Airfare"}"#;
        let t = parse_transaction(ok).unwrap();
        assert!(check_transaction(&t, "Travel: Airfare").is_empty());
        let errs = check_transaction(&t, "Meals");
        assert_eq!(errs.len(), 1);
        assert!(errs[0].starts_with("expense_category"));
        let coerced = ok.replace("420.5", "\"420.5\"");
        let e = parse_transaction(&coerced).unwrap_err();
        assert!(e.contains("amount"), "{e}");
        let e = parse_transaction("not json").unwrap_err();
        assert!(e.contains("(answer)"), "{e}");
        let mut bad = t.clone();
        bad.amount = -1.0;
        bad.merchant_category = vec![];
        bad.location = " ".into();
        assert_eq!(check_transaction(&bad, "Travel: Airfare").len(), 3);
    }

    #[test]
    fn near_duplicates_share_a_key() {
        let ok = r#"{"merchant_name":"Delta Air-Lines","merchant_category":["Airlines"],"department":"Sales","location":"Atlanta, GA","amount":420.5,"spend_program_name":"Travel","trip_name":null,"expense_category":"Travel: Airfare"}"#;
        let a = parse_transaction(ok).unwrap();
        let mut b = a.clone();
        b.merchant_name = "delta air lines".into();
        b.amount = 99.0;
        assert_eq!(dedup_key(&a), dedup_key(&b));
        b.expense_category = "Other".into();
        assert_ne!(dedup_key(&a), dedup_key(&b));
    }
}
