//! Findings: the catalogue of every finding id, and the verdict of one test on one row.

use serde::{Deserialize, Serialize};

/// Severity of a finding. The rubric maps each severity to a penalty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// The area a finding belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Tls,
    Http,
    Cookies,
    Disclosure,
    Email,
    Dns,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Tls => "tls",
            Category::Http => "http",
            Category::Cookies => "cookies",
            Category::Disclosure => "disclosure",
            Category::Email => "email",
            Category::Dns => "dns",
        }
    }
}

/// One entry of the catalogue: a test that a row can fail.
#[derive(Debug, Clone, Copy)]
pub struct FindingKind {
    /// Stable id, `area.problem`. Ids are never reused for another meaning.
    pub id: &'static str,
    pub category: Category,
    /// Severity unless the rubric overrides it.
    pub severity: Severity,
}

const fn kind(id: &'static str, category: Category, severity: Severity) -> FindingKind {
    FindingKind {
        id,
        category,
        severity,
    }
}

use Category::{Cookies, Disclosure, Dns, Email, Http, Tls};
use Severity::{Critical, High, Info, Low, Medium};

/// Every finding posture emits. `docs/findings.md` describes each one; a test keeps the two in
/// step.
pub const CATALOGUE: &[FindingKind] = &[
    kind("dns.servfail", Dns, Medium),
    kind("dns.single_ns_host", Dns, Medium),
    kind("dns.single_ns_network", Dns, Low),
    kind("dns.no_ipv6_ns", Dns, Info),
    kind("dns.cname_dangling", Dns, Critical),
    kind("dns.www_cname_dangling", Dns, Critical),
    kind("dns.no_caa", Dns, Info),
    kind("dnssec.bogus", Dns, Critical),
    kind("dnssec.unsigned", Dns, Low),
    kind("dnssec.deprecated_algorithm", Dns, Medium),
    kind("dnssec.deprecated_digest", Dns, Low),
    kind("dnssec.nsec3_iterations", Dns, Low),
    kind("spf.missing", Email, Medium),
    kind("spf.pass_all", Email, Critical),
    kind("spf.invalid", Email, Medium),
    kind("spf.too_many_lookups", Email, Medium),
    kind("spf.neutral", Email, Low),
    kind("spf.softfail", Email, Info),
    kind("spf.ptr", Email, Info),
    kind("dmarc.missing", Email, High),
    kind("dmarc.multiple_records", Email, High),
    kind("dmarc.invalid", Email, Medium),
    kind("dmarc.policy_none", Email, Medium),
    kind("dmarc.pct_partial", Email, Low),
    kind("dmarc.reports_unauthorised", Email, Low),
    kind("dmarc.record_at_apex", Email, Info),
    kind("https.none", Tls, Critical),
    kind("https.handshake_failed", Tls, Critical),
    kind("https.cert_expired", Tls, Critical),
    kind("https.cert_not_yet_valid", Tls, Critical),
    kind("https.cert_name_mismatch", Tls, Critical),
    kind("https.cert_self_signed", Tls, Critical),
    kind("https.cert_untrusted", Tls, Critical),
    kind("https.cert_invalid", Tls, Critical),
    kind("https.cert_expiring", Tls, Low),
    kind("http.no_redirect_to_https", Http, High),
    kind("tls.ssl3", Tls, Critical),
    kind("tls.legacy_protocol", Tls, Medium),
    kind("tls.weak_cipher", Tls, Medium),
    kind("tls.no_forward_secrecy", Tls, Medium),
    kind("http.no_hsts", Http, Medium),
    kind("http.hsts_short", Http, Low),
    kind("http.no_csp", Http, Low),
    kind("cookies.session_insecure", Cookies, High),
    kind("cookies.no_httponly", Cookies, Low),
    kind("disclosure.eol_version", Disclosure, Medium),
    kind("disclosure.version", Disclosure, Info),
];

/// Returns the catalogue entry of an id.
pub fn lookup(id: &str) -> Option<&'static FindingKind> {
    CATALOGUE.iter().find(|kind| kind.id == id)
}

/// The result of one test on one row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    /// Failed; the text is the evidence: the record, header or fact behind the finding.
    Fail(String),
    /// The evidence the test needs is missing, or its query failed.
    Unknown,
    /// The test does not apply, such as the DMARC percentage of a domain without DMARC.
    NotApplicable,
}

/// A test's id with its verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assessment {
    pub id: &'static str,
    pub verdict: Verdict,
}

/// Collects the assessments of one row.
#[derive(Debug, Default)]
pub struct Assessments(pub Vec<Assessment>);

impl Assessments {
    pub fn push(&mut self, id: &'static str, verdict: Verdict) {
        debug_assert!(lookup(id).is_some(), "{id} is missing from the catalogue");
        self.0.push(Assessment { id, verdict });
    }

    /// Records a test that fails when `failed` is true, with the evidence text built lazily.
    pub fn test(
        &mut self,
        id: &'static str,
        failed: Option<bool>,
        evidence: impl FnOnce() -> String,
    ) {
        let verdict = match failed {
            None => Verdict::Unknown,
            Some(true) => Verdict::Fail(evidence()),
            Some(false) => Verdict::Pass,
        };
        self.push(id, verdict);
    }

    pub fn unknown(&mut self, ids: &[&'static str]) {
        for id in ids {
            self.push(id, Verdict::Unknown);
        }
    }

    pub fn not_applicable(&mut self, ids: &[&'static str]) {
        for id in ids {
            self.push(id, Verdict::NotApplicable);
        }
    }
}
