//! `Set-Cookie` parsing as browsers do it: the algorithm of RFC 6265 section 5.2, with the
//! changes of the rfc6265bis draft (draft-ietf-httpbis-rfc6265bis) that current browsers ship.
//! A pair without `=` is a nameless cookie, and control characters or overlong pairs reject
//! the whole header. The draft also adds `SameSite` and the `__Secure-` and `__Host-` name
//! prefixes.
//!
//! [`parse`] reads one header value. [`SetCookie::facts`] then applies the storage model of
//! section 5.3 for the response that carried it (its host, and whether its origin is secure)
//! and returns what posture records. The cookie value is kept for the tests of this crate but
//! never serialised, because it may be a session secret.
//!
//! Left out: the 400-day cap that the draft puts on an expiry time (posture reports the time
//! the server asked for), the cookie store itself, and the `Partitioned` attribute.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use serde::Serialize;

/// Maximum bytes of name and value together (rfc6265bis section 5.6, step 5).
pub const MAX_NAME_VALUE_BYTES: usize = 4096;
/// Maximum bytes of one attribute value; a longer attribute is ignored (rfc6265bis section
/// 5.6, step 10).
pub const MAX_ATTRIBUTE_VALUE_BYTES: usize = 1024;

/// One `Set-Cookie` header value as a user agent reads it, before the storage model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetCookie {
    pub name: String,
    /// The value exactly as sent, quotes included. Not serialised.
    pub value: String,
    /// The last `Expires` attribute that held a valid cookie date.
    pub expires: Option<DateTime<Utc>>,
    /// The last valid `Max-Age` in seconds, saturated to the range of `i64`.
    pub max_age: Option<i64>,
    /// The last non-empty `Domain` attribute, lowercased, one leading dot removed.
    pub domain: Option<String>,
    /// The last `Path` attribute that starts with `/`.
    pub path: Option<String>,
    pub secure: bool,
    pub http_only: bool,
    pub same_site: Option<SameSite>,
    /// Attribute names posture does not interpret, lowercased, in header order.
    pub unknown_attributes: Vec<String>,
}

/// The `SameSite` attribute (rfc6265bis section 5.6.7).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "value")]
pub enum SameSite {
    Strict,
    Lax,
    None,
    /// A value other than the three keywords, kept as sent. Browsers treat the cookie as if
    /// the attribute were absent.
    Invalid(String),
}

/// The reason a browser ignores a `Set-Cookie` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rejection {
    /// Both the name and the value are empty.
    EmptyNameAndValue,
    /// A control character other than horizontal tab in the header.
    ControlCharacter,
    /// Name and value are longer than 4096 bytes together.
    TooLong,
    /// The `Secure` attribute on a response from an origin that is not secure.
    SecureFromInsecureOrigin,
    /// `SameSite=None` without `Secure`.
    SameSiteNoneWithoutSecure,
    /// A `Domain` attribute that the response's host does not domain-match.
    DomainMismatch,
    /// A `Domain` attribute that is a public suffix other than the host itself.
    DomainIsPublicSuffix,
    /// A `__Secure-` name without `Secure` or from an origin that is not secure.
    SecurePrefixViolated,
    /// A `__Host-` name without `Secure`, with `Domain`, or without `Path=/`.
    HostPrefixViolated,
    /// A nameless cookie whose value starts with `__Secure-` or `__Host-`.
    PrefixInNamelessCookie,
}

/// The name prefixes of rfc6265bis section 4.1.3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Prefix {
    Secure,
    Host,
}

/// The response that carried a `Set-Cookie` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The request host, lowercase, without a port.
    pub host: String,
    /// Whether the origin is secure (HTTPS).
    pub secure: bool,
    /// The path of the request URL, without the query, used for the default path.
    pub path: String,
}

impl Origin {
    pub fn new(host: &str, secure: bool, path: &str) -> Self {
        Self {
            host: host.trim_end_matches('.').to_ascii_lowercase(),
            secure,
            path: path.to_string(),
        }
    }
}

/// When a cookie expires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "at")]
pub enum Expiry {
    /// No `Expires` or `Max-Age`: the cookie ends with the browser session.
    Session,
    /// A persistent cookie. A time in the past means the header deletes the cookie.
    At(DateTime<Utc>),
}

/// The facts posture records of one cookie: every attribute except the value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CookieFacts {
    pub name: String,
    pub secure: bool,
    pub http_only: bool,
    /// `None` when the header has no `SameSite` attribute.
    pub same_site: Option<SameSite>,
    /// `SameSite=None` without `Secure`, which browsers reject.
    pub same_site_none_without_secure: bool,
    /// The `Domain` attribute as sent (cleaned), `None` for a host-only cookie.
    pub domain_attribute: Option<String>,
    /// The domain the cookie is stored under: the attribute, or the response's host.
    pub domain: String,
    /// True when the cookie is sent only to the exact host that set it.
    pub host_only: bool,
    /// The `Path` attribute, `None` when absent or not starting with `/`.
    pub path_attribute: Option<String>,
    /// The path the cookie is stored under: the attribute or the default path.
    pub path: String,
    pub expires: Option<DateTime<Utc>>,
    pub max_age: Option<i64>,
    /// The resulting expiry: `Max-Age` wins over `Expires`.
    pub expiry: Expiry,
    pub prefix: Option<Prefix>,
    /// Whether the prefix rules hold, `None` when the name has no prefix.
    pub prefix_satisfied: Option<bool>,
    pub unknown_attributes: Vec<String>,
    /// The reasons a browser would ignore the header; empty when it stores the cookie.
    pub rejections: Vec<Rejection>,
}

impl CookieFacts {
    /// Returns whether a browser stores the cookie.
    pub fn accepted(&self) -> bool {
        self.rejections.is_empty()
    }
}

/// Parses one `Set-Cookie` header value (RFC 6265 section 5.2 with the rfc6265bis changes).
/// Returns the rejection when a browser ignores the header whatever the origin.
pub fn parse(header: &str) -> Result<SetCookie, Rejection> {
    // rfc6265bis: a control character other than HTAB anywhere rejects the header.
    if header
        .bytes()
        .any(|byte| (byte < 0x20 && byte != b'\t') || byte == 0x7f)
    {
        return Err(Rejection::ControlCharacter);
    }

    // 1. The name-value pair is everything before the first `;`.
    let (pair, attributes) = match header.find(';') {
        Some(index) => (&header[..index], &header[index + 1..]),
        None => (header, ""),
    };

    // 2. Without `=`, the whole pair is the value of a nameless cookie (rfc6265bis).
    let (name, value) = match pair.find('=') {
        Some(index) => (&pair[..index], &pair[index + 1..]),
        None => ("", pair),
    };
    let name = trim_wsp(name);
    let value = trim_wsp(value);
    if name.is_empty() && value.is_empty() {
        return Err(Rejection::EmptyNameAndValue);
    }
    if name.len() + value.len() > MAX_NAME_VALUE_BYTES {
        return Err(Rejection::TooLong);
    }

    let mut cookie = SetCookie {
        name: name.to_string(),
        value: value.to_string(),
        expires: None,
        max_age: None,
        domain: None,
        path: None,
        secure: false,
        http_only: false,
        same_site: None,
        unknown_attributes: Vec::new(),
    };

    // 3. Each attribute in turn; a later attribute of the same name replaces an earlier one.
    for attribute in attributes.split(';') {
        let (name, value) = match attribute.find('=') {
            Some(index) => (&attribute[..index], &attribute[index + 1..]),
            None => (attribute, ""),
        };
        let name = trim_wsp(name);
        let value = trim_wsp(value);
        if name.is_empty() || value.len() > MAX_ATTRIBUTE_VALUE_BYTES {
            continue;
        }
        cookie.apply_attribute(name, value);
    }
    Ok(cookie)
}

impl SetCookie {
    fn apply_attribute(&mut self, name: &str, value: &str) {
        match name.to_ascii_lowercase().as_str() {
            "expires" => {
                if let Some(time) = parse_cookie_date(value) {
                    self.expires = Some(time);
                }
            }
            "max-age" => {
                if let Some(seconds) = parse_max_age(value) {
                    self.max_age = Some(seconds);
                }
            }
            // RFC 6265 section 5.2.3: an empty Domain is ignored, and one leading dot dropped.
            "domain" if !value.is_empty() => {
                let domain = value.strip_prefix('.').unwrap_or(value);
                self.domain = Some(domain.to_ascii_lowercase());
            }
            // RFC 6265 section 5.2.4: a Path not starting with `/` means the default path.
            "path" => {
                self.path = value.starts_with('/').then(|| value.to_string());
            }
            "secure" => self.secure = true,
            "httponly" => self.http_only = true,
            "samesite" => {
                self.same_site = Some(match value.to_ascii_lowercase().as_str() {
                    "strict" => SameSite::Strict,
                    "lax" => SameSite::Lax,
                    "none" => SameSite::None,
                    _ => SameSite::Invalid(value.to_string()),
                });
            }
            "domain" => {}
            other => self.unknown_attributes.push(other.to_string()),
        }
    }

    /// Returns the name prefix, matched case-insensitively as the current draft requires.
    pub fn prefix(&self) -> Option<Prefix> {
        prefix_of(&self.name)
    }

    /// Applies the storage model (RFC 6265 section 5.3 and rfc6265bis section 5.7) for the
    /// response from `origin` received at `now`, and returns what posture records.
    pub fn facts(&self, origin: &Origin, now: DateTime<Utc>) -> CookieFacts {
        let mut rejections = Vec::new();

        // Domain: a public suffix is allowed only as the host itself, which makes the cookie
        // host-only; any other Domain must domain-match the host.
        // A trailing dot is kept, so `Domain=example.org.` does not match `example.org`.
        let mut domain_attribute = self.domain.clone();
        if let Some(domain) = &self.domain {
            if is_public_suffix(domain) {
                if *domain == origin.host {
                    domain_attribute = None;
                } else {
                    rejections.push(Rejection::DomainIsPublicSuffix);
                }
            } else if !domain_matches(&origin.host, domain) {
                rejections.push(Rejection::DomainMismatch);
            }
        }
        let host_only = domain_attribute.is_none();
        let domain = domain_attribute
            .clone()
            .unwrap_or_else(|| origin.host.clone());
        let path = self
            .path
            .clone()
            .unwrap_or_else(|| default_path(&origin.path));

        if self.secure && !origin.secure {
            rejections.push(Rejection::SecureFromInsecureOrigin);
        }
        let none_without_secure = self.same_site == Some(SameSite::None) && !self.secure;
        if none_without_secure {
            rejections.push(Rejection::SameSiteNoneWithoutSecure);
        }

        let prefix = self.prefix();
        let prefix_satisfied = prefix.map(|prefix| {
            let secure = self.secure && origin.secure;
            match prefix {
                Prefix::Secure => secure,
                Prefix::Host => secure && host_only && self.path.as_deref() == Some("/"),
            }
        });
        match (prefix, prefix_satisfied) {
            (Some(Prefix::Secure), Some(false)) => rejections.push(Rejection::SecurePrefixViolated),
            (Some(Prefix::Host), Some(false)) => rejections.push(Rejection::HostPrefixViolated),
            _ => {}
        }
        if self.name.is_empty() && prefix_of(&self.value).is_some() {
            rejections.push(Rejection::PrefixInNamelessCookie);
        }

        CookieFacts {
            name: self.name.clone(),
            secure: self.secure,
            http_only: self.http_only,
            same_site: self.same_site.clone(),
            same_site_none_without_secure: none_without_secure,
            domain_attribute,
            domain,
            host_only,
            path_attribute: self.path.clone(),
            path,
            expires: self.expires,
            max_age: self.max_age,
            expiry: self.expiry(now),
            prefix,
            prefix_satisfied,
            unknown_attributes: self.unknown_attributes.clone(),
            rejections,
        }
    }

    /// Returns the expiry for a header received at `now`. `Max-Age` wins over `Expires`, and a
    /// `Max-Age` of zero or less means the earliest representable time (RFC 6265 section
    /// 5.2.2).
    pub fn expiry(&self, now: DateTime<Utc>) -> Expiry {
        match (self.max_age, self.expires) {
            (Some(seconds), _) if seconds <= 0 => Expiry::At(DateTime::<Utc>::MIN_UTC),
            (Some(seconds), _) => {
                let later =
                    Duration::try_seconds(seconds).and_then(|delta| now.checked_add_signed(delta));
                Expiry::At(later.unwrap_or(DateTime::<Utc>::MAX_UTC))
            }
            (None, Some(time)) => Expiry::At(time),
            (None, None) => Expiry::Session,
        }
    }
}

fn prefix_of(name: &str) -> Option<Prefix> {
    let starts_with = |prefix: &str| {
        name.len() >= prefix.len()
            && name.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
    };
    if starts_with("__Secure-") {
        Some(Prefix::Secure)
    } else if starts_with("__Host-") {
        Some(Prefix::Host)
    } else {
        None
    }
}

fn trim_wsp(text: &str) -> &str {
    text.trim_matches([' ', '\t'])
}

/// RFC 6265 section 5.2.2: an optional `-`, then digits only. Saturates instead of failing
/// on values past the range of `i64`.
fn parse_max_age(value: &str) -> Option<i64> {
    let (negative, digits) = match value.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, value),
    };
    if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    let magnitude = digits.bytes().fold(0i64, |total, digit| {
        total
            .saturating_mul(10)
            .saturating_add(i64::from(digit - b'0'))
    });
    Some(if negative { -magnitude } else { magnitude })
}

/// Returns whether `host` domain-matches `domain` (RFC 6265 section 5.1.3): equal, or a subdomain of
/// it when the host is a name and not an IP address.
pub fn domain_matches(host: &str, domain: &str) -> bool {
    if host.eq_ignore_ascii_case(domain) {
        return true;
    }
    if host.parse::<std::net::IpAddr>().is_ok() {
        return false;
    }
    host.len() > domain.len()
        && host.as_bytes()[host.len() - domain.len() - 1] == b'.'
        && host[host.len() - domain.len()..].eq_ignore_ascii_case(domain)
}

/// Returns the default path of a request path (RFC 6265 section 5.1.4): up to, but not including,
/// its last `/`, or `/` when that leaves nothing.
pub fn default_path(request_path: &str) -> String {
    if !request_path.starts_with('/') {
        return "/".to_string();
    }
    match request_path.rfind('/') {
        Some(0) | None => "/".to_string(),
        Some(index) => request_path[..index].to_string(),
    }
}

fn is_public_suffix(domain: &str) -> bool {
    psl::suffix_str(domain) == Some(domain)
}

/// Parses a cookie date by the algorithm of RFC 6265 section 5.1.1, which accepts the many
/// formats servers send (`Wed, 09 Jun 2021 10:18:14 GMT`, `Wed, 09-Jun-21 10:18:14 GMT`, the
/// asctime form) by picking the time, day, month and year tokens in any order.
pub fn parse_cookie_date(text: &str) -> Option<DateTime<Utc>> {
    let mut time = None;
    let mut day = None;
    let mut month = None;
    let mut year = None;
    for token in text
        .split(is_date_delimiter)
        .filter(|token| !token.is_empty())
    {
        if time.is_none()
            && let Some(found) = parse_hms(token)
        {
            time = Some(found);
        } else if day.is_none()
            && let Some(found) = leading_number(token, 1, 2)
        {
            day = Some(found);
        } else if month.is_none()
            && let Some(found) = parse_month(token)
        {
            month = Some(found);
        } else if year.is_none()
            && let Some(found) = leading_number(token, 2, 4)
        {
            year = Some(found);
        }
    }

    let (hour, minute, second) = time?;
    let mut year = year?;
    // Two-digit years: 70 to 99 are 1970 to 1999, 0 to 69 are 2000 to 2069.
    if (70..=99).contains(&year) {
        year += 1900;
    } else if year <= 69 {
        year += 2000;
    }
    if year < 1601 || hour > 23 || minute > 59 || second > 59 {
        return None;
    }

    let date = NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month?, day?)?;
    let naive = date.and_hms_opt(hour, minute, second)?;
    Some(Utc.from_utc_datetime(&naive))
}

/// Returns whether a character is a delimiter of RFC 6265 section 5.1.1: HTAB and every printable non-alphanumeric
/// character except `:`.
fn is_date_delimiter(character: char) -> bool {
    matches!(character, '\t' | '\x20'..='\x2f' | '\x3b'..='\x40' | '\x5b'..='\x60' | '\x7b'..='\x7e')
}

/// `1*2DIGIT ":" 1*2DIGIT ":" 1*2DIGIT` followed by anything that starts with a non-digit.
fn parse_hms(token: &str) -> Option<(u32, u32, u32)> {
    let mut parts = token.splitn(3, ':');
    let hour = exact_number(parts.next()?, 1, 2)?;
    let minute = exact_number(parts.next()?, 1, 2)?;
    let second = leading_number(parts.next()?, 1, 2)?;
    Some((hour, minute, second))
}

/// Parses a number of `min` to `max` digits that makes up the whole text.
fn exact_number(text: &str, min: usize, max: usize) -> Option<u32> {
    if !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    leading_number(text, min, max)
}

/// `min` to `max` digits at the start of the token, followed by nothing or a non-digit.
fn leading_number(token: &str, min: usize, max: usize) -> Option<u32> {
    let digits = token.bytes().take_while(u8::is_ascii_digit).count();
    if digits < min || digits > max {
        return None;
    }
    token[..digits].parse().ok()
}

fn parse_month(token: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let start = token.get(..3)?.to_ascii_lowercase();
    MONTHS
        .iter()
        .position(|month| *month == start)
        .and_then(|index| u32::try_from(index + 1).ok())
}

/// Name patterns of cookies that probably carry a session, matched case-insensitively.
///
/// A pattern without `*` matches anywhere in the name. A pattern with `*` is a glob over the
/// whole name, where `*` is any run of characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionPatterns {
    patterns: Vec<String>,
}

impl Default for SessionPatterns {
    fn default() -> Self {
        Self::new(DEFAULT_SESSION_PATTERNS.iter().copied())
    }
}

/// The default session-name patterns. `sess` also covers `jsessionid`, `phpsessid` and
/// `asp.net_sessionid`; they stay listed so that a shorter custom list can copy them.
/// `logged_in` catches WordPress's `wordpress_logged_in_<hash>` login cookie.
pub const DEFAULT_SESSION_PATTERNS: [&str; 11] = [
    "sess",
    "sid",
    "token",
    "auth",
    "login",
    "logged_in",
    "jsessionid",
    "phpsessid",
    "asp.net_sessionid",
    "csrf",
    "xsrf",
];

impl SessionPatterns {
    pub fn new<'a>(patterns: impl IntoIterator<Item = &'a str>) -> Self {
        Self {
            patterns: patterns
                .into_iter()
                .map(str::trim)
                .filter(|pattern| !pattern.is_empty())
                .map(str::to_ascii_lowercase)
                .collect(),
        }
    }

    /// Returns whether `name` matches any pattern.
    pub fn matches(&self, name: &str) -> bool {
        let name = name.to_ascii_lowercase();
        self.patterns.iter().any(|pattern| {
            if pattern.contains('*') {
                glob_matches(pattern.as_bytes(), name.as_bytes())
            } else {
                name.contains(pattern.as_str())
            }
        })
    }
}

/// Matches a glob where `*` is any run of bytes, by backtracking to the last `*` on a
/// mismatch, which keeps the time linear in practice.
fn glob_matches(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if p < pattern.len() && pattern[p] == text[t] {
            p += 1;
            t += 1;
        } else if let Some((star_p, star_t)) = star {
            p = star_p + 1;
            t = star_t + 1;
            star = Some((star_p, star_t + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|byte| *byte == b'*')
}

#[cfg(test)]
mod tests;
