//! `posture record`: every record kind rendered from the same text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use posture::check::email::render::render;
use posture::cli::RecordKind;

fuzz_target!(|text: &str| {
    for kind in [
        RecordKind::Spf,
        RecordKind::Dmarc,
        RecordKind::Dkim,
        RecordKind::MtaSts,
        RecordKind::MtaStsPolicy,
        RecordKind::TlsRpt,
        RecordKind::Bimi,
        RecordKind::Hsts,
        RecordKind::Cookie,
        RecordKind::Server,
        RecordKind::Csp,
        RecordKind::SecurityTxt,
    ] {
        let _ = render(kind, text, None);
        let _ = render(kind, text, Some("example.com"));
    }
});
