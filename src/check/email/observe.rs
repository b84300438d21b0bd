//! The email check as the scan runs it: SPF analysis and DMARC discovery over the scan's
//! rate-limited resolver.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use hickory_resolver::proto::rr::{Name, RData, RecordType};

use super::dmarc::policy::organizational_domain;
use super::dmarc::{
    self, Discovery, DiscoveryStatus, DmarcDns, DmarcRecord, discover, report_destinations,
};
use super::spf::{Analysis, Lookup, Problem, SpfDns, analyze};
use crate::check::dns::{DnsClient, Outcome, RecordSet, ipv4_address, ipv6_address, txt_string};

/// Presence of an SPF record, as far as DNS could tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    Present,
    Absent,
    /// The TXT query failed (timeout, SERVFAIL), so absence is not known.
    Unknown,
    /// The TXT query failed because the zone's DNSSEC validation is bogus. Set after the
    /// DNSSEC check has run.
    Bogus,
}

impl Presence {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Present => "present",
            Self::Absent => "absent",
            Self::Unknown => "unknown",
            Self::Bogus => "bogus",
        }
    }
}

/// The SPF observations of one domain.
#[derive(Debug, Clone)]
pub struct SpfObservation {
    pub presence: Presence,
    pub analysis: Analysis,
}

/// Analyzes the SPF policy of `name`. Lookups that many domains share, such as a mail
/// provider's include tree, come from the resolver's cache after the first.
pub async fn observe_spf(dns: &DnsClient, name: &str) -> SpfObservation {
    let analysis = analyze(dns, name).await;
    let top_failed = analysis.problems.iter().any(|problem| {
        matches!(problem, Problem::DnsFailure { name: failed, .. } if failed == &analysis.domain)
    });
    let presence = if !analysis.records.is_empty() {
        Presence::Present
    } else if top_failed {
        Presence::Unknown
    } else {
        Presence::Absent
    };
    SpfObservation { presence, analysis }
}

fn lookup<T>(set: RecordSet<T>) -> Lookup<T> {
    match set.outcome {
        Outcome::Data => Lookup::Found(set.records),
        Outcome::NoData => Lookup::NoData,
        Outcome::NxDomain => Lookup::NxDomain,
        outcome => Lookup::Failed(set.error.unwrap_or_else(|| outcome.as_str().to_string())),
    }
}

impl SpfDns for DnsClient {
    async fn txt(&self, name: &str) -> Lookup<String> {
        lookup(self.query(name, RecordType::TXT, txt_string).await)
    }

    async fn a(&self, name: &str) -> Lookup<Ipv4Addr> {
        lookup(self.query(name, RecordType::A, ipv4_address).await)
    }

    async fn aaaa(&self, name: &str) -> Lookup<Ipv6Addr> {
        lookup(self.query(name, RecordType::AAAA, ipv6_address).await)
    }

    /// Returns the exchanges in preference order, as `mx` terms use them.
    async fn mx(&self, name: &str) -> Lookup<String> {
        let set = self
            .query(name, RecordType::MX, |data| match data {
                RData::MX(mx) => Some((mx.preference, mx.exchange.to_ascii())),
                _ => None,
            })
            .await;
        match lookup(set) {
            Lookup::Found(records) => {
                Lookup::Found(records.into_iter().map(|(_, exchange)| exchange).collect())
            }
            Lookup::NoData => Lookup::NoData,
            Lookup::NxDomain => Lookup::NxDomain,
            Lookup::Failed(detail) => Lookup::Failed(detail),
        }
    }

    async fn ptr(&self, ip: IpAddr) -> Lookup<String> {
        let reverse = Name::from(ip).to_ascii();
        let set = self
            .query(&reverse, RecordType::PTR, |data| match data {
                RData::PTR(ptr) => Some(ptr.0.to_ascii()),
                _ => None,
            })
            .await;
        lookup(set)
    }
}

impl DmarcDns for DnsClient {
    async fn txt(&self, name: &str) -> Lookup<String> {
        SpfDns::txt(self, name).await
    }
}

/// Whether a DMARC policy applies to a name, as far as DNS could tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DmarcPresence {
    /// One DMARC record applies (RFC 7489 discovery).
    Present,
    /// Every query succeeded and no record applies.
    Absent,
    /// Several DMARC records at one name: receivers apply none of them.
    MultipleRecords,
    /// A query failed (timeout, SERVFAIL), so whether a record applies is not known.
    Unknown,
    /// A query failed because the name's DNSSEC validation is bogus.
    Bogus,
}

impl DmarcPresence {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Present => "present",
            Self::Absent => "absent",
            Self::MultipleRecords => "multiple_records",
            Self::Unknown => "unknown",
            Self::Bogus => "bogus",
        }
    }
}

/// The DMARC observations of one domain.
#[derive(Debug, Clone)]
pub struct DmarcObservation {
    pub presence: DmarcPresence,
    pub discovery: Discovery,
    /// The record RFC 7489 discovery selected, parsed.
    pub record: Option<DmarcRecord>,
    /// True when the record sits at `_dmarc.<name>` itself, not at the organizational domain.
    pub found_at_name: bool,
    /// Hosts of `rua` and `ruf` addresses outside the record owner's organizational domain.
    pub external_hosts: Vec<String>,
    /// External hosts whose `<domain>._report._dmarc.<host>` query returned no DMARC record,
    /// so that they do not agree to receive the domain's reports (RFC 7489 section 7.1).
    pub unauthorized_hosts: Vec<String>,
}

/// Discovers and parses the DMARC policy of `name`, and checks that external report
/// destinations authorize it.
pub async fn observe_dmarc(dns: &DnsClient, name: &str) -> DmarcObservation {
    let organizational = organizational_domain(name);
    let discovery = discover(dns, name, &organizational).await;
    let method = &discovery.rfc7489;
    let presence = match method.status {
        DiscoveryStatus::Found => DmarcPresence::Present,
        DiscoveryStatus::Absent => DmarcPresence::Absent,
        DiscoveryStatus::MultipleRecords => DmarcPresence::MultipleRecords,
        DiscoveryStatus::Failed => DmarcPresence::Unknown,
    };
    let record = method.record.as_deref().map(dmarc::parse);
    let owner = method.found_at.clone().unwrap_or_else(|| name.to_string());
    let found_at_name = method.found_at.as_deref() == Some(name);

    let mut external_hosts = Vec::new();
    let mut unauthorized_hosts = Vec::new();
    if let Some(record) = &record {
        let mut checked = std::collections::BTreeSet::new();
        for destination in report_destinations(&owner, record) {
            let (Some(host), Some(query)) = (destination.host, destination.authorization_name)
            else {
                continue;
            };
            if !destination.external || !checked.insert(host.clone()) {
                continue;
            }
            external_hosts.push(host.clone());
            match SpfDns::txt(dns, &query).await {
                Lookup::Found(texts) if texts.iter().any(|text| dmarc::is_dmarc_record(text)) => {}
                Lookup::Failed(_) => {}
                _ => unauthorized_hosts.push(host),
            }
        }
    }
    DmarcObservation {
        presence,
        discovery,
        record,
        found_at_name,
        external_hosts,
        unauthorized_hosts,
    }
}
