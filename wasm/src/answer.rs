//! The validator's answer: every problem at once, each with a JSON path.

#[derive(Debug, Clone, PartialEq, Eq)]
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

    /// `{"type":"valid","warnings":[...]}` or
    /// `{"type":"invalid","errors":[...],"warnings":[...]}`.
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(64 + 96 * (self.errors.len() + self.warnings.len()));
        if self.errors.is_empty() {
            out.push_str("{\"type\":\"valid\"");
        } else {
            out.push_str("{\"type\":\"invalid\",\"errors\":");
            push_list(&mut out, &self.errors);
        }
        out.push_str(",\"warnings\":");
        push_list(&mut out, &self.warnings);
        out.push('}');
        out
    }
}

fn push_list(out: &mut String, list: &[Problem]) {
    out.push('[');
    for (i, p) in list.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"path\":");
        push_string(out, &p.path);
        out.push_str(",\"message\":");
        push_string(out, &p.message);
        out.push('}');
    }
    out.push(']');
}

/// A JSON string literal.
pub fn push_string(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let b = c as u32 as usize;
                out.push_str("\\u00");
                out.push(HEX[(b >> 4) & 0xf] as char);
                out.push(HEX[b & 0xf] as char);
            }
            c => out.push(c),
        }
    }
    out.push('"');
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_json_with_type_first() {
        let mut r = Report::default();
        assert_eq!(r.to_json(), r#"{"type":"valid","warnings":[]}"#);
        r.warn("x", "w");
        r.error("a.b[0]", "say \"hi\"\\\n\u{1}é");
        assert_eq!(
            r.to_json(),
            r#"{"type":"invalid","errors":[{"path":"a.b[0]","message":"say \"hi\"\\\n\u0001é"}],"warnings":[{"path":"x","message":"w"}]}"#
        );
        let parsed: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(parsed["errors"][0]["message"], "say \"hi\"\\\n\u{1}é");
    }
}
