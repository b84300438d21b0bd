//! The JSON that `posture parse` prints for the HTTP header kinds, in the shape of the email
//! record kinds: the parsed value with `errors` and `warnings`, each a `kind` and a `message`.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};

use super::{cookie, headers, hsts, securitytxt, server};
use crate::check::email::issue::Issue;

/// Renders an HSTS header value with its preload readiness.
pub fn render_hsts(text: &str) -> (bool, Value) {
    let parsed = hsts::parse(text.trim());
    let readiness = hsts::preload_readiness(&parsed);
    let mut warnings = Vec::new();
    if parsed.disables() {
        warnings.push(warning(
            "max_age_zero",
            "max-age=0 tells browsers to forget HSTS for the host",
        ));
    }
    if parsed.max_age.is_some_and(|seconds| seconds < 15_552_000) && parsed.is_valid() {
        warnings.push(warning(
            "short_max_age",
            "max-age is under 180 days, the minimum most graders accept",
        ));
    }
    let mut value = to_value(&parsed);
    value["preload"] = json!(parsed.preload);
    value["preload_readiness"] = to_value(&readiness);
    value["warnings"] = to_value(&warnings);
    (parsed.is_valid(), value)
}

/// Renders one `Set-Cookie` value as set by a response from `origin_url` (default
/// `https://` and the Domain attribute's host, or `example.com`, with path `/`).
pub fn render_cookie(text: &str, origin_url: Option<&str>, now: DateTime<Utc>) -> (bool, Value) {
    let text = text.trim_end_matches(['\r', '\n']);
    let parsed = match cookie::parse(text) {
        Ok(parsed) => parsed,
        Err(rejection) => {
            let value = json!({
                "errors": [rejection_issue(rejection)],
                "warnings": [],
            });
            return (false, value);
        }
    };
    let origin = match origin_url {
        Some(url) => match parse_origin(url) {
            Some(origin) => origin,
            None => {
                let value = json!({
                    "errors": [{"kind": "invalid_origin", "message": format!("--origin {url:?} is not an http:// or https:// URL")}],
                    "warnings": [],
                });
                return (false, value);
            }
        },
        None => {
            let host = parsed.domain.as_deref().unwrap_or("example.com");
            cookie::Origin::new(host, true, "/")
        }
    };

    let facts = parsed.facts(&origin, now);
    let errors: Vec<Issue<&'static str>> = facts
        .rejections
        .iter()
        .map(|rejection| rejection_issue(*rejection))
        .collect();

    let mut warnings = Vec::new();
    if !facts.secure {
        warnings.push(warning(
            "no_secure",
            "without Secure the cookie is also sent over plain HTTP",
        ));
    }
    if !facts.http_only {
        warnings.push(warning(
            "no_http_only",
            "without HttpOnly scripts on the page can read the cookie",
        ));
    }
    match &facts.same_site {
        None => warnings.push(warning(
            "no_same_site",
            "no SameSite attribute; browsers differ in the default",
        )),
        Some(cookie::SameSite::Invalid(_)) => warnings.push(warning(
            "invalid_same_site",
            "SameSite is not Strict, Lax or None, so browsers ignore it",
        )),
        Some(_) => {}
    }
    if cookie::SessionPatterns::default().matches(&facts.name) {
        warnings.push(warning(
            "session_name",
            "the name looks like a session or authentication cookie",
        ));
    }

    let mut value = to_value(&facts);
    value["origin"] = json!(format!(
        "{}://{}{}",
        if origin.secure { "https" } else { "http" },
        origin.host,
        origin.path
    ));
    value["errors"] = to_value(&errors);
    value["warnings"] = to_value(&warnings);
    (facts.accepted(), value)
}

/// Renders disclosure headers: either one `Server` value, or lines of `Name: value` for any
/// of the headers `server` reads. End-of-life verdicts are for `today`.
pub fn render_server(text: &str, today: chrono::NaiveDate) -> (bool, Value) {
    let mut products = Vec::new();
    let mut errors = Vec::new();
    for (header, value) in disclosure_lines(text) {
        match header {
            Some(header) => products.extend(server::parse(header, value)),
            None => errors.push(Issue::new(
                "unknown_header",
                format!("{value:?} is not one of Server, X-Powered-By, X-AspNet-Version, X-AspNetMvc-Version, X-Generator or Via"),
            )),
        }
    }
    let mut warnings = Vec::new();
    let rendered: Vec<Value> = products
        .iter()
        .map(|product| {
            let verdict = match product.role {
                server::Role::Origin => {
                    server::eol_verdict(&product.name, product.version.as_deref(), today)
                }
                _ => server::EolVerdict::NotAssessed,
            };
            if product.discloses_version() {
                warnings.push(warning(
                    "version_disclosed",
                    format!(
                        "{} discloses version {}",
                        product.name,
                        product.version.as_deref().unwrap_or_default()
                    ),
                ));
            }
            if verdict.is_end_of_life() {
                warnings.push(warning(
                    "end_of_life",
                    format!(
                        "{} {} is past its end of life",
                        product.name,
                        product.version.as_deref().unwrap_or_default()
                    ),
                ));
            }
            let mut value = to_value(product);
            value["discloses_version"] = json!(product.discloses_version());
            value["eol"] = to_value(&verdict);
            value
        })
        .collect();
    let value = json!({
        "products": rendered,
        "errors": to_value(&errors),
        "warnings": to_value(&warnings),
    });
    (errors.is_empty(), value)
}

/// Renders a Content-Security-Policy value. A value without any directive is an error.
pub fn render_csp(text: &str) -> (bool, Value) {
    let csp = headers::parse_csp(text.trim());
    let mut errors = Vec::new();
    if !csp.present {
        errors.push(Issue::new("no_directive", "the policy has no directive"));
    }

    let mut warnings = Vec::new();
    if csp.unsafe_inline {
        warnings.push(warning(
            "unsafe_inline",
            "scripts may run inline ('unsafe-inline' or data:)",
        ));
    }
    if csp.unsafe_eval {
        warnings.push(warning(
            "unsafe_eval",
            "'unsafe-eval' allows eval() in scripts",
        ));
    }
    if csp.present && csp.scripts_unrestricted {
        warnings.push(warning(
            "scripts_unrestricted",
            "neither script-src nor default-src restricts scripts",
        ));
    }
    if csp.present && csp.frame_ancestors.is_none() {
        warnings.push(warning(
            "no_frame_ancestors",
            "no frame-ancestors: framing is not restricted by CSP",
        ));
    }
    for name in &csp.duplicate_directives {
        warnings.push(warning(
            "duplicate_directive",
            format!("{name} appears twice; browsers use the first"),
        ));
    }

    let mut value = to_value(&csp);
    value["errors"] = to_value(&errors);
    value["warnings"] = to_value(&warnings);
    (errors.is_empty(), value)
}

/// Renders a security.txt file, its expiry compared with `now`. The media type is not
/// known here, so only the body decides whether it is a security.txt file.
pub fn render_security_txt(text: &str, now: DateTime<Utc>) -> (bool, Value) {
    let file = securitytxt::parse(text, None, now);
    let mut value = to_value(&file);
    let mut errors = to_value(&file.errors);
    if let (Some(reason), Value::Array(list)) = (file.not_security_txt, &mut errors) {
        list.insert(0, json!({"kind": "not_security_txt", "message": format!("the text is not a security.txt file ({})", to_value(&reason).as_str().unwrap_or_default())}));
    }
    value["errors"] = errors;
    value["warnings"] = json!([]);
    if file.expires_over_a_year {
        value["warnings"] = json!([warning(
            "expires_over_a_year",
            "Expires is more than a year away; RFC 9116 advises less"
        )]);
    }
    (file.is_valid(), value)
}

fn warning(kind: &'static str, message: impl Into<String>) -> Issue<&'static str> {
    Issue::new(kind, message)
}

fn to_value<T: Serialize>(value: &T) -> Value {
    // serde_json fails only on maps with non-string keys, and these types contain none.
    serde_json::to_value(value).unwrap_or(Value::Null)
}

fn rejection_issue(rejection: cookie::Rejection) -> Issue<&'static str> {
    let (kind, message) = match rejection {
        cookie::Rejection::EmptyNameAndValue => (
            "empty_name_and_value",
            "the name and the value are both empty",
        ),
        cookie::Rejection::ControlCharacter => (
            "control_character",
            "a control character makes browsers ignore the header",
        ),
        cookie::Rejection::TooLong => ("too_long", "name and value exceed 4096 bytes together"),
        cookie::Rejection::SecureFromInsecureOrigin => (
            "secure_from_insecure_origin",
            "a Secure cookie set over plain HTTP is ignored",
        ),
        cookie::Rejection::SameSiteNoneWithoutSecure => (
            "same_site_none_without_secure",
            "SameSite=None requires Secure",
        ),
        cookie::Rejection::DomainMismatch => (
            "domain_mismatch",
            "the Domain attribute does not match the origin's host",
        ),
        cookie::Rejection::DomainIsPublicSuffix => (
            "domain_is_public_suffix",
            "the Domain attribute is a public suffix",
        ),
        cookie::Rejection::SecurePrefixViolated => (
            "secure_prefix_violated",
            "a __Secure- cookie needs Secure and an HTTPS origin",
        ),
        cookie::Rejection::HostPrefixViolated => (
            "host_prefix_violated",
            "a __Host- cookie needs Secure, Path=/ and no Domain",
        ),
        cookie::Rejection::PrefixInNamelessCookie => (
            "prefix_in_nameless_cookie",
            "a cookie without a name may not start its value with __Secure- or __Host-",
        ),
    };
    Issue::new(kind, message)
}

/// `scheme://host[:port][/path]` with scheme http or https. The query and fragment are
/// dropped.
fn parse_origin(url: &str) -> Option<cookie::Origin> {
    let (scheme, rest) = url.split_once("://")?;
    let secure = match scheme.to_ascii_lowercase().as_str() {
        "https" => true,
        "http" => false,
        _ => return None,
    };
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    let (authority, path) = match rest.find('/') {
        Some(index) => (&rest[..index], &rest[index..]),
        None => (rest, "/"),
    };
    let host = match authority.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    if host.is_empty() {
        return None;
    }
    Some(cookie::Origin::new(host, secure, path))
}

/// Splits the text into (header, value) pairs. A text whose lines are not `Name: value`
/// pairs is one `Server` value.
fn disclosure_lines(text: &str) -> Vec<(Option<server::DisclosureHeader>, &str)> {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect();
    if lines.is_empty() || !lines.iter().all(|line| is_header_line(line)) {
        return vec![(Some(server::DisclosureHeader::Server), text.trim())];
    }
    lines
        .into_iter()
        .map(|line| {
            let (name, value) = line.split_once(':').unwrap_or((line, ""));
            let header = server::DisclosureHeader::ALL
                .into_iter()
                .find(|header| header.name().eq_ignore_ascii_case(name.trim()));
            match header {
                Some(header) => (Some(header), value.trim()),
                None => (None, name.trim()),
            }
        })
        .collect()
}

/// Returns whether a line starts with a header name and a colon.
fn is_header_line(line: &str) -> bool {
    line.split_once(':').is_some_and(|(name, _)| {
        let name = name.trim();
        !name.is_empty() && name.bytes().all(hsts::is_tchar)
    })
}
