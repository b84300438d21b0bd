//! Path validation for a leaf certificate too large for rustls-webpki.
//!
//! rustls-webpki 0.103 reads a certificate's outer SEQUENCE, and most DER values inside it,
//! only up to 65,535 bytes (`der::TWO_BYTE_DER_SIZE`). A longer leaf fails to parse with
//! `TrailingData(SignedData)`, so webpki reports an error for a chain that is otherwise valid.
//! badssl.com's `10000-sans` leaf, with 10,000 DNS names, is about 420 KB. rustls 0.23 also
//! rejects a handshake message over 65,535 bytes (`MAX_HANDSHAKE_SIZE`, not configurable), so
//! such a chain reaches [`super::cert`] only through the legacy probe's Certificate read.
//!
//! For that leaf alone, this module applies the checks webpki would apply, on the certificates
//! as x509-parser reads them, and verifies each signature with webpki's own algorithms:
//!
//! - the path found by the issuer-name walk ends at a trusted root, whose key verifies the last
//!   signature, and each certificate's signature verifies with the next one's key;
//! - the leaf is version 3, not a CA, and any extended key usage includes serverAuth;
//! - each intermediate is a CA within its pathLenConstraint, any key usage includes
//!   keyCertSign and any extended key usage includes serverAuth;
//! - no certificate has a critical extension that webpki does not know.
//!
//! Name constraints are not checked, so a path with a constrained intermediate or root stays
//! invalid. Validity periods are judged by the caller for every path, as for any chain.
//!
//! Memory and time stay bounded: the leaf is at most [`MAX_LEAF_BYTES`] (the probe's cap on a
//! Certificate message), x509-parser borrows from the DER, and the name check is one pass over
//! the subjectAltName entries.

use rustls::RootCertStore;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;

use super::probe::MAX_CERTIFICATE_BYTES;

/// Maximum length of a DER value that rustls-webpki 0.103 reads in a certificate.
pub const WEBPKI_MAX_CONTENT: usize = 0xffff;

/// Maximum size in bytes of a leaf that this module validates, because the probe reads no
/// larger Certificate message.
pub const MAX_LEAF_BYTES: usize = MAX_CERTIFICATE_BYTES;

/// OIDs of the extensions rustls-webpki 0.103 reads: key usage, subjectAltName, basic
/// constraints, name constraints, CRL distribution points, extended key usage and the
/// Certificate Transparency SCT list. A critical extension outside this list makes webpki
/// reject the certificate.
const KNOWN_EXTENSIONS: [&str; 7] = [
    "2.5.29.15",
    "2.5.29.17",
    "2.5.29.19",
    "2.5.29.30",
    "2.5.29.31",
    "2.5.29.37",
    "1.3.6.1.4.1.11129.2.4.2",
];

/// Returns true when `leaf_der` is a certificate that rustls-webpki cannot read for its size
/// alone and that is within [`MAX_LEAF_BYTES`], so this module validates it.
pub fn applies_to(leaf_der: &[u8]) -> bool {
    leaf_der.len() <= MAX_LEAF_BYTES
        && der_element(leaf_der).is_some_and(|(_, content, _)| content.len() > WEBPKI_MAX_CONTENT)
}

/// Returns why the path `indices` (leaf first, as the issuer-name walk found it, ending at a
/// certificate issued by a trusted root) is not valid for server authentication, or None when
/// it is. `chain` and `parsed` are the served chain and its parsed certificates.
pub fn path_error(
    chain: &[&[u8]],
    parsed: &[Option<X509Certificate<'_>>],
    indices: &[usize],
    roots: &RootCertStore,
) -> Option<String> {
    let mut path = Vec::with_capacity(indices.len());
    for &index in indices {
        match (chain.get(index), parsed.get(index)) {
            (Some(der), Some(Some(cert))) => path.push((*der, cert)),
            _ => return Some(format!("certificate {} is not valid DER", index + 1)),
        }
    }
    let Some(&(_, leaf)) = path.first() else {
        return Some("the chain is empty".to_string());
    };
    if let Some(error) = end_entity_error(leaf) {
        return Some(error);
    }
    for (depth, &(_, cert)) in path.iter().enumerate().skip(1) {
        if let Some(error) = issuer_error(cert, depth - 1) {
            return Some(format!("certificate {}: {error}", indices[depth] + 1));
        }
    }

    // Each certificate is signed by the next one on the path.
    for (position, pair) in path.windows(2).enumerate() {
        let ((der, _), (_, issuer)) = (pair[0], pair[1]);
        let Some(issuer_key) = der_content(issuer.public_key().raw) else {
            return Some("an issuer's public key is not valid DER".to_string());
        };
        if !signed_by(der, issuer_key) {
            return Some(format!(
                "the signature of certificate {} does not verify with its issuer's key",
                indices[position] + 1
            ));
        }
    }

    // The last one is signed by a trusted root with its issuer name.
    let Some(&(last_der, last)) = path.last() else {
        return Some("the chain is empty".to_string());
    };
    let Some(issuer) = der_content(last.issuer().as_raw()) else {
        return Some("the last certificate's issuer name is not valid DER".to_string());
    };
    let anchors: Vec<_> = roots
        .roots
        .iter()
        .filter(|anchor| anchor.subject.as_ref() == issuer)
        .collect();
    if anchors.is_empty() {
        return Some("no trusted root has the last certificate's issuer name".to_string());
    }
    if anchors
        .iter()
        .any(|anchor| anchor.name_constraints.is_some())
    {
        return Some("name constraints of the trusted root are not checked".to_string());
    }
    let verified = anchors
        .iter()
        .any(|anchor| signed_by(last_der, anchor.subject_public_key_info.as_ref()));
    if !verified {
        return Some("no trusted root's key verifies the last certificate's signature".to_string());
    }
    None
}

/// Returns why `leaf` does not cover `server_name` under the rules rustls-webpki applies
/// (subjectAltName only, a `*` left label covers one whole label), or None when it does.
pub fn name_error(leaf: &X509Certificate<'_>, server_name: &str) -> Option<String> {
    let mismatch = || Some(format!("the certificate is not valid for {server_name}"));
    let Ok(Some(extension)) = leaf.subject_alternative_name() else {
        return mismatch();
    };
    let names = &extension.value.general_names;
    if let Ok(address) = server_name.parse::<std::net::IpAddr>() {
        let octets = match address {
            std::net::IpAddr::V4(v4) => v4.octets().to_vec(),
            std::net::IpAddr::V6(v6) => v6.octets().to_vec(),
        };
        let covered = names
            .iter()
            .any(|name| matches!(name, GeneralName::IPAddress(bytes) if *bytes == octets));
        return if covered { None } else { mismatch() };
    }
    let host = server_name.trim_end_matches('.').to_ascii_lowercase();
    let covered = names.iter().any(|name| match name {
        GeneralName::DNSName(pattern) => dns_name_matches(pattern, &host),
        _ => false,
    });
    if covered { None } else { mismatch() }
}

/// Matches a lowercase host against a subjectAltName DNS name. A wildcard is accepted only as
/// the whole left label of a name with at least two more labels, as in rustls-webpki.
fn dns_name_matches(pattern: &str, host: &str) -> bool {
    let pattern = pattern.trim_end_matches('.').to_ascii_lowercase();
    match pattern.strip_prefix("*.") {
        Some(suffix) if suffix.contains('.') => host
            .split_once('.')
            .is_some_and(|(label, rest)| !label.is_empty() && rest == suffix),
        _ => pattern == host,
    }
}

fn end_entity_error(leaf: &X509Certificate<'_>) -> Option<String> {
    if leaf.version() != x509_parser::x509::X509Version::V3 {
        return Some("the leaf is not an X.509 version 3 certificate".to_string());
    }
    if let Some(error) = critical_extension_error(leaf) {
        return Some(format!("the leaf {error}"));
    }
    match leaf.basic_constraints() {
        Err(_) => return Some("the leaf's basic constraints are not valid DER".to_string()),
        Ok(Some(constraints)) if constraints.value.ca => {
            return Some("the leaf is a CA certificate".to_string());
        }
        Ok(_) => {}
    }
    server_auth_error(leaf).map(|error| format!("the leaf {error}"))
}

/// `below` is the number of intermediates between this one and the leaf.
fn issuer_error(cert: &X509Certificate<'_>, below: usize) -> Option<String> {
    if let Some(error) = critical_extension_error(cert) {
        return Some(error);
    }
    match cert.basic_constraints() {
        Ok(Some(constraints)) if constraints.value.ca => {
            let limit = constraints.value.path_len_constraint;
            if limit.is_some_and(|limit| usize::try_from(limit).unwrap_or(usize::MAX) < below) {
                return Some("its pathLenConstraint is exceeded".to_string());
            }
        }
        _ => return Some("it issues a certificate but is not a CA".to_string()),
    }
    match cert.key_usage() {
        Ok(Some(usage)) if !usage.value.key_cert_sign() => {
            return Some("its key usage does not include keyCertSign".to_string());
        }
        Err(_) => return Some("its key usage is not valid DER".to_string()),
        Ok(_) => {}
    }
    if cert.name_constraints().ok().flatten().is_some() {
        return Some("its name constraints are not checked".to_string());
    }
    server_auth_error(cert)
}

fn critical_extension_error(cert: &X509Certificate<'_>) -> Option<String> {
    cert.extensions()
        .iter()
        .find(|extension| {
            extension.critical && !KNOWN_EXTENSIONS.contains(&extension.oid.to_id_string().as_str())
        })
        .map(|extension| format!("has the unknown critical extension {}", extension.oid))
}

fn server_auth_error(cert: &X509Certificate<'_>) -> Option<String> {
    match cert.extended_key_usage() {
        Ok(Some(usage)) if !usage.value.server_auth => {
            Some("has an extended key usage without serverAuth".to_string())
        }
        Err(_) => Some("has an extended key usage that is not valid DER".to_string()),
        Ok(_) => None,
    }
}

/// Verifies the signature of the certificate `cert_der` with the issuer's subjectPublicKeyInfo
/// content (without its outer SEQUENCE header), trying each of rustls-webpki's algorithms whose
/// identifiers match, as webpki does.
fn signed_by(cert_der: &[u8], issuer_spki: &[u8]) -> bool {
    let Some((signed, algorithm, signature)) = split_signed(cert_der) else {
        return false;
    };
    let Some((key_algorithm, key)) = split_spki(issuer_spki) else {
        return false;
    };
    webpki::ALL_VERIFICATION_ALGS.iter().any(|candidate| {
        candidate.public_key_alg_id().as_ref() == key_algorithm
            && candidate.signature_alg_id().as_ref() == algorithm
            && candidate.verify_signature(key, signed, signature).is_ok()
    })
}

/// Splits a certificate into the signed bytes (the whole tbsCertificate element), the content
/// of signatureAlgorithm and the signature bits. The tbsCertificate's own signature field must
/// equal signatureAlgorithm, as RFC 5280 section 4.1.1.2 requires.
fn split_signed(cert_der: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    let (0x30, certificate, []) = der_element(cert_der)? else {
        return None;
    };
    let (0x30, tbs_content, after_tbs) = der_element(certificate)? else {
        return None;
    };
    let signed = &certificate[..certificate.len() - after_tbs.len()];
    let (0x30, algorithm, after_algorithm) = der_element(after_tbs)? else {
        return None;
    };
    let (0x03, bits, []) = der_element(after_algorithm)? else {
        return None;
    };
    let (0, signature) = bits.split_first()? else {
        return None;
    };
    // tbsCertificate starts with an optional [0] version, the serial number, then signature.
    let (tag, _, mut rest) = der_element(tbs_content)?;
    if tag == 0xa0 {
        rest = der_element(rest)?.2;
    }
    let (0x30, inner_algorithm, _) = der_element(rest)? else {
        return None;
    };
    (inner_algorithm == algorithm).then_some((signed, algorithm, signature))
}

/// Splits subjectPublicKeyInfo content into its algorithm's content and the key bits.
fn split_spki(spki: &[u8]) -> Option<(&[u8], &[u8])> {
    let (0x30, algorithm, rest) = der_element(spki)? else {
        return None;
    };
    let (0x03, bits, []) = der_element(rest)? else {
        return None;
    };
    let (0, key) = bits.split_first()? else {
        return None;
    };
    Some((algorithm, key))
}

fn der_content(der: &[u8]) -> Option<&[u8]> {
    der_element(der).map(|(_, content, _)| content)
}

/// Reads one DER element with a one-byte tag and a length of at most four bytes, and returns
/// its tag, its content and the bytes after it. None when the element is malformed or
/// truncated.
pub fn der_element(der: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = der.split_first()?;
    let (&first_length, rest) = rest.split_first()?;
    let (length, rest) = if first_length < 0x80 {
        (usize::from(first_length), rest)
    } else {
        let count = usize::from(first_length & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let (bytes, rest) = rest.split_at(count);
        let length = bytes
            .iter()
            .fold(0usize, |acc, &byte| (acc << 8) | usize::from(byte));
        (length, rest)
    };
    if rest.len() < length {
        return None;
    }
    let (content, after) = rest.split_at(length);
    Some((tag, content, after))
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};
    use ring::rand::SystemRandom;
    use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
    use rustls::RootCertStore;
    use rustls::pki_types::CertificateDer;

    use super::*;
    use crate::check::tls::cert::{self, CertVerdict};

    const ECDSA_WITH_SHA256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02];
    const EC_PUBLIC_KEY: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
    const PRIME256V1: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    const BASIC_CONSTRAINTS: &[u8] = &[0x06, 0x03, 0x55, 0x1d, 0x13];
    const SUBJECT_ALT_NAME: &[u8] = &[0x06, 0x03, 0x55, 0x1d, 0x11];
    const COMMON_NAME: &[u8] = &[0x06, 0x03, 0x55, 0x04, 0x03];
    const SAN_COUNT: usize = 10_000;

    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        let length = content.len();
        if length < 0x80 {
            out.push(length as u8);
        } else {
            let bytes = (length as u32).to_be_bytes();
            let skip = bytes.iter().take_while(|&&byte| byte == 0).count();
            out.push(0x80 | (4 - skip) as u8);
            out.extend_from_slice(&bytes[skip..]);
        }
        out.extend_from_slice(content);
        out
    }

    fn name(common_name: &str) -> Vec<u8> {
        let attribute = [COMMON_NAME, &tlv(0x0c, common_name.as_bytes())].concat();
        tlv(0x30, &tlv(0x31, &tlv(0x30, &attribute)))
    }

    struct Key {
        pair: EcdsaKeyPair,
        random: SystemRandom,
    }

    impl Key {
        fn new() -> Self {
            let random = SystemRandom::new();
            let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &random)
                .expect("P-256 key generation");
            let pair =
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &random)
                    .expect("generated PKCS#8 is valid");
            Self { pair, random }
        }

        fn spki(&self) -> Vec<u8> {
            let algorithm = tlv(0x30, &[EC_PUBLIC_KEY, PRIME256V1].concat());
            let key = [&[0][..], self.pair.public_key().as_ref()].concat();
            tlv(0x30, &[algorithm, tlv(0x03, &key)].concat())
        }

        fn sign(&self, message: &[u8]) -> Vec<u8> {
            let signature = self.pair.sign(&self.random, message).expect("signing");
            [&[0][..], signature.as_ref()].concat()
        }
    }

    /// Contents of a test certificate. `ca` adds a critical basicConstraints with cA set.
    struct Spec<'a> {
        subject: &'a str,
        issuer: &'a str,
        ca: bool,
        dns_names: Vec<String>,
    }

    fn certificate(spec: &Spec<'_>, key: &Key, issuer_key: &Key) -> CertificateDer<'static> {
        let algorithm = tlv(0x30, ECDSA_WITH_SHA256);
        let validity = [tlv(0x17, b"200101000000Z"), tlv(0x17, b"491231235959Z")].concat();
        let mut extensions = Vec::new();
        if spec.ca {
            let value = tlv(0x04, &tlv(0x30, &tlv(0x01, &[0xff])));
            let fields = [BASIC_CONSTRAINTS, &tlv(0x01, &[0xff]), &value].concat();
            extensions.push(tlv(0x30, &fields));
        }
        if !spec.dns_names.is_empty() {
            let names: Vec<u8> = spec
                .dns_names
                .iter()
                .flat_map(|name| tlv(0x82, name.as_bytes()))
                .collect();
            let fields = [SUBJECT_ALT_NAME, &tlv(0x04, &tlv(0x30, &names))].concat();
            extensions.push(tlv(0x30, &fields));
        }
        let tbs = tlv(
            0x30,
            &[
                tlv(0xa0, &tlv(0x02, &[2])),
                tlv(0x02, &[0x01, 0x23]),
                algorithm.clone(),
                name(spec.issuer),
                tlv(0x30, &validity),
                name(spec.subject),
                key.spki(),
                tlv(0xa3, &tlv(0x30, &extensions.concat())),
            ]
            .concat(),
        );
        let signature = issuer_key.sign(&tbs);
        let der = tlv(0x30, &[tbs, algorithm, tlv(0x03, &signature)].concat());
        CertificateDer::from(der)
    }

    fn ca(subject: &str, issuer: &str, key: &Key, issuer_key: &Key) -> CertificateDer<'static> {
        let spec = Spec {
            subject,
            issuer,
            ca: true,
            dns_names: Vec::new(),
        };
        certificate(&spec, key, issuer_key)
    }

    /// Builds a leaf for `large.example` and `SAN_COUNT - 1` more names, `n1.large.example`
    /// onwards.
    fn large_leaf(issuer: &str, key: &Key, issuer_key: &Key, ca: bool) -> CertificateDer<'static> {
        let mut dns_names = vec!["large.example".to_string()];
        dns_names.extend((1..SAN_COUNT).map(|i| format!("n{i}.large.example")));
        let spec = Spec {
            subject: "large.example",
            issuer,
            ca,
            dns_names,
        };
        certificate(&spec, key, issuer_key)
    }

    fn trusting(root: &CertificateDer<'static>) -> RootCertStore {
        let mut roots = RootCertStore::empty();
        roots
            .add(root.clone())
            .expect("the test root is a trust anchor");
        roots
    }

    fn now() -> DateTime<Utc> {
        "2030-01-01T00:00:00Z".parse().expect("RFC 3339")
    }

    #[test]
    fn large_leaf_is_beyond_webpki() {
        let (root_key, leaf_key) = (Key::new(), Key::new());
        let leaf = large_leaf("Test Root", &leaf_key, &root_key, false);
        assert!(leaf.len() > WEBPKI_MAX_CONTENT);
        assert!(applies_to(&leaf));
        assert!(webpki::EndEntityCert::try_from(&leaf).is_err());
        let small = ca("Test Root", "Test Root", &root_key, &root_key);
        assert!(!applies_to(&small));
    }

    #[test]
    fn large_leaf_from_root_is_trusted() {
        let (root_key, leaf_key) = (Key::new(), Key::new());
        let root = ca("Test Root", "Test Root", &root_key, &root_key);
        let chain = [large_leaf("Test Root", &leaf_key, &root_key, false)];
        let roots = trusting(&root);

        let report = cert::analyze(&chain, "large.example", now(), &roots);
        assert_eq!(report.verdict, CertVerdict::Trusted, "{report:?}");
        assert_eq!(
            report.leaf.as_ref().map(|leaf| leaf.san_count),
            Some(SAN_COUNT)
        );
        let last = format!("n{}.large.example", SAN_COUNT - 1);
        let report = cert::analyze(&chain, &last, now(), &roots);
        assert_eq!(report.verdict, CertVerdict::Trusted, "{report:?}");
        let report = cert::analyze(&chain, "other.example", now(), &roots);
        assert_eq!(report.verdict, CertVerdict::NameMismatch);
        let report = cert::analyze(&chain, "a.n1.large.example", now(), &roots);
        assert_eq!(report.verdict, CertVerdict::NameMismatch);
    }

    #[test]
    fn large_leaf_through_intermediate() {
        let (root_key, middle_key, leaf_key) = (Key::new(), Key::new(), Key::new());
        let root = ca("Test Root", "Test Root", &root_key, &root_key);
        let middle = ca("Test Intermediate", "Test Root", &middle_key, &root_key);
        let leaf = large_leaf("Test Intermediate", &leaf_key, &middle_key, false);
        let roots = trusting(&root);

        let report = cert::analyze(&[leaf.clone(), middle], "large.example", now(), &roots);
        assert_eq!(report.verdict, CertVerdict::Trusted, "{report:?}");

        // The same intermediate name and key without cA may not issue.
        let spec = Spec {
            subject: "Test Intermediate",
            issuer: "Test Root",
            ca: false,
            dns_names: vec!["intermediate.example".to_string()],
        };
        let not_ca = certificate(&spec, &middle_key, &root_key);
        let report = cert::analyze(&[leaf, not_ca], "large.example", now(), &roots);
        assert_eq!(report.verdict, CertVerdict::Invalid);
        let detail = report.verdict_detail.unwrap_or_default();
        assert!(detail.contains("not a CA"), "{detail}");
    }

    #[test]
    fn large_leaf_with_bad_signature_is_invalid() {
        let (root_key, leaf_key, other_key) = (Key::new(), Key::new(), Key::new());
        let root = ca("Test Root", "Test Root", &root_key, &root_key);
        let roots = trusting(&root);

        let forged = large_leaf("Test Root", &leaf_key, &other_key, false);
        let report = cert::analyze(&[forged], "large.example", now(), &roots);
        assert_eq!(report.verdict, CertVerdict::Invalid);
        let detail = report.verdict_detail.unwrap_or_default();
        assert!(detail.contains("root's key verifies"), "{detail}");

        let mut altered = large_leaf("Test Root", &leaf_key, &root_key, false).to_vec();
        let last = altered.len() - 1;
        altered[last] ^= 1;
        let report = cert::analyze(&[altered.into()], "large.example", now(), &roots);
        assert_eq!(report.verdict, CertVerdict::Invalid);
    }

    #[test]
    fn large_ca_leaf_is_invalid() {
        let (root_key, leaf_key) = (Key::new(), Key::new());
        let root = ca("Test Root", "Test Root", &root_key, &root_key);
        let chain = [large_leaf("Test Root", &leaf_key, &root_key, true)];
        let report = cert::analyze(&chain, "large.example", now(), &trusting(&root));
        assert_eq!(report.verdict, CertVerdict::Invalid);
        let detail = report.verdict_detail.unwrap_or_default();
        assert!(detail.contains("the leaf is a CA"), "{detail}");
    }

    #[test]
    fn large_leaf_without_trusted_root() {
        let (root_key, leaf_key) = (Key::new(), Key::new());
        let chain = [large_leaf("Test Root", &leaf_key, &root_key, false)];
        let report = cert::analyze(&chain, "large.example", now(), &RootCertStore::empty());
        assert_eq!(report.verdict, CertVerdict::IncompleteChain);
    }

    #[test]
    fn wildcard_covers_one_label() {
        assert!(dns_name_matches("*.example.com", "a.example.com"));
        assert!(dns_name_matches("*.Example.com.", "a.example.com"));
        assert!(!dns_name_matches("*.example.com", "a.b.example.com"));
        assert!(!dns_name_matches("*.example.com", "example.com"));
        assert!(!dns_name_matches("*.com", "example.com"));
        assert!(dns_name_matches("example.com", "example.com"));
        assert!(!dns_name_matches("example.com", "www.example.com"));
    }

    #[test]
    fn der_element_rejects_truncation() {
        assert_eq!(
            der_element(&[0x04, 0x02, 1, 2, 9]),
            Some((0x04, &[1, 2][..], &[9][..]))
        );
        assert_eq!(der_element(&[0x04, 0x03, 1, 2]), None);
        assert_eq!(der_element(&[0x04, 0x82, 0x01]), None);
        assert_eq!(der_element(&[0x04, 0x85, 0, 0, 0, 0, 1]), None);
        let long = [&[0x04, 0x83, 0x01, 0x00, 0x00][..], &[7; 0x10000]].concat();
        assert_eq!(
            der_element(&long).map(|(_, content, _)| content.len()),
            Some(0x10000)
        );
    }
}
