//! IP allowlists: which addresses may reach a tenant's page and read API.
//!
//! The seeds' products restrict the admin console to listed addresses; an empty list means no
//! restriction. Entries are CIDR blocks (`203.0.113.0/24`, `2001:db8::/32`) or single
//! addresses, stored in their normalised form so a list reads the same however it was typed.

use ipnet::IpNet;
use std::net::IpAddr;

/// Most entries one list may hold; a list is for offices and VPN egress points, not a firewall.
pub const MAX_ENTRIES: usize = 256;

/// A parsed, normalised allowlist.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IpAllowlist {
    nets: Vec<IpNet>,
}

impl IpAllowlist {
    /// Parses entries (CIDR or bare address), refusing the first bad one by name. Host bits are
    /// cleared (`10.1.2.3/8` becomes `10.0.0.0/8`), duplicates dropped, order kept.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, String> {
        let mut nets: Vec<IpNet> = Vec::new();
        for raw in entries {
            let raw = raw.as_ref().trim();
            if raw.is_empty() {
                continue;
            }
            let net = match raw.parse::<IpNet>() {
                Ok(net) => net.trunc(),
                Err(_) => raw.parse::<IpAddr>().map(IpNet::from).map_err(|_| {
                    format!("`{raw}` is not an IP address or CIDR block (e.g. 203.0.113.0/24)")
                })?,
            };
            if !nets.contains(&net) {
                nets.push(net);
            }
        }
        if nets.len() > MAX_ENTRIES {
            return Err(format!("at most {MAX_ENTRIES} entries are allowed"));
        }
        Ok(IpAllowlist { nets })
    }

    /// Splits text as typed in a form (commas, spaces or new lines) and parses it.
    pub fn parse_text(text: &str) -> Result<Self, String> {
        Self::parse(&split_entries(text))
    }

    /// True when no restriction applies.
    pub fn is_empty(&self) -> bool {
        self.nets.is_empty()
    }

    /// True if `ip` may connect: the list is empty or a block contains it. IPv4-mapped IPv6
    /// addresses (`::ffff:203.0.113.9`, as dual-stack sockets report IPv4 peers) match IPv4 blocks.
    pub fn allows(&self, ip: IpAddr) -> bool {
        if self.nets.is_empty() {
            return true;
        }
        let ip = canonical_ip(ip);
        self.nets.iter().any(|net| net.contains(&ip))
    }

    /// True only if a block lists `ip` (an empty list contains nothing): for lists that grant
    /// trust, such as the proxies whose `X-Forwarded-For` is believed.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical_ip(ip);
        self.nets.iter().any(|net| net.contains(&ip))
    }

    /// The entries in storage and display form.
    pub fn entries(&self) -> Vec<String> {
        self.nets.iter().map(display).collect()
    }
}

/// The entries of a list as typed in a form: separated by commas, spaces or new lines.
pub fn split_entries(text: &str) -> Vec<&str> {
    text.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .collect()
}

/// A single address shows without `/32` or `/128`.
fn display(net: &IpNet) -> String {
    if net.prefix_len() == net.max_prefix_len() {
        net.addr().to_string()
    } else {
        net.to_string()
    }
}

/// Unwraps IPv4-mapped IPv6 addresses, so one client has one spelling everywhere.
pub fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn empty_list_allows_everyone() {
        assert!(IpAllowlist::default().allows(ip("198.51.100.7")));
    }

    #[test]
    fn blocks_and_single_addresses() {
        let list = IpAllowlist::parse_text("203.0.113.0/24, 198.51.100.7\n2001:db8::/32").unwrap();
        assert_eq!(
            list.entries(),
            ["203.0.113.0/24", "198.51.100.7", "2001:db8::/32"]
        );
        assert!(list.allows(ip("203.0.113.200")));
        assert!(list.allows(ip("198.51.100.7")));
        assert!(!list.allows(ip("198.51.100.8")));
        assert!(list.allows(ip("2001:db8:1::9")));
        assert!(list.allows(ip("::ffff:203.0.113.5")));
        assert!(!list.allows(ip("10.0.0.1")));
        assert!(list.contains(ip("198.51.100.7")));
        assert!(!IpAllowlist::default().contains(ip("198.51.100.7")));
    }

    #[test]
    fn normalises_and_names_bad_entries() {
        let list = IpAllowlist::parse(&["10.1.2.3/8", "10.0.0.0/8", " "]).unwrap();
        assert_eq!(list.entries(), ["10.0.0.0/8"]);
        let err = IpAllowlist::parse(&["10.0.0.0/33"]).unwrap_err();
        assert!(err.contains("10.0.0.0/33"), "{err}");
        assert!(IpAllowlist::parse_text("office").is_err());
    }

    proptest! {
        #[test]
        fn parse_never_panics_and_round_trips(entries in proptest::collection::vec("[0-9a-f:./ ]{0,24}", 0..6)) {
            if let Ok(list) = IpAllowlist::parse(&entries) {
                let again = IpAllowlist::parse(&list.entries()).unwrap();
                prop_assert_eq!(again, list);
            }
        }

        #[test]
        fn a_block_contains_exactly_its_addresses(a in any::<u32>(), b in any::<u32>(), len in 0u8..=32) {
            let net = ipnet::Ipv4Net::new(std::net::Ipv4Addr::from(a), len).unwrap().trunc();
            let list = IpAllowlist::parse(&[net.to_string()]).unwrap();
            let candidate = std::net::Ipv4Addr::from(b);
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
            prop_assert_eq!(list.allows(IpAddr::V4(candidate)), (a & mask) == (b & mask));
        }
    }
}
