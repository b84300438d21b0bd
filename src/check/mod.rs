//! The checks a scan runs on each domain, and the order they run in.
//!
//! DNS comes first because the web checks connect to the addresses it returns; the HTTPS and
//! HTTP requests then run at the same time. Every check ends with an outcome stored in the
//! row, whatever happens, because a per-domain failure is data and not an error of the scan.

pub mod address;
pub mod backoff;
pub mod dns;
pub mod dnssec;
pub mod email;
pub mod follow;
pub mod http;
pub mod hygiene;
pub mod limits;
pub mod stub;
pub mod tls;
pub mod web;

use std::fmt::Write as _;
use std::net::IpAddr;
use std::time::Duration;

use hickory_resolver::proto::rr::RecordType;
use tokio::time::Instant;

use address::{ExcludeList, classify};
use dns::{DnsClient, DnsObservation};
use dnssec::{DnssecClient, DnssecObservation, DnssecState};
use email::observe::{
    DmarcObservation, DmarcPresence, Presence, SpfObservation, observe_dmarc, observe_spf,
};
use email::records::{MailScan, Selectors, mx_record, observe_records};
use follow::{Chain, HostAddresses, Start};
use hygiene::HygieneObservation;
use tls::handshake::{Handshake, HandshakeClient, HandshakeOutcome};
use web::{WebClient, WebObservation, WebOutcome};

/// The status of an output row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    Ok,
    InvalidInput,
    Duplicate,
    Excluded,
    PrivateAddress,
    DeadlineExceeded,
    Cancelled,
}

impl Status {
    pub const ALL: [Status; 7] = [
        Status::Ok,
        Status::InvalidInput,
        Status::Duplicate,
        Status::Excluded,
        Status::PrivateAddress,
        Status::DeadlineExceeded,
        Status::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::InvalidInput => "invalid_input",
            Self::Duplicate => "duplicate",
            Self::Excluded => "excluded",
            Self::PrivateAddress => "private_address",
            Self::DeadlineExceeded => "deadline_exceeded",
            Self::Cancelled => "cancelled",
        }
    }
}

/// Selection of the checks a scan runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckSet {
    pub dns: bool,
    pub dnssec: bool,
    pub email: bool,
    pub web: bool,
    pub tls: bool,
}

impl CheckSet {
    pub const NAMES: [&'static str; 5] = ["dns", "dnssec", "email", "web", "tls"];

    pub fn all() -> Self {
        Self {
            dns: true,
            dnssec: true,
            email: true,
            web: true,
            tls: true,
        }
    }

    /// Parses a `--checks` list. `web` or `tls` alone still queries A and AAAA, because they
    /// need them.
    pub fn parse(names: &[String]) -> Result<Self, String> {
        let mut set = Self {
            dns: false,
            dnssec: false,
            email: false,
            web: false,
            tls: false,
        };
        for name in names {
            match name.trim().to_ascii_lowercase().as_str() {
                "dns" => set.dns = true,
                "dnssec" => set.dnssec = true,
                "email" => set.email = true,
                "web" => set.web = true,
                "tls" => set.tls = true,
                "all" => set = Self::all(),
                other => {
                    return Err(format!(
                        "unknown check {other:?}: expected one of {}",
                        Self::NAMES.join(", ")
                    ));
                }
            }
        }
        if !(set.dns || set.dnssec || set.email || set.web || set.tls) {
            return Err("no check selected: --checks needs at least one name".to_string());
        }
        Ok(set)
    }
}

/// Findings of the checks for one domain.
#[derive(Debug, Clone)]
pub struct DomainScan {
    pub status: Status,
    pub reason: Option<String>,
    pub dns: Option<DnsObservation>,
    pub hygiene: Option<HygieneObservation>,
    pub dnssec: Option<DnssecObservation>,
    pub spf: Option<SpfObservation>,
    pub dmarc: Option<DmarcObservation>,
    /// DKIM, MTA-STS, TLS-RPT and BIMI, and the MX facts they need.
    pub mail: Option<MailScan>,
    pub web: Option<WebScan>,
    pub tls: Option<Vec<TlsEndpoint>>,
    pub duration: Duration,
}

/// One address's modern handshake, with the verdict on the chain it served.
#[derive(Debug, Clone)]
pub struct TlsEndpoint {
    pub handshake: Handshake,
    pub certificate: Option<tls::cert::ChainReport>,
    /// The source of the judged chain, when there is one.
    pub certificate_source: Option<ChainSource>,
    /// The address's protocol version and weak suite probe, shared with other names on it.
    pub probe: Option<std::sync::Arc<tls::probe::ProbeReport>>,
}

/// The connection whose Certificate message gave the judged chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChainSource {
    /// The modern handshake with rustls.
    Handshake,
    /// A version probe of TLS 1.2 or older, for a server rustls could not complete a
    /// handshake with.
    Probe,
}

impl ChainSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Handshake => "handshake",
            Self::Probe => "probe",
        }
    }
}

/// The redirect chains of a domain's four start URLs.
#[derive(Debug, Clone)]
pub struct WebScan {
    pub https: Chain,
    pub http: Chain,
    /// The `www.` chains; `None` when the name itself starts with `www.`.
    pub www_https: Option<Chain>,
    pub www_http: Option<Chain>,
    /// The fetch of security.txt from the graded host; `None` without a graded response.
    pub security_txt: Option<Chain>,
}

impl WebScan {
    /// The chains that exist, in the order https, http, www_https, www_http.
    pub fn chains(&self) -> impl Iterator<Item = &Chain> {
        [
            Some(&self.https),
            Some(&self.http),
            self.www_https.as_ref(),
            self.www_http.as_ref(),
        ]
        .into_iter()
        .flatten()
    }

    /// Every chain's first request ended in the same way, before any connection.
    fn unanswered(name: &str, outcome: WebOutcome, error: Option<String>) -> Self {
        let chain = |start: Start| {
            let url = start.url(name).unwrap_or_else(fallback_url);
            Chain::unanswered(
                start,
                url,
                WebObservation::without_request(outcome, error.clone()),
            )
        };
        let www = !name.starts_with("www.");
        Self {
            https: chain(Start::Https),
            http: chain(Start::Http),
            www_https: www.then(|| chain(Start::WwwHttps)),
            www_http: www.then(|| chain(Start::WwwHttp)),
            security_txt: None,
        }
    }
}

/// A placeholder for a name that cannot form a URL, which normalisation already rules out.
fn fallback_url() -> url::Url {
    url::Url::parse("http://invalid./").expect("a constant URL parses")
}

/// Runs the selected checks on domains; shared by every task of a scan.
pub struct Scanner {
    pub dns: DnsClient,
    pub dnssec: DnssecClient,
    pub web: WebClient,
    pub handshakes: HandshakeClient,
    pub checks: CheckSet,
    /// DKIM selectors the email check queries under `_domainkey`.
    pub dkim_selectors: Selectors,
    pub allow_private: bool,
    /// Networks posture may connect to whatever their class (`--allow-network`).
    pub allow_networks: Vec<ipnet::IpNet>,
    pub exclude: ExcludeList,
    /// Time limit for all checks of one domain.
    pub deadline: Duration,
}

impl Scanner {
    /// Scans one normalised name.
    pub async fn scan(&self, name: &str) -> DomainScan {
        let started = Instant::now();
        let deadline = started + self.deadline;
        let mut scan = DomainScan {
            status: Status::Ok,
            reason: None,
            dns: None,
            hygiene: None,
            dnssec: None,
            spf: None,
            dmarc: None,
            mail: None,
            web: None,
            tls: None,
            duration: Duration::ZERO,
        };

        // 1. DNS, DNSSEC and email at the same time, bounded by the domain's deadline.
        let lookup = async {
            if self.checks.dns {
                let (dns, hygiene) = hygiene::observe(&self.dns, name).await;
                (dns, Some(hygiene))
            } else if self.checks.web || self.checks.tls {
                (self.dns.observe_addresses(name).await, None)
            } else {
                (DnsObservation::default(), None)
            }
        };
        let validation = async {
            match self.checks.dnssec {
                true => Some(self.dnssec.observe(name).await),
                false => None,
            }
        };
        let email = async {
            match self.checks.email {
                true => {
                    // The null MX flag and the MTA-STS comparison need the MX records. The
                    // DNS check queries them when it runs. Without it they are queried here,
                    // together with the other email queries rather than after them.
                    let mx = async {
                        match self.checks.dns {
                            true => None,
                            false => Some(self.dns.query(name, RecordType::MX, mx_record).await),
                        }
                    };
                    let (spf, dmarc, records, mx) = tokio::join!(
                        observe_spf(&self.dns, name),
                        observe_dmarc(&self.dns, name),
                        observe_records(&self.dns, name, &self.dkim_selectors),
                        mx
                    );
                    (Some(spf), Some(dmarc), Some(records), mx)
                }
                false => (None, None, None, None),
            }
        };
        let all = async { tokio::join!(lookup, validation, email) };
        let Ok(((mut dns, mut hygiene), dnssec, (mut spf, mut dmarc, records, mail_mx))) =
            tokio::time::timeout_at(deadline, all).await
        else {
            scan.status = Status::DeadlineExceeded;
            scan.reason = Some("the deadline ended during DNS queries".to_string());
            scan.duration = started.elapsed();
            return scan;
        };

        // A validating resolver returns SERVFAIL for the data of a bogus zone, so the failed
        // queries of a bogus name get the outcome `bogus` instead of a generic failure.
        if let Some(validation) = dnssec.as_ref()
            && validation.state == DnssecState::Bogus
        {
            let reason = validation.reason.unwrap_or("bogus");
            dns.mark_bogus(reason);
            if let Some(hygiene) = hygiene.as_mut() {
                hygiene.mark_bogus();
            }
            if let Some(spf) = spf.as_mut()
                && spf.presence == Presence::Unknown
            {
                spf.presence = Presence::Bogus;
            }
            if let Some(dmarc) = dmarc.as_mut()
                && dmarc.presence == DmarcPresence::Unknown
            {
                dmarc.presence = DmarcPresence::Bogus;
            }
        }

        // 2. The web and TLS checks, on the addresses the safety rules allow, and the MTA-STS
        // policy, which needs the MX records.
        let mail = async {
            let records = records?;
            let mx = dns.mx.as_ref().or(mail_mx.as_ref());
            Some(self.scan_mail(name, records, mx, deadline).await)
        };
        let web_and_tls = async {
            if !(self.checks.web || self.checks.tls) {
                return;
            }
            let bogus = dnssec
                .as_ref()
                .is_some_and(|validation| validation.state == DnssecState::Bogus);
            let www = match tokio::time::timeout_at(deadline, self.www_addresses(name, bogus)).await
            {
                Ok(www) => www,
                Err(_) => Some(Err((
                    WebOutcome::DeadlineExceeded,
                    Some("the per-domain deadline ended before a response".to_string()),
                ))),
            };
            let web = async {
                if self.checks.web {
                    self.scan_web(name, &dns, www.as_ref(), bogus, deadline, &mut scan)
                        .await;
                }
            };
            let tls = async {
                match self.checks.tls {
                    true => Some(self.scan_tls(name, &dns, www.as_ref(), deadline).await),
                    false => None,
                }
            };
            let ((), tls) = tokio::join!(web, tls);
            scan.tls = tls;
        };
        let (mail, ()) = tokio::join!(mail, web_and_tls);
        scan.mail = mail;

        scan.dns = (self.checks.dns || self.checks.web || self.checks.tls).then_some(dns);
        scan.hygiene = hygiene;
        scan.dnssec = dnssec;
        scan.spf = spf;
        scan.dmarc = dmarc;
        scan.duration = started.elapsed();
        scan
    }

    /// Resolves `www.<name>` to the addresses posture may connect to, or the outcome of the
    /// `www` chains when there are none. `None` when the name itself starts with `www.`.
    async fn www_addresses(&self, name: &str, bogus: bool) -> Option<WwwAddresses> {
        if name.starts_with("www.") {
            return None;
        }
        let www = format!("www.{name}");
        // An exclude entry may name `www.<name>` alone, and then it is not contacted either.
        if let Some(entry) = self.exclude.excluded_domain(&www) {
            let reason = format!("{www} matches exclude entry {entry}");
            return Some(Err((WebOutcome::BlockedAddress, Some(reason))));
        }
        let found = self.dns.observe_addresses(&www).await;
        Some(match self.filter_addresses(&found.addresses()) {
            Err((_, reason)) => Err((WebOutcome::BlockedAddress, Some(reason))),
            Ok(allowed) if allowed.is_empty() => Err((unresolved_outcome(&found, bogus), None)),
            Ok(allowed) => Ok(allowed),
        })
    }

    async fn scan_web(
        &self,
        name: &str,
        dns: &DnsObservation,
        www: Option<&WwwAddresses>,
        bogus: bool,
        deadline: Instant,
        scan: &mut DomainScan,
    ) {
        let addresses = dns.addresses();
        let allowed = match self.filter_addresses(&addresses) {
            Ok(allowed) => allowed,
            Err((status, reason)) => {
                scan.status = status;
                scan.reason = Some(reason);
                scan.web = Some(WebScan::unanswered(name, WebOutcome::BlockedAddress, None));
                return;
            }
        };
        // A name without an address still gets its www chains: www may resolve on its own.
        let unresolved = allowed.is_empty().then(|| unresolved_outcome(dns, bogus));
        let hosts = HostAddresses::default();
        match allowed.is_empty() {
            true => hosts.insert(name, Err(format!("{name} has no address"))),
            false => hosts.insert(name, Ok(allowed.clone())),
        }
        let (hosts, allowed) = (&hosts, &allowed);
        let name_chain = |start: Start| async move {
            let url = start.url(name).unwrap_or_else(fallback_url);
            match unresolved {
                Some(outcome) => {
                    let observation = WebObservation::without_request(outcome, None);
                    Chain::unanswered(start, url, observation)
                }
                None => self.follow(start, url, allowed, hosts, deadline).await,
            }
        };
        let www_chains = async {
            let www = www?;
            let https_url = Start::WwwHttps.url(name).unwrap_or_else(fallback_url);
            let http_url = Start::WwwHttp.url(name).unwrap_or_else(fallback_url);
            let host = format!("www.{name}");
            match www {
                Err((outcome, error)) => {
                    hosts.insert(&host, Err(format!("{host} has no address posture may use")));
                    let observation = WebObservation::without_request(*outcome, error.clone());
                    Some((
                        Chain::unanswered(Start::WwwHttps, https_url, observation.clone()),
                        Chain::unanswered(Start::WwwHttp, http_url, observation),
                    ))
                }
                Ok(www_allowed) => {
                    hosts.insert(&host, Ok(www_allowed.clone()));
                    Some(tokio::join!(
                        self.follow(Start::WwwHttps, https_url, www_allowed, hosts, deadline),
                        self.follow(Start::WwwHttp, http_url, www_allowed, hosts, deadline),
                    ))
                }
            }
        };
        let (https, http, www_chains) = tokio::join!(
            name_chain(Start::Https),
            name_chain(Start::Http),
            www_chains
        );
        let (www_https, www_http) = match www_chains {
            Some((https, http)) => (Some(https), Some(http)),
            None => (None, None),
        };
        let mut web = WebScan {
            https,
            http,
            www_https,
            www_http,
            security_txt: None,
        };
        // security.txt (RFC 9116) from the host of the graded response, even a block page.
        let graded_host = follow::graded_response(&web, name)
            .and_then(|hop| hop.url.host_str().map(str::to_string));
        if let Some(host) = graded_host
            && let Some(url) = Start::SecurityTxt.url(&host)
        {
            let addresses = match hosts.get(&host) {
                Some(Ok(addresses)) => addresses,
                _ => allowed.clone(),
            };
            let chain = self
                .follow(Start::SecurityTxt, url, &addresses, hosts, deadline)
                .await;
            web.security_txt = Some(chain);
        }
        let exceeded = web.chains().any(|chain| {
            chain
                .hops
                .iter()
                .any(|hop| hop.observation.outcome == WebOutcome::DeadlineExceeded)
        });
        if exceeded {
            scan.status = Status::DeadlineExceeded;
            scan.reason = Some("the deadline ended during web requests".to_string());
        }
        scan.web = Some(web);
    }

    /// Makes one modern handshake with each allowed address of the name and of `www.<name>`,
    /// up to [`TLS_ADDRESSES_PER_NAME`] per name, and judges each served chain.
    async fn scan_tls(
        &self,
        name: &str,
        dns: &DnsObservation,
        www: Option<&WwwAddresses>,
        deadline: Instant,
    ) -> Vec<TlsEndpoint> {
        let mut targets: Vec<(String, IpAddr)> = Vec::new();
        if let Ok(allowed) = self.filter_addresses(&dns.addresses()) {
            let take = allowed.into_iter().take(TLS_ADDRESSES_PER_NAME);
            targets.extend(take.map(|address| (name.to_string(), address)));
        }
        if let Some(Ok(allowed)) = www {
            let host = format!("www.{name}");
            let take = allowed.iter().take(TLS_ADDRESSES_PER_NAME);
            targets.extend(take.map(|address| (host.clone(), *address)));
        }
        let handshakes = targets.iter().map(|(host, address)| async move {
            let handshake = self.handshakes.handshake(host, *address);
            let handshake = match tokio::time::timeout_at(deadline, handshake).await {
                Ok(handshake) => handshake,
                Err(_) => Handshake {
                    name: host.clone(),
                    address: *address,
                    outcome: HandshakeOutcome::Timeout,
                    error: Some("the per-domain deadline ended during the handshake".to_string()),
                    version: None,
                    cipher_suite: None,
                    key_exchange_group: None,
                    alpn: None,
                    ocsp_stapled: None,
                    chain: Vec::new(),
                },
            };
            let completed = handshake.outcome == HandshakeOutcome::Ok;
            // A server that rustls cannot talk to may still accept legacy versions, so only a
            // failed connection skips the probe.
            let reachable = matches!(
                handshake.outcome,
                HandshakeOutcome::Ok | HandshakeOutcome::TlsError | HandshakeOutcome::Timeout
            );
            let probe = match reachable {
                true => {
                    let probe = self.handshakes.probe(*address, host, !completed);
                    tokio::time::timeout_at(deadline, probe).await.ok()
                }
                false => None,
            };
            // Without a completed handshake, the chain of a legacy probe is judged instead.
            let probed_chain = probe
                .as_ref()
                .map(|report| report.chain.as_slice())
                .filter(|chain| !chain.is_empty());
            let (certificate, certificate_source) = match (completed, probed_chain) {
                (true, _) => (
                    Some(self.handshakes.analyze(&handshake.chain, host)),
                    Some(ChainSource::Handshake),
                ),
                (false, Some(chain)) => (
                    Some(self.handshakes.analyze(chain, host)),
                    Some(ChainSource::Probe),
                ),
                (false, None) => (None, None),
            };
            TlsEndpoint {
                handshake,
                certificate,
                certificate_source,
                probe,
            }
        });
        futures::future::join_all(handshakes).await
    }

    /// Keeps the addresses posture may connect to. When none is left but some existed, returns
    /// the row status and reason: `excluded` if an exclude entry removed one, else
    /// `private_address`.
    fn filter_addresses(&self, addresses: &[IpAddr]) -> Result<Vec<IpAddr>, (Status, String)> {
        let mut allowed = Vec::new();
        let mut excluded = None;
        let mut special = String::new();
        for address in addresses {
            if let Some(network) = self.exclude.excluded_network(*address) {
                excluded.get_or_insert(format!(
                    "address {address} is in excluded network {network}"
                ));
                continue;
            }
            let class = classify(*address);
            let opened = self
                .allow_networks
                .iter()
                .any(|network| network.contains(address));
            if opened || class.is_allowed(self.allow_private) {
                allowed.push(*address);
            } else {
                let separator = if special.is_empty() { "" } else { ", " };
                let _ = write!(special, "{separator}{address} ({class})");
            }
        }
        if !allowed.is_empty() || addresses.is_empty() {
            return Ok(allowed);
        }
        match excluded {
            Some(reason) => Err((Status::Excluded, reason)),
            None => Err((
                Status::PrivateAddress,
                format!("every address is special-purpose: {special}"),
            )),
        }
    }
}

/// Addresses of `www.<name>` that posture may connect to, or the outcome of its chains.
type WwwAddresses = Result<Vec<IpAddr>, (WebOutcome, Option<String>)>;

/// Addresses per name that the TLS check makes a handshake with.
pub const TLS_ADDRESSES_PER_NAME: usize = 4;

/// The web outcome of a name without an address posture could connect to.
fn unresolved_outcome(dns: &DnsObservation, bogus: bool) -> WebOutcome {
    if dns.address_lookup_bogus() || (bogus && dns.address_lookup_failed()) {
        WebOutcome::DnsBogus
    } else if dns.address_lookup_failed() {
        WebOutcome::DnsFailure
    } else {
        WebOutcome::NoAddress
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_set_parsing() {
        let dns_only = CheckSet {
            dns: true,
            dnssec: false,
            email: false,
            web: false,
            tls: false,
        };
        assert_eq!(CheckSet::parse(&["dns".into()]), Ok(dns_only));
        let names = [
            "DNS".into(),
            "web".into(),
            "dnssec".into(),
            "email".into(),
            "tls".into(),
        ];
        assert_eq!(CheckSet::parse(&names), Ok(CheckSet::all()));
        assert!(
            CheckSet::parse(&["ssl".into()])
                .unwrap_err()
                .contains("ssl")
        );
        assert!(CheckSet::parse(&[]).is_err());
    }
}
