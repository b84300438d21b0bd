//! The JSON that `posture parse` prints for one record: its type, whether it is valid, and
//! the parsed record with its errors and warnings.

use chrono::Utc;
use serde::Serialize;
use serde_json::{Value, json};

use super::{bimi, dkim, dmarc, mtasts, spf, tlsrpt};
use crate::check::http::render as http;
use crate::cli::RecordKind;

/// One parsed record, ready to print.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rendered {
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// True when the record has no errors.
    pub valid: bool,
    pub record: Value,
}

/// Parses `text` as a record of `kind`. `origin` is the response URL for a cookie and is
/// ignored by the other kinds.
pub fn render(kind: RecordKind, text: &str, origin: Option<&str>) -> Rendered {
    let (name, valid, record) = match kind {
        RecordKind::Spf => {
            let (valid, value) = render_spf(text);
            ("spf", valid, value)
        }
        RecordKind::Dmarc => {
            with_validity("dmarc", dmarc::parse(text), dmarc::DmarcRecord::is_valid)
        }
        RecordKind::Dkim => with_validity("dkim", dkim::parse(text), dkim::DkimKey::is_valid),
        RecordKind::MtaSts => with_validity(
            "mta-sts",
            mtasts::parse_record(text),
            mtasts::MtaStsRecord::is_valid,
        ),
        RecordKind::MtaStsPolicy => with_validity(
            "mta-sts-policy",
            mtasts::parse_policy(text),
            mtasts::MtaStsPolicy::is_valid,
        ),
        RecordKind::TlsRpt => with_validity(
            "tls-rpt",
            tlsrpt::parse(text),
            tlsrpt::TlsRptRecord::is_valid,
        ),
        RecordKind::Bimi => with_validity("bimi", bimi::parse(text), bimi::BimiRecord::is_valid),
        RecordKind::Hsts => named("hsts", http::render_hsts(text)),
        RecordKind::Cookie => named("cookie", http::render_cookie(text, origin, Utc::now())),
        RecordKind::Server => named("server", http::render_server(text, Utc::now().date_naive())),
        RecordKind::Csp => named("csp", http::render_csp(text)),
        RecordKind::SecurityTxt => {
            named("security-txt", http::render_security_txt(text, Utc::now()))
        }
    };
    Rendered {
        kind: name,
        valid,
        record,
    }
}

fn named(name: &'static str, (valid, value): (bool, Value)) -> (&'static str, bool, Value) {
    (name, valid, value)
}

fn with_validity<T: Serialize>(
    name: &'static str,
    record: T,
    is_valid: fn(&T) -> bool,
) -> (&'static str, bool, Value) {
    let valid = is_valid(&record);
    // serde_json fails only on maps with non-string keys, and these records contain none.
    let value = serde_json::to_value(&record).unwrap_or(Value::Null);
    (name, valid, value)
}

/// Renders an SPF record by the existing parser: its terms in canonical form, or the
/// syntax error that makes it a permerror.
fn render_spf(text: &str) -> (bool, Value) {
    match spf::parse(text) {
        Ok(record) => {
            let warnings: Vec<Value> = record
                .warnings()
                .into_iter()
                .map(|warning| json!({"kind": warning.as_str(), "message": spf_warning_message(warning)}))
                .collect();
            let terms: Vec<String> = record.terms.iter().map(ToString::to_string).collect();
            let value = json!({
                "canonical": record.to_string(),
                "terms": terms,
                "all": record.all().map(spf::Qualifier::as_str),
                "redirect": record.redirect().map(|target| target.source().to_string()),
                "errors": [],
                "warnings": warnings,
            });
            (true, value)
        }
        Err(error) => {
            let value = json!({
                "errors": [{"kind": error.kind(), "message": error.to_string()}],
                "warnings": [],
            });
            (false, value)
        }
    }
}

fn spf_warning_message(warning: spf::Warning) -> &'static str {
    match warning {
        spf::Warning::PtrMechanism => "ptr is deprecated (RFC 7208 section 5.5)",
        spf::Warning::PassAll => "+all passes mail from every host on the internet",
        spf::Warning::RedirectIgnored => "redirect= has no effect because the record has all",
        spf::Warning::DeprecatedSpf2Record => "a Sender ID (spf2.0) record is published",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spf_valid_and_invalid() {
        let rendered = render(RecordKind::Spf, "v=spf1 +mx ptr -all", None);
        assert!(rendered.valid);
        assert_eq!(rendered.record["canonical"], "v=spf1 mx ptr -all");
        assert_eq!(rendered.record["all"], "fail");
        assert_eq!(rendered.record["warnings"][0]["kind"], "ptr_mechanism");
        let invalid = render(RecordKind::Spf, "v=spf1 ip4:10.0.0.256", None);
        assert!(!invalid.valid);
        assert_eq!(invalid.record["errors"][0]["kind"], "invalid_ip4");
    }

    #[test]
    fn every_kind_renders() {
        let cases = [
            (RecordKind::Dmarc, "v=DMARC1; p=reject", "dmarc"),
            (RecordKind::Dkim, "v=DKIM1; p=", "dkim"),
            (RecordKind::MtaSts, "v=STSv1; id=1", "mta-sts"),
            (
                RecordKind::MtaStsPolicy,
                "version: STSv1\nmode: none\nmax_age: 86400\n",
                "mta-sts-policy",
            ),
            (
                RecordKind::TlsRpt,
                "v=TLSRPTv1; rua=mailto:a@example.com",
                "tls-rpt",
            ),
            (RecordKind::Bimi, "v=BIMI1; l=; a=", "bimi"),
        ];
        for (kind, text, name) in cases {
            let rendered = render(kind, text, None);
            assert_eq!(rendered.kind, name);
            assert!(rendered.valid, "{name}: {}", rendered.record);
            assert!(rendered.record["errors"].is_array(), "{name}");
        }
    }
}
