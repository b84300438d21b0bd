//! The TLS probe's parse of what a server sends after a ClientHello: records, ServerHello,
//! alerts, SSL 2.0 replies and bytes that are not TLS.
//!
//! The probe reads until the parse is complete, so the result must not depend on where the
//! bytes were split. Once a prefix gives a complete result, the whole input gives the same one.
//! `NotTls` is the exception only in its `prefix` text, which shows more of a longer input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use posture::check::tls::probe::{self, Parse, Response};

/// Inputs are cut to this length, so that parsing every prefix stays quick.
const MAX_INPUT: usize = 4096;

fn same(a: &Response, b: &Response) -> bool {
    match (a, b) {
        (Response::NotTls { .. }, Response::NotTls { .. }) => true,
        _ => a == b,
    }
}

fuzz_target!(|bytes: &[u8]| {
    let bytes = &bytes[..bytes.len().min(MAX_INPUT)];
    let whole = probe::parse_response(bytes);
    if let Parse::Complete(Response::Alert { description, .. }) = &whole {
        assert!(!probe::alert_name(*description).is_empty());
    }
    if let Parse::Complete(Response::ServerHello(hello)) = &whole {
        let _ = probe::ProtocolVersion::from_code(hello.version());
    }
    let first_complete =
        (0..=bytes.len()).find_map(|length| match probe::parse_response(&bytes[..length]) {
            Parse::Complete(response) => Some((length, response)),
            Parse::Incomplete => None,
        });
    if let Some((length, early)) = first_complete {
        let Parse::Complete(late) = &whole else {
            panic!(
                "the first {length} bytes give {early:?}, all {} give Incomplete",
                bytes.len()
            );
        };
        assert!(
            same(&early, late),
            "the first {length} bytes give {early:?}, all {} give {late:?}",
            bytes.len()
        );
    }
});
