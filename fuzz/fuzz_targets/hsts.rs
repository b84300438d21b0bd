//! `Strict-Transport-Security` values, preload readiness, and a round trip of valid headers.
#![no_main]

use libfuzzer_sys::fuzz_target;
use posture::check::http::hsts;

fuzz_target!(|text: &str| {
    let parsed = hsts::parse(text);
    let _ = hsts::preload_readiness(&parsed);
    let _ = parsed.disables();
    if !parsed.is_valid() {
        return;
    }
    // A valid header rendered in canonical form parses to the same directives.
    let raw = parsed
        .max_age_raw
        .as_deref()
        .expect("a valid header has max-age");
    let mut rendered = format!("max-age={raw}");
    if parsed.include_subdomains {
        rendered.push_str("; includeSubDomains");
    }
    if parsed.preload {
        rendered.push_str("; preload");
    }
    let again = hsts::parse(&rendered);
    assert!(
        again.is_valid(),
        "{rendered:?} is invalid: {:?}",
        again.errors
    );
    assert_eq!(again.max_age, parsed.max_age, "max-age of {rendered:?}");
    assert_eq!(again.include_subdomains, parsed.include_subdomains);
    assert_eq!(again.preload, parsed.preload);
});
