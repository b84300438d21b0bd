//! Server software disclosure: the products named in `Server`, `X-Powered-By`,
//! `X-AspNet-Version`, `X-AspNetMvc-Version`, `X-Generator` and `Via`, with their versions
//! and operating systems. CDN and proxy banners are kept apart from the origin's software,
//! and a disclosed version is checked against end-of-life dates.
//!
//! `Server` follows the product grammar of RFC 9110 section 10.2.4 (`product/version`
//! tokens and `(comment)`s), which real servers bend: some put a space before the version
//! (`X-Generator: Drupal 10`), so a bare version after a product is read as its version.
//! The end-of-life data is `datasets/eol.toml`, embedded at build time.

use std::sync::OnceLock;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// A response header that can name software.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DisclosureHeader {
    Server,
    XPoweredBy,
    XAspNetVersion,
    XAspNetMvcVersion,
    XGenerator,
    Via,
}

impl DisclosureHeader {
    pub const ALL: [DisclosureHeader; 6] = [
        Self::Server,
        Self::XPoweredBy,
        Self::XAspNetVersion,
        Self::XAspNetMvcVersion,
        Self::XGenerator,
        Self::Via,
    ];

    /// Returns the header name, lowercase as `http::HeaderName` stores it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Server => "server",
            Self::XPoweredBy => "x-powered-by",
            Self::XAspNetVersion => "x-aspnet-version",
            Self::XAspNetMvcVersion => "x-aspnetmvc-version",
            Self::XGenerator => "x-generator",
            Self::Via => "via",
        }
    }
}

/// The kind of software behind a banner: the origin's own software, or a service in front of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Origin,
    /// A content delivery network or hosting platform that serves responses for the origin.
    Cdn,
    /// A caching or forwarding proxy (Varnish, Squid, a Via hop).
    Proxy,
}

/// One product named in a header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Product {
    pub header: DisclosureHeader,
    pub name: String,
    pub version: Option<String>,
    /// The operating system named in a comment, such as `Ubuntu` in `Apache/2.4.41 (Ubuntu)`.
    pub os: Option<String>,
    /// Comments that are not an operating system, without their parentheses.
    pub comments: Vec<String>,
    pub role: Role,
    /// The service a CDN or proxy banner belongs to, such as `Cloudflare`.
    pub provider: Option<&'static str>,
}

impl Product {
    /// Whether the product discloses a version of the origin's software: a version with a
    /// digit, on a product that is not a CDN or proxy banner.
    pub fn discloses_version(&self) -> bool {
        self.role == Role::Origin
            && self
                .version
                .as_deref()
                .is_some_and(|version| version.bytes().any(|byte| byte.is_ascii_digit()))
    }
}

/// Parses one header value into its products. Empty values give no product.
pub fn parse(header: DisclosureHeader, value: &str) -> Vec<Product> {
    match header {
        DisclosureHeader::Via => parse_via(value),
        // These two carry a bare version of a product the header name implies.
        DisclosureHeader::XAspNetVersion => implied_product(header, "ASP.NET", value),
        DisclosureHeader::XAspNetMvcVersion => implied_product(header, "ASP.NET MVC", value),
        DisclosureHeader::Server | DisclosureHeader::XPoweredBy | DisclosureHeader::XGenerator => {
            parse_products(header, value)
        }
    }
}

fn implied_product(header: DisclosureHeader, name: &str, value: &str) -> Vec<Product> {
    let value = value.trim();
    if value.is_empty() {
        return Vec::new();
    }
    vec![new_product(
        header,
        name,
        Some(value.to_string()),
        Vec::new(),
    )]
}

/// Splits a `Server`-style value into products. `X-Powered-By` often lists several products
/// separated by commas (`PHP/8.2.1, ASP.NET`), so commas outside comments separate too.
fn parse_products(header: DisclosureHeader, value: &str) -> Vec<Product> {
    // A few banners contain spaces (`Google Frontend`), so the whole value is tried first.
    let whole = value.trim();
    if whole.contains(' ') && recognize_banner(whole).is_some() {
        return vec![new_product(header, whole, None, Vec::new())];
    }
    let mut products: Vec<Product> = Vec::new();
    for token in tokenize(value) {
        match token {
            Token::Comment(text) => {
                if let Some(product) = products.last_mut() {
                    attach_comment(product, text);
                }
            }
            Token::Word(word) => {
                let (name, version) = match word.split_once('/') {
                    Some((name, version)) => (name, Some(version)),
                    None => (word, None),
                };
                // `/60` names no product, and a nameless product would reach the row as an
                // empty software name.
                if name.is_empty() {
                    continue;
                }
                // `Drupal 10`: a bare version right after a product without one.
                if version.is_none()
                    && starts_with_digit(name)
                    && let Some(previous) = products.last_mut()
                    && previous.version.is_none()
                    && previous.comments.is_empty()
                    && previous.os.is_none()
                {
                    previous.version = Some(name.to_string());
                    continue;
                }
                let version = version.filter(|version| !version.is_empty());
                products.push(new_product(
                    header,
                    name,
                    version.map(str::to_string),
                    Vec::new(),
                ));
            }
        }
    }
    products
}

/// Parses `Via` (RFC 9110 section 7.6.3): comma-separated hops of `protocol received-by
/// [comment]`. The protocol version is not a software version, so a hop is named by its
/// comment's product when there is one (`1.1 squid (squid/5.7)`), else by `received-by`.
fn parse_via(value: &str) -> Vec<Product> {
    let mut products = Vec::new();
    for hop in split_outside_comments(value, ',') {
        let mut words = Vec::new();
        let mut comments = Vec::new();
        for token in tokenize(hop) {
            match token {
                Token::Word(word) => words.push(word),
                Token::Comment(text) => comments.push(text),
            }
        }
        let Some(received_by) = words.get(1).or(words.first()) else {
            continue;
        };
        let from_comment = comments
            .iter()
            .flat_map(|comment| parse_products(DisclosureHeader::Via, comment))
            .find(|product| product.version.is_some() || product.provider.is_some());
        let mut product = match from_comment {
            Some(product) => product,
            None => new_product(DisclosureHeader::Via, received_by, None, Vec::new()),
        };
        if product.role == Role::Origin {
            product.role = Role::Proxy;
        }
        products.push(product);
    }
    products
}

fn new_product(
    header: DisclosureHeader,
    name: &str,
    version: Option<String>,
    comments: Vec<String>,
) -> Product {
    let banner = recognize_banner(name);
    Product {
        header,
        name: name.to_string(),
        version,
        os: None,
        comments,
        role: banner.map_or(Role::Origin, |(role, _)| role),
        provider: banner.map(|(_, provider)| provider),
    }
}

fn attach_comment(product: &mut Product, text: &str) {
    match (product.os.is_none(), recognize_os(text)) {
        (true, Some(os)) => product.os = Some(os),
        _ => product.comments.push(text.to_string()),
    }
}

/// Operating systems as they appear in product comments, matched case-insensitively at the
/// start of the comment. `Unix`, `Win32` and `Win64` are what Apache httpd prints for its
/// build platform.
const OPERATING_SYSTEMS: [&str; 20] = [
    "Ubuntu",
    "Debian",
    "CentOS",
    "Red Hat",
    "RHEL",
    "Fedora",
    "Rocky",
    "AlmaLinux",
    "Amazon",
    "Oracle",
    "SUSE",
    "openSUSE",
    "Raspbian",
    "Gentoo",
    "FreeBSD",
    "OpenBSD",
    "NetBSD",
    "Unix",
    "Win32",
    "Win64",
];

fn recognize_os(comment: &str) -> Option<String> {
    let lower = comment.to_ascii_lowercase();
    let known = OPERATING_SYSTEMS
        .iter()
        .any(|os| lower.starts_with(&os.to_ascii_lowercase()));
    known.then(|| comment.trim().to_string())
}

/// Banners of services in front of the origin, by product name (lowercase, exact): the role
/// and the service.
const BANNERS: [(&str, Role, &str); 27] = [
    ("cloudflare", Role::Cdn, "Cloudflare"),
    ("cloudflare-nginx", Role::Cdn, "Cloudflare"),
    ("akamaighost", Role::Cdn, "Akamai"),
    ("akamainetstorage", Role::Cdn, "Akamai"),
    ("akamai resource optimizer", Role::Cdn, "Akamai"),
    ("amazons3", Role::Cdn, "Amazon S3"),
    ("cloudfront", Role::Cdn, "Amazon CloudFront"),
    ("awselb", Role::Cdn, "AWS Elastic Load Balancing"),
    ("gws", Role::Cdn, "Google"),
    ("esf", Role::Cdn, "Google"),
    ("gse", Role::Cdn, "Google"),
    ("sffe", Role::Cdn, "Google"),
    ("google frontend", Role::Cdn, "Google"),
    ("google", Role::Cdn, "Google"),
    ("vercel", Role::Cdn, "Vercel"),
    ("netlify", Role::Cdn, "Netlify"),
    ("github.com", Role::Cdn, "GitHub Pages"),
    ("fastly", Role::Cdn, "Fastly"),
    ("ecacc", Role::Cdn, "Edgio"),
    ("ecs", Role::Cdn, "Edgio"),
    ("bunnycdn", Role::Cdn, "bunny.net"),
    ("keycdn-engine", Role::Cdn, "KeyCDN"),
    ("ddos-guard", Role::Cdn, "DDoS-Guard"),
    ("sucuri", Role::Cdn, "Sucuri"),
    ("varnish", Role::Proxy, "Varnish"),
    ("vegur", Role::Proxy, "Heroku"),
    ("squid", Role::Proxy, "Squid"),
];

/// Recognises a banner by its product name. Some CDNs add a suffix (`ECAcc (lha/8D2C)`,
/// `BunnyCDN-DE1-1055`), so a name also matches a banner it starts with followed by `-`.
fn recognize_banner(name: &str) -> Option<(Role, &'static str)> {
    let lower = name.to_ascii_lowercase();
    BANNERS.iter().find_map(|(banner, role, provider)| {
        let suffixed = lower
            .strip_prefix(banner)
            .is_some_and(|rest| rest.starts_with('-'));
        (lower == *banner || suffixed).then_some((*role, *provider))
    })
}

enum Token<'a> {
    Word(&'a str),
    /// The text inside a comment, without the outer parentheses.
    Comment(&'a str),
}

/// Splits at whitespace and commas, keeping each parenthesised comment (nested ones
/// included) as one token. An unclosed comment runs to the end.
fn tokenize(value: &str) -> Vec<Token<'_>> {
    let mut tokens = Vec::new();
    let bytes = value.as_bytes();
    let mut index = 0;
    while index < bytes.len() {
        let byte = bytes[index];
        if byte.is_ascii_whitespace() || byte == b',' {
            index += 1;
        } else if byte == b'(' {
            let end = comment_end(bytes, index);
            let inner_end = if bytes.get(end - 1) == Some(&b')') {
                end - 1
            } else {
                end
            };
            tokens.push(Token::Comment(value[index + 1..inner_end].trim()));
            index = end;
        } else {
            let start = index;
            while index < bytes.len()
                && !bytes[index].is_ascii_whitespace()
                && !matches!(bytes[index], b',' | b'(')
            {
                index += 1;
            }
            tokens.push(Token::Word(&value[start..index]));
        }
    }
    tokens
}

/// Returns the index after the `)` that closes the comment opened at `start`, or the end.
fn comment_end(bytes: &[u8], start: usize) -> usize {
    let mut depth = 0usize;
    let mut index = start;
    while index < bytes.len() {
        match bytes[index] {
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth == 0 {
                    return index + 1;
                }
            }
            // A quoted pair inside a comment (RFC 9110 section 5.6.5).
            b'\\' => index += 1,
            _ => {}
        }
        index += 1;
    }
    bytes.len()
}

fn split_outside_comments(value: &str, separator: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (index, character) in value.char_indices() {
        match character {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            _ if character == separator && depth == 0 => {
                parts.push(&value[start..index]);
                start = index + 1;
            }
            _ => {}
        }
    }
    parts.push(&value[start..]);
    parts
}

fn starts_with_digit(text: &str) -> bool {
    text.bytes()
        .next()
        .is_some_and(|byte| byte.is_ascii_digit())
}

/// Whether a disclosed version is past its end of life on a given date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum EolVerdict {
    /// The cycle's support ended on `since`, or before it when `since` is `None` (a cycle
    /// older than every listed one).
    EndOfLife {
        product: String,
        cycle: Option<String>,
        since: Option<NaiveDate>,
    },
    /// The cycle is supported on the date; `until` is its announced end, if any.
    Supported {
        product: String,
        cycle: String,
        until: Option<NaiveDate>,
    },
    /// The product is in the data but the version's cycle is not.
    UnknownCycle { product: String },
    /// The product is not in the data, or the banner has no version.
    NotAssessed,
}

impl EolVerdict {
    pub fn is_end_of_life(&self) -> bool {
        matches!(self, Self::EndOfLife { .. })
    }
}

/// The end-of-life data, from `datasets/eol.toml`.
#[derive(Debug, Deserialize)]
pub struct EolData {
    pub products: std::collections::BTreeMap<String, EolProduct>,
}

#[derive(Debug, Deserialize)]
pub struct EolProduct {
    /// Product names as they appear in headers, compared case-insensitively.
    pub names: Vec<String>,
    pub source: String,
    /// Every version older than this cycle is end-of-life.
    pub older_eol: Option<String>,
    pub cycles: Vec<EolCycle>,
}

#[derive(Debug, Deserialize)]
pub struct EolCycle {
    pub cycle: String,
    /// The first day without upstream security fixes, as `YYYY-MM-DD`.
    pub eol: Option<NaiveDate>,
}

const EOL_TOML: &str = include_str!("../../../datasets/eol.toml");

/// Returns the embedded end-of-life data, parsed on first use.
pub fn eol_data() -> &'static EolData {
    static DATA: OnceLock<EolData> = OnceLock::new();
    DATA.get_or_init(|| {
        // The file is part of the source tree and a unit test parses it, so a syntax error
        // fails the tests before a release is built.
        toml::from_str(EOL_TOML).expect("datasets/eol.toml is valid")
    })
}

/// Decides whether `version` of the product named `name` is end-of-life on `date`.
pub fn eol_verdict(name: &str, version: Option<&str>, date: NaiveDate) -> EolVerdict {
    eol_data().verdict(name, version, date)
}

impl EolData {
    /// Returns the product id (the table name in the file) for a header product name.
    pub fn product_id(&self, name: &str) -> Option<&str> {
        self.products.iter().find_map(|(id, product)| {
            let known = product
                .names
                .iter()
                .any(|known| known.eq_ignore_ascii_case(name));
            known.then_some(id.as_str())
        })
    }

    pub fn verdict(&self, name: &str, version: Option<&str>, date: NaiveDate) -> EolVerdict {
        let Some(id) = self.product_id(name) else {
            return EolVerdict::NotAssessed;
        };
        let product = &self.products[id];
        let Some(numbers) = version.and_then(version_numbers) else {
            return EolVerdict::NotAssessed;
        };

        // The longest listed cycle that the version starts with.
        let cycle = product
            .cycles
            .iter()
            .filter_map(|cycle| {
                let cycle_numbers = version_numbers(&cycle.cycle)?;
                numbers
                    .starts_with(&cycle_numbers)
                    .then_some((cycle_numbers.len(), cycle))
            })
            .max_by_key(|(length, _)| *length)
            .map(|(_, cycle)| cycle);
        if let Some(cycle) = cycle {
            return match cycle.eol {
                Some(end) if end <= date => EolVerdict::EndOfLife {
                    product: id.to_string(),
                    cycle: Some(cycle.cycle.clone()),
                    since: Some(end),
                },
                until => EolVerdict::Supported {
                    product: id.to_string(),
                    cycle: cycle.cycle.clone(),
                    until,
                },
            };
        }

        let older = product
            .older_eol
            .as_deref()
            .and_then(version_numbers)
            .is_some_and(|oldest| numbers < oldest);
        if older {
            return EolVerdict::EndOfLife {
                product: id.to_string(),
                cycle: None,
                since: None,
            };
        }
        EolVerdict::UnknownCycle {
            product: id.to_string(),
        }
    }
}

/// The leading numbers of a version: `1.0.2k-fips` gives `[1, 0, 2]`, `10.0` gives
/// `[10, 0]`. Each dot-separated part contributes its leading digits, and the first part
/// without leading digits ends the list. `None` when the version does not start with a digit.
fn version_numbers(version: &str) -> Option<Vec<u64>> {
    let mut numbers = Vec::new();
    for part in version.trim().split('.') {
        let digits: String = part.chars().take_while(char::is_ascii_digit).collect();
        let Ok(number) = digits.parse() else {
            break;
        };
        numbers.push(number);
        if digits.len() < part.len() {
            break;
        }
    }
    (!numbers.is_empty()).then_some(numbers)
}

#[cfg(test)]
mod tests;
