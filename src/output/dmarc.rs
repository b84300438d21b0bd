//! The DMARC columns of an output row, flattened into [`Row`](super::Row).

use serde::Serialize;

use super::non_empty;

use crate::check::dns::{DnsObservation, Outcome};
use crate::check::email::dmarc::discover::Method;
use crate::check::email::dmarc::{Alignment, ReportUri, effective_policy, is_dmarc_record};
use crate::check::email::observe::{DmarcObservation, DmarcPresence};

/// DMARC columns; every one is null when the email check did not run.
#[derive(Debug, Default, Serialize)]
pub struct DmarcColumns {
    pub dmarc_outcome: Option<&'static str>,
    pub dmarc_found_at: Option<String>,
    pub dmarc_found_by: Option<Vec<&'static str>>,
    pub dmarc_tree_walk_found_at: Option<String>,
    pub dmarc_methods_disagree: Option<bool>,
    pub dmarc_record: Option<String>,
    pub dmarc_valid: Option<bool>,
    pub dmarc_errors: Option<Vec<String>>,
    pub dmarc_warnings: Option<Vec<String>>,
    pub dmarc_policy: Option<String>,
    pub dmarc_subdomain_policy: Option<String>,
    pub dmarc_pct: Option<u8>,
    pub dmarc_adkim: Option<&'static str>,
    pub dmarc_aspf: Option<&'static str>,
    pub dmarc_effective_policy: Option<String>,
    pub dmarc_rua: Option<Vec<String>>,
    pub dmarc_ruf: Option<Vec<String>>,
    pub dmarc_report_external: Option<Vec<String>>,
    pub dmarc_report_unauthorized: Option<Vec<String>>,
    pub dmarc_at_apex: Option<bool>,
}

fn alignment_name(alignment: Alignment) -> &'static str {
    match alignment {
        Alignment::Relaxed => "r",
        Alignment::Strict => "s",
    }
}

/// Returns the snake_case name that serde gives a finding kind.
fn kind_name<K: Serialize>(kind: &K) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|value| value.as_str().map(str::to_string))
        .unwrap_or_default()
}

impl DmarcColumns {
    /// Builds the columns from the DMARC observation and, when the DNS check ran, the name's
    /// own records. A DMARC record in the name's TXT records is a common mistake, and a name
    /// that does not exist selects `np` for the effective policy.
    pub fn new(observation: &DmarcObservation, dns: Option<&DnsObservation>) -> Self {
        let discovery = &observation.discovery;
        let mut columns = Self {
            dmarc_outcome: Some(observation.presence.as_str()),
            dmarc_found_by: Some(
                discovery
                    .found_by
                    .iter()
                    .map(|method| match method {
                        Method::Rfc7489 => "rfc7489",
                        Method::TreeWalk => "tree_walk",
                    })
                    .collect(),
            ),
            dmarc_tree_walk_found_at: discovery.tree_walk.found_at.clone(),
            dmarc_methods_disagree: Some(discovery.methods_disagree),
            ..Self::default()
        };

        if let Some(txt) = dns.and_then(|dns| dns.txt.as_ref())
            && !txt.outcome.is_failure()
        {
            columns.dmarc_at_apex = Some(txt.records.iter().any(|text| is_dmarc_record(text)));
        }
        if observation.presence != DmarcPresence::Present {
            return columns;
        }
        let Some(record) = &observation.record else {
            return columns;
        };

        columns.dmarc_found_at = discovery.rfc7489.found_at.clone();
        columns.dmarc_record = discovery.rfc7489.record.clone();
        columns.dmarc_valid = Some(record.is_valid());
        columns.dmarc_errors =
            non_empty(record.errors.iter().map(|e| kind_name(&e.kind)).collect());
        columns.dmarc_warnings =
            non_empty(record.warnings.iter().map(|w| kind_name(&w.kind)).collect());
        if record.usable {
            columns.dmarc_policy = Some(kind_name(&record.policy));
            columns.dmarc_subdomain_policy = Some(kind_name(&record.subdomain_policy));
            columns.dmarc_pct = Some(record.percent);
            columns.dmarc_adkim = Some(alignment_name(record.dkim_alignment));
            columns.dmarc_aspf = Some(alignment_name(record.spf_alignment));
        }

        // NXDOMAIN for A means the name does not exist, which selects `np` (RFC 9989).
        let name_exists = !dns
            .and_then(|dns| dns.a.as_ref())
            .is_some_and(|a| a.outcome == Outcome::NxDomain);
        columns.dmarc_effective_policy =
            effective_policy(record, observation.found_at_name, name_exists)
                .map(|effective| kind_name(&effective.policy));

        let uris = |list: &[ReportUri]| non_empty(list.iter().map(|uri| uri.uri.clone()).collect());
        columns.dmarc_rua = uris(&record.aggregate_reports);
        columns.dmarc_ruf = uris(&record.failure_reports);
        columns.dmarc_report_external = non_empty(observation.external_hosts.clone());
        columns.dmarc_report_unauthorized = non_empty(observation.unauthorized_hosts.clone());
        columns
    }
}
