//! Our own netconf: the type of every known field, and the rules between them.

use crate::answer::{index, join, Report};
use crate::delegate::{self, ifname_problem, VERSIONS};
use crate::ipam::Subnet;
use serde_json::{Map, Value};

#[derive(Clone, Copy)]
enum Kind {
    Str,
    /// A file or dir: absolute, since a relative one would be resolved
    /// against whatever working directory the runtime gives us ("" = unset).
    Path,
    Bool,
    StrList,
    Obj,
    /// Seconds, for a timer: `0 < s <= MAX_DURATION_S`.
    Duration,
    Version,
    LogLevel,
    BoolMap,
    Delegates,
}

/// The longest duration (s): far above any useful timeout, far below what
/// a timer can hold. lib/netconf.ts clamps to the same value.
pub const MAX_DURATION_S: f64 = 3600.0;

const FIELDS: [(&str, Kind); 38] = [
    ("name", Kind::Str),
    ("type", Kind::Str),
    ("cniVersion", Kind::Version),
    ("cniVersions", Kind::StrList),
    ("delegates", Kind::Delegates),
    ("kubeconfig", Kind::Path),
    ("cniDir", Kind::Path),
    ("confDir", Kind::Path),
    ("binDir", Kind::Path),
    ("clusterNetwork", Kind::Str),
    ("defaultNetworks", Kind::StrList),
    ("multusNamespace", Kind::Str),
    ("systemNamespaces", Kind::StrList),
    ("namespaceIsolation", Kind::Bool),
    ("globalNamespaces", Kind::Str),
    ("readinessindicatorfile", Kind::Path),
    ("readinessTimeout", Kind::Duration),
    ("logFile", Kind::Path),
    ("logLevel", Kind::LogLevel),
    ("logToStderr", Kind::Bool),
    ("logOptions", Kind::Obj),
    ("always_use_default", Kind::Bool),
    ("retryDeleteOnError", Kind::Bool),
    ("parallel", Kind::Bool),
    ("capabilities", Kind::BoolMap),
    ("runtimeConfig", Kind::Obj),
    ("prevResult", Kind::Obj),
    ("delegateTimeout", Kind::Duration),
    ("addTimeout", Kind::Duration),
    ("apiTimeout", Kind::Duration),
    ("apiDeadline", Kind::Duration),
    ("args", Kind::Obj),
    ("cni.dev/valid-attachments", Kind::Delegates),
    ("podResourcesSocket", Kind::Path),
    ("kubeletCheckpoint", Kind::Path),
    ("deviceInfoDir", Kind::Path),
    ("podEvents", Kind::Bool),
    ("multusInstall", Kind::Obj),
];

const LOG_LEVELS: [&str; 5] = ["error", "info", "debug", "verbose", "panic"];

fn check_kind(key: &str, v: &Value, kind: Kind, r: &mut Report) {
    let ok = match kind {
        Kind::Str => v.is_string(),
        Kind::Path => v.as_str().map(|s| s.is_empty() || s.starts_with('/')).unwrap_or(false),
        Kind::Bool => v.is_boolean(),
        Kind::StrList => v.as_array().map(|a| a.iter().all(Value::is_string)).unwrap_or(false),
        Kind::Obj => v.is_object(),
        Kind::Duration => v.as_f64().map(|n| n > 0.0 && n <= MAX_DURATION_S).unwrap_or(false),
        Kind::Version => v.as_str().map(|s| VERSIONS.contains(&s)).unwrap_or(false),
        Kind::LogLevel => v.as_str().map(|s| LOG_LEVELS.contains(&s)).unwrap_or(false),
        Kind::BoolMap => v.as_object().map(|o| o.values().all(Value::is_boolean)).unwrap_or(false),
        Kind::Delegates => v.is_array(),
    };
    if ok {
        return;
    }
    let want = match kind {
        Kind::Str => "must be a string".to_string(),
        Kind::Path if v.is_string() => format!("{} must be an absolute path", v),
        Kind::Path => "must be a string".to_string(),
        Kind::Bool => "must be true or false".to_string(),
        Kind::StrList => "must be a list of strings".to_string(),
        Kind::Obj => "must be an object".to_string(),
        Kind::Duration => format!("must be a number of seconds greater than 0 and at most {}", MAX_DURATION_S as u32),
        Kind::Version => format!("{} is not a supported CNI version ({})", v, VERSIONS.join(", ")),
        Kind::LogLevel => format!("{} is not a log level ({})", v, LOG_LEVELS.join(", ")),
        Kind::BoolMap => "must be an object of true/false values".to_string(),
        Kind::Delegates => "must be a list".to_string(),
    };
    r.error(key, want);
}

fn non_empty(o: &Map<String, Value>, key: &str) -> bool {
    match o.get(key) {
        Some(Value::String(s)) => !s.is_empty(),
        _ => false,
    }
}

/// Validate the netconf; requested interface names go into `ifnames`. Its
/// delegates are owners `0..n` of `subnets`; returns `n`.
pub fn validate(v: &Value, r: &mut Report, subnets: &mut Vec<Subnet>, ifnames: &mut Vec<(String, String)>) -> usize {
    let o = match v {
        Value::Object(o) => o,
        _ => {
            r.error("", "the netconf must be a JSON object");
            return 0;
        }
    };
    for (key, val) in o {
        match FIELDS.iter().find(|(k, _)| k == key) {
            Some((_, kind)) => check_kind(key, val, *kind, r),
            None => r.warn(key, "is not a field this plugin knows; it is ignored"),
        }
    }
    // A value of the wrong type has been reported above; absent or empty is reported here.
    match o.get("name") {
        None | Some(Value::Null) => r.error("name", "is required"),
        Some(Value::String(s)) if s.is_empty() => r.error("name", "is required"),
        _ => {}
    }
    let k8s = non_empty(o, "kubeconfig") || non_empty(o, "clusterNetwork");
    let delegates = o.get("delegates").and_then(Value::as_array);
    let count = delegates.map(|d| d.len()).unwrap_or(0);
    let mistyped = o.get("delegates").map(|d| !d.is_array()).unwrap_or(false);
    if count == 0 && !k8s && !mistyped {
        r.error("delegates", "must list at least one network when neither kubeconfig nor clusterNetwork is set");
    }
    if o.get("always_use_default") == Some(&Value::Bool(true)) && count == 0 {
        r.error("always_use_default", "needs delegates: they are the networks always attached first");
    }
    if non_empty(o, "clusterNetwork") && count > 0 {
        r.warn("delegates", "are not used when clusterNetwork is set");
    }
    if o.contains_key("globalNamespaces") && o.get("namespaceIsolation") != Some(&Value::Bool(true)) {
        r.warn("globalNamespaces", "has no effect unless namespaceIsolation is true");
    }
    if let Some(list) = delegates {
        let mut masters = Vec::new();
        for (i, d) in list.iter().enumerate() {
            let p = index("delegates", i);
            delegate::validate(d, &p, false, i, r, subnets);
            if let Value::Object(dobj) = d {
                if dobj.get("masterplugin") == Some(&Value::Bool(true)) {
                    masters.push(p.clone());
                }
                match dobj.get("ifnameRequest") {
                    Some(Value::String(n)) => {
                        let ip = join(&p, "ifnameRequest");
                        match ifname_problem(n) {
                            Some(problem) => r.error(&ip, problem),
                            None => ifnames.push((ip, n.clone())),
                        }
                    }
                    Some(_) => r.error(&join(&p, "ifnameRequest"), "must be a string"),
                    None => {}
                }
            }
        }
        for extra in masters.iter().skip(1) {
            r.error(extra, format!("only one delegate can have \"masterplugin\": true (also {})", masters[0]));
        }
    }
    count
}
