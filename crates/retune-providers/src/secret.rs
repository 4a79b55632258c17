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
    fn blank_keys_are_refused() {
        assert!(ApiKey::new("  ").is_err());
        assert!(ApiKey::from_flag_or_env(None, "RETUNE_TEST_SURELY_UNSET_VAR").is_err());
    }
}
