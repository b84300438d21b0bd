//! The cipher suites the probes offer, with their IANA names, and the weak categories.
//!
//! Categories are derived from the IANA name, which spells out the key exchange, the bulk cipher
//! and the MAC (`TLS_<key exchange>_WITH_<cipher>_<mac>`), so a suite added here is classified
//! without a second table to keep in step.

use serde::{Deserialize, Serialize};

use super::ProtocolVersion;

/// A cipher suite from the IANA TLS Cipher Suites registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CipherSuite {
    pub id: u16,
    pub name: &'static str,
}

/// A class of cipher suites that graders count against a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WeakCategory {
    Rc4,
    TripleDes,
    Export,
    Null,
    /// Anonymous key exchange (aNULL): no server authentication.
    Anonymous,
    /// Static RSA, DH or ECDH key exchange: no forward secrecy.
    NoForwardSecrecy,
}

impl WeakCategory {
    pub const ALL: [WeakCategory; 6] = [
        Self::Rc4,
        Self::TripleDes,
        Self::Export,
        Self::Null,
        Self::Anonymous,
        Self::NoForwardSecrecy,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rc4 => "rc4",
            Self::TripleDes => "3des",
            Self::Export => "export",
            Self::Null => "null",
            Self::Anonymous => "anonymous",
            Self::NoForwardSecrecy => "no_forward_secrecy",
        }
    }
}

impl CipherSuite {
    /// Returns whether the suite belongs to `category`.
    pub fn is_in(self, category: WeakCategory) -> bool {
        let name = self.name;
        match category {
            WeakCategory::Rc4 => name.contains("_RC4_"),
            WeakCategory::TripleDes => name.contains("_3DES_"),
            WeakCategory::Export => name.contains("_EXPORT"),
            WeakCategory::Null => name.contains("_WITH_NULL_"),
            WeakCategory::Anonymous => name.contains("_anon_"),
            WeakCategory::NoForwardSecrecy => {
                let static_key_exchange = name.starts_with("TLS_RSA_")
                    || name.starts_with("TLS_DH_")
                    || name.starts_with("TLS_ECDH_");
                static_key_exchange && !name.contains("_anon_")
            }
        }
    }

    /// Returns whether the suite belongs to any weak category.
    pub fn is_weak(self) -> bool {
        WeakCategory::ALL
            .iter()
            .any(|&category| self.is_in(category))
    }

    /// Returns whether a server may select the suite in a handshake of `version`.
    ///
    /// TLS 1.3 suites (RFC 8446 appendix B.4) name no key exchange and are valid only in TLS 1.3.
    /// AEAD suites and suites with a SHA-256 or SHA-384 MAC need TLS 1.2 (RFC 5246 appendix
    /// A.5). Export suites were withdrawn in TLS 1.1 (RFC 4346 appendix A.5) but servers that
    /// still have them often keep them on in 1.1 and 1.2, so they are offered there too.
    pub fn is_valid_for(self, version: ProtocolVersion) -> bool {
        let tls13 = !self.name.contains("_WITH_");
        if tls13 {
            return version == ProtocolVersion::Tls13;
        }
        if version == ProtocolVersion::Tls13 {
            return false;
        }
        let needs_tls12 = self.name.contains("_GCM_")
            || self.name.contains("_CHACHA20_")
            || self.name.contains("_CCM")
            || self.name.ends_with("_SHA256")
            || self.name.ends_with("_SHA384");
        !needs_tls12 || version == ProtocolVersion::Tls12
    }
}

/// Returns the IANA name of `id`, or `None` for a suite outside [`SUITES`].
pub fn name_of(id: u16) -> Option<&'static str> {
    SUITES
        .iter()
        .find(|suite| suite.id == id)
        .map(|suite| suite.name)
}

/// Returns the suites offered for `version` when only the version is probed: every suite in
/// [`SUITES`] that the version allows, weak ones included, so that a server which accepts the
/// version finds something it is willing to select.
///
/// A TLS 1.3 hello also carries the TLS 1.2 suites after its own, as browsers send it. A server
/// that ignores supported_versions then returns a TLS 1.2 ServerHello, which reads as a clear
/// rejection of 1.3, where a hello without such suites would end in a handshake failure.
pub fn for_version(version: ProtocolVersion) -> Vec<CipherSuite> {
    let mut suites: Vec<CipherSuite> = SUITES
        .iter()
        .copied()
        .filter(|suite| suite.is_valid_for(version))
        .collect();
    if version == ProtocolVersion::Tls13 {
        suites.extend(for_version(ProtocolVersion::Tls12));
    }
    suites
}

/// Returns the suites of `category` that `version` allows.
pub fn for_category(version: ProtocolVersion, category: WeakCategory) -> Vec<CipherSuite> {
    SUITES
        .iter()
        .copied()
        .filter(|suite| suite.is_valid_for(version) && suite.is_in(category))
        .collect()
}

/// Returns the weak suites that `version` allows, of every category at once.
pub fn weak_for_version(version: ProtocolVersion) -> Vec<CipherSuite> {
    SUITES
        .iter()
        .copied()
        .filter(|suite| suite.is_valid_for(version) && suite.is_weak())
        .collect()
}

const fn suite(id: u16, name: &'static str) -> CipherSuite {
    CipherSuite { id, name }
}

/// Suites the probes know, strongest first, as browsers order them. PSK and SRP suites are left
/// out because a server selects them only for a client that has a pre-shared key or password.
pub const SUITES: &[CipherSuite] = &[
    // TLS 1.3 (RFC 8446).
    suite(0x1301, "TLS_AES_128_GCM_SHA256"),
    suite(0x1302, "TLS_AES_256_GCM_SHA384"),
    suite(0x1303, "TLS_CHACHA20_POLY1305_SHA256"),
    suite(0x1304, "TLS_AES_128_CCM_SHA256"),
    suite(0x1305, "TLS_AES_128_CCM_8_SHA256"),
    // Ephemeral key exchange, TLS 1.2 only.
    suite(0xC02B, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"),
    suite(0xC02F, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
    suite(0xC02C, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"),
    suite(0xC030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"),
    suite(0xCCA9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"),
    suite(0xCCA8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"),
    suite(0x009E, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256"),
    suite(0x009F, "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384"),
    suite(0xCCAA, "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256"),
    suite(0x00A2, "TLS_DHE_DSS_WITH_AES_128_GCM_SHA256"),
    suite(0x00A3, "TLS_DHE_DSS_WITH_AES_256_GCM_SHA384"),
    suite(0xC0AC, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM"),
    suite(0xC0AD, "TLS_ECDHE_ECDSA_WITH_AES_256_CCM"),
    suite(0xC09E, "TLS_DHE_RSA_WITH_AES_128_CCM"),
    suite(0xC09F, "TLS_DHE_RSA_WITH_AES_256_CCM"),
    suite(0xC05C, "TLS_ECDHE_ECDSA_WITH_ARIA_128_GCM_SHA256"),
    suite(0xC060, "TLS_ECDHE_RSA_WITH_ARIA_128_GCM_SHA256"),
    suite(0xC023, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256"),
    suite(0xC027, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256"),
    suite(0xC024, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384"),
    suite(0xC028, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384"),
    suite(0xC072, "TLS_ECDHE_ECDSA_WITH_CAMELLIA_128_CBC_SHA256"),
    suite(0xC076, "TLS_ECDHE_RSA_WITH_CAMELLIA_128_CBC_SHA256"),
    suite(0x0067, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256"),
    suite(0x006B, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256"),
    suite(0x0040, "TLS_DHE_DSS_WITH_AES_128_CBC_SHA256"),
    suite(0x006A, "TLS_DHE_DSS_WITH_AES_256_CBC_SHA256"),
    // Ephemeral key exchange, any version before TLS 1.3.
    suite(0xC009, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA"),
    suite(0xC013, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"),
    suite(0xC00A, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA"),
    suite(0xC014, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA"),
    suite(0x0033, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA"),
    suite(0x0039, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA"),
    suite(0x0032, "TLS_DHE_DSS_WITH_AES_128_CBC_SHA"),
    suite(0x0038, "TLS_DHE_DSS_WITH_AES_256_CBC_SHA"),
    suite(0x0045, "TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA"),
    suite(0x0088, "TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA"),
    suite(0x0044, "TLS_DHE_DSS_WITH_CAMELLIA_128_CBC_SHA"),
    suite(0x0087, "TLS_DHE_DSS_WITH_CAMELLIA_256_CBC_SHA"),
    suite(0x009A, "TLS_DHE_RSA_WITH_SEED_CBC_SHA"),
    // Static RSA, DH and ECDH key exchange (no forward secrecy).
    suite(0x009C, "TLS_RSA_WITH_AES_128_GCM_SHA256"),
    suite(0x009D, "TLS_RSA_WITH_AES_256_GCM_SHA384"),
    suite(0xC09C, "TLS_RSA_WITH_AES_128_CCM"),
    suite(0xC09D, "TLS_RSA_WITH_AES_256_CCM"),
    suite(0xC050, "TLS_RSA_WITH_ARIA_128_GCM_SHA256"),
    suite(0x003C, "TLS_RSA_WITH_AES_128_CBC_SHA256"),
    suite(0x003D, "TLS_RSA_WITH_AES_256_CBC_SHA256"),
    suite(0x00BA, "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA256"),
    suite(0x002F, "TLS_RSA_WITH_AES_128_CBC_SHA"),
    suite(0x0035, "TLS_RSA_WITH_AES_256_CBC_SHA"),
    suite(0x0041, "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA"),
    suite(0x0084, "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA"),
    suite(0x0096, "TLS_RSA_WITH_SEED_CBC_SHA"),
    suite(0x0007, "TLS_RSA_WITH_IDEA_CBC_SHA"),
    suite(0x0009, "TLS_RSA_WITH_DES_CBC_SHA"),
    suite(0xC004, "TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA"),
    suite(0xC005, "TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA"),
    suite(0xC00E, "TLS_ECDH_RSA_WITH_AES_128_CBC_SHA"),
    suite(0xC00F, "TLS_ECDH_RSA_WITH_AES_256_CBC_SHA"),
    suite(0x0031, "TLS_DH_RSA_WITH_AES_128_CBC_SHA"),
    suite(0x0037, "TLS_DH_RSA_WITH_AES_256_CBC_SHA"),
    suite(0x0030, "TLS_DH_DSS_WITH_AES_128_CBC_SHA"),
    suite(0x0036, "TLS_DH_DSS_WITH_AES_256_CBC_SHA"),
    // 3DES (64-bit blocks, Sweet32).
    suite(0xC012, "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA"),
    suite(0xC008, "TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA"),
    suite(0x0016, "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA"),
    suite(0x0013, "TLS_DHE_DSS_WITH_3DES_EDE_CBC_SHA"),
    suite(0x000A, "TLS_RSA_WITH_3DES_EDE_CBC_SHA"),
    suite(0xC003, "TLS_ECDH_ECDSA_WITH_3DES_EDE_CBC_SHA"),
    suite(0xC00D, "TLS_ECDH_RSA_WITH_3DES_EDE_CBC_SHA"),
    // RC4 (RFC 7465 forbids it).
    suite(0xC011, "TLS_ECDHE_RSA_WITH_RC4_128_SHA"),
    suite(0xC007, "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA"),
    suite(0x0005, "TLS_RSA_WITH_RC4_128_SHA"),
    suite(0x0004, "TLS_RSA_WITH_RC4_128_MD5"),
    suite(0xC002, "TLS_ECDH_ECDSA_WITH_RC4_128_SHA"),
    suite(0xC00C, "TLS_ECDH_RSA_WITH_RC4_128_SHA"),
    // Anonymous key exchange (aNULL).
    suite(0xC018, "TLS_ECDH_anon_WITH_AES_128_CBC_SHA"),
    suite(0xC019, "TLS_ECDH_anon_WITH_AES_256_CBC_SHA"),
    suite(0xC017, "TLS_ECDH_anon_WITH_3DES_EDE_CBC_SHA"),
    suite(0xC016, "TLS_ECDH_anon_WITH_RC4_128_SHA"),
    suite(0x00A6, "TLS_DH_anon_WITH_AES_128_GCM_SHA256"),
    suite(0x00A7, "TLS_DH_anon_WITH_AES_256_GCM_SHA384"),
    suite(0x006C, "TLS_DH_anon_WITH_AES_128_CBC_SHA256"),
    suite(0x006D, "TLS_DH_anon_WITH_AES_256_CBC_SHA256"),
    suite(0x0034, "TLS_DH_anon_WITH_AES_128_CBC_SHA"),
    suite(0x003A, "TLS_DH_anon_WITH_AES_256_CBC_SHA"),
    suite(0x0046, "TLS_DH_anon_WITH_CAMELLIA_128_CBC_SHA"),
    suite(0x0089, "TLS_DH_anon_WITH_CAMELLIA_256_CBC_SHA"),
    suite(0x001B, "TLS_DH_anon_WITH_3DES_EDE_CBC_SHA"),
    suite(0x0018, "TLS_DH_anon_WITH_RC4_128_MD5"),
    // Export grade (40-bit keys, FREAK and Logjam).
    suite(0x0003, "TLS_RSA_EXPORT_WITH_RC4_40_MD5"),
    suite(0x0006, "TLS_RSA_EXPORT_WITH_RC2_CBC_40_MD5"),
    suite(0x0008, "TLS_RSA_EXPORT_WITH_DES40_CBC_SHA"),
    suite(0x000B, "TLS_DH_DSS_EXPORT_WITH_DES40_CBC_SHA"),
    suite(0x000E, "TLS_DH_RSA_EXPORT_WITH_DES40_CBC_SHA"),
    suite(0x0011, "TLS_DHE_DSS_EXPORT_WITH_DES40_CBC_SHA"),
    suite(0x0014, "TLS_DHE_RSA_EXPORT_WITH_DES40_CBC_SHA"),
    suite(0x0017, "TLS_DH_anon_EXPORT_WITH_RC4_40_MD5"),
    suite(0x0019, "TLS_DH_anon_EXPORT_WITH_DES40_CBC_SHA"),
    // NULL encryption (integrity only).
    suite(0xC010, "TLS_ECDHE_RSA_WITH_NULL_SHA"),
    suite(0xC006, "TLS_ECDHE_ECDSA_WITH_NULL_SHA"),
    suite(0xC015, "TLS_ECDH_anon_WITH_NULL_SHA"),
    suite(0x003B, "TLS_RSA_WITH_NULL_SHA256"),
    suite(0x0002, "TLS_RSA_WITH_NULL_SHA"),
    suite(0x0001, "TLS_RSA_WITH_NULL_MD5"),
    suite(0xC001, "TLS_ECDH_ECDSA_WITH_NULL_SHA"),
    suite(0xC00B, "TLS_ECDH_RSA_WITH_NULL_SHA"),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn named(name: &str) -> CipherSuite {
        *SUITES
            .iter()
            .find(|suite| suite.name == name)
            .unwrap_or_else(|| panic!("{name} is missing from SUITES"))
    }

    #[test]
    fn suite_ids_unique() {
        let mut ids: Vec<u16> = SUITES.iter().map(|suite| suite.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), SUITES.len());
    }

    #[test]
    fn categories_from_names() {
        let cases: &[(&str, &[WeakCategory])] = &[
            ("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", &[]),
            ("TLS_AES_128_GCM_SHA256", &[]),
            (
                "TLS_RSA_WITH_AES_128_CBC_SHA",
                &[WeakCategory::NoForwardSecrecy],
            ),
            (
                "TLS_ECDH_RSA_WITH_AES_128_CBC_SHA",
                &[WeakCategory::NoForwardSecrecy],
            ),
            ("TLS_DHE_RSA_WITH_AES_128_CBC_SHA", &[]),
            (
                "TLS_RSA_WITH_RC4_128_MD5",
                &[WeakCategory::Rc4, WeakCategory::NoForwardSecrecy],
            ),
            (
                "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
                &[WeakCategory::TripleDes],
            ),
            ("TLS_ECDHE_RSA_WITH_NULL_SHA", &[WeakCategory::Null]),
            (
                "TLS_ECDH_anon_WITH_NULL_SHA",
                &[WeakCategory::Null, WeakCategory::Anonymous],
            ),
            (
                "TLS_DH_anon_WITH_AES_128_CBC_SHA",
                &[WeakCategory::Anonymous],
            ),
            (
                "TLS_DH_anon_EXPORT_WITH_RC4_40_MD5",
                &[
                    WeakCategory::Rc4,
                    WeakCategory::Export,
                    WeakCategory::Anonymous,
                ],
            ),
            (
                "TLS_RSA_EXPORT_WITH_DES40_CBC_SHA",
                &[WeakCategory::Export, WeakCategory::NoForwardSecrecy],
            ),
        ];
        for (name, expected) in cases {
            let suite = named(name);
            let found: Vec<WeakCategory> = WeakCategory::ALL
                .into_iter()
                .filter(|&category| suite.is_in(category))
                .collect();
            assert_eq!(&found, expected, "categories of {name}");
        }
    }

    #[test]
    fn version_validity() {
        let gcm = named("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
        assert!(gcm.is_valid_for(ProtocolVersion::Tls12));
        assert!(!gcm.is_valid_for(ProtocolVersion::Tls11));
        assert!(!gcm.is_valid_for(ProtocolVersion::Tls13));

        let cbc = named("TLS_RSA_WITH_AES_128_CBC_SHA");
        assert!(cbc.is_valid_for(ProtocolVersion::Ssl3));
        assert!(cbc.is_valid_for(ProtocolVersion::Tls12));
        assert!(!cbc.is_valid_for(ProtocolVersion::Tls13));

        let tls13 = named("TLS_AES_256_GCM_SHA384");
        assert!(tls13.is_valid_for(ProtocolVersion::Tls13));
        assert!(!tls13.is_valid_for(ProtocolVersion::Tls12));
    }

    #[test]
    fn tls13_hello_lists_tls13_suites_first() {
        let offered = for_version(ProtocolVersion::Tls13);
        let tls13_count = offered
            .iter()
            .take_while(|suite| suite.is_valid_for(ProtocolVersion::Tls13))
            .count();
        assert_eq!(tls13_count, 5);
        assert_eq!(offered.len(), SUITES.len());
    }

    #[test]
    fn tls13_has_no_weak_suites() {
        assert!(weak_for_version(ProtocolVersion::Tls13).is_empty());
        for category in WeakCategory::ALL {
            assert!(for_category(ProtocolVersion::Tls12, category).len() >= 2);
        }
    }
}
