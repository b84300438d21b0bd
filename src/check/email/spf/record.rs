//! SPF records (RFC 7208 sections 4.5, 4.6, 5 and 6): selection among TXT records, parsing
//! into terms, and the warnings a record deserves.
//!
//! The parser is strict: any term that does not match the ABNF of RFC 7208 section 12 makes
//! the whole record a permerror, wherever it appears (section 4.6).

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::{Ipv4Net, Ipv6Net};

use super::macros::{MacroContext, MacroString};

/// A syntax error in an SPF record, which makes its evaluation a permerror.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpfError {
    #[error("the {modifier}= modifier appears more than once")]
    DuplicateModifier { modifier: &'static str },
    #[error("invalid CIDR length in {term:?}: expected /0 to /32 for IPv4, //0 to //128 for IPv6")]
    InvalidCidr { term: String },
    #[error("invalid character {character:?} in {text:?}")]
    InvalidCharacter { text: String, character: char },
    #[error("invalid domain {text:?}: {reason}")]
    InvalidDomainSpec { text: String, reason: &'static str },
    #[error("invalid IPv4 address in {term:?}")]
    InvalidIp4 { term: String },
    #[error("invalid IPv6 address in {term:?}")]
    InvalidIp6 { term: String },
    #[error("invalid macro in {text:?}: {reason}")]
    InvalidMacro { text: String, reason: &'static str },
    #[error("{term:?} needs an argument after ':'")]
    MissingArgument { term: String },
    #[error("the record contains a non-ASCII character")]
    NonAscii,
    #[error("not an SPF record: the text does not start with \"v=spf1\" and a space")]
    NotSpf,
    #[error("unexpected argument in {term:?}")]
    UnexpectedArgument { term: String },
    #[error("unknown mechanism in {term:?}")]
    UnknownMechanism { term: String },
}

impl SpfError {
    /// Returns the machine-readable name of the error, in snake case.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::DuplicateModifier { .. } => "duplicate_modifier",
            Self::InvalidCidr { .. } => "invalid_cidr",
            Self::InvalidCharacter { .. } => "invalid_character",
            Self::InvalidDomainSpec { .. } => "invalid_domain_spec",
            Self::InvalidIp4 { .. } => "invalid_ip4",
            Self::InvalidIp6 { .. } => "invalid_ip6",
            Self::InvalidMacro { .. } => "invalid_macro",
            Self::MissingArgument { .. } => "missing_argument",
            Self::NonAscii => "non_ascii",
            Self::NotSpf => "not_spf",
            Self::UnexpectedArgument { .. } => "unexpected_argument",
            Self::UnknownMechanism { .. } => "unknown_mechanism",
        }
    }
}

/// The qualifier of a directive, and the result it gives on a match (RFC 7208 section 4.6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Qualifier {
    Pass,
    Fail,
    SoftFail,
    Neutral,
}

impl Qualifier {
    pub fn as_char(self) -> char {
        match self {
            Self::Pass => '+',
            Self::Fail => '-',
            Self::SoftFail => '~',
            Self::Neutral => '?',
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Fail => "fail",
            Self::SoftFail => "softfail",
            Self::Neutral => "neutral",
        }
    }

    fn from_char(c: char) -> Option<Self> {
        match c {
            '+' => Some(Self::Pass),
            '-' => Some(Self::Fail),
            '~' => Some(Self::SoftFail),
            '?' => Some(Self::Neutral),
            _ => None,
        }
    }
}

/// The prefix lengths of `a` and `mx` (RFC 7208 section 5.6): `/ip4` and `//ip6`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DualCidr {
    pub ip4: u8,
    pub ip6: u8,
}

impl Default for DualCidr {
    fn default() -> Self {
        Self { ip4: 32, ip6: 128 }
    }
}

/// A mechanism (RFC 7208 section 5). A missing domain-spec means the current domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mechanism {
    All,
    Include(MacroString),
    A {
        domain: Option<MacroString>,
        cidr: DualCidr,
    },
    Mx {
        domain: Option<MacroString>,
        cidr: DualCidr,
    },
    Ptr(Option<MacroString>),
    Ip4(Ipv4Net),
    Ip6(Ipv6Net),
    Exists(MacroString),
}

impl Mechanism {
    /// True for the mechanisms that count towards the limit of 10 DNS-querying terms.
    pub fn queries_dns(&self) -> bool {
        !matches!(self, Self::All | Self::Ip4(_) | Self::Ip6(_))
    }
}

/// A qualifier and a mechanism.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    pub qualifier: Qualifier,
    pub mechanism: Mechanism,
}

/// A modifier (RFC 7208 section 6). Unknown modifiers are kept and ignored by evaluation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Modifier {
    Redirect(MacroString),
    Explanation(MacroString),
    Unknown { name: String, value: MacroString },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Term {
    Directive(Directive),
    Modifier(Modifier),
}

/// Something legal but risky in a record or at a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Warning {
    /// `ptr` is deprecated (RFC 7208 section 5.5): slow, unreliable, and a load on DNS.
    PtrMechanism,
    /// `+all` or `all` passes every client on the internet.
    PassAll,
    /// `redirect=` has no effect because the record has `all` (RFC 7208 section 6.1).
    RedirectIgnored,
    /// An `spf2.0/...` (Sender ID) record is published beside or instead of SPF.
    DeprecatedSpf2Record,
}

impl Warning {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PtrMechanism => "ptr_mechanism",
            Self::PassAll => "pass_all",
            Self::RedirectIgnored => "redirect_ignored",
            Self::DeprecatedSpf2Record => "deprecated_spf2_record",
        }
    }
}

/// A parsed SPF record: its terms in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub terms: Vec<Term>,
}

impl Record {
    pub fn directives(&self) -> impl Iterator<Item = &Directive> {
        self.terms.iter().filter_map(|term| match term {
            Term::Directive(directive) => Some(directive),
            Term::Modifier(_) => None,
        })
    }

    /// Returns the qualifier of the first `all` directive.
    pub fn all(&self) -> Option<Qualifier> {
        self.directives()
            .find(|directive| directive.mechanism == Mechanism::All)
            .map(|directive| directive.qualifier)
    }

    pub fn redirect(&self) -> Option<&MacroString> {
        self.terms.iter().find_map(|term| match term {
            Term::Modifier(Modifier::Redirect(target)) => Some(target),
            _ => None,
        })
    }

    pub fn explanation(&self) -> Option<&MacroString> {
        self.terms.iter().find_map(|term| match term {
            Term::Modifier(Modifier::Explanation(target)) => Some(target),
            _ => None,
        })
    }

    /// Lists the warnings the record itself deserves. `DeprecatedSpf2Record` comes from
    /// [`has_spf2_record`] instead.
    pub fn warnings(&self) -> Vec<Warning> {
        let mut warnings = Vec::new();
        let uses_ptr = self
            .directives()
            .any(|directive| matches!(directive.mechanism, Mechanism::Ptr(_)));
        if uses_ptr {
            warnings.push(Warning::PtrMechanism);
        }
        if self.all() == Some(Qualifier::Pass) {
            warnings.push(Warning::PassAll);
        }
        if self.all().is_some() && self.redirect().is_some() {
            warnings.push(Warning::RedirectIgnored);
        }
        warnings
    }
}

/// True when a TXT record is an SPF record: `v=spf1`, in any case, then a space or the end
/// (RFC 7208 section 4.5), so `v=spf10` is not one.
pub fn is_spf_record(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() >= 6
        && bytes[..6].eq_ignore_ascii_case(b"v=spf1")
        && bytes.get(6).is_none_or(|b| *b == b' ')
}

/// Selects the SPF records among the TXT records at one name. One means evaluate it, none
/// means the result `none`, more than one means permerror (RFC 7208 section 4.5).
pub fn select_records(txt: &[String]) -> Vec<&str> {
    txt.iter()
        .map(String::as_str)
        .filter(|text| is_spf_record(text))
        .collect()
}

/// True when some TXT record is a Sender ID record (`spf2.0/...`, RFC 4406), which SPF
/// ignores.
pub fn has_spf2_record(txt: &[String]) -> bool {
    txt.iter().any(|text| {
        let bytes = text.as_bytes();
        bytes.len() >= 7 && bytes[..7].eq_ignore_ascii_case(b"spf2.0/")
    })
}

/// Parses one SPF record, the strings of its TXT record already joined.
pub fn parse(text: &str) -> Result<Record, SpfError> {
    if !is_spf_record(text) {
        return Err(SpfError::NotSpf);
    }
    // RFC 7208 section 3.1: records are 7-bit ASCII.
    if !text.is_ascii() {
        return Err(SpfError::NonAscii);
    }
    let mut terms = Vec::new();
    let mut seen_redirect = false;
    let mut seen_explanation = false;
    // RFC 7208 section 12: terms are separated by one or more spaces (SP only).
    for token in text[6..].split(' ').filter(|token| !token.is_empty()) {
        let term = parse_term(token)?;
        // RFC 7208 section 6: redirect and exp may each appear once.
        match &term {
            Term::Modifier(Modifier::Redirect(_))
                if std::mem::replace(&mut seen_redirect, true) =>
            {
                return Err(SpfError::DuplicateModifier {
                    modifier: "redirect",
                });
            }
            Term::Modifier(Modifier::Explanation(_))
                if std::mem::replace(&mut seen_explanation, true) =>
            {
                return Err(SpfError::DuplicateModifier { modifier: "exp" });
            }
            _ => {}
        }
        terms.push(term);
    }
    Ok(Record { terms })
}

fn parse_term(token: &str) -> Result<Term, SpfError> {
    if let Some((name, value)) = token.split_once('=')
        && is_modifier_name(name)
    {
        return parse_modifier(name, value).map(Term::Modifier);
    }
    parse_directive(token).map(Term::Directive)
}

/// RFC 7208 section 12: name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." ).
fn is_modifier_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

fn parse_modifier(name: &str, value: &str) -> Result<Modifier, SpfError> {
    match name.to_ascii_lowercase().as_str() {
        "redirect" => MacroString::parse_domain_spec(value).map(Modifier::Redirect),
        "exp" => MacroString::parse_domain_spec(value).map(Modifier::Explanation),
        _ => Ok(Modifier::Unknown {
            name: name.to_string(),
            value: MacroString::parse(value, MacroContext::DomainSpec)?,
        }),
    }
}

fn parse_directive(token: &str) -> Result<Directive, SpfError> {
    let mut chars = token.chars();
    let (qualifier, body) = match chars.next().and_then(Qualifier::from_char) {
        Some(qualifier) => (qualifier, chars.as_str()),
        None => (Qualifier::Pass, token),
    };
    let name_end = body.find([':', '/']).unwrap_or(body.len());
    let (name, argument) = body.split_at(name_end);
    let mechanism = match name.to_ascii_lowercase().as_str() {
        "all" if argument.is_empty() => Mechanism::All,
        "all" => return Err(unexpected(token)),
        "include" => Mechanism::Include(required_domain(argument, token)?),
        "exists" => Mechanism::Exists(required_domain(argument, token)?),
        "ptr" => Mechanism::Ptr(optional_domain(argument, token)?),
        "a" => {
            let (rest, cidr) = split_dual_cidr(argument, token)?;
            let domain = optional_domain(rest, token)?;
            Mechanism::A { domain, cidr }
        }
        "mx" => {
            let (rest, cidr) = split_dual_cidr(argument, token)?;
            let domain = optional_domain(rest, token)?;
            Mechanism::Mx { domain, cidr }
        }
        "ip4" => Mechanism::Ip4(parse_ip4(argument, token)?),
        "ip6" => Mechanism::Ip6(parse_ip6(argument, token)?),
        _ => {
            return Err(SpfError::UnknownMechanism {
                term: token.to_string(),
            });
        }
    };
    Ok(Directive {
        qualifier,
        mechanism,
    })
}

fn unexpected(token: &str) -> SpfError {
    SpfError::UnexpectedArgument {
        term: token.to_string(),
    }
}

fn missing(token: &str) -> SpfError {
    SpfError::MissingArgument {
        term: token.to_string(),
    }
}

/// `":" domain-spec`, required.
fn required_domain(argument: &str, token: &str) -> Result<MacroString, SpfError> {
    match argument.strip_prefix(':') {
        Some(spec) => MacroString::parse_domain_spec(spec),
        None if argument.is_empty() => Err(missing(token)),
        None => Err(unexpected(token)),
    }
}

/// `[ ":" domain-spec ]`.
fn optional_domain(argument: &str, token: &str) -> Result<Option<MacroString>, SpfError> {
    if argument.is_empty() {
        return Ok(None);
    }
    required_domain(argument, token).map(Some)
}

/// Splits `[ ip4-cidr-length ] [ "/" ip6-cidr-length ]` off the end of an `a` or `mx`
/// argument, so that a slash inside the domain-spec (legal in macro-literal) stays there.
fn split_dual_cidr<'a>(argument: &'a str, token: &str) -> Result<(&'a str, DualCidr), SpfError> {
    let mut rest = argument;
    let mut cidr = DualCidr::default();
    if let Some((before, digits)) = rest.rsplit_once("//")
        && is_digits(digits)
    {
        cidr.ip6 = cidr_length(digits, 128, token)?;
        rest = before;
    }
    if let Some((before, digits)) = rest.rsplit_once('/')
        && is_digits(digits)
    {
        cidr.ip4 = cidr_length(digits, 32, token)?;
        rest = before;
    }
    Ok((rest, cidr))
}

fn is_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

/// RFC 7208 section 12: a CIDR length has no leading zero and is at most `max`.
fn cidr_length(digits: &str, max: u8, token: &str) -> Result<u8, SpfError> {
    let invalid = || SpfError::InvalidCidr {
        term: token.to_string(),
    };
    if !is_digits(digits) || (digits.len() > 1 && digits.starts_with('0')) || digits.len() > 3 {
        return Err(invalid());
    }
    let length: u8 = digits.parse().map_err(|_| invalid())?;
    if length > max {
        return Err(invalid());
    }
    Ok(length)
}

fn parse_ip4(argument: &str, token: &str) -> Result<Ipv4Net, SpfError> {
    let network = argument.strip_prefix(':').ok_or_else(|| missing(token))?;
    let (address, length) = match network.split_once('/') {
        Some((address, digits)) => (address, cidr_length(digits, 32, token)?),
        None => (network, 32),
    };
    let invalid = || SpfError::InvalidIp4 {
        term: token.to_string(),
    };
    let address: Ipv4Addr = address.parse().map_err(|_| invalid())?;
    Ipv4Net::new(address, length).map_err(|_| invalid())
}

fn parse_ip6(argument: &str, token: &str) -> Result<Ipv6Net, SpfError> {
    let network = argument.strip_prefix(':').ok_or_else(|| missing(token))?;
    let (address, length) = match network.split_once('/') {
        Some((address, digits)) => (address, cidr_length(digits, 128, token)?),
        None => (network, 128),
    };
    let invalid = || SpfError::InvalidIp6 {
        term: token.to_string(),
    };
    let address: Ipv6Addr = address.parse().map_err(|_| invalid())?;
    Ipv6Net::new(address, length).map_err(|_| invalid())
}

impl fmt::Display for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("v=spf1")?;
        for term in &self.terms {
            write!(f, " {term}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Directive(directive) => directive.fmt(f),
            Self::Modifier(modifier) => modifier.fmt(f),
        }
    }
}

impl fmt::Display for Directive {
    /// Writes the directive with its qualifier only when it is not `+`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.qualifier != Qualifier::Pass {
            write!(f, "{}", self.qualifier.as_char())?;
        }
        self.mechanism.fmt(f)
    }
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::All => f.write_str("all"),
            Self::Include(domain) => write!(f, "include:{domain}"),
            Self::A { domain, cidr } => write_host_mechanism(f, "a", domain.as_ref(), *cidr),
            Self::Mx { domain, cidr } => write_host_mechanism(f, "mx", domain.as_ref(), *cidr),
            Self::Ptr(None) => f.write_str("ptr"),
            Self::Ptr(Some(domain)) => write!(f, "ptr:{domain}"),
            Self::Ip4(network) if network.prefix_len() == 32 => write!(f, "ip4:{}", network.addr()),
            Self::Ip4(network) => write!(f, "ip4:{network}"),
            Self::Ip6(network) if network.prefix_len() == 128 => {
                write!(f, "ip6:{}", network.addr())
            }
            Self::Ip6(network) => write!(f, "ip6:{network}"),
            Self::Exists(domain) => write!(f, "exists:{domain}"),
        }
    }
}

fn write_host_mechanism(
    f: &mut fmt::Formatter<'_>,
    name: &str,
    domain: Option<&MacroString>,
    cidr: DualCidr,
) -> fmt::Result {
    f.write_str(name)?;
    if let Some(domain) = domain {
        write!(f, ":{domain}")?;
    }
    if cidr.ip4 != 32 {
        write!(f, "/{}", cidr.ip4)?;
    }
    if cidr.ip6 != 128 {
        write!(f, "//{}", cidr.ip6)?;
    }
    Ok(())
}

impl fmt::Display for Modifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Redirect(target) => write!(f, "redirect={target}"),
            Self::Explanation(target) => write!(f, "exp={target}"),
            Self::Unknown { name, value } => write!(f, "{name}={value}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn single(text: &str) -> Directive {
        let record = parse(&format!("v=spf1 {text}")).unwrap();
        record.directives().next().unwrap().clone()
    }

    #[test]
    fn selection_needs_space_or_end() {
        assert!(is_spf_record("v=spf1"));
        assert!(is_spf_record("V=SpF1 -all"));
        assert!(!is_spf_record("v=spf10"));
        assert!(!is_spf_record("v=spf1mx"));
        assert!(!is_spf_record("spf2.0/pra -all"));
        let txt = vec![
            "google-site-verification=abc".to_string(),
            "v=spf1 -all".to_string(),
            "spf2.0/mfrom,pra -all".to_string(),
        ];
        assert_eq!(select_records(&txt), ["v=spf1 -all"]);
        assert!(has_spf2_record(&txt));
        assert!(!has_spf2_record(&txt[..2]));
    }

    #[test]
    fn dual_cidr_forms() {
        let cases = [
            ("a", 32, 128),
            ("a/24", 24, 128),
            ("a//64", 32, 64),
            ("a/24//64", 24, 64),
            ("mx:example.com/0//0", 0, 0),
            ("a:foo.example.com/24", 24, 128),
        ];
        for (text, ip4, ip6) in cases {
            let directive = single(text);
            let (Mechanism::A { cidr, .. } | Mechanism::Mx { cidr, .. }) = directive.mechanism
            else {
                panic!("{text} is not a or mx");
            };
            assert_eq!(cidr, DualCidr { ip4, ip6 }, "{text}");
        }
    }

    #[test]
    fn slash_inside_domain_stays() {
        let directive = single("a:foo:bar/baz.example.com");
        let Mechanism::A { domain, cidr } = directive.mechanism else {
            panic!("not an a mechanism");
        };
        assert_eq!(domain.unwrap().source(), "foo:bar/baz.example.com");
        assert_eq!(cidr, DualCidr::default());
    }

    #[test]
    fn syntax_errors_are_named() {
        type Check = fn(&SpfError) -> bool;
        let cases: [(&str, Check); 22] = [
            ("a/33", |e| matches!(e, SpfError::InvalidCidr { .. })),
            ("a//129", |e| matches!(e, SpfError::InvalidCidr { .. })),
            ("a/24/64", |e| matches!(e, SpfError::InvalidCidr { .. })),
            ("ip4:1.2.3.4/032", |e| {
                matches!(e, SpfError::InvalidCidr { .. })
            }),
            ("ip4:1.2.3.4//32", |e| {
                matches!(e, SpfError::InvalidCidr { .. })
            }),
            ("ip4:1.2.3", |e| matches!(e, SpfError::InvalidIp4 { .. })),
            ("ip4:1.2.3.4:8080", |e| {
                matches!(e, SpfError::InvalidIp4 { .. })
            }),
            ("ip6::CAFE::BABE", |e| {
                matches!(e, SpfError::InvalidIp6 { .. })
            }),
            ("ip4", |e| matches!(e, SpfError::MissingArgument { .. })),
            ("exists", |e| matches!(e, SpfError::MissingArgument { .. })),
            ("include", |e| matches!(e, SpfError::MissingArgument { .. })),
            ("include:", |e| {
                matches!(e, SpfError::InvalidDomainSpec { .. })
            }),
            ("ptr/0", |e| {
                matches!(e, SpfError::UnexpectedArgument { .. })
            }),
            ("-all.", |e| matches!(e, SpfError::UnknownMechanism { .. })),
            ("-all:foo", |e| {
                matches!(e, SpfError::UnexpectedArgument { .. })
            }),
            ("moo", |e| matches!(e, SpfError::UnknownMechanism { .. })),
            ("redirect:example.com", |e| {
                matches!(e, SpfError::UnknownMechanism { .. })
            }),
            ("1up=foo", |e| {
                matches!(e, SpfError::UnknownMechanism { .. })
            }),
            ("foo=%abc", |e| matches!(e, SpfError::InvalidMacro { .. })),
            ("a:ctrl.example.com\rptr", |e| {
                matches!(e, SpfError::InvalidCharacter { .. })
            }),
            ("exp=e.example.com exp=f.example.com", |e| {
                matches!(e, SpfError::DuplicateModifier { modifier: "exp" })
            }),
            ("exists:%{r}.example.com", |e| {
                matches!(e, SpfError::InvalidMacro { .. })
            }),
        ];
        for (text, is_expected) in cases {
            let error = parse(&format!("v=spf1 {text}")).unwrap_err();
            assert!(is_expected(&error), "{text:?} gave {error:?}");
        }
        assert_eq!(
            parse("v=spf1 a:\u{fe}x.example.com"),
            Err(SpfError::NonAscii)
        );
        assert_eq!(parse("v=spf10"), Err(SpfError::NotSpf));
    }

    #[test]
    fn modifiers_and_unknown_modifiers() {
        let record =
            parse("v=spf1 mx redirect=_spf.example.com moo.cow-far_out=man:dog/cat").unwrap();
        assert_eq!(record.redirect().unwrap().source(), "_spf.example.com");
        assert_eq!(record.all(), None);
        let Term::Modifier(Modifier::Unknown { name, value }) = &record.terms[2] else {
            panic!("the third term is not an unknown modifier");
        };
        assert_eq!(name, "moo.cow-far_out");
        assert_eq!(value.source(), "man:dog/cat");
    }

    #[test]
    fn display_round_trips() {
        let text = "v=spf1 ip4:192.0.2.0/24 ip4:198.51.100.7 a/24//64 -mx:example.com \
                    ~include:_spf.%{d2} ?exists:%{ir}.x.example.com ptr redirect=b.example.com";
        assert_eq!(parse(text).unwrap().to_string(), text);
    }

    #[test]
    fn warnings() {
        let record = parse("v=spf1 ptr +all redirect=example.com").unwrap();
        assert_eq!(
            record.warnings(),
            [
                Warning::PtrMechanism,
                Warning::PassAll,
                Warning::RedirectIgnored
            ]
        );
        assert!(parse("v=spf1 mx -all").unwrap().warnings().is_empty());
        assert_eq!(parse("v=spf1 all").unwrap().warnings(), [Warning::PassAll]);
    }

    #[test]
    fn multiple_spaces_and_case() {
        let record = parse("V=SPF1  A   -ALL ").unwrap();
        assert_eq!(record.terms.len(), 2);
        assert_eq!(record.all(), Some(Qualifier::Fail));
    }
}
