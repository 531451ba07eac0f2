//! IP addresses and CIDRs, parsed with the standard library and compared as
//! 128-bit numbers within one family.

use std::net::IpAddr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ip {
    pub family: Family,
    pub value: u128,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    /// The address as written (may have host bits set).
    pub addr: Ip,
    pub prefix: u32,
}

impl Ip {
    fn bits(&self) -> u32 {
        match self.family {
            Family::V4 => 32,
            Family::V6 => 128,
        }
    }
}

pub fn parse_ip(s: &str) -> Option<Ip> {
    match s.trim().parse::<IpAddr>().ok()? {
        IpAddr::V4(a) => Some(Ip { family: Family::V4, value: u32::from(a) as u128 }),
        IpAddr::V6(a) => Some(Ip { family: Family::V6, value: u128::from(a) }),
    }
}

pub fn parse_cidr(s: &str) -> Option<Cidr> {
    let (a, p) = s.trim().split_once('/')?;
    let addr = parse_ip(a)?;
    if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let prefix: u32 = p.parse().ok()?;
    if prefix > addr.bits() {
        return None;
    }
    Some(Cidr { addr, prefix })
}

impl Cidr {
    /// Bits of the address that are not the prefix.
    pub fn host_bits(&self) -> u32 {
        self.addr.bits().saturating_sub(self.prefix)
    }

    fn host_mask(&self) -> u128 {
        let host_bits = self.host_bits();
        if host_bits == 128 {
            u128::MAX
        } else {
            (1u128 << host_bits) - 1
        }
    }

    pub fn network(&self) -> u128 {
        self.addr.value & !self.host_mask()
    }

    pub fn last(&self) -> u128 {
        self.network() | self.host_mask()
    }

    pub fn contains(&self, ip: &Ip) -> bool {
        ip.family == self.addr.family && ip.value >= self.network() && ip.value <= self.last()
    }

    pub fn overlaps(&self, other: &Cidr) -> bool {
        self.addr.family == other.addr.family && self.network() <= other.last() && other.network() <= self.last()
    }

    pub fn is_v4(&self) -> bool {
        self.addr.family == Family::V4
    }

    pub fn show(&self) -> String {
        format!("{}/{}", show_ip(&Ip { family: self.addr.family, value: self.network() }), self.prefix)
    }
}

pub fn show_ip(ip: &Ip) -> String {
    match ip.family {
        Family::V4 => std::net::Ipv4Addr::from(ip.value as u32).to_string(),
        Family::V6 => std::net::Ipv6Addr::from(ip.value).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_contains() {
        let c = parse_cidr("10.1.0.7/24").unwrap();
        assert_eq!(c.show(), "10.1.0.0/24");
        assert!(c.contains(&parse_ip("10.1.0.255").unwrap()));
        assert!(!c.contains(&parse_ip("10.1.1.0").unwrap()));
        assert!(!c.contains(&parse_ip("::1").unwrap()));
        let v6 = parse_cidr("fd00::/64").unwrap();
        assert!(v6.contains(&parse_ip("fd00::ffff").unwrap()));
        assert!(parse_cidr("0.0.0.0/0").unwrap().contains(&parse_ip("1.2.3.4").unwrap()));
        assert!(parse_cidr("::/0").unwrap().contains(&parse_ip("::1").unwrap()));
    }

    #[test]
    fn rejects_bad_input() {
        for s in ["10.1.0.0/33", "10.1.0.0", "10.1.0.0/", "10.1.0/24", "x/24", "fd00::/129", "10.0.0.0/+1", "10.0.0.0/0024"] {
            assert!(parse_cidr(s).is_none(), "{}", s);
        }
        assert!(parse_ip("10.0.0.256").is_none());
    }

    #[test]
    fn overlap() {
        let a = parse_cidr("10.1.0.0/16").unwrap();
        let b = parse_cidr("10.1.5.0/24").unwrap();
        let c = parse_cidr("10.2.0.0/24").unwrap();
        assert!(a.overlaps(&b) && b.overlaps(&a));
        assert!(!a.overlaps(&c));
    }
}
