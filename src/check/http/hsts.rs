//! `Strict-Transport-Security` (RFC 6797): a strict parse of the header value by the grammar
//! of section 6.1, and the preload-readiness verdict of hstspreload.org.
//!
//! Section 8.1 requires a user agent to ignore a header that does not match the grammar, so any
//! error makes the whole header invalid. Which response the header is read from (HTTPS only,
//! the first of several) is the caller's choice, not this module's.

use serde::Serialize;

use crate::check::email::issue::Issue;

/// The minimum `max-age` that hstspreload.org accepts for the preload list: one year.
pub const PRELOAD_MIN_MAX_AGE: u64 = 31_536_000;

/// The errors that make a header invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HstsError {
    /// A directive name that is not a token, or a value that is neither a token nor a quoted
    /// string, or text after a value.
    Syntax,
    /// The same directive twice, names compared case-insensitively (section 6.1 point 2).
    DuplicateDirective,
    MissingMaxAge,
    /// A `max-age` value that is not a string of digits.
    InvalidMaxAge,
    /// `includeSubDomains` or `preload` with a value; both are bare names.
    UnexpectedValue,
}

/// A parsed `Strict-Transport-Security` value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hsts {
    /// Seconds, saturated at `u64::MAX`. `Some` whenever a valid `max-age` was read, even if
    /// another error makes the header invalid. Browsers cap the stored value (Chromium at one
    /// year), but posture keeps what the server sent.
    pub max_age: Option<u64>,
    /// The `max-age` value as sent, quotes removed.
    pub max_age_raw: Option<String>,
    pub include_subdomains: bool,
    pub preload: bool,
    /// Directives other than the three above, lowercased. Section 6.1 requires user agents
    /// to ignore them.
    pub unknown_directives: Vec<String>,
    pub errors: Vec<Issue<HstsError>>,
}

impl Hsts {
    pub fn is_valid(&self) -> bool {
        self.errors.is_empty()
    }

    /// Returns whether the header turns HSTS off, because `max-age=0` makes the browser
    /// forget the host.
    pub fn disables(&self) -> bool {
        self.is_valid() && self.max_age == Some(0)
    }
}

/// Preload readiness by the header requirements that hstspreload.org publishes: a valid
/// header with `max-age` of at least one year, `includeSubDomains` and `preload`. The site's
/// other requirements (a valid certificate, a redirect from HTTP on the same host, the
/// header on the apex) depend on responses and are left to the caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PreloadReadiness {
    pub ready: bool,
    /// Each requirement that fails, in the order above.
    pub missing: Vec<PreloadRequirement>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PreloadRequirement {
    ValidHeader,
    MaxAgeOneYear,
    IncludeSubdomains,
    Preload,
}

/// Checks a parsed header against the preload list's header requirements.
pub fn preload_readiness(hsts: &Hsts) -> PreloadReadiness {
    let mut missing = Vec::new();
    if !hsts.is_valid() {
        missing.push(PreloadRequirement::ValidHeader);
    }
    if hsts
        .max_age
        .is_none_or(|seconds| seconds < PRELOAD_MIN_MAX_AGE)
    {
        missing.push(PreloadRequirement::MaxAgeOneYear);
    }
    if !hsts.include_subdomains {
        missing.push(PreloadRequirement::IncludeSubdomains);
    }
    if !hsts.preload {
        missing.push(PreloadRequirement::Preload);
    }
    PreloadReadiness {
        ready: missing.is_empty(),
        missing,
    }
}

/// Parses a `Strict-Transport-Security` value by the grammar of RFC 6797 section 6.1:
/// directives separated by `;`, empty ones allowed, each a token name with an optional `=`
/// and a token or quoted-string value, with optional whitespace around every part.
pub fn parse(value: &str) -> Hsts {
    let mut hsts = Hsts {
        max_age: None,
        max_age_raw: None,
        include_subdomains: false,
        preload: false,
        unknown_directives: Vec::new(),
        errors: Vec::new(),
    };
    let directives = match split_directives(value) {
        Ok(directives) => directives,
        Err(message) => {
            hsts.errors.push(Issue::new(HstsError::Syntax, message));
            return hsts;
        }
    };

    let mut seen: Vec<String> = Vec::new();
    for directive in directives {
        let name = directive.name.to_ascii_lowercase();
        if seen.contains(&name) {
            hsts.errors.push(Issue::new(
                HstsError::DuplicateDirective,
                format!("the {} directive appears more than once", directive.name),
            ));
            continue;
        }
        seen.push(name.clone());
        match name.as_str() {
            "max-age" => read_max_age(&mut hsts, directive.value.as_deref()),
            "includesubdomains" | "preload" => {
                if directive.value.is_some() {
                    hsts.errors.push(Issue::new(
                        HstsError::UnexpectedValue,
                        format!("{} takes no value", directive.name),
                    ));
                }
                if name == "preload" {
                    hsts.preload = true;
                } else {
                    hsts.include_subdomains = true;
                }
            }
            _ => hsts.unknown_directives.push(name),
        }
    }
    if !seen.iter().any(|name| name == "max-age") {
        hsts.errors.push(Issue::new(
            HstsError::MissingMaxAge,
            "max-age is required (RFC 6797 section 6.1.1)",
        ));
    }
    hsts
}

fn read_max_age(hsts: &mut Hsts, value: Option<&str>) {
    let Some(value) = value else {
        hsts.errors
            .push(Issue::new(HstsError::InvalidMaxAge, "max-age has no value"));
        return;
    };
    hsts.max_age_raw = Some(value.to_string());
    if value.is_empty() || !value.bytes().all(|byte| byte.is_ascii_digit()) {
        hsts.errors.push(Issue::new(
            HstsError::InvalidMaxAge,
            format!("max-age={value:?} is not a non-negative integer"),
        ));
        return;
    }
    let seconds = value.bytes().fold(0u64, |total, digit| {
        total
            .saturating_mul(10)
            .saturating_add(u64::from(digit - b'0'))
    });
    hsts.max_age = Some(seconds);
}

struct Directive<'a> {
    name: &'a str,
    /// The value with quoted-string escapes resolved.
    value: Option<String>,
}

/// Splits the value into directives, or returns why it does not match the grammar.
fn split_directives(value: &str) -> Result<Vec<Directive<'_>>, String> {
    let bytes = value.as_bytes();
    let mut directives = Vec::new();
    let mut index = 0;
    loop {
        index = skip_whitespace(bytes, index);
        if index == bytes.len() {
            return Ok(directives);
        }
        if bytes[index] == b';' {
            index += 1;
            continue;
        }

        // directive-name = token
        let start = index;
        while index < bytes.len() && is_tchar(bytes[index]) {
            index += 1;
        }
        if index == start {
            return Err(format!(
                "expected a directive name at {:?}",
                &value[start..]
            ));
        }
        let name = &value[start..index];
        index = skip_whitespace(bytes, index);

        // [ "=" directive-value ], the value a token or a quoted-string.
        let mut directive_value = None;
        if index < bytes.len() && bytes[index] == b'=' {
            index = skip_whitespace(bytes, index + 1);
            let (parsed, end) = read_value(value, index)
                .ok_or_else(|| format!("{name} has no valid token or quoted-string value"))?;
            directive_value = Some(parsed);
            index = skip_whitespace(bytes, end);
        }
        if index < bytes.len() && bytes[index] != b';' {
            return Err(format!(
                "expected ; after the {name} directive, found {:?}",
                &value[index..]
            ));
        }
        directives.push(Directive {
            name,
            value: directive_value,
        });
    }
}

/// Reads a token or a quoted-string at `start`; returns the value and the index after it.
fn read_value(value: &str, start: usize) -> Option<(String, usize)> {
    let bytes = value.as_bytes();
    if bytes.get(start) == Some(&b'"') {
        let mut text = String::new();
        let mut index = start + 1;
        while index < bytes.len() {
            match bytes[index] {
                b'"' => return Some((text, index + 1)),
                b'\\' if index + 1 < bytes.len() => {
                    text.push(char::from(bytes[index + 1]));
                    index += 2;
                }
                byte if byte == b'\t' || (byte >= 0x20 && byte != 0x7f) => {
                    text.push(char::from(byte));
                    index += 1;
                }
                _ => return None,
            }
        }
        return None;
    }
    let end = start
        + bytes[start..]
            .iter()
            .take_while(|byte| is_tchar(**byte))
            .count();
    (end > start).then(|| (value[start..end].to_string(), end))
}

fn skip_whitespace(bytes: &[u8], mut index: usize) -> usize {
    while index < bytes.len() && matches!(bytes[index], b' ' | b'\t') {
        index += 1;
    }
    index
}

/// Returns whether a byte is a token character (RFC 9110 section 5.6.2).
pub(crate) fn is_tchar(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typical_header() {
        let hsts = parse("max-age=63072000; includeSubDomains; preload");
        assert!(hsts.is_valid(), "{:?}", hsts.errors);
        assert_eq!(hsts.max_age, Some(63_072_000));
        assert!(hsts.include_subdomains);
        assert!(hsts.preload);
        assert!(preload_readiness(&hsts).ready);
    }

    #[test]
    fn max_age_saturates_and_keeps_raw() {
        let hsts = parse("max-age=99999999999999999999999999");
        assert!(hsts.is_valid());
        assert_eq!(hsts.max_age, Some(u64::MAX));
        assert_eq!(
            hsts.max_age_raw.as_deref(),
            Some("99999999999999999999999999")
        );
    }

    #[test]
    fn quoted_max_age_and_escapes() {
        let hsts = parse(r#"max-age="3\600"; x="a\"b""#);
        assert!(hsts.is_valid(), "{:?}", hsts.errors);
        assert_eq!(hsts.max_age, Some(3600));
        assert_eq!(hsts.unknown_directives, ["x"]);
    }

    #[test]
    fn duplicate_directive_invalid() {
        let hsts = parse("max-age=1; MAX-AGE=2");
        assert!(!hsts.is_valid());
        assert_eq!(hsts.errors[0].kind, HstsError::DuplicateDirective);
        assert_eq!(hsts.max_age, Some(1));
    }

    #[test]
    fn missing_max_age_invalid() {
        let hsts = parse("includeSubDomains; preload");
        assert_eq!(hsts.errors.len(), 1);
        assert_eq!(hsts.errors[0].kind, HstsError::MissingMaxAge);
        assert!(hsts.include_subdomains);
    }

    #[test]
    fn include_subdomains_with_value_invalid() {
        let hsts = parse("max-age=1; includeSubDomains=yes");
        assert_eq!(hsts.errors[0].kind, HstsError::UnexpectedValue);
    }

    #[test]
    fn zero_max_age_disables() {
        let hsts = parse("max-age=0");
        assert!(hsts.disables());
        assert!(!parse("max-age=1").disables());
    }

    #[test]
    fn preload_requirements_listed() {
        let readiness = preload_readiness(&parse("max-age=31535999; preload"));
        assert!(!readiness.ready);
        assert_eq!(
            readiness.missing,
            [
                PreloadRequirement::MaxAgeOneYear,
                PreloadRequirement::IncludeSubdomains
            ]
        );
        let exact_year = parse("max-age=31536000; includeSubDomains; preload");
        assert!(preload_readiness(&exact_year).ready);
        let invalid = preload_readiness(&parse(
            "max-age=31536000; includeSubDomains; preload; preload",
        ));
        assert_eq!(invalid.missing, [PreloadRequirement::ValidHeader]);
    }
}
