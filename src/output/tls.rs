//! The TLS columns of an output row, flattened into [`Row`](super::Row): one entry per
//! address handshake, and the domain's worst result across them.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Fields, TimeUnit};
use chrono::SecondsFormat;
use serde::Serialize;

use crate::check::tls::cert::{CertFlags, CertVerdict, ChainReport};
use crate::check::tls::handshake::HandshakeOutcome;
use crate::check::tls::probe::{HelloOutcome, ProbeReport, ProtocolVersion, WeakCategory};
use crate::check::{ChainSource, TlsEndpoint};

/// Certificate verdicts from worst to best, for the domain's worst verdict. A chain that
/// reaches no trusted root comes first, then validity and name defects, then weak
/// cryptography in a chain that is otherwise valid.
const VERDICT_ORDER: [CertVerdict; 11] = [
    CertVerdict::NoCertificate,
    CertVerdict::SelfSigned,
    CertVerdict::UntrustedRoot,
    CertVerdict::IncompleteChain,
    CertVerdict::Expired,
    CertVerdict::NotYetValid,
    CertVerdict::NameMismatch,
    CertVerdict::Invalid,
    CertVerdict::WeakSignature,
    CertVerdict::WeakKey,
    CertVerdict::Trusted,
];

/// Returns the names of the defects set in `flags`.
fn flag_names(flags: &CertFlags) -> Vec<&'static str> {
    [
        (flags.self_signed, "self_signed"),
        (flags.untrusted_root, "untrusted_root"),
        (flags.incomplete_chain, "incomplete_chain"),
        (flags.expired, "expired"),
        (flags.not_yet_valid, "not_yet_valid"),
        (flags.name_mismatch, "name_mismatch"),
        (flags.weak_signature, "weak_signature"),
        (flags.weak_key, "weak_key"),
    ]
    .into_iter()
    .filter_map(|(set, name)| set.then_some(name))
    .collect()
}

/// Protocol versions from oldest to newest.
const VERSION_ORDER: [&str; 2] = ["TLSv1.2", "TLSv1.3"];

/// One handshake, as stored in `tls_endpoints`.
#[derive(Debug, Serialize)]
pub struct EndpointColumn {
    pub name: String,
    pub address: String,
    pub outcome: &'static str,
    pub error: Option<String>,
    pub version: Option<&'static str>,
    pub cipher_suite: Option<String>,
    pub key_exchange_group: Option<String>,
    pub alpn: Option<String>,
    pub ocsp_stapled: Option<bool>,
    pub cert_verdict: Option<&'static str>,
    /// The connection whose Certificate message gave the judged chain: `handshake` or `probe`.
    pub cert_source: Option<&'static str>,
}

/// Returns the Arrow fields of a `tls_endpoints` entry.
fn endpoint_fields() -> Fields {
    let text = |name: &str, nullable| Field::new(name, DataType::Utf8, nullable);
    Fields::from(vec![
        text("name", false),
        text("address", false),
        text("outcome", false),
        text("error", true),
        text("version", true),
        text("cipher_suite", true),
        text("key_exchange_group", true),
        text("alpn", true),
        Field::new("ocsp_stapled", DataType::Boolean, true),
        text("cert_verdict", true),
        text("cert_source", true),
    ])
}

/// Returns the TLS fields in schema order.
pub fn fields() -> Vec<Field> {
    let text = |name: &str| Field::new(name, DataType::Utf8, true);
    let flag = |name: &str| Field::new(name, DataType::Boolean, true);
    let number = |name: &str, data_type| Field::new(name, data_type, true);
    let list = |name: &str| {
        Field::new(
            name,
            DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
            true,
        )
    };
    vec![
        Field::new("tls_handshakes", DataType::UInt8, true),
        Field::new("tls_handshakes_ok", DataType::UInt8, true),
        text("tls_version"),
        text("tls_cipher_suite"),
        text("tls_key_exchange_group"),
        flag("tls_h2"),
        flag("tls_ocsp_stapled"),
        text("tls_cert_verdict"),
        text("tls_cert_verdict_detail"),
        text("tls_cert_source"),
        list("tls_cert_defects"),
        text("tls_cert_subject_cn"),
        list("tls_cert_sans"),
        number("tls_cert_san_count", DataType::UInt32),
        text("tls_cert_issuer"),
        Field::new(
            "tls_cert_not_before",
            DataType::Timestamp(TimeUnit::Millisecond, Some("+00:00".into())),
            true,
        ),
        Field::new(
            "tls_cert_not_after",
            DataType::Timestamp(TimeUnit::Millisecond, Some("+00:00".into())),
            true,
        ),
        number("tls_cert_days_to_expiry", DataType::Int32),
        text("tls_cert_key_type"),
        number("tls_cert_key_bits", DataType::UInt32),
        text("tls_cert_key_curve"),
        text("tls_cert_signature_algorithm"),
        number("tls_cert_chain_length", DataType::UInt8),
        flag("tls_cert_chain_order_correct"),
        flag("tls_ssl3_offered"),
        flag("tls_tls1_0_offered"),
        flag("tls_tls1_1_offered"),
        flag("tls_tls1_2_offered"),
        flag("tls_tls1_3_offered"),
        list("tls_weak_categories"),
        number("tls_weak_cipher_count", DataType::UInt32),
        flag("tls_export_offered"),
        flag("tls_forward_secrecy"),
        number("tls_probe_connections", DataType::UInt32),
        text("tls_probe_evidence"),
        flag("tls_addresses_disagree"),
        flag("tls_names_disagree"),
        Field::new(
            "tls_endpoints",
            DataType::List(Arc::new(Field::new(
                "item",
                DataType::Struct(endpoint_fields()),
                true,
            ))),
            true,
        ),
    ]
}

/// TLS columns. Every one is null when the TLS check did not run.
#[derive(Debug, Default, Serialize)]
pub struct TlsColumns {
    pub tls_handshakes: Option<u8>,
    pub tls_handshakes_ok: Option<u8>,
    pub tls_version: Option<&'static str>,
    pub tls_cipher_suite: Option<String>,
    pub tls_key_exchange_group: Option<String>,
    pub tls_h2: Option<bool>,
    pub tls_ocsp_stapled: Option<bool>,
    pub tls_cert_verdict: Option<&'static str>,
    pub tls_cert_verdict_detail: Option<String>,
    pub tls_cert_source: Option<&'static str>,
    pub tls_cert_defects: Option<Vec<&'static str>>,
    pub tls_cert_subject_cn: Option<String>,
    pub tls_cert_sans: Option<Vec<String>>,
    pub tls_cert_san_count: Option<u32>,
    pub tls_cert_issuer: Option<String>,
    pub tls_cert_not_before: Option<String>,
    pub tls_cert_not_after: Option<String>,
    pub tls_cert_days_to_expiry: Option<i32>,
    pub tls_cert_key_type: Option<String>,
    pub tls_cert_key_bits: Option<u32>,
    pub tls_cert_key_curve: Option<String>,
    pub tls_cert_signature_algorithm: Option<String>,
    pub tls_cert_chain_length: Option<u8>,
    pub tls_cert_chain_order_correct: Option<bool>,
    pub tls_ssl3_offered: Option<bool>,
    pub tls_tls1_0_offered: Option<bool>,
    pub tls_tls1_1_offered: Option<bool>,
    pub tls_tls1_2_offered: Option<bool>,
    pub tls_tls1_3_offered: Option<bool>,
    pub tls_weak_categories: Option<Vec<&'static str>>,
    pub tls_weak_cipher_count: Option<u32>,
    pub tls_export_offered: Option<bool>,
    pub tls_forward_secrecy: Option<bool>,
    pub tls_probe_connections: Option<u32>,
    pub tls_probe_evidence: Option<String>,
    pub tls_addresses_disagree: Option<bool>,
    pub tls_names_disagree: Option<bool>,
    pub tls_endpoints: Option<Vec<EndpointColumn>>,
}

/// Returns the facts that two completed handshakes are compared on.
fn signature(endpoint: &TlsEndpoint) -> (Option<&str>, Option<&str>, Option<CertVerdict>) {
    (
        endpoint.handshake.version,
        endpoint.handshake.cipher_suite.as_deref(),
        endpoint.certificate.as_ref().map(|report| report.verdict),
    )
}

fn rank<T: PartialEq>(order: &[T], value: &T) -> usize {
    order.iter().position(|item| item == value).unwrap_or(0)
}

impl TlsColumns {
    pub fn new(endpoints: &[TlsEndpoint], name: &str) -> Self {
        let count = |n: usize| u8::try_from(n).unwrap_or(u8::MAX);
        let ok: Vec<&TlsEndpoint> = endpoints
            .iter()
            .filter(|endpoint| endpoint.handshake.outcome == HandshakeOutcome::Ok)
            .collect();
        let mut columns = Self {
            tls_handshakes: Some(count(endpoints.len())),
            tls_handshakes_ok: Some(count(ok.len())),
            ..Self::default()
        };
        columns.tls_endpoints = Some(endpoints.iter().map(endpoint_column).collect());
        columns.set_probes(endpoints);
        // The worst chain gives the verdict and the certificate facts, so that every
        // certificate column describes the same chain. A chain read by a legacy probe counts
        // for an address whose modern handshake failed.
        let worst = endpoints
            .iter()
            .filter_map(|endpoint| Some((endpoint.certificate.as_ref()?, endpoint)))
            .min_by_key(|(report, _)| rank(&VERDICT_ORDER, &report.verdict));
        if let Some((report, endpoint)) = worst {
            columns.set_certificate(report);
            columns.tls_cert_source = endpoint.certificate_source.map(ChainSource::as_str);
        }
        if ok.is_empty() {
            return columns;
        }

        columns.tls_version = ok
            .iter()
            .filter_map(|endpoint| endpoint.handshake.version)
            .min_by_key(|version| rank(&VERSION_ORDER, version));
        let first = ok
            .iter()
            .find(|endpoint| endpoint.handshake.name == name)
            .unwrap_or(&ok[0]);
        columns.tls_cipher_suite = first.handshake.cipher_suite.clone();
        columns.tls_key_exchange_group = first.handshake.key_exchange_group.clone();
        columns.tls_h2 = Some(
            ok.iter()
                .all(|endpoint| endpoint.handshake.alpn.as_deref() == Some("h2")),
        );
        columns.tls_ocsp_stapled = Some(
            ok.iter()
                .all(|endpoint| endpoint.handshake.ocsp_stapled == Some(true)),
        );
        let same_name_differs = |host: &str| {
            let mut seen = ok
                .iter()
                .filter(|endpoint| endpoint.handshake.name == host)
                .map(|endpoint| signature(endpoint));
            let first = seen.next();
            seen.any(|other| Some(other) != first)
        };
        let www = format!("www.{name}");
        columns.tls_addresses_disagree = Some(same_name_differs(name) || same_name_differs(&www));
        let by_name = |host: &str| {
            ok.iter()
                .find(|endpoint| endpoint.handshake.name == host)
                .map(|endpoint| signature(endpoint))
        };
        columns.tls_names_disagree = match (by_name(name), by_name(&www)) {
            (Some(apex), Some(www)) => Some(apex != www),
            _ => None,
        };
        columns
    }
}

impl TlsColumns {
    /// Sets the version and weak-suite columns from the distinct addresses probed: a version
    /// or category counts when any address accepts it.
    fn set_probes(&mut self, endpoints: &[TlsEndpoint]) {
        let mut reports: Vec<&ProbeReport> = Vec::new();
        for endpoint in endpoints {
            if let Some(report) = endpoint.probe.as_deref()
                && !reports.iter().any(|seen| seen.address == report.address)
            {
                reports.push(report);
            }
        }
        if reports.is_empty() {
            return;
        }
        let offered = |version: ProtocolVersion| {
            let outcomes = reports
                .iter()
                .flat_map(|report| &report.versions)
                .filter(|entry| entry.version == version)
                .map(|entry| &entry.outcome);
            let mut known = false;
            for outcome in outcomes {
                match outcome {
                    HelloOutcome::Accepted { .. } => return Some(true),
                    HelloOutcome::Rejected { .. } => known = true,
                    HelloOutcome::Unknown { .. } => {}
                }
            }
            known.then_some(false)
        };
        self.tls_ssl3_offered = offered(ProtocolVersion::Ssl3);
        self.tls_tls1_0_offered = offered(ProtocolVersion::Tls10);
        self.tls_tls1_1_offered = offered(ProtocolVersion::Tls11);
        self.tls_tls1_2_offered = offered(ProtocolVersion::Tls12);
        self.tls_tls1_3_offered = offered(ProtocolVersion::Tls13);

        let mut categories: Vec<WeakCategory> = Vec::new();
        let mut weak_suites: Vec<&str> = Vec::new();
        for weak in reports
            .iter()
            .flat_map(|report| &report.versions)
            .flat_map(|entry| &entry.weak)
        {
            if let HelloOutcome::Accepted { suite, .. } = &weak.outcome {
                if !categories.contains(&weak.category) {
                    categories.push(weak.category);
                }
                if weak.category != WeakCategory::NoForwardSecrecy
                    && !weak_suites.contains(&suite.as_str())
                {
                    weak_suites.push(suite);
                }
            }
        }
        let any_version = [
            self.tls_ssl3_offered,
            self.tls_tls1_0_offered,
            self.tls_tls1_1_offered,
            self.tls_tls1_2_offered,
        ]
        .contains(&Some(true));
        self.tls_weak_categories = Some(
            categories
                .iter()
                .map(|category| category.as_str())
                .collect(),
        );
        self.tls_weak_cipher_count = Some(u32::try_from(weak_suites.len()).unwrap_or(u32::MAX));
        self.tls_export_offered = Some(categories.contains(&WeakCategory::Export));
        self.tls_forward_secrecy = any_version
            .then(|| !categories.contains(&WeakCategory::NoForwardSecrecy))
            .or(self.tls_tls1_3_offered);
        self.tls_probe_connections = Some(reports.iter().map(|report| report.connections).sum());
        self.tls_probe_evidence = serde_json::to_string(&reports).ok();
    }

    fn set_certificate(&mut self, report: &ChainReport) {
        self.tls_cert_verdict = Some(report.verdict.as_str());
        self.tls_cert_verdict_detail = report.verdict_detail.clone();
        self.tls_cert_defects = Some(flag_names(&report.flags));
        self.tls_cert_chain_length = Some(u8::try_from(report.chain_length).unwrap_or(u8::MAX));
        self.tls_cert_chain_order_correct = Some(report.chain_order_correct);
        let Some(leaf) = &report.leaf else {
            return;
        };
        self.tls_cert_subject_cn = leaf.subject_cn.clone();
        self.tls_cert_sans = Some(leaf.sans.clone());
        self.tls_cert_san_count = Some(u32::try_from(leaf.san_count).unwrap_or(u32::MAX));
        self.tls_cert_issuer = Some(leaf.issuer.clone());
        self.tls_cert_not_before = Some(leaf.not_before.to_rfc3339_opts(SecondsFormat::Secs, true));
        self.tls_cert_not_after = Some(leaf.not_after.to_rfc3339_opts(SecondsFormat::Secs, true));
        self.tls_cert_days_to_expiry =
            Some(leaf.days_to_expiry.clamp(i32::MIN.into(), i32::MAX.into()) as i32);
        self.tls_cert_key_type = Some(leaf.key.key_type.clone());
        self.tls_cert_key_bits = leaf.key.bits;
        self.tls_cert_key_curve = leaf.key.curve.clone();
        self.tls_cert_signature_algorithm = Some(leaf.signature_algorithm.clone());
    }
}

fn endpoint_column(endpoint: &TlsEndpoint) -> EndpointColumn {
    let handshake = &endpoint.handshake;
    EndpointColumn {
        name: handshake.name.clone(),
        address: handshake.address.to_string(),
        outcome: handshake.outcome.as_str(),
        error: handshake.error.clone(),
        version: handshake.version,
        cipher_suite: handshake.cipher_suite.clone(),
        key_exchange_group: handshake.key_exchange_group.clone(),
        alpn: handshake.alpn.clone(),
        ocsp_stapled: handshake.ocsp_stapled,
        cert_verdict: endpoint
            .certificate
            .as_ref()
            .map(|report| report.verdict.as_str()),
        cert_source: endpoint.certificate_source.map(ChainSource::as_str),
    }
}
