//! The tests behind every finding, one function per area. Each function reads a row's evidence
//! columns and records one verdict per finding id it owns, so a new check's findings are one
//! more function here.

mod dns;
mod email;
pub mod headers_tls;
mod web;

use super::evidence::RowEvidence;
use super::finding::Assessments;

/// Statuses whose rows carry no evidence to grade: nothing was sent for them, or the scan
/// stopped before the checks ran.
pub const NOT_SCANNED: &[&str] = &[
    "invalid_input",
    "duplicate",
    "excluded",
    "private_address",
    "cancelled",
];

/// Runs every test on one row.
pub fn assess(row: &RowEvidence<'_>) -> Assessments {
    let mut out = Assessments::default();
    dns::assess_resolution(row, &mut out);
    dns::assess_name_servers(row, &mut out);
    dns::assess_cname(row, &mut out);
    dns::assess_caa(row, &mut out);
    dns::assess_dnssec(row, &mut out);
    email::assess_spf(row, &mut out);
    email::assess_dmarc(row, &mut out);
    web::assess_https(row, &mut out);
    web::assess_http_redirect(row, &mut out);
    headers_tls::assess_tls_protocols(row, &mut out);
    headers_tls::assess_hsts_and_csp(row, &mut out);
    headers_tls::assess_cookies(row, &mut out);
    headers_tls::assess_disclosure(row, &mut out);
    out
}
