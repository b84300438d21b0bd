//! The certificate analysis of a served chain. The input is a chain of DER certificates,
//! each preceded by its length as two big-endian bytes, as a TLS 1.2 Certificate message
//! frames them (with two length bytes instead of three).
#![no_main]

use chrono::{TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use posture::check::tls::cert::{self, ChainCache};
use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;

fuzz_target!(|bytes: &[u8]| {
    let mut chain = Vec::new();
    let mut rest = bytes;
    while rest.len() >= 2 && chain.len() < 8 {
        let length = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        let end = (2 + length).min(rest.len());
        chain.push(CertificateDer::from(rest[2..end].to_vec()));
        rest = &rest[end..];
    }
    let now = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
    let roots = RootCertStore::empty();
    let report = cert::analyze(&chain, "www.example.com", now, &roots);
    assert_eq!(report.chain_length, chain.len());
    // The cache gives the same report as the direct analysis.
    let cache = ChainCache::new(2);
    let cached = cache.analyze(&chain, "www.example.com", now, &roots);
    assert_eq!(cached, report);
});
