//! One output row, built from an input record and a domain's scan. The same value is written
//! as JSON Lines and, through arrow-json's serde decoder, as Arrow and Parquet.

use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

use crate::check::dns::{DnsObservation, Mx, RecordSet};
use crate::check::dnssec::{Denial, DsFacts};
use crate::check::email::observe::{Presence, SpfObservation};
use crate::check::web::{WebObservation, redirects_to_https};
use crate::check::{DomainScan, Status};
use crate::input::{DomainName, InputRecord, PassValue};
use crate::output::dmarc::DmarcColumns;
use crate::output::email::EmailColumns;
use crate::output::http::HttpColumns;
use crate::output::hygiene::HygieneColumns;
use crate::output::non_empty;
use crate::output::schema::SCHEMA_VERSION;
use crate::output::tls::TlsColumns;
use crate::output::web::WebColumns;

/// Passthrough values with their output column names.
pub struct Passthrough {
    pub names: Arc<[String]>,
    pub values: Vec<PassValue>,
}

impl Serialize for Passthrough {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.names.len()))?;
        for (index, name) in self.names.iter().enumerate() {
            match self.values.get(index) {
                Some(PassValue::Text(text)) => map.serialize_entry(name, text)?,
                Some(PassValue::Integer(number)) => map.serialize_entry(name, number)?,
                None => map.serialize_entry(name, &None::<String>)?,
            }
        }
        map.end()
    }
}

#[derive(Serialize)]
pub struct Row {
    pub input_line: u64,
    #[serde(flatten)]
    pub passthrough: Passthrough,
    pub input: String,
    pub domain: Option<String>,
    pub domain_unicode: Option<String>,
    pub registrable_domain: Option<String>,
    pub public_suffix: Option<String>,
    pub status: &'static str,
    pub status_reason: Option<String>,

    pub dns_a_outcome: Option<&'static str>,
    pub dns_a: Option<Vec<String>>,
    pub dns_aaaa_outcome: Option<&'static str>,
    pub dns_aaaa: Option<Vec<String>>,
    pub dns_ns_outcome: Option<&'static str>,
    pub dns_ns: Option<Vec<String>>,
    pub dns_mx_outcome: Option<&'static str>,
    pub dns_mx: Option<Vec<Mx>>,
    pub dns_txt_outcome: Option<&'static str>,
    pub dns_txt: Option<Vec<String>>,
    pub dns_error: Option<String>,
    #[serde(flatten)]
    pub hygiene: HygieneColumns,

    pub dnssec_state: Option<&'static str>,
    pub dnssec_reason: Option<&'static str>,
    pub dnssec_extended_error: Option<String>,
    pub dnssec_ds: Option<Vec<DsFacts>>,
    pub dnssec_dnskey_algorithms: Option<Vec<u8>>,
    pub dnssec_deprecated_algorithms: Option<Vec<u8>>,
    pub dnssec_deprecated_digest_types: Option<Vec<u8>>,
    pub dnssec_denial: Option<&'static str>,
    pub dnssec_nsec3_iterations: Option<u16>,
    pub dnssec_nsec3_salt_length: Option<u8>,

    pub spf_outcome: Option<&'static str>,
    pub spf_records: Option<Vec<String>>,
    pub spf_valid: Option<bool>,
    pub spf_error: Option<String>,
    pub spf_all: Option<&'static str>,
    pub spf_all_implied: Option<bool>,
    pub spf_lookups: Option<u32>,
    pub spf_void_lookups: Option<u32>,
    pub spf_includes: Option<Vec<String>>,
    pub spf_pass_all: Option<bool>,
    pub spf_ptr: Option<bool>,
    pub spf_deprecated_spf2: Option<bool>,
    pub spf_authorized_ipv4: Option<u64>,
    #[serde(flatten)]
    pub dmarc: DmarcColumns,
    #[serde(flatten)]
    pub email: EmailColumns,

    pub https_outcome: Option<&'static str>,
    pub https_address: Option<String>,
    pub https_status: Option<u16>,
    pub https_error: Option<String>,
    pub https_tls_version: Option<&'static str>,
    pub https_cert_verdict: Option<&'static str>,
    pub https_cert_error: Option<String>,
    pub https_cert_not_after: Option<String>,

    pub http_outcome: Option<&'static str>,
    pub http_address: Option<String>,
    pub http_status: Option<u16>,
    pub http_error: Option<String>,
    pub http_location: Option<String>,
    pub http_redirects_to_https: Option<bool>,
    #[serde(flatten)]
    pub web: WebColumns,
    #[serde(flatten)]
    pub http: HttpColumns,
    #[serde(flatten)]
    pub tls: TlsColumns,

    pub scanned_at: String,
    pub duration_ms: Option<u32>,
    pub posture_version: &'static str,
    pub schema_version: u16,
}

fn rfc3339(time: DateTime<Utc>, format: SecondsFormat) -> String {
    time.to_rfc3339_opts(format, true)
}

impl Row {
    /// Builds the row of an input line that was not scanned (invalid, duplicate, excluded by name).
    pub fn unscanned(
        record: InputRecord,
        names: Arc<[String]>,
        domain: Option<&DomainName>,
        status: Status,
        reason: String,
    ) -> Self {
        let mut row = Self::empty(record, names, status);
        row.status_reason = Some(reason);
        if let Some(domain) = domain {
            row.set_domain(domain);
        }
        row
    }

    /// Builds the row of a scanned domain.
    pub fn scanned(
        record: InputRecord,
        names: Arc<[String]>,
        domain: &DomainName,
        scan: DomainScan,
    ) -> Self {
        let mut row = Self::empty(record, names, scan.status);
        row.set_domain(domain);
        row.status_reason = scan.reason;
        row.duration_ms = Some(u32::try_from(scan.duration.as_millis()).unwrap_or(u32::MAX));
        if let Some(dns) = &scan.dns {
            row.set_dns(dns);
        }
        if let Some(hygiene) = &scan.hygiene {
            row.hygiene = HygieneColumns::new(hygiene);
        }
        if let Some(dnssec) = scan.dnssec {
            row.dnssec_deprecated_algorithms = non_empty(dnssec.deprecated_algorithms());
            row.dnssec_deprecated_digest_types = non_empty(dnssec.deprecated_digest_types());
            row.dnssec_denial = dnssec.denial.map(Denial::as_str);
            if let Some(Denial::Nsec3 {
                iterations,
                salt_length,
            }) = dnssec.denial
            {
                row.dnssec_nsec3_iterations = Some(iterations);
                row.dnssec_nsec3_salt_length = Some(salt_length);
            }
            row.dnssec_state = Some(dnssec.state.as_str());
            row.dnssec_reason = dnssec.reason;
            row.dnssec_extended_error = dnssec.extended_error;
            row.dnssec_ds = (!dnssec.ds.is_empty()).then_some(dnssec.ds);
            row.dnssec_dnskey_algorithms =
                (!dnssec.dnskey_algorithms.is_empty()).then_some(dnssec.dnskey_algorithms);
        }
        if let Some(dmarc) = &scan.dmarc {
            row.dmarc = DmarcColumns::new(dmarc, scan.dns.as_ref());
        }
        if let Some(mail) = &scan.mail {
            row.email = EmailColumns::new(mail, scan.spf.as_ref(), scan.dmarc.as_ref());
        }
        if let Some(spf) = scan.spf {
            row.set_spf(spf);
        }
        if let Some(web) = &scan.web {
            row.set_https(web.https.first());
            row.set_http(web.http.first(), &domain.ascii);
            row.web = WebColumns::new(web, &domain.ascii);
            row.http = HttpColumns::new(web, &domain.ascii, Utc::now());
        }
        if let Some(endpoints) = &scan.tls {
            row.tls = TlsColumns::new(endpoints, &domain.ascii);
        }
        row
    }

    fn empty(record: InputRecord, names: Arc<[String]>, status: Status) -> Self {
        Self {
            input_line: record.line,
            passthrough: Passthrough {
                names,
                values: record.passthrough,
            },
            input: record.field,
            domain: None,
            domain_unicode: None,
            registrable_domain: None,
            public_suffix: None,
            status: status.as_str(),
            status_reason: None,
            dns_a_outcome: None,
            dns_a: None,
            dns_aaaa_outcome: None,
            dns_aaaa: None,
            dns_ns_outcome: None,
            dns_ns: None,
            dns_mx_outcome: None,
            dns_mx: None,
            dns_txt_outcome: None,
            dns_txt: None,
            dns_error: None,
            hygiene: HygieneColumns::default(),
            dnssec_state: None,
            dnssec_reason: None,
            dnssec_extended_error: None,
            dnssec_ds: None,
            dnssec_dnskey_algorithms: None,
            dnssec_deprecated_algorithms: None,
            dnssec_deprecated_digest_types: None,
            dnssec_denial: None,
            dnssec_nsec3_iterations: None,
            dnssec_nsec3_salt_length: None,
            spf_outcome: None,
            spf_records: None,
            spf_valid: None,
            spf_error: None,
            spf_all: None,
            spf_all_implied: None,
            spf_lookups: None,
            spf_void_lookups: None,
            spf_includes: None,
            spf_pass_all: None,
            spf_ptr: None,
            spf_deprecated_spf2: None,
            spf_authorized_ipv4: None,
            dmarc: DmarcColumns::default(),
            email: EmailColumns::default(),
            https_outcome: None,
            https_address: None,
            https_status: None,
            https_error: None,
            https_tls_version: None,
            https_cert_verdict: None,
            https_cert_error: None,
            https_cert_not_after: None,
            http_outcome: None,
            http_address: None,
            http_status: None,
            http_error: None,
            http_location: None,
            http_redirects_to_https: None,
            web: WebColumns::default(),
            http: HttpColumns::default(),
            tls: TlsColumns::default(),
            scanned_at: rfc3339(Utc::now(), SecondsFormat::Millis),
            duration_ms: None,
            posture_version: env!("CARGO_PKG_VERSION"),
            schema_version: SCHEMA_VERSION,
        }
    }

    fn set_domain(&mut self, domain: &DomainName) {
        self.domain = Some(domain.ascii.clone());
        self.domain_unicode = Some(domain.unicode.clone());
        self.registrable_domain = Some(domain.registrable.clone());
        self.public_suffix = Some(domain.suffix.clone());
    }

    fn set_dns(&mut self, dns: &DnsObservation) {
        fn split<T: Clone, U>(
            set: &Option<RecordSet<T>>,
            map: impl Fn(&T) -> U,
        ) -> (Option<&'static str>, Option<Vec<U>>) {
            match set {
                None => (None, None),
                Some(set) => {
                    let records =
                        (!set.records.is_empty()).then(|| set.records.iter().map(&map).collect());
                    (Some(set.outcome.as_str()), records)
                }
            }
        }
        (self.dns_a_outcome, self.dns_a) = split(&dns.a, ToString::to_string);
        (self.dns_aaaa_outcome, self.dns_aaaa) = split(&dns.aaaa, ToString::to_string);
        (self.dns_ns_outcome, self.dns_ns) = split(&dns.ns, Clone::clone);
        (self.dns_mx_outcome, self.dns_mx) = split(&dns.mx, Clone::clone);
        (self.dns_txt_outcome, self.dns_txt) = split(&dns.txt, Clone::clone);
        self.dns_error = dns.first_error().map(str::to_string);
    }

    fn set_spf(&mut self, spf: SpfObservation) {
        self.spf_outcome = Some(spf.presence.as_str());
        if spf.presence != Presence::Present {
            return;
        }
        let analysis = spf.analysis;
        self.spf_valid = Some(analysis.is_valid());
        self.spf_error = analysis.problems.first().map(ToString::to_string);
        self.spf_all = analysis.all.map(|qualifier| qualifier.as_str());
        self.spf_all_implied = Some(analysis.all_implied);
        self.spf_lookups = Some(analysis.lookups);
        self.spf_void_lookups = Some(analysis.void_lookups);
        self.spf_includes = (!analysis.includes.is_empty()).then_some(analysis.includes);
        self.spf_pass_all = Some(analysis.pass_all);
        self.spf_ptr = Some(analysis.uses_ptr);
        self.spf_deprecated_spf2 = Some(analysis.deprecated_spf2);
        self.spf_authorized_ipv4 = Some(analysis.authorized_ipv4);
        self.spf_records = Some(analysis.records);
    }

    fn set_https(&mut self, web: &WebObservation) {
        self.https_outcome = Some(web.outcome.as_str());
        self.https_address = web.address.map(|address| address.to_string());
        self.https_status = web.status;
        self.https_error = web.error.clone();
        if let Some(tls) = &web.tls {
            self.https_tls_version = Some(tls.version);
            self.https_cert_verdict = Some(tls.verdict.as_str());
            self.https_cert_error = tls.verdict_detail.clone();
            self.https_cert_not_after =
                tls.not_after.map(|time| rfc3339(time, SecondsFormat::Secs));
        }
    }

    fn set_http(&mut self, web: &WebObservation, name: &str) {
        self.http_outcome = Some(web.outcome.as_str());
        self.http_address = web.address.map(|address| address.to_string());
        self.http_status = web.status;
        self.http_error = web.error.clone();
        self.http_location = web.location.clone();
        self.http_redirects_to_https = web
            .status
            .map(|status| redirects_to_https(status, web.location.as_deref(), name));
    }
}
