//! DMARC TXT records, and the report destinations derived from one.
#![no_main]

use libfuzzer_sys::fuzz_target;
use posture::check::email::dmarc;

fuzz_target!(|text: &str| {
    let _ = dmarc::is_dmarc_record(text);
    let record = dmarc::parse(text);
    let _ = dmarc::policy::report_destinations("example.com", &record);
});
