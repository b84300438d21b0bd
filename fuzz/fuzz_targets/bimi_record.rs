//! BIMI records (`default._bimi`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use posture::check::email::bimi;

fuzz_target!(|text: &str| {
    let _ = bimi::parse(text);
});
