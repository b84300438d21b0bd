//! Tests of findings and scores on batches built from JSON rows with the output schema.

use std::sync::Arc;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema};
use proptest::prelude::*;
use serde_json::{Value, json};

use super::finding::CATALOGUE;
use super::rules::headers_tls;
use super::*;
use crate::output::schema::posture_fields;

const SCANNED_AT: &str = "2026-12-04T12:00:00Z";

/// Returns a row where every current test passes.
fn good_row() -> Value {
    let dns = json!({
        "input_line": 2,
        "input": "example.com",
        "domain": "example.com",
        "registrable_domain": "example.com",
        "status": "ok",
        "dns_a_outcome": "data",
        "dns_ns": ["ns1.example.net", "ns2.example.org"],
        "dns_ns_hosts": 2,
        "dns_ns_hosts_with_aaaa": 2,
        "dns_ns_ipv4_networks_24": 2,
        "dns_caa_outcome": "data",
        "dns_cname_outcome": "no_data",
        "dns_cname_chain_length": 0,
        "dns_cname_dangling": false,
        "dns_www_cname_outcome": "no_data",
        "dns_www_cname_chain_length": 0,
        "dns_www_cname_dangling": false,
        "dnssec_state": "secure",
        "dnssec_denial": "nsec",
    });
    let rest = json!({
        "spf_outcome": "present",
        "spf_records": ["v=spf1 mx -all"],
        "spf_valid": true,
        "spf_all": "fail",
        "spf_all_implied": false,
        "spf_lookups": 1,
        "spf_void_lookups": 0,
        "spf_pass_all": false,
        "spf_ptr": false,
        "dmarc_outcome": "present",
        "dmarc_found_at": "example.com",
        "dmarc_record": "v=DMARC1; p=reject",
        "dmarc_valid": true,
        "dmarc_policy": "reject",
        "dmarc_effective_policy": "reject",
        "dmarc_pct": 100,
        "dmarc_at_apex": false,
        "https_outcome": "ok",
        "https_status": 200,
        "https_cert_verdict": "trusted",
        "https_cert_not_after": "2027-03-01T00:00:00Z",
        "http_outcome": "ok",
        "http_status": 301,
        "http_location": "https://example.com/",
        "http_redirects_to_https": true,
        "scanned_at": SCANNED_AT,
        "posture_version": "test",
        "schema_version": 2,
    });
    with(dns, rest)
}

/// Builds a batch of `rows` with the output schema plus `extra` columns.
fn batch_with(rows: &[Value], extra: Vec<Field>) -> RecordBatch {
    // A field the test defines replaces the scan's field of the same name.
    let mut fields = vec![Field::new("input_line", DataType::UInt64, false)];
    fields.extend(
        posture_fields()
            .into_iter()
            .filter(|field| !extra.iter().any(|own| own.name() == field.name())),
    );
    fields.extend(extra);
    let schema = Arc::new(Schema::new(fields));
    let mut decoder = arrow::json::ReaderBuilder::new(schema)
        .with_batch_size(rows.len().max(1))
        .build_decoder()
        .unwrap();
    decoder.serialize(rows).unwrap();
    decoder.flush().unwrap().unwrap()
}

fn batch(rows: &[Value]) -> RecordBatch {
    batch_with(rows, Vec::new())
}

fn builtin() -> Scoring {
    Scoring::new(Rubric::builtin(), ContextColumns::default())
}

/// Returns the built-in rubric changed to grade whatever the share of unknowns.
fn lenient() -> Scoring {
    let text = rubric::DEFAULT_RUBRIC.replace("max_unknown_share = 0.6", "max_unknown_share = 1.0");
    Scoring::new(Rubric::parse(&text).unwrap(), ContextColumns::default())
}

/// Scores each row directly from its assessments.
fn row_scores(rows: &[Value], scoring: &Scoring) -> Vec<rubric::RowScore> {
    let batch = batch(rows);
    let evidence = evidence::Evidence::new(&batch);
    (0..rows.len())
        .map(|index| scoring.rubric.score(&rules::assess(&evidence.row(index))))
        .collect()
}

fn score_of(row: Value, scoring: &Scoring) -> rubric::RowScore {
    row_scores(&[row], scoring).remove(0)
}

fn ids(score: &rubric::RowScore) -> Vec<&'static str> {
    score.findings.iter().map(|finding| finding.id).collect()
}

fn with(mut row: Value, changes: Value) -> Value {
    for (key, value) in changes.as_object().unwrap() {
        row[key] = value.clone();
    }
    row
}

#[test]
fn builtin_rubric_parses() {
    let rubric = Rubric::builtin();
    assert_eq!(rubric.name, "posture-default");
    assert_eq!(rubric.grade(100), "A+");
    assert_eq!(rubric.grade(0), "F");
    assert_eq!(rubric.penalty("https.none"), 40);
    assert_eq!(rubric.cap("https.cert_expired"), Some(39));
}

#[test]
fn rubric_rejects_unknown_ids_and_bad_bands() {
    let unknown = rubric::DEFAULT_RUBRIC.replace("\"spf.pass_all\" = 54", "\"spf.plus_all\" = 54");
    let error = Rubric::parse(&unknown).unwrap_err().to_string();
    assert!(error.contains("spf.plus_all"), "{error}");
    let unordered = rubric::DEFAULT_RUBRIC.replace("min_score = 85", "min_score = 99");
    assert!(Rubric::parse(&unordered).is_err());
    let share = rubric::DEFAULT_RUBRIC.replace("max_unknown_share = 0.6", "max_unknown_share = 2");
    assert!(Rubric::parse(&share).is_err());
}

#[test]
fn good_row_scores_full_marks() {
    let score = score_of(good_row(), &builtin());
    assert_eq!(ids(&score), Vec::<&str>::new());
    assert_eq!(score.score, Some(100));
    assert_eq!(score.grade.as_deref(), Some("A+"));
    assert_eq!(score.status, rubric::ScoreStatus::Graded);
    // Only the tests of columns no scan writes yet are unknown.
    for id in &score.unknown {
        assert!(
            id.starts_with("tls.")
                || id.starts_with("cookies.")
                || id.starts_with("disclosure.")
                || *id == "http.no_hsts"
                || *id == "http.hsts_short"
                || *id == "http.no_csp",
            "{id} is unknown"
        );
    }
    let share = score.unknown_share.unwrap();
    assert!(share > 0.0, "unknown share {share}");
    assert!(share < 0.6, "unknown share {share}");
}

#[test]
fn each_defect_raises_its_finding() {
    let cases: Vec<(Value, &str)> = vec![
        (json!({"dns_a_outcome": "servfail"}), "dns.servfail"),
        (
            json!({"dns_ns_hosts": 1, "dns_ns_ipv4_networks_24": 1}),
            "dns.single_ns_host",
        ),
        (
            json!({"dns_ns_ipv4_networks_24": 1}),
            "dns.single_ns_network",
        ),
        (json!({"dns_ns_hosts_with_aaaa": 0}), "dns.no_ipv6_ns"),
        (
            json!({"dns_www_cname_dangling": true, "dns_www_cname_chain": ["gone.example.net"]}),
            "dns.www_cname_dangling",
        ),
        (json!({"dns_cname_dangling": true}), "dns.cname_dangling"),
        (json!({"dns_caa_outcome": "no_data"}), "dns.no_caa"),
        (
            json!({"dnssec_state": "bogus", "dnssec_reason": "signature_expired"}),
            "dnssec.bogus",
        ),
        (
            json!({"dnssec_state": "insecure", "dnssec_reason": "no_ds"}),
            "dnssec.unsigned",
        ),
        (
            json!({"dnssec_deprecated_algorithms": [5]}),
            "dnssec.deprecated_algorithm",
        ),
        (
            json!({"dnssec_deprecated_digest_types": [1]}),
            "dnssec.deprecated_digest",
        ),
        (
            json!({"dnssec_denial": "nsec3", "dnssec_nsec3_iterations": 10}),
            "dnssec.nsec3_iterations",
        ),
        (json!({"spf_outcome": "absent"}), "spf.missing"),
        (
            json!({"spf_pass_all": true, "spf_all": "pass"}),
            "spf.pass_all",
        ),
        (
            json!({"spf_valid": false, "spf_error": "syntax error"}),
            "spf.invalid",
        ),
        (
            json!({"spf_valid": false, "spf_lookups": 14}),
            "spf.too_many_lookups",
        ),
        (json!({"spf_all": "neutral"}), "spf.neutral"),
        (json!({"spf_all": "softfail"}), "spf.softfail"),
        (json!({"spf_ptr": true}), "spf.ptr"),
        (json!({"dmarc_outcome": "absent"}), "dmarc.missing"),
        (
            json!({"dmarc_outcome": "multiple_records"}),
            "dmarc.multiple_records",
        ),
        (
            json!({"dmarc_valid": false, "dmarc_errors": ["invalid_value"]}),
            "dmarc.invalid",
        ),
        (
            json!({"dmarc_effective_policy": "none"}),
            "dmarc.policy_none",
        ),
        (json!({"dmarc_pct": 50}), "dmarc.pct_partial"),
        (
            json!({"dmarc_report_unauthorized": ["reports.example.net"]}),
            "dmarc.reports_unauthorised",
        ),
        (json!({"dmarc_at_apex": true}), "dmarc.record_at_apex"),
        (json!({"https_outcome": "connect_refused"}), "https.none"),
        (
            json!({"https_outcome": "tls_error"}),
            "https.handshake_failed",
        ),
        (
            json!({"https_cert_verdict": "expired"}),
            "https.cert_expired",
        ),
        (
            json!({"https_cert_verdict": "not_yet_valid"}),
            "https.cert_not_yet_valid",
        ),
        (
            json!({"https_cert_verdict": "name_mismatch"}),
            "https.cert_name_mismatch",
        ),
        (
            json!({"https_cert_verdict": "self_signed"}),
            "https.cert_self_signed",
        ),
        (
            json!({"https_cert_verdict": "unknown_issuer"}),
            "https.cert_untrusted",
        ),
        (
            json!({"https_cert_verdict": "invalid"}),
            "https.cert_invalid",
        ),
        (
            json!({"https_cert_not_after": "2026-12-10T00:00:00Z"}),
            "https.cert_expiring",
        ),
        (
            json!({"http_redirects_to_https": false}),
            "http.no_redirect_to_https",
        ),
    ];
    let scoring = builtin();
    for (changes, expected) in cases {
        let score = score_of(with(good_row(), changes.clone()), &scoring);
        let found = ids(&score);
        assert!(
            found.contains(&expected),
            "{changes} gave {found:?}, not {expected}"
        );
        let finding = score.findings.iter().find(|f| f.id == expected).unwrap();
        assert!(!finding.evidence.is_empty(), "{expected} has no evidence");
        assert!(
            score.score.unwrap() < 100 || finding.penalty == 0,
            "{expected}"
        );
    }
}

#[test]
fn every_catalogue_id_is_documented() {
    let doc = include_str!("../../docs/findings.md");
    for kind in CATALOGUE {
        assert!(
            doc.contains(&format!("`{}`", kind.id)),
            "{} is missing from docs/findings.md",
            kind.id
        );
    }
}

#[test]
fn invalid_certificate_caps_the_score() {
    let score = score_of(
        with(good_row(), json!({"https_cert_verdict": "self_signed"})),
        &builtin(),
    );
    assert_eq!(score.score, Some(39));
    assert_eq!(score.capped_by, Some("https.cert_self_signed"));
    assert_eq!(score.grade.as_deref(), Some("E"));
}

#[test]
fn no_https_caps_the_score() {
    let score = score_of(
        with(good_row(), json!({"https_outcome": "connect_refused"})),
        &builtin(),
    );
    assert_eq!(score.score, Some(39));
    assert_eq!(score.capped_by, Some("https.none"));
    // Without HTTPS, the missing redirect is not counted twice.
    assert!(!ids(&score).contains(&"http.no_redirect_to_https"));
}

#[test]
fn missing_columns_are_unknown_not_passes() {
    let only_status = json!({"input_line": 1, "input": "x.example", "domain": "x.example",
        "status": "ok", "posture_version": "t", "schema_version": 2, "scanned_at": SCANNED_AT});
    let score = score_of(only_status, &builtin());
    assert_eq!(score.passed, 0);
    assert!(score.findings.is_empty());
    assert_eq!(score.status, rubric::ScoreStatus::InsufficientEvidence);
    assert_eq!(score.score, None);
    assert_eq!(score.unknown_share, Some(1.0));
}

#[test]
fn unscanned_rows_get_no_score() {
    let row = with(good_row(), json!({"status": "invalid_input"}));
    let scored = score_columns(&batch(&[row]), &builtin()).unwrap();
    let status = scored
        .column_by_name("score_status")
        .unwrap()
        .as_string::<i32>();
    assert_eq!(status.value(0), "not_scanned");
    assert!(scored.column_by_name("score").unwrap().is_null(0));
    assert!(scored.column_by_name("findings").unwrap().is_null(0));
}

#[test]
fn score_batch_appends_columns_and_replaces_old_ones() {
    let rows = [
        good_row(),
        with(good_row(), json!({"dmarc_outcome": "absent"})),
    ];
    let once = score_batch(&batch(&rows), &builtin()).unwrap();
    let twice = score_batch(&once, &lenient()).unwrap();
    assert_eq!(once.num_columns(), twice.num_columns());
    assert_eq!(*once.schema(), *scored_schema(&batch(&rows).schema()));
    let scores = twice.column_by_name("score").unwrap();
    let scores = arrow::compute::cast(scores, &DataType::Int64).unwrap();
    let scores = scores.as_primitive::<arrow::datatypes::Int64Type>();
    assert_eq!(scores.value(0), 100);
    assert_eq!(scores.value(1), 80);
    let rubric = twice
        .column_by_name("score_rubric")
        .unwrap()
        .as_string::<i32>();
    assert_eq!(rubric.value(0), "posture-default 2026.12.1");
    let findings = twice.column_by_name("findings").unwrap().as_list::<i32>();
    assert!(findings.is_null(0));
    let second = findings.value(1);
    let ids = second
        .as_struct()
        .column_by_name("id")
        .unwrap()
        .as_string::<i32>();
    assert_eq!(ids.value(0), "dmarc.missing");
}

#[test]
fn context_columns_stay_out_of_the_score() {
    let extra = vec![
        Field::new("employee_rating", DataType::Utf8, true),
        Field::new("CEO Approval", DataType::Utf8, true),
    ];
    let mut happy = good_row();
    happy["employee_rating"] = json!("5.0");
    happy["CEO Approval"] = json!("90%");
    let mut unhappy = good_row();
    unhappy["employee_rating"] = json!("1.0");
    unhappy["CEO Approval"] = json!("10%");
    let scored = score_columns(&batch_with(&[happy, unhappy], extra), &builtin()).unwrap();
    let context = scored.column_by_name("context_score").unwrap();
    let context = context.as_primitive::<arrow::datatypes::Float64Type>();
    assert_eq!(context.value(0), 95.0);
    assert_eq!(context.value(1), 5.0);
    let score =
        arrow::compute::cast(scored.column_by_name("score").unwrap(), &DataType::Int64).unwrap();
    let score = score.as_primitive::<arrow::datatypes::Int64Type>();
    assert_eq!(score.value(0), score.value(1));
}

fn utf8_list() -> DataType {
    DataType::List(Arc::new(Field::new("item", DataType::Utf8, true)))
}

/// Columns with the TLS and HTTP header evidence, all set to a good server's values.
fn header_tls_columns(values: &[(&str, Value)]) -> (Vec<Field>, Value) {
    let mut fields = Vec::new();
    let mut row = good_row();
    let defaults: Vec<(&str, DataType, Value)> = vec![
        (
            headers_tls::TLS_SSL3_OFFERED,
            DataType::Boolean,
            json!(false),
        ),
        (
            headers_tls::TLS_TLS1_0_OFFERED,
            DataType::Boolean,
            json!(false),
        ),
        (
            headers_tls::TLS_TLS1_1_OFFERED,
            DataType::Boolean,
            json!(false),
        ),
        (
            headers_tls::TLS_TLS1_2_OFFERED,
            DataType::Boolean,
            json!(true),
        ),
        (
            headers_tls::TLS_TLS1_3_OFFERED,
            DataType::Boolean,
            json!(true),
        ),
        (
            headers_tls::TLS_WEAK_CIPHER_COUNT,
            DataType::UInt32,
            json!(0),
        ),
        (
            headers_tls::TLS_EXPORT_OFFERED,
            DataType::Boolean,
            json!(false),
        ),
        (
            headers_tls::TLS_FORWARD_SECRECY,
            DataType::Boolean,
            json!(true),
        ),
        (
            headers_tls::TLS_CERT_KEY_TYPE,
            DataType::Utf8,
            json!("ecdsa"),
        ),
        (headers_tls::TLS_CERT_KEY_BITS, DataType::UInt32, json!(256)),
        (
            headers_tls::TLS_CERT_SIGNATURE_ALGORITHM,
            DataType::Utf8,
            json!("ecdsa-with-SHA256"),
        ),
        (headers_tls::TLS_CERT_DEFECTS, utf8_list(), json!([])),
        (
            headers_tls::HTTP_HSTS_MAX_AGE,
            DataType::UInt64,
            json!(31_536_000),
        ),
        (headers_tls::HTTP_HSTS_COUNT, DataType::UInt8, json!(1)),
        (headers_tls::HTTP_HSTS_VALID, DataType::Boolean, json!(true)),
        (
            headers_tls::HTTP_CSP_PRESENT,
            DataType::Boolean,
            json!(true),
        ),
        (
            headers_tls::HTTP_CSP_UNSAFE_INLINE,
            DataType::Boolean,
            json!(false),
        ),
        (
            headers_tls::HTTP_CSP_UNSAFE_EVAL,
            DataType::Boolean,
            json!(false),
        ),
        (
            headers_tls::HTTP_CSP_FRAME_ANCESTORS,
            DataType::Boolean,
            json!(true),
        ),
        (
            headers_tls::HTTP_X_FRAME_OPTIONS,
            DataType::Utf8,
            json!("DENY"),
        ),
        (headers_tls::HTTP_NOSNIFF, DataType::Boolean, json!(true)),
        (
            headers_tls::HTTP_REFERRER_POLICY,
            DataType::Utf8,
            json!("strict-origin-when-cross-origin"),
        ),
        (
            headers_tls::HTTP_CORS_WILDCARD,
            DataType::Boolean,
            json!(false),
        ),
        (
            headers_tls::HTTP_HTTPS_ENFORCED,
            DataType::Boolean,
            json!(true),
        ),
        (headers_tls::HTTP_COOKIES, DataType::UInt32, json!(2)),
        (
            headers_tls::HTTP_COOKIES_SESSION_WITHOUT_SECURE,
            DataType::UInt32,
            json!(0),
        ),
        (
            headers_tls::HTTP_COOKIES_WITHOUT_SECURE,
            DataType::UInt32,
            json!(0),
        ),
        (
            headers_tls::HTTP_COOKIES_WITHOUT_HTTPONLY,
            DataType::UInt32,
            json!(0),
        ),
        (
            headers_tls::HTTP_DISCLOSURE_VERSION,
            DataType::Boolean,
            json!(false),
        ),
        (
            headers_tls::HTTP_DISCLOSURE_PRODUCTS,
            utf8_list(),
            json!([]),
        ),
        (
            headers_tls::HTTP_SERVER_EOL,
            DataType::Boolean,
            json!(false),
        ),
    ];
    assert_eq!(defaults.len(), headers_tls::EXPECTED_COLUMNS.len());
    for (name, data_type, value) in defaults {
        fields.push(Field::new(name, data_type, true));
        row[name] = value;
    }
    for (name, value) in values {
        row[*name] = value.clone();
    }
    (fields, row)
}

fn subscores(values: &[(&str, Value)]) -> (Option<i64>, Option<String>, Option<String>) {
    let (fields, row) = header_tls_columns(values);
    let scored = score_columns(&batch_with(&[row], fields), &builtin()).unwrap();
    let observatory = arrow::compute::cast(
        scored.column_by_name("observatory_approx_score").unwrap(),
        &DataType::Int64,
    )
    .unwrap();
    let observatory = observatory.as_primitive::<arrow::datatypes::Int64Type>();
    let text = |name: &str| {
        let column = scored.column_by_name(name).unwrap().as_string::<i32>();
        (!column.is_null(0)).then(|| column.value(0).to_string())
    };
    (
        (!observatory.is_null(0)).then(|| observatory.value(0)),
        text("observatory_approx_grade"),
        text("ssllabs_approx_grade"),
    )
}

#[test]
fn subscores_are_null_without_their_columns() {
    let scored = score_columns(&batch(&[good_row()]), &builtin()).unwrap();
    assert!(
        scored
            .column_by_name("observatory_approx_score")
            .unwrap()
            .is_null(0)
    );
    assert!(
        scored
            .column_by_name("ssllabs_approx_grade")
            .unwrap()
            .is_null(0)
    );
}

#[test]
fn observatory_score_of_constructed_rows() {
    // Every header right: 100 plus the CSP and Referrer-Policy bonuses.
    assert_eq!(subscores(&[]).0, Some(110));
    assert_eq!(subscores(&[]).1.as_deref(), Some("A+"));
    // No CSP (-25) and no HSTS (-20): 55, and no bonus below 90.
    let (score, grade, _) = subscores(&[
        (headers_tls::HTTP_CSP_PRESENT, json!(false)),
        (headers_tls::HTTP_HSTS_VALID, json!(false)),
    ]);
    assert_eq!(score, Some(55));
    assert_eq!(grade.as_deref(), Some("C"));
    // A session cookie without Secure costs 40.
    let (score, _, _) = subscores(&[(headers_tls::HTTP_COOKIES_SESSION_WITHOUT_SECURE, json!(1))]);
    assert_eq!(score, Some(60));
    // A column present but null for this row gives no score.
    let (score, _, _) = subscores(&[(headers_tls::HTTP_NOSNIFF, Value::Null)]);
    assert_eq!(score, None);
}

#[test]
fn ssl_labs_grade_caps() {
    assert_eq!(subscores(&[]).2.as_deref(), Some("A+"));
    let grade = |values: &[(&str, Value)]| subscores(values).2;
    assert_eq!(
        grade(&[(headers_tls::TLS_TLS1_0_OFFERED, json!(true))]).as_deref(),
        Some("B")
    );
    assert_eq!(
        grade(&[(headers_tls::TLS_FORWARD_SECRECY, json!(false))]).as_deref(),
        Some("B")
    );
    assert_eq!(
        grade(&[(headers_tls::TLS_CERT_DEFECTS, json!(["incomplete_chain"]))]).as_deref(),
        Some("B")
    );
    assert_eq!(
        grade(&[
            (headers_tls::TLS_TLS1_2_OFFERED, json!(false)),
            (headers_tls::TLS_TLS1_3_OFFERED, json!(false)),
            (headers_tls::TLS_TLS1_1_OFFERED, json!(true))
        ])
        .as_deref(),
        Some("C")
    );
    assert_eq!(
        grade(&[(headers_tls::TLS_EXPORT_OFFERED, json!(true))]).as_deref(),
        Some("F")
    );
    assert_eq!(
        grade(&[("https_cert_verdict", json!("expired"))]).as_deref(),
        Some("T")
    );
    assert_eq!(
        grade(&[("https_cert_verdict", json!("name_mismatch"))]).as_deref(),
        Some("M")
    );
    assert_eq!(
        grade(&[(headers_tls::HTTP_HSTS_VALID, json!(false))]).as_deref(),
        Some("A")
    );
}

#[test]
fn header_and_tls_findings() {
    let (fields, row) = header_tls_columns(&[
        (headers_tls::TLS_TLS1_0_OFFERED, json!(true)),
        (headers_tls::HTTP_COOKIES_SESSION_WITHOUT_SECURE, json!(1)),
        (headers_tls::HTTP_DISCLOSURE_VERSION, json!(true)),
        (
            headers_tls::HTTP_DISCLOSURE_PRODUCTS,
            json!(["nginx/1.10.0"]),
        ),
        (headers_tls::HTTP_SERVER_EOL, json!(true)),
    ]);
    let batch = batch_with(&[row], fields);
    let evidence = evidence::Evidence::new(&batch);
    let score = builtin().rubric.score(&rules::assess(&evidence.row(0)));
    let found = ids(&score);
    for id in [
        "tls.legacy_protocol",
        "cookies.session_insecure",
        "disclosure.eol_version",
        "disclosure.version",
    ] {
        assert!(found.contains(&id), "{found:?} lacks {id}");
    }
    assert!(score.unknown.is_empty(), "{:?}", score.unknown);
    assert_eq!(score.unknown_share, Some(0.0));
}

// Property tests: random rows, built from a few values per column.

fn choice<T: Clone + std::fmt::Debug + 'static>(values: &[T]) -> impl Strategy<Value = T> {
    prop::sample::select(values.to_vec())
}

prop_compose! {
    fn any_row()(
        a in choice(&["data", "servfail", "timeout", "nxdomain"]),
        ns in choice(&[None, Some(0u32), Some(1), Some(3)]),
        networks in choice(&[None, Some(1u32), Some(2)]),
        dangling in choice(&[None, Some(false), Some(true)]),
        dnssec in choice(&[None, Some("secure"), Some("insecure"), Some("bogus"), Some("indeterminate")]),
        deprecated in any::<bool>(),
        spf in choice(&[None, Some("present"), Some("absent"), Some("unknown")]),
        spf_all in choice(&["pass", "neutral", "softfail", "fail"]),
        spf_valid in any::<bool>(),
        lookups in choice(&[2u32, 12]),
        dmarc in choice(&[None, Some("present"), Some("absent"), Some("multiple_records")]),
        policy in choice(&[None, Some("none"), Some("quarantine"), Some("reject")]),
        pct in choice(&[100u32, 50]),
        https in choice(&[None, Some("ok"), Some("connect_refused"), Some("tls_error"), Some("timeout"), Some("no_address")]),
        verdict in choice(&[None, Some("trusted"), Some("expired"), Some("self_signed"), Some("name_mismatch")]),
        http in choice(&[None, Some("ok"), Some("connect_refused")]),
        redirects in choice(&[None, Some(false), Some(true)]),
    ) -> Value {
        let mut row = good_row();
        row["dns_a_outcome"] = json!(a);
        row["dns_ns_hosts"] = json!(ns);
        row["dns_ns_ipv4_networks_24"] = json!(networks);
        row["dns_www_cname_dangling"] = json!(dangling);
        row["dnssec_state"] = json!(dnssec);
        row["dnssec_deprecated_algorithms"] = if deprecated { json!([5]) } else { Value::Null };
        row["spf_outcome"] = json!(spf);
        row["spf_all"] = json!(spf_all);
        row["spf_pass_all"] = json!(spf_all == "pass");
        row["spf_valid"] = json!(spf_valid && lookups <= 10);
        row["spf_lookups"] = json!(lookups);
        row["dmarc_outcome"] = json!(dmarc);
        row["dmarc_effective_policy"] = json!(policy);
        row["dmarc_policy"] = json!(policy);
        row["dmarc_pct"] = json!(pct);
        row["https_outcome"] = json!(https);
        row["https_cert_verdict"] = json!(verdict);
        row["http_outcome"] = json!(http);
        row["http_redirects_to_https"] = json!(redirects);
        row
    }
}

/// Changes that make a row's evidence strictly better in one respect.
fn improve(row: &Value, which: usize) -> Value {
    let mut row = row.clone();
    match which {
        0 => row["dmarc_effective_policy"] = json!("reject"),
        1 => {
            row["dmarc_outcome"] = json!("present");
            row["dmarc_effective_policy"] = json!("reject");
            row["dmarc_policy"] = json!("reject");
            row["dmarc_pct"] = json!(100);
            row["dmarc_valid"] = json!(true);
        }
        2 if row["spf_all"] == "neutral" => row["spf_all"] = json!("softfail"),
        2 if row["spf_all"] == "softfail" => row["spf_all"] = json!("fail"),
        3 => row["https_cert_verdict"] = json!("trusted"),
        4 => row["http_redirects_to_https"] = json!(true),
        5 if row["dnssec_state"] == "insecure" => {
            row["dnssec_state"] = json!("secure");
            row["dnssec_deprecated_algorithms"] = Value::Null;
        }
        6 => row["dnssec_deprecated_algorithms"] = Value::Null,
        7 => row["dns_www_cname_dangling"] = json!(false),
        8 => {
            row["dns_ns_hosts"] = json!(3);
            row["dns_ns_ipv4_networks_24"] = json!(2);
        }
        9 => row["dmarc_pct"] = json!(100),
        10 => {
            row["spf_lookups"] = json!(2);
            row["spf_valid"] = json!(true);
        }
        11 if row["https_outcome"] == "connect_refused" || row["https_outcome"] == "tls_error" => {
            row["https_outcome"] = json!("ok");
            row["https_cert_verdict"] = json!("trusted");
        }
        12 => row["dns_a_outcome"] = json!("data"),
        _ => {}
    }
    row
}

/// Columns that hold a fact whose null means "not known" (list columns, whose null means an
/// empty list, are left out).
const FACT_COLUMNS: &[&str] = &[
    "dns_a_outcome",
    "dns_ns_hosts",
    "dns_ns_ipv4_networks_24",
    "dns_ns_hosts_with_aaaa",
    "dns_www_cname_dangling",
    "dns_caa_outcome",
    "dnssec_state",
    "spf_outcome",
    "spf_all",
    "spf_valid",
    "spf_pass_all",
    "dmarc_outcome",
    "dmarc_valid",
    "dmarc_pct",
    "https_outcome",
    "https_cert_verdict",
    "http_outcome",
    "http_redirects_to_https",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn better_evidence_never_lowers_the_score(row in any_row(), which in 0usize..13) {
        let scoring = lenient();
        let better = improve(&row, which);
        let scores = row_scores(&[row.clone(), better.clone()], &scoring);
        prop_assert!(
            scores[1].score >= scores[0].score,
            "change {} lowered {:?} ({:?}) to {:?} ({:?})",
            which, scores[0].score, ids(&scores[0]), scores[1].score, ids(&scores[1])
        );
    }

    #[test]
    fn caps_hold(row in any_row()) {
        let scoring = builtin();
        let score = score_of(row, &scoring);
        for finding in &score.findings {
            if let (Some(cap), Some(points)) = (scoring.rubric.cap(finding.id), score.score) {
                prop_assert!(points <= cap, "{} caps at {cap}, score {points}", finding.id);
            }
        }
    }

    #[test]
    fn unknowns_never_count_as_passes(row in any_row(), column in choice(FACT_COLUMNS)) {
        let scoring = lenient();
        let mut unknown = row.clone();
        unknown[column] = Value::Null;
        let scores = row_scores(&[row, unknown], &scoring);
        prop_assert!(scores[1].passed <= scores[0].passed, "nulling {column} added passes");
        prop_assert!(
            scores[1].unknown_share >= scores[0].unknown_share,
            "nulling {column} lowered the unknown share"
        );
    }
}

#[test]
fn header_and_tls_columns_are_scan_columns() {
    // The rules read these names; a rename in the scan's schema must fail here, not turn
    // every row's evidence into unknowns.
    let scan: Vec<String> = posture_fields()
        .iter()
        .map(|field| field.name().clone())
        .collect();
    for name in headers_tls::EXPECTED_COLUMNS {
        assert!(
            scan.iter().any(|field| field == name),
            "the scan writes no {name}"
        );
    }
}

#[test]
fn framing_protection_from_either_header() {
    // X-Frame-Options alone protects; so does frame-ancestors alone.
    let xfo_only = subscores(&[
        (headers_tls::HTTP_CSP_FRAME_ANCESTORS, Value::Null),
        (headers_tls::HTTP_X_FRAME_OPTIONS, json!(" sameorigin ")),
    ]);
    assert_eq!(xfo_only.0, Some(110));
    let csp_only = subscores(&[(headers_tls::HTTP_X_FRAME_OPTIONS, Value::Null)]);
    assert_eq!(csp_only.0, Some(110));
    // ALLOW-FROM is obsolete and protects nothing: -20, and no bonus below 90.
    let neither = subscores(&[
        (headers_tls::HTTP_CSP_FRAME_ANCESTORS, json!(false)),
        (
            headers_tls::HTTP_X_FRAME_OPTIONS,
            json!("ALLOW-FROM https://a.example"),
        ),
    ]);
    assert_eq!(neither.0, Some(80));
}

#[test]
fn hsts_missing_header_fails_test() {
    // No header on a trusted response: hsts_valid is null, the count 0.
    let (fields, row) = header_tls_columns(&[
        (headers_tls::HTTP_HSTS_COUNT, json!(0)),
        (headers_tls::HTTP_HSTS_VALID, Value::Null),
        (headers_tls::HTTP_HSTS_MAX_AGE, Value::Null),
    ]);
    let batch = batch_with(&[row], fields);
    let evidence = evidence::Evidence::new(&batch);
    let score = builtin().rubric.score(&rules::assess(&evidence.row(0)));
    assert!(ids(&score).contains(&"http.no_hsts"), "{:?}", ids(&score));
    assert!(!score.unknown.contains(&"http.no_hsts"));
    // No HSTS costs the Observatory-style score 20: 80, too low for the bonuses.
    let (observatory, _, ssl_labs) = subscores(&[
        (headers_tls::HTTP_HSTS_COUNT, json!(0)),
        (headers_tls::HTTP_HSTS_VALID, Value::Null),
        (headers_tls::HTTP_HSTS_MAX_AGE, Value::Null),
    ]);
    assert_eq!(observatory, Some(80));
    assert_eq!(ssl_labs.as_deref(), Some("A"));
    // HSTS not read (no trusted response): unknown, and no sub-score.
    let (observatory, _, _) = subscores(&[
        (headers_tls::HTTP_HSTS_COUNT, Value::Null),
        (headers_tls::HTTP_HSTS_VALID, Value::Null),
    ]);
    assert_eq!(observatory, None);
}
