//! Validation of Multus netconfs, delegate configs and IPAM blocks.
//!
//! One operation, JSON in and JSON out: `validate(input) -> answer`. It never
//! panics on any input and reports every problem at once, each with a JSON
//! path. Input: `{"netconf": {...}, "attachments": [{"path", "ifname",
//! "config"}]}` (both optional). Answer: `{"type":"valid","warnings":[...]}`
//! or `{"type":"invalid","errors":[{"path","message"}],"warnings":[...]}`.
//!
//! The WebAssembly ABI: `alloc(len) -> ptr`, write the input there,
//! `validate(ptr, len) -> answer_len`, read `answer_len` bytes at
//! `answer_ptr()`, then `dealloc(ptr, len)`.

pub mod answer;
pub mod delegate;
pub mod ipam;
pub mod net;
pub mod netconf;

use answer::{join, Report};
use delegate::ifname_problem;
use serde_json::Value;

pub fn validate_value(input: &Value) -> Report {
    let mut r = Report::default();
    let obj = match input {
        Value::Object(o) => o,
        _ => {
            r.error("", "input must be an object {\"netconf\": ..., \"attachments\": [...]}");
            return r;
        }
    };
    let mut subnets = Vec::new();
    let mut ifnames: Vec<(String, String)> = Vec::new();
    if let Some(nc) = obj.get("netconf") {
        netconf::validate(nc, &mut r, &mut subnets, &mut ifnames);
    }
    match obj.get("attachments") {
        None => {}
        Some(Value::Array(list)) => {
            for (i, a) in list.iter().enumerate() {
                let ao = match a.as_object() {
                    Some(o) => o,
                    None => {
                        r.error(&format!("attachments[{}]", i), "must be an object {\"path\", \"ifname\", \"config\"}");
                        continue;
                    }
                };
                let path = ao.get("path").and_then(Value::as_str).map(str::to_string).unwrap_or_else(|| format!("attachments[{}]", i));
                match ao.get("config") {
                    Some(c) => {
                        delegate::validate(c, &path, true, &mut r, &mut subnets);
                    }
                    None => r.error(&path, "has no config"),
                }
                match ao.get("ifname") {
                    None | Some(Value::Null) => {}
                    Some(Value::String(n)) => match ifname_problem(n) {
                        Some(p) => r.error(&join(&path, "interface"), p),
                        None => ifnames.push((join(&path, "interface"), n.clone())),
                    },
                    Some(_) => r.error(&join(&path, "interface"), "must be a string"),
                }
            }
        }
        Some(_) => r.error("attachments", "must be a list"),
    }
    for (i, (p, n)) in ifnames.iter().enumerate() {
        if let Some((q, _)) = ifnames[..i].iter().find(|(_, m)| m == n) {
            r.error(p, format!("interface name \"{}\" is also used by {}", n, q));
        }
    }
    ipam::overlaps(&subnets, &mut r);
    r
}

/// JSON text in, JSON text out; invalid JSON is an answer too.
pub fn validate_str(input: &str) -> String {
    let report = match serde_json::from_str::<Value>(input) {
        Ok(v) => validate_value(&v),
        Err(e) => {
            let mut r = Report::default();
            r.error("", format!("input is not valid JSON: {}", e));
            r
        }
    };
    report.to_json().to_string()
}

static mut ANSWER: Vec<u8> = Vec::new();

#[no_mangle]
pub extern "C" fn alloc(len: usize) -> *mut u8 {
    let mut buf = Vec::<u8>::with_capacity(len.max(1));
    let ptr = buf.as_mut_ptr();
    std::mem::forget(buf);
    ptr
}

/// # Safety
/// `ptr` and `len` must come from one `alloc(len)` call.
#[no_mangle]
pub unsafe extern "C" fn dealloc(ptr: *mut u8, len: usize) {
    drop(Vec::from_raw_parts(ptr, 0, len.max(1)));
}

/// # Safety
/// `ptr..ptr+len` must be memory obtained from `alloc` holding the input.
#[no_mangle]
pub unsafe extern "C" fn validate(ptr: *const u8, len: usize) -> usize {
    let bytes = std::slice::from_raw_parts(ptr, len);
    let out = match std::str::from_utf8(bytes) {
        Ok(s) => validate_str(s),
        Err(_) => r#"{"type":"invalid","errors":[{"path":"","message":"input is not UTF-8"}],"warnings":[]}"#.to_string(),
    };
    ANSWER = out.into_bytes();
    ANSWER.len()
}

#[no_mangle]
pub extern "C" fn answer_ptr() -> *const u8 {
    unsafe { ANSWER.as_ptr() }
}
#[cfg(test)]
mod tests;
