//! SPF macro strings (RFC 7208 section 7): parsing into parts, and expansion.
//!
//! A macro string mixes literal text with `%{...}` expansions. Parsing is strict, so a record
//! with a malformed macro is a permerror before any DNS query. Expansion is pure: the caller
//! supplies the values, including the validated name for `%{p}`, which needs DNS queries.

use std::fmt;
use std::net::IpAddr;

use super::record::SpfError;

/// RFC 7208 section 7.3: an expanded name longer than 253 characters loses labels on the left.
const MAX_DOMAIN_LENGTH: usize = 253;

/// The macro letters of RFC 7208 section 7.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MacroLetter {
    /// `s`: the sender, `local-part@domain`.
    Sender,
    /// `l`: the local-part of the sender.
    LocalPart,
    /// `o`: the domain of the sender.
    SenderDomain,
    /// `d`: the domain being evaluated, which changes with `include` and `redirect`.
    Domain,
    /// `i`: the client IP address, dotted decimal or dotted nibbles.
    Ip,
    /// `p`: the validated domain name of the client IP address.
    ValidatedName,
    /// `v`: `in-addr` for IPv4, `ip6` for IPv6.
    IpVersion,
    /// `h`: the HELO or EHLO domain.
    Helo,
    /// `c`: the client IP address in its usual text form (explanations only).
    ClientIp,
    /// `r`: the name of the host performing the check (explanations only).
    Receiver,
    /// `t`: the current time in seconds since the Unix epoch (explanations only).
    Timestamp,
}

impl MacroLetter {
    fn from_char(c: char) -> Option<Self> {
        let letter = match c.to_ascii_lowercase() {
            's' => Self::Sender,
            'l' => Self::LocalPart,
            'o' => Self::SenderDomain,
            'd' => Self::Domain,
            'i' => Self::Ip,
            'p' => Self::ValidatedName,
            'v' => Self::IpVersion,
            'h' => Self::Helo,
            'c' => Self::ClientIp,
            'r' => Self::Receiver,
            't' => Self::Timestamp,
            _ => return None,
        };
        Some(letter)
    }

    /// Returns the lowercase letter of the macro.
    pub fn as_char(self) -> char {
        match self {
            Self::Sender => 's',
            Self::LocalPart => 'l',
            Self::SenderDomain => 'o',
            Self::Domain => 'd',
            Self::Ip => 'i',
            Self::ValidatedName => 'p',
            Self::IpVersion => 'v',
            Self::Helo => 'h',
            Self::ClientIp => 'c',
            Self::Receiver => 'r',
            Self::Timestamp => 't',
        }
    }

    /// True for `c`, `r` and `t`, which RFC 7208 section 7.2 allows only in explanation text.
    pub fn is_explanation_only(self) -> bool {
        matches!(self, Self::ClientIp | Self::Receiver | Self::Timestamp)
    }
}

/// One `%{...}` expansion with its transformers and delimiters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MacroExpand {
    pub letter: MacroLetter,
    /// True for an uppercase letter, which requests URL escaping (RFC 7208 section 7.3).
    pub url_escape: bool,
    /// Number of right-hand parts to keep, after the optional reversal.
    pub keep: Option<u32>,
    pub reverse: bool,
    /// Characters that split the value into parts; empty means `.`.
    pub delimiters: String,
}

/// A piece of a macro string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MacroPart {
    /// Literal text, with `%%`, `%_` and `%-` already replaced by `%`, a space and `%20`.
    Literal(String),
    Expand(MacroExpand),
}

/// Where a macro string appears, which decides the characters and letters it may contain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MacroContext {
    /// A domain-spec or the value of a modifier: visible ASCII, no `c`, `r` or `t`.
    DomainSpec,
    /// The TXT record that an `exp` modifier names: spaces and every letter allowed.
    Explanation,
}

/// A parsed macro string, which keeps its source text for display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MacroString {
    source: String,
    parts: Vec<MacroPart>,
    /// True when the text ends with a macro-expand (`%{..}`, `%%`, `%_` or `%-`), which the
    /// domain-end rule of RFC 7208 section 7.1 accepts in place of a top label.
    ends_with_macro: bool,
}

/// The values that expansion substitutes. `None` marks a value that is not known, as in
/// the static analysis of a record without a client.
#[derive(Debug, Clone, Default)]
pub struct MacroValues<'a> {
    pub sender: Option<&'a str>,
    pub local_part: Option<&'a str>,
    pub sender_domain: Option<&'a str>,
    pub domain: &'a str,
    pub ip: Option<IpAddr>,
    pub validated_name: Option<&'a str>,
    pub helo: Option<&'a str>,
    pub receiver: Option<&'a str>,
    pub timestamp: Option<u64>,
}

impl MacroString {
    /// Parses a macro string (RFC 7208 section 7.1).
    pub fn parse(text: &str, context: MacroContext) -> Result<Self, SpfError> {
        let mut parser = Parser {
            text,
            context,
            parts: Vec::new(),
            literal: String::new(),
            ends_with_macro: false,
        };
        parser.run()?;
        Ok(parser.finish())
    }

    /// Parses a domain-spec: a non-empty macro string that ends with `.` and a top label
    /// (optionally followed by a dot) or with a macro-expand (RFC 7208 section 7.1).
    pub fn parse_domain_spec(text: &str) -> Result<Self, SpfError> {
        if text.is_empty() {
            return Err(SpfError::InvalidDomainSpec {
                text: String::new(),
                reason: "the domain is empty",
            });
        }
        let spec = Self::parse(text, MacroContext::DomainSpec)?;
        if spec.ends_with_macro {
            return Ok(spec);
        }
        let body = text.strip_suffix('.').unwrap_or(text);
        let top_label = match body.rsplit_once('.') {
            Some((_, top_label)) => top_label,
            None => {
                return Err(SpfError::InvalidDomainSpec {
                    text: text.to_string(),
                    reason: "a domain needs at least two labels",
                });
            }
        };
        if !is_top_label(top_label) {
            return Err(SpfError::InvalidDomainSpec {
                text: text.to_string(),
                reason: "the top label must be letters, digits and inner hyphens, not all digits",
            });
        }
        Ok(spec)
    }

    /// Returns the text the string was parsed from.
    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn parts(&self) -> &[MacroPart] {
        &self.parts
    }

    /// True when the string contains no `%{...}` expansion.
    pub fn is_literal(&self) -> bool {
        self.letters().next().is_none()
    }

    /// Lists the letters the string expands, in order.
    pub fn letters(&self) -> impl Iterator<Item = MacroLetter> + '_ {
        self.parts.iter().filter_map(|part| match part {
            MacroPart::Expand(expand) => Some(expand.letter),
            MacroPart::Literal(_) => None,
        })
    }

    /// True when the string expands `letter`.
    pub fn uses(&self, letter: MacroLetter) -> bool {
        self.letters().any(|used| used == letter)
    }

    /// Expands the string, or returns the first letter whose value is unknown.
    pub fn expand(&self, values: &MacroValues<'_>) -> Result<String, MacroLetter> {
        let mut output = String::new();
        for part in &self.parts {
            match part {
                MacroPart::Literal(text) => output.push_str(text),
                MacroPart::Expand(expand) => {
                    let value = letter_value(expand.letter, values).ok_or(expand.letter)?;
                    output.push_str(&transform(&value, expand));
                }
            }
        }
        Ok(output)
    }
}

impl fmt::Display for MacroString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// Turns an expanded domain-spec into a query name: drops the trailing dot and, past 253
/// characters, removes labels from the left (RFC 7208 section 7.3).
pub fn query_name(expanded: &str) -> String {
    let mut name = expanded.strip_suffix('.').unwrap_or(expanded);
    while name.len() > MAX_DOMAIN_LENGTH {
        match name.split_once('.') {
            Some((_, rest)) => name = rest,
            None => break,
        }
    }
    name.to_string()
}

/// Checks the label lengths of a query name: no empty label, none longer than 63 octets, and
/// at most 253 characters in all.
pub fn is_valid_query_name(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    !name.is_empty()
        && name.len() <= MAX_DOMAIN_LENGTH
        && name
            .split('.')
            .all(|label| !label.is_empty() && label.len() <= 63)
}

/// Checks the top label rule of RFC 7208 section 7.1: alphanumerics and inner hyphens, with
/// a letter or a hyphen somewhere, so that a numeric top label (an IP address) is rejected.
fn is_top_label(label: &str) -> bool {
    let bytes = label.as_bytes();
    let (Some(first), Some(last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    let allowed = bytes
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || *b == b'-');
    let has_letter_or_hyphen = bytes.iter().any(|b| b.is_ascii_alphabetic() || *b == b'-');
    allowed && has_letter_or_hyphen && first.is_ascii_alphanumeric() && last.is_ascii_alphanumeric()
}

struct Parser<'a> {
    text: &'a str,
    context: MacroContext,
    parts: Vec<MacroPart>,
    literal: String,
    ends_with_macro: bool,
}

impl Parser<'_> {
    fn run(&mut self) -> Result<(), SpfError> {
        let mut chars = self.text.chars();
        while let Some(c) = chars.next() {
            if c != '%' {
                self.check_literal(c)?;
                self.literal.push(c);
                self.ends_with_macro = false;
                continue;
            }
            match chars.next() {
                Some('%') => self.literal.push('%'),
                Some('_') => self.literal.push(' '),
                Some('-') => self.literal.push_str("%20"),
                Some('{') => {
                    let body = take_until_brace(&mut chars)
                        .ok_or_else(|| self.error("a '%{' has no closing '}'"))?;
                    let expand = self.parse_expand(&body)?;
                    self.flush_literal();
                    self.parts.push(MacroPart::Expand(expand));
                }
                Some(_) => return Err(self.error("a '%' must be followed by '{', '%', '_' or '-'")),
                None => return Err(self.error("the text ends with a lone '%'")),
            }
            self.ends_with_macro = true;
        }
        Ok(())
    }

    fn finish(mut self) -> MacroString {
        self.flush_literal();
        MacroString {
            source: self.text.to_string(),
            parts: self.parts,
            ends_with_macro: self.ends_with_macro,
        }
    }

    fn flush_literal(&mut self) {
        if !self.literal.is_empty() {
            self.parts
                .push(MacroPart::Literal(std::mem::take(&mut self.literal)));
        }
    }

    /// RFC 7208 section 7.1: macro-literal is visible ASCII other than `%`; explanation text
    /// also allows spaces.
    fn check_literal(&self, c: char) -> Result<(), SpfError> {
        let visible = ('!'..='~').contains(&c);
        let space = c == ' ' && self.context == MacroContext::Explanation;
        if visible || space {
            return Ok(());
        }
        Err(SpfError::InvalidCharacter {
            text: self.text.to_string(),
            character: c,
        })
    }

    /// Parses the inside of `%{...}`: letter, digits, `r`, delimiters.
    fn parse_expand(&self, body: &str) -> Result<MacroExpand, SpfError> {
        let mut chars = body.chars().peekable();
        let first = chars
            .next()
            .ok_or_else(|| self.error("'%{}' has no macro letter"))?;
        let letter =
            MacroLetter::from_char(first).ok_or_else(|| self.error("unknown macro letter"))?;
        if letter.is_explanation_only() && self.context == MacroContext::DomainSpec {
            return Err(self.error("the macro letters c, r and t are allowed only in explanations"));
        }
        let mut digits = String::new();
        while let Some(digit) = chars.next_if(char::is_ascii_digit) {
            digits.push(digit);
        }
        let keep = match digits.as_str() {
            "" => None,
            // RFC 7208 section 7.3: the digit transformer must be nonzero.
            text if text.bytes().all(|b| b == b'0') => {
                return Err(self.error("the digit transformer must not be zero"));
            }
            text => Some(text.parse::<u32>().unwrap_or(u32::MAX)),
        };
        let reverse = chars.next_if(|c| c.eq_ignore_ascii_case(&'r')).is_some();
        let delimiters: String = chars.collect();
        if !delimiters.chars().all(|c| ".-+,/_=".contains(c)) {
            return Err(self.error("invalid delimiter: expected . - + , / _ or ="));
        }
        Ok(MacroExpand {
            letter,
            url_escape: first.is_ascii_uppercase(),
            keep,
            reverse,
            delimiters,
        })
    }

    fn error(&self, reason: &'static str) -> SpfError {
        SpfError::InvalidMacro {
            text: self.text.to_string(),
            reason,
        }
    }
}

/// Collects the characters up to the next `}`, consuming it; `None` when there is none.
fn take_until_brace(chars: &mut std::str::Chars<'_>) -> Option<String> {
    let mut body = String::new();
    for c in chars.by_ref() {
        if c == '}' {
            return Some(body);
        }
        body.push(c);
    }
    None
}

fn letter_value(letter: MacroLetter, values: &MacroValues<'_>) -> Option<String> {
    let text = match letter {
        MacroLetter::Sender => values.sender?.to_string(),
        MacroLetter::LocalPart => values.local_part?.to_string(),
        MacroLetter::SenderDomain => values.sender_domain?.to_string(),
        MacroLetter::Domain => values.domain.to_string(),
        MacroLetter::Ip => dotted_ip(values.ip?),
        // RFC 7208 section 7.3: "unknown" when no name validates.
        MacroLetter::ValidatedName => values.validated_name.unwrap_or("unknown").to_string(),
        MacroLetter::IpVersion => match values.ip? {
            IpAddr::V4(_) => "in-addr".to_string(),
            IpAddr::V6(_) => "ip6".to_string(),
        },
        MacroLetter::Helo => values.helo?.to_string(),
        MacroLetter::ClientIp => values.ip?.to_string(),
        MacroLetter::Receiver => values.receiver?.to_string(),
        MacroLetter::Timestamp => values.timestamp?.to_string(),
    };
    // The validated name is looked up only when the client address is known.
    if letter == MacroLetter::ValidatedName && values.ip.is_none() {
        return None;
    }
    Some(text)
}

/// Formats `%{i}`: dotted decimal for IPv4, 32 dot-separated nibbles for IPv6 (RFC 7208
/// section 7.3). Nibbles are uppercase, as the openspf suite expects.
fn dotted_ip(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let nibbles: Vec<String> = v6
                .octets()
                .iter()
                .flat_map(|octet| [octet >> 4, octet & 0x0f])
                .map(|nibble| format!("{nibble:X}"))
                .collect();
            nibbles.join(".")
        }
    }
}

/// Applies the transformers of RFC 7208 section 7.3: split on the delimiters, reverse if
/// asked, keep the right-hand parts, join with dots, then URL-escape for uppercase letters.
fn transform(value: &str, expand: &MacroExpand) -> String {
    let delimiters = if expand.delimiters.is_empty() {
        "."
    } else {
        expand.delimiters.as_str()
    };
    let mut parts: Vec<&str> = value.split(|c| delimiters.contains(c)).collect();
    if expand.reverse {
        parts.reverse();
    }
    if let Some(keep) = expand.keep {
        let keep = usize::try_from(keep).unwrap_or(usize::MAX);
        let skip = parts.len().saturating_sub(keep);
        parts.drain(..skip);
    }
    let joined = parts.join(".");
    if expand.url_escape {
        url_escape(&joined)
    } else {
        joined
    }
}

/// Escapes every byte outside the unreserved set of RFC 3986 as `%XX`.
fn url_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            escaped.push(char::from(byte));
        } else {
            escaped.push_str(&format!("%{byte:02X}"));
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn values(ip: IpAddr) -> MacroValues<'static> {
        MacroValues {
            sender: Some("strong-bad@email.example.com"),
            local_part: Some("strong-bad"),
            sender_domain: Some("email.example.com"),
            domain: "email.example.com",
            ip: Some(ip),
            validated_name: None,
            helo: Some("mx.example.org"),
            receiver: Some("receiver.example.net"),
            timestamp: Some(1_700_000_000),
        }
    }

    fn expand(text: &str, ip: IpAddr) -> String {
        let parsed = MacroString::parse(text, MacroContext::Explanation).unwrap();
        parsed.expand(&values(ip)).unwrap()
    }

    #[test]
    fn rfc_examples_ipv4() {
        let ip = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 3));
        let cases = [
            ("%{s}", "strong-bad@email.example.com"),
            ("%{o}", "email.example.com"),
            ("%{d}", "email.example.com"),
            ("%{d4}", "email.example.com"),
            ("%{d3}", "email.example.com"),
            ("%{d2}", "example.com"),
            ("%{d1}", "com"),
            ("%{dr}", "com.example.email"),
            ("%{d2r}", "example.email"),
            ("%{l}", "strong-bad"),
            ("%{l-}", "strong.bad"),
            ("%{lr}", "strong-bad"),
            ("%{lr-}", "bad.strong"),
            ("%{l1r-}", "strong"),
            (
                "%{ir}.%{v}._spf.%{d2}",
                "3.2.0.192.in-addr._spf.example.com",
            ),
            ("%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com"),
            (
                "%{d2}.trusted-domains.example.net",
                "example.com.trusted-domains.example.net",
            ),
            ("%{c} at %{t}", "192.0.2.3 at 1700000000"),
            ("%{p}", "unknown"),
        ];
        for (text, expected) in cases {
            assert_eq!(expand(text, ip), expected, "{text}");
        }
    }

    #[test]
    fn ipv6_dotted_nibbles() {
        let ip: IpAddr = "2001:db8::cb01".parse().unwrap();
        assert_eq!(
            expand("%{ir}.%{v}._spf.%{d2}", ip),
            "1.0.B.C.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.B.D.0.1.0.0.2.ip6._spf.example.com"
        );
        assert_eq!(expand("%{c}", ip), "2001:db8::cb01");
    }

    #[test]
    fn escapes_and_url_encoding() {
        let ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
        assert_eq!(expand("a%%b%_c%-d", ip), "a%b c%20d");
        assert_eq!(expand("%{L}", ip), "strong-bad");
        let parsed = MacroString::parse("%{L}", MacroContext::DomainSpec).unwrap();
        let mut odd = values(ip);
        odd.local_part = Some("~jack&jill=up");
        assert_eq!(parsed.expand(&odd).unwrap(), "~jack%26jill%3Dup");
    }

    #[test]
    fn malformed_macros_are_rejected() {
        let bad = [
            "%(ir).sbl.example.com",
            "foo%.sbl.example.com",
            "trailing%",
            "%{a}.example.com",
            "%{d0}.example.com",
            "%{d2x}.example.com",
            "%{d.example.com",
            "%{}",
            "%{r}.example.com",
            "%{c}.example.com",
            "%{t}.example.com",
            "space here",
            "nul\0byte",
        ];
        for text in bad {
            assert!(
                MacroString::parse(text, MacroContext::DomainSpec).is_err(),
                "{text:?} was accepted"
            );
        }
    }

    #[test]
    fn domain_spec_end_rule() {
        let good = [
            "example.com",
            "example.com.",
            "%{d}",
            "_spf.%{d2}",
            "foo.xn--zckzah",
            "a.1-2",
        ];
        for text in good {
            assert!(
                MacroString::parse_domain_spec(text).is_ok(),
                "{text:?} was rejected"
            );
        }
        let bad = [
            "",
            "foo-bar",
            "museum",
            "museum.",
            "abc.123",
            "1.2.3.4",
            "example.-com",
            "a.com:80",
        ];
        for text in bad {
            assert!(
                MacroString::parse_domain_spec(text).is_err(),
                "{text:?} was accepted"
            );
        }
    }

    #[test]
    fn long_names_lose_left_labels() {
        let long = format!("{}.example.com", ["abcdefghij"; 30].join("."));
        let name = query_name(&long);
        assert!(name.len() <= 253);
        assert!(name.ends_with(".example.com"));
        assert!(long.ends_with(&name));
        assert_eq!(query_name("example.com."), "example.com");
    }

    #[test]
    fn query_name_validity() {
        assert!(is_valid_query_name("a.example.com"));
        assert!(!is_valid_query_name("mail.example...com"));
        assert!(!is_valid_query_name(&format!("{}.com", "a".repeat(64))));
        assert!(!is_valid_query_name(""));
    }

    #[test]
    fn unknown_values_name_the_letter() {
        let parsed = MacroString::parse("%{i}._spf.%{d}", MacroContext::DomainSpec).unwrap();
        let domain_only = MacroValues {
            domain: "example.com",
            ..MacroValues::default()
        };
        assert_eq!(parsed.expand(&domain_only), Err(MacroLetter::Ip));
        assert!(!parsed.is_literal());
        assert!(parsed.uses(MacroLetter::Domain));
    }
}
