use super::*;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 4, 12, 0, 0).unwrap()
}

fn https(host: &str) -> Origin {
    Origin::new(host, true, "/")
}

fn facts(header: &str, origin: &Origin) -> CookieFacts {
    parse(header)
        .expect("header is accepted")
        .facts(origin, now())
}

#[test]
fn attributes_case_insensitive_and_loose() {
    let cookie = parse("id=a3fWa;secure;HTTPONLY;  SameSite=lax ;Path=/app").unwrap();
    assert_eq!(cookie.name, "id");
    assert_eq!(cookie.value, "a3fWa");
    assert!(cookie.secure);
    assert!(cookie.http_only);
    assert_eq!(cookie.same_site, Some(SameSite::Lax));
    assert_eq!(cookie.path.as_deref(), Some("/app"));
}

#[test]
fn name_containing_secure_is_not_flag() {
    let facts = facts("secure_token=x; Path=/", &https("example.com"));
    assert_eq!(facts.name, "secure_token");
    assert!(!facts.secure);
    assert!(facts.accepted());
}

#[test]
fn value_never_serialised() {
    let facts = facts("session=TOPSECRET; Secure", &https("example.com"));
    let json = serde_json::to_string(&facts).unwrap();
    assert!(!json.contains("TOPSECRET"), "{json}");
    assert!(json.contains("\"name\":\"session\""), "{json}");
}

#[test]
fn same_site_values() {
    let strict = parse("a=1; SameSite=STRICT").unwrap();
    assert_eq!(strict.same_site, Some(SameSite::Strict));
    let invalid = parse("a=1; SameSite=Lax2").unwrap();
    assert_eq!(invalid.same_site, Some(SameSite::Invalid("Lax2".into())));
    let bare = parse("a=1; SameSite").unwrap();
    assert_eq!(bare.same_site, Some(SameSite::Invalid(String::new())));
    assert_eq!(parse("a=1").unwrap().same_site, None);
}

#[test]
fn same_site_none_without_secure_rejected() {
    let facts = facts("a=1; SameSite=None", &https("example.com"));
    assert!(facts.same_site_none_without_secure);
    assert_eq!(facts.rejections, [Rejection::SameSiteNoneWithoutSecure]);
    let secure = self::facts("a=1; SameSite=None; Secure", &https("example.com"));
    assert!(!secure.same_site_none_without_secure);
    assert!(secure.accepted());
}

#[test]
fn max_age_wins_over_expires() {
    let cookie = parse("a=1; Max-Age=60; Expires=Wed, 09 Jun 2021 10:18:14 GMT").unwrap();
    assert_eq!(
        cookie.expiry(now()),
        Expiry::At(now() + Duration::seconds(60))
    );
    let order_swapped = parse("a=1; Expires=Wed, 09 Jun 2021 10:18:14 GMT; Max-Age=60").unwrap();
    assert_eq!(
        order_swapped.expiry(now()),
        Expiry::At(now() + Duration::seconds(60))
    );
}

#[test]
fn expires_alone_and_session() {
    let cookie = parse("a=1; Expires=Wed, 09 Jun 2021 10:18:14 GMT").unwrap();
    let expected = Utc.with_ymd_and_hms(2021, 6, 9, 10, 18, 14).unwrap();
    assert_eq!(cookie.expiry(now()), Expiry::At(expected));
    assert_eq!(parse("a=1").unwrap().expiry(now()), Expiry::Session);
    let invalid_date = parse("a=1; Expires=soon").unwrap();
    assert_eq!(invalid_date.expiry(now()), Expiry::Session);
}

#[test]
fn max_age_zero_negative_and_huge() {
    let zero = parse("a=1; Max-Age=0").unwrap();
    assert_eq!(zero.expiry(now()), Expiry::At(DateTime::<Utc>::MIN_UTC));
    let negative = parse("a=1; Max-Age=-5").unwrap();
    assert_eq!(negative.max_age, Some(-5));
    let huge = parse("a=1; Max-Age=99999999999999999999999").unwrap();
    assert_eq!(huge.max_age, Some(i64::MAX));
    assert_eq!(huge.expiry(now()), Expiry::At(DateTime::<Utc>::MAX_UTC));
    let quoted = parse("a=1; Max-Age=\"60\"").unwrap();
    assert_eq!(quoted.max_age, None);
    let plus = parse("a=1; Max-Age=+60").unwrap();
    assert_eq!(plus.max_age, None);
}

#[test]
fn later_attribute_replaces_earlier() {
    let cookie =
        parse("a=1; Path=/one; Path=/two; Domain=a.example.com; Domain=.Example.COM").unwrap();
    assert_eq!(cookie.path.as_deref(), Some("/two"));
    assert_eq!(cookie.domain.as_deref(), Some("example.com"));
}

#[test]
fn rejections_before_storage() {
    assert_eq!(parse("=").unwrap_err(), Rejection::EmptyNameAndValue);
    assert_eq!(
        parse("  ; Secure").unwrap_err(),
        Rejection::EmptyNameAndValue
    );
    assert_eq!(parse("a=b\x01c").unwrap_err(), Rejection::ControlCharacter);
    assert_eq!(
        parse("a=b; Path=/\x7f").unwrap_err(),
        Rejection::ControlCharacter
    );
    assert!(parse("a=b\tc").is_ok(), "a tab is allowed");
    let long = format!("a={}", "x".repeat(MAX_NAME_VALUE_BYTES));
    assert_eq!(parse(&long).unwrap_err(), Rejection::TooLong);
    let limit = format!("a={}", "x".repeat(MAX_NAME_VALUE_BYTES - 1));
    assert!(parse(&limit).is_ok());
}

#[test]
fn overlong_attribute_ignored() {
    let path = format!("/{}", "p".repeat(MAX_ATTRIBUTE_VALUE_BYTES));
    let cookie = parse(&format!("a=1; Path={path}; Secure")).unwrap();
    assert_eq!(cookie.path, None);
    assert!(cookie.secure);
}

#[test]
fn nameless_cookie() {
    let cookie = parse("justavalue").unwrap();
    assert_eq!(cookie.name, "");
    assert_eq!(cookie.value, "justavalue");
    let prefixed = facts("__Host-x", &https("example.com"));
    assert_eq!(prefixed.rejections, [Rejection::PrefixInNamelessCookie]);
}

#[test]
fn secure_prefix_rules() {
    let good = facts("__Secure-id=1; Secure", &https("example.com"));
    assert_eq!(good.prefix, Some(Prefix::Secure));
    assert_eq!(good.prefix_satisfied, Some(true));
    let no_secure = facts("__Secure-id=1", &https("example.com"));
    assert_eq!(no_secure.prefix_satisfied, Some(false));
    assert_eq!(no_secure.rejections, [Rejection::SecurePrefixViolated]);
    let lowercase = facts("__secure-id=1", &https("example.com"));
    assert_eq!(lowercase.prefix, Some(Prefix::Secure));
    let plain_http = facts(
        "__Secure-id=1; Secure",
        &Origin::new("example.com", false, "/"),
    );
    assert_eq!(plain_http.prefix_satisfied, Some(false));
}

#[test]
fn host_prefix_rules() {
    let good = facts("__Host-id=1; Secure; Path=/", &https("example.com"));
    assert_eq!(good.prefix_satisfied, Some(true));
    assert!(good.accepted());
    let with_domain = facts(
        "__Host-id=1; Secure; Path=/; Domain=example.com",
        &https("example.com"),
    );
    assert_eq!(with_domain.prefix_satisfied, Some(false));
    let no_path = facts("__Host-id=1; Secure", &https("example.com"));
    assert_eq!(no_path.prefix_satisfied, Some(false));
    let sub_path = facts("__Host-id=1; Secure; Path=/app", &https("example.com"));
    assert_eq!(sub_path.rejections, [Rejection::HostPrefixViolated]);
    assert_eq!(
        facts("plain=1", &https("example.com")).prefix_satisfied,
        None
    );
}

#[test]
fn domain_attribute_storage() {
    let origin = https("www.example.com");
    let parent = facts("a=1; Domain=example.com", &origin);
    assert!(!parent.host_only);
    assert_eq!(parent.domain, "example.com");
    let host_only = facts("a=1", &origin);
    assert!(host_only.host_only);
    assert_eq!(host_only.domain, "www.example.com");
    let other = facts("a=1; Domain=other.com", &origin);
    assert_eq!(other.rejections, [Rejection::DomainMismatch]);
    let suffix = facts("a=1; Domain=com", &origin);
    assert_eq!(suffix.rejections, [Rejection::DomainIsPublicSuffix]);
}

#[test]
fn public_suffix_equal_to_host_is_host_only() {
    let facts = facts("a=1; Domain=github.io", &https("github.io"));
    assert!(facts.accepted());
    assert!(facts.host_only);
    assert_eq!(facts.domain_attribute, None);
}

#[test]
fn secure_from_plain_http_rejected() {
    let facts = facts("a=1; Secure", &Origin::new("example.com", false, "/"));
    assert_eq!(facts.rejections, [Rejection::SecureFromInsecureOrigin]);
}

#[test]
fn default_path_rules() {
    assert_eq!(default_path(""), "/");
    assert_eq!(default_path("/"), "/");
    assert_eq!(default_path("/login"), "/");
    assert_eq!(default_path("/app/login"), "/app");
    assert_eq!(default_path("/app/sub/"), "/app/sub");
    assert_eq!(default_path("relative"), "/");
    let cookie = parse("a=1; Path=relative").unwrap();
    assert_eq!(cookie.path, None);
}

#[test]
fn domain_matching() {
    assert!(domain_matches("www.example.com", "example.com"));
    assert!(domain_matches("example.com", "EXAMPLE.com"));
    assert!(!domain_matches("badexample.com", "example.com"));
    assert!(!domain_matches("192.0.2.1", "0.2.1"));
    assert!(domain_matches("192.0.2.1", "192.0.2.1"));
}

#[test]
fn cookie_date_formats() {
    let expected = Utc.with_ymd_and_hms(1994, 11, 6, 8, 49, 37).unwrap();
    for text in [
        "Sun, 06 Nov 1994 08:49:37 GMT",
        "Sunday, 06-Nov-94 08:49:37 GMT",
        "Sun Nov  6 08:49:37 1994",
        "06 nov 1994 8:49:37",
    ] {
        assert_eq!(parse_cookie_date(text), Some(expected), "{text}");
    }
    assert_eq!(
        parse_cookie_date("Thu, 01 Jan 2070 00:00:00 GMT").map(|t| t.format("%Y").to_string()),
        Some("2070".into())
    );
    assert_eq!(
        parse_cookie_date("Fri, 01 Jan 10 00:00:00 GMT").map(|t| t.format("%Y").to_string()),
        Some("2010".into())
    );
    assert_eq!(parse_cookie_date("Wed, 31 Feb 2021 00:00:00 GMT"), None);
    assert_eq!(parse_cookie_date("Wed, 09 Jun 2021 24:00:00 GMT"), None);
    assert_eq!(parse_cookie_date("Wed, 09 Jun 1600 10:00:00 GMT"), None);
    assert_eq!(parse_cookie_date("Wed, 09 Jun 2021"), None);
}

#[test]
fn session_patterns_default() {
    let patterns = SessionPatterns::default();
    for name in [
        "PHPSESSID",
        "JSESSIONID",
        "ASP.NET_SessionId",
        "sid",
        "auth_token",
        "XSRF-TOKEN",
        "wordpress_logged_in_1",
        "csrftoken",
    ] {
        assert!(patterns.matches(name), "{name}");
    }
    for name in ["_ga", "theme", "lang", "consent"] {
        assert!(!patterns.matches(name), "{name}");
    }
}

#[test]
fn session_patterns_glob() {
    let patterns = SessionPatterns::new(["wp_*_logged_in", "sess"]);
    assert!(patterns.matches("WP_abc_LOGGED_IN"));
    assert!(!patterns.matches("wp_abc_logged_in_extra"));
    assert!(patterns.matches("my_session"));
    assert!(SessionPatterns::new(["*"]).matches("anything"));
    assert!(!SessionPatterns::new(["", "  "]).matches("anything"));
    assert!(glob_matches(b"a*b*c", b"aXXbYYc"));
    assert!(!glob_matches(b"a*b*c", b"aXXbYY"));
}

#[test]
fn domain_trailing_dot_mismatch() {
    let facts = facts("a=1; Domain=example.org.", &https("example.org"));
    assert_eq!(facts.rejections, [Rejection::DomainMismatch]);
}
