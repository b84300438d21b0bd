use http::HeaderValue;

use super::*;

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(*name, HeaderValue::from_str(value).unwrap());
    }
    map
}

#[test]
fn no_headers() {
    let found = analyze(&HeaderMap::new());
    assert!(!found.csp.present);
    assert!(!found.csp.report_only);
    assert_eq!(found.x_frame_options, FrameOptions::Missing);
    assert!(!found.x_content_type_options_nosniff);
    assert_eq!(found.referrer_policy, None);
    assert!(!found.permissions_policy);
    assert!(!found.cors_wildcard);
}

#[test]
fn typical_hardened_response() {
    let found = analyze(&headers(&[
        (
            "content-security-policy",
            "default-src 'none'; script-src 'self'; frame-ancestors 'none'",
        ),
        ("x-frame-options", "DENY"),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "strict-origin-when-cross-origin"),
        ("permissions-policy", "geolocation=()"),
        (
            "cross-origin-opener-policy",
            "same-origin; report-to=\"coop\"",
        ),
        ("cross-origin-embedder-policy", "require-corp"),
        ("cross-origin-resource-policy", "same-site"),
    ]));
    assert!(found.csp.present);
    assert!(found.csp.default_src_none);
    assert!(!found.csp.unsafe_inline);
    assert!(!found.csp.scripts_unrestricted);
    assert_eq!(found.csp.frame_ancestors.as_deref(), Some("'none'"));
    assert_eq!(found.x_frame_options, FrameOptions::Deny);
    assert!(found.x_content_type_options_nosniff);
    let referrer = found.referrer_policy.unwrap();
    assert_eq!(
        referrer.policy.as_deref(),
        Some("strict-origin-when-cross-origin")
    );
    assert!(!referrer.unsafe_policy);
    assert!(found.permissions_policy);
    let coop = found.cross_origin_opener_policy.unwrap();
    assert_eq!(coop.value, "same-origin");
    assert!(coop.valid);
    assert!(found.cross_origin_embedder_policy.unwrap().valid);
    assert!(found.cross_origin_resource_policy.unwrap().valid);
}

#[test]
fn csp_unsafe_inline_and_eval() {
    let csp = parse_csp("script-src 'self' 'unsafe-inline' 'unsafe-eval'");
    assert!(csp.unsafe_inline);
    assert!(csp.unsafe_eval);
    assert!(!csp.scripts_unrestricted);
}

#[test]
fn csp_default_src_is_fallback() {
    let csp = parse_csp("default-src 'self' 'UNSAFE-INLINE'");
    assert!(csp.unsafe_inline);
    assert!(csp.style_unsafe_inline);
    let overridden = parse_csp("default-src 'unsafe-inline'; script-src 'self'");
    assert!(!overridden.unsafe_inline);
    assert!(overridden.style_unsafe_inline);
}

#[test]
fn csp_nonce_cancels_unsafe_inline() {
    let csp = parse_csp("script-src 'nonce-AbC123' 'unsafe-inline' 'strict-dynamic'");
    assert!(!csp.unsafe_inline);
    assert!(csp.strict_dynamic);
    let hash = parse_csp("script-src 'sha256-XyZ=' 'unsafe-inline'");
    assert!(!hash.unsafe_inline);
    assert_eq!(hash.policies[0]["script-src"][0], "'sha256-XyZ='");
}

#[test]
fn csp_data_scheme_counts_as_inline() {
    assert!(parse_csp("script-src 'self' data:").unsafe_inline);
}

#[test]
fn csp_without_script_control() {
    let csp = parse_csp("frame-ancestors 'self'; upgrade-insecure-requests");
    assert!(csp.present);
    assert!(csp.scripts_unrestricted);
    assert!(!csp.unsafe_inline);
    assert_eq!(csp.frame_ancestors.as_deref(), Some("'self'"));
}

#[test]
fn csp_every_policy_must_allow() {
    let joined = parse_csp("script-src 'unsafe-inline', script-src 'self'");
    assert_eq!(joined.policies.len(), 2);
    assert!(!joined.unsafe_inline);
    let map = headers(&[
        (
            "content-security-policy",
            "script-src 'unsafe-inline' 'unsafe-eval'",
        ),
        (
            "content-security-policy",
            "default-src 'unsafe-inline' 'unsafe-eval'",
        ),
    ]);
    let csp = analyze(&map).csp;
    assert!(csp.unsafe_inline);
    assert!(csp.unsafe_eval);
}

#[test]
fn csp_duplicate_directive_first_wins() {
    let csp = parse_csp("script-src 'self'; script-src 'unsafe-inline'");
    assert_eq!(csp.duplicate_directives, ["script-src"]);
    assert!(!csp.unsafe_inline);
}

#[test]
fn csp_report_only() {
    let only = analyze(&headers(&[(
        "content-security-policy-report-only",
        "default-src 'self'",
    )]));
    assert!(only.csp.report_only);
    assert!(!only.csp.present);
    let both = analyze(&headers(&[
        ("content-security-policy-report-only", "default-src 'self'"),
        ("content-security-policy", "default-src 'self'"),
    ]));
    assert!(!both.csp.report_only);
    assert!(both.csp.present);
}

#[test]
fn csp_empty_value_is_not_a_policy() {
    let csp = analyze(&headers(&[("content-security-policy", " ; ")])).csp;
    assert!(!csp.present);
}

#[test]
fn frame_options_values() {
    assert_eq!(
        frame_options(Some(" sameorigin ")),
        FrameOptions::SameOrigin
    );
    assert_eq!(
        frame_options(Some("ALLOW-FROM https://example.com/")),
        FrameOptions::AllowFrom("https://example.com/".into())
    );
    assert_eq!(
        frame_options(Some("DENY, SAMEORIGIN")),
        FrameOptions::Invalid("DENY, SAMEORIGIN".into())
    );
    let first_wins = analyze(&headers(&[
        ("x-frame-options", "bogus"),
        ("x-frame-options", "DENY"),
    ]));
    assert_eq!(
        first_wins.x_frame_options,
        FrameOptions::Invalid("bogus".into())
    );
}

#[test]
fn nosniff_variants() {
    let upper = analyze(&headers(&[("x-content-type-options", "NOSNIFF")]));
    assert!(upper.x_content_type_options_nosniff);
    let wrong = analyze(&headers(&[("x-content-type-options", "nosniff, nosniff")]));
    assert!(!wrong.x_content_type_options_nosniff);
    assert_eq!(
        wrong.x_content_type_options.as_deref(),
        Some("nosniff, nosniff")
    );
}

#[test]
fn referrer_policy_last_known_token() {
    let map = headers(&[
        ("referrer-policy", "no-referrer"),
        ("referrer-policy", "unsafe-url, made-up-policy"),
    ]);
    let policy = analyze(&map).referrer_policy.unwrap();
    assert_eq!(policy.raw, "no-referrer, unsafe-url, made-up-policy");
    assert_eq!(policy.policy.as_deref(), Some("unsafe-url"));
    assert!(policy.unsafe_policy);
    for unsafe_value in [
        "origin",
        "origin-when-cross-origin",
        "no-referrer-when-downgrade",
    ] {
        let policy = referrer_policy(&[unsafe_value.to_string()]).unwrap();
        assert!(policy.unsafe_policy, "{unsafe_value}");
    }
    let invalid = referrer_policy(&["nope".to_string()]).unwrap();
    assert_eq!(invalid.policy, None);
    assert!(!invalid.unsafe_policy);
}

#[test]
fn isolation_headers_invalid_values() {
    let found = analyze(&headers(&[
        ("cross-origin-opener-policy", "same-site"),
        ("cross-origin-resource-policy", "Same-Origin"),
    ]));
    let coop = found.cross_origin_opener_policy.unwrap();
    assert_eq!(coop.value, "same-site");
    assert!(!coop.valid);
    let corp = found.cross_origin_resource_policy.unwrap();
    assert_eq!(corp.value, "same-origin");
    assert!(corp.valid);
    assert_eq!(found.cross_origin_embedder_policy, None);
}

#[test]
fn cors_wildcard_only_for_star() {
    assert!(analyze(&headers(&[("access-control-allow-origin", " * ")])).cors_wildcard);
    let specific = analyze(&headers(&[(
        "access-control-allow-origin",
        "https://example.com",
    )]));
    assert!(!specific.cors_wildcard);
    assert_eq!(
        specific.access_control_allow_origin.as_deref(),
        Some("https://example.com")
    );
}
