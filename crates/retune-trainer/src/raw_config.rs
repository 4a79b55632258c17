//! Reading fields of a `config.json` kept as JSON (the families whose file is written back on
//! export: ModernBERT, Qwen3), with errors that name the file and the field.

use crate::error::TrainerError;
use serde_json::Value;
use std::path::Path;

/// A `config.json` as read, with the path its errors name.
pub(crate) struct RawConfig<'a> {
    pub(crate) path: &'a Path,
    pub(crate) raw: &'a Value,
}

impl RawConfig<'_> {
    /// A positive integer field; an error naming it when missing or zero.
    pub(crate) fn size(&self, field: &str) -> Result<usize, TrainerError> {
        self.raw
            .get(field)
            .and_then(Value::as_u64)
            .filter(|&n| n > 0)
            .map(|n| n as usize)
            .ok_or_else(|| TrainerError::config(self.path, field, "missing or zero"))
    }

    /// A float field, `default` when absent.
    pub(crate) fn float(&self, field: &str, default: f64) -> f64 {
        self.raw
            .get(field)
            .and_then(Value::as_f64)
            .unwrap_or(default)
    }

    /// A boolean field, `default` when absent.
    pub(crate) fn flag(&self, field: &str, default: bool) -> bool {
        self.raw
            .get(field)
            .and_then(Value::as_bool)
            .unwrap_or(default)
    }

    /// Refuses a `rope_parameters` entry (`params`) whose `rope_type` is not the default.
    pub(crate) fn default_rope(&self, params: Option<&Value>) -> Result<(), TrainerError> {
        match params
            .and_then(|p| p.get("rope_type"))
            .and_then(Value::as_str)
            .filter(|t| *t != "default")
        {
            Some(t) => Err(TrainerError::config(
                self.path,
                "rope_parameters",
                format!("rope_type {t:?} is not supported (only \"default\")"),
            )),
            None => Ok(()),
        }
    }
}

/// `raw` to export: the file as read, naming `architecture` and `model_type`.
pub(crate) fn export_json(raw: &Value, architecture: &str, model_type: &str) -> Value {
    let mut json = raw.clone();
    if let Some(m) = json.as_object_mut() {
        m.insert("architectures".into(), serde_json::json!([architecture]));
        m.insert("model_type".into(), model_type.into());
    }
    json
}
