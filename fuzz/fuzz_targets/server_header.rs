//! `Server`, `X-Powered-By`, `Via` and the other software-disclosure headers, with the
//! end-of-life lookup of every product found.
#![no_main]

use chrono::NaiveDate;
use libfuzzer_sys::fuzz_target;
use posture::check::http::server::{self, DisclosureHeader};

fuzz_target!(|text: &str| {
    let date = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
    for header in DisclosureHeader::ALL {
        for product in server::parse(header, text) {
            assert!(
                !product.name.is_empty(),
                "{header:?} {text:?} gave a nameless product"
            );
            let _ = product.discloses_version();
            let verdict = server::eol_verdict(&product.name, product.version.as_deref(), date);
            let _ = verdict.is_end_of_life();
        }
    }
});
