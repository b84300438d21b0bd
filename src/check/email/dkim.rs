//! DKIM key records (RFC 6376 section 3.6.1, with Ed25519 keys from RFC 8463): strict
//! parsing, and the size and form of the public key taken from the key itself.
//!
//! Left out: selector discovery (selectors cannot be listed, so callers query names they
//! guess) and signature verification.

use std::collections::HashSet;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;
use x509_parser::prelude::FromDer;
use x509_parser::public_key::{PublicKey, RSAPublicKey};
use x509_parser::x509::SubjectPublicKeyInfo;

use super::issue::{Issue, Tag, is_fws, split_tags};

/// The only version, case-sensitive (RFC 6376 section 3.6.1).
pub const VERSION: &str = "DKIM1";

/// RSA keys shorter than this are an error, because RFC 8301 section 3.2 requires signers to
/// use at least 1024 bits.
pub const MIN_RSA_BITS: u32 = 1024;
/// RSA keys shorter than this draw a warning, because RFC 8301 section 3.2 recommends at
/// least 2048 bits.
pub const RECOMMENDED_RSA_BITS: u32 = 2048;

/// The object identifier of rsaEncryption (RFC 8017 appendix C).
const RSA_ENCRYPTION_OID: &str = "1.2.840.113549.1.1.1";

/// The errors a DKIM key record can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DkimError {
    /// `v` is present but not exactly `DKIM1`, so verifiers discard the record.
    InvalidVersion,
    /// `v` is present but not the first tag.
    VersionNotFirst,
    /// A part between semicolons is empty or not `name=value`.
    MalformedTag,
    DuplicateTag,
    /// No `p` tag.
    MissingPublicKey,
    /// `p` is not valid base64.
    InvalidBase64,
    /// `p` does not contain a public key of the type that `k` names.
    InvalidPublicKey,
    /// `k` names an algorithm other than `rsa` and `ed25519`.
    UnknownKeyType,
    /// An RSA key shorter than 1024 bits.
    WeakKey,
    /// `h` lists neither `sha256` nor `sha1`, so no signature can use the key.
    NoSupportedHash,
}

/// The warnings a valid DKIM key record can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DkimWarning {
    /// An empty `p`: the key is revoked (RFC 6376 section 3.6.1).
    RevokedKey,
    /// An RSA key of 1024 to 2047 bits.
    ShortKey,
    /// A bare PKCS#1 RSAPublicKey in place of the SubjectPublicKeyInfo that RFC 6376
    /// requires. Some verifiers accept it and others reject it.
    Pkcs1PublicKey,
    /// `t=y`: the domain is testing DKIM, and verifiers treat failures as unsigned mail.
    TestingMode,
    /// `h` allows SHA-1 and not SHA-256. RFC 8301 forbids signing with SHA-1.
    Sha1Only,
    /// `s` lists neither `*` nor `email`, so the key cannot sign email.
    NotForEmail,
    /// A tag that RFC 6376 does not define for key records, which verifiers ignore.
    UnknownTag,
}

/// The public key algorithm (`k`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyType {
    Rsa,
    Ed25519,
}

/// The encoding of the key in `p`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyFormat {
    /// DER SubjectPublicKeyInfo, the form RFC 6376 requires for RSA.
    SubjectPublicKeyInfo,
    /// DER RSAPublicKey of RFC 8017, without the SubjectPublicKeyInfo wrapper.
    Pkcs1,
    /// The 32 raw bytes of an Ed25519 key (RFC 8463 section 4.2).
    Ed25519,
}

/// A parsed DKIM key record, with defaults applied. Field names in JSON are the tag names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DkimKey {
    /// `None` when `k` names an unknown algorithm. Defaults to `rsa`.
    #[serde(rename = "k")]
    pub key_type: Option<KeyType>,
    /// Acceptable hash algorithms in lower case. Empty when `h` is absent, which allows all.
    #[serde(rename = "h")]
    pub hash_algorithms: Vec<String>,
    /// Service types, by default `*`.
    #[serde(rename = "s")]
    pub service_types: Vec<String>,
    /// Flags (`y`, `s`, and unknown ones, which verifiers ignore).
    #[serde(rename = "t")]
    pub flags: Vec<String>,
    #[serde(rename = "n")]
    pub notes: Option<String>,
    /// `t=y`.
    pub testing: bool,
    /// `t=s`: the `i=` domain of signatures must equal `d=`, not a subdomain of it.
    pub strict_subdomains: bool,
    /// An empty `p`.
    pub revoked: bool,
    pub key_format: Option<KeyFormat>,
    /// The RSA modulus length, or 256 for Ed25519.
    pub key_bits: Option<u32>,
    /// Names of the tags given with a valid value, in record order.
    pub explicit: Vec<&'static str>,
    pub errors: Vec<Issue<DkimError>>,
    pub warnings: Vec<Issue<DkimWarning>>,
}

impl DkimKey {
    pub fn is_valid(&self) -> bool {
        self.errors.is_empty()
    }

    fn error(&mut self, kind: DkimError, message: impl Into<String>) {
        self.errors.push(Issue::new(kind, message));
    }

    fn warn(&mut self, kind: DkimWarning, message: impl Into<String>) {
        self.warnings.push(Issue::new(kind, message));
    }
}

/// Parses one DKIM key record, the strings of its TXT record already joined. Tag names and
/// values are case-sensitive (RFC 6376 section 3.2).
pub fn parse(text: &str) -> DkimKey {
    let mut key = DkimKey {
        key_type: Some(KeyType::Rsa),
        hash_algorithms: Vec::new(),
        service_types: vec!["*".to_string()],
        flags: Vec::new(),
        notes: None,
        testing: false,
        strict_subdomains: false,
        revoked: false,
        key_format: None,
        key_bits: None,
        explicit: Vec::new(),
        errors: Vec::new(),
        warnings: Vec::new(),
    };
    let (tags, syntax_errors) = split_tags(text, is_fws);
    for error in &syntax_errors {
        key.error(DkimError::MalformedTag, error.message());
    }

    // 1. Every tag once, `v` only first.
    let mut seen = HashSet::new();
    let mut public_key = None;
    for (index, tag) in tags.iter().enumerate() {
        if !seen.insert(tag.name) {
            key.error(
                DkimError::DuplicateTag,
                format!("the {}= tag appears more than once", tag.name),
            );
            continue;
        }
        if tag.name == "p" {
            public_key = Some(tag.value);
            continue;
        }
        apply_tag(&mut key, tag, index);
    }

    // 2. The key itself, which needs `k`.
    match public_key {
        None => key.error(DkimError::MissingPublicKey, "the record has no p= tag"),
        Some(value) => {
            key.explicit.push("p");
            check_public_key(&mut key, value);
        }
    }
    key
}

fn apply_tag(key: &mut DkimKey, tag: &Tag<'_>, index: usize) {
    let value = tag.value;
    let name: &'static str = match tag.name {
        "v" => {
            if index != 0 {
                key.error(DkimError::VersionNotFirst, "v= must be the first tag");
                return;
            }
            if value != VERSION {
                key.error(
                    DkimError::InvalidVersion,
                    format!("v={value} is not v=DKIM1 (the value is case-sensitive)"),
                );
                return;
            }
            "v"
        }
        "k" => {
            key.key_type = match value {
                "rsa" => Some(KeyType::Rsa),
                "ed25519" => Some(KeyType::Ed25519),
                _ => {
                    key.key_type = None;
                    key.error(
                        DkimError::UnknownKeyType,
                        format!("unknown key type k={value}: expected rsa or ed25519"),
                    );
                    return;
                }
            };
            "k"
        }
        "h" => {
            key.hash_algorithms = split_list(value, true);
            check_hash_algorithms(key);
            "h"
        }
        "s" => {
            key.service_types = split_list(value, false);
            let for_email = key
                .service_types
                .iter()
                .any(|service| service == "*" || service == "email");
            if !for_email {
                key.warn(
                    DkimWarning::NotForEmail,
                    format!("s={value} does not include email or *, so the key cannot sign mail"),
                );
            }
            "s"
        }
        "t" => {
            key.flags = split_list(value, false);
            key.testing = key.flags.iter().any(|flag| flag == "y");
            key.strict_subdomains = key.flags.iter().any(|flag| flag == "s");
            if key.testing {
                key.warn(
                    DkimWarning::TestingMode,
                    "t=y: the domain is testing DKIM, so verifiers ignore failures",
                );
            }
            "t"
        }
        "n" => {
            key.notes = Some(value.to_string());
            "n"
        }
        other => {
            key.warn(
                DkimWarning::UnknownTag,
                format!("unknown tag {other}= is ignored"),
            );
            return;
        }
    };
    key.explicit.push(name);
}

/// Splits a colon-separated list, with whitespace around items removed.
fn split_list(value: &str, lowercase: bool) -> Vec<String> {
    value
        .split(':')
        .map(|item| item.trim_matches(is_fws))
        .filter(|item| !item.is_empty())
        .map(|item| {
            if lowercase {
                item.to_ascii_lowercase()
            } else {
                item.to_string()
            }
        })
        .collect()
}

fn check_hash_algorithms(key: &mut DkimKey) {
    let allows = |name: &str| key.hash_algorithms.iter().any(|hash| hash == name);
    let (sha256, sha1) = (allows("sha256"), allows("sha1"));
    if sha1 && !sha256 {
        key.warn(
            DkimWarning::Sha1Only,
            "h= allows only SHA-1, which RFC 8301 forbids for signing",
        );
    } else if !sha1 && !sha256 {
        key.error(
            DkimError::NoSupportedHash,
            format!(
                "h={} lists neither sha256 nor sha1",
                key.hash_algorithms.join(":")
            ),
        );
    }
}

/// Decodes `p` and checks the key against `k`.
fn check_public_key(key: &mut DkimKey, value: &str) {
    // RFC 6376 section 3.6.1: base64 may contain folding whitespace.
    let base64: String = value.chars().filter(|c| !is_fws(*c)).collect();
    if base64.is_empty() {
        key.revoked = true;
        key.warn(DkimWarning::RevokedKey, "p= is empty: the key is revoked");
        return;
    }
    let bytes = match STANDARD.decode(&base64) {
        Ok(bytes) => bytes,
        Err(error) => {
            key.error(
                DkimError::InvalidBase64,
                format!("p= is not valid base64: {error}"),
            );
            return;
        }
    };
    match key.key_type {
        Some(KeyType::Rsa) => check_rsa_key(key, &bytes),
        Some(KeyType::Ed25519) => {
            if bytes.len() == 32 {
                key.key_format = Some(KeyFormat::Ed25519);
                key.key_bits = Some(256);
            } else {
                key.error(
                    DkimError::InvalidPublicKey,
                    format!(
                        "an Ed25519 key is 32 bytes, but p= has {} bytes",
                        bytes.len()
                    ),
                );
            }
        }
        None => {}
    }
}

fn check_rsa_key(key: &mut DkimKey, der: &[u8]) {
    let bits = match rsa_modulus_bits(der) {
        Ok((format, bits)) => {
            key.key_format = Some(format);
            bits
        }
        Err(reason) => {
            key.error(DkimError::InvalidPublicKey, reason);
            return;
        }
    };
    key.key_bits = Some(bits);
    if key.key_format == Some(KeyFormat::Pkcs1) {
        key.warn(
            DkimWarning::Pkcs1PublicKey,
            "p= is a bare PKCS#1 RSAPublicKey, not the SubjectPublicKeyInfo that RFC 6376 \
             requires; some verifiers reject it",
        );
    }
    if bits < MIN_RSA_BITS {
        key.error(
            DkimError::WeakKey,
            format!("the RSA key has {bits} bits, below the minimum of {MIN_RSA_BITS}"),
        );
    } else if bits < RECOMMENDED_RSA_BITS {
        key.warn(
            DkimWarning::ShortKey,
            format!("the RSA key has {bits} bits: use {RECOMMENDED_RSA_BITS} or more"),
        );
    }
}

/// Returns the encoding and modulus length of an RSA public key in DER: a
/// SubjectPublicKeyInfo, or else a bare RSAPublicKey.
fn rsa_modulus_bits(der: &[u8]) -> Result<(KeyFormat, u32), String> {
    if let Ok((rest, info)) = SubjectPublicKeyInfo::from_der(der) {
        if !rest.is_empty() {
            return Err("p= has bytes after the SubjectPublicKeyInfo".to_string());
        }
        let algorithm = info.algorithm.algorithm.to_id_string();
        if algorithm != RSA_ENCRYPTION_OID {
            return Err(format!(
                "p= contains a key of algorithm {algorithm}, not RSA (k=rsa)"
            ));
        }
        return match info.parsed() {
            Ok(PublicKey::RSA(rsa)) => Ok((KeyFormat::SubjectPublicKeyInfo, modulus_bits(&rsa))),
            _ => Err("p= contains an invalid RSA public key".to_string()),
        };
    }
    match RSAPublicKey::from_der(der) {
        Ok(([], rsa)) => Ok((KeyFormat::Pkcs1, modulus_bits(&rsa))),
        _ => Err("p= is not an RSA public key (k=rsa is the default)".to_string()),
    }
}

/// Counts the bits of the modulus, without the sign byte and leading zeros.
fn modulus_bits(rsa: &RSAPublicKey<'_>) -> u32 {
    let start = rsa
        .modulus
        .iter()
        .position(|byte| *byte != 0)
        .unwrap_or(rsa.modulus.len());
    let modulus = &rsa.modulus[start..];
    match modulus.first() {
        Some(first) => (modulus.len() as u32 - 1) * 8 + (8 - first.leading_zeros()),
        None => 0,
    }
}

#[cfg(test)]
mod tests;
