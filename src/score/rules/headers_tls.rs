//! Findings from the `tls` check's columns and the HTTP header columns of the `web` check.
//! The sub-scores in `score::subscores` read the same columns through the names below. Rows of
//! a scan without those checks (`--checks`) read as unknown.

use crate::score::evidence::RowEvidence;
use crate::score::finding::{Assessments, Verdict};

/// TLS columns: one flag per protocol version accepted by any probed address.
pub const TLS_SSL3_OFFERED: &str = "tls_ssl3_offered";
pub const TLS_TLS1_0_OFFERED: &str = "tls_tls1_0_offered";
pub const TLS_TLS1_1_OFFERED: &str = "tls_tls1_1_offered";
pub const TLS_TLS1_2_OFFERED: &str = "tls_tls1_2_offered";
pub const TLS_TLS1_3_OFFERED: &str = "tls_tls1_3_offered";
/// uint32: suites offered that are RC4, 3DES, export, NULL or anonymous.
pub const TLS_WEAK_CIPHER_COUNT: &str = "tls_weak_cipher_count";
/// bool: an export suite is offered.
pub const TLS_EXPORT_OFFERED: &str = "tls_export_offered";
/// bool: every suite the server prefers with TLS 1.2 and later has forward secrecy.
pub const TLS_FORWARD_SECRECY: &str = "tls_forward_secrecy";
/// utf8 (`rsa`, `ec`, `dsa`, `ed25519`, `ed448`) and uint32: the leaf certificate's key.
pub const TLS_CERT_KEY_TYPE: &str = "tls_cert_key_type";
pub const TLS_CERT_KEY_BITS: &str = "tls_cert_key_bits";
/// utf8: the leaf's signature algorithm, such as `sha256WithRSAEncryption`.
pub const TLS_CERT_SIGNATURE_ALGORITHM: &str = "tls_cert_signature_algorithm";
/// list<utf8>: every defect of the worst chain, `incomplete_chain` among them when the server
/// omits an intermediate certificate ([`chain_incomplete`]).
pub const TLS_CERT_DEFECTS: &str = "tls_cert_defects";

/// HTTP columns, from the graded response (see docs/schema.md).
/// uint64: max-age of the first valid Strict-Transport-Security header; null without one.
pub const HTTP_HSTS_MAX_AGE: &str = "hsts_max_age";
/// uint8: STS headers on the first trusted HTTPS response, 0 without one, and null when HSTS
/// was not read. bool: the first of them parses strictly, null without a header. Together
/// they give [`hsts_valid`].
pub const HTTP_HSTS_COUNT: &str = "hsts_header_count";
pub const HTTP_HSTS_VALID: &str = "hsts_valid";
pub const HTTP_CSP_PRESENT: &str = "csp_present";
pub const HTTP_CSP_UNSAFE_INLINE: &str = "csp_unsafe_inline";
pub const HTTP_CSP_UNSAFE_EVAL: &str = "csp_unsafe_eval";
/// bool: an enforced CSP has `frame-ancestors` (null without an enforced policy); utf8: the
/// raw X-Frame-Options value. Together they give [`framing_protected`].
pub const HTTP_CSP_FRAME_ANCESTORS: &str = "csp_frame_ancestors";
pub const HTTP_X_FRAME_OPTIONS: &str = "x_frame_options";
/// bool: `X-Content-Type-Options: nosniff`.
pub const HTTP_NOSNIFF: &str = "x_content_type_options_nosniff";
/// utf8: the Referrer-Policy value.
pub const HTTP_REFERRER_POLICY: &str = "referrer_policy";
/// bool: `Access-Control-Allow-Origin: *`.
pub const HTTP_CORS_WILDCARD: &str = "cors_allow_origin_any";
/// bool: plain HTTP redirects to HTTPS on the same host before going anywhere else.
pub const HTTP_HTTPS_ENFORCED: &str = "https_enforced";
/// uint16 counts over every cookie set at every hop. posture counts session-like cookies
/// lacking Secure *or* HttpOnly in one column. The Observatory penalises the two apart (40 and
/// 30 points), so the HTTP sub-score charges the larger penalty for either.
pub const HTTP_COOKIES: &str = "cookie_count";
pub const HTTP_COOKIES_SESSION_WITHOUT_SECURE: &str = "session_cookies_without_flag";
pub const HTTP_COOKIES_WITHOUT_SECURE: &str = "cookies_without_secure";
pub const HTTP_COOKIES_WITHOUT_HTTPONLY: &str = "cookies_without_httponly";
/// bool: some product was disclosed with its version; list<utf8>: the products, such as
/// `nginx/1.18.0`; bool: a disclosed version is past its end of life.
pub const HTTP_DISCLOSURE_VERSION: &str = "disclosure_version";
pub const HTTP_DISCLOSURE_PRODUCTS: &str = "disclosure_products";
pub const HTTP_SERVER_EOL: &str = "disclosure_eol";

/// Every column above, for tests.
pub const EXPECTED_COLUMNS: &[&str] = &[
    TLS_SSL3_OFFERED,
    TLS_TLS1_0_OFFERED,
    TLS_TLS1_1_OFFERED,
    TLS_TLS1_2_OFFERED,
    TLS_TLS1_3_OFFERED,
    TLS_WEAK_CIPHER_COUNT,
    TLS_EXPORT_OFFERED,
    TLS_FORWARD_SECRECY,
    TLS_CERT_KEY_TYPE,
    TLS_CERT_KEY_BITS,
    TLS_CERT_SIGNATURE_ALGORITHM,
    TLS_CERT_DEFECTS,
    HTTP_HSTS_MAX_AGE,
    HTTP_HSTS_COUNT,
    HTTP_HSTS_VALID,
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
    HTTP_COOKIES_WITHOUT_HTTPONLY,
    HTTP_DISCLOSURE_VERSION,
    HTTP_DISCLOSURE_PRODUCTS,
    HTTP_SERVER_EOL,
];

/// Six months: the shortest HSTS max-age that the Observatory and the preload list accept.
pub const HSTS_MIN_MAX_AGE: i64 = 15_552_000;

/// Returns whether the site sends a valid HSTS policy: false when the first trusted HTTPS
/// response has no header or an invalid one (browsers ignore it), `None` when HSTS was not
/// read (no such response).
pub fn hsts_valid(row: &RowEvidence<'_>) -> Option<bool> {
    match row.number(HTTP_HSTS_COUNT)? {
        0 => Some(false),
        _ => row.flag(HTTP_HSTS_VALID),
    }
}

/// Returns whether the worst chain lacks an intermediate the server should have sent; `None`
/// when no chain was judged.
pub fn chain_incomplete(row: &RowEvidence<'_>) -> Option<bool> {
    row.texts(TLS_CERT_DEFECTS)
        .map(|defects| defects.contains(&"incomplete_chain"))
}

/// Returns whether the graded response forbids framing by other origins: an enforced CSP with
/// `frame-ancestors`, or X-Frame-Options `DENY` or `SAMEORIGIN`. `None` when no response was
/// graded (`csp_present` is null then).
pub fn framing_protected(row: &RowEvidence<'_>) -> Option<bool> {
    row.flag(HTTP_CSP_PRESENT)?;
    let frame_ancestors = row.flag(HTTP_CSP_FRAME_ANCESTORS) == Some(true);
    let x_frame_options = row.text(HTTP_X_FRAME_OPTIONS).is_some_and(|value| {
        let value = value.trim();
        value.eq_ignore_ascii_case("deny") || value.eq_ignore_ascii_case("sameorigin")
    });
    Some(frame_ancestors || x_frame_options)
}

pub fn assess_tls_protocols(row: &RowEvidence<'_>, out: &mut Assessments) {
    out.test("tls.ssl3", row.flag(TLS_SSL3_OFFERED), || {
        "SSL 3.0 accepted".to_string()
    });
    let legacy = match (row.flag(TLS_TLS1_0_OFFERED), row.flag(TLS_TLS1_1_OFFERED)) {
        (Some(tls10), Some(tls11)) => Some((tls10, tls11)),
        _ => None,
    };
    out.test(
        "tls.legacy_protocol",
        legacy.map(|(tls10, tls11)| tls10 || tls11),
        || {
            let (tls10, tls11) = legacy.unwrap_or_default();
            let versions: Vec<&str> = [(tls10, "TLS 1.0"), (tls11, "TLS 1.1")]
                .into_iter()
                .filter_map(|(offered, name)| offered.then_some(name))
                .collect();
            format!("{} accepted", versions.join(" and "))
        },
    );
    let weak = row.number(TLS_WEAK_CIPHER_COUNT);
    out.test("tls.weak_cipher", weak.map(|count| count > 0), || {
        format!("{} weak cipher suite(s) offered", weak.unwrap_or(0))
    });
    out.test(
        "tls.no_forward_secrecy",
        row.flag(TLS_FORWARD_SECRECY).map(|fs| !fs),
        || "preferred suites lack forward secrecy".to_string(),
    );
}

pub fn assess_hsts_and_csp(row: &RowEvidence<'_>, out: &mut Assessments) {
    match hsts_valid(row) {
        None => out.unknown(&["http.no_hsts", "http.hsts_short"]),
        Some(false) => {
            let evidence = match row.text("hsts_header") {
                Some(header) => format!("invalid Strict-Transport-Security header: {header}"),
                None => "no Strict-Transport-Security header".to_string(),
            };
            out.push("http.no_hsts", Verdict::Fail(evidence));
            out.push("http.hsts_short", Verdict::NotApplicable);
        }
        Some(true) => {
            out.push("http.no_hsts", Verdict::Pass);
            let max_age = row.number(HTTP_HSTS_MAX_AGE);
            out.test(
                "http.hsts_short",
                max_age.map(|age| age < HSTS_MIN_MAX_AGE),
                || {
                    format!(
                        "max-age={} (below {HSTS_MIN_MAX_AGE})",
                        max_age.unwrap_or(0)
                    )
                },
            );
        }
    }
    out.test(
        "http.no_csp",
        row.flag(HTTP_CSP_PRESENT).map(|present| !present),
        || "no Content-Security-Policy header".to_string(),
    );
}

pub fn assess_cookies(row: &RowEvidence<'_>, out: &mut Assessments) {
    let session = row.number(HTTP_COOKIES_SESSION_WITHOUT_SECURE);
    out.test("cookies.session_insecure", session.map(|n| n > 0), || {
        format!("{} session cookie(s) without Secure", session.unwrap_or(0))
    });
    let no_httponly = row.number(HTTP_COOKIES_WITHOUT_HTTPONLY);
    out.test("cookies.no_httponly", no_httponly.map(|n| n > 0), || {
        format!("{} cookie(s) without HttpOnly", no_httponly.unwrap_or(0))
    });
}

pub fn assess_disclosure(row: &RowEvidence<'_>, out: &mut Assessments) {
    let versioned = || {
        row.texts(HTTP_DISCLOSURE_PRODUCTS)
            .unwrap_or_default()
            .into_iter()
            .filter(|product| product.contains('/'))
            .collect::<Vec<_>>()
            .join(", ")
    };
    out.test("disclosure.eol_version", row.flag(HTTP_SERVER_EOL), || {
        format!("end-of-life version disclosed: {}", versioned())
    });
    out.test(
        "disclosure.version",
        row.flag(HTTP_DISCLOSURE_VERSION),
        || format!("version disclosed: {}", versioned()),
    );
}
