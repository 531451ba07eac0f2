//! The validator's answer: every problem at once, each with a JSON path.

use serde_json::{json, Value};

#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub path: String,
    pub message: String,
}

#[derive(Debug, Default)]
pub struct Report {
    pub errors: Vec<Problem>,
    pub warnings: Vec<Problem>,
}

impl Report {
    pub fn error(&mut self, path: &str, message: impl Into<String>) {
        self.errors.push(Problem { path: path.to_string(), message: message.into() });
    }

    pub fn warn(&mut self, path: &str, message: impl Into<String>) {
        self.warnings.push(Problem { path: path.to_string(), message: message.into() });
    }

    pub fn to_json(&self) -> Value {
        let list = |ps: &[Problem]| -> Value {
            Value::Array(ps.iter().map(|p| json!({"path": p.path, "message": p.message})).collect())
        };
        if self.errors.is_empty() {
            json!({"type": "valid", "warnings": list(&self.warnings)})
        } else {
            json!({"type": "invalid", "errors": list(&self.errors), "warnings": list(&self.warnings)})
        }
    }
}

/// `base.key`, or `key` when there is no base.
pub fn join(base: &str, key: &str) -> String {
    if base.is_empty() {
        key.to_string()
    } else {
        format!("{}.{}", base, key)
    }
}

/// `base[i]`.
pub fn index(base: &str, i: usize) -> String {
    format!("{}[{}]", base, i)
}
