//! One delegate config (a conf or a conflist): bare plugin types, names,
//! versions, interface names, and its IPAM blocks.

use crate::answer::{index, join, Report};
use crate::ipam::{self, Subnet};
use serde_json::Value;

pub const VERSIONS: [&str; 7] = ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"];

/// Plugin types that are a Multus (ours, upstream's thin plugin, its thick
/// shim): never a delegate. lib/delegate.ts has the same list; a test keeps
/// them equal.
pub const MULTUS_TYPES: [&str; 2] = ["multus", "multus-shim"];

/// The reference plugins that hand their `ipam` block, unchanged, to the IPAM
/// plugin it names: only there do we know who reads it. Others (calico,
/// antrea, flannel ...) rewrite or fill it in first, so it is theirs to check.
const IPAM_AS_WRITTEN: [&str; 8] = ["bridge", "dummy", "host-device", "ipvlan", "macvlan", "ptp", "tap", "vlan"];

/// Why a plugin type is not a bare plugin name, if it is not.
pub fn type_problem(t: &str) -> Option<String> {
    if t.is_empty() {
        return Some("is empty".into());
    }
    if t.contains('/') || t.contains('\\') || t.contains("..") {
        return Some(format!("\"{}\" is a path; it must be a bare plugin name such as \"bridge\"", t));
    }
    let mut bytes = t.bytes();
    let first_ok = bytes.next().map(|b| b.is_ascii_alphanumeric()).unwrap_or(false);
    if !first_ok || !t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-') {
        return Some(format!("\"{}\" is not a valid plugin name (letters, digits, '.', '_', '-')", t));
    }
    None
}

/// Why an interface name is not valid for Linux, if it is not.
pub fn ifname_problem(n: &str) -> Option<String> {
    if n.is_empty() {
        return Some("is empty".into());
    }
    if n.len() > 15 {
        return Some(format!("\"{}\" is longer than 15 bytes", n));
    }
    if n == "." || n == ".." {
        return Some(format!("\"{}\" is not a valid interface name", n));
    }
    if n.contains('\0') {
        return Some("contains a NUL byte".into());
    }
    if n.chars().any(|c| c == '/' || c == ':' || c.is_whitespace()) {
        return Some(format!("\"{}\" contains '/', ':' or whitespace", n));
    }
    if n == "lo" {
        return Some("\"lo\" is the loopback interface every network namespace already has".into());
    }
    None
}

/// The plugin type, when it is a bare name.
fn check_type<'a>(obj: &'a serde_json::Map<String, Value>, path: &str, r: &mut Report) -> Option<&'a str> {
    let t = match obj.get("type") {
        Some(Value::String(t)) => t.as_str(),
        Some(_) => {
            r.error(&join(path, "type"), "must be a string");
            return None;
        }
        None => {
            r.error(&join(path, "type"), "is required");
            return None;
        }
    };
    if let Some(p) = type_problem(t) {
        r.error(&join(path, "type"), p);
        return None;
    }
    if MULTUS_TYPES.contains(&t) {
        r.error(&join(path, "type"), format!("\"{}\" is a Multus: a Multus cannot be a delegate (it would call itself)", t));
    }
    Some(t)
}

fn check_version(v: Option<&Value>, path: &str, r: &mut Report) {
    match v {
        None => {}
        Some(Value::String(s)) if VERSIONS.contains(&s.as_str()) => {}
        Some(other) => r.error(&join(path, "cniVersion"), format!("{} is not a supported CNI version ({})", other, VERSIONS.join(", "))),
    }
}

/// A plugin entry (the conf itself, or one plugin of a conflist).
fn plugin(obj: &serde_json::Map<String, Value>, path: &str, owner: usize, network: &str, r: &mut Report, subnets: &mut Vec<Subnet>) {
    let plugin_type = check_type(obj, path, r);
    if let Some(ipam_v) = obj.get("ipam") {
        let ip = join(path, "ipam");
        let io = match ipam_v {
            Value::Object(io) => io,
            _ => return r.error(&ip, "must be an object"),
        };
        match io.get("type") {
            Some(Value::String(t)) => {
                if let Some(p) = type_problem(t) {
                    r.error(&join(&ip, "type"), p);
                }
            }
            Some(_) => r.error(&join(&ip, "type"), "must be a string"),
            None => {}
        }
        if plugin_type.map(|t| IPAM_AS_WRITTEN.contains(&t)).unwrap_or(false) {
            ipam::validate(io, &ip, owner, network, r, subnets);
        }
    }
}

pub struct Checked {
    pub name: Option<String>,
}

/// Validate a delegate config at `path`. `name_required`: attachments must
/// carry a `name`; netconf delegates get ours filled in (a warning). `owner`
/// tells this attachment from the others of the input.
pub fn validate(v: &Value, path: &str, name_required: bool, owner: usize, r: &mut Report, subnets: &mut Vec<Subnet>) -> Checked {
    let obj = match v {
        Value::Object(o) => o,
        _ => {
            r.error(path, "must be a JSON object (a CNI conf or conflist)");
            return Checked { name: None };
        }
    };
    let name = match obj.get("name") {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::String(_)) | None => {
            if name_required {
                r.error(&join(path, "name"), "is required");
            } else {
                r.warn(&join(path, "name"), "is missing; the netconf's name and the index are used");
            }
            None
        }
        Some(_) => {
            r.error(&join(path, "name"), "must be a string");
            None
        }
    };
    check_version(obj.get("cniVersion"), path, r);
    let network = name.clone().unwrap_or_else(|| path.to_string());
    if obj.contains_key("type") || !obj.contains_key("plugins") {
        plugin(obj, path, owner, &network, r, subnets);
    } else {
        let pp = join(path, "plugins");
        match obj.get("plugins") {
            Some(Value::Array(list)) if !list.is_empty() => {
                for (i, p) in list.iter().enumerate() {
                    match p {
                        Value::Object(po) => plugin(po, &index(&pp, i), owner, &network, r, subnets),
                        _ => r.error(&index(&pp, i), "must be an object"),
                    }
                }
            }
            _ => r.error(&pp, "must be a non-empty list of plugin configs"),
        }
    }
    if let Some(m) = obj.get("masterplugin") {
        if !m.is_boolean() {
            r.error(&join(path, "masterplugin"), "must be true or false");
        }
    }
    Checked { name }
}
