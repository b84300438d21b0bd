//! Familiar sub-scores, each an approximation of a published model computed from posture's
//! own columns: an HTTP score in the style of Mozilla's HTTP Observatory and a TLS grade in the
//! style of Qualys SSL Labs. Both return `None` when a column they need is missing (a scan
//! without the `web` or `tls` check) or null for the row (`rules::headers_tls` names them).
//!
//! NOTE: neither model is reproduced exactly. The Observatory also grades subresource
//! integrity and the contents of CSP beyond `unsafe-inline` and `unsafe-eval`; SSL Labs also
//! weighs cipher key lengths and handshake simulations, which posture does not store.

use super::evidence::{Evidence, RowEvidence};
use super::rules::headers_tls::*;

/// Columns the HTTP sub-score reads.
const OBSERVATORY_COLUMNS: &[&str] = &[
    HTTP_HSTS_COUNT,
    HTTP_HSTS_VALID,
    HTTP_HSTS_MAX_AGE,
    HTTP_CSP_PRESENT,
    HTTP_CSP_UNSAFE_INLINE,
    HTTP_CSP_UNSAFE_EVAL,
    HTTP_CSP_FRAME_ANCESTORS,
    HTTP_X_FRAME_OPTIONS,
    HTTP_NOSNIFF,
    HTTP_REFERRER_POLICY,
    HTTP_CORS_WILDCARD,
    HTTP_HTTPS_ENFORCED,
    HTTP_COOKIES,
    HTTP_COOKIES_SESSION_WITHOUT_SECURE,
    HTTP_COOKIES_WITHOUT_SECURE,
];

/// Columns the TLS sub-grade reads, besides `https_cert_verdict`.
const SSL_LABS_COLUMNS: &[&str] = &[
    TLS_SSL3_OFFERED,
    TLS_TLS1_0_OFFERED,
    TLS_TLS1_1_OFFERED,
    TLS_TLS1_2_OFFERED,
    TLS_TLS1_3_OFFERED,
    TLS_EXPORT_OFFERED,
    TLS_WEAK_CIPHER_COUNT,
    TLS_FORWARD_SECRECY,
    TLS_CERT_KEY_TYPE,
    TLS_CERT_KEY_BITS,
    TLS_CERT_SIGNATURE_ALGORITHM,
    TLS_CERT_DEFECTS,
];

/// Returns true when the batch has every column of the list.
pub fn has_columns(evidence: &Evidence, columns: &[&str]) -> bool {
    columns.iter().all(|name| evidence.has_column(name))
}

/// Observatory grade bands: minimum score and grade, best first.
const OBSERVATORY_BANDS: &[(i64, &str)] = &[
    (100, "A+"),
    (90, "A"),
    (85, "A-"),
    (80, "B+"),
    (70, "B"),
    (65, "B-"),
    (60, "C+"),
    (50, "C"),
    (45, "C-"),
    (40, "D+"),
    (30, "D"),
    (25, "D-"),
];

pub fn observatory_grade(score: i64) -> &'static str {
    OBSERVATORY_BANDS
        .iter()
        .find(|(min, _)| score >= *min)
        .map_or("F", |(_, grade)| grade)
}

/// Computes the HTTP score: 100 less penalties, then bonuses only when the score after
/// penalties is at least 90. Returns `None` when a needed column is missing or null.
pub fn observatory_score(evidence: &Evidence, row: &RowEvidence<'_>) -> Option<i64> {
    if !has_columns(evidence, OBSERVATORY_COLUMNS) {
        return None;
    }
    let mut penalty = 0;
    let mut bonus = 0;

    // Redirection: plain HTTP must go to HTTPS on the same host first.
    if !row.flag(HTTP_HTTPS_ENFORCED)? {
        penalty += 20;
    }
    // HSTS: six months or more passes; a longer-lived, preloaded policy earns a bonus elsewhere.
    if !hsts_valid(row)? {
        penalty += 20;
    } else if row.number(HTTP_HSTS_MAX_AGE)? < HSTS_MIN_MAX_AGE {
        penalty += 10;
    }
    // Content Security Policy.
    if !row.flag(HTTP_CSP_PRESENT)? {
        penalty += 25;
    } else if row.flag(HTTP_CSP_UNSAFE_INLINE)? {
        penalty += 20;
    } else if row.flag(HTTP_CSP_UNSAFE_EVAL)? {
        penalty += 10;
    } else {
        bonus += 5;
    }
    if !framing_protected(row)? {
        penalty += 20;
    }
    if !row.flag(HTTP_NOSNIFF)? {
        penalty += 5;
    }
    if row.flag(HTTP_CORS_WILDCARD)? {
        penalty += 50;
    }
    // Cookies: a session cookie without Secure costs most.
    if row.number(HTTP_COOKIES)? > 0 {
        if row.number(HTTP_COOKIES_SESSION_WITHOUT_SECURE)? > 0 {
            penalty += 40;
        } else if row.number(HTTP_COOKIES_WITHOUT_SECURE)? > 0 {
            penalty += 20;
        }
    }
    match row.text(HTTP_REFERRER_POLICY) {
        Some(
            "no-referrer" | "same-origin" | "strict-origin" | "strict-origin-when-cross-origin",
        ) => bonus += 5,
        Some("unsafe-url" | "no-referrer-when-downgrade") => penalty += 5,
        _ => {}
    }

    let score = 100 - penalty;
    let score = if score >= 90 { score + bonus } else { score };
    Some(score.max(0))
}

/// Computes the TLS grade: a numeric grade from protocol (30%), key (30%) and cipher (40%)
/// ratings, then the caps. Returns `None` when a needed column is missing or null.
pub fn ssl_labs_grade(evidence: &Evidence, row: &RowEvidence<'_>) -> Option<&'static str> {
    if !has_columns(evidence, SSL_LABS_COLUMNS) {
        return None;
    }
    let ssl3 = row.flag(TLS_SSL3_OFFERED)?;
    let tls10 = row.flag(TLS_TLS1_0_OFFERED)?;
    let tls11 = row.flag(TLS_TLS1_1_OFFERED)?;
    let tls12 = row.flag(TLS_TLS1_2_OFFERED)?;
    let tls13 = row.flag(TLS_TLS1_3_OFFERED)?;

    // Protocol rating: the mean of the best and the worst version accepted.
    let ratings: Vec<i64> = [
        (tls13, 100),
        (tls12, 100),
        (tls11, 95),
        (tls10, 90),
        (ssl3, 80),
    ]
    .into_iter()
    .filter_map(|(offered, rating)| offered.then_some(rating))
    .collect();
    let (Some(best), Some(worst)) = (ratings.iter().max(), ratings.iter().min()) else {
        return Some("F");
    };
    let protocol = (best + worst) / 2;

    let key_type = row.text(TLS_CERT_KEY_TYPE)?;
    let key_bits = row.number(TLS_CERT_KEY_BITS)?;
    // An elliptic-curve key of 256 bits is as strong as RSA of 3072.
    let rsa_equivalent = if key_type == "rsa" {
        key_bits
    } else {
        key_bits * 12
    };
    let key = match rsa_equivalent {
        bits if bits >= 4096 => 100,
        bits if bits >= 2048 => 90,
        bits if bits >= 1024 => 80,
        _ => 40,
    };
    let weak_ciphers = row.number(TLS_WEAK_CIPHER_COUNT)?;
    let cipher = if weak_ciphers > 0 { 80 } else { 90 };
    let numeric = (30 * protocol + 30 * key + 40 * cipher) / 100;
    let mut grade = match numeric {
        score if score >= 80 => "A",
        score if score >= 65 => "B",
        score if score >= 50 => "C",
        score if score >= 35 => "D",
        score if score >= 20 => "E",
        _ => "F",
    };

    let signature = row.text(TLS_CERT_SIGNATURE_ALGORITHM)?.to_ascii_lowercase();
    let cap = |grade: &'static str, cap: &'static str| if cap > grade { cap } else { grade };
    if row.flag(TLS_EXPORT_OFFERED)?
        || (key_type == "rsa" && key_bits < 1024)
        || signature.contains("md5")
    {
        return Some("F");
    }
    match row.text("https_cert_verdict") {
        Some("name_mismatch") => return Some("M"),
        Some("expired" | "not_yet_valid" | "self_signed" | "unknown_issuer" | "invalid") => {
            return Some("T");
        }
        _ => {}
    }
    if ssl3 || !(tls12 || tls13) {
        grade = cap(grade, "C");
    }
    if tls10
        || tls11
        || !row.flag(TLS_FORWARD_SECRECY)?
        || (key_type == "rsa" && key_bits < 2048)
        || chain_incomplete(row)?
    {
        grade = cap(grade, "B");
    }
    // A+ needs an A without any cap and HSTS of at least six months.
    if grade == "A"
        && hsts_valid(row) == Some(true)
        && row
            .number(HTTP_HSTS_MAX_AGE)
            .is_some_and(|age| age >= HSTS_MIN_MAX_AGE)
    {
        grade = "A+";
    }
    Some(grade)
}
