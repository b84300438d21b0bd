//! Normalisation of one input field to a domain name.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let _ = posture::input::normalize(text);
});
