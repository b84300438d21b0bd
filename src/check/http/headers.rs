//! Security response headers: Content-Security-Policy, X-Frame-Options,
//! X-Content-Type-Options, Referrer-Policy, Permissions-Policy, the cross-origin isolation
//! headers (COOP, COEP, CORP) and a universal `Access-Control-Allow-Origin`.
//!
//! Where Mozilla's HTTP Observatory has a specific rule, this module follows it. The last
//! known Referrer-Policy token decides. `origin`, `origin-when-cross-origin`, `unsafe-url`
//! and `no-referrer-when-downgrade` are the unsafe policies. X-Frame-Options is read from
//! its first header. A nonce or hash in a source list cancels `'unsafe-inline'`. Only
//! headers are read, so `<meta http-equiv>` policies in the body are left out.

use std::collections::BTreeMap;

use http::HeaderMap;
use serde::Serialize;

/// The security headers of one response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecurityHeaders {
    pub csp: Csp,
    pub x_frame_options: FrameOptions,
    /// True when the first `X-Content-Type-Options` is `nosniff`.
    pub x_content_type_options_nosniff: bool,
    /// The first `X-Content-Type-Options` value, if any.
    pub x_content_type_options: Option<String>,
    pub referrer_policy: Option<ReferrerPolicy>,
    pub permissions_policy: bool,
    pub cross_origin_opener_policy: Option<Keyword>,
    pub cross_origin_embedder_policy: Option<Keyword>,
    pub cross_origin_resource_policy: Option<Keyword>,
    /// The first `Access-Control-Allow-Origin` value.
    pub access_control_allow_origin: Option<String>,
    /// `Access-Control-Allow-Origin: *`, which lets every site read the response.
    pub cors_wildcard: bool,
}

/// Reads the security headers of a response.
pub fn analyze(headers: &HeaderMap) -> SecurityHeaders {
    let access_control_allow_origin = first(headers, "access-control-allow-origin");
    let x_content_type_options = first(headers, "x-content-type-options");
    SecurityHeaders {
        csp: analyze_csp(headers),
        x_frame_options: frame_options(first(headers, "x-frame-options").as_deref()),
        x_content_type_options_nosniff: x_content_type_options
            .as_deref()
            .is_some_and(|value| value.trim().eq_ignore_ascii_case("nosniff")),
        x_content_type_options,
        referrer_policy: referrer_policy(&all(headers, "referrer-policy")),
        permissions_policy: headers.contains_key("permissions-policy"),
        cross_origin_opener_policy: keyword(
            first(headers, "cross-origin-opener-policy"),
            &[
                "same-origin",
                "same-origin-allow-popups",
                "noopener-allow-popups",
                "unsafe-none",
            ],
        ),
        cross_origin_embedder_policy: keyword(
            first(headers, "cross-origin-embedder-policy"),
            &["require-corp", "credentialless", "unsafe-none"],
        ),
        cross_origin_resource_policy: keyword(
            first(headers, "cross-origin-resource-policy"),
            &["same-site", "same-origin", "cross-origin"],
        ),
        cors_wildcard: access_control_allow_origin
            .as_deref()
            .is_some_and(|value| value.trim() == "*"),
        access_control_allow_origin,
    }
}

/// Returns the first value of a header, or `None` when it is absent. Bytes that are not UTF-8 are
/// replaced, so a malformed value still counts as present.
fn first(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
}

fn all(headers: &HeaderMap, name: &str) -> Vec<String> {
    headers
        .get_all(name)
        .iter()
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
        .collect()
}

/// A header whose value is one keyword, optionally followed by `;` parameters (COOP and
/// COEP allow `report-to`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Keyword {
    /// The keyword, lowercased, without parameters.
    pub value: String,
    /// Whether the keyword is one the header defines.
    pub valid: bool,
}

fn keyword(value: Option<String>, known: &[&str]) -> Option<Keyword> {
    let value = value?;
    let keyword = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let valid = known.contains(&keyword.as_str());
    Some(Keyword {
        value: keyword,
        valid,
    })
}

/// X-Frame-Options (RFC 7034), from the first header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "value")]
pub enum FrameOptions {
    Missing,
    Deny,
    SameOrigin,
    /// `ALLOW-FROM uri`, which current browsers ignore.
    AllowFrom(String),
    /// Any other value, kept as sent. Several comma-joined values are invalid too.
    Invalid(String),
}

fn frame_options(value: Option<&str>) -> FrameOptions {
    let Some(value) = value else {
        return FrameOptions::Missing;
    };
    let trimmed = value.trim();
    let lower = trimmed.to_ascii_lowercase();
    match lower.as_str() {
        "deny" => FrameOptions::Deny,
        "sameorigin" => FrameOptions::SameOrigin,
        _ if lower.starts_with("allow-from") => {
            FrameOptions::AllowFrom(trimmed["allow-from".len()..].trim().to_string())
        }
        _ => FrameOptions::Invalid(trimmed.to_string()),
    }
}

/// Referrer-Policy as a browser applies it: the last known policy token, from all the headers
/// joined with commas (Referrer Policy specification, section 11.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReferrerPolicy {
    /// The header values joined with `, `.
    pub raw: String,
    /// The policy in effect, lowercased, or `None` when no token is a known policy.
    pub policy: Option<String>,
    /// A policy that sends the full URL or the origin across origins or to HTTP:
    /// `unsafe-url`, `no-referrer-when-downgrade`, `origin` or `origin-when-cross-origin`.
    pub unsafe_policy: bool,
}

const SAFE_REFERRER_POLICIES: [&str; 4] = [
    "no-referrer",
    "same-origin",
    "strict-origin",
    "strict-origin-when-cross-origin",
];
const UNSAFE_REFERRER_POLICIES: [&str; 4] = [
    "origin",
    "origin-when-cross-origin",
    "unsafe-url",
    "no-referrer-when-downgrade",
];

fn referrer_policy(values: &[String]) -> Option<ReferrerPolicy> {
    if values.is_empty() {
        return None;
    }
    let raw = values.join(", ");
    let policy = raw
        .split(',')
        .map(|token| token.trim().to_ascii_lowercase())
        .rfind(|token| {
            SAFE_REFERRER_POLICIES.contains(&token.as_str())
                || UNSAFE_REFERRER_POLICIES.contains(&token.as_str())
        });
    let unsafe_policy = policy
        .as_deref()
        .is_some_and(|policy| UNSAFE_REFERRER_POLICIES.contains(&policy));
    Some(ReferrerPolicy {
        raw,
        policy,
        unsafe_policy,
    })
}

/// One CSP policy: directive name (lowercase) to source list.
pub type Policy = BTreeMap<String, Vec<String>>;

/// Content-Security-Policy (CSP Level 3) as the enforced headers define it.
///
/// A response may carry several policies (several headers, or one with commas), and a
/// browser enforces each, so a resource loads only if every policy allows it. The flags
/// below are therefore true only when every enforced policy has the property.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Csp {
    /// At least one enforced `Content-Security-Policy` policy.
    pub present: bool,
    /// `Content-Security-Policy-Report-Only` without an enforced policy: violations are
    /// reported but nothing is blocked.
    pub report_only: bool,
    /// The enforced policies: directive name (lowercase) to source list, the first of
    /// duplicate directives kept as browsers do.
    pub policies: Vec<Policy>,
    /// Directive names repeated within a policy; browsers ignore the repeats.
    pub duplicate_directives: Vec<String>,
    /// Scripts are not restricted: some policy has neither `script-src` nor `default-src`.
    pub scripts_unrestricted: bool,
    /// `'unsafe-inline'` (or `data:`) in the effective `script-src` of every policy, and no
    /// nonce or hash that would make a browser ignore it.
    pub unsafe_inline: bool,
    /// `'unsafe-eval'` in the effective `script-src` of every policy.
    pub unsafe_eval: bool,
    /// `'unsafe-inline'` in the effective `style-src` of every policy, without nonce or hash.
    pub style_unsafe_inline: bool,
    /// `'strict-dynamic'` with a nonce or hash in some policy's effective `script-src`.
    pub strict_dynamic: bool,
    /// `default-src 'none'` in some policy.
    pub default_src_none: bool,
    /// The `frame-ancestors` source list of the first policy that has one, joined by spaces.
    pub frame_ancestors: Option<String>,
}

fn analyze_csp(headers: &HeaderMap) -> Csp {
    let enforced = all(headers, "content-security-policy");
    let report_only = all(headers, "content-security-policy-report-only");
    let mut csp = parse_csp(&enforced.join(","));
    csp.report_only = !csp.present && !report_only.is_empty();
    csp
}

/// Parses the value of one or more `Content-Security-Policy` headers, joined by commas.
pub fn parse_csp(value: &str) -> Csp {
    let mut csp = Csp::default();
    for text in value.split(',') {
        let (policy, duplicates) = parse_policy(text);
        csp.duplicate_directives.extend(duplicates);
        if !policy.is_empty() {
            csp.policies.push(policy);
        }
    }
    csp.present = !csp.policies.is_empty();
    if !csp.present {
        return csp;
    }

    let every = |test: &dyn Fn(&Policy) -> bool| csp.policies.iter().all(test);
    let some = |test: &dyn Fn(&Policy) -> bool| csp.policies.iter().any(test);
    csp.scripts_unrestricted = some(&|policy| effective(policy, "script-src").is_none());
    csp.unsafe_inline = every(&|policy| {
        effective(policy, "script-src").is_some_and(|sources| {
            let inline = has(sources, "'unsafe-inline'") && !has_nonce_or_hash(sources);
            inline || has(sources, "data:")
        })
    });
    csp.unsafe_eval = every(&|policy| {
        effective(policy, "script-src").is_some_and(|sources| has(sources, "'unsafe-eval'"))
    });
    csp.style_unsafe_inline = every(&|policy| {
        effective(policy, "style-src")
            .is_some_and(|sources| has(sources, "'unsafe-inline'") && !has_nonce_or_hash(sources))
    });
    csp.strict_dynamic = some(&|policy| {
        effective(policy, "script-src")
            .is_some_and(|sources| has(sources, "'strict-dynamic'") && has_nonce_or_hash(sources))
    });
    csp.default_src_none = some(&|policy| {
        policy
            .get("default-src")
            .is_some_and(|sources| sources.len() == 1 && sources[0] == "'none'")
    });
    csp.frame_ancestors = csp
        .policies
        .iter()
        .find_map(|policy| policy.get("frame-ancestors"))
        .map(|sources| sources.join(" "));
    csp
}

/// Parses one policy: directives separated by `;`, each a name and space-separated sources.
/// Keywords and schemes are lowercased, and host sources keep their case.
fn parse_policy(text: &str) -> (Policy, Vec<String>) {
    let mut policy = BTreeMap::new();
    let mut duplicates = Vec::new();
    for directive in text.split(';') {
        let mut parts = directive.split_ascii_whitespace();
        let Some(name) = parts.next() else {
            continue;
        };
        let name = name.to_ascii_lowercase();
        if policy.contains_key(&name) {
            duplicates.push(name);
            continue;
        }
        let sources = parts.map(normalize_source).collect();
        policy.insert(name, sources);
    }
    (policy, duplicates)
}

fn normalize_source(source: &str) -> String {
    let quoted = source.starts_with('\'');
    let scheme_only = source.ends_with(':') && !source.contains('/');
    if quoted || scheme_only || source == "*" {
        // Nonces and hashes are case-sensitive after their prefix.
        match source.split_once('-') {
            Some((prefix, rest)) if quoted && is_nonce_or_hash_prefix(prefix) => {
                format!("{}-{rest}", prefix.to_ascii_lowercase())
            }
            _ => source.to_ascii_lowercase(),
        }
    } else {
        source.to_string()
    }
}

fn is_nonce_or_hash_prefix(prefix: &str) -> bool {
    ["'nonce", "'sha256", "'sha384", "'sha512"]
        .iter()
        .any(|known| prefix.eq_ignore_ascii_case(known))
}

/// Returns the source list that governs `directive`: its own, or `default-src` as the fallback.
fn effective<'a>(policy: &'a Policy, directive: &str) -> Option<&'a [String]> {
    policy
        .get(directive)
        .or_else(|| policy.get("default-src"))
        .map(Vec::as_slice)
}

fn has(sources: &[String], wanted: &str) -> bool {
    sources.iter().any(|source| source == wanted)
}

fn has_nonce_or_hash(sources: &[String]) -> bool {
    sources.iter().any(|source| {
        ["'nonce-", "'sha256-", "'sha384-", "'sha512-"]
            .iter()
            .any(|prefix| source.starts_with(prefix))
    })
}

#[cfg(test)]
mod tests;
