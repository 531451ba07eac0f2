//! Validation of Multus netconfs, delegate configs and IPAM blocks.
//!
//! One operation, JSON in and JSON out: `validate(input) -> answer`. It never
//! panics on any input and reports every problem at once, each with a JSON
//! path. Input: `{"netconf": {...}, "attachments": [{"path", "ifname",
//! "config"}]}` (both optional). Answer: `{"type":"valid","warnings":[...]}`
//! or `{"type":"invalid","errors":[{"path","message"}],"warnings":[...]}`.
//!
//! The WebAssembly ABI (no imports; exports `memory` and): `alloc(len) -> ptr`
//! (0 when out of memory), write the input there, `validate(ptr, len) -> n`,
//! read `n` (= `answer_len()`) bytes at `answer_ptr()`, then `dealloc(ptr, len)`.

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
    let owners = match obj.get("netconf") {
        Some(nc) => netconf::validate(nc, &mut r, &mut subnets, &mut ifnames),
        None => 0,
    };
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
                        delegate::validate(c, &path, true, owners + i, &mut r, &mut subnets);
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
    match serde_json::from_str::<Value>(input) {
        Ok(v) => validate_value(&v).to_json(),
        // The parser's own limit, which no config comes near: valid JSON, but not read.
        Err(e) if e.to_string().starts_with("recursion limit exceeded") => {
            fail("input is nested too deeply (more than 128 levels of lists and objects)")
        }
        Err(e) => fail(&format!("input is not valid JSON: {}", e)),
    }
}

/// An answer with one error at the root.
fn fail(message: &str) -> String {
    let mut r = Report::default();
    r.error("", message);
    r.to_json()
}

// The WebAssembly ABI. Pointers and lengths are u32 on wasm32.

static mut ANSWER: Vec<u8> = Vec::new();

fn layout(len: usize) -> Option<std::alloc::Layout> {
    std::alloc::Layout::from_size_align(len.max(1), 1).ok()
}

/// Memory for `len` bytes of input; null when it cannot be had.
#[no_mangle]
pub extern "C" fn alloc(len: usize) -> *mut u8 {
    match layout(len) {
        // SAFETY: the layout has a non-zero size.
        Some(l) => unsafe { std::alloc::alloc(l) },
        None => std::ptr::null_mut(),
    }
}

/// # Safety
/// `ptr` and `len` must come from one `alloc(len)` call (null is ignored).
#[no_mangle]
pub unsafe extern "C" fn dealloc(ptr: *mut u8, len: usize) {
    if let (false, Some(l)) = (ptr.is_null(), layout(len)) {
        std::alloc::dealloc(ptr, l);
    }
}

/// Validate the UTF-8 JSON input at `ptr..ptr+len`; the answer (UTF-8 JSON)
/// is then at `answer_ptr()` for `answer_len()` bytes, which is also returned.
/// The answer stays there until the next call.
///
/// # Safety
/// `ptr..ptr+len` must be memory obtained from `alloc(len)` holding the input.
#[no_mangle]
pub unsafe extern "C" fn validate(ptr: *const u8, len: usize) -> usize {
    let out = if ptr.is_null() {
        fail("input is missing")
    } else {
        match std::str::from_utf8(std::slice::from_raw_parts(ptr, len)) {
            Ok(s) => validate_str(s),
            Err(e) => fail(&format!("input is not UTF-8 (at byte {})", e.valid_up_to())),
        }
    };
    let n = out.len();
    ANSWER = out.into_bytes();
    n
}

#[no_mangle]
pub extern "C" fn answer_ptr() -> *const u8 {
    // SAFETY: the module is single-threaded; ANSWER is only replaced by `validate`.
    unsafe { (*std::ptr::addr_of!(ANSWER)).as_ptr() }
}

#[no_mangle]
pub extern "C" fn answer_len() -> usize {
    // SAFETY: as for `answer_ptr`.
    unsafe { (*std::ptr::addr_of!(ANSWER)).len() }
}

#[cfg(test)]
mod tests;
