//! Redirect chains: each start URL followed hop by hop, as a browser would, with every hop
//! kept.
//!
//! posture follows redirects itself instead of letting an HTTP client do it. The grade depends
//! on what happens on the way: a cookie set by a redirect, an HSTS header on the first
//! response only, or a first hop that leaves the host before upgrading to HTTPS. Every hop's
//! host is resolved, and its addresses pass the same safety rules as the first hop's.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Mutex;

use tokio::time::Instant;
use url::{Host, Url};

use super::web::{WebObservation, WebOutcome};
use super::{Scanner, WebScan};

/// Markers of a bot challenge or block page, searched case-insensitively in a body's start.
const CHALLENGE_MARKERS: [&str; 6] = [
    "captcha",
    "cf-chl",
    "challenge-platform",
    "just a moment",
    "access denied",
    "attention required",
];

/// Redirects followed in one chain before it ends as `too_many_redirects`.
pub const MAX_REDIRECTS: usize = 10;

/// The four start URLs of a domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    Https,
    Http,
    WwwHttps,
    WwwHttp,
    /// `https://<graded host>/.well-known/security.txt`, fetched after the four chains.
    SecurityTxt,
}

impl Start {
    pub const ALL: [Start; 4] = [Start::Https, Start::Http, Start::WwwHttps, Start::WwwHttp];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Https => "https",
            Self::Http => "http",
            Self::WwwHttps => "www_https",
            Self::WwwHttp => "www_http",
            Self::SecurityTxt => "security_txt",
        }
    }

    /// Returns the start URL for `name`, or `None` when the name cannot form one.
    pub fn url(self, name: &str) -> Option<Url> {
        let text = match self {
            Self::Https => format!("https://{name}/"),
            Self::Http => format!("http://{name}/"),
            Self::WwwHttps => format!("https://www.{name}/"),
            Self::WwwHttp => format!("http://www.{name}/"),
            Self::SecurityTxt => format!("https://{name}/.well-known/security.txt"),
        };
        Url::parse(&text).ok()
    }
}

/// The way a chain ended after its first response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChainEnd {
    /// A response that is not a redirect.
    Response,
    /// A redirect to a URL already requested in this chain.
    RedirectLoop,
    /// A redirect after [`MAX_REDIRECTS`] redirects.
    TooManyRedirects,
    /// A redirect without a usable `Location`: missing, unparsable, or not http or https.
    InvalidLocation,
    /// A redirect to a host with no address posture may connect to, or to a blocked port.
    BlockedAddress,
    /// A later hop's request failed (connect, TLS, timeout, deadline).
    Failed,
}

impl ChainEnd {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Response => "response",
            Self::RedirectLoop => "redirect_loop",
            Self::TooManyRedirects => "too_many_redirects",
            Self::InvalidLocation => "invalid_location",
            Self::BlockedAddress => "blocked_address",
            Self::Failed => "failed",
        }
    }
}

/// One request of a chain.
#[derive(Debug, Clone)]
pub struct Hop {
    pub url: Url,
    pub observation: WebObservation,
}

/// A start URL followed to its end.
#[derive(Debug, Clone)]
pub struct Chain {
    pub start: Start,
    /// The requests made, in order. The first always exists, with or without a response.
    pub hops: Vec<Hop>,
    /// The way the chain ended, or `None` when the first request got no response.
    pub end: Option<ChainEnd>,
}

impl Chain {
    /// Builds a chain whose first request was not sent, or failed before a response.
    pub fn unanswered(start: Start, url: Url, observation: WebObservation) -> Self {
        Self {
            start,
            hops: vec![Hop { url, observation }],
            end: None,
        }
    }

    /// Returns the first request's observation.
    pub fn first(&self) -> &WebObservation {
        &self.hops[0].observation
    }

    /// Returns the hops that yielded a response.
    pub fn responses(&self) -> impl Iterator<Item = &Hop> {
        self.hops
            .iter()
            .filter(|hop| hop.observation.status.is_some())
    }

    /// Returns the last response read.
    pub fn last_response(&self) -> Option<&Hop> {
        self.hops
            .iter()
            .rev()
            .find(|hop| hop.observation.status.is_some())
    }

    /// Returns the final response, when the chain ended on a response that is not a redirect.
    pub fn final_response(&self) -> Option<&Hop> {
        match self.end {
            Some(ChainEnd::Response) => self.last_response(),
            _ => None,
        }
    }
}

/// Ports a browser refuses to fetch from, above 1023 (the Fetch standard's "bad port" list).
/// Below 1024 only 80 and 443 are followed.
const BLOCKED_HIGH_PORTS: [u16; 9] = [1719, 1720, 1723, 2049, 3659, 4045, 6000, 6566, 10080];

fn port_allowed(port: u16) -> bool {
    port == 80
        || port == 443
        || (port >= 1024
            && !BLOCKED_HIGH_PORTS.contains(&port)
            && !(6665..=6669).contains(&port)
            && port != 6697)
}

/// Resolved and filtered addresses of the hosts one domain's chains visit, so that the four
/// chains look each host up once.
#[derive(Default)]
pub struct HostAddresses {
    known: Mutex<HashMap<String, Result<Vec<IpAddr>, String>>>,
}

impl HostAddresses {
    pub fn insert(&self, host: &str, addresses: Result<Vec<IpAddr>, String>) {
        let mut known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        known.insert(host.to_string(), addresses);
    }

    pub fn get(&self, host: &str) -> Option<Result<Vec<IpAddr>, String>> {
        let known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        known.get(host).cloned()
    }
}

impl Scanner {
    /// Follows `url` from its first request on `addresses` until a response that is not a
    /// redirect, a loop, the redirect limit, a failure, or `deadline`.
    pub(crate) async fn follow(
        &self,
        start: Start,
        url: Url,
        addresses: &[IpAddr],
        hosts: &HostAddresses,
        deadline: Instant,
    ) -> Chain {
        let mut hops: Vec<Hop> = Vec::new();
        let mut requested: HashSet<Url> = HashSet::new();
        let mut url = url;
        let mut addresses = addresses.to_vec();
        loop {
            requested.insert(url.clone());
            let observation =
                match tokio::time::timeout_at(deadline, self.web.fetch_url(&url, &addresses)).await
                {
                    Ok(observation) => observation,
                    Err(_) => WebObservation::without_request(
                        WebOutcome::DeadlineExceeded,
                        Some("the per-domain deadline ended before a response".to_string()),
                    ),
                };
            let answered = observation.status.is_some();
            let redirect = observation.is_redirect();
            let location = observation.location.clone();
            hops.push(Hop {
                url: url.clone(),
                observation,
            });
            if !answered {
                let end = (hops.len() > 1).then_some(ChainEnd::Failed);
                return Chain { start, hops, end };
            }
            if !redirect {
                return Chain {
                    start,
                    hops,
                    end: Some(ChainEnd::Response),
                };
            }
            let end = |end| Chain {
                start,
                hops: hops.clone(),
                end: Some(end),
            };
            let Some(next) = location
                .as_deref()
                .and_then(|location| url.join(location.trim()).ok())
                .filter(|next| matches!(next.scheme(), "http" | "https") && next.host().is_some())
            else {
                return end(ChainEnd::InvalidLocation);
            };
            if requested.contains(&next) {
                return end(ChainEnd::RedirectLoop);
            }
            if hops.len() > MAX_REDIRECTS {
                return end(ChainEnd::TooManyRedirects);
            }
            let port = next.port_or_known_default().unwrap_or(0);
            let resolved = match port_allowed(port) {
                true => self.hop_addresses(&next, hosts).await,
                false => Err(format!("port {port} is not followed")),
            };
            match resolved {
                Ok(resolved) => addresses = resolved,
                Err(reason) => {
                    hops.push(Hop {
                        url: next,
                        observation: WebObservation::without_request(
                            WebOutcome::BlockedAddress,
                            Some(reason),
                        ),
                    });
                    return Chain {
                        start,
                        hops,
                        end: Some(ChainEnd::BlockedAddress),
                    };
                }
            }
            url = next;
        }
    }

    /// Resolves a hop's host to the addresses posture may connect to, or says why there are none.
    async fn hop_addresses(&self, url: &Url, hosts: &HostAddresses) -> Result<Vec<IpAddr>, String> {
        let found = match url.host() {
            Some(Host::Ipv4(address)) => vec![IpAddr::V4(address)],
            Some(Host::Ipv6(address)) => vec![IpAddr::V6(address)],
            Some(Host::Domain(host)) => {
                let host = host.trim_end_matches('.').to_ascii_lowercase();
                // A redirect must not lead to a host that the exclude list names, whatever
                // its addresses are.
                if let Some(entry) = self.exclude.excluded_domain(&host) {
                    return Err(format!("{host} matches exclude entry {entry}"));
                }
                if let Some(known) = hosts.get(&host) {
                    return known;
                }
                let found = self.dns.observe_addresses(&host).await.addresses();
                let allowed = self.allowed_hop_addresses(&host, &found);
                hosts.insert(&host, allowed.clone());
                return allowed;
            }
            None => return Err(format!("{url} has no host")),
        };
        self.allowed_hop_addresses(url.as_str(), &found)
    }

    fn allowed_hop_addresses(&self, host: &str, found: &[IpAddr]) -> Result<Vec<IpAddr>, String> {
        match self.filter_addresses(found) {
            Ok(allowed) if allowed.is_empty() => Err(format!("{host} has no address")),
            Ok(allowed) => Ok(allowed),
            Err((_, reason)) => Err(reason),
        }
    }
}

/// Tells whether a response is a block page or an error rather than the site itself.
pub fn is_bot_wall(hop: &Hop) -> bool {
    let status = hop.observation.status.unwrap_or(0);
    if matches!(status, 403 | 406 | 429) || status >= 500 {
        return true;
    }
    let Some(body) = &hop.observation.body else {
        return false;
    };
    let text = String::from_utf8_lossy(body).to_ascii_lowercase();
    CHALLENGE_MARKERS.iter().any(|marker| text.contains(marker))
}

/// Picks the response graded as the site's: the final response of the `https` chain when it
/// is an HTTPS URL on the name or on `www.<name>`, else the same test on the `www_https` chain.
pub fn graded_response<'a>(web: &'a WebScan, name: &str) -> Option<&'a Hop> {
    let www = format!("www.{name}");
    let on_site = |hop: &&Hop| {
        hop.url.scheme() == "https"
            && hop.url.host_str().is_some_and(|host| {
                host.eq_ignore_ascii_case(name) || host.eq_ignore_ascii_case(&www)
            })
    };
    [Some(&web.https), web.www_https.as_ref()]
        .into_iter()
        .flatten()
        .find_map(|chain| chain.final_response().filter(on_site))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_urls() {
        let urls: Vec<String> = Start::ALL
            .iter()
            .map(|start| start.url("example.com").unwrap().to_string())
            .collect();
        assert_eq!(
            urls,
            [
                "https://example.com/",
                "http://example.com/",
                "https://www.example.com/",
                "http://www.example.com/"
            ]
        );
    }

    #[test]
    fn followed_ports() {
        assert!(port_allowed(80));
        assert!(port_allowed(443));
        assert!(port_allowed(8443));
        assert!(!port_allowed(25));
        assert!(!port_allowed(22));
        assert!(!port_allowed(6667));
        assert!(!port_allowed(10080));
    }
}
