//! The DNS hygiene columns of an output row, flattened into [`Row`](super::Row).

use serde::Serialize;

use super::non_empty;

use crate::check::dns::Outcome;
use crate::check::hygiene::{CnameChain, HygieneObservation, parse_caa};

/// DNS hygiene columns; every one is null when the DNS check did not run.
#[derive(Debug, Default, Serialize)]
pub struct HygieneColumns {
    pub dns_ns_hosts: Option<u32>,
    pub dns_ns_hosts_with_aaaa: Option<u32>,
    pub dns_ns_ipv4_networks_24: Option<u32>,
    pub dns_ns_ipv6_networks_48: Option<u32>,
    pub dns_mx_hosts: Option<u32>,
    pub dns_mx_hosts_with_aaaa: Option<u32>,
    pub dns_caa_outcome: Option<&'static str>,
    pub dns_caa_issue: Option<Vec<String>>,
    pub dns_caa_issuewild: Option<Vec<String>>,
    pub dns_caa_iodef: Option<Vec<String>>,
    pub dns_caa_critical: Option<bool>,
    pub dns_caa_other_tags: Option<Vec<String>>,
    pub dns_wildcard_outcome: Option<&'static str>,
    pub dns_wildcard: Option<bool>,
    pub dns_cname_outcome: Option<&'static str>,
    pub dns_cname_chain: Option<Vec<String>>,
    pub dns_cname_chain_length: Option<u32>,
    pub dns_cname_dangling: Option<bool>,
    pub dns_www_cname_outcome: Option<&'static str>,
    pub dns_www_cname_chain: Option<Vec<String>>,
    pub dns_www_cname_chain_length: Option<u32>,
    pub dns_www_cname_dangling: Option<bool>,
}

impl HygieneColumns {
    pub fn new(observation: &HygieneObservation) -> Self {
        let ns = observation.ns_hosts;
        let mx = observation.mx_hosts;
        let mut columns = Self {
            dns_ns_hosts: ns.hosts,
            dns_ns_hosts_with_aaaa: ns.with_aaaa,
            dns_ns_ipv4_networks_24: ns.ipv4_networks_24,
            dns_ns_ipv6_networks_48: ns.ipv6_networks_48,
            dns_mx_hosts: mx.hosts,
            dns_mx_hosts_with_aaaa: mx.with_aaaa,
            dns_caa_outcome: Some(observation.caa.outcome.as_str()),
            dns_wildcard_outcome: Some(observation.wildcard.as_str()),
            dns_wildcard: match observation.wildcard {
                Outcome::Data => Some(true),
                Outcome::NoData | Outcome::NxDomain => Some(false),
                _ => None,
            },
            ..Self::default()
        };
        if observation.caa.outcome == Outcome::Data {
            let policy = parse_caa(&observation.caa.records);
            columns.dns_caa_issue = non_empty(policy.issue);
            columns.dns_caa_issuewild = non_empty(policy.issuewild);
            columns.dns_caa_iodef = non_empty(policy.iodef);
            columns.dns_caa_critical = Some(policy.critical);
            columns.dns_caa_other_tags = non_empty(policy.other_tags);
        }
        (
            columns.dns_cname_outcome,
            columns.dns_cname_chain,
            columns.dns_cname_chain_length,
            columns.dns_cname_dangling,
        ) = chain_columns(&observation.cname);
        (
            columns.dns_www_cname_outcome,
            columns.dns_www_cname_chain,
            columns.dns_www_cname_chain_length,
            columns.dns_www_cname_dangling,
        ) = chain_columns(&observation.www_cname);
        columns
    }
}

type ChainColumns = (
    Option<&'static str>,
    Option<Vec<String>>,
    Option<u32>,
    Option<bool>,
);

fn chain_columns(chain: &CnameChain) -> ChainColumns {
    (
        Some(chain.outcome.as_str()),
        non_empty(chain.targets.clone()),
        chain.length(),
        chain.dangling(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::dns::RecordSet;
    use crate::check::hygiene::{CaaRecord, ChainEnd, HostFacts};

    fn chain(outcome: Outcome, targets: &[&str], end: ChainEnd) -> CnameChain {
        CnameChain {
            outcome,
            targets: targets.iter().map(|target| target.to_string()).collect(),
            end,
        }
    }

    fn observation(failure: bool) -> HygieneObservation {
        let outcome = if failure {
            Outcome::ServFail
        } else {
            Outcome::Data
        };
        let records = match failure {
            true => Vec::new(),
            false => vec![CaaRecord {
                critical: false,
                tag: "issue".to_string(),
                value: ";".to_string(),
            }],
        };
        let facts = HostFacts {
            hosts: Some(2),
            with_aaaa: Some(1),
            ipv4_networks_24: Some(2),
            ipv6_networks_48: Some(1),
        };
        HygieneObservation {
            ns_hosts: if failure { HostFacts::default() } else { facts },
            mx_hosts: HostFacts::default(),
            caa: RecordSet {
                outcome,
                records,
                error: None,
            },
            wildcard: outcome,
            cname: chain(Outcome::NoData, &[], ChainEnd::Exists),
            www_cname: match failure {
                true => chain(
                    Outcome::Data,
                    &["cdn.example.net"],
                    ChainEnd::Failed(Outcome::Timeout),
                ),
                false => chain(Outcome::Data, &["gone.example.net"], ChainEnd::NxDomain),
            },
        }
    }

    #[test]
    fn columns_of_answered_queries() {
        let columns = HygieneColumns::new(&observation(false));
        assert_eq!(columns.dns_ns_hosts, Some(2));
        assert_eq!(columns.dns_ns_ipv4_networks_24, Some(2));
        assert_eq!(columns.dns_caa_outcome, Some("data"));
        assert_eq!(columns.dns_caa_issue, Some(vec![String::new()]));
        assert_eq!(columns.dns_caa_issuewild, None);
        assert_eq!(columns.dns_caa_critical, Some(false));
        assert_eq!(columns.dns_wildcard, Some(true));
        assert_eq!(columns.dns_cname_chain, None);
        assert_eq!(columns.dns_cname_chain_length, Some(0));
        assert_eq!(columns.dns_cname_dangling, Some(false));
        assert_eq!(
            columns.dns_www_cname_chain,
            Some(vec!["gone.example.net".to_string()])
        );
        assert_eq!(columns.dns_www_cname_chain_length, Some(1));
        assert_eq!(columns.dns_www_cname_dangling, Some(true));
    }

    #[test]
    fn failed_queries_give_null_facts() {
        let columns = HygieneColumns::new(&observation(true));
        assert_eq!(columns.dns_ns_hosts, None);
        assert_eq!(columns.dns_ns_hosts_with_aaaa, None);
        assert_eq!(columns.dns_mx_hosts, None);
        assert_eq!(columns.dns_caa_outcome, Some("servfail"));
        assert_eq!(columns.dns_caa_issue, None);
        assert_eq!(columns.dns_caa_critical, None);
        assert_eq!(columns.dns_wildcard_outcome, Some("servfail"));
        assert_eq!(columns.dns_wildcard, None);
        assert_eq!(columns.dns_www_cname_outcome, Some("data"));
        assert_eq!(
            columns.dns_www_cname_chain,
            Some(vec!["cdn.example.net".to_string()])
        );
        assert_eq!(columns.dns_www_cname_chain_length, None);
        assert_eq!(columns.dns_www_cname_dangling, None);
    }
}
