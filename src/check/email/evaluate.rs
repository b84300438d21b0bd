//! `posture spf evaluate`: one `check_host()` evaluation over the configured resolvers.

use std::net::IpAddr;

use serde::Serialize;

use super::spf::{Params, TermTrace, check_host};
use crate::check::dns::DnsClient;

/// The JSON report of one evaluation.
#[derive(Debug, Serialize)]
pub struct Report {
    pub ip: IpAddr,
    pub sender: String,
    pub helo: String,
    /// The domain whose policy was evaluated: the sender's domain, or the HELO name for a
    /// null reverse-path.
    pub domain: String,
    pub result: &'static str,
    /// Why the result is none, temperror or permerror.
    pub problem: Option<String>,
    /// The expanded `exp=` text of a fail result.
    pub explanation: Option<String>,
    /// DNS-querying terms evaluated, out of the limit of 10 (RFC 7208 section 4.6.4).
    pub lookups: u32,
    /// Lookups that returned no data or NXDOMAIN, out of the limit of 2.
    pub void_lookups: u32,
    pub includes: Vec<String>,
    pub terms: Vec<TermTrace>,
}

/// Splits the sender into the full address and the domain to evaluate (RFC 7208 section
/// 4.3): a bare domain becomes `postmaster@domain`, and an empty sender (a null
/// reverse-path) uses `postmaster@<helo>`.
pub fn sender_and_domain(sender: &str, helo: &str) -> (String, String) {
    let sender = sender.trim();
    if sender.is_empty() {
        return (format!("postmaster@{helo}"), helo.to_string());
    }
    match sender.rsplit_once('@') {
        Some((local, domain)) if !local.is_empty() => (sender.to_string(), domain.to_string()),
        Some((_, domain)) => (format!("postmaster@{domain}"), domain.to_string()),
        None => (format!("postmaster@{sender}"), sender.to_string()),
    }
}

/// Runs `check_host()` for `ip` and `sender`, with `helo` defaulting to the sender's domain.
pub async fn evaluate(dns: &DnsClient, ip: IpAddr, sender: &str, helo: Option<&str>) -> Report {
    let default_helo = sender
        .rsplit('@')
        .next()
        .unwrap_or_default()
        .trim()
        .to_string();
    let helo = helo.map(str::to_string).unwrap_or(default_helo);
    let (sender, domain) = sender_and_domain(sender, &helo);
    let params = Params::new(ip, &domain, &sender, &helo);
    let evaluation = check_host(dns, &params).await;
    Report {
        ip,
        result: evaluation.result.as_str(),
        problem: evaluation.problem.as_ref().map(ToString::to_string),
        explanation: evaluation.explanation,
        lookups: evaluation.trace.lookups,
        void_lookups: evaluation.trace.void_lookups,
        includes: evaluation.trace.includes,
        terms: evaluation.trace.terms,
        sender,
        helo,
        domain,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sender_forms() {
        let full = sender_and_domain("alice@example.com", "mx.example.net");
        assert_eq!(full, ("alice@example.com".into(), "example.com".into()));
        let bare = sender_and_domain("example.com", "mx.example.net");
        assert_eq!(
            bare,
            ("postmaster@example.com".into(), "example.com".into())
        );
        let null = sender_and_domain("", "mx.example.net");
        assert_eq!(
            null,
            ("postmaster@mx.example.net".into(), "mx.example.net".into())
        );
        let no_local = sender_and_domain("@example.org", "mx.example.net");
        assert_eq!(
            no_local,
            ("postmaster@example.org".into(), "example.org".into())
        );
    }
}
