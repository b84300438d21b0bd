//! `Set-Cookie` values: the parse, the storage model's facts, and a round trip of the
//! attributes posture interprets.
#![no_main]

use chrono::{TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use posture::check::http::cookie::{self, Origin, SameSite};

fuzz_target!(|text: &str| {
    let now = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
    let _ = cookie::parse_cookie_date(text);
    let _ = cookie::default_path(text);
    let _ = cookie::domain_matches("www.example.com", text);
    let Ok(parsed) = cookie::parse(text) else {
        return;
    };
    for origin in [
        Origin::new("www.example.com", true, "/account/login"),
        Origin::new("example.com", false, "/"),
    ] {
        let _ = parsed.facts(&origin, now);
    }
    let _ = parsed.expiry(now);
    let _ = parsed.prefix();

    // Rendering the interpreted attributes again and parsing the result must give the same
    // values: a parse that reads its own output differently loses or invents attributes.
    let mut rendered = format!("{}={}", parsed.name, parsed.value);
    if let Some(domain) = &parsed.domain {
        // One leading dot is dropped by the parse, so it is put back here.
        rendered.push_str(&format!("; Domain=.{domain}"));
    }
    if let Some(path) = &parsed.path {
        rendered.push_str(&format!("; Path={path}"));
    }
    if let Some(max_age) = parsed.max_age {
        rendered.push_str(&format!("; Max-Age={max_age}"));
    }
    if parsed.secure {
        rendered.push_str("; Secure");
    }
    if parsed.http_only {
        rendered.push_str("; HttpOnly");
    }
    match &parsed.same_site {
        None => {}
        Some(SameSite::Strict) => rendered.push_str("; SameSite=Strict"),
        Some(SameSite::Lax) => rendered.push_str("; SameSite=Lax"),
        Some(SameSite::None) => rendered.push_str("; SameSite=None"),
        Some(SameSite::Invalid(value)) => rendered.push_str(&format!("; SameSite={value}")),
    }
    let again = cookie::parse(&rendered)
        .unwrap_or_else(|rejection| panic!("{rendered:?} is rejected: {rejection:?}"));
    assert_eq!(again.name, parsed.name, "name of {rendered:?}");
    assert_eq!(again.value, parsed.value, "value of {rendered:?}");
    assert_eq!(again.domain, parsed.domain, "domain of {rendered:?}");
    assert_eq!(again.path, parsed.path, "path of {rendered:?}");
    assert_eq!(again.max_age, parsed.max_age, "max-age of {rendered:?}");
    assert_eq!(again.secure, parsed.secure, "secure of {rendered:?}");
    assert_eq!(
        again.http_only, parsed.http_only,
        "httponly of {rendered:?}"
    );
    assert_eq!(
        again.same_site, parsed.same_site,
        "samesite of {rendered:?}"
    );
});
