//! MTA-STS TXT records (`_mta-sts`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use posture::check::email::mtasts;

fuzz_target!(|text: &str| {
    let _ = mtasts::parse_record(text);
});
