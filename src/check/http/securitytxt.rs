//! `security.txt` (RFC 9116): the file at `/.well-known/security.txt` that names where to
//! report vulnerabilities.
//!
//! Many sites return a 200 and an HTML page for every path, so the parser first decides
//! whether the body is a security.txt at all. Signatures of OpenPGP-signed files are not
//! verified: the signed text is read and `signed` says that it was signed.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::check::email::issue::Issue;

/// The reason a response body is not a security.txt file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NotSecurityTxt {
    /// The body is an HTML page (a catch-all page or a soft 404).
    Html,
    /// A `Content-Type` other than `text/plain` (RFC 9116 section 3).
    ContentType,
    /// No line of the body is a security.txt field.
    NoFields,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SecurityTxtError {
    /// No `Contact` field; RFC 9116 section 2.5.3 requires one or more.
    MissingContact,
    /// A `Contact` value that is not a URI with a scheme (`mailto:`, `https:`, `tel:`).
    InvalidContact,
    /// No `Expires` field; section 2.5.5 requires exactly one.
    MissingExpires,
    MultipleExpires,
    /// An `Expires` value that is not an RFC 3339 date and time.
    InvalidExpires,
    /// The `Expires` time has passed.
    Expired,
    /// A line that is neither a field, a comment nor empty.
    InvalidLine,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecurityTxt {
    /// `None` when the body is a security.txt file, else the reason it is not. The other
    /// fields are still filled from whatever field lines the body has.
    pub not_security_txt: Option<NotSecurityTxt>,
    pub contacts: Vec<String>,
    pub expires: Option<DateTime<Utc>>,
    /// `Some(true)` when `Expires` is at or before the time of the check.
    pub expired: Option<bool>,
    /// `Expires` more than a year after the time of the check, which section 2.5.5 advises
    /// against.
    pub expires_over_a_year: bool,
    pub encryption: Vec<String>,
    pub policy: Vec<String>,
    pub canonical: Vec<String>,
    pub preferred_languages: Option<String>,
    /// The body is an OpenPGP cleartext signed message.
    pub signed: bool,
    pub errors: Vec<Issue<SecurityTxtError>>,
}

impl SecurityTxt {
    /// Returns whether the body is a security.txt file without errors.
    pub fn is_valid(&self) -> bool {
        self.not_security_txt.is_none() && self.errors.is_empty()
    }
}

/// Parses a response body as security.txt. `content_type` is the response's header, if
/// any, and `now` the time the expiry is compared with.
pub fn parse(body: &str, content_type: Option<&str>, now: DateTime<Utc>) -> SecurityTxt {
    let mut file = SecurityTxt {
        not_security_txt: None,
        contacts: Vec::new(),
        expires: None,
        expired: None,
        expires_over_a_year: false,
        encryption: Vec::new(),
        policy: Vec::new(),
        canonical: Vec::new(),
        preferred_languages: None,
        signed: false,
        errors: Vec::new(),
    };
    let text = body.strip_prefix('\u{feff}').unwrap_or(body);
    let (text, signed) = signed_text(text);
    file.signed = signed;

    let mut fields = 0;
    let mut expires_count = 0;
    for line in text.lines() {
        let line = line.trim_end_matches('\r').trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            file.errors.push(Issue::new(
                SecurityTxtError::InvalidLine,
                format!("{line:?} is not a field"),
            ));
            continue;
        };
        if !is_field_name(name.trim()) {
            file.errors.push(Issue::new(
                SecurityTxtError::InvalidLine,
                format!("{line:?} is not a field"),
            ));
            continue;
        }
        let value = value.trim();
        fields += 1;
        match name.trim().to_ascii_lowercase().as_str() {
            "contact" => {
                if !has_scheme(value) {
                    file.errors.push(Issue::new(
                        SecurityTxtError::InvalidContact,
                        format!("Contact {value:?} is not a URI such as mailto:, https: or tel:"),
                    ));
                }
                file.contacts.push(value.to_string());
            }
            "expires" => {
                expires_count += 1;
                read_expires(&mut file, value, now);
            }
            "encryption" => file.encryption.push(value.to_string()),
            "policy" => file.policy.push(value.to_string()),
            "canonical" => file.canonical.push(value.to_string()),
            "preferred-languages" => file.preferred_languages = Some(value.to_string()),
            // Acknowledgments, Hiring, CSAF and extension fields are allowed and not recorded.
            _ => {}
        }
    }

    file.not_security_txt = classify(body, content_type, fields);
    if file.contacts.is_empty() {
        file.errors.push(Issue::new(
            SecurityTxtError::MissingContact,
            "a Contact field is required",
        ));
    }
    match expires_count {
        0 => file.errors.push(Issue::new(
            SecurityTxtError::MissingExpires,
            "an Expires field is required",
        )),
        1 => {}
        _ => file.errors.push(Issue::new(
            SecurityTxtError::MultipleExpires,
            "Expires must appear only once",
        )),
    }
    file
}

fn read_expires(file: &mut SecurityTxt, value: &str, now: DateTime<Utc>) {
    match DateTime::parse_from_rfc3339(value) {
        Ok(time) => {
            let time = time.with_timezone(&Utc);
            let expired = time <= now;
            if expired {
                file.errors.push(Issue::new(
                    SecurityTxtError::Expired,
                    format!("Expires {value} has passed"),
                ));
            }
            // Only the first Expires sets the facts; a second one is an error of its own.
            if file.expires.is_none() {
                file.expires = Some(time);
                file.expired = Some(expired);
                file.expires_over_a_year = time > now + Duration::days(365);
            }
        }
        Err(error) => file.errors.push(Issue::new(
            SecurityTxtError::InvalidExpires,
            format!("Expires {value:?} is not an RFC 3339 date and time: {error}"),
        )),
    }
}

/// Decides whether a body is a security.txt file, or why not.
fn classify(body: &str, content_type: Option<&str>, fields: usize) -> Option<NotSecurityTxt> {
    let start: String = body.trim_start().chars().take(256).collect();
    let start = start.to_ascii_lowercase();
    if start.starts_with("<!doctype") || start.starts_with("<html") || start.contains("<head") {
        return Some(NotSecurityTxt::Html);
    }
    let media_type = content_type.map(|value| {
        value
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
    });
    if media_type.is_some_and(|media_type| media_type != "text/plain") {
        return Some(NotSecurityTxt::ContentType);
    }
    (fields == 0).then_some(NotSecurityTxt::NoFields)
}

/// Returns the signed text of an OpenPGP cleartext message (RFC 4880 section 7), with dash-escapes
/// removed, or the whole text when it is not signed.
fn signed_text(text: &str) -> (String, bool) {
    let Some(rest) = text
        .trim_start()
        .strip_prefix("-----BEGIN PGP SIGNED MESSAGE-----")
    else {
        return (text.to_string(), false);
    };
    // Armor headers (`Hash: SHA256`) end at the first empty line.
    let body = rest
        .split_once("\n\n")
        .or_else(|| rest.split_once("\r\n\r\n"))
        .map_or("", |(_, body)| body);
    let body = body
        .split("-----BEGIN PGP SIGNATURE-----")
        .next()
        .unwrap_or_default();
    let lines: Vec<&str> = body
        .lines()
        .map(|line| line.strip_prefix("- ").unwrap_or(line))
        .collect();
    (lines.join("\n"), true)
}

fn has_scheme(value: &str) -> bool {
    match value.split_once(':') {
        Some((scheme, rest)) => {
            !rest.is_empty()
                && scheme
                    .chars()
                    .next()
                    .is_some_and(|first| first.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|character| character.is_ascii_alphanumeric() || "+-.".contains(character))
        }
        None => false,
    }
}

/// Returns whether a name is a field name: letters, digits and hyphens (RFC 9116 section 4, as in
/// RFC 5322 header names without the obsolete forms).
fn is_field_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 4, 12, 0, 0).unwrap()
    }

    #[test]
    fn valid_file() {
        let body = "# report here\nContact: mailto:security@example.com\nContact: https://example.com/report\nExpires: 2027-06-30T23:59:59Z\nPreferred-Languages: en, de\nPolicy: https://example.com/policy\n";
        let file = parse(body, Some("text/plain; charset=utf-8"), now());
        assert!(file.is_valid(), "{:?}", file.errors);
        assert_eq!(file.contacts.len(), 2);
        assert_eq!(file.expired, Some(false));
        assert!(!file.expires_over_a_year);
        assert_eq!(file.preferred_languages.as_deref(), Some("en, de"));
    }

    #[test]
    fn expired_file() {
        let body = "Contact: mailto:a@example.com\nExpires: 2026-12-04T11:59:59+00:00\n";
        let file = parse(body, Some("text/plain"), now());
        assert_eq!(file.expired, Some(true));
        assert_eq!(file.errors.len(), 1);
        assert_eq!(file.errors[0].kind, SecurityTxtError::Expired);
        assert_eq!(file.not_security_txt, None);
    }

    #[test]
    fn html_page_is_not_security_txt() {
        let body = "<!DOCTYPE html>\n<html><head><title>Home</title></head><body>Contact: us</body></html>";
        let file = parse(body, Some("text/html"), now());
        assert_eq!(file.not_security_txt, Some(NotSecurityTxt::Html));
        assert!(!file.is_valid());
    }

    #[test]
    fn wrong_content_type_and_no_fields() {
        let body = "Contact: mailto:a@example.com\nExpires: 2027-01-01T00:00:00Z\n";
        let json = parse(body, Some("application/json"), now());
        assert_eq!(json.not_security_txt, Some(NotSecurityTxt::ContentType));
        let prose = parse("nothing to see here\n", None, now());
        assert_eq!(prose.not_security_txt, Some(NotSecurityTxt::NoFields));
    }

    #[test]
    fn missing_and_invalid_fields() {
        let file = parse(
            "Contact: security@example.com\nExpires: tomorrow\nExpires: 2027-01-01T00:00:00Z\n",
            Some("text/plain"),
            now(),
        );
        let kinds: Vec<SecurityTxtError> = file.errors.iter().map(|error| error.kind).collect();
        assert_eq!(
            kinds,
            [
                SecurityTxtError::InvalidContact,
                SecurityTxtError::InvalidExpires,
                SecurityTxtError::MultipleExpires
            ]
        );
        assert!(
            parse("Expires: 2027-01-01T00:00:00Z\n", None, now())
                .errors
                .iter()
                .any(|error| error.kind == SecurityTxtError::MissingContact)
        );
    }

    #[test]
    fn signed_file_is_read() {
        let body = "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nContact: mailto:a@example.com\nExpires: 2030-01-01T00:00:00.000Z\n-----BEGIN PGP SIGNATURE-----\n\niQIz\n-----END PGP SIGNATURE-----\n";
        let file = parse(body, Some("text/plain"), now());
        assert!(file.signed);
        assert_eq!(file.contacts, ["mailto:a@example.com"]);
        assert!(file.expires_over_a_year);
        assert!(file.is_valid(), "{:?}", file.errors);
    }
}
