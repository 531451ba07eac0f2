//! IPAM blocks: host-local (`subnet` or `ranges`), static (`addresses`),
//! whereabouts-style (`range`, `range_start`, `range_end`, `exclude`, or a
//! list of those in `ipRanges`), and `routes`. Subnets found are returned for
//! the cross-attachment overlap check.

use crate::answer::{index, join, Report};
use crate::net::{parse_cidr, parse_ip, show_ip, Cidr, Ip};
use serde_json::{Map, Value};

/// A subnet an attachment allocates from, with where it was found.
pub struct Subnet {
    pub path: String,
    /// Which attachment or delegate of the input it belongs to.
    pub owner: usize,
    pub network: String,
    pub cidr: Cidr,
}

fn string_at<'a>(obj: &'a Map<String, Value>, key: &str, path: &str, r: &mut Report) -> Option<&'a str> {
    match obj.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.as_str()),
        Some(_) => {
            r.error(&join(path, key), "must be a string");
            None
        }
    }
}

fn cidr_at(obj: &Map<String, Value>, key: &str, path: &str, r: &mut Report) -> Option<Cidr> {
    let s = string_at(obj, key, path, r)?;
    let c = parse_cidr(s);
    if c.is_none() {
        r.error(&join(path, key), format!("{} is not a valid CIDR (address/prefix)", s));
    }
    c
}

fn ip_at(obj: &Map<String, Value>, key: &str, path: &str, r: &mut Report) -> Option<Ip> {
    let s = string_at(obj, key, path, r)?;
    let ip = parse_ip(s);
    if ip.is_none() {
        r.error(&join(path, key), format!("{} is not a valid IP address", s));
    }
    ip
}

fn inside(c: &Cidr, ip: &Ip, key: &str, path: &str, r: &mut Report) -> bool {
    if c.addr.family != ip.family {
        r.error(&join(path, key), format!("{} is not the same IP family as subnet {}", show_ip(ip), c.show()));
        return false;
    }
    if !c.contains(ip) {
        r.error(&join(path, key), format!("{} is outside subnet {}", show_ip(ip), c.show()));
        return false;
    }
    true
}

/// One host-local range object: subnet, rangeStart, rangeEnd, gateway.
fn range(obj: &Map<String, Value>, path: &str, subnet_key: &str, start_key: &str, end_key: &str, r: &mut Report) -> Option<Cidr> {
    let subnet = cidr_at(obj, subnet_key, path, r);
    if subnet.is_none() && !obj.contains_key(subnet_key) {
        r.error(&join(path, subnet_key), "is required");
    }
    let start = ip_at(obj, start_key, path, r);
    let end = ip_at(obj, end_key, path, r);
    let gateway = ip_at(obj, "gateway", path, r);
    if let Some(c) = subnet {
        let start_in = start.map(|s| inside(&c, &s, start_key, path, r)).unwrap_or(false);
        let end_in = end.map(|e| inside(&c, &e, end_key, path, r)).unwrap_or(false);
        if let (true, true, Some(s), Some(e)) = (start_in, end_in, start, end) {
            if s.value > e.value {
                r.error(&join(path, start_key), format!("{} is after {} {}", show_ip(&s), end_key, show_ip(&e)));
            }
        }
        if let Some(g) = gateway {
            // /31 and /32 (/127 and /128) have no network or broadcast address.
            if inside(&c, &g, "gateway", path, r) && c.host_bits() > 1 {
                if g.value == c.network() {
                    r.error(&join(path, "gateway"), format!("{} is the network address of {}", show_ip(&g), c.show()));
                } else if c.is_v4() && g.value == c.last() {
                    r.error(&join(path, "gateway"), format!("{} is the broadcast address of {}", show_ip(&g), c.show()));
                }
            }
        }
    }
    subnet
}

/// Whereabouts' `exclude`: a list of CIDRs.
fn exclude(v: &Value, path: &str, r: &mut Report) {
    let items = match v {
        Value::Array(a) => a,
        _ => return r.error(path, "must be a list of CIDRs"),
    };
    for (i, e) in items.iter().enumerate() {
        match e {
            Value::String(s) => {
                if parse_cidr(s).is_none() {
                    r.error(&index(path, i), format!("{} is not a valid CIDR (address/prefix)", s));
                }
            }
            _ => r.error(&index(path, i), "must be a CIDR string"),
        }
    }
}

fn routes(v: &Value, path: &str, r: &mut Report) {
    let list = match v {
        Value::Array(a) => a,
        _ => return r.error(path, "must be a list of {\"dst\": CIDR, \"gw\": IP}"),
    };
    for (i, rt) in list.iter().enumerate() {
        let p = index(path, i);
        match rt {
            Value::Object(o) => {
                if o.get("dst").is_none() {
                    r.error(&join(&p, "dst"), "is required");
                }
                let dst = cidr_at(o, "dst", &p, r);
                let gw = ip_at(o, "gw", &p, r);
                if let (Some(d), Some(g)) = (dst, gw) {
                    if d.addr.family != g.family {
                        r.error(&join(&p, "gw"), format!("{} is not the same IP family as dst {}", show_ip(&g), d.show()));
                    }
                }
            }
            _ => r.error(&p, "must be an object"),
        }
    }
}

/// Validate an `ipam` object found at `path` of network `network`, part of
/// attachment (or delegate) number `owner`.
pub fn validate(ipam: &Value, path: &str, owner: usize, network: &str, r: &mut Report, subnets: &mut Vec<Subnet>) {
    let obj = match ipam {
        Value::Object(o) => o,
        _ => return r.error(path, "must be an object"),
    };
    let mut found: Vec<(String, Cidr)> = Vec::new();
    if obj.contains_key("subnet") {
        if let Some(c) = range(obj, path, "subnet", "rangeStart", "rangeEnd", r) {
            found.push((join(path, "subnet"), c));
        }
    }
    if let Some(v) = obj.get("ranges") {
        let rp = join(path, "ranges");
        match v {
            Value::Array(sets) if !sets.is_empty() => {
                for (i, set) in sets.iter().enumerate() {
                    let sp = index(&rp, i);
                    match set {
                        Value::Array(items) if !items.is_empty() => {
                            for (j, item) in items.iter().enumerate() {
                                let ip = index(&sp, j);
                                match item {
                                    Value::Object(o) => {
                                        if let Some(c) = range(o, &ip, "subnet", "rangeStart", "rangeEnd", r) {
                                            found.push((join(&ip, "subnet"), c));
                                        }
                                    }
                                    _ => r.error(&ip, "must be a range object {\"subnet\": CIDR, ...}"),
                                }
                            }
                        }
                        _ => r.error(&sp, "must be a non-empty list of range objects"),
                    }
                }
            }
            _ => r.error(&rp, "must be a non-empty list of range sets (lists of range objects)"),
        }
    }
    if obj.contains_key("range") {
        if let Some(c) = range(obj, path, "range", "range_start", "range_end", r) {
            found.push((join(path, "range"), c));
        }
    }
    if let Some(ex) = obj.get("exclude") {
        exclude(ex, &join(path, "exclude"), r);
    }
    if let Some(v) = obj.get("ipRanges") {
        let rp = join(path, "ipRanges");
        match v {
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let ip = index(&rp, i);
                    match item {
                        Value::Object(o) => {
                            if let Some(c) = range(o, &ip, "range", "range_start", "range_end", r) {
                                found.push((join(&ip, "range"), c));
                            }
                            if let Some(ex) = o.get("exclude") {
                                exclude(ex, &join(&ip, "exclude"), r);
                            }
                        }
                        _ => r.error(&ip, "must be a range object {\"range\": CIDR, ...}"),
                    }
                }
            }
            _ => r.error(&rp, "must be a list of range objects"),
        }
    }
    if !obj.contains_key("subnet") && !obj.contains_key("range") {
        // Without a subnet these cannot be placed, but they must still be addresses.
        for key in ["rangeStart", "rangeEnd", "gateway", "range_start", "range_end"] {
            ip_at(obj, key, path, r);
        }
    }
    if let Some(v) = obj.get("addresses") {
        let ap = join(path, "addresses");
        match v {
            Value::Array(items) => {
                for (i, a) in items.iter().enumerate() {
                    let p = index(&ap, i);
                    match a {
                        Value::Object(o) => {
                            if !o.contains_key("address") {
                                r.error(&join(&p, "address"), "is required");
                            }
                            let c = cidr_at(o, "address", &p, r);
                            let g = ip_at(o, "gateway", &p, r);
                            if let (Some(c), Some(g)) = (c, g) {
                                inside(&c, &g, "gateway", &p, r);
                            }
                        }
                        _ => r.error(&p, "must be an object {\"address\": CIDR}"),
                    }
                }
            }
            _ => r.error(&ap, "must be a list"),
        }
    }
    if let Some(v) = obj.get("routes") {
        routes(v, &join(path, "routes"), r);
    }
    for (p, c) in found {
        subnets.push(Subnet { path: p, owner, network: network.to_string(), cidr: c });
    }
}

/// Report overlapping subnets of different attachments, each subnet once
/// (against the first earlier one it overlaps). The same network listed twice
/// (same name, same subnets) shares one address pool: not an overlap.
pub fn overlaps(subnets: &[Subnet], r: &mut Report) {
    // Subnets arrive grouped by owner: each group is one pool.
    let mut groups: Vec<(usize, usize)> = Vec::new();
    for (i, s) in subnets.iter().enumerate() {
        match groups.last_mut() {
            Some((start, end)) if subnets[*start].owner == s.owner => *end = i + 1,
            _ => groups.push((i, i + 1)),
        }
    }
    let same_pool = |a: (usize, usize), b: (usize, usize)| {
        let (x, y) = (&subnets[a.0..a.1], &subnets[b.0..b.1]);
        x.len() == y.len()
            && x[0].network == y[0].network
            && x.iter().zip(y).all(|(p, q)| {
                p.cidr.addr.family == q.cidr.addr.family && p.cidr.network() == q.cidr.network() && p.cidr.prefix == q.cidr.prefix
            })
    };
    // The first group with the same pool stands for it.
    let mut pool_of_group: Vec<usize> = Vec::with_capacity(groups.len());
    for (g, group) in groups.iter().enumerate() {
        let first = groups[..g].iter().position(|other| same_pool(*other, *group)).unwrap_or(g);
        pool_of_group.push(first);
    }
    // A later copy of a pool has the same subnets as its first: only the
    // firsts can be the first earlier subnet that another one overlaps.
    let mut pools: Vec<usize> = Vec::with_capacity(subnets.len());
    let mut firsts: Vec<usize> = Vec::new();
    for (g, (start, end)) in groups.iter().enumerate() {
        for i in *start..*end {
            pools.push(pool_of_group[g]);
            if pool_of_group[g] == g {
                firsts.push(i);
            }
        }
    }
    for (j, b) in subnets.iter().enumerate() {
        let first = firsts.iter().take_while(|i| **i < j).find(|i| pools[**i] != pools[j] && subnets[**i].cidr.overlaps(&b.cidr));
        if let Some(a) = first.map(|i| &subnets[*i]) {
            r.error(&b.path, format!("{} overlaps {} at {} (network \"{}\")", b.cidr.show(), a.cidr.show(), a.path, a.network));
        }
    }
}
