//! SMTP TLS reporting records (`_smtp._tls`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use posture::check::email::tlsrpt;

fuzz_target!(|text: &str| {
    let _ = tlsrpt::parse(text);
});
