//! SMTP TLS reporting (RFC 8460): the `_smtp._tls` TXT record that names where senders
//! send reports about TLS failures.

use std::collections::HashSet;

use serde::Serialize;

use super::issue::{Issue, https_host, is_host_name, is_wsp, split_tags};

/// The only version, case-sensitive (RFC 8460 section 3).
pub const VERSION: &str = "TLSRPTv1";

/// The errors a TLS-RPT record can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TlsRptError {
    /// The first tag is not `v`.
    MissingVersion,
    /// `v` is not exactly `TLSRPTv1`.
    InvalidVersion,
    MalformedTag,
    DuplicateTag,
    MissingRua,
    /// A `rua` URI that is not `mailto:` with an address or `https:` with a host.
    InvalidUri,
}

/// A parsed TLS-RPT record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TlsRptRecord {
    /// The valid report URIs, in record order.
    pub rua: Vec<String>,
    /// Tags other than `v` and `rua`, which RFC 8460 allows as extensions.
    pub extensions: Vec<String>,
    pub errors: Vec<Issue<TlsRptError>>,
}

impl TlsRptRecord {
    pub fn is_valid(&self) -> bool {
        self.errors.is_empty()
    }
}

/// Parses a TLS-RPT record, the strings of its TXT record already joined. Tag names and
/// the version are case-sensitive.
pub fn parse(text: &str) -> TlsRptRecord {
    let mut record = TlsRptRecord {
        rua: Vec::new(),
        extensions: Vec::new(),
        errors: Vec::new(),
    };
    let (tags, syntax_errors) = split_tags(text, is_wsp);
    let mut errors = Vec::new();
    for syntax_error in &syntax_errors {
        errors.push(Issue::new(
            TlsRptError::MalformedTag,
            syntax_error.message(),
        ));
    }
    match tags.first() {
        Some(tag) if tag.name == "v" && tag.value == VERSION => {}
        Some(tag) if tag.name == "v" => errors.push(Issue::new(
            TlsRptError::InvalidVersion,
            format!(
                "v={} is not v=TLSRPTv1 (the value is case-sensitive)",
                tag.value
            ),
        )),
        _ => errors.push(Issue::new(
            TlsRptError::MissingVersion,
            "the record does not start with v=TLSRPTv1",
        )),
    }
    let mut seen = HashSet::new();
    for tag in &tags {
        if !seen.insert(tag.name) {
            errors.push(Issue::new(
                TlsRptError::DuplicateTag,
                format!("the {}= tag appears more than once", tag.name),
            ));
            continue;
        }
        match tag.name {
            "v" => {}
            "rua" => {
                for uri in tag.value.split(',').map(|uri| uri.trim_matches(is_wsp)) {
                    if is_report_uri(uri) {
                        record.rua.push(uri.to_string());
                    } else {
                        errors.push(Issue::new(
                            TlsRptError::InvalidUri,
                            format!(
                                "invalid rua URI {uri:?}: expected mailto:address or https://host/path"
                            ),
                        ));
                    }
                }
            }
            other => record.extensions.push(other.to_string()),
        }
    }
    if !seen.contains("rua") {
        errors.push(Issue::new(
            TlsRptError::MissingRua,
            "the record has no rua= tag",
        ));
    }
    record.errors = errors;
    record
}

/// True for `mailto:local@domain` or an `https://` URL (RFC 8460 section 3).
fn is_report_uri(uri: &str) -> bool {
    if https_host(uri).is_some() {
        return true;
    }
    let Some((scheme, address)) = uri.split_once(':') else {
        return false;
    };
    scheme.eq_ignore_ascii_case("mailto")
        && address
            .rsplit_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && is_host_name(domain))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<TlsRptError> {
        parse(text).errors.iter().map(|e| e.kind).collect()
    }

    #[test]
    fn valid_record_both_schemes() {
        let record =
            parse("v=TLSRPTv1; rua=mailto:tls@example.com, https://reports.example.net/tls");
        assert!(record.is_valid(), "{:?}", record.errors);
        assert_eq!(
            record.rua,
            ["mailto:tls@example.com", "https://reports.example.net/tls"]
        );
    }

    #[test]
    fn errors_are_named() {
        assert_eq!(kinds("v=TLSRPTv1"), [TlsRptError::MissingRua]);
        assert_eq!(
            kinds("v=tlsrptv1; rua=mailto:a@example.com"),
            [TlsRptError::InvalidVersion]
        );
        assert_eq!(
            kinds("rua=mailto:a@example.com; v=TLSRPTv1"),
            [TlsRptError::MissingVersion]
        );
        assert_eq!(
            kinds("v=TLSRPTv1; rua=http://example.com/r"),
            [TlsRptError::InvalidUri]
        );
        assert_eq!(
            kinds("v=TLSRPTv1; rua=mailto:nobody"),
            [TlsRptError::InvalidUri]
        );
        assert_eq!(
            kinds("v=TLSRPTv1; rua=mailto:a@example.com; rua=mailto:b@example.com"),
            [TlsRptError::DuplicateTag]
        );
    }

    #[test]
    fn extensions_are_kept() {
        let record = parse("v=TLSRPTv1; rua=mailto:a@example.com; ext=1;");
        assert!(record.is_valid());
        assert_eq!(record.extensions, ["ext"]);
    }
}
