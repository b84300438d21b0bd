//! DMARC policy records (RFC 7489, with the tags that RFC 9989 adds): strict parsing, the
//! policy that applies to a scanned name, report destinations outside the domain, and
//! policy discovery in [`discover`].
//!
//! Glossary: the *organizational domain* is the registrable domain of a name by the Public
//! Suffix List (RFC 7489 section 3.2). A *PSD* is a public suffix domain that publishes a
//! policy with `psd=y` (RFC 9989).
//!
//! Parsing follows RFC 7489 section 6.6.3 step 6 where receivers would: a record whose `p`
//! is missing or invalid, or whose `sp` is invalid, is applied as `p=none` when its `rua`
//! has at least one valid URI. Other invalid values fall back to their defaults (RFC 7489
//! section 6.3) and are reported as errors.

pub mod discover;
pub mod policy;

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod tests;

use std::collections::HashSet;

use serde::Serialize;

use super::issue::{Issue, Tag, is_host_name, is_wsp, split_tags};

pub use discover::{Discovery, DiscoveryStatus, DmarcDns, MethodResult, discover};
pub use policy::{EffectivePolicy, ReportDestination, effective_policy, report_destinations};

/// The only version, case-sensitive (RFC 7489 section 6.4).
pub const VERSION: &str = "DMARC1";

/// The errors a DMARC record can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DmarcError {
    /// The first tag is not `v`, so the text is not a DMARC record.
    MissingVersion,
    /// `v` is not exactly `DMARC1`.
    InvalidVersion,
    /// A part between semicolons is empty or not `name=value`.
    MalformedTag,
    DuplicateTag,
    /// `p` is not the second tag (RFC 7489 section 6.4). RFC 9989 drops the rule.
    PolicyNotAfterVersion,
    /// No `p` and no valid `rua`, so receivers apply no DMARC processing.
    MissingPolicy,
    /// A tag value outside its grammar. The tag falls back to its default.
    InvalidValue,
    /// A `rua` or `ruf` URI that is not a valid URI or `mailto:` address.
    InvalidReportUri,
}

/// The warnings a valid DMARC record can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DmarcWarning {
    /// A tag that neither RFC 7489 nor RFC 9989 defines, which receivers ignore.
    UnknownTag,
    /// No `p`, but a valid `rua`: receivers apply `p=none` (RFC 7489 section 6.6.3).
    PolicyDefaultedToNone,
    /// `pct` below 100: the policy covers only part of the failing mail.
    PartialPercentage,
    /// `t=y`: receivers apply one policy level lower (RFC 9989).
    TestingMode,
    /// An `rf` format other than `afrf`.
    UnknownReportFormat,
    /// A report URI whose scheme is not `mailto`, which reporters do not use.
    UnsupportedUriScheme,
}

/// A requested receiver policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Policy {
    None,
    Quarantine,
    Reject,
}

/// Identifier alignment mode (`adkim`, `aspf`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Alignment {
    Relaxed,
    Strict,
}

/// The `psd` tag of RFC 9989: whether the record is a public suffix domain's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PublicSuffixFlag {
    Yes,
    No,
    Unknown,
}

/// One `rua` or `ruf` destination.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportUri {
    /// The URI without its `!size` suffix.
    pub uri: String,
    /// The maximum report size in bytes from the `!size` suffix (units are powers of two,
    /// RFC 7489 section 6.4). RFC 9989 requires reporters to ignore it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_size: Option<u64>,
}

impl ReportUri {
    /// Returns the domain of a `mailto:` address in lower case, or `None` for other schemes.
    pub fn mailto_domain(&self) -> Option<String> {
        let address = strip_scheme(&self.uri, "mailto")?;
        let address = address.split('?').next().unwrap_or(address);
        let (_, domain) = address.rsplit_once('@')?;
        Some(domain.trim_end_matches('.').to_ascii_lowercase())
    }
}

/// A parsed DMARC record, with defaults applied to the tags that were absent or invalid.
/// Field names in JSON are the tag names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DmarcRecord {
    /// Whether receivers would apply this record: false when the version is wrong, or when
    /// no usable policy and no valid `rua` remain.
    pub usable: bool,
    /// True when RFC 7489 section 6.6.3 step 6 turned the record into `p=none`.
    pub fallback_to_none: bool,
    #[serde(rename = "p")]
    pub policy: Policy,
    /// Defaults to `p`.
    #[serde(rename = "sp")]
    pub subdomain_policy: Policy,
    /// The policy for non-existent subdomains (RFC 9989), which defaults to `sp`.
    #[serde(rename = "np")]
    pub nonexistent_policy: Policy,
    /// Defaults to 100. RFC 9989 removes the tag.
    #[serde(rename = "pct")]
    pub percent: u8,
    #[serde(rename = "adkim")]
    pub dkim_alignment: Alignment,
    #[serde(rename = "aspf")]
    pub spf_alignment: Alignment,
    #[serde(rename = "rua")]
    pub aggregate_reports: Vec<ReportUri>,
    #[serde(rename = "ruf")]
    pub failure_reports: Vec<ReportUri>,
    /// Failure reporting options (`0`, `1`, `d`, `s`), by default `0`.
    #[serde(rename = "fo")]
    pub failure_options: Vec<String>,
    /// Failure report formats, by default `afrf`.
    #[serde(rename = "rf")]
    pub report_formats: Vec<String>,
    /// Seconds between aggregate reports, by default 86400.
    #[serde(rename = "ri")]
    pub report_interval: u32,
    /// `t=y` (RFC 9989).
    #[serde(rename = "t")]
    pub testing: bool,
    #[serde(rename = "psd")]
    pub public_suffix: PublicSuffixFlag,
    /// Names of the tags given with a valid value, in lower case and record order.
    pub explicit: Vec<&'static str>,
    pub unknown_tags: Vec<String>,
    pub errors: Vec<Issue<DmarcError>>,
    pub warnings: Vec<Issue<DmarcWarning>>,
}

impl DmarcRecord {
    pub fn is_valid(&self) -> bool {
        self.errors.is_empty()
    }

    pub fn is_explicit(&self, tag: &str) -> bool {
        self.explicit.contains(&tag)
    }

    fn empty() -> Self {
        Self {
            usable: false,
            fallback_to_none: false,
            policy: Policy::None,
            subdomain_policy: Policy::None,
            nonexistent_policy: Policy::None,
            percent: 100,
            dkim_alignment: Alignment::Relaxed,
            spf_alignment: Alignment::Relaxed,
            aggregate_reports: Vec::new(),
            failure_reports: Vec::new(),
            failure_options: vec!["0".to_string()],
            report_formats: vec!["afrf".to_string()],
            report_interval: 86_400,
            testing: false,
            public_suffix: PublicSuffixFlag::Unknown,
            explicit: Vec::new(),
            unknown_tags: Vec::new(),
            errors: Vec::new(),
            warnings: Vec::new(),
        }
    }

    fn error(&mut self, kind: DmarcError, message: impl Into<String>) {
        self.errors.push(Issue::new(kind, message));
    }

    fn warn(&mut self, kind: DmarcWarning, message: impl Into<String>) {
        self.warnings.push(Issue::new(kind, message));
    }
}

/// True when a TXT record is a DMARC record for discovery: its first tag is `v=DMARC1`
/// (RFC 7489 section 6.6.3 step 3). Other TXT records at `_dmarc` names are discarded.
pub fn is_dmarc_record(text: &str) -> bool {
    let first = text.split(';').next().unwrap_or("");
    match first.split_once('=') {
        Some((name, value)) => {
            name.trim_matches(is_wsp).eq_ignore_ascii_case("v")
                && value.trim_matches(is_wsp) == VERSION
        }
        None => false,
    }
}

/// Parses one DMARC record, the strings of its TXT record already joined.
pub fn parse(text: &str) -> DmarcRecord {
    let mut record = DmarcRecord::empty();
    let (tags, syntax_errors) = split_tags(text, is_wsp);
    for error in &syntax_errors {
        record.error(DmarcError::MalformedTag, error.message());
    }

    // 1. The version: `v` first, exactly `DMARC1` (RFC 7489 section 6.4).
    let Some(first) = tags
        .first()
        .filter(|tag| tag.name.eq_ignore_ascii_case("v"))
    else {
        record.error(
            DmarcError::MissingVersion,
            "the record does not start with v=DMARC1",
        );
        return record;
    };
    if first.value != VERSION {
        record.error(
            DmarcError::InvalidVersion,
            format!(
                "v={} is not v=DMARC1 (the value is case-sensitive)",
                first.value
            ),
        );
        return record;
    }
    record.explicit.push("v");

    // 2. The other tags, each once.
    let mut seen: HashSet<String> = HashSet::from(["v".to_string()]);
    let mut policy_state = PolicyState::default();
    for (index, tag) in tags.iter().enumerate().skip(1) {
        let name = tag.name.to_ascii_lowercase();
        if !seen.insert(name.clone()) {
            record.error(
                DmarcError::DuplicateTag,
                format!("the {name}= tag appears more than once; the first is used"),
            );
            continue;
        }
        apply_tag(&mut record, &mut policy_state, &name, tag, index);
    }

    // 3. Defaults that depend on other tags, then RFC 7489 section 6.6.3 step 6.
    if !record.is_explicit("sp") {
        record.subdomain_policy = record.policy;
    }
    if !record.is_explicit("np") {
        record.nonexistent_policy = record.subdomain_policy;
    }
    apply_policy_fallback(&mut record, &policy_state);
    record
}

/// The state of `p` and `sp` after parsing, for the fallback of RFC 7489 section 6.6.3.
#[derive(Debug, Default)]
struct PolicyState {
    policy_seen: bool,
    policy_invalid: bool,
    subdomain_policy_invalid: bool,
}

fn apply_tag(
    record: &mut DmarcRecord,
    state: &mut PolicyState,
    name: &str,
    tag: &Tag<'_>,
    index: usize,
) {
    let value = tag.value;
    let tag_name: &'static str = match name {
        "p" => {
            state.policy_seen = true;
            if index != 1 {
                record.error(
                    DmarcError::PolicyNotAfterVersion,
                    "p= must directly follow v=DMARC1 (RFC 7489 section 6.4)",
                );
            }
            match parse_policy(value) {
                Some(policy) => record.policy = policy,
                None => {
                    state.policy_invalid = true;
                    return invalid(record, name, value, "none, quarantine or reject");
                }
            }
            "p"
        }
        "sp" | "np" => {
            let Some(policy) = parse_policy(value) else {
                state.subdomain_policy_invalid |= name == "sp";
                return invalid(record, name, value, "none, quarantine or reject");
            };
            if name == "sp" {
                record.subdomain_policy = policy;
                "sp"
            } else {
                record.nonexistent_policy = policy;
                "np"
            }
        }
        "pct" => match parse_number(value).filter(|percent| *percent <= 100) {
            Some(percent) => {
                record.percent = percent as u8;
                if percent < 100 {
                    record.warn(
                        DmarcWarning::PartialPercentage,
                        format!("pct={percent}: the policy applies to {percent}% of failing mail"),
                    );
                }
                "pct"
            }
            None => return invalid(record, name, value, "a whole number from 0 to 100"),
        },
        "adkim" | "aspf" => {
            let alignment = match value.to_ascii_lowercase().as_str() {
                "r" => Alignment::Relaxed,
                "s" => Alignment::Strict,
                _ => return invalid(record, name, value, "r or s"),
            };
            if name == "adkim" {
                record.dkim_alignment = alignment;
                "adkim"
            } else {
                record.spf_alignment = alignment;
                "aspf"
            }
        }
        "rua" | "ruf" => {
            let uris = parse_report_uris(record, name, value);
            if uris.is_empty() {
                return;
            }
            if name == "rua" {
                record.aggregate_reports = uris;
                "rua"
            } else {
                record.failure_reports = uris;
                "ruf"
            }
        }
        "fo" => match parse_list(value, ':', |option| ["0", "1", "d", "s"].contains(&option)) {
            Some(options) => {
                record.failure_options = options;
                "fo"
            }
            None => return invalid(record, name, value, "0, 1, d or s, separated by ':'"),
        },
        "rf" => match parse_list(value, ':', is_keyword) {
            Some(formats) => {
                for format in formats.iter().filter(|format| *format != "afrf") {
                    record.warn(
                        DmarcWarning::UnknownReportFormat,
                        format!("rf={format} is not a registered report format"),
                    );
                }
                record.report_formats = formats;
                "rf"
            }
            None => return invalid(record, name, value, "report format names separated by ':'"),
        },
        "ri" => match parse_number(value).and_then(|seconds| u32::try_from(seconds).ok()) {
            Some(seconds) => {
                record.report_interval = seconds;
                "ri"
            }
            None => return invalid(record, name, value, "a number of seconds below 2^32"),
        },
        "t" => match value.to_ascii_lowercase().as_str() {
            "y" => {
                record.testing = true;
                record.warn(
                    DmarcWarning::TestingMode,
                    "t=y: receivers apply the policy one level lower",
                );
                "t"
            }
            "n" => "t",
            _ => return invalid(record, name, value, "y or n"),
        },
        "psd" => {
            record.public_suffix = match value.to_ascii_lowercase().as_str() {
                "y" => PublicSuffixFlag::Yes,
                "n" => PublicSuffixFlag::No,
                "u" => PublicSuffixFlag::Unknown,
                _ => return invalid(record, name, value, "y, n or u"),
            };
            "psd"
        }
        _ => {
            record.unknown_tags.push(tag.name.to_string());
            record.warn(
                DmarcWarning::UnknownTag,
                format!("unknown tag {}= is ignored", tag.name),
            );
            return;
        }
    };
    record.explicit.push(tag_name);
}

fn invalid(record: &mut DmarcRecord, name: &str, value: &str, expected: &str) {
    record.error(
        DmarcError::InvalidValue,
        format!("invalid value {name}={value:?}: expected {expected}; the default applies"),
    );
}

/// Applies RFC 7489 section 6.6.3 step 6. Without a valid `p`, or with an invalid `sp`, a
/// record whose `rua` has a valid URI is applied as `p=none`. Without such a URI, receivers
/// ignore the record.
fn apply_policy_fallback(record: &mut DmarcRecord, state: &PolicyState) {
    let needs_fallback =
        !state.policy_seen || state.policy_invalid || state.subdomain_policy_invalid;
    if !needs_fallback {
        record.usable = true;
        return;
    }
    if record.aggregate_reports.is_empty() {
        if !state.policy_seen {
            record.error(
                DmarcError::MissingPolicy,
                "the record has no p= tag and no valid rua= URI, so receivers ignore it",
            );
        }
        record.usable = false;
        return;
    }
    if !state.policy_seen {
        record.warn(
            DmarcWarning::PolicyDefaultedToNone,
            "the record has no p= tag; receivers apply p=none because rua= is valid",
        );
    }
    record.usable = true;
    record.fallback_to_none = true;
    record.policy = Policy::None;
    record.subdomain_policy = Policy::None;
    record.nonexistent_policy = Policy::None;
}

fn parse_policy(value: &str) -> Option<Policy> {
    match value.to_ascii_lowercase().as_str() {
        "none" => Some(Policy::None),
        "quarantine" => Some(Policy::Quarantine),
        "reject" => Some(Policy::Reject),
        _ => None,
    }
}

/// Parses `1*DIGIT` into a number; `None` for anything else or past `u64`.
fn parse_number(value: &str) -> Option<u64> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}

/// Splits a list at `separator`, trims whitespace around items and lowercases them.
/// `None` when the list is empty or an item fails `is_valid`.
fn parse_list(value: &str, separator: char, is_valid: fn(&str) -> bool) -> Option<Vec<String>> {
    let items: Vec<String> = value
        .split(separator)
        .map(|item| item.trim_matches(is_wsp).to_ascii_lowercase())
        .collect();
    items.iter().all(|item| is_valid(item)).then_some(items)
}

/// RFC 5321 Keyword as RFC 7489 uses it for `rf`: a letter, then letters, digits and
/// hyphens, not ending in a hyphen.
fn is_keyword(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.first().is_some_and(u8::is_ascii_alphabetic)
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
        && !text.ends_with('-')
}

/// Parses the comma-separated URIs of `rua` or `ruf`. Invalid URIs are reported and left
/// out, so the result contains only the valid ones.
fn parse_report_uris(record: &mut DmarcRecord, tag: &str, value: &str) -> Vec<ReportUri> {
    let mut uris = Vec::new();
    for item in value.split(',').map(|item| item.trim_matches(is_wsp)) {
        match parse_report_uri(item) {
            Ok(uri) => {
                if uri.mailto_domain().is_none() {
                    record.warn(
                        DmarcWarning::UnsupportedUriScheme,
                        format!("{tag}={item}: reporters send reports only to mailto: URIs"),
                    );
                }
                uris.push(uri);
            }
            Err(reason) => record.error(
                DmarcError::InvalidReportUri,
                format!("invalid {tag} URI {item:?}: {reason}"),
            ),
        }
    }
    uris
}

/// Parses `URI [ "!" 1*DIGIT [ "k" / "m" / "g" / "t" ] ]` (RFC 7489 section 6.4).
fn parse_report_uri(item: &str) -> Result<ReportUri, &'static str> {
    let (uri, max_size) = match item.split_once('!') {
        Some((uri, size)) => (uri, Some(parse_size(size)?)),
        None => (item, None),
    };
    let scheme_end = uri
        .find(':')
        .ok_or("expected a URI such as mailto:address")?;
    let scheme = &uri[..scheme_end];
    let is_scheme = scheme
        .as_bytes()
        .first()
        .is_some_and(u8::is_ascii_alphabetic)
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b));
    if !is_scheme {
        return Err("expected a URI scheme such as mailto:");
    }
    if uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("a URI cannot contain whitespace");
    }
    if let Some(address) = strip_scheme(uri, "mailto") {
        let address = address.split('?').next().unwrap_or(address);
        let valid = address
            .rsplit_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && is_host_name(domain));
        if !valid {
            return Err("expected mailto:local-part@domain");
        }
    } else if uri.len() == scheme_end + 1 {
        return Err("the URI has nothing after its scheme");
    }
    Ok(ReportUri {
        uri: uri.to_string(),
        max_size,
    })
}

/// Parses the size after `!` into bytes.
fn parse_size(size: &str) -> Result<u64, &'static str> {
    let digits_end = size
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(size.len());
    let (digits, unit) = size.split_at(digits_end);
    let number = parse_number(digits).ok_or("expected a size after '!', such as 10m")?;
    let shift = match unit.to_ascii_lowercase().as_str() {
        "" => 0,
        "k" => 10,
        "m" => 20,
        "g" => 30,
        "t" => 40,
        _ => return Err("the size unit must be k, m, g or t"),
    };
    number
        .checked_mul(1u64 << shift)
        .ok_or("the size does not fit in 64 bits")
}

/// Returns what follows `scheme:` when the URI has that scheme, in any case.
fn strip_scheme<'a>(uri: &'a str, scheme: &str) -> Option<&'a str> {
    let (found, rest) = uri.split_once(':')?;
    found.eq_ignore_ascii_case(scheme).then_some(rest)
}
