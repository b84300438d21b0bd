//! SPF macro strings (RFC 7208 section 7) in both contexts, and their expansion.
#![no_main]

use std::net::{IpAddr, Ipv6Addr};

use libfuzzer_sys::fuzz_target;
use posture::check::email::spf::macros::{self, MacroContext, MacroString, MacroValues};

fuzz_target!(|text: &str| {
    let values = MacroValues {
        sender: Some("user@example.com"),
        local_part: Some("user"),
        sender_domain: Some("example.com"),
        domain: "example.com",
        ip: Some(IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1))),
        validated_name: Some("mail.example.com"),
        helo: Some("mail.example.com"),
        receiver: Some("mx.example.net"),
        timestamp: Some(1_700_000_000),
    };
    for context in [MacroContext::DomainSpec, MacroContext::Explanation] {
        if let Ok(parsed) = MacroString::parse(text, context)
            && let Ok(expanded) = parsed.expand(&values)
        {
            let name = macros::query_name(&expanded);
            let _ = macros::is_valid_query_name(&name);
        }
    }
    if let Ok(parsed) = MacroString::parse_domain_spec(text) {
        let _ = parsed.expand(&MacroValues::default());
    }
});
