//! The DKIM, MTA-STS, TLS-RPT and BIMI columns of an output row, and the non-sending flag,
//! flattened into [`Row`](super::Row).

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Fields};
use serde::Serialize;

use super::non_empty;
use crate::check::email::dkim::KeyType;
use crate::check::email::dmarc::Policy;
use crate::check::email::observe::{DmarcObservation, DmarcPresence, SpfObservation};
use crate::check::email::records::{MailScan, RecordPresence, SelectorKey};
use crate::check::email::spf::record::{Mechanism, Term};
use crate::check::email::spf::{self, Qualifier};

/// One selector's key, as stored in `dkim_keys`.
#[derive(Debug, Serialize)]
pub struct KeyColumn {
    pub selector: String,
    pub key_type: Option<&'static str>,
    pub key_bits: Option<u32>,
    pub valid: bool,
    pub testing: bool,
    pub revoked: bool,
    /// False when `s=` lists neither `*` nor `email`.
    pub email_allowed: bool,
    /// `h=` in lower case; empty when absent, which allows every hash.
    pub hash_algorithms: Vec<String>,
    pub errors: Vec<String>,
    pub warnings: Vec<String>,
}

fn list(name: &str, nullable: bool) -> Field {
    Field::new(
        name,
        DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
        nullable,
    )
}

fn key_fields() -> Fields {
    let flag = |name: &str| Field::new(name, DataType::Boolean, false);
    Fields::from(vec![
        Field::new("selector", DataType::Utf8, false),
        Field::new("key_type", DataType::Utf8, true),
        Field::new("key_bits", DataType::UInt32, true),
        flag("valid"),
        flag("testing"),
        flag("revoked"),
        flag("email_allowed"),
        list("hash_algorithms", false),
        list("errors", false),
        list("warnings", false),
    ])
}

/// Returns the email fields in schema order.
pub fn fields() -> Vec<Field> {
    let text = |name: &str| Field::new(name, DataType::Utf8, true);
    let flag = |name: &str| Field::new(name, DataType::Boolean, true);
    let count = |name: &str| Field::new(name, DataType::UInt32, true);
    vec![
        text("dkim_evidence"),
        text("dkim_domainkey_outcome"),
        flag("dkim_wildcard"),
        list("dkim_selectors", true),
        Field::new(
            "dkim_keys",
            DataType::List(Arc::new(Field::new(
                "item",
                DataType::Struct(key_fields()),
                true,
            ))),
            true,
        ),
        count("dkim_queries"),
        text("mtasts_record_outcome"),
        text("mtasts_record"),
        flag("mtasts_record_valid"),
        text("mtasts_id"),
        text("mtasts_policy_outcome"),
        text("mtasts_policy_reason"),
        flag("mtasts_policy_valid"),
        list("mtasts_policy_errors", true),
        text("mtasts_mode"),
        count("mtasts_max_age"),
        list("mtasts_mx", true),
        flag("mtasts_mx_covered"),
        list("mtasts_mx_uncovered", true),
        text("tlsrpt_outcome"),
        text("tlsrpt_record"),
        flag("tlsrpt_valid"),
        list("tlsrpt_rua", true),
        list("tlsrpt_errors", true),
        text("bimi_outcome"),
        text("bimi_record"),
        flag("bimi_valid"),
        text("bimi_location"),
        text("bimi_evidence"),
        flag("bimi_declined"),
        list("bimi_errors", true),
        list("bimi_warnings", true),
        flag("email_null_mx"),
        flag("email_non_sending"),
    ]
}

/// Email columns beyond SPF and DMARC. Every one is null when the email check did not run.
#[derive(Debug, Default, Serialize)]
pub struct EmailColumns {
    pub dkim_evidence: Option<&'static str>,
    pub dkim_domainkey_outcome: Option<&'static str>,
    pub dkim_wildcard: Option<bool>,
    pub dkim_selectors: Option<Vec<String>>,
    pub dkim_keys: Option<Vec<KeyColumn>>,
    pub dkim_queries: Option<u32>,
    pub mtasts_record_outcome: Option<&'static str>,
    pub mtasts_record: Option<String>,
    pub mtasts_record_valid: Option<bool>,
    pub mtasts_id: Option<String>,
    pub mtasts_policy_outcome: Option<&'static str>,
    pub mtasts_policy_reason: Option<String>,
    pub mtasts_policy_valid: Option<bool>,
    pub mtasts_policy_errors: Option<Vec<String>>,
    pub mtasts_mode: Option<String>,
    pub mtasts_max_age: Option<u32>,
    pub mtasts_mx: Option<Vec<String>>,
    pub mtasts_mx_covered: Option<bool>,
    pub mtasts_mx_uncovered: Option<Vec<String>>,
    pub tlsrpt_outcome: Option<&'static str>,
    pub tlsrpt_record: Option<String>,
    pub tlsrpt_valid: Option<bool>,
    pub tlsrpt_rua: Option<Vec<String>>,
    pub tlsrpt_errors: Option<Vec<String>>,
    pub bimi_outcome: Option<&'static str>,
    pub bimi_record: Option<String>,
    pub bimi_valid: Option<bool>,
    pub bimi_location: Option<String>,
    pub bimi_evidence: Option<String>,
    pub bimi_declined: Option<bool>,
    pub bimi_errors: Option<Vec<String>>,
    pub bimi_warnings: Option<Vec<String>>,
    pub email_null_mx: Option<bool>,
    pub email_non_sending: Option<bool>,
}

/// Returns the snake_case name that serde gives a finding kind.
fn kind_name<K: Serialize>(kind: &K) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|value| value.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn key_column(found: &SelectorKey) -> KeyColumn {
    let key = &found.key;
    KeyColumn {
        selector: found.selector.clone(),
        key_type: key.key_type.map(|key_type| match key_type {
            KeyType::Rsa => "rsa",
            KeyType::Ed25519 => "ed25519",
        }),
        key_bits: key.key_bits,
        valid: key.is_valid(),
        testing: key.testing,
        revoked: key.revoked,
        email_allowed: key
            .service_types
            .iter()
            .any(|service| service == "*" || service == "email"),
        hash_algorithms: key.hash_algorithms.clone(),
        errors: key.errors.iter().map(|e| kind_name(&e.kind)).collect(),
        warnings: key.warnings.iter().map(|w| kind_name(&w.kind)).collect(),
    }
}

/// True when the SPF policy is exactly `v=spf1 -all`: one record whose only term is `-all`.
fn spf_rejects_all(spf: &SpfObservation) -> bool {
    let [text] = spf.analysis.records.as_slice() else {
        return false;
    };
    let Ok(record) = spf::parse(text) else {
        return false;
    };
    let only_all = record.terms.len() == 1
        && matches!(&record.terms[0], Term::Directive(directive)
            if directive.mechanism == Mechanism::All);
    only_all && record.all() == Some(Qualifier::Fail)
}

/// True when a usable DMARC record with `p=reject` applies.
fn dmarc_rejects(dmarc: &DmarcObservation) -> bool {
    dmarc.presence == DmarcPresence::Present
        && dmarc
            .record
            .as_ref()
            .is_some_and(|record| record.usable && record.policy == Policy::Reject)
}

impl EmailColumns {
    pub fn new(
        mail: &MailScan,
        spf: Option<&SpfObservation>,
        dmarc: Option<&DmarcObservation>,
    ) -> Self {
        let mut columns = Self::default();
        columns.set_dkim(mail);
        columns.set_mta_sts(mail);
        columns.set_tls_rpt(mail);
        columns.set_bimi(mail);

        // A domain that publishes that it sends no mail needs no DKIM key. It does so with
        // SPF `v=spf1 -all` and DMARC `p=reject`, or with a null MX (RFC 7505).
        columns.email_null_mx = mail.null_mx;
        let rejects_all = spf.is_some_and(spf_rejects_all) && dmarc.is_some_and(dmarc_rejects);
        columns.email_non_sending = match (rejects_all, mail.null_mx) {
            (true, _) | (false, Some(true)) => Some(true),
            (false, Some(false)) => Some(false),
            // Without the MX records, the domain may still publish a null MX.
            (false, None) => None,
        };
        columns
    }

    fn set_dkim(&mut self, mail: &MailScan) {
        let dkim = &mail.dkim;
        self.dkim_evidence = Some(dkim.evidence.as_str());
        self.dkim_domainkey_outcome = Some(dkim.domainkey_outcome.as_str());
        self.dkim_wildcard = dkim.wildcard;
        self.dkim_selectors = non_empty(dkim.keys.iter().map(|key| key.selector.clone()).collect());
        self.dkim_keys = non_empty(dkim.keys.iter().map(key_column).collect());
        self.dkim_queries = Some(dkim.queries);
    }

    fn set_mta_sts(&mut self, mail: &MailScan) {
        let mta_sts = &mail.mta_sts;
        self.mtasts_record_outcome = Some(mta_sts.record.presence.as_str());
        self.mtasts_record = mta_sts.record.text.clone();
        if let Some(record) = &mta_sts.record.record {
            self.mtasts_record_valid = Some(record.is_valid());
            self.mtasts_id = record.id.clone();
        }
        self.mtasts_policy_outcome = Some(mta_sts.policy_presence.as_str());
        self.mtasts_policy_reason = mta_sts.policy_reason.clone();
        let Some(policy) = &mta_sts.policy else {
            return;
        };
        self.mtasts_policy_valid = Some(policy.is_valid());
        self.mtasts_policy_errors =
            non_empty(policy.errors.iter().map(|e| kind_name(&e.kind)).collect());
        self.mtasts_mode = policy.mode.map(|mode| kind_name(&mode));
        self.mtasts_max_age = policy.max_age;
        self.mtasts_mx = non_empty(policy.mx.clone());
        if let Some(uncovered) = &mta_sts.uncovered_mx {
            self.mtasts_mx_covered = Some(uncovered.is_empty());
            self.mtasts_mx_uncovered = non_empty(uncovered.clone());
        }
    }

    fn set_tls_rpt(&mut self, mail: &MailScan) {
        let tls_rpt = &mail.tls_rpt;
        self.tlsrpt_outcome = Some(tls_rpt.presence.as_str());
        self.tlsrpt_record = tls_rpt.text.clone();
        if let Some(record) = &tls_rpt.record {
            self.tlsrpt_valid = Some(record.is_valid());
            self.tlsrpt_rua = non_empty(record.rua.clone());
            self.tlsrpt_errors =
                non_empty(record.errors.iter().map(|e| kind_name(&e.kind)).collect());
        }
    }

    fn set_bimi(&mut self, mail: &MailScan) {
        let bimi = &mail.bimi;
        self.bimi_outcome = Some(bimi.presence.as_str());
        self.bimi_record = bimi.text.clone();
        if let Some(record) = &bimi.record
            && bimi.presence == RecordPresence::Present
        {
            self.bimi_valid = Some(record.is_valid());
            self.bimi_location = record.location.clone();
            self.bimi_evidence = record.evidence.clone();
            self.bimi_declined = Some(record.declined);
            self.bimi_errors =
                non_empty(record.errors.iter().map(|e| kind_name(&e.kind)).collect());
            self.bimi_warnings =
                non_empty(record.warnings.iter().map(|w| kind_name(&w.kind)).collect());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::email::observe::Presence;
    use crate::check::email::spf::Analysis;

    fn spf(records: &[&str]) -> SpfObservation {
        SpfObservation {
            presence: Presence::Present,
            analysis: Analysis {
                records: records.iter().map(|text| text.to_string()).collect(),
                ..Analysis::default()
            },
        }
    }

    #[test]
    fn spf_reject_all_only() {
        assert!(spf_rejects_all(&spf(&["v=spf1 -all"])));
        assert!(spf_rejects_all(&spf(&["V=SPF1   -ALL"])));
        assert!(!spf_rejects_all(&spf(&["v=spf1 ~all"])));
        assert!(!spf_rejects_all(&spf(&["v=spf1 mx -all"])));
        assert!(!spf_rejects_all(&spf(&[
            "v=spf1 -all exp=explain.example.com"
        ])));
        assert!(!spf_rejects_all(&spf(&["v=spf1 -all", "v=spf1 -all"])));
        assert!(!spf_rejects_all(&spf(&[])));
    }
}
