//! HTTPS and HTTP findings, from the `https_*` and `http_*` columns.

use crate::score::evidence::RowEvidence;
use crate::score::finding::{Assessments, Verdict};

/// A certificate that expires within this many days is reported.
const EXPIRY_WARNING_DAYS: i64 = 14;
const DAY_MS: i64 = 86_400_000;

/// Certificate verdicts of `https_cert_verdict` and the finding each one raises.
const CERT_FINDINGS: &[(&str, &str)] = &[
    ("expired", "https.cert_expired"),
    ("not_yet_valid", "https.cert_not_yet_valid"),
    ("name_mismatch", "https.cert_name_mismatch"),
    ("self_signed", "https.cert_self_signed"),
    ("unknown_issuer", "https.cert_untrusted"),
    ("invalid", "https.cert_invalid"),
];

/// Whether the domain serves HTTPS, as far as the stored outcomes tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpsState {
    /// A TLS handshake completed.
    Served,
    /// Plain HTTP responds, but port 443 rejects or resets the connection.
    NotServed,
    /// The TLS handshake failed.
    HandshakeFailed,
    /// The name has no address, or neither port accepts a connection, so there is no web
    /// site to grade.
    NoWebsite,
    Unknown,
}

/// Reads the HTTPS state from the `https_outcome` and `http_outcome` columns.
pub fn https_state(row: &RowEvidence<'_>) -> HttpsState {
    let http_ok = row.text("http_outcome") == Some("ok");
    match row.text("https_outcome") {
        Some("ok" | "http_error") => HttpsState::Served,
        Some("tls_error") => HttpsState::HandshakeFailed,
        Some("connect_refused" | "connect_error") if http_ok => HttpsState::NotServed,
        Some("connect_refused" | "connect_error") => match row.text("http_outcome") {
            Some("connect_refused" | "connect_error") => HttpsState::NoWebsite,
            _ => HttpsState::Unknown,
        },
        Some("no_address") => HttpsState::NoWebsite,
        _ => HttpsState::Unknown,
    }
}

pub fn assess_https(row: &RowEvidence<'_>, out: &mut Assessments) {
    let cert_ids: Vec<&'static str> = CERT_FINDINGS
        .iter()
        .map(|(_, id)| *id)
        .chain(["https.cert_expiring"])
        .collect();
    match https_state(row) {
        HttpsState::Served => {
            out.push("https.none", Verdict::Pass);
            out.push("https.handshake_failed", Verdict::Pass);
        }
        HttpsState::NotServed => {
            let evidence = format!(
                "https://: {}; http://: status {}",
                row.text("https_outcome").unwrap_or(""),
                row.number("http_status")
                    .map_or("?".into(), |s| s.to_string())
            );
            out.push("https.none", Verdict::Fail(evidence));
            out.push("https.handshake_failed", Verdict::NotApplicable);
            return out.not_applicable(&cert_ids);
        }
        HttpsState::HandshakeFailed => {
            out.push("https.none", Verdict::Pass);
            let error = row.text("https_error").unwrap_or("TLS handshake failed");
            out.push("https.handshake_failed", Verdict::Fail(error.to_string()));
            return out.unknown(&cert_ids);
        }
        HttpsState::NoWebsite => {
            out.not_applicable(&["https.none", "https.handshake_failed"]);
            return out.not_applicable(&cert_ids);
        }
        HttpsState::Unknown => {
            out.unknown(&["https.none", "https.handshake_failed"]);
            return out.unknown(&cert_ids);
        }
    }

    let verdict = row.text("https_cert_verdict");
    for (name, id) in CERT_FINDINGS {
        let result = match verdict {
            None => Verdict::Unknown,
            Some(verdict) if verdict == *name => {
                let error = row.text("https_cert_error").unwrap_or("");
                Verdict::Fail(format!("certificate {verdict}: {error}"))
            }
            Some(_) => Verdict::Pass,
        };
        out.push(id, result);
    }

    let expiring = match (
        verdict,
        row.timestamp_ms("https_cert_not_after"),
        row.timestamp_ms("scanned_at"),
    ) {
        (Some("trusted"), Some(not_after), Some(scanned_at)) => {
            let days = (not_after - scanned_at).div_euclid(DAY_MS);
            if days < EXPIRY_WARNING_DAYS {
                Verdict::Fail(format!("certificate expires in {days} day(s)"))
            } else {
                Verdict::Pass
            }
        }
        (Some("trusted"), _, _) => Verdict::Unknown,
        (None, _, _) => Verdict::Unknown,
        _ => Verdict::NotApplicable,
    };
    out.push("https.cert_expiring", expiring);
}

pub fn assess_http_redirect(row: &RowEvidence<'_>, out: &mut Assessments) {
    let verdict = match (https_state(row), row.text("http_outcome")) {
        // Without working HTTPS there is nowhere to redirect to, and `https.*` already counts.
        (HttpsState::NotServed | HttpsState::HandshakeFailed | HttpsState::NoWebsite, _) => {
            Verdict::NotApplicable
        }
        (HttpsState::Unknown, _) => Verdict::Unknown,
        (HttpsState::Served, Some("ok")) => match row.flag("http_redirects_to_https") {
            Some(true) => Verdict::Pass,
            Some(false) => Verdict::Fail(format!(
                "http:// answers {}{}",
                row.number("http_status")
                    .map_or("?".into(), |s| s.to_string()),
                row.text("http_location")
                    .map(|location| format!(" with Location {location}"))
                    .unwrap_or_default()
            )),
            None => Verdict::Unknown,
        },
        // Port 80 closed: plain HTTP cannot be used at all.
        (HttpsState::Served, Some("connect_refused" | "connect_error" | "no_address")) => {
            Verdict::Pass
        }
        (HttpsState::Served, _) => Verdict::Unknown,
    };
    out.push("http.no_redirect_to_https", verdict);
}
