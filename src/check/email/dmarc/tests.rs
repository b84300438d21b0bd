//! Unit tests of DMARC record parsing.

use super::*;

fn kinds(record: &DmarcRecord) -> Vec<DmarcError> {
    record.errors.iter().map(|issue| issue.kind).collect()
}

fn warning_kinds(record: &DmarcRecord) -> Vec<DmarcWarning> {
    record.warnings.iter().map(|issue| issue.kind).collect()
}

#[test]
fn minimal_record_gets_defaults() {
    let record = parse("v=DMARC1; p=reject");
    assert!(record.is_valid());
    assert!(record.usable);
    assert_eq!(record.policy, Policy::Reject);
    assert_eq!(record.subdomain_policy, Policy::Reject);
    assert_eq!(record.nonexistent_policy, Policy::Reject);
    assert_eq!(record.percent, 100);
    assert_eq!(record.dkim_alignment, Alignment::Relaxed);
    assert_eq!(record.spf_alignment, Alignment::Relaxed);
    assert_eq!(record.failure_options, ["0"]);
    assert_eq!(record.report_formats, ["afrf"]);
    assert_eq!(record.report_interval, 86_400);
    assert!(!record.testing);
    assert_eq!(record.public_suffix, PublicSuffixFlag::Unknown);
    assert_eq!(record.explicit, ["v", "p"]);
    assert!(record.warnings.is_empty());
}

#[test]
fn every_tag_explicit() {
    let record = parse(
        "v=DMARC1; p=quarantine; sp=reject; np=reject; pct=100; adkim=s; aspf=r; \
         rua=mailto:a@example.com; ruf=mailto:f@example.com!1k; fo=1:d; rf=afrf; ri=3600; \
         t=n; psd=n",
    );
    assert!(record.is_valid(), "{:?}", record.errors);
    assert_eq!(
        record.explicit,
        [
            "v", "p", "sp", "np", "pct", "adkim", "aspf", "rua", "ruf", "fo", "rf", "ri", "t",
            "psd"
        ]
    );
    assert_eq!(record.subdomain_policy, Policy::Reject);
    assert_eq!(record.dkim_alignment, Alignment::Strict);
    assert_eq!(record.failure_reports[0].max_size, Some(1024));
    assert_eq!(record.failure_options, ["1", "d"]);
    assert_eq!(record.report_interval, 3600);
    assert_eq!(record.public_suffix, PublicSuffixFlag::No);
}

#[test]
fn np_defaults_to_sp() {
    let record = parse("v=DMARC1; p=reject; sp=none");
    assert_eq!(record.nonexistent_policy, Policy::None);
}

#[test]
fn version_errors_stop_parsing() {
    assert_eq!(
        kinds(&parse("")),
        [DmarcError::MalformedTag, DmarcError::MissingVersion]
    );
    assert_eq!(
        kinds(&parse("p=reject; v=DMARC1")),
        [DmarcError::MissingVersion]
    );
    assert_eq!(
        kinds(&parse("v=DMARC2; p=reject")),
        [DmarcError::InvalidVersion]
    );
    assert_eq!(
        kinds(&parse("v=dmarc1; p=reject")),
        [DmarcError::InvalidVersion]
    );
    assert!(!parse("v=DMARC1 p=reject").usable);
}

#[test]
fn discovery_selection() {
    assert!(is_dmarc_record("v=DMARC1; p=none"));
    assert!(is_dmarc_record(" V = DMARC1;p=none"));
    assert!(is_dmarc_record("v=DMARC1"));
    assert!(!is_dmarc_record("v=DMARC10; p=none"));
    assert!(!is_dmarc_record("v=dmarc1; p=none"));
    assert!(!is_dmarc_record("p=none; v=DMARC1"));
    assert!(!is_dmarc_record("v=spf1 -all"));
}

#[test]
fn duplicate_tag_keeps_first() {
    let record = parse("v=DMARC1; p=reject; P=none");
    assert_eq!(kinds(&record), [DmarcError::DuplicateTag]);
    assert_eq!(record.policy, Policy::Reject);
}

#[test]
fn policy_must_follow_version() {
    let record = parse("v=DMARC1; adkim=s; p=reject");
    assert_eq!(kinds(&record), [DmarcError::PolicyNotAfterVersion]);
    assert_eq!(record.policy, Policy::Reject);
    assert!(record.usable);
}

#[test]
fn missing_policy_without_rua() {
    let record = parse("v=DMARC1; sp=reject");
    assert_eq!(kinds(&record), [DmarcError::MissingPolicy]);
    assert!(!record.usable);
}

#[test]
fn missing_policy_with_rua() {
    let record = parse("v=DMARC1; rua=mailto:d@example.com");
    assert!(record.is_valid());
    assert!(record.usable);
    assert!(record.fallback_to_none);
    assert_eq!(record.policy, Policy::None);
    assert_eq!(
        warning_kinds(&record),
        [DmarcWarning::PolicyDefaultedToNone]
    );
    assert!(!record.is_explicit("p"));
}

#[test]
fn invalid_policy_with_rua_falls_back() {
    let record = parse("v=DMARC1; p=block; sp=reject; rua=mailto:d@example.com");
    assert_eq!(kinds(&record), [DmarcError::InvalidValue]);
    assert!(record.usable);
    assert!(record.fallback_to_none);
    assert_eq!(record.subdomain_policy, Policy::None);
}

#[test]
fn invalid_values_use_defaults() {
    let cases = [
        "pct=101",
        "pct=-1",
        "pct=",
        "adkim=x",
        "aspf=relaxed",
        "fo=2",
        "fo=0::1",
        "rf=a_b",
        "ri=4294967296",
        "ri=1.5",
        "t=yes",
        "psd=maybe",
        "np=all",
    ];
    for case in cases {
        let record = parse(&format!("v=DMARC1; p=reject; {case}"));
        assert_eq!(kinds(&record), [DmarcError::InvalidValue], "{case}");
        assert_eq!(record.explicit, ["v", "p"], "{case}");
        assert!(record.usable, "{case}");
    }
}

#[test]
fn report_uri_sizes() {
    let record = parse("v=DMARC1; p=none; rua=mailto:a@example.com!10, mailto:b@example.com!2T");
    assert!(record.is_valid(), "{:?}", record.errors);
    assert_eq!(record.aggregate_reports[0].max_size, Some(10));
    assert_eq!(record.aggregate_reports[1].max_size, Some(2 << 40));
    assert_eq!(record.aggregate_reports[1].uri, "mailto:b@example.com");
}

#[test]
fn report_uri_errors_keep_valid_ones() {
    let record = parse("v=DMARC1; p=none; rua=mailto:a@example.com,mailto:nobody,:x");
    assert_eq!(
        kinds(&record),
        [DmarcError::InvalidReportUri, DmarcError::InvalidReportUri]
    );
    assert_eq!(record.aggregate_reports.len(), 1);
    assert!(record.is_explicit("rua"));
}

#[test]
fn https_report_uri_warns() {
    let record = parse("v=DMARC1; p=none; rua=https://reports.example.com/dmarc");
    assert!(record.is_valid());
    assert_eq!(warning_kinds(&record), [DmarcWarning::UnsupportedUriScheme]);
}

#[test]
fn weakening_tags_warn() {
    let record = parse("v=DMARC1; p=reject; pct=20; t=y; x=1; rf=iodef");
    assert!(record.is_valid());
    assert_eq!(
        warning_kinds(&record),
        [
            DmarcWarning::PartialPercentage,
            DmarcWarning::TestingMode,
            DmarcWarning::UnknownTag,
            DmarcWarning::UnknownReportFormat
        ]
    );
    assert_eq!(record.unknown_tags, ["x"]);
    assert!(record.testing);
}

#[test]
fn json_uses_tag_names() {
    let record = parse("v=DMARC1; p=reject; rua=mailto:a@example.com!1m");
    let json = serde_json::to_value(&record).unwrap();
    assert_eq!(json["p"], "reject");
    assert_eq!(json["sp"], "reject");
    assert_eq!(json["adkim"], "relaxed");
    assert_eq!(json["rua"][0]["max_size"], 1_048_576);
    assert_eq!(json["psd"], "unknown");
    assert_eq!(json["explicit"], serde_json::json!(["v", "p", "rua"]));
    let invalid = serde_json::to_value(parse("v=DMARC1; p=x")).unwrap();
    assert_eq!(invalid["errors"][0]["kind"], "invalid_value");
    assert_eq!(invalid["errors"].as_array().unwrap().len(), 1);
    assert_eq!(invalid["usable"], false);
}
