//! Whole input files: layout detection, CSV quoting, capped lines, and every record read.
#![no_main]

use std::io::Cursor;

use libfuzzer_sys::fuzz_target;
use posture::input::InputReader;

fuzz_target!(|data: &[u8]| {
    for column in [None, Some("domain")] {
        let Ok(mut reader) = InputReader::new(Box::new(Cursor::new(data.to_vec())), column) else {
            continue;
        };
        // next_record returns None at the end of the input. A loop here is a bug, and
        // libFuzzer reports it as a timeout.
        while let Ok(Some(_)) = reader.next_record() {}
    }
});
