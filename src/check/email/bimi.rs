//! BIMI assertion records at `default._bimi.<domain>`: the logo location (`l`) and the
//! evidence document (`a`), such as a Verified Mark Certificate. The specification is the
//! IETF draft draft-brand-indicators-for-message-identification.
//!
//! Left out: fetching and validating the SVG logo and the certificate.

use std::collections::HashSet;

use serde::Serialize;

use super::issue::{Issue, https_host, is_wsp, split_tags};

/// The only version, case-sensitive.
pub const VERSION: &str = "BIMI1";

/// The errors a BIMI record can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BimiError {
    /// The first tag is not `v`.
    MissingVersion,
    /// `v` is not exactly `BIMI1`.
    InvalidVersion,
    MalformedTag,
    DuplicateTag,
    /// No `l` tag. An empty `l=` is allowed and declines to show a logo.
    MissingLocation,
    /// `l` is neither empty nor an `https://` URL.
    InvalidLocation,
    /// `a` is neither empty nor an `https://` URL.
    InvalidEvidence,
}

/// The warnings a valid BIMI record can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BimiWarning {
    /// `l` and `a` are both empty: the domain declines to publish a logo.
    Declined,
    /// A logo without an evidence document, which large mailbox providers require.
    MissingEvidence,
}

/// A parsed BIMI record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BimiRecord {
    /// The logo URL. `None` when the tag is absent, invalid, or empty.
    #[serde(rename = "l")]
    pub location: Option<String>,
    /// The evidence document URL. `None` when the tag is absent, invalid, or empty.
    #[serde(rename = "a")]
    pub evidence: Option<String>,
    /// True when `l` and `a` are both present and empty (a declination record).
    pub declined: bool,
    /// Tags other than `v`, `l` and `a`, which receivers ignore.
    pub unknown_tags: Vec<String>,
    pub errors: Vec<Issue<BimiError>>,
    pub warnings: Vec<Issue<BimiWarning>>,
}

impl BimiRecord {
    pub fn is_valid(&self) -> bool {
        self.errors.is_empty()
    }
}

/// Parses a BIMI record, the strings of its TXT record already joined.
pub fn parse(text: &str) -> BimiRecord {
    let mut record = BimiRecord {
        location: None,
        evidence: None,
        declined: false,
        unknown_tags: Vec::new(),
        errors: Vec::new(),
        warnings: Vec::new(),
    };
    let (tags, syntax_errors) = split_tags(text, is_wsp);
    let mut errors = Vec::new();
    for syntax_error in &syntax_errors {
        errors.push(Issue::new(BimiError::MalformedTag, syntax_error.message()));
    }
    match tags.first() {
        Some(tag) if tag.name == "v" && tag.value == VERSION => {}
        Some(tag) if tag.name == "v" => errors.push(Issue::new(
            BimiError::InvalidVersion,
            format!(
                "v={} is not v=BIMI1 (the value is case-sensitive)",
                tag.value
            ),
        )),
        _ => errors.push(Issue::new(
            BimiError::MissingVersion,
            "the record does not start with v=BIMI1",
        )),
    }

    let mut seen = HashSet::new();
    let mut location_empty = false;
    let mut evidence_empty = false;
    for tag in &tags {
        if !seen.insert(tag.name) {
            errors.push(Issue::new(
                BimiError::DuplicateTag,
                format!("the {}= tag appears more than once", tag.name),
            ));
            continue;
        }
        let (slot, empty, error) = match tag.name {
            "v" => continue,
            "l" => (
                &mut record.location,
                &mut location_empty,
                BimiError::InvalidLocation,
            ),
            "a" => (
                &mut record.evidence,
                &mut evidence_empty,
                BimiError::InvalidEvidence,
            ),
            other => {
                record.unknown_tags.push(other.to_string());
                continue;
            }
        };
        if tag.value.is_empty() {
            *empty = true;
        } else if https_host(tag.value).is_some() {
            *slot = Some(tag.value.to_string());
        } else {
            errors.push(Issue::new(
                error,
                format!("{}={} is not an https:// URL", tag.name, tag.value),
            ));
        }
    }

    if !seen.contains("l") {
        errors.push(Issue::new(
            BimiError::MissingLocation,
            "the record has no l= tag",
        ));
    }
    record.declined = location_empty && evidence_empty;
    if record.declined {
        record.warnings.push(Issue::new(
            BimiWarning::Declined,
            "l= and a= are empty: the domain declines to show a logo",
        ));
    } else if record.location.is_some() && record.evidence.is_none() {
        record.warnings.push(Issue::new(
            BimiWarning::MissingEvidence,
            "the logo has no a= evidence document, so many mailbox providers do not show it",
        ));
    }
    record.errors = errors;
    record
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<BimiError> {
        parse(text).errors.iter().map(|e| e.kind).collect()
    }

    #[test]
    fn full_record() {
        let record = parse(
            "v=BIMI1; l=https://images.example.com/logo.svg; a=https://images.example.com/vmc.pem",
        );
        assert!(record.is_valid(), "{:?}", record.errors);
        assert_eq!(
            record.location.as_deref(),
            Some("https://images.example.com/logo.svg")
        );
        assert_eq!(
            record.evidence.as_deref(),
            Some("https://images.example.com/vmc.pem")
        );
        assert!(record.warnings.is_empty());
    }

    #[test]
    fn declination_record() {
        let record = parse("v=BIMI1; l=; a=;");
        assert!(record.is_valid());
        assert!(record.declined);
        assert_eq!(record.warnings[0].kind, BimiWarning::Declined);
    }

    #[test]
    fn logo_without_evidence_warns() {
        let record = parse("v=BIMI1; l=https://example.com/logo.svg");
        assert!(record.is_valid());
        assert!(!record.declined);
        assert_eq!(record.warnings[0].kind, BimiWarning::MissingEvidence);
    }

    #[test]
    fn errors_are_named() {
        assert_eq!(kinds("v=BIMI1"), [BimiError::MissingLocation]);
        assert_eq!(kinds("v=bimi1; l="), [BimiError::InvalidVersion]);
        assert_eq!(kinds("l=; v=BIMI1"), [BimiError::MissingVersion]);
        assert_eq!(
            kinds("v=BIMI1; l=http://example.com/logo.svg"),
            [BimiError::InvalidLocation]
        );
        assert_eq!(
            kinds("v=BIMI1; l=; a=ftp://example.com/vmc.pem"),
            [BimiError::InvalidEvidence]
        );
        assert_eq!(kinds("v=BIMI1; l=; l="), [BimiError::DuplicateTag]);
    }
}
