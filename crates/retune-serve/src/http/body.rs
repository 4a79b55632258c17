//! Request bodies: JSON read against the payload limit, with a 413 over it and a 422 naming
//! the field at fault; and the `inputs` / `input` values, a text or a list of texts.

use super::State;
use super::respond::ApiError;
use crate::ServeError;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::sync::Arc;

/// A JSON body of type `T`.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<Arc<State>> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &Arc<State>) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ServeError::TooLarge {
                    message: format!(
                        "the request body is over the payload limit of {} bytes (--payload-limit)",
                        state.config.payload_limit
                    ),
                }
            } else {
                ServeError::validation(format!("cannot read the request body: {}", e.body_text()))
            }
        })?;
        let de = &mut serde_json::Deserializer::from_slice(&bytes);
        let value = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let at = if path == "." {
                String::new()
            } else {
                format!(" at `{path}`")
            };
            ServeError::validation(format!("invalid JSON body{at}: {}", e.inner()))
        })?;
        Ok(JsonBody(value))
    }
}

/// Texts of an `inputs` / `input` field: one text or a list of texts. Token ids and anything
/// else are refused naming the field and the item.
pub struct Texts {
    /// The texts, in order.
    pub texts: Vec<String>,
}

impl Texts {
    /// Reads `value` of field `field`; more than `max` texts is a 422.
    pub fn read(value: Value, field: &str, max: usize) -> Result<Self, ServeError> {
        let ids = || {
            ServeError::validation(format!(
                "`{field}`: token-id input is not supported; send text"
            ))
        };
        let (texts, single) = match value {
            Value::String(s) => (vec![s], true),
            Value::Array(items) => {
                check_batch_size(items.len(), max)?;
                let texts = items
                    .into_iter()
                    .enumerate()
                    .map(|(i, item)| match item {
                        Value::String(s) => Ok(s),
                        Value::Number(_) | Value::Array(_) => Err(ids()),
                        other => Err(ServeError::validation(format!(
                            "`{field}[{i}]` must be a string, not {}",
                            kind(&other)
                        ))),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                (texts, false)
            }
            other => {
                return Err(ServeError::validation(format!(
                    "`{field}` must be a string or a list of strings, not {}",
                    kind(&other)
                )));
            }
        };
        if texts.is_empty() {
            return Err(ServeError::Empty {
                message: format!("`{field}` cannot be empty"),
            });
        }
        if let Some(i) = texts.iter().position(String::is_empty) {
            let at = if single {
                String::new()
            } else {
                format!("[{i}]")
            };
            return Err(ServeError::validation(format!(
                "`{field}{at}` is an empty text"
            )));
        }
        Ok(Self { texts })
    }

    /// The texts as string slices.
    pub fn refs(&self) -> Vec<&str> {
        self.texts.iter().map(String::as_str).collect()
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Refuses a request of more than `max` inputs (`--max-client-batch-size`), as TEI words it.
pub fn check_batch_size(len: usize, max: usize) -> Result<(), ServeError> {
    if len > max {
        return Err(ServeError::validation(format!(
            "batch size {len} > maximum allowed batch size {max} (--max-client-batch-size)"
        )));
    }
    Ok(())
}

/// Refuses `truncation_direction` other than `Right` (the only one the tokenizers here use).
pub fn check_direction(direction: Option<&str>) -> Result<(), ServeError> {
    match direction {
        None | Some("Right" | "right") => Ok(()),
        Some(other) => Err(ServeError::validation(format!(
            "`truncation_direction`: only \"Right\" is supported, not {other:?}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn texts_take_a_string_or_a_list_and_name_what_is_wrong() {
        assert_eq!(Texts::read(json!("a"), "inputs", 2).unwrap().texts, ["a"]);
        let t = Texts::read(json!(["a", "b"]), "inputs", 2).unwrap();
        assert_eq!(t.texts, ["a", "b"]);
        let cases = [
            (json!([]), 400, "`inputs` cannot be empty"),
            (
                json!(["a", "b", "c"]),
                422,
                "batch size 3 > maximum allowed batch size 2",
            ),
            (json!([1, 2]), 422, "token-id input"),
            (json!([[1, 2]]), 422, "token-id input"),
            (
                json!(["a", null]),
                422,
                "`inputs[1]` must be a string, not null",
            ),
            (json!({"a": 1}), 422, "not an object"),
            (json!(["a", ""]), 422, "`inputs[1]` is an empty text"),
            (json!(""), 422, "`inputs` is an empty text"),
        ];
        for (v, status, text) in cases {
            let e = Texts::read(v.clone(), "inputs", 2).err().unwrap();
            assert_eq!(e.status(), status, "{v}: {e}");
            assert!(e.to_string().contains(text), "{v}: {e}");
        }
    }
}
