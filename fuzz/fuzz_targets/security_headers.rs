//! The security headers of a response (CSP, X-Frame-Options, Referrer-Policy, the
//! cross-origin headers). Each input line `name: value` becomes one header.
#![no_main]

use http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;
use posture::check::http::headers;

fuzz_target!(|text: &str| {
    let csp = headers::parse_csp(text);
    assert_eq!(csp.present, !csp.policies.is_empty());
    for name in csp.policies.iter().flat_map(|policy| policy.keys()) {
        assert_eq!(
            *name,
            name.to_ascii_lowercase(),
            "directive names are lowercase"
        );
    }
    let mut map = HeaderMap::new();
    for line in text.lines().take(64) {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.trim().as_bytes()),
            HeaderValue::from_bytes(value.trim().as_bytes()),
        ) else {
            continue;
        };
        map.append(name, value);
    }
    let analysed = headers::analyze(&map);
    // Report-only counts only when no policy is enforced.
    if analysed.csp.present {
        assert!(!analysed.csp.report_only);
    }
});
