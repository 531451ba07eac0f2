//! IPAM blocks, by the rules of the IPAM plugin that reads them: host-local
//! (`subnet` or `ranges`, `routes`), static (`addresses`, `routes`) and
//! whereabouts (`range`, `range_start`, `range_end`, `exclude`, or a list of
//! those in `ipRanges`). An error is what that plugin refuses; what it takes
//! but is likely a mistake (a gateway outside its subnet ...) is a warning.
//! The address pools found go to the cross-attachment overlap check.

use crate::answer::{index, join, Report};
use crate::net::{parse_cidr, parse_ip, show_ip, Cidr, Ip};
use serde_json::{Map, Value};

/// The addresses an attachment allocates from, with where they were found.
pub struct Subnet {
    pub path: String,
    /// Which attachment or delegate of the input it belongs to.
    pub owner: usize,
    pub network: String,
    pub pool: Pool,
}

/// A subnet and the addresses of it that are handed out (`first..=last`).
#[derive(Clone, Copy)]
pub struct Pool {
    pub cidr: Cidr,
    pub first: u128,
    pub last: u128,
    /// Narrowed by a start or an end, so shown as a range.
    pub narrowed: bool,
}

impl Pool {
    pub fn overlaps(&self, other: &Pool) -> bool {
        self.cidr.addr.family == other.cidr.addr.family
            && self.first <= self.last
            && other.first <= other.last
            && self.first <= other.last
            && other.first <= self.last
    }

    fn range(&self) -> String {
        let ip = |value| show_ip(&Ip { family: self.cidr.addr.family, value });
        format!("{}-{}", ip(self.first), ip(self.last))
    }

    /// `10.1.0.0/24`, or `10.1.0.10-10.1.0.20 of 10.1.0.0/24` when narrowed.
    pub fn show(&self) -> String {
        if self.narrowed {
            format!("{} of {}", self.range(), self.cidr.show())
        } else {
            self.cidr.show()
        }
    }

    pub fn same(&self, other: &Pool) -> bool {
        self.cidr.addr.family == other.cidr.addr.family
            && self.cidr.prefix == other.cidr.prefix
            && self.first == other.first
            && self.last == other.last
    }
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

fn bad_cidr(s: &str) -> String {
    format!("{} is not a valid CIDR (address/prefix)", s)
}

fn cidr_at(obj: &Map<String, Value>, key: &str, path: &str, r: &mut Report) -> Option<Cidr> {
    let s = string_at(obj, key, path, r)?;
    let c = parse_cidr(s);
    if c.is_none() {
        r.error(&join(path, key), bad_cidr(s));
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

/// Why `ip` is not inside `c`, if it is not.
fn outside(c: &Cidr, ip: &Ip) -> Option<String> {
    if c.addr.family != ip.family {
        Some(format!("{} is not the same IP family as subnet {}", show_ip(ip), c.show()))
    } else if !c.contains(ip) {
        Some(format!("{} is outside subnet {}", show_ip(ip), c.show()))
    } else {
        None
    }
}

/// A gateway the plugin takes as written: questionable, never refused.
fn check_gateway(c: &Cidr, g: &Ip, path: &str, r: &mut Report) {
    if let Some(p) = outside(c, g) {
        return r.warn(path, p);
    }
    // /31 and /32 (/127 and /128) have no network or broadcast address.
    if c.host_bits() > 1 {
        if g.value == c.network() {
            r.warn(path, format!("{} is the network address of {}", show_ip(g), c.show()));
        } else if c.is_v4() && g.value == c.last() {
            r.warn(path, format!("{} is the broadcast address of {}", show_ip(g), c.show()));
        }
    }
}

/// One host-local range object: subnet, rangeStart, rangeEnd, gateway. Its
/// pool is what host-local hands out: from the start (else the address
/// after the network's) to the end (else the last, the v4 broadcast excepted).
fn host_local_range(obj: &Map<String, Value>, path: &str, r: &mut Report) -> Option<Pool> {
    let subnet = cidr_at(obj, "subnet", path, r);
    if subnet.is_none() && !obj.contains_key("subnet") {
        r.error(&join(path, "subnet"), "is required");
    }
    let start = ip_at(obj, "rangeStart", path, r);
    let end = ip_at(obj, "rangeEnd", path, r);
    let gateway = ip_at(obj, "gateway", path, r);
    let c = subnet?;
    let mut inside = |ip: Option<Ip>, key: &str| match ip {
        Some(ip) => match outside(&c, &ip) {
            Some(p) => {
                r.error(&join(path, key), p);
                None
            }
            None => Some(ip.value),
        },
        None => None,
    };
    let (first, last) = (inside(start, "rangeStart"), inside(end, "rangeEnd"));
    if let (Some(s), Some(e)) = (first, last) {
        if s > e {
            let ip = |value| show_ip(&Ip { family: c.addr.family, value });
            r.error(&join(path, "rangeStart"), format!("{} is after rangeEnd {}", ip(s), ip(e)));
        }
    }
    if let Some(g) = gateway {
        check_gateway(&c, &g, &join(path, "gateway"), r);
    }
    let default_last = if c.is_v4() { c.last().saturating_sub(1) } else { c.last() };
    Some(Pool {
        cidr: c,
        first: first.unwrap_or(c.network() + 1),
        last: last.unwrap_or(default_last),
        narrowed: start.is_some() || end.is_some(),
    })
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
                        r.warn(&join(&p, "gw"), format!("{} is not the same IP family as dst {}", show_ip(&g), d.show()));
                    }
                }
            }
            _ => r.error(&p, "must be an object"),
        }
    }
}

/// host-local: one `subnet` (with the range keys beside it) and/or `ranges`,
/// a list of range sets (lists of range objects); no two ranges may share
/// an address.
fn host_local(obj: &Map<String, Value>, path: &str, r: &mut Report, found: &mut Vec<(String, Pool)>) {
    if !obj.contains_key("subnet") && !obj.contains_key("ranges") {
        r.error(path, "host-local needs \"subnet\" or \"ranges\"");
    }
    // Path, name for the message, pool: the top-level range is host-local's first range set.
    let mut ranges: Vec<(String, String, Pool)> = Vec::new();
    if obj.contains_key("subnet") {
        if let Some(p) = host_local_range(obj, path, r) {
            ranges.push((path.to_string(), "subnet".into(), p));
        }
    } else {
        // Without a subnet these are unused, but host-local still reads them as addresses.
        for key in ["rangeStart", "rangeEnd", "gateway"] {
            ip_at(obj, key, path, r);
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
                                        if let Some(p) = host_local_range(o, &ip, r) {
                                            ranges.push((ip, format!("ranges[{}][{}]", i, j), p));
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
    for (k, (p, _, b)) in ranges.iter().enumerate() {
        if let Some((_, name, a)) = ranges[..k].iter().find(|(_, _, a)| a.overlaps(b)) {
            r.error(p, format!("{} overlaps {} of {}: host-local refuses ranges that share addresses", b.range(), a.range(), name));
        }
    }
    found.extend(ranges.into_iter().map(|(p, _, pool)| (join(&p, "subnet"), pool)));
    if let Some(v) = obj.get("routes") {
        routes(v, &join(path, "routes"), r);
    }
}

/// static: `addresses` of {"address": CIDR, "gateway": IP}, and `routes`.
fn static_ipam(obj: &Map<String, Value>, path: &str, r: &mut Report) {
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
                                if let Some(problem) = outside(&c, &g) {
                                    r.warn(&join(&p, "gateway"), problem);
                                }
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
}

/// Whereabouts' `range`: a CIDR, or `first-CIDR` (the first address to hand
/// out, then the subnet with the last one as its address).
fn whereabouts_cidr(obj: &Map<String, Value>, path: &str, r: &mut Report) -> Option<(Cidr, Option<Ip>, Option<Ip>)> {
    let s = string_at(obj, "range", path, r)?;
    let at = join(path, "range");
    if let Some(c) = parse_cidr(s) {
        return Some((c, None, None));
    }
    let dashed = s.split_once('-').and_then(|(a, b)| parse_cidr(b).map(|c| (a, c)));
    let (first, c) = match dashed {
        Some(x) => x,
        None => {
            r.error(&at, format!("{}, nor first address-CIDR", bad_cidr(s)));
            return None;
        }
    };
    let start = match parse_ip(first) {
        Some(ip) => ip,
        None => {
            r.error(&at, format!("{} is not a valid IP address", first));
            return None;
        }
    };
    if let Some(p) = outside(&c, &start) {
        r.error(&at, p);
        return None;
    }
    Some((c, Some(start), Some(c.addr)))
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
                    r.error(&index(path, i), bad_cidr(s));
                }
            }
            _ => r.error(&index(path, i), "must be a CIDR string"),
        }
    }
}

/// One whereabouts range object: range, range_start, range_end, exclude.
/// Whereabouts does not check that the start and end lie in the range.
fn whereabouts_range(obj: &Map<String, Value>, path: &str, required: bool, r: &mut Report) -> Option<Pool> {
    if required && !obj.contains_key("range") {
        r.error(&join(path, "range"), "is required");
    }
    let range = whereabouts_cidr(obj, path, r);
    let start = ip_at(obj, "range_start", path, r);
    let end = ip_at(obj, "range_end", path, r);
    if let Some(ex) = obj.get("exclude") {
        exclude(ex, &join(path, "exclude"), r);
    }
    let (c, dash_start, dash_end) = range?;
    let mut inside = |ip: Option<Ip>, key: &str| {
        let ip = ip?;
        match outside(&c, &ip) {
            Some(p) => {
                r.warn(&join(path, key), p);
                None
            }
            None => Some(ip.value),
        }
    };
    let first = inside(start, "range_start").or_else(|| dash_start.map(|ip| ip.value));
    let last = inside(end, "range_end").or_else(|| dash_end.map(|ip| ip.value));
    Some(Pool {
        cidr: c,
        first: first.unwrap_or_else(|| c.network()),
        last: last.unwrap_or_else(|| c.last()),
        narrowed: first.is_some() || last.is_some(),
    })
}

/// whereabouts: `range` (or none: a flat file on the node may give it) and
/// `ipRanges`, a list of range objects.
fn whereabouts(obj: &Map<String, Value>, path: &str, r: &mut Report, found: &mut Vec<(String, Pool)>) {
    if let Some(p) = whereabouts_range(obj, path, false, r) {
        found.push((join(path, "range"), p));
    }
    ip_at(obj, "gateway", path, r);
    if let Some(v) = obj.get("ipRanges") {
        let rp = join(path, "ipRanges");
        match v {
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let ip = index(&rp, i);
                    match item {
                        Value::Object(o) => {
                            if let Some(p) = whereabouts_range(o, &ip, true, r) {
                                found.push((join(&ip, "range"), p));
                            }
                        }
                        _ => r.error(&ip, "must be a range object {\"range\": CIDR, ...}"),
                    }
                }
            }
            _ => r.error(&rp, "must be a list of range objects"),
        }
    }
}

/// Validate the `ipam` object at `path` of network `network`, part of
/// attachment (or delegate) number `owner`, by the rules of its `type`.
/// Other types (dhcp, calico-ipam ...) have rules of their own.
pub fn validate(obj: &Map<String, Value>, path: &str, owner: usize, network: &str, r: &mut Report, subnets: &mut Vec<Subnet>) {
    let mut found: Vec<(String, Pool)> = Vec::new();
    match obj.get("type").and_then(Value::as_str) {
        Some("host-local") => host_local(obj, path, r, &mut found),
        Some("static") => static_ipam(obj, path, r),
        Some("whereabouts") => whereabouts(obj, path, r, &mut found),
        _ => {}
    }
    for (p, pool) in found {
        subnets.push(Subnet { path: p, owner, network: network.to_string(), pool });
    }
}

/// Warn of pools of different attachments that share addresses, each pool
/// once (against the first earlier one it overlaps). The same network
/// listed twice (same name, same pools) is one pool: not an overlap.
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
        x.len() == y.len() && x[0].network == y[0].network && x.iter().zip(y).all(|(p, q)| p.pool.same(&q.pool))
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
        let first = firsts.iter().take_while(|i| **i < j).find(|i| pools[**i] != pools[j] && subnets[**i].pool.overlaps(&b.pool));
        if let Some(a) = first.map(|i| &subnets[*i]) {
            r.warn(&b.path, format!("{} overlaps {} at {} (network \"{}\")", b.pool.show(), a.pool.show(), a.path, a.network));
        }
    }
}
