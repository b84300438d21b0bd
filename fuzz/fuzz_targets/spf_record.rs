//! SPF records from TXT answers: selection among a name's TXT records, then parsing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use posture::check::email::spf;

fuzz_target!(|text: &str| {
    let records = vec![text.to_string(), "v=spf1 -all".to_string()];
    let _ = spf::record::select_records(&records);
    let _ = spf::record::has_spf2_record(&records);
    if spf::record::is_spf_record(text) {
        let _ = spf::parse(text);
    }
    let _ = spf::parse(text);
});
