//! DNS hygiene of a scanned name. It counts the networks of the name servers and the name
//! servers and mail hosts with IPv6 addresses. It also reads the CAA policy at the name
//! (RFC 8659), detects wildcard records below it, and follows the CNAME chains at the name and
//! at `www.<name>`.
//!
//! Every fact keeps the DNS check's rule: a failed query makes the fact unknown (`None`), never
//! "none". CAA is read at the name itself only. The climb to parent domains of RFC 8659
//! section 3 is not done, so a name without CAA records may still be covered by its parent's.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, Ipv6Addr};

use futures::future::join_all;
use hickory_resolver::proto::rr::{RData, RecordType};

use super::dns::{
    DnsClient, DnsObservation, Mx, Outcome, RecordSet, host_name, ipv4_address, ipv6_address,
};

/// CNAME records followed from one name before the chain counts as too long.
pub const MAX_CNAME_HOPS: usize = 8;
/// NS or MX hosts whose addresses are looked up; a larger set gets only its host count.
pub const MAX_HOSTS: usize = 32;

/// Hygiene facts of one name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HygieneObservation {
    pub ns_hosts: HostFacts,
    pub mx_hosts: HostFacts,
    pub caa: RecordSet<CaaRecord>,
    /// Outcome of the A query for a random label below the name.
    pub wildcard: Outcome,
    pub cname: CnameChain,
    pub www_cname: CnameChain,
}

/// Counts over a set of hosts (the NS or the MX hosts). Each count is `None` when a query it
/// needs failed, was not sent, or the set has more than [`MAX_HOSTS`] hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HostFacts {
    /// Distinct host names.
    pub hosts: Option<u32>,
    /// Hosts whose AAAA query returned data.
    pub with_aaaa: Option<u32>,
    /// Distinct IPv4 /24 networks over the hosts' A records.
    pub ipv4_networks_24: Option<u32>,
    /// Distinct IPv6 /48 networks over the hosts' AAAA records.
    pub ipv6_networks_48: Option<u32>,
}

/// The A and AAAA record sets of one host; `ipv4` is `None` when A was not queried.
#[derive(Debug, Clone, PartialEq, Eq)]
struct HostAddresses {
    ipv4: Option<RecordSet<Ipv4Addr>>,
    ipv6: RecordSet<Ipv6Addr>,
}

/// A CNAME chain followed from a start name, one CNAME query per hop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CnameChain {
    /// Outcome of the CNAME query at the start name.
    pub outcome: Outcome,
    /// Alias targets in the order they were followed.
    pub targets: Vec<String>,
    pub end: ChainEnd,
}

/// The end state of a followed CNAME chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChainEnd {
    /// The last name exists and is not an alias: its CNAME query returned no data.
    Exists,
    /// The last name does not exist (NXDOMAIN).
    NxDomain,
    /// A CNAME query failed with this outcome.
    Failed(Outcome),
    /// A target repeats a name of the chain.
    Loop,
    /// The chain has more than [`MAX_CNAME_HOPS`] CNAME records.
    TooLong,
}

impl HygieneObservation {
    /// Marks the SERVFAIL outcomes of queries at and below the name as `bogus`, once the DNSSEC
    /// check has found the name bogus (as `DnsObservation::mark_bogus` does). Every name below
    /// a bogus name is bogus too, in whichever zone it sits.
    pub fn mark_bogus(&mut self) {
        let mark = |outcome: &mut Outcome| {
            if *outcome == Outcome::ServFail {
                *outcome = Outcome::Bogus;
            }
        };
        mark(&mut self.caa.outcome);
        mark(&mut self.wildcard);
        // Only the first query of a chain: its targets may sit in zones that validate.
        mark(&mut self.cname.outcome);
        mark(&mut self.www_cname.outcome);
    }
}

impl CnameChain {
    /// Returns the number of CNAME records from the start name to the end of the chain, when
    /// the chain was followed to its end.
    pub fn length(&self) -> Option<u32> {
        match self.end {
            ChainEnd::Exists | ChainEnd::NxDomain => u32::try_from(self.targets.len()).ok(),
            _ => None,
        }
    }

    /// Returns true when the start name is an alias whose chain ends at a name that does not
    /// exist. A dangling alias lets anyone who registers the missing name serve content under
    /// the start name (subdomain takeover).
    pub fn dangling(&self) -> Option<bool> {
        match self.end {
            ChainEnd::Exists => Some(false),
            ChainEnd::NxDomain => Some(!self.targets.is_empty()),
            _ => None,
        }
    }
}

/// One CAA record (RFC 8659 section 4.1).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct CaaRecord {
    /// The Issuer Critical flag (flags value 128).
    pub critical: bool,
    /// The property tag in lowercase, because RFC 8659 section 4.1 compares tags without
    /// regard to case.
    pub tag: String,
    /// The property value; bytes that are not valid UTF-8 become U+FFFD.
    pub value: String,
}

/// The CAA policy parsed from the CAA records of one name. Lists are sorted and distinct.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CaaPolicy {
    /// Issuer domain names of `issue` records. An empty string is a record without an issuer,
    /// which forbids issuance, or a malformed value, which RFC 8659 section 4.2 treats the
    /// same way.
    pub issue: Vec<String>,
    /// Issuer domain names of `issuewild` records, with the same empty string rule.
    pub issuewild: Vec<String>,
    /// Values of `iodef` records, the URLs where CAs report rejected requests.
    pub iodef: Vec<String>,
    /// True when any record has the Issuer Critical flag.
    pub critical: bool,
    /// Tags other than `issue`, `issuewild` and `iodef`.
    pub other_tags: Vec<String>,
}

/// The queries the hygiene checks send. `DnsClient` implements it, and tests replay recorded
/// responses through it.
pub(crate) trait HygieneDns: Sync {
    async fn cname(&self, name: &str) -> RecordSet<String>;
    async fn a(&self, name: &str) -> RecordSet<Ipv4Addr>;
    async fn aaaa(&self, name: &str) -> RecordSet<Ipv6Addr>;
    async fn caa(&self, name: &str) -> RecordSet<CaaRecord>;
}

impl HygieneDns for DnsClient {
    /// hickory-resolver 0.26 does not follow the alias of a CNAME query. It returns the
    /// server's response, which contains the CNAME record at `name` only.
    async fn cname(&self, name: &str) -> RecordSet<String> {
        self.query(name, RecordType::CNAME, |data| match data {
            RData::CNAME(cname) => Some(host_name(&cname.0.to_ascii())),
            _ => None,
        })
        .await
    }

    async fn a(&self, name: &str) -> RecordSet<Ipv4Addr> {
        self.query(name, RecordType::A, ipv4_address).await
    }

    async fn aaaa(&self, name: &str) -> RecordSet<Ipv6Addr> {
        self.query(name, RecordType::AAAA, ipv6_address).await
    }

    async fn caa(&self, name: &str) -> RecordSet<CaaRecord> {
        self.query(name, RecordType::CAA, caa_record).await
    }
}

/// Runs the DNS check and the hygiene checks of `name`. The probes that need nothing from
/// the DNS check run beside its queries. The NS and MX host lookups follow, because they need
/// its NS and MX records. Name server hosts are shared by many domains, so their addresses
/// mostly come from the resolver's cache.
pub async fn observe(dns: &DnsClient, name: &str) -> (DnsObservation, HygieneObservation) {
    let label = format!("posture-{:016x}", rand::random::<u64>());
    let (observation, probes) = tokio::join!(dns.observe(name), probe(dns, name, &label));
    let (ns_hosts, mx_hosts) = tokio::join!(
        ns_facts(dns, observation.ns.as_ref()),
        mx_facts(dns, observation.mx.as_ref()),
    );
    let hygiene = HygieneObservation {
        ns_hosts,
        mx_hosts,
        ..probes
    };
    (observation, hygiene)
}

/// Sends the probes that need no earlier answer: CAA, the wildcard query for `label.<name>`
/// and both CNAME chains. The host facts of the result are empty.
async fn probe<D: HygieneDns>(dns: &D, name: &str, label: &str) -> HygieneObservation {
    let random_name = format!("{label}.{name}");
    let www = format!("www.{name}");
    let (caa, wildcard, cname, www_cname) = tokio::join!(
        dns.caa(name),
        dns.a(&random_name),
        follow_cnames(dns, name),
        follow_cnames(dns, &www),
    );
    HygieneObservation {
        ns_hosts: HostFacts::default(),
        mx_hosts: HostFacts::default(),
        caa,
        wildcard: wildcard.outcome,
        cname,
        www_cname,
    }
}

/// Follows the CNAME chain from `name` with one CNAME query per name. A resolver's A query
/// follows the chain too, but hickory-resolver 0.26 returns no records with an NXDOMAIN
/// answer, so the chain of a dangling alias would be lost.
async fn follow_cnames<D: HygieneDns>(dns: &D, name: &str) -> CnameChain {
    let first = dns.cname(name).await;
    let outcome = first.outcome;
    let mut targets: Vec<String> = Vec::new();
    let mut answer = first;
    let end = loop {
        match answer.outcome {
            Outcome::Data => {}
            Outcome::NoData => break ChainEnd::Exists,
            Outcome::NxDomain => break ChainEnd::NxDomain,
            failure => break ChainEnd::Failed(failure),
        }
        let Some(target) = answer.records.first().cloned() else {
            break ChainEnd::Exists;
        };
        if target == name || targets.contains(&target) {
            break ChainEnd::Loop;
        }
        if targets.len() == MAX_CNAME_HOPS {
            break ChainEnd::TooLong;
        }
        answer = dns.cname(&target).await;
        targets.push(target);
    };
    CnameChain {
        outcome,
        targets,
        end,
    }
}

async fn ns_facts<D: HygieneDns>(dns: &D, ns: Option<&RecordSet<String>>) -> HostFacts {
    match ns {
        Some(set) if !set.outcome.is_failure() => host_facts(dns, &set.records, true).await,
        _ => HostFacts::default(),
    }
}

/// Looks up the AAAA records of the mail hosts; a null MX (RFC 7505) names no host.
async fn mx_facts<D: HygieneDns>(dns: &D, mx: Option<&RecordSet<Mx>>) -> HostFacts {
    match mx {
        Some(set) if !set.outcome.is_failure() => {
            let hosts: Vec<String> = set
                .records
                .iter()
                .filter(|mx| mx.exchange != ".")
                .map(|mx| mx.exchange.clone())
                .collect();
            host_facts(dns, &hosts, false).await
        }
        _ => HostFacts::default(),
    }
}

/// Queries the AAAA records (and the A records when `with_ipv4`) of every distinct host.
///
/// NOTE: `DnsClient::query` takes a `--dns-qps` token before hickory's cache is consulted,
/// so these lookups slow a scan down even when the cache serves them.
async fn host_facts<D: HygieneDns>(dns: &D, hosts: &[String], with_ipv4: bool) -> HostFacts {
    let distinct: BTreeSet<&str> = hosts.iter().map(String::as_str).collect();
    let count = u32::try_from(distinct.len()).ok();
    if distinct.len() > MAX_HOSTS {
        return HostFacts {
            hosts: count,
            ..HostFacts::default()
        };
    }
    let lookups = join_all(distinct.iter().map(|host| async move {
        let ipv4 = async {
            match with_ipv4 {
                true => Some(dns.a(host).await),
                false => None,
            }
        };
        let (ipv4, ipv6) = tokio::join!(ipv4, dns.aaaa(host));
        HostAddresses { ipv4, ipv6 }
    }))
    .await;
    HostFacts {
        hosts: count,
        ..summarize_addresses(&lookups)
    }
}

/// Counts hosts with IPv6 and distinct networks; each count is `None` when one of the queries
/// it needs failed or was not sent.
fn summarize_addresses(lookups: &[HostAddresses]) -> HostFacts {
    let ipv6_known = lookups.iter().all(|host| !host.ipv6.outcome.is_failure());
    let ipv4_known = lookups.iter().all(|host| {
        host.ipv4
            .as_ref()
            .is_some_and(|set| !set.outcome.is_failure())
    });
    let with_aaaa = lookups
        .iter()
        .filter(|host| host.ipv6.outcome == Outcome::Data)
        .count();
    let networks_48: BTreeSet<[u16; 3]> = lookups
        .iter()
        .flat_map(|host| &host.ipv6.records)
        .map(|address| {
            let segments = address.segments();
            [segments[0], segments[1], segments[2]]
        })
        .collect();
    let networks_24: BTreeSet<[u8; 3]> = lookups
        .iter()
        .flat_map(|host| host.ipv4.iter().flat_map(|set| &set.records))
        .map(|address| {
            let octets = address.octets();
            [octets[0], octets[1], octets[2]]
        })
        .collect();
    let count = |n: usize| u32::try_from(n).ok();
    HostFacts {
        hosts: None,
        with_aaaa: ipv6_known.then(|| count(with_aaaa)).flatten(),
        ipv4_networks_24: ipv4_known.then(|| count(networks_24.len())).flatten(),
        ipv6_networks_48: ipv6_known.then(|| count(networks_48.len())).flatten(),
    }
}

fn caa_record(data: &RData) -> Option<CaaRecord> {
    match data {
        RData::CAA(caa) => Some(CaaRecord {
            critical: caa.issuer_critical,
            tag: caa.tag.to_ascii_lowercase(),
            value: String::from_utf8_lossy(&caa.value).into_owned(),
        }),
        _ => None,
    }
}

/// Parses the CAA records of one name into its policy.
pub fn parse_caa(records: &[CaaRecord]) -> CaaPolicy {
    let mut issue = BTreeSet::new();
    let mut issuewild = BTreeSet::new();
    let mut iodef = BTreeSet::new();
    let mut other_tags = BTreeSet::new();
    for record in records {
        match record.tag.as_str() {
            "issue" => issue.insert(issuer(&record.value)),
            "issuewild" => issuewild.insert(issuer(&record.value)),
            "iodef" => iodef.insert(record.value.clone()),
            tag => other_tags.insert(tag.to_string()),
        };
    }
    CaaPolicy {
        issue: issue.into_iter().collect(),
        issuewild: issuewild.into_iter().collect(),
        iodef: iodef.into_iter().collect(),
        critical: records.iter().any(|record| record.critical),
        other_tags: other_tags.into_iter().collect(),
    }
}

/// Returns the issuer domain name of an `issue` or `issuewild` value in lowercase, or an empty
/// string when there is none or the value does not match the grammar of RFC 8659 section 4.2:
///
/// ```text
/// issue-value = *WSP [issuer-domain-name *WSP] [";" *WSP [parameters *WSP]]
/// parameters  = (parameter *WSP ";" *WSP parameters) / parameter
/// parameter   = parameter-tag *WSP "=" *WSP parameter-value
/// ```
fn issuer(value: &str) -> String {
    let (name, parameters) = match value.split_once(';') {
        Some((name, parameters)) => (name, Some(parameters)),
        None => (value, None),
    };
    let name = name.trim_matches(is_wsp);
    let name_valid = name.is_empty() || name.split('.').all(is_ldh_label);
    let parameters_valid = parameters.is_none_or(|text| {
        let text = text.trim_matches(is_wsp);
        text.is_empty() || text.split(';').all(is_parameter)
    });
    if name_valid && parameters_valid {
        name.to_ascii_lowercase()
    } else {
        String::new()
    }
}

fn is_wsp(character: char) -> bool {
    character == ' ' || character == '\t'
}

/// True for `(ALPHA / DIGIT) *( *("-") (ALPHA / DIGIT))`, the label and parameter-tag rule.
fn is_ldh_label(label: &str) -> bool {
    let bytes = label.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && bytes
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
        }
        _ => false,
    }
}

/// True for `parameter-tag *WSP "=" *WSP parameter-value`, with WSP around it, where a value
/// is `*(%x21-3A / %x3C-7E)`.
fn is_parameter(text: &str) -> bool {
    let Some((tag, value)) = text.split_once('=') else {
        return false;
    };
    let value = value.trim_matches(is_wsp);
    is_ldh_label(tag.trim_matches(is_wsp))
        && value
            .bytes()
            .all(|b| (0x21..=0x3a).contains(&b) || (0x3c..=0x7e).contains(&b))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    /// Answers recorded from a resolver, keyed by (name, record type); a missing entry is
    /// NXDOMAIN.
    #[derive(Default)]
    struct Recorded {
        cname: HashMap<String, RecordSet<String>>,
        a: HashMap<String, RecordSet<Ipv4Addr>>,
        aaaa: HashMap<String, RecordSet<Ipv6Addr>>,
        caa: HashMap<String, RecordSet<CaaRecord>>,
    }

    fn data<T>(records: Vec<T>) -> RecordSet<T> {
        RecordSet {
            outcome: Outcome::Data,
            records,
            error: None,
        }
    }

    fn answer<T>(outcome: Outcome) -> RecordSet<T> {
        RecordSet {
            outcome,
            records: Vec::new(),
            error: None,
        }
    }

    fn replay<T: Clone>(answers: &HashMap<String, RecordSet<T>>, name: &str) -> RecordSet<T> {
        answers
            .get(name)
            .cloned()
            .unwrap_or_else(|| answer(Outcome::NxDomain))
    }

    impl HygieneDns for Recorded {
        async fn cname(&self, name: &str) -> RecordSet<String> {
            replay(&self.cname, name)
        }
        async fn a(&self, name: &str) -> RecordSet<Ipv4Addr> {
            replay(&self.a, name)
        }
        async fn aaaa(&self, name: &str) -> RecordSet<Ipv6Addr> {
            replay(&self.aaaa, name)
        }
        async fn caa(&self, name: &str) -> RecordSet<CaaRecord> {
            replay(&self.caa, name)
        }
    }

    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(future)
    }

    fn alias(dns: &mut Recorded, from: &str, to: &str) {
        dns.cname
            .insert(from.to_string(), data(vec![to.to_string()]));
    }

    fn exists(dns: &mut Recorded, name: &str) {
        dns.cname.insert(name.to_string(), answer(Outcome::NoData));
    }

    #[test]
    fn cname_chain_to_existing_name() {
        let mut dns = Recorded::default();
        alias(&mut dns, "www.example.com", "cdn.example.com");
        alias(&mut dns, "cdn.example.com", "edge.cdn.example");
        exists(&mut dns, "edge.cdn.example");
        let chain = block_on(follow_cnames(&dns, "www.example.com"));
        assert_eq!(chain.outcome, Outcome::Data);
        assert_eq!(chain.targets, ["cdn.example.com", "edge.cdn.example"]);
        assert_eq!(chain.length(), Some(2));
        assert_eq!(chain.dangling(), Some(false));
    }

    #[test]
    fn cname_chain_dangling() {
        let mut dns = Recorded::default();
        alias(&mut dns, "www.example.com", "gone.hosting.example");
        let chain = block_on(follow_cnames(&dns, "www.example.com"));
        assert_eq!(chain.end, ChainEnd::NxDomain);
        assert_eq!(chain.length(), Some(1));
        assert_eq!(chain.dangling(), Some(true));
    }

    #[test]
    fn cname_absent_or_name_missing() {
        let mut dns = Recorded::default();
        exists(&mut dns, "example.com");
        let plain = block_on(follow_cnames(&dns, "example.com"));
        assert_eq!(plain.outcome, Outcome::NoData);
        assert_eq!(plain.length(), Some(0));
        assert_eq!(plain.dangling(), Some(false));

        // A name that does not exist is no alias, so it is not dangling either.
        let missing = block_on(follow_cnames(&dns, "www.example.com"));
        assert_eq!(missing.outcome, Outcome::NxDomain);
        assert_eq!(missing.length(), Some(0));
        assert_eq!(missing.dangling(), Some(false));
    }

    #[test]
    fn cname_failure_is_unknown() {
        let mut dns = Recorded::default();
        alias(&mut dns, "www.example.com", "cdn.example.net");
        dns.cname
            .insert("cdn.example.net".into(), answer(Outcome::ServFail));
        let chain = block_on(follow_cnames(&dns, "www.example.com"));
        assert_eq!(chain.end, ChainEnd::Failed(Outcome::ServFail));
        assert_eq!(chain.targets, ["cdn.example.net"]);
        assert_eq!(chain.length(), None);
        assert_eq!(chain.dangling(), None);

        dns.cname
            .insert("example.com".into(), answer(Outcome::Timeout));
        let first_failed = block_on(follow_cnames(&dns, "example.com"));
        assert_eq!(first_failed.outcome, Outcome::Timeout);
        assert_eq!(first_failed.dangling(), None);
    }

    #[test]
    fn cname_loop_and_long_chain() {
        let mut dns = Recorded::default();
        alias(&mut dns, "a.example", "b.example");
        alias(&mut dns, "b.example", "a.example");
        let looped = block_on(follow_cnames(&dns, "a.example"));
        assert_eq!(looped.end, ChainEnd::Loop);
        assert_eq!(looped.length(), None);
        assert_eq!(looped.dangling(), None);

        for hop in 0..20 {
            alias(
                &mut dns,
                &format!("h{hop}.example"),
                &format!("h{}.example", hop + 1),
            );
        }
        let long = block_on(follow_cnames(&dns, "h0.example"));
        assert_eq!(long.end, ChainEnd::TooLong);
        assert_eq!(long.targets.len(), MAX_CNAME_HOPS);
        assert_eq!(long.length(), None);
    }

    fn records<T>(list: &[&str]) -> Vec<T>
    where
        T: std::str::FromStr,
        T::Err: std::fmt::Debug,
    {
        list.iter().map(|text| text.parse().unwrap()).collect()
    }

    fn ns_set(hosts: &[&str]) -> RecordSet<String> {
        data(hosts.iter().map(|host| host.to_string()).collect())
    }

    #[test]
    fn name_servers_in_two_networks() {
        let mut dns = Recorded::default();
        dns.a
            .insert("ns1.example.net".into(), data(records(&["192.0.2.1"])));
        dns.a
            .insert("ns2.example.net".into(), data(records(&["192.0.2.77"])));
        dns.a.insert(
            "ns3.example.org".into(),
            data(records(&["198.51.100.5", "192.0.2.9"])),
        );
        dns.aaaa
            .insert("ns1.example.net".into(), answer(Outcome::NoData));
        dns.aaaa
            .insert("ns2.example.net".into(), data(records(&["2001:db8:1::53"])));
        dns.aaaa.insert(
            "ns3.example.org".into(),
            data(records(&["2001:db8:1:ff::53", "2001:db8:2::53"])),
        );
        let ns = ns_set(&["ns1.example.net", "ns2.example.net", "ns3.example.org"]);
        let facts = block_on(ns_facts(&dns, Some(&ns)));
        assert_eq!(facts.hosts, Some(3));
        assert_eq!(facts.with_aaaa, Some(2));
        assert_eq!(facts.ipv4_networks_24, Some(2));
        assert_eq!(facts.ipv6_networks_48, Some(2));
    }

    #[test]
    fn failed_host_lookup_is_unknown() {
        let mut dns = Recorded::default();
        dns.a
            .insert("ns1.example.net".into(), data(records(&["192.0.2.1"])));
        dns.a
            .insert("ns2.example.net".into(), answer(Outcome::Timeout));
        dns.aaaa
            .insert("ns1.example.net".into(), answer(Outcome::NoData));
        dns.aaaa
            .insert("ns2.example.net".into(), answer(Outcome::NoData));
        let ns = ns_set(&["ns1.example.net", "ns2.example.net"]);
        let facts = block_on(ns_facts(&dns, Some(&ns)));
        assert_eq!(facts.hosts, Some(2));
        assert_eq!(facts.ipv4_networks_24, None);
        // The AAAA queries all answered, so IPv6 counts stay known.
        assert_eq!(facts.with_aaaa, Some(0));
        assert_eq!(facts.ipv6_networks_48, Some(0));
    }

    #[test]
    fn failed_ns_query_is_unknown() {
        let dns = Recorded::default();
        let failed = answer(Outcome::ServFail);
        assert_eq!(
            block_on(ns_facts(&dns, Some(&failed))),
            HostFacts::default()
        );
        let empty = answer(Outcome::NoData);
        let facts = block_on(ns_facts(&dns, Some(&empty)));
        assert_eq!(facts.hosts, Some(0));
        assert_eq!(facts.ipv4_networks_24, Some(0));
        assert_eq!(facts.with_aaaa, Some(0));
    }

    #[test]
    fn mail_hosts_with_aaaa() {
        let mut dns = Recorded::default();
        dns.aaaa
            .insert("mx1.example.net".into(), answer(Outcome::NoData));
        dns.aaaa
            .insert("mx2.example.net".into(), data(records(&["2001:db8::25"])));
        let mx = |preference, exchange: &str| Mx {
            preference,
            exchange: exchange.to_string(),
        };
        let set = data(vec![
            mx(10, "mx1.example.net"),
            mx(20, "mx2.example.net"),
            mx(30, "mx2.example.net"),
        ]);
        let facts = block_on(mx_facts(&dns, Some(&set)));
        assert_eq!(facts.hosts, Some(2));
        assert_eq!(facts.with_aaaa, Some(1));
        // A records of mail hosts are not queried.
        assert_eq!(facts.ipv4_networks_24, None);

        let null_mx = data(vec![mx(0, ".")]);
        let facts = block_on(mx_facts(&dns, Some(&null_mx)));
        assert_eq!(facts.hosts, Some(0));
        assert_eq!(facts.with_aaaa, Some(0));
    }

    #[test]
    fn too_many_hosts_get_only_a_count() {
        let dns = Recorded::default();
        let hosts: Vec<String> = (0..40).map(|i| format!("ns{i}.example.net")).collect();
        let facts = block_on(host_facts(&dns, &hosts, true));
        assert_eq!(facts.hosts, Some(40));
        assert_eq!(facts.with_aaaa, None);
    }

    fn caa(critical: bool, tag: &str, value: &str) -> CaaRecord {
        CaaRecord {
            critical,
            tag: tag.to_string(),
            value: value.to_string(),
        }
    }

    #[test]
    fn caa_policy_parsed() {
        let policy = parse_caa(&[
            caa(false, "issue", "Letsencrypt.org"),
            caa(false, "issue", "ca.example.net; account=230123"),
            caa(false, "issuewild", ";"),
            caa(false, "iodef", "mailto:security@example.com"),
            caa(true, "contactemail", "security@example.com"),
        ]);
        assert_eq!(policy.issue, ["ca.example.net", "letsencrypt.org"]);
        assert_eq!(policy.issuewild, [""]);
        assert_eq!(policy.iodef, ["mailto:security@example.com"]);
        assert!(policy.critical);
        assert_eq!(policy.other_tags, ["contactemail"]);
    }

    #[test]
    fn caa_issuer_grammar() {
        let cases = [
            ("ca.example.net", "ca.example.net"),
            ("  ca.example.net  ", "ca.example.net"),
            ("ca.example.net;", "ca.example.net"),
            ("ca.example.net; account=1; policy = ev", "ca.example.net"),
            (";", ""),
            ("", ""),
            // Malformed values forbid issuance like an empty issuer (RFC 8659 section 4.2).
            ("%%%%%", ""),
            ("ca.example.net; account", ""),
            ("ca.example.net; a=b;;", ""),
            ("ca..example.net", ""),
            ("-ca.example.net", ""),
            ("ca.example.net; note=two words", ""),
        ];
        for (value, expected) in cases {
            assert_eq!(issuer(value), expected, "value {value:?}");
        }
    }

    #[test]
    fn caa_record_from_rdata() {
        use hickory_resolver::proto::rr::rdata::CAA;
        let mut rdata = CAA::new_issue(true, None, Vec::new());
        rdata.tag = "ISSUE".to_string();
        let record = caa_record(&RData::CAA(rdata)).unwrap();
        assert!(record.critical);
        assert_eq!(record.tag, "issue");
        assert_eq!(record.value, ";");
    }

    #[test]
    fn probe_sees_wildcard_and_caa() {
        let mut dns = Recorded::default();
        dns.a.insert(
            "posture-1.example.com".into(),
            data(records(&["192.0.2.80"])),
        );
        dns.caa.insert(
            "example.com".into(),
            data(vec![caa(false, "issue", "ca.example.net")]),
        );
        exists(&mut dns, "example.com");
        let observed = block_on(probe(&dns, "example.com", "posture-1"));
        assert_eq!(observed.wildcard, Outcome::Data);
        assert_eq!(observed.caa.records.len(), 1);
        assert_eq!(observed.cname.length(), Some(0));
        assert_eq!(observed.www_cname.outcome, Outcome::NxDomain);
    }
}
