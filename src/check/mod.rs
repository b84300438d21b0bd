//! The checks a scan runs on each domain, and the order they run in.
//!
//! DNS comes first because the web checks connect to the addresses it returns; the HTTPS and
//! HTTP requests then run at the same time. Every check ends with an outcome stored in the
//! row, whatever happens, because a per-domain failure is data and not an error of the scan.

pub mod address;
pub mod dns;
pub mod dnssec;
pub mod email;
pub mod http;
pub mod hygiene;
pub mod tls;
pub mod web;

use std::fmt::Write as _;
use std::net::IpAddr;
use std::time::Duration;

use tokio::time::Instant;

use address::{ExcludeList, classify};
use dns::{DnsClient, DnsObservation};
use dnssec::{DnssecClient, DnssecObservation, DnssecState};
use email::observe::{
    DmarcObservation, DmarcPresence, Presence, SpfObservation, observe_dmarc, observe_spf,
};
use hygiene::HygieneObservation;
use web::{Scheme, WebClient, WebObservation, WebOutcome};

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
}

impl CheckSet {
    pub const NAMES: [&'static str; 4] = ["dns", "dnssec", "email", "web"];

    pub fn all() -> Self {
        Self {
            dns: true,
            dnssec: true,
            email: true,
            web: true,
        }
    }

    /// Parses a `--checks` list. `web` alone still queries A and AAAA, because it needs them.
    pub fn parse(names: &[String]) -> Result<Self, String> {
        let mut set = Self {
            dns: false,
            dnssec: false,
            email: false,
            web: false,
        };
        for name in names {
            match name.trim().to_ascii_lowercase().as_str() {
                "dns" => set.dns = true,
                "dnssec" => set.dnssec = true,
                "email" => set.email = true,
                "web" => set.web = true,
                "all" => set = Self::all(),
                other => {
                    return Err(format!(
                        "unknown check {other:?}: expected one of {}",
                        Self::NAMES.join(", ")
                    ));
                }
            }
        }
        if !(set.dns || set.dnssec || set.email || set.web) {
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
    pub https: Option<WebObservation>,
    pub http: Option<WebObservation>,
    pub duration: Duration,
}

/// Runs the selected checks on domains; shared by every task of a scan.
pub struct Scanner {
    pub dns: DnsClient,
    pub dnssec: DnssecClient,
    pub web: WebClient,
    pub checks: CheckSet,
    pub allow_private: bool,
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
            https: None,
            http: None,
            duration: Duration::ZERO,
        };

        // 1. DNS, DNSSEC and email at the same time, bounded by the domain's deadline.
        let lookup = async {
            if self.checks.dns {
                let (dns, hygiene) = hygiene::observe(&self.dns, name).await;
                (dns, Some(hygiene))
            } else if self.checks.web {
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
                    let (spf, dmarc) =
                        tokio::join!(observe_spf(&self.dns, name), observe_dmarc(&self.dns, name));
                    (Some(spf), Some(dmarc))
                }
                false => (None, None),
            }
        };
        let all = async { tokio::join!(lookup, validation, email) };
        let Ok(((mut dns, mut hygiene), dnssec, (mut spf, mut dmarc))) =
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

        // 2. The web checks, on the addresses the safety rules allow.
        if self.checks.web {
            self.scan_web(name, &dns, deadline, &mut scan).await;
        }

        scan.dns = (self.checks.dns || self.checks.web).then_some(dns);
        scan.hygiene = hygiene;
        scan.dnssec = dnssec;
        scan.spf = spf;
        scan.dmarc = dmarc;
        scan.duration = started.elapsed();
        scan
    }

    async fn scan_web(
        &self,
        name: &str,
        dns: &DnsObservation,
        deadline: Instant,
        scan: &mut DomainScan,
    ) {
        let addresses = dns.addresses();
        let allowed = match self.filter_addresses(&addresses) {
            Ok(allowed) => allowed,
            Err((status, reason)) => {
                scan.status = status;
                scan.reason = Some(reason);
                let blocked = WebObservation::without_request(WebOutcome::BlockedAddress, None);
                scan.https = Some(blocked.clone());
                scan.http = Some(blocked);
                return;
            }
        };
        if allowed.is_empty() {
            let outcome = if dns.address_lookup_bogus() {
                WebOutcome::DnsBogus
            } else if dns.address_lookup_failed() {
                WebOutcome::DnsFailure
            } else {
                WebOutcome::NoAddress
            };
            scan.https = Some(WebObservation::without_request(outcome, None));
            scan.http = Some(WebObservation::without_request(outcome, None));
            return;
        }

        let allowed = &allowed;
        let within_deadline = |scheme| async move {
            let fetch = self.web.fetch(scheme, name, allowed);
            match tokio::time::timeout_at(deadline, fetch).await {
                Ok(observation) => observation,
                Err(_) => WebObservation::without_request(
                    WebOutcome::DeadlineExceeded,
                    Some("the per-domain deadline ended before a response".to_string()),
                ),
            }
        };
        let (https, http) = tokio::join!(
            within_deadline(Scheme::Https),
            within_deadline(Scheme::Http)
        );
        let exceeded = [&https, &http]
            .iter()
            .any(|observation| observation.outcome == WebOutcome::DeadlineExceeded);
        if exceeded {
            scan.status = Status::DeadlineExceeded;
            scan.reason = Some("the deadline ended during web requests".to_string());
        }
        scan.https = Some(https);
        scan.http = Some(http);
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
            if class.is_allowed(self.allow_private) {
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
        };
        assert_eq!(CheckSet::parse(&["dns".into()]), Ok(dns_only));
        let names = ["DNS".into(), "web".into(), "dnssec".into(), "email".into()];
        assert_eq!(CheckSet::parse(&names), Ok(CheckSet::all()));
        assert!(
            CheckSet::parse(&["tls".into()])
                .unwrap_err()
                .contains("tls")
        );
        assert!(CheckSet::parse(&[]).is_err());
    }
}
