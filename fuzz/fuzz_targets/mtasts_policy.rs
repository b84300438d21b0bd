//! MTA-STS policy files as served over HTTPS, and matching MX hosts against them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use posture::check::email::mtasts;

fuzz_target!(|text: &str| {
    let policy = mtasts::parse_policy(text);
    let hosts = ["mx1.example.com".to_string(), "example.com".to_string()];
    let _ = mtasts::uncovered_mx_hosts(&policy, &hosts);
    for line in text.lines().take(8) {
        let _ = mtasts::mx_matches(line, "mx1.example.com");
        let _ = mtasts::mx_matches("*.example.com", line);
    }
});
