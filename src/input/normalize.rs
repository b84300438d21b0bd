//! Turns one field of an input line into a scannable domain name, or the reason it is not one.
//!
//! The rules follow how people write domains in spreadsheets and lists: a URL, a host with a
//! port, a name with a trailing dot or in Unicode. The result is the name in A-labels (IDNA
//! 2008 with UTS 46 mapping), its Unicode form, and its registrable domain and public suffix
//! from the Public Suffix List (ICANN and private sections, as compiled into the `psl` crate).
//!
//! A name that is itself a suffix of the list's private section, such as `cloudfront.net` or
//! `blogspot.com`, is a real site run by one operator, so it is scanned. Its registrable domain
//! and suffix then come from the ICANN section alone (`cloudfront.net` and `net`). Only a name
//! that is an ICANN suffix, such as `co.uk`, or the parent of an ICANN wildcard rule, such as
//! `kawasaki.jp` under `*.kawasaki.jp`, is rejected.

use std::fmt;
use std::net::IpAddr;

/// A normalised, scannable domain name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainName {
    /// Lowercase A-label form without a trailing dot, such as `xn--bcher-kva.example`.
    pub ascii: String,
    /// Unicode form, such as `bücher.example`; equal to `ascii` for ASCII names.
    pub unicode: String,
    pub registrable: String,
    pub suffix: String,
}

/// Reason a field is not a scannable domain name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvalidName {
    Empty,
    IpAddress,
    InvalidCharacter(char),
    EmptyLabel,
    LabelTooLong,
    NameTooLong,
    HyphenAtLabelEdge,
    Idna,
    SingleLabel,
    NumericTopLevel,
    PublicSuffix,
}

impl fmt::Display for InvalidName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("empty domain field"),
            Self::IpAddress => f.write_str("IP address, not a domain name"),
            Self::InvalidCharacter(c) => write!(f, "invalid character {c:?} in domain name"),
            Self::EmptyLabel => f.write_str("empty label (two dots in a row, or a leading dot)"),
            Self::LabelTooLong => f.write_str("label longer than 63 bytes"),
            Self::NameTooLong => f.write_str("name longer than 253 bytes"),
            Self::HyphenAtLabelEdge => f.write_str("label starts or ends with a hyphen"),
            Self::Idna => f.write_str("invalid internationalised domain name"),
            Self::SingleLabel => f.write_str("single-label name, not a domain"),
            Self::NumericTopLevel => f.write_str("all-numeric top-level label"),
            Self::PublicSuffix => f.write_str("public suffix, not a registrable domain"),
        }
    }
}

/// Normalises one domain field: trims it, strips a scheme, user info, port, path, query,
/// fragment and one trailing dot, converts to A-labels, and checks it against the Public
/// Suffix List.
pub fn normalize(field: &str) -> Result<DomainName, InvalidName> {
    let host = extract_host(field)?;
    if host.parse::<IpAddr>().is_ok() {
        return Err(InvalidName::IpAddress);
    }

    let ascii = to_ascii(host)?;
    check_labels(&ascii)?;
    if !ascii.contains('.') {
        return Err(InvalidName::SingleLabel);
    }

    let (registrable, suffix) = registrable_domain(&ascii)?;
    let (unicode, _) = idna::domain_to_unicode(&ascii);
    Ok(DomainName {
        registrable,
        suffix,
        unicode,
        ascii,
    })
}

/// Returns the registrable domain and public suffix of an A-label name.
fn registrable_domain(ascii: &str) -> Result<(String, String), InvalidName> {
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    if is_icann_wildcard_root(ascii) {
        return Err(InvalidName::PublicSuffix);
    }
    if let Some(domain) = psl::domain(ascii.as_bytes()) {
        return Ok((text(domain.as_bytes()), text(domain.suffix().as_bytes())));
    }
    let is_private =
        psl::suffix(ascii.as_bytes()).and_then(|s| s.typ()) == Some(psl::Type::Private);
    if !is_private {
        return Err(InvalidName::PublicSuffix);
    }

    // Find the ICANN suffix: the suffix of the parent, skipping private-section suffixes.
    let mut candidate = ascii.split_once('.').map_or("", |(_, parent)| parent);
    let icann = loop {
        let Some(suffix) = psl::suffix(candidate.as_bytes()) else {
            break candidate;
        };
        let suffix = std::str::from_utf8(suffix.as_bytes()).unwrap_or(candidate);
        if psl::suffix(candidate.as_bytes()).and_then(|s| s.typ()) != Some(psl::Type::Private) {
            break suffix;
        }
        match suffix.split_once('.') {
            Some((_, parent)) => candidate = parent,
            None => break suffix,
        }
    };
    let labels = icann.split('.').count() + 1;
    let start = ascii
        .rmatch_indices('.')
        .nth(labels - 1)
        .map_or(0, |(index, _)| index + 1);
    Ok((ascii[start..].to_string(), icann.to_string()))
}

/// Tells whether an ICANN wildcard rule `*.NAME` exists, such as `*.kawasaki.jp` or
/// `*.sch.uk`. Browsers, libpsl and the list's linter then treat NAME as a public suffix too,
/// as the list's maintainers describe in github.com/publicsuffix/list issues 694, 1989 and
/// 2240. The list's written algorithm instead gives `jp` as the suffix of `kawasaki.jp`, and
/// the `psl` crate follows it. So a probe label below NAME looks for the rule, because only a
/// wildcard makes the whole probe name a suffix.
fn is_icann_wildcard_root(ascii: &str) -> bool {
    let probe = format!("posture-wildcard-probe.{ascii}");
    psl::suffix(probe.as_bytes()).is_some_and(|suffix| {
        suffix.typ() == Some(psl::Type::Icann) && suffix.as_bytes().len() == probe.len()
    })
}

/// Cuts the host out of a URL-like field.
fn extract_host(field: &str) -> Result<&str, InvalidName> {
    let mut rest = field.trim().trim_start_matches('\u{feff}').trim();
    // A scheme counts only at the start (RFC 3986 section 3.1), so a URL inside a path or
    // query string is not taken for the host.
    let scheme_end = rest.find("://").filter(|index| {
        let scheme = &rest[..*index];
        scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    });
    if let Some(index) = scheme_end {
        rest = &rest[index + 3..];
    } else if let Some(stripped) = rest.strip_prefix("//") {
        rest = stripped;
    }
    if let Some(end) = rest.find(['/', '?', '#', '\\']) {
        rest = &rest[..end];
    }
    if let Some(at) = rest.rfind('@') {
        rest = &rest[at + 1..];
    }

    // An IPv6 literal is written in brackets in a URL; without brackets, a bare one has colons.
    if rest.starts_with('[') || rest.matches(':').count() > 1 {
        return Err(InvalidName::IpAddress);
    }
    if let Some((host, port)) = rest.rsplit_once(':') {
        if !port.is_empty() && !port.bytes().all(|b| b.is_ascii_digit()) {
            return Err(InvalidName::InvalidCharacter(':'));
        }
        rest = host;
    }

    let rest = rest.strip_suffix('.').unwrap_or(rest);
    if rest.is_empty() {
        return Err(InvalidName::Empty);
    }
    Ok(rest)
}

/// Converts to lowercase A-labels, rejecting characters that are not allowed in host names.
fn to_ascii(host: &str) -> Result<String, InvalidName> {
    if host.is_ascii() {
        if let Some(c) = host
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '.'))
        {
            return Err(InvalidName::InvalidCharacter(c));
        }
        let lower = host.to_ascii_lowercase();
        // An A-label given directly must still decode to a valid U-label.
        if lower.split('.').any(|label| label.starts_with("xn--")) {
            idna::domain_to_ascii_strict(&lower).map_err(|_| InvalidName::Idna)?;
        }
        return Ok(lower);
    }
    if let Some(c) = host.chars().find(|c| c.is_control() || c.is_whitespace()) {
        return Err(InvalidName::InvalidCharacter(c));
    }
    idna::domain_to_ascii_strict(host).map_err(|_| InvalidName::Idna)
}

/// Checks RFC 1035 length limits and the letters-digits-hyphen rule on an A-label name.
fn check_labels(ascii: &str) -> Result<(), InvalidName> {
    if ascii.len() > 253 {
        return Err(InvalidName::NameTooLong);
    }
    let mut last = "";
    for label in ascii.split('.') {
        if label.is_empty() {
            return Err(InvalidName::EmptyLabel);
        }
        if label.len() > 63 {
            return Err(InvalidName::LabelTooLong);
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(InvalidName::HyphenAtLabelEdge);
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
        {
            return Err(InvalidName::InvalidCharacter(c));
        }
        last = label;
    }
    if last.bytes().all(|b| b.is_ascii_digit()) {
        return Err(InvalidName::NumericTopLevel);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ascii(field: &str) -> Result<String, InvalidName> {
        normalize(field).map(|name| name.ascii)
    }

    #[test]
    fn strips_url_parts() {
        let cases = [
            ("example.com", "example.com"),
            ("  Example.COM  ", "example.com"),
            ("https://www.example.com/path?q=1#top", "www.example.com"),
            ("http://user:secret@example.com:8080/", "example.com"),
            ("example.com.", "example.com"),
            ("//example.com/x", "example.com"),
            ("example.com:443", "example.com"),
            ("\u{feff}example.com", "example.com"),
            ("ftp://example.org", "example.org"),
            ("example.com/?next=https://other.example/", "example.com"),
            ("example.com/x://other.example", "example.com"),
            ("example.com?u=http://other.example", "example.com"),
            ("example.org#://other.example", "example.org"),
            (
                "https://example.com/?next=https://other.example/",
                "example.com",
            ),
        ];
        for (field, expected) in cases {
            assert_eq!(ascii(field).as_deref(), Ok(expected), "field {field:?}");
        }
    }

    #[test]
    fn converts_unicode_to_a_labels() {
        let name = normalize("Bücher.example").unwrap();
        assert_eq!(name.ascii, "xn--bcher-kva.example");
        assert_eq!(name.unicode, "bücher.example");
        let name = normalize("xn--bcher-kva.example").unwrap();
        assert_eq!(name.unicode, "bücher.example");
    }

    #[test]
    fn rejects_non_domains() {
        let cases = [
            ("", InvalidName::Empty),
            ("   ", InvalidName::Empty),
            ("https://", InvalidName::Empty),
            ("192.0.2.1", InvalidName::IpAddress),
            ("http://192.0.2.1:80/", InvalidName::IpAddress),
            ("[2001:db8::1]", InvalidName::IpAddress),
            ("2001:db8::1", InvalidName::IpAddress),
            ("exa mple.com", InvalidName::InvalidCharacter(' ')),
            ("under_score.com", InvalidName::InvalidCharacter('_')),
            ("a..com", InvalidName::EmptyLabel),
            (".example.com", InvalidName::EmptyLabel),
            ("-bad.com", InvalidName::HyphenAtLabelEdge),
            ("bad-.com", InvalidName::HyphenAtLabelEdge),
            ("localhost", InvalidName::SingleLabel),
            ("1.2.3.4.5", InvalidName::NumericTopLevel),
            ("com", InvalidName::SingleLabel),
            ("co.uk", InvalidName::PublicSuffix),
            ("xn--55qx5d.cn", InvalidName::PublicSuffix),
            ("example.com:http", InvalidName::InvalidCharacter(':')),
            ("xn--zz.com", InvalidName::Idna),
        ];
        for (field, expected) in cases {
            assert_eq!(ascii(field), Err(expected), "field {field:?}");
        }
    }

    #[test]
    fn rejects_overlong_names() {
        let label = "a".repeat(64);
        assert_eq!(
            ascii(&format!("{label}.com")),
            Err(InvalidName::LabelTooLong)
        );
        let long = format!("{}.com", vec!["a".repeat(63); 4].join("."));
        assert_eq!(ascii(&long), Err(InvalidName::NameTooLong));
    }

    #[test]
    fn registrable_domain_and_suffix() {
        let name = normalize("www.bbc.co.uk").unwrap();
        assert_eq!(name.registrable, "bbc.co.uk");
        assert_eq!(name.suffix, "co.uk");
        let name = normalize("user.github.io").unwrap();
        assert_eq!(name.registrable, "user.github.io");
        assert_eq!(name.suffix, "github.io");
    }

    #[test]
    fn wildcard_rule_root_is_public_suffix() {
        for field in [
            "kawasaki.jp",
            "nagoya.jp",
            "sch.uk",
            "nom.br",
            "example.sch.uk",
        ] {
            assert_eq!(
                normalize(field).map(|name| name.ascii),
                Err(InvalidName::PublicSuffix),
                "field {field:?}"
            );
        }
        // An exception rule (`!city.kawasaki.jp`) and a name below a wildcard suffix stay
        // registrable domains.
        let name = normalize("city.kawasaki.jp").unwrap();
        assert_eq!(name.registrable, "city.kawasaki.jp");
        assert_eq!(name.suffix, "kawasaki.jp");
        let name = normalize("www.school.example.sch.uk").unwrap();
        assert_eq!(name.registrable, "school.example.sch.uk");
        assert_eq!(name.suffix, "example.sch.uk");
        let name = normalize("example.jp").unwrap();
        assert_eq!(name.registrable, "example.jp");
    }

    #[test]
    fn private_section_suffix_is_scannable() {
        let name = normalize("cloudfront.net").unwrap();
        assert_eq!(name.registrable, "cloudfront.net");
        assert_eq!(name.suffix, "net");
        let name = normalize("github.io").unwrap();
        assert_eq!(name.registrable, "github.io");
        assert_eq!(name.suffix, "io");
        let name = normalize("blogspot.co.uk").unwrap();
        assert_eq!(name.registrable, "blogspot.co.uk");
        assert_eq!(name.suffix, "co.uk");
    }

    /// The Public Suffix List's own conformance cases. A name the list gives no registrable
    /// domain must be rejected, unless it is a private-section suffix, which posture scans as
    /// its own registrable domain; otherwise the registrable domain must match in A-labels.
    #[test]
    fn public_suffix_list_cases() {
        let fixture = include_str!("../../tests/fixtures/psl-registrable.txt");
        let mut checked = 0;
        for line in fixture.lines().filter(|l| !l.starts_with('#')) {
            let (input, expected) = line.split_once(' ').unwrap();
            let got = normalize(input).ok().map(|name| name.registrable);
            let lower = input.to_ascii_lowercase();
            let private = psl::suffix(lower.as_bytes()).and_then(|s| s.typ())
                == Some(psl::Type::Private)
                && psl::suffix_str(&lower) == Some(lower.as_str());
            let expected = match expected {
                "null" if private => Some(lower),
                "null" => None,
                _ => Some(idna::domain_to_ascii(expected).unwrap()),
            };
            assert_eq!(got, expected, "input {input:?}");
            checked += 1;
        }
        assert!(checked > 70, "only {checked} cases read");
    }
}
