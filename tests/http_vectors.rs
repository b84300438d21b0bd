//! The cookie and HSTS vectors of other projects, converted into posture's fixtures by
//! `scripts/convert-http-vectors` (sources and licences in `tests/fixtures/README.md`).
//!
//! Every case is asserted. Where posture differs from the upstream expectation on purpose,
//! the fixture gives the reason and posture's own expected value, and the test asserts that
//! value instead of skipping the case.

use std::path::Path;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::Value;

use posture::check::http::cookie::{self, Expiry, Origin, SameSite, SetCookie};
use posture::check::http::hsts;

fn fixture(path: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path);
    let text = std::fs::read_to_string(&path).expect("fixture is readable");
    serde_json::from_str(&text).expect("fixture is JSON")
}

/// Returns the time the http-state suite assumes. Its expiry dates (2007, 2019, 2027) put
/// the first in the past and the others in the future for a run in 2011.
fn suite_now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2012, 1, 1, 0, 0, 0).unwrap()
}

/// A stored cookie: the storage model of RFC 6265 section 5.3, as far as the suite needs it.
struct StoredCookie {
    name: String,
    value: String,
    domain: String,
    host_only: bool,
    path: String,
    secure: bool,
    expiry: Option<DateTime<Utc>>,
    created: usize,
}

/// The small cookie store the http-state suite needs: store, replace, expire, and select the
/// cookies for a request in the order of RFC 6265 section 5.4.
#[derive(Default)]
struct CookieStore {
    cookies: Vec<StoredCookie>,
    counter: usize,
}

impl CookieStore {
    fn receive(&mut self, header: &str, origin: &Origin, now: DateTime<Utc>) {
        let Ok(parsed) = cookie::parse(header) else {
            return;
        };
        let facts = parsed.facts(origin, now);
        if !facts.accepted() {
            return;
        }
        let expiry = match facts.expiry {
            Expiry::Session => None,
            Expiry::At(time) => Some(time),
        };
        self.counter += 1;
        let mut created = self.counter;
        // Section 5.3 step 11: a cookie with the same name, domain and path replaces the old
        // one and keeps its creation time.
        if let Some(index) = self.cookies.iter().position(|stored| {
            stored.name == facts.name && stored.domain == facts.domain && stored.path == facts.path
        }) {
            created = self.cookies.remove(index).created;
        }

        // A cookie that has already expired only deletes.
        if expiry.is_some_and(|time| time <= now) {
            return;
        }
        self.cookies.push(StoredCookie {
            name: facts.name,
            value: parsed.value.clone(),
            domain: facts.domain,
            host_only: facts.host_only,
            path: facts.path,
            secure: facts.secure,
            expiry,
            created,
        });
    }

    fn send(
        &self,
        host: &str,
        path: &str,
        secure: bool,
        now: DateTime<Utc>,
    ) -> Vec<(String, String)> {
        let mut selected: Vec<&StoredCookie> = self
            .cookies
            .iter()
            .filter(|stored| {
                let domain_ok = if stored.host_only {
                    stored.domain.eq_ignore_ascii_case(host)
                } else {
                    cookie::domain_matches(host, &stored.domain)
                };
                domain_ok
                    && path_matches(path, &stored.path)
                    && (secure || !stored.secure)
                    && stored.expiry.is_none_or(|time| time > now)
            })
            .collect();
        // Longer paths first, then earlier creation times.
        selected.sort_by(|a, b| {
            b.path
                .len()
                .cmp(&a.path.len())
                .then(a.created.cmp(&b.created))
        });
        selected
            .into_iter()
            .map(|stored| (stored.name.clone(), stored.value.clone()))
            .collect()
    }
}

/// Path-match of RFC 6265 section 5.1.4.
fn path_matches(request_path: &str, cookie_path: &str) -> bool {
    if request_path == cookie_path {
        return true;
    }
    request_path.starts_with(cookie_path)
        && (cookie_path.ends_with('/') || request_path[cookie_path.len()..].starts_with('/'))
}

/// Splits `http://host:port/path?query` into host, path and whether it is HTTPS.
fn split_url(url: &str) -> (String, String, bool) {
    let (scheme, rest) = url.split_once("://").expect("absolute URL");
    let rest = rest.split('?').next().unwrap();
    let (authority, path) = match rest.find('/') {
        Some(index) => (&rest[..index], &rest[index..]),
        None => (rest, "/"),
    };
    let host = authority.split(':').next().unwrap().to_ascii_lowercase();
    (host, path.to_string(), scheme == "https")
}

fn pairs(value: &Value) -> Vec<(String, String)> {
    value
        .as_array()
        .expect("a list of pairs")
        .iter()
        .map(|pair| {
            let name = pair[0].as_str().unwrap().to_string();
            let value = pair[1].as_str().unwrap().to_string();
            (name, value)
        })
        .collect()
}

#[test]
fn http_state_parser_suite() {
    let suite = fixture("cookies/http-state.json");
    let (set_host, set_path, set_secure) = split_url(suite["set_from"].as_str().unwrap());
    let origin = Origin::new(&set_host, set_secure, &set_path);
    let cases = suite["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 222);

    let mut failures = Vec::new();
    let mut differences = 0;
    for case in cases {
        let id = case["id"].as_str().unwrap();
        let mut store = CookieStore::default();
        for header in case["set_cookie"].as_array().unwrap() {
            store.receive(header.as_str().unwrap(), &origin, suite_now());
        }
        let (host, path, secure) = split_url(case["request_url"].as_str().unwrap());
        let sent = store.send(&host, &path, secure, suite_now());
        let expected = match case.get("posture_expected") {
            Some(own) => {
                differences += 1;
                assert!(
                    case["difference"].is_string(),
                    "{id}: a difference needs a reason"
                );
                pairs(own)
            }
            None => pairs(&case["expected"]),
        };
        if sent != expected {
            failures.push(format!("{id}: sent {sent:?}, expected {expected:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ ({differences} documented differences):\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn http_state_dates() {
    let cases = fixture("cookies/dates.json");
    for case in cases.as_array().unwrap() {
        let text = case["text"].as_str().unwrap();
        let parsed = cookie::parse_cookie_date(text)
            .map(|time| time.format("%a, %d %b %Y %H:%M:%S GMT").to_string());
        assert_eq!(parsed.as_deref(), case["expected"].as_str(), "{text:?}");
    }
}

#[test]
fn go_set_cookie_cases() {
    let cases = fixture("cookies/go-set-cookie.json");
    let cases = cases.as_array().unwrap();
    assert_eq!(cases.len(), 22);
    for case in cases {
        let header = case["set_cookie"].as_str().unwrap();
        let parsed: SetCookie =
            cookie::parse(header).unwrap_or_else(|error| panic!("{header}: {error:?}"));
        assert_eq!(parsed.name, case["name"].as_str().unwrap(), "{header}");
        let expected_value = match case.get("posture_value") {
            Some(own) => {
                assert!(
                    case["difference"].is_string(),
                    "{header}: a difference needs a reason"
                );
                own
            }
            None => &case["value"],
        };
        assert_eq!(parsed.value, expected_value.as_str().unwrap(), "{header}");
        if let Some(path) = case.get("path") {
            assert_eq!(parsed.path.as_deref(), path.as_str(), "{header}");
        }
        if let Some(domain) = case.get("domain") {
            // posture stores the Domain attribute without its leading dot, as RFC 6265
            // section 5.2.3 does; Go keeps the dot in the raw field.
            let expected = domain.as_str().map(|domain| domain.trim_start_matches('.'));
            assert_eq!(parsed.domain.as_deref(), expected, "{header}");
        }
        if let Some(http_only) = case.get("http_only") {
            assert_eq!(parsed.http_only, http_only.as_bool().unwrap(), "{header}");
        }
        if let Some(secure) = case.get("secure") {
            assert_eq!(parsed.secure, secure.as_bool().unwrap(), "{header}");
        }
        if let Some(same_site) = case.get("same_site") {
            let parsed_same_site = parsed.same_site.as_ref().map(|value| match value {
                SameSite::Strict => "strict",
                SameSite::Lax => "lax",
                SameSite::None => "none",
                SameSite::Invalid(_) => "invalid",
            });
            assert_eq!(parsed_same_site, same_site.as_str(), "{header}");
        }
        if let Some(expires) = case.get("expires") {
            let parsed_expires = parsed
                .expires
                .map(|time| time.format("%Y-%m-%dT%H:%M:%SZ").to_string());
            assert_eq!(parsed_expires.as_deref(), expires.as_str(), "{header}");
        }
        if let Some(max_age) = case.get("max_age") {
            assert_eq!(parsed.max_age, max_age.as_i64(), "{header}");
        }
    }
}

#[test]
fn chromium_hsts_cases() {
    let cases = fixture("hsts/chromium.json");
    let cases = cases.as_array().unwrap();
    assert_eq!(cases.len(), 117);
    for case in cases {
        let header = case["header"].as_str().unwrap();
        let parsed = hsts::parse(header);
        let valid = case["valid"].as_bool().unwrap();
        assert_eq!(parsed.is_valid(), valid, "{header:?}: {:?}", parsed.errors);
        if !valid {
            continue;
        }
        let include = case["include_subdomains"].as_bool().unwrap();
        assert_eq!(parsed.include_subdomains, include, "{header:?}");
        let max_age = parsed.max_age.expect("a valid header has max-age");
        match (case.get("max_age"), case.get("max_age_at_least")) {
            (Some(expected), None) => assert_eq!(max_age, expected.as_u64().unwrap(), "{header:?}"),
            // Chromium caps the stored value at one year; posture keeps the raw value.
            (None, Some(at_least)) => {
                assert!(
                    case["difference"].is_string(),
                    "{header:?}: a difference needs a reason"
                );
                assert!(
                    max_age >= at_least.as_u64().unwrap(),
                    "{header:?}: {max_age}"
                );
            }
            _ => panic!("{header:?}: the fixture needs max_age or max_age_at_least"),
        }
    }
}
