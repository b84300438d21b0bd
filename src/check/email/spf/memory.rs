//! In-memory DNS for tests: records by name, CNAMEs followed, and `Timeout` entries that
//! make a query fail when the name has no record of the requested type.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::lookup::{Lookup, SpfDns};

/// Longest CNAME chain followed before a query fails, as a resolver gives up on a loop.
const MAX_CNAME_CHAIN: usize = 8;

#[derive(Debug, Clone)]
pub enum Entry {
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    Txt(String),
    Mx(u16, String),
    Ptr(String),
    Cname(String),
    Timeout,
}

#[derive(Debug, Clone, Default)]
pub struct Zone {
    names: HashMap<String, Vec<Entry>>,
}

impl Zone {
    pub fn add(&mut self, name: &str, entry: Entry) {
        self.names.entry(normalize(name)).or_default().push(entry);
    }

    /// Makes `name` exist with no records, so that queries return no data, not NXDOMAIN.
    pub fn touch(&mut self, name: &str) {
        self.names.entry(normalize(name)).or_default();
    }

    /// Builds a zone from `(name, record)` pairs written as `"TYPE value"`.
    pub fn from_records(records: &[(&str, &str)]) -> Self {
        let mut zone = Self::default();
        for (name, record) in records {
            let (kind, value) = record.split_once(' ').unwrap_or((record, ""));
            let entry = match kind {
                "A" => Entry::A(value.parse().unwrap()),
                "AAAA" => Entry::Aaaa(value.parse().unwrap()),
                "TXT" => Entry::Txt(value.to_string()),
                "MX" => {
                    let (preference, exchange) = value.split_once(' ').unwrap();
                    Entry::Mx(preference.parse().unwrap(), exchange.to_string())
                }
                "PTR" => Entry::Ptr(value.to_string()),
                "CNAME" => Entry::Cname(value.to_string()),
                "TIMEOUT" => Entry::Timeout,
                other => panic!("unknown record type {other}"),
            };
            zone.add(name, entry);
        }
        zone
    }

    fn lookup<T>(&self, name: &str, pick: impl Fn(&Entry) -> Option<T>) -> Lookup<T> {
        let mut name = normalize(name);
        for _ in 0..MAX_CNAME_CHAIN {
            let Some(entries) = self.names.get(&name) else {
                return Lookup::NxDomain;
            };
            let found: Vec<T> = entries.iter().filter_map(&pick).collect();
            if !found.is_empty() {
                return Lookup::Found(found);
            }
            let alias = entries.iter().find_map(|entry| match entry {
                Entry::Cname(target) => Some(target),
                _ => None,
            });
            if let Some(target) = alias {
                name = normalize(target);
                continue;
            }
            if entries.iter().any(|entry| matches!(entry, Entry::Timeout)) {
                return Lookup::Failed(format!("query for {name} timed out"));
            }
            return Lookup::NoData;
        }
        Lookup::Failed(format!("CNAME chain from {name} is too long"))
    }
}

fn normalize(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// Builds the `in-addr.arpa` or `ip6.arpa` name of an address.
fn reverse_name(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, d] = v4.octets();
            format!("{d}.{c}.{b}.{a}.in-addr.arpa")
        }
        IpAddr::V6(v6) => {
            let mut labels: Vec<String> = v6
                .octets()
                .iter()
                .flat_map(|octet| [octet >> 4, octet & 0x0f])
                .map(|nibble| format!("{nibble:x}"))
                .collect();
            labels.reverse();
            format!("{}.ip6.arpa", labels.join("."))
        }
    }
}

impl SpfDns for Zone {
    async fn txt(&self, name: &str) -> Lookup<String> {
        self.lookup(name, |entry| match entry {
            Entry::Txt(text) => Some(text.clone()),
            _ => None,
        })
    }

    async fn a(&self, name: &str) -> Lookup<Ipv4Addr> {
        self.lookup(name, |entry| match entry {
            Entry::A(address) => Some(*address),
            _ => None,
        })
    }

    async fn aaaa(&self, name: &str) -> Lookup<Ipv6Addr> {
        self.lookup(name, |entry| match entry {
            Entry::Aaaa(address) => Some(*address),
            _ => None,
        })
    }

    async fn mx(&self, name: &str) -> Lookup<String> {
        let found = self.lookup(name, |entry| match entry {
            Entry::Mx(preference, exchange) => Some((*preference, exchange.clone())),
            _ => None,
        });
        match found {
            Lookup::Found(mut exchanges) => {
                exchanges.sort_by_key(|(preference, _)| *preference);
                Lookup::Found(exchanges.into_iter().map(|(_, name)| name).collect())
            }
            Lookup::NoData => Lookup::NoData,
            Lookup::NxDomain => Lookup::NxDomain,
            Lookup::Failed(detail) => Lookup::Failed(detail),
        }
    }

    async fn ptr(&self, ip: IpAddr) -> Lookup<String> {
        self.lookup(&reverse_name(ip), |entry| match entry {
            Entry::Ptr(name) => Some(name.clone()),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reverse_names() {
        let v4 = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 4));
        assert_eq!(reverse_name(v4), "4.2.0.192.in-addr.arpa");
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        assert!(reverse_name(v6).starts_with("1.0.0.0."));
        assert!(reverse_name(v6).ends_with(".8.b.d.0.1.0.0.2.ip6.arpa"));
    }
}
