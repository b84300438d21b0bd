//! DKIM public key records (`<selector>._domainkey`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use posture::check::email::dkim;

fuzz_target!(|text: &str| {
    let _ = dkim::parse(text);
});
