//! API keys that never reach logs: `Debug` and `Display` print a redaction, and the only way to
//! read the key is [`ApiKey::expose`], which the HTTP layer calls to build the header.

use crate::error::ProviderError;

/// A secret API key.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a key; an empty or blank key is refused.
    pub fn new(key: impl Into<String>) -> Result<Self, ProviderError> {
        let key = key.into();
        if key.trim().is_empty() {
            return Err(ProviderError::Config {
                field: "api key".into(),
                problem: "is empty".into(),
            });
        }
        Ok(Self(key.trim().to_string()))
    }

    /// The key from a flag when given, else from the environment variable `var`.
    pub fn from_flag_or_env(flag: Option<&str>, var: &str) -> Result<Self, ProviderError> {
        match flag {
            Some(k) => Self::new(k),
            None => match std::env::var(var) {
                Ok(k) => Self::new(k).map_err(|_| ProviderError::Config {
                    field: var.into(),
                    problem: "is set but empty".into(),
                }),
                Err(_) => Err(ProviderError::Config {
                    field: var.into(),
                    problem: "is not set (pass the key with a flag or set the variable)".into(),
                }),
            },
        }
    }

    /// The key itself, for the `Authorization` header only.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

/// The environment variables whose values are secrets wherever they appear.
pub const SECRET_VARS: [&str; 6] = [
    "OPENAI_API_KEY",
    "CO_API_KEY",
    "COHERE_API_KEY",
    "HF_TOKEN",
    "HUGGING_FACE_HUB_TOKEN",
    "RETUNE_API_KEY",
];

/// `text` with every known secret replaced by `<redacted>`: `key` (the request's) and the
/// values of [`SECRET_VARS`] (values under 8 characters are not secrets worth the name and
/// would scrub ordinary words). Every response body passes through this before any of it can
/// reach an error, a log or a file.
pub fn scrub(text: &str, key: Option<&ApiKey>) -> String {
    let env: Vec<String> = SECRET_VARS
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .map(|v| v.trim().to_owned())
        .collect();
    let mut out = text.to_owned();
    for secret in key
        .map(|k| k.expose().to_owned())
        .into_iter()
        .chain(env)
        .filter(|s| s.len() >= 8)
    {
        if out.contains(&secret) {
            out = out.replace(&secret, "<redacted>");
        }
    }
    out
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

impl std::fmt::Display for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_hide_the_key() {
        let k = ApiKey::new("sk-very-secret-123").unwrap();
        assert!(!format!("{k:?}").contains("secret"));
        assert!(!format!("{k}").contains("secret"));
        assert_eq!(k.expose(), "sk-very-secret-123");
        #[derive(Debug)]
        #[allow(dead_code)]
        struct Holder {
            key: ApiKey,
        }
        assert!(!format!("{:?}", Holder { key: k }).contains("sk-very"));
    }

    #[test]
    fn scrub_removes_the_key_however_it_is_quoted() {
        let k = ApiKey::new("sk-echoed-secret-42").unwrap();
        let body = r#"{"error":{"message":"Incorrect API key provided: sk-echoed-secret-42. Check Bearer sk-echoed-secret-42"}}"#;
        let clean = scrub(body, Some(&k));
        assert!(!clean.contains("sk-echoed"), "{clean}");
        assert_eq!(clean.matches("<redacted>").count(), 2);
        assert_eq!(scrub("nothing secret", Some(&k)), "nothing secret");
    }

    #[test]
    fn blank_keys_are_refused() {
        assert!(ApiKey::new("  ").is_err());
        assert!(ApiKey::from_flag_or_env(None, "RETUNE_TEST_SURELY_UNSET_VAR").is_err());
    }
}
