//! The HTTP header columns of an output row, flattened into [`Row`](super::Row): HSTS, server
//! disclosure, cookies at every hop, the security headers of the graded response, and
//! security.txt. Each is read with the parsers of [`crate::check::http`], the same ones that
//! `posture parse` runs.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Fields, TimeUnit};
use chrono::{DateTime, SecondsFormat, Utc};
use http::HeaderMap;
use serde::Serialize;

use crate::check::WebScan;
use crate::check::follow::{Hop, graded_response, is_bot_wall};
use crate::check::http::cookie::{self, Origin, SameSite, SessionPatterns};
use crate::check::http::server::{self, DisclosureHeader, Role};
use crate::check::http::{headers, hsts, securitytxt};
use crate::check::web::CertVerdict;

/// One cookie, as stored in `cookies`: every attribute except the value.
#[derive(Debug, Serialize)]
pub struct CookieColumn {
    pub host: String,
    pub chain: &'static str,
    pub status: Option<u16>,
    pub name: String,
    pub secure: bool,
    pub http_only: bool,
    pub same_site: Option<String>,
    pub domain: Option<String>,
    pub path: Option<String>,
    pub expires: Option<String>,
    pub session_like: bool,
    pub prefix_satisfied: Option<bool>,
    pub accepted: bool,
}

fn cookie_fields() -> Fields {
    let text = |name: &str, nullable| Field::new(name, DataType::Utf8, nullable);
    let flag = |name: &str, nullable| Field::new(name, DataType::Boolean, nullable);
    Fields::from(vec![
        text("host", false),
        text("chain", false),
        Field::new("status", DataType::UInt16, true),
        text("name", false),
        flag("secure", false),
        flag("http_only", false),
        text("same_site", true),
        text("domain", true),
        text("path", true),
        Field::new(
            "expires",
            DataType::Timestamp(TimeUnit::Millisecond, Some("+00:00".into())),
            true,
        ),
        flag("session_like", false),
        flag("prefix_satisfied", true),
        flag("accepted", false),
    ])
}

/// Returns the HTTP header fields in schema order.
pub fn fields() -> Vec<Field> {
    let text = |name: &str| Field::new(name, DataType::Utf8, true);
    let flag = |name: &str| Field::new(name, DataType::Boolean, true);
    let count = |name: &str| Field::new(name, DataType::UInt16, true);
    vec![
        text("hsts_header"),
        Field::new("hsts_header_count", DataType::UInt8, true),
        flag("hsts_valid"),
        Field::new("hsts_max_age", DataType::UInt64, true),
        flag("hsts_include_subdomains"),
        flag("hsts_preload"),
        flag("hsts_preload_ready"),
        flag("hsts_over_http"),
        text("server_header"),
        text("powered_by_header"),
        Field::new(
            "disclosure_products",
            DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
            true,
        ),
        flag("disclosure_version"),
        flag("disclosure_eol"),
        text("disclosure_cdn"),
        count("cookie_count"),
        count("cookies_without_secure"),
        count("cookies_without_httponly"),
        count("cookies_without_samesite"),
        count("session_cookies_without_flag"),
        count("cookies_on_redirect"),
        Field::new(
            "cookies",
            DataType::List(Arc::new(Field::new(
                "item",
                DataType::Struct(cookie_fields()),
                true,
            ))),
            true,
        ),
        flag("csp_present"),
        flag("csp_report_only"),
        flag("csp_unsafe_inline"),
        flag("csp_unsafe_eval"),
        flag("csp_frame_ancestors"),
        text("x_frame_options"),
        flag("x_content_type_options_nosniff"),
        text("referrer_policy"),
        flag("permissions_policy_present"),
        text("coop"),
        text("coep"),
        text("corp"),
        flag("cors_allow_origin_any"),
        text("security_txt"),
        Field::new(
            "security_txt_expires",
            DataType::Timestamp(TimeUnit::Millisecond, Some("+00:00".into())),
            true,
        ),
    ]
}

/// HTTP header columns. Every one is null when the web check did not run.
#[derive(Debug, Default, Serialize)]
pub struct HttpColumns {
    pub hsts_header: Option<String>,
    pub hsts_header_count: Option<u8>,
    pub hsts_valid: Option<bool>,
    pub hsts_max_age: Option<u64>,
    pub hsts_include_subdomains: Option<bool>,
    pub hsts_preload: Option<bool>,
    pub hsts_preload_ready: Option<bool>,
    pub hsts_over_http: Option<bool>,
    pub server_header: Option<String>,
    pub powered_by_header: Option<String>,
    pub disclosure_products: Option<Vec<String>>,
    pub disclosure_version: Option<bool>,
    pub disclosure_eol: Option<bool>,
    pub disclosure_cdn: Option<String>,
    pub cookie_count: Option<u16>,
    pub cookies_without_secure: Option<u16>,
    pub cookies_without_httponly: Option<u16>,
    pub cookies_without_samesite: Option<u16>,
    pub session_cookies_without_flag: Option<u16>,
    pub cookies_on_redirect: Option<u16>,
    pub cookies: Option<Vec<CookieColumn>>,
    pub csp_present: Option<bool>,
    pub csp_report_only: Option<bool>,
    pub csp_unsafe_inline: Option<bool>,
    pub csp_unsafe_eval: Option<bool>,
    pub csp_frame_ancestors: Option<bool>,
    pub x_frame_options: Option<String>,
    pub x_content_type_options_nosniff: Option<bool>,
    pub referrer_policy: Option<String>,
    pub permissions_policy_present: Option<bool>,
    pub coop: Option<String>,
    pub coep: Option<String>,
    pub corp: Option<String>,
    pub cors_allow_origin_any: Option<bool>,
    pub security_txt: Option<&'static str>,
    pub security_txt_expires: Option<String>,
}

/// Returns the first value of a header, with bytes that are not UTF-8 replaced.
fn first(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
}

fn rfc3339(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn count(n: usize) -> u16 {
    u16::try_from(n).unwrap_or(u16::MAX)
}

/// One cookie identity's latest facts, and whether every header setting it came on a 3xx.
struct SeenCookie {
    column: CookieColumn,
    only_on_redirects: bool,
}

impl HttpColumns {
    pub fn new(web: &WebScan, name: &str, now: DateTime<Utc>) -> Self {
        let mut columns = Self::default();
        // Every response of the four chains, in chain order and hop order.
        let responses: Vec<(&'static str, &Hop)> = web
            .chains()
            .flat_map(|chain| {
                chain
                    .responses()
                    .map(move |hop| (chain.start.as_str(), hop))
            })
            .collect();
        columns.set_hsts(web, &responses);
        if !responses.is_empty() {
            columns.set_disclosure(&responses, now);
            columns.set_cookies(&responses, now);
        }
        if let Some(graded) = graded_response(web, name) {
            if !is_bot_wall(graded) {
                columns.set_security_headers(&graded.observation.headers);
            }
            columns.set_security_txt(web, now);
        }
        columns
    }

    /// Reads HSTS from the first response of `https://<name>/`, as RFC 6797 section 8.1
    /// requires: only over a connection whose certificate is trusted, and only the first
    /// header.
    fn set_hsts(&mut self, web: &WebScan, responses: &[(&'static str, &Hop)]) {
        let plain: Vec<&&Hop> = responses
            .iter()
            .filter(|(_, hop)| hop.url.scheme() == "http")
            .map(|(_, hop)| hop)
            .collect();
        if !plain.is_empty() {
            let carried = plain.iter().any(|hop| {
                hop.observation
                    .headers
                    .contains_key("strict-transport-security")
            });
            self.hsts_over_http = Some(carried);
        }

        let first_response = &web.https.hops[0].observation;
        let trusted = first_response
            .tls
            .as_ref()
            .is_some_and(|tls| tls.verdict == CertVerdict::Trusted);
        if first_response.status.is_none() || !trusted {
            return;
        }
        let values = first_response.headers.get_all("strict-transport-security");
        self.hsts_header_count = Some(u8::try_from(values.iter().count()).unwrap_or(u8::MAX));
        let Some(value) = values.iter().next() else {
            return;
        };
        let text = String::from_utf8_lossy(value.as_bytes()).into_owned();
        let parsed = hsts::parse(&text);
        self.hsts_header = Some(text);
        self.hsts_valid = Some(parsed.is_valid());
        if parsed.is_valid() {
            self.hsts_max_age = parsed.max_age;
            self.hsts_include_subdomains = Some(parsed.include_subdomains);
            self.hsts_preload = Some(parsed.preload);
            self.hsts_preload_ready = Some(hsts::preload_readiness(&parsed).ready);
        }
    }

    fn set_disclosure(&mut self, responses: &[(&'static str, &Hop)], now: DateTime<Utc>) {
        let today = now.date_naive();
        let mut products: Vec<String> = Vec::new();
        let (mut version, mut eol) = (false, false);
        for (_, hop) in responses {
            let headers = &hop.observation.headers;
            if self.server_header.is_none() {
                self.server_header = first(headers, "server");
            }
            if self.powered_by_header.is_none() {
                self.powered_by_header = first(headers, "x-powered-by");
            }
            for header in DisclosureHeader::ALL {
                for value in headers.get_all(header.name()) {
                    let value = String::from_utf8_lossy(value.as_bytes());
                    for product in server::parse(header, &value) {
                        if product.role != Role::Origin {
                            if self.disclosure_cdn.is_none() {
                                self.disclosure_cdn = product
                                    .provider
                                    .map(|provider| provider.to_ascii_lowercase());
                            }
                            continue;
                        }
                        if product.discloses_version() {
                            version = true;
                            let verdict = server::eol_verdict(
                                &product.name,
                                product.version.as_deref(),
                                today,
                            );
                            eol |= verdict.is_end_of_life();
                        }
                        let label = match &product.version {
                            Some(version) => format!("{}/{version}", product.name),
                            None => product.name.clone(),
                        };
                        if !products.contains(&label) {
                            products.push(label);
                        }
                    }
                }
            }
        }
        self.disclosure_products = (!products.is_empty()).then_some(products);
        self.disclosure_version = Some(version);
        self.disclosure_eol = Some(eol);
    }

    fn set_cookies(&mut self, responses: &[(&'static str, &Hop)], now: DateTime<Utc>) {
        let sessions = SessionPatterns::default();
        // Keyed by the setting host and the cookie name, in first-seen order.
        let mut seen: HashMap<(String, String), usize> = HashMap::new();
        let mut cookies: Vec<SeenCookie> = Vec::new();
        for (chain, hop) in responses {
            let host = hop.url.host_str().unwrap_or_default().to_ascii_lowercase();
            let origin = Origin::new(&host, hop.url.scheme() == "https", hop.url.path());
            let redirect = hop.observation.is_redirect();
            for value in hop.observation.headers.get_all("set-cookie") {
                let text = String::from_utf8_lossy(value.as_bytes());
                let Ok(parsed) = cookie::parse(&text) else {
                    continue;
                };
                let facts = parsed.facts(&origin, now);
                let column = CookieColumn {
                    host: host.clone(),
                    chain,
                    status: hop.observation.status,
                    session_like: sessions.matches(&facts.name),
                    secure: facts.secure,
                    http_only: facts.http_only,
                    same_site: facts.same_site.as_ref().map(same_site_name),
                    domain: facts.domain_attribute.clone(),
                    path: facts.path_attribute.clone(),
                    expires: facts.expires.map(rfc3339),
                    prefix_satisfied: facts.prefix_satisfied,
                    accepted: facts.accepted(),
                    name: facts.name,
                };

                let key = (host.clone(), column.name.clone());
                match seen.get(&key) {
                    Some(&index) => {
                        let entry = &mut cookies[index];
                        entry.only_on_redirects &= redirect;
                        entry.column = column;
                    }
                    None => {
                        seen.insert(key, cookies.len());
                        cookies.push(SeenCookie {
                            column,
                            only_on_redirects: redirect,
                        });
                    }
                }
            }
        }

        let tally = |test: &dyn Fn(&SeenCookie) -> bool| {
            Some(count(cookies.iter().filter(|cookie| test(cookie)).count()))
        };
        self.cookie_count = Some(count(cookies.len()));
        self.cookies_without_secure = tally(&|cookie| !cookie.column.secure);
        self.cookies_without_httponly = tally(&|cookie| !cookie.column.http_only);
        self.cookies_without_samesite = tally(&|cookie| {
            !matches!(
                cookie.column.same_site.as_deref(),
                Some("strict" | "lax" | "none")
            )
        });
        self.session_cookies_without_flag = tally(&|cookie| {
            cookie.column.session_like && !(cookie.column.secure && cookie.column.http_only)
        });
        self.cookies_on_redirect = tally(&|cookie| cookie.only_on_redirects);
        self.cookies = Some(cookies.into_iter().map(|cookie| cookie.column).collect());
    }

    fn set_security_headers(&mut self, map: &HeaderMap) {
        let found = headers::analyze(map);
        self.csp_present = Some(found.csp.present);
        self.csp_report_only = Some(found.csp.report_only);
        if found.csp.present {
            self.csp_unsafe_inline = Some(found.csp.unsafe_inline);
            self.csp_unsafe_eval = Some(found.csp.unsafe_eval);
            self.csp_frame_ancestors = Some(found.csp.frame_ancestors.is_some());
        }
        self.x_frame_options = first(map, "x-frame-options");
        self.x_content_type_options_nosniff = Some(found.x_content_type_options_nosniff);
        self.referrer_policy = first(map, "referrer-policy");
        self.permissions_policy_present = Some(found.permissions_policy);
        self.coop = first(map, "cross-origin-opener-policy");
        self.coep = first(map, "cross-origin-embedder-policy");
        self.corp = first(map, "cross-origin-resource-policy");
        self.cors_allow_origin_any = Some(found.cors_wildcard);
    }

    fn set_security_txt(&mut self, web: &WebScan, now: DateTime<Utc>) {
        let Some(chain) = &web.security_txt else {
            return;
        };
        let Some(hop) = chain.final_response() else {
            self.security_txt = chain.end.map(|_| "absent");
            return;
        };
        if hop.observation.status != Some(200) {
            self.security_txt = Some("absent");
            return;
        }
        let body = hop.observation.body.as_deref().unwrap_or_default();
        let content_type = first(&hop.observation.headers, "content-type");
        let file = securitytxt::parse(&String::from_utf8_lossy(body), content_type.as_deref(), now);
        if file.not_security_txt.is_some() || file.contacts.is_empty() {
            self.security_txt = Some("invalid");
            return;
        }
        self.security_txt = Some(match file.expired {
            Some(true) => "expired",
            _ => "present",
        });
        self.security_txt_expires = file.expires.map(rfc3339);
    }
}

fn same_site_name(same_site: &SameSite) -> String {
    match same_site {
        SameSite::Strict => "strict".to_string(),
        SameSite::Lax => "lax".to_string(),
        SameSite::None => "none".to_string(),
        SameSite::Invalid(_) => "invalid".to_string(),
    }
}
