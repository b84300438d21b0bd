//! Which addresses posture may connect to.
//!
//! By default posture never connects to an address outside the public unicast internet, where
//! a scan could reach the scanner's own network or a cloud metadata service. The ranges are
//! those of the IANA IPv4 and IPv6 Special-Purpose Address Registries (RFC 6890 and updates)
//! plus multicast. `--allow-private` opens loopback, private, shared and benchmarking ranges for
//! test networks. Link-local (where cloud metadata services listen), multicast and the other
//! reserved ranges stay closed whatever the flag.

use std::collections::HashSet;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

/// The kind of range an address falls in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressClass {
    Public,
    Loopback,
    /// RFC 1918 (IPv4) or unique local (IPv6, RFC 4193).
    Private,
    /// Shared address space for carrier-grade NAT (RFC 6598).
    Shared,
    /// Network benchmarking (RFC 2544).
    Benchmarking,
    LinkLocal,
    Multicast,
    Documentation,
    Unspecified,
    /// Any other special-purpose or reserved range.
    Reserved,
}

impl AddressClass {
    /// Returns whether posture may connect to an address of this class.
    pub fn is_allowed(self, allow_private: bool) -> bool {
        match self {
            Self::Public => true,
            Self::Loopback | Self::Private | Self::Shared | Self::Benchmarking => allow_private,
            Self::LinkLocal
            | Self::Multicast
            | Self::Documentation
            | Self::Unspecified
            | Self::Reserved => false,
        }
    }
}

impl fmt::Display for AddressClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Public => "public",
            Self::Loopback => "loopback",
            Self::Private => "private",
            Self::Shared => "shared (CGNAT)",
            Self::Benchmarking => "benchmarking",
            Self::LinkLocal => "link-local",
            Self::Multicast => "multicast",
            Self::Documentation => "documentation",
            Self::Unspecified => "unspecified",
            Self::Reserved => "reserved",
        })
    }
}

pub fn classify(address: IpAddr) -> AddressClass {
    match address {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(address: Ipv4Addr) -> AddressClass {
    use AddressClass::*;
    let [a, b, c, _] = address.octets();
    match (a, b, c) {
        (0, _, _) => {
            if address.is_unspecified() {
                Unspecified
            } else {
                Reserved
            }
        }
        (10, _, _) => Private,
        (100, 64..=127, _) => Shared,
        (127, _, _) => Loopback,
        (169, 254, _) => LinkLocal,
        (172, 16..=31, _) => Private,
        // 192.0.0.0/24 protocol assignments; 192.31.196.0/24 AS112; 192.52.193.0/24 AMT;
        // 192.88.99.0/24 former 6to4 relays; 192.175.48.0/24 direct delegation AS112.
        (192, 0, 0) | (192, 31, 196) | (192, 52, 193) | (192, 88, 99) | (192, 175, 48) => Reserved,
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => Documentation,
        (192, 168, _) => Private,
        (198, 18..=19, _) => Benchmarking,
        (224..=239, _, _) => Multicast,
        (240..=255, _, _) => Reserved,
        _ => Public,
    }
}

fn classify_v6(address: Ipv6Addr) -> AddressClass {
    use AddressClass::*;
    if address.is_unspecified() {
        return Unspecified;
    }
    if address.is_loopback() {
        return Loopback;
    }
    // IPv4-mapped (::ffff:0:0/96) and the NAT64 well-known prefix (64:ff9b::/96) reach the
    // embedded IPv4 address, so they take its class.
    if let Some(v4) = address.to_ipv4_mapped() {
        return classify_v4(v4);
    }
    let segments = address.segments();
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let [.., high, low] = segments;
        return classify_v4(Ipv4Addr::from((u32::from(high) << 16) | u32::from(low)));
    }
    let first = segments[0];
    match first {
        0xfc00..=0xfdff => Private,
        0xfe80..=0xfebf => LinkLocal,
        0xff00..=0xffff => Multicast,
        0x2001 if segments[1] == 0x0db8 => Documentation,
        0x3fff if segments[1] <= 0x0fff => Documentation,
        // 2001::/23 IETF protocol assignments (Teredo, ORCHID, ...); 2002::/16 6to4.
        0x2001 if segments[1] < 0x0200 => Reserved,
        0x2002 => Reserved,
        // 100::/64 discard-only; 64:ff9b:1::/48 local-use translation; 5f00::/16 SRv6.
        0x0100 if segments[1..4] == [0, 0, 0] => Reserved,
        0x0064 if segments[1] == 0xff9b && segments[2] == 1 => Reserved,
        0x5f00 => Reserved,
        // Everything outside 2000::/3 is unassigned or reserved for unicast.
        _ if !(0x2000..=0x3fff).contains(&first) => Reserved,
        _ => Public,
    }
}

/// Domains and networks never to contact, from `--exclude` files.
#[derive(Debug, Default, Clone)]
pub struct ExcludeList {
    domains: HashSet<String>,
    networks: Vec<IpNet>,
}

impl ExcludeList {
    /// Parses one exclude file: a domain, an address or a CIDR network per line, `#` comments.
    pub fn add_text(&mut self, text: &str, source: &str) -> Result<(), String> {
        for (index, line) in text.lines().enumerate() {
            let entry = line.split('#').next().unwrap_or("").trim();
            if entry.is_empty() {
                continue;
            }
            if let Ok(network) = entry.parse::<IpNet>() {
                self.networks.push(network.trunc());
            } else if let Ok(address) = entry.parse::<IpAddr>() {
                self.networks.push(IpNet::from(address));
            } else {
                match crate::input::normalize(entry) {
                    Ok(name) => {
                        self.domains.insert(name.ascii);
                    }
                    // A public suffix or a top-level domain may be excluded as a whole (for
                    // example every .gov name).
                    Err(
                        crate::input::InvalidName::PublicSuffix
                        | crate::input::InvalidName::SingleLabel,
                    ) => {
                        self.domains
                            .insert(entry.trim_end_matches('.').to_ascii_lowercase());
                    }
                    Err(reason) => {
                        return Err(format!(
                            "{source} line {}: invalid exclude entry {entry:?}: {reason}",
                            index + 1
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// Returns the excluded domain that covers `name` (the name itself or a parent).
    pub fn excluded_domain(&self, name: &str) -> Option<&str> {
        let mut rest = name;
        loop {
            if let Some(entry) = self.domains.get(rest) {
                return Some(entry);
            }
            rest = rest.split_once('.')?.1;
        }
    }

    /// Returns the excluded network that contains `address`.
    pub fn excluded_network(&self, address: IpAddr) -> Option<IpNet> {
        let address = match address {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
            IpAddr::V4(_) => address,
        };
        self.networks
            .iter()
            .copied()
            .find(|network| network.contains(&address))
    }

    pub fn is_empty(&self) -> bool {
        self.domains.is_empty() && self.networks.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(text: &str) -> AddressClass {
        classify(text.parse().unwrap())
    }

    #[test]
    fn classifies_special_ranges() {
        use AddressClass::*;
        let cases = [
            ("93.184.216.34", Public),
            ("8.8.8.8", Public),
            ("0.0.0.0", Unspecified),
            ("0.1.2.3", Reserved),
            ("10.0.0.1", Private),
            ("100.64.0.1", Shared),
            ("100.128.0.1", Public),
            ("127.0.0.1", Loopback),
            ("127.10.0.1", Loopback),
            ("169.254.169.254", LinkLocal),
            ("172.16.0.1", Private),
            ("172.32.0.1", Public),
            ("192.0.0.8", Reserved),
            ("192.0.2.1", Documentation),
            ("192.168.1.1", Private),
            ("198.18.0.1", Benchmarking),
            ("198.51.100.7", Documentation),
            ("203.0.113.9", Documentation),
            ("224.0.0.1", Multicast),
            ("240.0.0.1", Reserved),
            ("255.255.255.255", Reserved),
            ("2606:4700::1111", Public),
            ("::", Unspecified),
            ("::1", Loopback),
            ("::ffff:10.0.0.1", Private),
            ("::ffff:8.8.8.8", Public),
            ("64:ff9b::a9fe:a9fe", LinkLocal),
            ("fd00::1", Private),
            ("fe80::1", LinkLocal),
            ("ff02::1", Multicast),
            ("2001:db8::1", Documentation),
            ("3fff::1", Documentation),
            ("2001::1", Reserved),
            ("2002:c000:0201::1", Reserved),
            ("100::1", Reserved),
            ("::1.2.3.4", Reserved),
            ("4000::1", Reserved),
        ];
        for (address, expected) in cases {
            assert_eq!(class(address), expected, "address {address}");
        }
    }

    #[test]
    fn allow_private_never_opens_link_local() {
        assert!(class("127.0.0.1").is_allowed(true));
        assert!(!class("127.0.0.1").is_allowed(false));
        assert!(class("10.1.2.3").is_allowed(true));
        assert!(!class("169.254.169.254").is_allowed(true));
        assert!(!class("fe80::1").is_allowed(true));
        assert!(!class("224.0.0.1").is_allowed(true));
        assert!(class("8.8.8.8").is_allowed(false));
    }

    #[test]
    fn exclude_list_domains_and_networks() {
        let mut list = ExcludeList::default();
        list.add_text(
            "# opt-outs\nExample.com\n192.0.2.0/24 # a network\n2001:db8::5\ngov\n",
            "x",
        )
        .unwrap();
        assert_eq!(list.excluded_domain("example.com"), Some("example.com"));
        assert_eq!(list.excluded_domain("www.example.com"), Some("example.com"));
        assert_eq!(list.excluded_domain("notexample.com"), None);
        assert_eq!(list.excluded_domain("agency.gov"), Some("gov"));
        assert!(
            list.excluded_network("192.0.2.77".parse().unwrap())
                .is_some()
        );
        assert!(
            list.excluded_network("::ffff:192.0.2.77".parse().unwrap())
                .is_some()
        );
        assert!(
            list.excluded_network("2001:db8::5".parse().unwrap())
                .is_some()
        );
        assert!(
            list.excluded_network("2001:db8::6".parse().unwrap())
                .is_none()
        );
        let error = list.add_text("not a domain!\n", "file.txt").unwrap_err();
        assert!(error.contains("file.txt line 1"), "{error}");
    }
}
