//! `/.well-known/security.txt` bodies, with and without a text/plain content type.
#![no_main]

use chrono::{TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use posture::check::http::securitytxt;

fuzz_target!(|text: &str| {
    let now = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
    for content_type in [Some("text/plain; charset=utf-8"), Some("text/html"), None] {
        let parsed = securitytxt::parse(text, content_type, now);
        if parsed.is_valid() {
            assert!(
                !parsed.contacts.is_empty(),
                "a valid file without Contact: {text:?}"
            );
            assert!(
                parsed.expires.is_some(),
                "a valid file without Expires: {text:?}"
            );
        }
    }
});
