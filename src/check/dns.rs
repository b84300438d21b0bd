//! DNS records at the scanned name: A, AAAA, NS, MX and TXT.
//!
//! Every query ends in one of seven outcomes, and the failures stay apart from the responses
//! that state a record is absent. `no_data` and `nxdomain` come only from a response with that
//! meaning (RFC 2308), never from a timeout or a SERVFAIL. Timeouts and transport errors are retried
//! with exponential back-off, and a SERVFAIL once, before the outcome is final.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use hickory_resolver::config::ProtocolConfig;
use hickory_resolver::net::NetError;
use hickory_resolver::proto::op::{Message, ResponseCode};
use hickory_resolver::proto::rr::{DNSClass, Name, RData, Record, RecordType};
use tokio::sync::Semaphore;
use tokio::time::Instant;

use super::stub::{Failure, Stub};

/// Outcome of one query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Data,
    NoData,
    NxDomain,
    ServFail,
    Refused,
    Timeout,
    Error,
    /// SERVFAIL from a validating resolver for a name whose DNSSEC state is bogus: the records
    /// exist but failed validation. Set after the DNSSEC check has run.
    Bogus,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Data => "data",
            Self::NoData => "no_data",
            Self::NxDomain => "nxdomain",
            Self::ServFail => "servfail",
            Self::Refused => "refused",
            Self::Timeout => "timeout",
            Self::Error => "error",
            Self::Bogus => "bogus",
        }
    }

    /// True when the resolver could not say whether records exist.
    pub fn is_failure(self) -> bool {
        !matches!(self, Self::Data | Self::NoData | Self::NxDomain)
    }
}

/// The records of one type at one name, with the outcome that produced them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordSet<T> {
    pub outcome: Outcome,
    pub records: Vec<T>,
    pub error: Option<String>,
}

impl<T> RecordSet<T> {
    fn failed(outcome: Outcome, error: Option<String>) -> Self {
        Self {
            outcome,
            records: Vec::new(),
            error,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Mx {
    pub preference: u16,
    /// Lowercase host name without the trailing dot; `.` for a null MX (RFC 7505).
    pub exchange: String,
}

/// The DNS check's observations of one name; a record type that was not queried is `None`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DnsObservation {
    pub a: Option<RecordSet<Ipv4Addr>>,
    pub aaaa: Option<RecordSet<Ipv6Addr>>,
    pub ns: Option<RecordSet<String>>,
    pub mx: Option<RecordSet<Mx>>,
    pub txt: Option<RecordSet<String>>,
}

impl DnsObservation {
    /// Returns the first error detail among the queries, for the row's `dns_error`.
    pub fn first_error(&self) -> Option<&str> {
        let errors = [
            self.a.as_ref().and_then(|set| set.error.as_deref()),
            self.aaaa.as_ref().and_then(|set| set.error.as_deref()),
            self.ns.as_ref().and_then(|set| set.error.as_deref()),
            self.mx.as_ref().and_then(|set| set.error.as_deref()),
            self.txt.as_ref().and_then(|set| set.error.as_deref()),
        ];
        errors.into_iter().flatten().next()
    }

    /// Addresses in the order web checks try them: IPv4 first.
    pub fn addresses(&self) -> Vec<IpAddr> {
        let v4 = self
            .a
            .iter()
            .flat_map(|set| set.records.iter().copied().map(IpAddr::V4));
        let v6 = self
            .aaaa
            .iter()
            .flat_map(|set| set.records.iter().copied().map(IpAddr::V6));
        v4.chain(v6).collect()
    }

    /// Marks the failed queries as caused by a bogus DNSSEC validation, once the DNSSEC check
    /// has found the name bogus: a validating resolver returns SERVFAIL for bogus data.
    pub fn mark_bogus(&mut self, reason: &str) {
        fn mark<T>(set: &mut Option<RecordSet<T>>, reason: &str) {
            if let Some(set) = set
                && set.outcome == Outcome::ServFail
            {
                set.outcome = Outcome::Bogus;
                set.error = Some(format!("DNSSEC validation failed ({reason})"));
            }
        }
        mark(&mut self.a, reason);
        mark(&mut self.aaaa, reason);
        mark(&mut self.ns, reason);
        mark(&mut self.mx, reason);
        mark(&mut self.txt, reason);
    }

    /// True when the address queries failed DNSSEC validation.
    pub fn address_lookup_bogus(&self) -> bool {
        let bogus = |outcome: Option<Outcome>| outcome == Some(Outcome::Bogus);
        bogus(self.a.as_ref().map(|set| set.outcome))
            || bogus(self.aaaa.as_ref().map(|set| set.outcome))
    }

    /// True when an address query failed, so that the absence of addresses is not known.
    pub fn address_lookup_failed(&self) -> bool {
        let failed = |outcome: Option<Outcome>| outcome.is_some_and(Outcome::is_failure);
        failed(self.a.as_ref().map(|set| set.outcome))
            || failed(self.aaaa.as_ref().map(|set| set.outcome))
    }
}

/// Settings of the DNS client.
#[derive(Debug, Clone)]
pub struct DnsSettings {
    /// Resolvers to query; empty means the system's, from /etc/resolv.conf.
    pub resolvers: Vec<SocketAddr>,
    pub timeout: Duration,
    /// Queries per second over all resolvers.
    pub queries_per_second: NonZeroU32,
    /// Tries of a query that times out or fails in transport, the first included.
    pub attempts: u32,
    /// Maximum number of queries sent and still waiting for a response, over all resolvers.
    pub max_in_flight: usize,
}

/// The default of `DnsSettings::max_in_flight`. A resolver works on a bounded number of
/// queries at once and drops new ones past it: Unbound 1.17 serves 512 or 1,024 per thread
/// by default (`num-queries-per-thread`, unbound.conf(5)). A dropped query costs posture a
/// timeout and a retry, so sending past that limit lowers the rate of responses. 500 stays
/// under it with one resolver thread.
pub const MAX_IN_FLIGHT: usize = 500;

/// Answers kept for names that many domains share, such as a mail provider's SPF include
/// tree and name servers. Most names of a scan are queried once, so a few thousand entries
/// hold what repeats, and a larger cache only costs memory.
pub const CACHE_ENTRIES: usize = 4_096;

/// Longest time an answer is reused, whatever its TTL.
const CACHE_TTL_LIMIT: Duration = Duration::from_secs(86_400);

/// The result of one name and record type, as the cache keeps it: the outcome, and on
/// NOERROR the records of that type at the name or at the end of its CNAME chain.
#[derive(Debug)]
struct Answer {
    outcome: Outcome,
    records: Vec<RData>,
    error: Option<String>,
    /// When the lookup ended. Queries that were waiting for it take it, whatever its TTL.
    created: Instant,
    /// Until when later queries take it: the TTL for answers, at once for failures.
    expires: Instant,
}

type CacheKey = (String, RecordType);

/// A rate-limited stub resolver shared by all checks.
pub struct DnsClient {
    stub: Stub,
    cache: quick_cache::sync::Cache<CacheKey, Arc<Answer>>,
    limiter: DefaultDirectRateLimiter,
    /// One permit per query that may wait for its response at the same time.
    in_flight: Semaphore,
    attempts: u32,
}

impl DnsClient {
    pub fn new(settings: &DnsSettings) -> Result<Self, NetError> {
        let resolvers = if settings.resolvers.is_empty() {
            let (config, _) = hickory_resolver::system_conf::read_system_conf()?;
            config
                .name_servers()
                .iter()
                .map(|server| {
                    let port = server
                        .connections
                        .iter()
                        .find(|c| matches!(c.protocol, ProtocolConfig::Udp))
                        .map_or(53, |c| c.port);
                    SocketAddr::new(server.ip, port)
                })
                .collect()
        } else {
            settings.resolvers.clone()
        };
        if resolvers.is_empty() {
            return Err(NetError::from("no resolver is configured"));
        }
        Ok(Self {
            stub: Stub::new(resolvers, settings.timeout),
            cache: quick_cache::sync::Cache::new(CACHE_ENTRIES),
            limiter: RateLimiter::direct(Quota::per_second(settings.queries_per_second)),
            in_flight: Semaphore::new(settings.max_in_flight.max(1)),
            attempts: settings.attempts.max(1),
        })
    }

    /// Queries A and AAAA only, for checks that need addresses without the DNS check.
    pub async fn observe_addresses(&self, name: &str) -> DnsObservation {
        let (a, aaaa) = tokio::join!(
            self.query(name, RecordType::A, ipv4_address),
            self.query(name, RecordType::AAAA, ipv6_address),
        );
        DnsObservation {
            a: Some(a),
            aaaa: Some(aaaa),
            ..DnsObservation::default()
        }
    }

    /// Queries the five record types of the DNS check at once.
    pub async fn observe(&self, name: &str) -> DnsObservation {
        let (a, aaaa, ns, mx, txt) = tokio::join!(
            self.query(name, RecordType::A, ipv4_address),
            self.query(name, RecordType::AAAA, ipv6_address),
            self.query(name, RecordType::NS, |data| match data {
                RData::NS(ns) => Some(host_name(&ns.0.to_ascii())),
                _ => None,
            }),
            self.query(name, RecordType::MX, |data| match data {
                RData::MX(mx) => Some(Mx {
                    preference: mx.preference,
                    exchange: host_name(&mx.exchange.to_ascii()),
                }),
                _ => None,
            }),
            self.query(name, RecordType::TXT, txt_string),
        );
        DnsObservation {
            a: Some(a),
            aaaa: Some(aaaa),
            ns: Some(ns),
            mx: Some(mx),
            txt: Some(txt),
        }
    }

    /// Queries one record type, keeping the records `extract` accepts, sorted.
    pub async fn query<T: Ord>(
        &self,
        name: &str,
        record_type: RecordType,
        extract: impl Fn(&RData) -> Option<T>,
    ) -> RecordSet<T> {
        let answer = self.answer(name, record_type).await;
        if answer.outcome != Outcome::Data {
            return RecordSet::failed(answer.outcome, answer.error.clone());
        }
        let mut records: Vec<T> = answer.records.iter().filter_map(extract).collect();
        records.sort();
        records.dedup();
        let outcome = if records.is_empty() {
            Outcome::NoData
        } else {
            Outcome::Data
        };
        RecordSet {
            outcome,
            records,
            error: None,
        }
    }

    /// Returns the answer for a name and type: from the cache while it is fresh, else from the
    /// resolver. Queries for the same name and type at the same time share one lookup.
    /// `Outcome::Data` here means NOERROR; the caller decides whether records remain.
    async fn answer(&self, name: &str, record_type: RecordType) -> Arc<Answer> {
        let key = (name.trim_end_matches('.').to_ascii_lowercase(), record_type);
        let requested = Instant::now();
        loop {
            match self.cache.get_value_or_guard_async(&key).await {
                Ok(answer) if answer.created >= requested || answer.expires > Instant::now() => {
                    return answer;
                }
                Ok(stale) => {
                    self.cache
                        .remove_if(&key, |current| Arc::ptr_eq(current, &stale));
                }
                Err(guard) => {
                    let answer = Arc::new(self.resolve(name, record_type).await);
                    // Fails only when the entry was replaced meanwhile, and then this answer is
                    // returned all the same.
                    let _ = guard.insert(answer.clone());
                    return answer;
                }
            }
        }
    }

    /// Asks the resolver, retrying timeouts and transport errors with back-off and a
    /// SERVFAIL once.
    async fn resolve(&self, name: &str, record_type: RecordType) -> Answer {
        // A trailing dot makes the name fully qualified, so no search domain is ever appended.
        let fqdn = format!("{}.", name.trim_end_matches('.'));
        let name = match Name::from_utf8(&fqdn) {
            Ok(name) => name,
            Err(error) => {
                return Answer::failed(Outcome::Error, format!("invalid name {fqdn}: {error}"));
            }
        };
        let mut servfail_retried = false;
        // The last failure that came back as a response (SERVFAIL or a malformed message). It
        // is reported in place of a later timeout, because a loaded server may drop a retry.
        let mut answered_failure: Option<(Outcome, String)> = None;
        let first_resolver = self.stub.first_resolver();
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.limiter.until_ready().await;
            // The permit is held while the query waits for its response, and not during the
            // back-off before a retry.
            let exchanged = {
                let _permit = self.in_flight.acquire().await.expect("never closed");
                let resolver = first_resolver.wrapping_add(attempt as usize - 1);
                self.stub.exchange(resolver, &name, record_type).await
            };
            let (outcome, detail) = match exchanged {
                Ok(response) => match Answer::from_response(&response, &name, record_type) {
                    Ok(answer) => return answer,
                    Err(failed) => failed,
                },
                Err(Failure::Timeout) => (Outcome::Timeout, Failure::Timeout.to_string()),
                Err(Failure::Error(detail)) => (Outcome::Error, detail),
            };
            let retry = match outcome {
                Outcome::Timeout | Outcome::Error => attempt < self.attempts,
                Outcome::ServFail => !std::mem::replace(&mut servfail_retried, true),
                _ => false,
            };
            if !retry {
                if outcome == Outcome::Timeout
                    && let Some((answered, detail)) = answered_failure
                {
                    return Answer::failed(answered, detail);
                }
                return Answer::failed(outcome, detail);
            }
            tracing::debug!(%name, %record_type, error = %detail, attempt, "DNS query failed, retrying");
            if outcome != Outcome::Timeout {
                answered_failure = Some((outcome, detail));
            }
            tokio::time::sleep(Duration::from_millis(200) * 2u32.pow(attempt - 1)).await;
        }
    }
}

impl Answer {
    fn failed(outcome: Outcome, detail: String) -> Self {
        let now = Instant::now();
        Self {
            outcome,
            records: Vec::new(),
            error: outcome.is_failure().then_some(detail),
            created: now,
            expires: now,
        }
    }

    /// Reads a response. NOERROR becomes an answer, kept for the records' smallest TTL.
    /// NXDOMAIN becomes an answer without records, kept for the SOA's negative TTL (RFC
    /// 2308), unless its CNAME chain contains records of the requested type. Any other code
    /// becomes a failure with its outcome and detail.
    fn from_response(
        response: &Message,
        name: &Name,
        record_type: RecordType,
    ) -> Result<Self, (Outcome, String)> {
        let code = response.metadata.response_code;
        let outcome = match code {
            ResponseCode::NoError => Outcome::Data,
            ResponseCode::NXDomain => Outcome::NxDomain,
            code => {
                return Err((
                    response_code_outcome(code),
                    format!("the resolver answered {code}"),
                ));
            }
        };

        let records = records_at(response, name, record_type);
        // With a CNAME chain in the answer, the RCODE describes the chain's last name (RFC
        // 6604 section 2.1), so the alias itself is data. The world's scan test received
        // such a response to a CNAME query for a `www` alias of a missing name. hickory-resolver
        // reads these responses the same way.
        let outcome = if records.is_empty() {
            outcome
        } else {
            Outcome::Data
        };

        let ttl = if records.is_empty() {
            negative_ttl(response)
        } else {
            records.iter().map(|(ttl, _)| *ttl).min()
        };
        let lifetime = ttl.map_or(Duration::ZERO, |ttl| {
            Duration::from_secs(u64::from(ttl)).min(CACHE_TTL_LIMIT)
        });
        let now = Instant::now();
        Ok(Self {
            outcome,
            records: records.into_iter().map(|(_, data)| data).collect(),
            error: None,
            created: now,
            expires: now + lifetime,
        })
    }
}

/// Returns the records of `record_type` in the answer section, with their TTLs, owned by
/// `name` or by the name its CNAME chain in that section ends at. The resolver follows the
/// chain, so a chain that loops or ends without such records yields none (no data).
fn records_at(response: &Message, name: &Name, record_type: RecordType) -> Vec<(u32, RData)> {
    let in_class = |record: &&Record| record.dns_class == DNSClass::IN;
    let mut owner = name.clone();
    let mut chain_ttl = u32::MAX;
    if !matches!(record_type, RecordType::CNAME | RecordType::ANY) {
        // At most one step per record, so a loop ends.
        for _ in 0..response.answers.len() {
            let next = response
                .answers
                .iter()
                .filter(in_class)
                .find_map(|r| match &r.data {
                    RData::CNAME(target) if r.name == owner => Some((r.ttl, target.0.clone())),
                    _ => None,
                });
            let Some((ttl, target)) = next else { break };
            chain_ttl = chain_ttl.min(ttl);
            owner = target;
        }
    }
    response
        .answers
        .iter()
        .filter(in_class)
        .filter(|r| r.record_type() == record_type && (r.name == owner || r.name == *name))
        .map(|r| (r.ttl.min(chain_ttl), r.data.clone()))
        .collect()
}

/// Returns the negative TTL of a response (RFC 2308 section 5): the smaller of the SOA
/// record's TTL and its MINIMUM field, or none without an SOA in the authority section.
fn negative_ttl(response: &Message) -> Option<u32> {
    response.authorities.iter().find_map(|r| match &r.data {
        RData::SOA(soa) => Some(r.ttl.min(soa.minimum)),
        _ => None,
    })
}

pub(crate) fn ipv4_address(data: &RData) -> Option<Ipv4Addr> {
    match data {
        RData::A(a) => Some(a.0),
        _ => None,
    }
}

pub(crate) fn ipv6_address(data: &RData) -> Option<Ipv6Addr> {
    match data {
        RData::AAAA(aaaa) => Some(aaaa.0),
        _ => None,
    }
}

/// Returns one TXT record's strings joined.
pub(crate) fn txt_string(data: &RData) -> Option<String> {
    match data {
        RData::TXT(txt) => Some(join_strings(&txt.txt_data)),
        _ => None,
    }
}

/// Maps a resolver error to the outcome it stands for.
fn response_code_outcome(code: ResponseCode) -> Outcome {
    match code {
        ResponseCode::ServFail => Outcome::ServFail,
        ResponseCode::Refused => Outcome::Refused,
        _ => Outcome::Error,
    }
}

/// Lowercases a host name and removes the trailing dot, keeping `.` for the root.
pub(crate) fn host_name(name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    match lower.strip_suffix('.') {
        Some("") | None => lower,
        Some(stripped) => stripped.to_string(),
    }
}

/// Joins the character-strings of one TXT record (RFC 7208 section 3.3 reads them this way).
fn join_strings(strings: &[Box<[u8]>]) -> String {
    let bytes: Vec<u8> = strings.iter().flat_map(|s| s.iter().copied()).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Parses `ADDRESS` or `ADDRESS:PORT` (IPv6 as `[ADDRESS]` or `[ADDRESS]:PORT`), port 53 by
/// default. Port 0, the unspecified addresses (`0.0.0.0`, `::`, also IPv4-mapped), multicast
/// and broadcast addresses are rejected: no single resolver listens there, and Linux would
/// deliver queries to the unspecified address to the local host.
pub fn parse_resolver(text: &str) -> Result<SocketAddr, String> {
    let unbracketed = text
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .filter(|inner| inner.contains(':'));
    let address = match unbracketed.unwrap_or(text).parse::<IpAddr>() {
        Ok(address) => SocketAddr::new(address, 53),
        Err(_) => text.parse::<SocketAddr>().map_err(|_| {
            format!(
                "invalid resolver {text:?}: expected an IP address, ADDRESS:PORT, [IPv6] or \
                 [IPv6]:PORT"
            )
        })?,
    };
    if address.port() == 0 {
        return Err(format!(
            "invalid resolver {text:?}: port 0 is not a port a resolver can use"
        ));
    }
    // Queries to an IPv4-mapped IPv6 address go to the IPv4 address inside it.
    let ip = match address.ip() {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        ip => ip,
    };
    if ip.is_unspecified() {
        return Err(format!(
            "invalid resolver {text:?}: {} is the unspecified address, not a resolver's",
            address.ip()
        ));
    }
    if ip.is_multicast() || ip == IpAddr::V4(std::net::Ipv4Addr::BROADCAST) {
        return Err(format!(
            "invalid resolver {text:?}: {} is a multicast or broadcast address, not a resolver's",
            address.ip()
        ));
    }
    Ok(address)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::stub::tests::nxdomain;

    #[test]
    fn bogus_marks_only_failed_queries() {
        let mut observation = DnsObservation {
            a: Some(RecordSet::failed(Outcome::ServFail, None)),
            aaaa: Some(RecordSet::failed(
                Outcome::Timeout,
                Some("timed out".into()),
            )),
            txt: Some(RecordSet::failed(Outcome::NxDomain, None)),
            ..DnsObservation::default()
        };
        assert!(!observation.address_lookup_bogus());
        observation.mark_bogus("signature_expired");
        let a = observation.a.as_ref().unwrap();
        assert_eq!(a.outcome, Outcome::Bogus);
        assert_eq!(
            a.error.as_deref(),
            Some("DNSSEC validation failed (signature_expired)")
        );
        // A timeout may have another cause, and NXDOMAIN is a valid response.
        assert_eq!(observation.aaaa.as_ref().unwrap().outcome, Outcome::Timeout);
        assert_eq!(observation.txt.as_ref().unwrap().outcome, Outcome::NxDomain);
        assert!(observation.address_lookup_bogus());
        assert!(observation.address_lookup_failed());
    }

    #[test]
    fn host_name_keeps_root() {
        assert_eq!(host_name("."), ".");
        assert_eq!(host_name("MX1.Example.COM."), "mx1.example.com");
    }

    #[test]
    fn txt_strings_are_joined() {
        let strings: Vec<Box<[u8]>> = vec![b"v=spf1 ".to_vec().into(), b"-all".to_vec().into()];
        assert_eq!(join_strings(&strings), "v=spf1 -all");
    }

    #[test]
    fn resolver_addresses() {
        assert_eq!(
            parse_resolver("127.0.0.53").unwrap().to_string(),
            "127.0.0.53:53"
        );
        assert_eq!(parse_resolver("127.0.0.1:5353").unwrap().port(), 5353);
        assert_eq!(parse_resolver("[::1]:53").unwrap().ip().to_string(), "::1");
        assert_eq!(parse_resolver("::1").unwrap().port(), 53);
        assert_eq!(parse_resolver("[::1]").unwrap().to_string(), "[::1]:53");
        assert!(parse_resolver("dns.example").is_err());
        assert!(parse_resolver("[127.0.0.1]").is_err());
        assert!(
            parse_resolver("127.0.0.1:0")
                .unwrap_err()
                .contains("port 0")
        );
        assert!(parse_resolver("[::1]:0").is_err());
        assert!(
            parse_resolver("0.0.0.0")
                .unwrap_err()
                .contains("unspecified")
        );
        assert!(parse_resolver("[::]:53").is_err());
        assert!(
            parse_resolver("[::ffff:0.0.0.0]:53")
                .unwrap_err()
                .contains("unspecified")
        );
        assert_eq!(
            parse_resolver("[::ffff:127.0.0.1]").unwrap().port(),
            53,
            "a mapped loopback address is a resolver's"
        );
        assert!(
            parse_resolver("224.0.0.1")
                .unwrap_err()
                .contains("multicast")
        );
        assert!(parse_resolver("255.255.255.255").is_err());
        assert!(parse_resolver("[ff02::1]:53").is_err());
    }

    /// Returns settings for `server` alone, with one try per query and a 30 s timeout.
    fn settings(server: &tokio::net::UdpSocket, max_in_flight: usize) -> DnsSettings {
        DnsSettings {
            resolvers: vec![server.local_addr().unwrap()],
            timeout: Duration::from_secs(30),
            queries_per_second: NonZeroU32::new(10_000).unwrap(),
            attempts: 1,
            max_in_flight,
        }
    }

    /// Returns a client of `server` with the settings above.
    fn client(server: &tokio::net::UdpSocket, max_in_flight: usize) -> DnsClient {
        DnsClient::new(&settings(server, max_in_flight)).unwrap()
    }

    #[tokio::test]
    async fn queries_in_flight_stay_under_the_limit() {
        let server = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let dns = client(&server, 2);

        let names: Vec<String> = (0..6).map(|i| format!("n{i}.example")).collect();
        let queries = futures::future::join_all(
            names
                .iter()
                .map(|name| dns.query(name, RecordType::TXT, txt_string)),
        );
        // The server keeps every query it receives and responds to the oldest one only after
        // half a second without a new datagram. Without the limit, all six would wait at
        // once. hickory sends a query again, with the same bytes, when no response comes
        // within a third of a second, and such copies count once.
        let serve = async {
            let mut held: Vec<(Vec<u8>, std::net::SocketAddr)> = Vec::new();
            let mut answered: Vec<Vec<u8>> = Vec::new();
            let mut max_held = 0;
            let mut buffer = [0u8; 1232];
            while answered.len() < names.len() {
                let wait = Duration::from_millis(500);
                while let Ok(received) =
                    tokio::time::timeout(wait, server.recv_from(&mut buffer)).await
                {
                    let (length, from) = received.unwrap();
                    let query = buffer[..length].to_vec();
                    if answered.contains(&query) {
                        continue;
                    }
                    match held.iter_mut().find(|(bytes, _)| *bytes == query) {
                        Some(copy) => copy.1 = from,
                        None => held.push((query, from)),
                    }
                }
                max_held = max_held.max(held.len());
                if held.is_empty() {
                    continue;
                }
                let (query, from) = held.remove(0);
                server.send_to(&nxdomain(&query), from).await.unwrap();
                answered.push(query);
            }
            max_held
        };

        let (sets, max_held) = tokio::join!(queries, serve);
        assert_eq!(max_held, 2);
        let outcomes: Vec<Outcome> = sets.iter().map(|set| set.outcome).collect();
        assert_eq!(outcomes, [Outcome::NxDomain; 6]);
    }

    #[tokio::test]
    async fn retry_goes_to_next_resolver() {
        let silent = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let server = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let dns = DnsClient::new(&DnsSettings {
            resolvers: vec![silent.local_addr().unwrap(), server.local_addr().unwrap()],
            attempts: 2,
            timeout: Duration::from_millis(300),
            ..settings(&server, 100)
        })
        .unwrap();
        let names: Vec<String> = (0..16).map(|i| format!("n{i}.example")).collect();
        let queries = futures::future::join_all(
            names
                .iter()
                .map(|name| dns.query(name, RecordType::TXT, txt_string)),
        );
        // The second resolver answers every query with NXDOMAIN, the first never answers.
        let serve = async {
            let mut buffer = [0u8; 1232];
            let wait = Duration::from_secs(2);
            while let Ok(received) = tokio::time::timeout(wait, server.recv_from(&mut buffer)).await
            {
                let (length, from) = received.unwrap();
                server
                    .send_to(&nxdomain(&buffer[..length]), from)
                    .await
                    .unwrap();
            }
        };
        let (sets, ()) = tokio::join!(queries, serve);
        for (name, set) in names.iter().zip(&sets) {
            assert_eq!(set.outcome, Outcome::NxDomain, "{name}");
        }
    }

    fn response(code: ResponseCode, answers: Vec<Record>, soa_ttl: Option<u32>) -> Message {
        use hickory_resolver::proto::op::{MessageType, OpCode};
        use hickory_resolver::proto::rr::rdata::SOA;
        let mut message = Message::new(1, MessageType::Response, OpCode::Query);
        message.metadata.response_code = code;
        message.answers = answers;
        if let Some(ttl) = soa_ttl {
            let soa = SOA::new(name("ns.test."), name("admin.test."), 1, 2, 3, 4, 300);
            message
                .authorities
                .push(Record::from_rdata(name("test."), ttl, RData::SOA(soa)));
        }
        message
    }

    fn name(text: &str) -> Name {
        Name::from_ascii(text).unwrap()
    }

    fn a(owner: &str, ttl: u32, address: [u8; 4]) -> Record {
        Record::from_rdata(name(owner), ttl, RData::A(Ipv4Addr::from(address).into()))
    }

    fn cname(owner: &str, ttl: u32, target: &str) -> Record {
        use hickory_resolver::proto::rr::rdata::CNAME;
        Record::from_rdata(name(owner), ttl, RData::CNAME(CNAME(name(target))))
    }

    fn lifetime(answer: &Answer) -> u64 {
        answer
            .expires
            .saturating_duration_since(Instant::now())
            .as_secs_f64()
            .round() as u64
    }

    #[test]
    fn response_codes_map_to_outcomes() {
        let query = name("a.test.");
        let nx = Answer::from_response(
            &response(ResponseCode::NXDomain, vec![], Some(60)),
            &query,
            RecordType::A,
        )
        .unwrap();
        assert_eq!(nx.outcome, Outcome::NxDomain);
        assert!(nx.error.is_none());
        // RFC 2308: the smaller of the SOA's TTL (60) and its MINIMUM (300).
        assert_eq!(lifetime(&nx), 60);
        for (code, outcome) in [
            (ResponseCode::ServFail, Outcome::ServFail),
            (ResponseCode::Refused, Outcome::Refused),
            (ResponseCode::FormErr, Outcome::Error),
        ] {
            let failed =
                Answer::from_response(&response(code, vec![], None), &query, RecordType::A);
            assert_eq!(failed.unwrap_err().0, outcome, "{code}");
        }
        let empty = Answer::from_response(
            &response(ResponseCode::NoError, vec![], None),
            &query,
            RecordType::A,
        )
        .unwrap();
        assert_eq!(empty.outcome, Outcome::Data);
        assert!(empty.records.is_empty());
        assert_eq!(lifetime(&empty), 0, "no SOA, so not kept");
        assert!(!Outcome::NoData.is_failure());
        assert!(Outcome::ServFail.is_failure());
    }

    #[test]
    fn answers_follow_the_cname_chain() {
        let chain = response(
            ResponseCode::NoError,
            vec![
                cname("a.test.", 300, "b.test."),
                cname("B.test.", 40, "c.test."),
                a("c.test.", 600, [192, 0, 2, 1]),
                // Not on the chain: ignored.
                a("x.test.", 600, [192, 0, 2, 9]),
            ],
            None,
        );
        let answer = Answer::from_response(&chain, &name("a.test."), RecordType::A).unwrap();
        assert_eq!(
            answer.records,
            [RData::A(Ipv4Addr::new(192, 0, 2, 1).into())]
        );
        // The chain's smallest TTL bounds the address's.
        assert_eq!(lifetime(&answer), 40);

        // Asked for the CNAME itself, the chain is not followed.
        let own = Answer::from_response(&chain, &name("a.test."), RecordType::CNAME).unwrap();
        assert_eq!(own.records.len(), 1);

        // A chain to a name that does not exist: the alias is data, its address is not.
        let dangling = response(
            ResponseCode::NXDomain,
            vec![cname("www.a.test.", 300, "gone.test.")],
            Some(60),
        );
        let alias = Answer::from_response(&dangling, &name("www.a.test."), RecordType::CNAME);
        let alias = alias.unwrap();
        assert_eq!(alias.outcome, Outcome::Data);
        assert_eq!(alias.records.len(), 1);
        let address = Answer::from_response(&dangling, &name("www.a.test."), RecordType::A);
        assert_eq!(address.unwrap().outcome, Outcome::NxDomain);

        let looped = response(
            ResponseCode::NoError,
            vec![
                cname("a.test.", 300, "b.test."),
                cname("b.test.", 300, "a.test."),
            ],
            None,
        );
        let answer = Answer::from_response(&looped, &name("a.test."), RecordType::A).unwrap();
        assert!(answer.records.is_empty());
    }

    #[tokio::test]
    async fn concurrent_queries_for_one_name_share_a_lookup() {
        let server = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let dns = client(&server, 100);
        let queries = futures::future::join_all(
            (0..20).map(|_| dns.query("shared.example", RecordType::TXT, txt_string)),
        );
        // Answers the first query after half a second without another datagram, so that all
        // twenty queries have started by then, and counts the datagrams received.
        let serve = async {
            let mut buffer = [0u8; 1232];
            let mut received = Vec::new();
            let wait = Duration::from_millis(500);
            while let Ok(result) = tokio::time::timeout(wait, server.recv_from(&mut buffer)).await {
                let (length, from) = result.unwrap();
                received.push((buffer[..length].to_vec(), from));
            }
            let (query, from) = &received[0];
            server.send_to(&nxdomain(query), from).await.unwrap();
            received.len()
        };
        let (sets, received) = tokio::join!(queries, serve);
        assert_eq!(received, 1);
        assert!(sets.iter().all(|set| set.outcome == Outcome::NxDomain));
    }
}
