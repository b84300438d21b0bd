//! The served certificate chain: its facts and its verdict.
//!
//! [`analyze`] reads the chain exactly as a server sent it, without I/O. It reports the leaf's
//! names, validity, key and signature algorithm, whether the chain is sent in issuing order, and
//! one [`CertVerdict`] with every defect kept as a boolean in [`CertFlags`].
//!
//! Trust is decided by rustls-webpki, the path builder of rustls, against the roots given
//! (webpki-roots plus any `--ca-file` roots). webpki reports every chain without a trusted root
//! as an unknown issuer, so this module also walks the served certificates by issuer name. The
//! walk tells three cases apart: a self-signed leaf, a self-signed root that is not trusted, and
//! a certificate whose issuer was neither sent nor trusted (an incomplete chain, usually a
//! missing intermediate). webpki cannot parse a leaf over 65,535 bytes, so
//! [`large_leaf`] applies its checks to such a leaf instead.
//!
//! Revocation (OCSP, CRL) and Certificate Transparency are not checked.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use rustls::RootCertStore;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use serde::Serialize;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::objects::{oid_registry, oid2sn};
use x509_parser::public_key::PublicKey;

use super::large_leaf;

/// Number of DNS names kept from the leaf's subjectAltName. A few certificates carry
/// thousands, and the total is kept in [`LeafFacts::san_count`].
pub const SAN_LIMIT: usize = 100;
/// RSA and DSA keys shorter than this are weak. SSL Labs caps the grade of a server whose RSA key
/// is shorter.
pub const MIN_RSA_BITS: u32 = 2048;
/// Elliptic-curve keys on curves shorter than this are weak.
pub const MIN_EC_BITS: u32 = 256;
/// Longest path followed through the served certificates. Real chains have two to four.
const MAX_PATH_LENGTH: usize = 10;

/// The verdict on a chain: the first defect found in this order, which is also the
/// precedence when several apply.
///
/// 1. `self_signed`, `untrusted_root`, `incomplete_chain`: no path reaches a trusted root, so
///    no other property of the certificate can be relied on.
/// 2. `expired`, `not_yet_valid`: a certificate of the path is outside its validity period.
/// 3. `name_mismatch`: the leaf does not cover the server name.
/// 4. `weak_signature`, then `weak_key`: the chain is valid but uses broken cryptography.
/// 5. `invalid`: rustls-webpki rejected the chain for a reason not listed above, such as a
///    missing serverAuth extended key usage or a CA certificate sent as the leaf.
///
/// The verdict is `trusted` only when rustls-webpki accepts the chain for the name and no weak
/// key or signature is found. Every defect found is also set in [`CertFlags`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CertVerdict {
    Trusted,
    SelfSigned,
    UntrustedRoot,
    IncompleteChain,
    Expired,
    NotYetValid,
    NameMismatch,
    WeakSignature,
    WeakKey,
    Invalid,
    /// The server sent no certificate, or the leaf is not valid DER.
    NoCertificate,
}

impl CertVerdict {
    /// Returns the verdict's name in the output, as serde writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Trusted => "trusted",
            Self::SelfSigned => "self_signed",
            Self::UntrustedRoot => "untrusted_root",
            Self::IncompleteChain => "incomplete_chain",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::NameMismatch => "name_mismatch",
            Self::WeakSignature => "weak_signature",
            Self::WeakKey => "weak_key",
            Self::Invalid => "invalid",
            Self::NoCertificate => "no_certificate",
        }
    }
}

/// Every defect found, whichever one the verdict names.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct CertFlags {
    /// The leaf is its own issuer and is not a trusted root.
    pub self_signed: bool,
    /// The path ends at a self-signed certificate that is not a trusted root.
    pub untrusted_root: bool,
    /// The path ends at a certificate whose issuer was neither sent nor trusted.
    pub incomplete_chain: bool,
    /// The leaf or an intermediate of the path is past its notAfter time.
    pub expired: bool,
    /// The leaf or an intermediate of the path is before its notBefore time.
    pub not_yet_valid: bool,
    pub name_mismatch: bool,
    /// The leaf or an intermediate is signed with MD2, MD4, MD5 or SHA-1. The root's own
    /// signature does not count, because clients trust a root by its key.
    pub weak_signature: bool,
    /// The leaf or an intermediate has an RSA or DSA key under [`MIN_RSA_BITS`] or an EC key
    /// under [`MIN_EC_BITS`].
    pub weak_key: bool,
}

/// The public key of a certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyFacts {
    /// `rsa`, `ec`, `dsa`, `ed25519`, `ed448` or the algorithm's OID.
    pub key_type: String,
    /// Modulus length for RSA and DSA, field size for EC, 256 or 456 for Ed25519 and Ed448.
    pub bits: Option<u32>,
    /// Named curve of an EC key, by its OpenSSL short name (`prime256v1`, `secp384r1`).
    pub curve: Option<String>,
}

/// Facts about the leaf certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LeafFacts {
    pub subject_cn: Option<String>,
    /// DNS names and IP addresses of the subjectAltName extension, at most [`SAN_LIMIT`].
    pub sans: Vec<String>,
    /// Number of DNS names and IP addresses in the subjectAltName extension.
    pub san_count: usize,
    /// Issuer distinguished name, in RFC 4514 order.
    pub issuer: String,
    pub issuer_cn: Option<String>,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
    /// Whole days from the analysis time to notAfter, negative once expired.
    pub days_to_expiry: i64,
    pub key: KeyFacts,
    /// Signature algorithm by its OpenSSL short name (`sha256WithRSAEncryption`,
    /// `ecdsa-with-SHA384`), or its OID when the name is unknown.
    pub signature_algorithm: String,
}

/// The analysis of one served chain for one server name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainReport {
    pub verdict: CertVerdict,
    /// Reason for the verdict in words, from rustls-webpki or the path walk. None when trusted.
    pub verdict_detail: Option<String>,
    pub flags: CertFlags,
    pub leaf: Option<LeafFacts>,
    /// Number of certificates the server sent.
    pub chain_length: usize,
    /// Each certificate sent is followed by its issuer, as TLS 1.2 requires (RFC 5246 section
    /// 7.4.2) and TLS 1.3 recommends (RFC 8446 section 4.4.2). A chain of one is in order.
    pub chain_order_correct: bool,
}

/// Analyzes the chain a server sent for `server_name` at time `now`, trusting `roots`.
///
/// `chain` starts with the leaf, as in the TLS Certificate message. `server_name` is a DNS name
/// or an IP address in text form.
pub fn analyze(
    chain: &[CertificateDer<'_>],
    server_name: &str,
    now: DateTime<Utc>,
    roots: &RootCertStore,
) -> ChainReport {
    let analysis = analyze_chain(chain, now, roots);
    report(&analysis, chain, server_name)
}

/// Caches the name-independent part of [`analyze`], keyed by the SHA-256 of the chain, so that a
/// chain shared by many names on one host is validated once per scan.
///
/// The name check runs on every call. An entry is reused for [`ChainCache::MAX_AGE`] at most,
/// so that a long scan does not keep a verdict across a certificate's expiry by more than that.
/// When full, the cache drops its oldest entry.
pub struct ChainCache {
    capacity: usize,
    inner: Mutex<CacheState>,
}

#[derive(Default)]
struct CacheState {
    entries: HashMap<[u8; 32], Arc<ChainAnalysis>>,
    insertion_order: VecDeque<[u8; 32]>,
}

impl ChainCache {
    /// Age after which a cached analysis is computed again.
    pub const MAX_AGE: chrono::TimeDelta = chrono::TimeDelta::hours(1);

    /// Creates a cache that keeps at most `capacity` chains (at least one).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            inner: Mutex::new(CacheState::default()),
        }
    }

    /// Same as [`analyze`], reusing the chain's analysis when the cache has a recent one.
    pub fn analyze(
        &self,
        chain: &[CertificateDer<'_>],
        server_name: &str,
        now: DateTime<Utc>,
        roots: &RootCertStore,
    ) -> ChainReport {
        let key = chain_hash(chain);
        let cached = self.lookup(&key, now);
        let analysis = match cached {
            Some(analysis) => analysis,
            None => {
                let analysis = Arc::new(analyze_chain(chain, now, roots));
                self.insert(key, Arc::clone(&analysis));
                analysis
            }
        };
        report(&analysis, chain, server_name)
    }

    /// Number of chains in the cache.
    pub fn len(&self) -> usize {
        self.state().entries.len()
    }

    /// Whether the cache contains no chain.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lookup(&self, key: &[u8; 32], now: DateTime<Utc>) -> Option<Arc<ChainAnalysis>> {
        let state = self.state();
        let analysis = state.entries.get(key)?;
        let age = now - analysis.analyzed_at;
        (age >= chrono::TimeDelta::zero() && age <= Self::MAX_AGE).then(|| Arc::clone(analysis))
    }

    fn insert(&self, key: [u8; 32], analysis: Arc<ChainAnalysis>) {
        let mut state = self.state();
        if state.entries.insert(key, analysis).is_none() {
            state.insertion_order.push_back(key);
        }
        while state.entries.len() > self.capacity {
            let Some(oldest) = state.insertion_order.pop_front() else {
                break;
            };
            state.entries.remove(&oldest);
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, CacheState> {
        // A panic while the lock was held leaves a map that is still consistent, because every
        // change above is a single insert or remove.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// SHA-256 over each certificate's length and bytes, so that two chains that split the same
/// bytes differently hash differently.
fn chain_hash(chain: &[CertificateDer<'_>]) -> [u8; 32] {
    let mut context = ring::digest::Context::new(&ring::digest::SHA256);
    for cert in chain {
        context.update(&(cert.len() as u64).to_be_bytes());
        context.update(cert);
    }
    let mut hash = [0; 32];
    hash.copy_from_slice(context.finish().as_ref());
    hash
}

/// The part of the analysis that does not depend on the server name.
#[derive(Debug)]
struct ChainAnalysis {
    analyzed_at: DateTime<Utc>,
    leaf: Option<LeafFacts>,
    chain_order_correct: bool,
    flags: CertFlags,
    /// rustls-webpki's error when it found no valid path (the name is not checked there), or
    /// [`large_leaf`]'s for a leaf too large for webpki.
    path_error: Option<String>,
    /// The path walk's reason when it ends without a trusted root.
    untrusted_detail: Option<String>,
}

fn analyze_chain(
    chain: &[CertificateDer<'_>],
    now: DateTime<Utc>,
    roots: &RootCertStore,
) -> ChainAnalysis {
    let parsed: Vec<Option<X509Certificate<'_>>> = chain
        .iter()
        .map(|der| {
            x509_parser::parse_x509_certificate(der)
                .ok()
                .map(|(_, cert)| cert)
        })
        .collect();
    let mut analysis = ChainAnalysis {
        analyzed_at: now,
        leaf: None,
        chain_order_correct: chain_in_order(&parsed),
        flags: CertFlags::default(),
        path_error: None,
        untrusted_detail: None,
    };
    let Some(Some(leaf)) = parsed.first() else {
        return analysis;
    };
    analysis.leaf = Some(leaf_facts(leaf, now));

    // 1. Follow issuer names through the served certificates.
    let path = walk_path(&parsed, roots);
    let path_certs: Vec<&X509Certificate<'_>> = path
        .indices
        .iter()
        .filter_map(|&i| parsed[i].as_ref())
        .collect();
    match path.end {
        PathEnd::TrustedRoot => {}
        PathEnd::SelfSigned(0) => {
            analysis.flags.self_signed = true;
            analysis.untrusted_detail = Some("the leaf is self-signed".to_string());
        }
        PathEnd::SelfSigned(index) => {
            analysis.flags.untrusted_root = true;
            analysis.untrusted_detail = Some(format!(
                "the chain ends at the self-signed certificate \"{}\", which is not a trusted root",
                parsed[index]
                    .as_ref()
                    .map_or(String::new(), |c| c.subject().to_string())
            ));
        }
        PathEnd::MissingIssuer(index) => {
            analysis.flags.incomplete_chain = true;
            analysis.untrusted_detail = Some(format!(
                "the issuer \"{}\" of certificate {} was not sent and is not a trusted root",
                parsed[index]
                    .as_ref()
                    .map_or(String::new(), |c| c.issuer().to_string()),
                index + 1
            ));
        }
    }

    // 2. Validity periods, weak signatures and weak keys of the leaf and the intermediates. A
    // self-signed certificate at the end of the path is a root and is left out.
    let timestamp = now.timestamp();
    let root_at_end = matches!(path.end, PathEnd::SelfSigned(i) if i > 0);
    let checked = if root_at_end {
        &path_certs[..path_certs.len() - 1]
    } else {
        &path_certs[..]
    };
    for cert in checked {
        let validity = cert.validity();
        analysis.flags.expired |= timestamp > validity.not_after.timestamp();
        analysis.flags.not_yet_valid |= timestamp < validity.not_before.timestamp();
        analysis.flags.weak_signature |= is_weak_signature(cert);
        analysis.flags.weak_key |= is_weak_key(&key_facts(cert));
    }

    // 3. rustls-webpki decides trust. A path it accepts overrides the name walk, which may have
    // missed a path that webpki built by key identifiers or through another root. A leaf over
    // webpki's size limit gets the same checks from large_leaf, on the walk's path.
    let unix_time = UnixTime::since_unix_epoch(std::time::Duration::from_secs(
        u64::try_from(timestamp).unwrap_or(0),
    ));
    analysis.path_error = if large_leaf::applies_to(&chain[0]) && path.end == PathEnd::TrustedRoot {
        let ders: Vec<&[u8]> = chain.iter().map(|cert| cert.as_ref()).collect();
        large_leaf::path_error(&ders, &parsed, &path.indices, roots)
    } else {
        webpki_path_error(chain, unix_time, roots).map(|error| error.to_string())
    };
    if analysis.path_error.is_none() {
        analysis.flags.self_signed = false;
        analysis.flags.untrusted_root = false;
        analysis.flags.incomplete_chain = false;
        analysis.untrusted_detail = None;
    }
    analysis
}

/// Returns rustls-webpki's error for the chain without the name check, or None when a path to
/// a trusted root is valid.
fn webpki_path_error(
    chain: &[CertificateDer<'_>],
    now: UnixTime,
    roots: &RootCertStore,
) -> Option<webpki::Error> {
    let (leaf, intermediates) = chain.split_first()?;
    let end_entity = match webpki::EndEntityCert::try_from(leaf) {
        Ok(end_entity) => end_entity,
        Err(error) => return Some(error),
    };
    end_entity
        .verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            &roots.roots,
            intermediates,
            now,
            webpki::KeyUsage::server_auth(),
            None,
            None,
        )
        .err()
}

fn report(
    analysis: &ChainAnalysis,
    chain: &[CertificateDer<'_>],
    server_name: &str,
) -> ChainReport {
    let mut report = ChainReport {
        verdict: CertVerdict::NoCertificate,
        verdict_detail: None,
        flags: analysis.flags,
        leaf: analysis.leaf.clone(),
        chain_length: chain.len(),
        chain_order_correct: analysis.chain_order_correct,
    };
    let Some(leaf) = chain.first() else {
        report.verdict_detail = Some("the server sent no certificate".to_string());
        return report;
    };
    if analysis.leaf.is_none() {
        report.verdict_detail = Some("the leaf certificate is not valid DER".to_string());
        return report;
    }
    let name_error = name_error(leaf, server_name);
    report.flags.name_mismatch = name_error.is_some();

    let flags = report.flags;
    let (verdict, detail) = if flags.self_signed {
        (CertVerdict::SelfSigned, analysis.untrusted_detail.clone())
    } else if flags.untrusted_root {
        (
            CertVerdict::UntrustedRoot,
            analysis.untrusted_detail.clone(),
        )
    } else if flags.incomplete_chain {
        (
            CertVerdict::IncompleteChain,
            analysis.untrusted_detail.clone(),
        )
    } else if flags.expired {
        (
            CertVerdict::Expired,
            Some("a certificate of the chain has expired".to_string()),
        )
    } else if flags.not_yet_valid {
        (
            CertVerdict::NotYetValid,
            Some("a certificate of the chain is not valid yet".to_string()),
        )
    } else if let Some(error) = name_error {
        (CertVerdict::NameMismatch, Some(error))
    } else if flags.weak_signature {
        (
            CertVerdict::WeakSignature,
            Some("the chain is signed with MD5 or SHA-1".to_string()),
        )
    } else if flags.weak_key {
        (
            CertVerdict::WeakKey,
            Some(
                "the chain has an RSA key under 2048 bits or an EC key under 256 bits".to_string(),
            ),
        )
    } else if let Some(error) = &analysis.path_error {
        (
            CertVerdict::Invalid,
            Some(format!("path validation failed: {error}")),
        )
    } else {
        (CertVerdict::Trusted, None)
    };
    report.verdict = verdict;
    report.verdict_detail = detail;
    report
}

/// Returns why the leaf does not cover `server_name` (RFC 6125 rules as rustls-webpki applies
/// them: subjectAltName only, a wildcard covers one whole left label), or None when it does.
///
/// A leaf that rustls-webpki cannot parse is not called a mismatch: the path check reports it
/// as invalid instead. A leaf too large for webpki is matched by [`large_leaf::name_error`].
fn name_error(leaf: &CertificateDer<'_>, server_name: &str) -> Option<String> {
    let name = match ServerName::try_from(server_name) {
        Ok(name) => name,
        Err(error) => return Some(format!("invalid server name {server_name:?}: {error}")),
    };
    if large_leaf::applies_to(leaf) {
        let (_, cert) = x509_parser::parse_x509_certificate(leaf).ok()?;
        return large_leaf::name_error(&cert, server_name);
    }
    let end_entity = webpki::EndEntityCert::try_from(leaf).ok()?;
    end_entity
        .verify_is_valid_for_subject_name(&name)
        .err()
        .map(|_| format!("the certificate is not valid for {server_name}"))
}

/// End of the walk through the served certificates.
#[derive(Debug, PartialEq, Eq)]
enum PathEnd {
    /// The last certificate of the path is issued by a trusted root.
    TrustedRoot,
    /// The certificate at this index of the chain is its own issuer and is not trusted.
    SelfSigned(usize),
    /// The issuer of the certificate at this index was not sent and is not trusted.
    MissingIssuer(usize),
}

struct Path {
    /// Indices into the served chain, starting with the leaf at 0.
    indices: Vec<usize>,
    end: PathEnd,
}

/// Follows issuers from the leaf: first to a trusted root, then to a certificate in the chain
/// whose subject is the issuer name (and whose subject key identifier matches the authority key
/// identifier, when both are present). Names are compared as DER bytes.
fn walk_path(parsed: &[Option<X509Certificate<'_>>], roots: &RootCertStore) -> Path {
    let mut indices = vec![0];
    loop {
        let current = *indices.last().unwrap_or(&0);
        let Some(cert) = parsed[current].as_ref() else {
            return Path {
                indices,
                end: PathEnd::MissingIssuer(current),
            };
        };
        let issuer = cert.issuer().as_raw();
        if issued_by_trusted_root(issuer, roots) {
            return Path {
                indices,
                end: PathEnd::TrustedRoot,
            };
        }
        if cert.subject().as_raw() == issuer {
            return Path {
                indices,
                end: PathEnd::SelfSigned(current),
            };
        }
        let next = (0..parsed.len()).find(|&i| {
            !indices.contains(&i)
                && parsed[i]
                    .as_ref()
                    .is_some_and(|candidate| issues(candidate, cert))
        });
        match next {
            Some(next) if indices.len() < MAX_PATH_LENGTH => indices.push(next),
            _ => {
                return Path {
                    indices,
                    end: PathEnd::MissingIssuer(current),
                };
            }
        }
    }
}

fn issues(candidate: &X509Certificate<'_>, cert: &X509Certificate<'_>) -> bool {
    if candidate.subject().as_raw() != cert.issuer().as_raw() {
        return false;
    }
    match (authority_key_id(cert), subject_key_id(candidate)) {
        (Some(authority), Some(subject)) => authority == subject,
        _ => true,
    }
}

fn authority_key_id<'a>(cert: &'a X509Certificate<'_>) -> Option<&'a [u8]> {
    cert.extensions()
        .iter()
        .find_map(|extension| match extension.parsed_extension() {
            x509_parser::extensions::ParsedExtension::AuthorityKeyIdentifier(aki) => {
                aki.key_identifier.as_ref().map(|id| id.0)
            }
            _ => None,
        })
}

fn subject_key_id<'a>(cert: &'a X509Certificate<'_>) -> Option<&'a [u8]> {
    cert.extensions()
        .iter()
        .find_map(|extension| match extension.parsed_extension() {
            x509_parser::extensions::ParsedExtension::SubjectKeyIdentifier(ski) => Some(ski.0),
            _ => None,
        })
}

/// A trust anchor stores its subject without the outer SEQUENCE header, so the header is
/// stripped from the issuer name before comparing.
fn issued_by_trusted_root(issuer_der: &[u8], roots: &RootCertStore) -> bool {
    let Some(content) = der_content(issuer_der) else {
        return false;
    };
    roots
        .roots
        .iter()
        .any(|anchor| anchor.subject.as_ref() == content)
}

/// Returns the content of a DER TLV (tag, length, value), or None when it is malformed.
fn der_content(der: &[u8]) -> Option<&[u8]> {
    let first_length = *der.get(1)?;
    let (header, length) = if first_length < 0x80 {
        (2, usize::from(first_length))
    } else {
        let count = usize::from(first_length & 0x7f);
        if count == 0 || count > 4 {
            return None;
        }
        let bytes = der.get(2..2 + count)?;
        let length = bytes
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (2 + count, length)
    };
    der.get(header..header + length)
}

/// Each certificate is followed by the one that issued it, by name.
fn chain_in_order(parsed: &[Option<X509Certificate<'_>>]) -> bool {
    parsed.windows(2).all(|pair| match (&pair[0], &pair[1]) {
        (Some(cert), Some(issuer)) => cert.issuer().as_raw() == issuer.subject().as_raw(),
        _ => false,
    })
}

fn leaf_facts(cert: &X509Certificate<'_>, now: DateTime<Utc>) -> LeafFacts {
    let mut sans = Vec::new();
    let mut san_count = 0;
    if let Ok(Some(extension)) = cert.subject_alternative_name() {
        for name in &extension.value.general_names {
            let text = match name {
                GeneralName::DNSName(dns) => dns.to_string(),
                GeneralName::IPAddress(bytes) => ip_text(bytes),
                _ => continue,
            };
            san_count += 1;
            if sans.len() < SAN_LIMIT {
                sans.push(text);
            }
        }
    }
    let validity = cert.validity();
    let not_before = timestamp_utc(validity.not_before.timestamp());
    let not_after = timestamp_utc(validity.not_after.timestamp());
    LeafFacts {
        subject_cn: first_common_name(cert.subject()),
        sans,
        san_count,
        issuer: cert.issuer().to_string(),
        issuer_cn: first_common_name(cert.issuer()),
        not_before,
        not_after,
        days_to_expiry: (not_after - now).num_days(),
        key: key_facts(cert),
        signature_algorithm: oid_name(&cert.signature_algorithm.algorithm),
    }
}

fn timestamp_utc(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(seconds, 0).unwrap_or(DateTime::UNIX_EPOCH)
}

fn first_common_name(name: &x509_parser::x509::X509Name<'_>) -> Option<String> {
    name.iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map(str::to_string)
}

fn ip_text(bytes: &[u8]) -> String {
    match bytes.len() {
        4 => std::net::Ipv4Addr::from(<[u8; 4]>::try_from(bytes).unwrap_or_default()).to_string(),
        16 => std::net::Ipv6Addr::from(<[u8; 16]>::try_from(bytes).unwrap_or_default()).to_string(),
        _ => format!("invalid IP address of {} bytes", bytes.len()),
    }
}

fn oid_name(oid: &x509_parser::der_parser::oid::Oid<'_>) -> String {
    oid2sn(oid, oid_registry()).map_or_else(|_| oid.to_id_string(), str::to_string)
}

const OID_RSA: &str = "1.2.840.113549.1.1.1";
const OID_EC: &str = "1.2.840.10045.2.1";
const OID_DSA: &str = "1.2.840.10040.4.1";
const OID_ED25519: &str = "1.3.101.112";
const OID_ED448: &str = "1.3.101.113";

/// Signature algorithms whose hash is MD2, MD4, MD5 or SHA-1: RSA PKCS #1 (RFC 8017), the
/// obsolete OIW SHA-1 with RSA, DSA with SHA-1 (RFC 3279) and ECDSA with SHA-1 (RFC 5758).
/// RSASSA-PSS names its hash in parameters, and a PSS signature with SHA-1 is not detected.
const WEAK_SIGNATURE_OIDS: &[&str] = &[
    "1.2.840.113549.1.1.2",
    "1.2.840.113549.1.1.3",
    "1.2.840.113549.1.1.4",
    "1.2.840.113549.1.1.5",
    "1.3.14.3.2.29",
    "1.2.840.10040.4.3",
    "1.2.840.10045.4.1",
];

fn is_weak_signature(cert: &X509Certificate<'_>) -> bool {
    WEAK_SIGNATURE_OIDS.contains(&cert.signature_algorithm.algorithm.to_id_string().as_str())
}

fn is_weak_key(key: &KeyFacts) -> bool {
    match (key.key_type.as_str(), key.bits) {
        ("rsa" | "dsa", Some(bits)) => bits < MIN_RSA_BITS,
        ("ec", Some(bits)) => bits < MIN_EC_BITS,
        _ => false,
    }
}

fn key_facts(cert: &X509Certificate<'_>) -> KeyFacts {
    let spki = cert.public_key();
    let algorithm = spki.algorithm.algorithm.to_id_string();
    let mut facts = KeyFacts {
        key_type: algorithm.clone(),
        bits: None,
        curve: None,
    };
    match algorithm.as_str() {
        OID_RSA => {
            facts.key_type = "rsa".to_string();
            if let Ok(PublicKey::RSA(rsa)) = spki.parsed() {
                facts.bits = Some(unsigned_bits(rsa.modulus));
            }
        }
        OID_DSA => {
            facts.key_type = "dsa".to_string();
            facts.bits = dsa_prime_bits(spki.algorithm.parameters.as_ref());
        }
        OID_EC => {
            facts.key_type = "ec".to_string();
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|parameters| parameters.as_oid().ok());
            if let Some(curve) = curve {
                facts.bits = curve_bits(&curve.to_id_string());
                facts.curve = Some(oid_name(&curve));
            }
        }
        OID_ED25519 => {
            facts.key_type = "ed25519".to_string();
            facts.bits = Some(256);
        }
        OID_ED448 => {
            facts.key_type = "ed448".to_string();
            facts.bits = Some(456);
        }
        _ => {}
    }
    facts
}

/// Bit length of a big-endian unsigned integer, ignoring leading zero bytes and bits.
fn unsigned_bits(bytes: &[u8]) -> u32 {
    let significant: &[u8] = match bytes.iter().position(|&b| b != 0) {
        Some(start) => &bytes[start..],
        None => return 0,
    };
    let total = u32::try_from(significant.len()).unwrap_or(u32::MAX / 8) * 8;
    total - significant[0].leading_zeros()
}

/// The DSA prime p is the first INTEGER of the Dss-Parms SEQUENCE (RFC 3279 section 2.3.2).
fn dsa_prime_bits(parameters: Option<&x509_parser::der_parser::asn1_rs::Any<'_>>) -> Option<u32> {
    let sequence = parameters?.data;
    if sequence.first() != Some(&0x02) {
        return None;
    }
    der_content(sequence).map(unsigned_bits)
}

/// Field size of the named curves in use on the web (SEC 2 and RFC 5480).
fn curve_bits(oid: &str) -> Option<u32> {
    match oid {
        "1.2.840.10045.3.1.1" => Some(192),
        "1.3.132.0.33" => Some(224),
        "1.2.840.10045.3.1.7" => Some(256),
        "1.3.132.0.34" => Some(384),
        "1.3.132.0.35" => Some(521),
        "1.3.132.0.10" => Some(256),
        "1.3.36.3.3.2.8.1.1.7" => Some(256),
        "1.3.36.3.3.2.8.1.1.11" => Some(384),
        "1.3.36.3.3.2.8.1.1.13" => Some(512),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::pem::PemObject;

    /// Fixtures written by scripts/simnet_badssl.py (see tests/fixtures/tls/README.md). Their
    /// certificates are valid from 30 days before GENERATED_AT to 365 days after it.
    const GENERATED_AT: &str = "2026-12-04T22:01:40Z";
    const ZONE: &str = "badssl.simnet-tls.net";

    fn generated_at() -> DateTime<Utc> {
        GENERATED_AT.parse().expect("GENERATED_AT is RFC 3339")
    }

    fn fixture(name: &str) -> Vec<CertificateDer<'static>> {
        let path = format!(
            "{}/tests/fixtures/tls/badssl/{name}.pem",
            env!("CARGO_MANIFEST_DIR")
        );
        CertificateDer::pem_file_iter(&path)
            .unwrap_or_else(|error| panic!("cannot read {path}: {error}"))
            .collect::<Result<_, _>>()
            .unwrap_or_else(|error| panic!("invalid PEM in {path}: {error}"))
    }

    /// Mozilla's roots plus the badssl root, as a scan with --ca-file has them.
    fn roots() -> RootCertStore {
        let mut roots = webpki_only_roots();
        for root in fixture("root") {
            roots
                .add(root)
                .expect("the badssl root is a valid trust anchor");
        }
        roots
    }

    fn webpki_only_roots() -> RootCertStore {
        let mut roots = RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        roots
    }

    fn analyze_fixture(name: &str, host: &str) -> ChainReport {
        analyze(&fixture(name), host, generated_at(), &roots())
    }

    fn leaf(report: &ChainReport) -> &LeafFacts {
        report.leaf.as_ref().expect("the leaf was parsed")
    }

    #[test]
    fn verdicts_of_badssl_fixtures() {
        let wildcard_host = format!("rsa2048.{ZONE}");
        let cases: &[(&str, String, CertVerdict)] = &[
            (
                "wildcard-rsa2048",
                wildcard_host.clone(),
                CertVerdict::Trusted,
            ),
            ("wildcard-rsa2048", ZONE.to_string(), CertVerdict::Trusted),
            (
                "wildcard-rsa2048",
                format!("wrong.host.{ZONE}"),
                CertVerdict::NameMismatch,
            ),
            (
                "wildcard-ecc384",
                wildcard_host.clone(),
                CertVerdict::Trusted,
            ),
            (
                "wildcard-rsa512",
                wildcard_host.clone(),
                CertVerdict::WeakKey,
            ),
            (
                "wildcard-md5",
                wildcard_host.clone(),
                CertVerdict::WeakSignature,
            ),
            (
                "wildcard-sha1-intermediate",
                wildcard_host.clone(),
                CertVerdict::WeakSignature,
            ),
            (
                "wildcard-expired",
                wildcard_host.clone(),
                CertVerdict::Expired,
            ),
            (
                "wildcard-self-signed",
                wildcard_host.clone(),
                CertVerdict::SelfSigned,
            ),
            (
                "wildcard-untrusted-root",
                wildcard_host.clone(),
                CertVerdict::UntrustedRoot,
            ),
            (
                "wildcard-incomplete-chain",
                wildcard_host.clone(),
                CertVerdict::IncompleteChain,
            ),
            (
                "subdomain-reversed-chain",
                format!("reversed-chain.{ZONE}"),
                CertVerdict::Trusted,
            ),
            (
                "subdomain-no-san",
                format!("no-san.{ZONE}"),
                CertVerdict::NameMismatch,
            ),
            (
                "subdomain-no-subject",
                format!("no-subject.{ZONE}"),
                CertVerdict::Trusted,
            ),
            (
                "subdomain-1000-sans",
                format!("1000-sans.{ZONE}"),
                CertVerdict::Trusted,
            ),
            (
                "subdomain-captive-portal",
                format!("captive-portal.{ZONE}"),
                CertVerdict::NameMismatch,
            ),
        ];
        for (file, host, expected) in cases {
            let report = analyze_fixture(file, host);
            assert_eq!(report.verdict, *expected, "{file} for {host}: {report:?}");
        }
    }

    #[test]
    fn trusted_chain_facts() {
        let report = analyze_fixture("wildcard-rsa2048", &format!("rsa2048.{ZONE}"));
        assert_eq!(report.verdict_detail, None);
        assert_eq!(report.flags, CertFlags::default());
        assert_eq!(report.chain_length, 2);
        assert!(report.chain_order_correct);
        let leaf = leaf(&report);
        assert_eq!(leaf.subject_cn.as_deref(), Some("*.badssl.simnet-tls.net"));
        assert_eq!(leaf.sans, vec![format!("*.{ZONE}"), ZONE.to_string()]);
        assert_eq!(leaf.san_count, 2);
        assert_eq!(
            leaf.issuer_cn.as_deref(),
            Some("posture simnet badssl intermediate")
        );
        assert!(
            leaf.issuer
                .contains("CN=posture simnet badssl intermediate"),
            "{}",
            leaf.issuer
        );
        assert_eq!(leaf.key.key_type, "rsa");
        assert_eq!(leaf.key.bits, Some(2048));
        assert_eq!(leaf.key.curve, None);
        assert_eq!(leaf.signature_algorithm, "sha256WithRSAEncryption");
        assert_eq!((leaf.not_after - leaf.not_before).num_days(), 395);
        assert_eq!(leaf.days_to_expiry, 365);
    }

    #[test]
    fn ec_key_and_rsa_512_key() {
        let ec = analyze_fixture("wildcard-ecc384", &format!("ecc384.{ZONE}"));
        assert_eq!(leaf(&ec).key.key_type, "ec");
        assert_eq!(leaf(&ec).key.bits, Some(384));
        assert_eq!(leaf(&ec).key.curve.as_deref(), Some("secp384r1"));
        assert!(!ec.flags.weak_key);

        let rsa = analyze_fixture("wildcard-rsa512", &format!("rsa512.{ZONE}"));
        assert_eq!(leaf(&rsa).key.bits, Some(512));
        assert!(rsa.flags.weak_key);
        assert!(!rsa.flags.weak_signature);
    }

    #[test]
    fn weak_signatures_in_leaf_and_intermediate() {
        let md5 = analyze_fixture("wildcard-md5", &format!("md5.{ZONE}"));
        assert_eq!(leaf(&md5).signature_algorithm, "md5WithRSAEncryption");
        assert!(md5.flags.weak_signature);

        // The leaf is signed with SHA-256, its intermediate with SHA-1.
        let sha1 = analyze_fixture("wildcard-sha1-intermediate", &format!("sha1.{ZONE}"));
        assert_eq!(leaf(&sha1).signature_algorithm, "sha256WithRSAEncryption");
        assert!(sha1.flags.weak_signature);
    }

    #[test]
    fn untrusted_root_differs_from_incomplete_chain() {
        let host = format!("x.{ZONE}");
        let untrusted = analyze_fixture("wildcard-untrusted-root", &host);
        assert!(untrusted.flags.untrusted_root);
        assert!(!untrusted.flags.incomplete_chain);
        assert_eq!(untrusted.chain_length, 2);

        let incomplete = analyze_fixture("wildcard-incomplete-chain", &host);
        assert!(incomplete.flags.incomplete_chain);
        assert!(!incomplete.flags.untrusted_root);
        assert_eq!(incomplete.chain_length, 1);
        let detail = incomplete
            .verdict_detail
            .expect("an incomplete chain has a detail");
        assert!(
            detail.contains("posture simnet badssl intermediate"),
            "{detail}"
        );
    }

    #[test]
    fn private_chain_without_its_root_is_incomplete() {
        // Without --ca-file the intermediate's issuer is neither sent nor trusted.
        let chain = fixture("wildcard-rsa2048");
        let report = analyze(&chain, ZONE, generated_at(), &webpki_only_roots());
        assert_eq!(report.verdict, CertVerdict::IncompleteChain);
    }

    #[test]
    fn out_of_order_chain_is_trusted() {
        let report = analyze_fixture(
            "subdomain-reversed-chain",
            &format!("reversed-chain.{ZONE}"),
        );
        assert_eq!(report.chain_length, 3);
        assert!(!report.chain_order_correct);
        assert_eq!(report.flags, CertFlags::default());
    }

    #[test]
    fn names_without_san_or_subject() {
        let no_san = analyze_fixture("subdomain-no-san", &format!("no-san.{ZONE}"));
        assert_eq!(leaf(&no_san).san_count, 0);
        assert_eq!(leaf(&no_san).subject_cn, Some(format!("no-san.{ZONE}")));
        assert!(no_san.flags.name_mismatch);

        let no_subject = analyze_fixture("subdomain-no-subject", &format!("no-subject.{ZONE}"));
        assert_eq!(leaf(&no_subject).subject_cn, None);
        assert_eq!(leaf(&no_subject).san_count, 1);
    }

    #[test]
    fn san_list_is_capped() {
        let report = analyze_fixture("subdomain-1000-sans", &format!("1000-sans.{ZONE}"));
        assert_eq!(leaf(&report).san_count, 1000);
        assert_eq!(leaf(&report).sans.len(), SAN_LIMIT);
        assert_eq!(leaf(&report).sans[0], format!("1000-sans.{ZONE}"));
    }

    #[test]
    fn expired_and_not_yet_valid() {
        let host = format!("expired.{ZONE}");
        let expired = analyze_fixture("wildcard-expired", &host);
        assert!(expired.flags.expired);
        assert_eq!(leaf(&expired).days_to_expiry, -30);

        let early = generated_at() - chrono::TimeDelta::days(31);
        let report = analyze(&fixture("wildcard-rsa2048"), &host, early, &roots());
        assert_eq!(report.verdict, CertVerdict::NotYetValid);
        assert!(!report.flags.expired);
    }

    #[test]
    fn precedence_keeps_secondary_flags() {
        // A year and a half later the self-signed leaf has also expired, and the name is wrong.
        let later = generated_at() + chrono::TimeDelta::days(500);
        let report = analyze(
            &fixture("wildcard-self-signed"),
            "other.example",
            later,
            &roots(),
        );
        assert_eq!(report.verdict, CertVerdict::SelfSigned);
        assert!(report.flags.self_signed);
        assert!(report.flags.expired);
        assert!(report.flags.name_mismatch);
    }

    #[test]
    fn missing_or_unparsable_leaf() {
        let empty = analyze(&[], ZONE, generated_at(), &roots());
        assert_eq!(empty.verdict, CertVerdict::NoCertificate);
        assert_eq!(empty.chain_length, 0);

        let garbage = [CertificateDer::from(vec![0x30, 0x03, 0x02, 0x01, 0x00])];
        let report = analyze(&garbage, ZONE, generated_at(), &roots());
        assert_eq!(report.verdict, CertVerdict::NoCertificate);
        assert_eq!(report.leaf, None);
        assert_eq!(report.chain_length, 1);
    }

    #[test]
    fn cache_shares_chain_across_names() {
        let cache = ChainCache::new(8);
        let chain = fixture("wildcard-rsa2048");
        let apex = cache.analyze(&chain, ZONE, generated_at(), &roots());
        let wrong = cache.analyze(
            &chain,
            &format!("wrong.host.{ZONE}"),
            generated_at(),
            &roots(),
        );
        assert_eq!(cache.len(), 1);
        assert_eq!(apex.verdict, CertVerdict::Trusted);
        assert_eq!(wrong.verdict, CertVerdict::NameMismatch);
    }

    #[test]
    fn cache_is_bounded() {
        let cache = ChainCache::new(2);
        for name in ["wildcard-rsa2048", "wildcard-ecc384", "wildcard-md5"] {
            cache.analyze(&fixture(name), ZONE, generated_at(), &roots());
        }
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn cache_entry_expires_after_max_age() {
        let cache = ChainCache::new(8);
        let chain = fixture("wildcard-rsa2048");
        let first = cache.analyze(&chain, ZONE, generated_at(), &roots());
        assert_eq!(first.verdict, CertVerdict::Trusted);
        // Past the leaf's notAfter, a stale entry would still say trusted.
        let later = generated_at() + chrono::TimeDelta::days(400);
        let second = cache.analyze(&chain, ZONE, later, &roots());
        assert_eq!(second.verdict, CertVerdict::Expired);
    }

    #[test]
    fn bit_length_of_integers() {
        assert_eq!(unsigned_bits(&[0x00, 0x80, 0x00]), 16);
        assert_eq!(unsigned_bits(&[0x01, 0xff]), 9);
        assert_eq!(unsigned_bits(&[0x00]), 0);
        assert_eq!(
            der_content(&[0x30, 0x02, 0xaa, 0xbb]),
            Some(&[0xaa, 0xbb][..])
        );
        assert_eq!(der_content(&[0x30, 0x81, 0x01, 0xaa]), Some(&[0xaa][..]));
        assert_eq!(der_content(&[0x30, 0x05, 0xaa]), None);
    }
}
