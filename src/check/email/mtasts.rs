//! MTA-STS (RFC 8461): the `_mta-sts` TXT record, the policy file served at
//! `https://mta-sts.<domain>/.well-known/mta-sts.txt`, and whether a policy's MX patterns
//! cover a domain's MX hosts.
//!
//! Left out: fetching the policy file, which needs HTTPS with a valid certificate.

use std::collections::HashSet;

use serde::Serialize;

use super::issue::{Issue, is_host_name, is_wsp, split_tags};

/// The only version of the TXT record and of the policy file, case-sensitive.
pub const VERSION: &str = "STSv1";
/// The maximum `max_age`: one year in seconds (RFC 8461 section 3.2).
pub const MAX_MAX_AGE: u32 = 31_557_600;
/// A `max_age` below one day draws a warning. This threshold is posture's choice: RFC 8461
/// section 3.2 recommends weeks, and a short age lets an attacker wait out the policy.
pub const SHORT_MAX_AGE: u32 = 86_400;

/// The errors an `_mta-sts` TXT record can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordError {
    /// The first tag is not `v`.
    MissingVersion,
    /// `v` is not exactly `STSv1`.
    InvalidVersion,
    MalformedTag,
    DuplicateTag,
    MissingId,
    /// `id` is not 1 to 32 letters and digits.
    InvalidId,
}

/// A parsed `_mta-sts` TXT record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MtaStsRecord {
    /// The policy id, which changes whenever the policy file changes.
    pub id: Option<String>,
    /// Tags other than `v` and `id`, which RFC 8461 allows as extensions.
    pub extensions: Vec<String>,
    pub errors: Vec<Issue<RecordError>>,
}

impl MtaStsRecord {
    pub fn is_valid(&self) -> bool {
        self.errors.is_empty()
    }
}

/// Parses an `_mta-sts` TXT record (RFC 8461 section 3.1). Tag names and values are
/// case-sensitive.
pub fn parse_record(text: &str) -> MtaStsRecord {
    let mut record = MtaStsRecord {
        id: None,
        extensions: Vec::new(),
        errors: Vec::new(),
    };
    let (tags, syntax_errors) = split_tags(text, is_wsp);
    let mut error = |kind, message: String| record.errors.push(Issue::new(kind, message));
    for syntax_error in &syntax_errors {
        error(RecordError::MalformedTag, syntax_error.message());
    }
    match tags.first() {
        Some(tag) if tag.name == "v" && tag.value == VERSION => {}
        Some(tag) if tag.name == "v" => error(
            RecordError::InvalidVersion,
            format!(
                "v={} is not v=STSv1 (the value is case-sensitive)",
                tag.value
            ),
        ),
        _ => error(
            RecordError::MissingVersion,
            "the record does not start with v=STSv1".to_string(),
        ),
    }
    let mut seen = HashSet::new();
    for tag in &tags {
        if !seen.insert(tag.name) {
            error(
                RecordError::DuplicateTag,
                format!("the {}= tag appears more than once", tag.name),
            );
            continue;
        }
        match tag.name {
            "v" => {}
            "id" => {
                let valid = (1..=32).contains(&tag.value.len())
                    && tag.value.bytes().all(|b| b.is_ascii_alphanumeric());
                if valid {
                    record.id = Some(tag.value.to_string());
                } else {
                    error(
                        RecordError::InvalidId,
                        format!("id={:?} is not 1 to 32 letters and digits", tag.value),
                    );
                }
            }
            other => record.extensions.push(other.to_string()),
        }
    }
    if !seen.contains("id") {
        record.errors.push(Issue::new(
            RecordError::MissingId,
            "the record has no id= tag",
        ));
    }
    record
}

/// The errors a policy file can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyError {
    /// A non-empty line that is not `key: value`.
    MalformedLine,
    /// `version`, `mode` or `max_age` appears more than once.
    DuplicateField,
    MissingVersion,
    InvalidVersion,
    MissingMode,
    /// `mode` is not `enforce`, `testing` or `none`.
    InvalidMode,
    MissingMaxAge,
    /// `max_age` is not a number from 0 to 31557600.
    InvalidMaxAge,
    /// No `mx` line in a policy whose mode is `enforce` or `testing`.
    MissingMx,
    /// An `mx` value that is neither a host name nor `*.` and a host name.
    InvalidMxPattern,
}

/// The warnings a valid policy file can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyWarning {
    /// `mode: testing`: senders report failures but deliver anyway.
    TestingMode,
    /// `mode: none`: the domain withdraws its policy.
    ModeNone,
    /// `max_age` below one day.
    ShortMaxAge,
    /// A key that RFC 8461 does not define, which senders ignore.
    UnknownField,
}

/// The `mode` of a policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Enforce,
    Testing,
    None,
}

/// A parsed MTA-STS policy file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MtaStsPolicy {
    pub mode: Option<Mode>,
    /// Seconds a sender may cache the policy.
    pub max_age: Option<u32>,
    /// MX host patterns in lower case, in file order.
    pub mx: Vec<String>,
    pub errors: Vec<Issue<PolicyError>>,
    pub warnings: Vec<Issue<PolicyWarning>>,
}

impl MtaStsPolicy {
    pub fn is_valid(&self) -> bool {
        self.errors.is_empty()
    }

    fn error(&mut self, kind: PolicyError, message: impl Into<String>) {
        self.errors.push(Issue::new(kind, message));
    }

    fn warn(&mut self, kind: PolicyWarning, message: impl Into<String>) {
        self.warnings.push(Issue::new(kind, message));
    }
}

/// Parses a policy file (RFC 8461 section 3.2): `key: value` lines ending in LF or CRLF.
/// Keys and values are case-sensitive, and blank lines are skipped.
pub fn parse_policy(text: &str) -> MtaStsPolicy {
    let mut policy = MtaStsPolicy {
        mode: None,
        max_age: None,
        mx: Vec::new(),
        errors: Vec::new(),
        warnings: Vec::new(),
    };
    let mut version_seen = false;
    let mut seen = HashSet::new();
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim_matches(is_wsp).is_empty() {
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            policy.error(
                PolicyError::MalformedLine,
                format!("{line:?} is not a key: value line"),
            );
            continue;
        };
        let value = value.trim_matches(is_wsp);
        if key != "mx" && !seen.insert(key.to_string()) && is_known_field(key) {
            policy.error(
                PolicyError::DuplicateField,
                format!("{key} appears more than once"),
            );
            continue;
        }
        match key {
            "version" => {
                version_seen = true;
                if value != VERSION {
                    policy.error(
                        PolicyError::InvalidVersion,
                        format!("version: {value} is not STSv1"),
                    );
                }
            }
            "mode" => apply_mode(&mut policy, value),
            "max_age" => apply_max_age(&mut policy, value),
            "mx" => {
                if is_mx_pattern(value) {
                    policy.mx.push(value.to_ascii_lowercase());
                } else {
                    policy.error(
                        PolicyError::InvalidMxPattern,
                        format!("mx: {value:?} is not a host name or *. and a host name"),
                    );
                }
            }
            other => policy.warn(
                PolicyWarning::UnknownField,
                format!("unknown field {other:?} is ignored"),
            ),
        }
    }
    check_required_fields(&mut policy, version_seen);
    policy
}

fn is_known_field(key: &str) -> bool {
    matches!(key, "version" | "mode" | "max_age")
}

fn apply_mode(policy: &mut MtaStsPolicy, value: &str) {
    let mode = match value {
        "enforce" => Mode::Enforce,
        "testing" => Mode::Testing,
        "none" => Mode::None,
        _ => {
            policy.error(
                PolicyError::InvalidMode,
                format!("mode: {value} is not enforce, testing or none"),
            );
            return;
        }
    };
    match mode {
        Mode::Testing => policy.warn(
            PolicyWarning::TestingMode,
            "mode: testing: senders deliver even when TLS or the MX check fails",
        ),
        Mode::None => policy.warn(PolicyWarning::ModeNone, "mode: none withdraws the policy"),
        Mode::Enforce => {}
    }
    policy.mode = Some(mode);
}

fn apply_max_age(policy: &mut MtaStsPolicy, value: &str) {
    // RFC 8461 section 3.2: 1 to 10 digits, at most 31557600.
    let parsed = (1..=10)
        .contains(&value.len())
        .then(|| value.parse::<u32>().ok())
        .flatten()
        .filter(|age| value.bytes().all(|b| b.is_ascii_digit()) && *age <= MAX_MAX_AGE);
    let Some(age) = parsed else {
        policy.error(
            PolicyError::InvalidMaxAge,
            format!("max_age: {value} is not a number of seconds from 0 to {MAX_MAX_AGE}"),
        );
        return;
    };
    if age < SHORT_MAX_AGE {
        policy.warn(
            PolicyWarning::ShortMaxAge,
            format!("max_age: {age} is less than a day, so senders forget the policy quickly"),
        );
    }
    policy.max_age = Some(age);
}

fn check_required_fields(policy: &mut MtaStsPolicy, version_seen: bool) {
    if !version_seen {
        policy.error(
            PolicyError::MissingVersion,
            "the policy has no version line",
        );
    }
    if !policy
        .errors
        .iter()
        .any(|e| e.kind == PolicyError::InvalidMode)
        && policy.mode.is_none()
    {
        policy.error(PolicyError::MissingMode, "the policy has no mode line");
    }
    let max_age_invalid = policy
        .errors
        .iter()
        .any(|e| e.kind == PolicyError::InvalidMaxAge);
    if !max_age_invalid && policy.max_age.is_none() {
        policy.error(PolicyError::MissingMaxAge, "the policy has no max_age line");
    }
    let needs_mx = matches!(policy.mode, Some(Mode::Enforce | Mode::Testing));
    let mx_invalid = policy
        .errors
        .iter()
        .any(|e| e.kind == PolicyError::InvalidMxPattern);
    if needs_mx && policy.mx.is_empty() && !mx_invalid {
        policy.error(
            PolicyError::MissingMx,
            "the policy has no mx line, so no MX host can match it",
        );
    }
}

/// Checks the form of an MX pattern: a host name, or `*.` followed by one.
fn is_mx_pattern(value: &str) -> bool {
    let host = value.strip_prefix("*.").unwrap_or(value);
    is_host_name(host) && !host.ends_with('.')
}

/// True when `host` matches an MX pattern (RFC 8461 section 4.1): equal names, or a
/// `*.` pattern whose wildcard stands for exactly one leftmost label. Case and a final dot
/// are ignored.
pub fn mx_matches(pattern: &str, host: &str) -> bool {
    let pattern = pattern.trim_end_matches('.').to_ascii_lowercase();
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    match pattern.strip_prefix('*') {
        Some(suffix) if suffix.starts_with('.') => host
            .strip_suffix(suffix)
            .is_some_and(|label| !label.is_empty() && !label.contains('.')),
        _ => pattern == host,
    }
}

/// Lists the MX hosts that no pattern of the policy matches. An empty list means the
/// policy covers every host.
pub fn uncovered_mx_hosts(policy: &MtaStsPolicy, hosts: &[String]) -> Vec<String> {
    hosts
        .iter()
        .filter(|host| !policy.mx.iter().any(|pattern| mx_matches(pattern, host)))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str = "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\n\
                          mx: *.example.net\r\nmx: backupmx.example.com\r\nmax_age: 604800\r\n";

    fn policy_errors(text: &str) -> Vec<PolicyError> {
        parse_policy(text).errors.iter().map(|e| e.kind).collect()
    }

    fn record_errors(text: &str) -> Vec<RecordError> {
        parse_record(text).errors.iter().map(|e| e.kind).collect()
    }

    #[test]
    fn record_valid() {
        let record = parse_record("v=STSv1; id=20160831085700Z;");
        assert!(record.is_valid(), "{:?}", record.errors);
        assert_eq!(record.id.as_deref(), Some("20160831085700Z"));
        let extended = parse_record("v=STSv1;id=1; ext=value");
        assert!(extended.is_valid());
        assert_eq!(extended.extensions, ["ext"]);
    }

    #[test]
    fn record_errors_named() {
        assert_eq!(record_errors("v=STSv1"), [RecordError::MissingId]);
        assert_eq!(
            record_errors("v=stsv1; id=1"),
            [RecordError::InvalidVersion]
        );
        assert_eq!(
            record_errors("id=1; v=STSv1"),
            [RecordError::MissingVersion]
        );
        assert_eq!(record_errors("v=STSv1; id=a-b"), [RecordError::InvalidId]);
        assert_eq!(record_errors("v=STSv1; id="), [RecordError::InvalidId]);
        let long = format!("v=STSv1; id={}", "a".repeat(33));
        assert_eq!(record_errors(&long), [RecordError::InvalidId]);
        assert_eq!(
            record_errors("v=STSv1; id=1; id=2"),
            [RecordError::DuplicateTag]
        );
        assert_eq!(record_errors("v=STSv1;; id=1"), [RecordError::MalformedTag]);
    }

    #[test]
    fn policy_crlf_and_lf() {
        let policy = parse_policy(POLICY);
        assert!(policy.is_valid(), "{:?}", policy.errors);
        assert_eq!(policy.mode, Some(Mode::Enforce));
        assert_eq!(policy.max_age, Some(604_800));
        assert_eq!(
            policy.mx,
            ["mail.example.com", "*.example.net", "backupmx.example.com"]
        );
        assert_eq!(parse_policy(&POLICY.replace("\r\n", "\n")), policy);
    }

    #[test]
    fn policy_errors_named() {
        assert_eq!(
            policy_errors("mode: enforce\nmx: a.example\nmax_age: 1000000"),
            [PolicyError::MissingVersion]
        );
        assert_eq!(
            policy_errors("version: STSv2\nmode: enforce\nmx: a.example\nmax_age: 1000000"),
            [PolicyError::InvalidVersion]
        );
        assert_eq!(
            policy_errors("version: STSv1\nmode: on\nmx: a.example\nmax_age: 1000000"),
            [PolicyError::InvalidMode]
        );
        assert_eq!(
            policy_errors("version: STSv1\nmode: enforce\nmax_age: 1000000"),
            [PolicyError::MissingMx]
        );
        assert_eq!(
            policy_errors("version: STSv1\nmode: enforce\nmx: a.example"),
            [PolicyError::MissingMaxAge]
        );
        assert_eq!(
            policy_errors("version: STSv1\nmx: a.example\nmax_age: 1000000"),
            [PolicyError::MissingMode]
        );
        assert_eq!(
            policy_errors("version: STSv1\nmode: none\nmax_age: 1000000\nmode: none"),
            [PolicyError::DuplicateField]
        );
        assert_eq!(
            policy_errors("version: STSv1\nmode: none\nmax_age: 1000000\ngarbage"),
            [PolicyError::MalformedLine]
        );
        assert_eq!(
            policy_errors("version: STSv1\nmode: enforce\nmx: *.*.example\nmax_age: 1000000"),
            [PolicyError::InvalidMxPattern]
        );
    }

    #[test]
    fn policy_max_age_bounds() {
        let base = "version: STSv1\nmode: none\nmax_age: ";
        assert!(parse_policy(&format!("{base}31557600")).is_valid());
        assert!(parse_policy(&format!("{base}0")).is_valid());
        for bad in ["31557601", "-1", "1e6", "", "99999999999"] {
            assert_eq!(
                policy_errors(&format!("{base}{bad}")),
                [PolicyError::InvalidMaxAge],
                "{bad}"
            );
        }
    }

    #[test]
    fn policy_warnings_named() {
        let policy =
            parse_policy("version: STSv1\nmode: testing\nmx: a.example\nmax_age: 60\nx: 1");
        assert!(policy.is_valid(), "{:?}", policy.errors);
        let kinds: Vec<PolicyWarning> = policy.warnings.iter().map(|w| w.kind).collect();
        assert_eq!(
            kinds,
            [
                PolicyWarning::TestingMode,
                PolicyWarning::ShortMaxAge,
                PolicyWarning::UnknownField
            ]
        );
        let none = parse_policy("version: STSv1\nmode: none\nmax_age: 86400\n");
        assert!(none.is_valid(), "{:?}", none.errors);
        assert_eq!(none.warnings[0].kind, PolicyWarning::ModeNone);
    }

    #[test]
    fn wildcard_matches_one_label() {
        assert!(mx_matches("*.example.net", "mx1.example.net"));
        assert!(mx_matches("*.example.net", "MX1.Example.NET."));
        assert!(!mx_matches("*.example.net", "a.mx1.example.net"));
        assert!(!mx_matches("*.example.net", "example.net"));
        assert!(!mx_matches("*.example.net", "mx1.example.net.evil"));
        assert!(mx_matches("mail.example.com", "mail.example.com."));
        assert!(!mx_matches("mail.example.com", "mail2.example.com"));
    }

    #[test]
    fn coverage_lists_uncovered_hosts() {
        let policy = parse_policy(POLICY);
        let hosts = vec![
            "mail.example.com".to_string(),
            "mx7.example.net".to_string(),
            "other.example.org".to_string(),
        ];
        assert_eq!(uncovered_mx_hosts(&policy, &hosts), ["other.example.org"]);
        assert!(uncovered_mx_hosts(&policy, &hosts[..2]).is_empty());
    }
}
