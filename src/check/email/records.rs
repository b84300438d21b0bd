//! The email records beyond SPF and DMARC as a scan observes them: DKIM key evidence from
//! guessed selectors, the MTA-STS record and policy file, TLS-RPT and BIMI.
//!
//! DNS queries per domain, all through the scan's rate-limited resolver:
//! - DKIM: 1 for `_domainkey.<name>`. Unless it is NXDOMAIN, 1 random label under it and 1
//!   per dictionary selector, at the same time. With the built-in dictionary of 34 selectors
//!   that is 1 query when `_domainkey.<name>` is NXDOMAIN and 36 when it exists.
//! - MTA-STS 1, TLS-RPT 1, BIMI 1, and MX of the name (1) unless the DNS check ran. When the
//!   MTA-STS record exists, A and AAAA of `mta-sts.<name>` (2).

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::Arc;

use hickory_resolver::proto::rr::{Name, RData, RecordType};

use super::bimi::{self, BimiRecord};
use super::dkim::{self, DkimKey};
use super::mtasts::{self, MtaStsPolicy, MtaStsRecord};
use super::tlsrpt::{self, TlsRptRecord};
use crate::check::Scanner;
use crate::check::dns::{DnsClient, Mx, Outcome, RecordSet, txt_string};
use crate::check::web::{CertVerdict, WebClient, WebObservation, WebOutcome};

/// The built-in selector dictionary.
pub const DKIM_SELECTORS: &str = include_str!("../../../datasets/dkim-selectors.txt");

/// Reads a selector list: one selector per line, `#` comments and blank lines skipped,
/// lower-cased and without repeats. A selector that cannot be queried is an error naming its
/// line, because the scan would otherwise report `unknown` DKIM evidence for every domain.
pub fn parse_selectors(text: &str, into: &mut Vec<String>) -> Result<(), String> {
    let mut seen: HashSet<String> = into.iter().cloned().collect();
    for (index, line) in text.lines().enumerate() {
        let selector = line.split('#').next().unwrap_or("").trim();
        if selector.is_empty() {
            continue;
        }
        let selector = selector.to_ascii_lowercase();
        if let Err(reason) = check_selector(&selector) {
            return Err(format!(
                "line {}: selector {selector:?} {reason}",
                index + 1
            ));
        }
        if seen.insert(selector.clone()) {
            into.push(selector);
        }
    }
    Ok(())
}

/// Maximum length of a selector, so that `<selector>._domainkey.<name>` leaves room for the name
/// within the 253 characters of a DNS name.
const MAX_SELECTOR_LENGTH: usize = 128;

/// Checks that a lower-cased selector forms a name that the scan's DNS client can query
/// (RFC 6376 section 3.1: labels separated by dots).
fn check_selector(selector: &str) -> Result<(), String> {
    if selector.len() > MAX_SELECTOR_LENGTH {
        return Err(format!("is longer than {MAX_SELECTOR_LENGTH} characters"));
    }
    if !selector
        .bytes()
        .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.'))
    {
        return Err("has a character other than a letter, a digit, '-', '_' or '.'".into());
    }
    if selector
        .split('.')
        .any(|label| label.is_empty() || label.len() > 63)
    {
        return Err("has an empty label or a label longer than 63 characters".into());
    }
    Name::from_utf8(format!("{selector}._domainkey.example."))
        .map(|_| ())
        .map_err(|_| {
            "is not a name the DNS client accepts (for example '_' after the start of a label, \
             or '-' at either end)"
                .into()
        })
}

/// Presence of a TXT record of one kind at one name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordPresence {
    Present,
    Absent,
    /// Several records of the kind: receivers apply none of them.
    MultipleRecords,
    /// The query failed (timeout, SERVFAIL), so absence is not known.
    Unknown,
}

impl RecordPresence {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Present => "present",
            Self::Absent => "absent",
            Self::MultipleRecords => "multiple_records",
            Self::Unknown => "unknown",
        }
    }
}

/// One TXT record kind at one name: its presence, its text and the parsed record.
#[derive(Debug, Clone)]
pub struct RecordObservation<T> {
    pub presence: RecordPresence,
    pub text: Option<String>,
    pub record: Option<T>,
}

/// Selects the records whose text starts with `v=<version>` followed by `;`, a space or the
/// end, and parses the single one.
fn observe_record<T>(
    set: &RecordSet<String>,
    version: &str,
    parse: impl Fn(&str) -> T,
) -> RecordObservation<T> {
    let matching: Vec<&String> = set
        .records
        .iter()
        .filter(|text| {
            text.strip_prefix("v=")
                .and_then(|rest| rest.strip_prefix(version))
                .is_some_and(|rest| {
                    rest.is_empty() || rest.starts_with(';') || rest.starts_with([' ', '\t'])
                })
        })
        .collect();
    let presence = match (set.outcome.is_failure(), matching.len()) {
        (true, _) => RecordPresence::Unknown,
        (false, 0) => RecordPresence::Absent,
        (false, 1) => RecordPresence::Present,
        (false, _) => RecordPresence::MultipleRecords,
    };
    let text = (presence == RecordPresence::Present).then(|| matching[0].clone());
    let record = text.as_deref().map(parse);
    RecordObservation {
        presence,
        text,
        record,
    }
}

/// Strength of the DNS evidence that a domain signs with DKIM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DkimEvidence {
    /// A dictionary selector returned a TXT record that a wildcard does not explain.
    KeysFound,
    /// Names exist below `_domainkey` (NOERROR for it), but no dictionary selector has a key.
    EntOnly,
    /// A wildcard matches names under `_domainkey`, and every selector returned the same
    /// records as a random label.
    Wildcard,
    /// `_domainkey.<name>` is NXDOMAIN, so nothing exists below it (RFC 8020).
    None,
    /// A query failed, so the evidence is not known.
    Unknown,
}

impl DkimEvidence {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::KeysFound => "keys_found",
            Self::EntOnly => "ent_only",
            Self::Wildcard => "wildcard",
            Self::None => "none",
            Self::Unknown => "unknown",
        }
    }
}

/// One selector's key record.
#[derive(Debug, Clone)]
pub struct SelectorKey {
    pub selector: String,
    pub text: String,
    pub key: DkimKey,
}

/// The DKIM evidence of one domain.
#[derive(Debug, Clone)]
pub struct DkimObservation {
    pub evidence: DkimEvidence,
    /// Outcome of the TXT query for `_domainkey.<name>`.
    pub domainkey_outcome: Outcome,
    /// True when a random label under `_domainkey` exists; `None` when it was not queried.
    pub wildcard: Option<bool>,
    pub keys: Vec<SelectorKey>,
    /// Selectors whose query failed.
    pub failed_selectors: u32,
    pub queries: u32,
}

/// Collects DKIM evidence for `name` from the selectors of `selectors`.
pub async fn observe_dkim(dns: &DnsClient, name: &str, selectors: &[String]) -> DkimObservation {
    let base = format!("_domainkey.{name}");
    let top = dns.query(&base, RecordType::TXT, txt_string).await;
    let mut observation = DkimObservation {
        evidence: DkimEvidence::Unknown,
        domainkey_outcome: top.outcome,
        wildcard: None,
        keys: Vec::new(),
        failed_selectors: 0,
        queries: 1,
    };
    // NOTE: some authoritative servers return NXDOMAIN for an empty non-terminal, against
    // RFC 8020. Their domains get `none` even when keys exist below `_domainkey`.
    match top.outcome {
        Outcome::NxDomain => {
            observation.evidence = DkimEvidence::None;
            return observation;
        }
        outcome if outcome.is_failure() => return observation,
        _ => {}
    }

    let random = format!("posture-{:016x}.{base}", rand::random::<u64>());
    let base = base.as_str();
    let lookups = selectors.iter().map(|selector| async move {
        let set = dns
            .query(&format!("{selector}.{base}"), RecordType::TXT, txt_string)
            .await;
        (selector, set)
    });
    let (probe, answers) = tokio::join!(
        dns.query(&random, RecordType::TXT, txt_string),
        futures::future::join_all(lookups)
    );
    observation.queries += 1 + selectors.len() as u32;

    // A wildcard makes the random label exist, with or without a TXT record.
    let wildcard = match probe.outcome {
        Outcome::NxDomain => Some(false),
        Outcome::Data | Outcome::NoData => Some(true),
        _ => None,
    };
    observation.wildcard = wildcard;
    for (selector, set) in answers {
        if set.outcome.is_failure() {
            observation.failed_selectors += 1;
            continue;
        }
        if set.records.is_empty() || set.records == probe.records {
            continue;
        }
        // A key record starts with `v=DKIM1` or, without `v`, has a `p` tag somewhere.
        let text = set
            .records
            .iter()
            .find(|text| text.trim_start().starts_with("v=DKIM1"))
            .or_else(|| set.records.iter().find(|text| text.contains("p=")))
            .unwrap_or(&set.records[0])
            .clone();
        observation.keys.push(SelectorKey {
            selector: selector.clone(),
            key: dkim::parse(&text),
            text,
        });
    }

    observation.evidence = if !observation.keys.is_empty() {
        DkimEvidence::KeysFound
    } else if wildcard == Some(true) {
        DkimEvidence::Wildcard
    } else if observation.failed_selectors > 0 || wildcard.is_none() {
        DkimEvidence::Unknown
    } else {
        DkimEvidence::EntOnly
    };
    observation
}

/// Outcome of the MTA-STS policy fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyPresence {
    /// HTTP 200 over TLS with a trusted certificate for `mta-sts.<name>`.
    Present,
    /// `mta-sts.<name>` does not exist or has no address, or returned 404 with a trusted
    /// certificate.
    Absent,
    /// The fetch failed or its answer cannot count as a policy; the reason says why.
    Unknown,
    /// No fetch, because the `_mta-sts` record is absent or unusable.
    NotFetched,
}

impl PolicyPresence {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Present => "present",
            Self::Absent => "absent",
            Self::Unknown => "unknown",
            Self::NotFetched => "not_fetched",
        }
    }
}

/// The MTA-STS observations of one domain.
#[derive(Debug, Clone)]
pub struct MtaStsObservation {
    pub record: RecordObservation<MtaStsRecord>,
    pub policy_presence: PolicyPresence,
    /// Reason the policy is absent or unknown, as a short snake_case token.
    pub policy_reason: Option<String>,
    pub policy: Option<MtaStsPolicy>,
    /// The MX hosts of the name that the policy was compared with.
    pub mx_hosts: Vec<String>,
    /// MX hosts that no policy pattern matches; `None` without a policy or MX hosts.
    pub uncovered_mx: Option<Vec<String>>,
}

impl MtaStsObservation {
    pub fn without_fetch(record: RecordObservation<MtaStsRecord>) -> Self {
        Self {
            record,
            policy_presence: PolicyPresence::NotFetched,
            policy_reason: None,
            policy: None,
            mx_hosts: Vec::new(),
            uncovered_mx: None,
        }
    }
}

/// The record observations of the email check that need no connection.
#[derive(Debug, Clone)]
pub struct MailRecords {
    pub dkim: DkimObservation,
    pub mta_sts: RecordObservation<MtaStsRecord>,
    pub tls_rpt: RecordObservation<TlsRptRecord>,
    pub bimi: RecordObservation<BimiRecord>,
}

/// Queries the DKIM, MTA-STS, TLS-RPT and BIMI records of `name` at the same time.
pub async fn observe_records(dns: &DnsClient, name: &str, selectors: &[String]) -> MailRecords {
    let (mta_sts, tls_rpt, bimi) = (
        format!("_mta-sts.{name}"),
        format!("_smtp._tls.{name}"),
        format!("default._bimi.{name}"),
    );
    let (dkim, mta_sts, tls_rpt, bimi) = tokio::join!(
        observe_dkim(dns, name, selectors),
        dns.query(&mta_sts, RecordType::TXT, txt_string),
        dns.query(&tls_rpt, RecordType::TXT, txt_string),
        dns.query(&bimi, RecordType::TXT, txt_string),
    );
    MailRecords {
        dkim,
        mta_sts: observe_record(&mta_sts, mtasts::VERSION, mtasts::parse_record),
        tls_rpt: observe_record(&tls_rpt, tlsrpt::VERSION, tlsrpt::parse),
        bimi: observe_record(&bimi, bimi::VERSION, bimi::parse),
    }
}

/// Decides what an HTTPS answer for the policy URL means. RFC 8461 section 3.3 requires a
/// trusted certificate for `mta-sts.<name>`, and forbids following redirects.
pub fn judge_policy_fetch(
    fetched: &WebObservation,
) -> (PolicyPresence, Option<String>, Option<MtaStsPolicy>) {
    let unknown = |reason: String| (PolicyPresence::Unknown, Some(reason), None);
    if fetched.outcome != WebOutcome::Ok {
        return unknown(fetched.outcome.as_str().to_string());
    }
    match &fetched.tls {
        Some(tls) if tls.verdict == CertVerdict::Trusted => {}
        Some(tls) => return unknown(format!("certificate_{}", tls.verdict.as_str())),
        None => return unknown("no_tls".to_string()),
    }
    match fetched.status {
        Some(200) => {}
        Some(404) => return (PolicyPresence::Absent, Some("http_404".to_string()), None),
        Some(status) if (300..400).contains(&status) => return unknown("redirect".to_string()),
        Some(status) => return unknown(format!("http_{status}")),
        None => return unknown("no_status".to_string()),
    }
    // NOTE: the body is read up to the web client's 16 KiB prefix, and RFC 8461 allows
    // policies up to 64 KiB, so a longer policy is parsed truncated.
    let body = fetched.body.as_deref().unwrap_or_default();
    let policy = mtasts::parse_policy(&String::from_utf8_lossy(body));
    (PolicyPresence::Present, None, Some(policy))
}

/// Fetches the MTA-STS policy of `name` from `addresses` of `mta-sts.<name>`, which the
/// caller resolved and filtered, and compares its MX patterns with `mx_hosts`.
pub async fn fetch_policy(
    web: &WebClient,
    name: &str,
    addresses: &[IpAddr],
    mx_hosts: Vec<String>,
    record: RecordObservation<MtaStsRecord>,
) -> MtaStsObservation {
    let mut observation = MtaStsObservation::without_fetch(record);
    observation.mx_hosts = mx_hosts;
    let url = format!("https://mta-sts.{name}/.well-known/mta-sts.txt");
    let fetched = match url::Url::parse(&url) {
        Ok(url) => web.fetch_url(&url, addresses).await,
        Err(error) => WebObservation::without_request(
            WebOutcome::HttpError,
            Some(format!("{url:?} is not a valid URL: {error}")),
        ),
    };
    let (presence, reason, policy) = judge_policy_fetch(&fetched);
    observation.policy_presence = presence;
    observation.policy_reason = reason;
    if let Some(policy) = &policy
        && !observation.mx_hosts.is_empty()
    {
        observation.uncovered_mx = Some(mtasts::uncovered_mx_hosts(policy, &observation.mx_hosts));
    }
    observation.policy = policy;
    observation
}

/// Shared, read-only selector list of a scan.
pub type Selectors = Arc<[String]>;

/// The email observations beyond SPF and DMARC of one domain.
#[derive(Debug, Clone)]
pub struct MailScan {
    pub dkim: DkimObservation,
    pub mta_sts: MtaStsObservation,
    pub tls_rpt: RecordObservation<TlsRptRecord>,
    pub bimi: RecordObservation<BimiRecord>,
    /// True for a null MX (RFC 7505: one `MX 0 .`); `None` when the MX query failed.
    pub null_mx: Option<bool>,
}

/// Returns the MX hosts in lower case without the final dot, and whether the set is a null
/// MX; `None` when the query failed.
pub fn mx_hosts(set: &RecordSet<Mx>) -> Option<(Vec<String>, bool)> {
    if set.outcome.is_failure() {
        return None;
    }
    let null = set.records.len() == 1 && set.records[0].exchange.trim_end_matches('.').is_empty();
    let hosts = set
        .records
        .iter()
        .map(|mx| mx.exchange.trim_end_matches('.').to_ascii_lowercase())
        .filter(|host| !host.is_empty())
        .collect();
    Some((hosts, null))
}

impl Scanner {
    /// Completes the email observations after the DNS step: the MX hosts (from the DNS check
    /// when it ran) and the MTA-STS policy when the `_mta-sts` record exists.
    pub(crate) async fn scan_mail(
        &self,
        name: &str,
        records: MailRecords,
        mx: Option<&RecordSet<Mx>>,
        deadline: tokio::time::Instant,
    ) -> MailScan {
        let queried;
        let mx = match mx {
            Some(set) => set,
            None => {
                let query = self.dns.query(name, RecordType::MX, mx_record);
                queried = tokio::time::timeout_at(deadline, query)
                    .await
                    .unwrap_or_else(|_| RecordSet {
                        outcome: Outcome::Timeout,
                        records: Vec::new(),
                        error: Some("the per-domain deadline ended".to_string()),
                    });
                &queried
            }
        };
        let mx = mx_hosts(mx);
        let null_mx = mx.as_ref().map(|(_, null)| *null);
        let mx_hosts = mx.map(|(hosts, _)| hosts).unwrap_or_default();

        let mta_sts = match records.mta_sts.presence {
            RecordPresence::Present => {
                let record = records.mta_sts.clone();
                let fetch = self.observe_policy(name, mx_hosts.clone(), records.mta_sts);
                match tokio::time::timeout_at(deadline, fetch).await {
                    Ok(observation) => observation,
                    Err(_) => MtaStsObservation {
                        policy_presence: PolicyPresence::Unknown,
                        policy_reason: Some("deadline_exceeded".to_string()),
                        mx_hosts,
                        ..MtaStsObservation::without_fetch(record)
                    },
                }
            }
            _ => MtaStsObservation::without_fetch(records.mta_sts),
        };
        MailScan {
            dkim: records.dkim,
            mta_sts,
            tls_rpt: records.tls_rpt,
            bimi: records.bimi,
            null_mx,
        }
    }

    /// Resolves `mta-sts.<name>`, keeps the addresses posture may connect to, and fetches the
    /// policy from them.
    async fn observe_policy(
        &self,
        name: &str,
        mx_hosts: Vec<String>,
        record: RecordObservation<MtaStsRecord>,
    ) -> MtaStsObservation {
        let host = format!("mta-sts.{name}");
        let found = self.dns.observe_addresses(&host).await;
        let failed = [
            found.a.as_ref().map(|a| a.outcome),
            found.aaaa.as_ref().map(|a| a.outcome),
        ]
        .into_iter()
        .flatten()
        .any(Outcome::is_failure);
        let not_fetched = |presence, reason: &str| MtaStsObservation {
            policy_presence: presence,
            policy_reason: Some(reason.to_string()),
            mx_hosts: mx_hosts.clone(),
            ..MtaStsObservation::without_fetch(record.clone())
        };
        match self.filter_addresses(&found.addresses()) {
            Err(_) => not_fetched(PolicyPresence::Unknown, "blocked_address"),
            Ok(allowed) if allowed.is_empty() && failed => {
                not_fetched(PolicyPresence::Unknown, "dns_failure")
            }
            Ok(allowed) if allowed.is_empty() => not_fetched(PolicyPresence::Absent, "no_address"),
            Ok(allowed) => fetch_policy(&self.web, name, &allowed, mx_hosts, record).await,
        }
    }
}

pub(crate) fn mx_record(data: &RData) -> Option<Mx> {
    match data {
        RData::MX(mx) => Some(Mx {
            preference: mx.preference,
            exchange: mx.exchange.to_ascii(),
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(outcome: Outcome, records: &[&str]) -> RecordSet<String> {
        RecordSet {
            outcome,
            records: records.iter().map(|text| text.to_string()).collect(),
            error: None,
        }
    }

    #[test]
    fn record_selection_by_version() {
        let found = observe_record(
            &set(
                Outcome::Data,
                &["v=TLSRPTv1; rua=mailto:r@example.com", "other"],
            ),
            "TLSRPTv1",
            tlsrpt::parse,
        );
        assert_eq!(found.presence, RecordPresence::Present);
        assert_eq!(found.record.unwrap().rua, ["mailto:r@example.com"]);

        let prefix_only = observe_record(
            &set(Outcome::Data, &["v=TLSRPTv10"]),
            "TLSRPTv1",
            tlsrpt::parse,
        );
        assert_eq!(prefix_only.presence, RecordPresence::Absent);

        let two = observe_record(
            &set(
                Outcome::Data,
                &["v=BIMI1; l=", "v=BIMI1; l=https://a.example/l.svg"],
            ),
            "BIMI1",
            bimi::parse,
        );
        assert_eq!(two.presence, RecordPresence::MultipleRecords);
        assert!(two.record.is_none());

        let failed = observe_record(&set(Outcome::Timeout, &[]), "STSv1", mtasts::parse_record);
        assert_eq!(failed.presence, RecordPresence::Unknown);
    }

    #[test]
    fn selector_list_parsing() {
        let mut selectors = Vec::new();
        parse_selectors(DKIM_SELECTORS, &mut selectors).unwrap();
        assert_eq!(selectors.len(), 34);
        assert!(selectors.contains(&"selector1".to_string()));
        parse_selectors(
            "# extra\nSelector1\ncustom # trailing comment\n\nsub.domain-1\n",
            &mut selectors,
        )
        .unwrap();
        assert_eq!(selectors.len(), 36);
        assert_eq!(selectors[34..], ["custom", "sub.domain-1"]);

        // Each of these would fail every query under it, so the list is rejected.
        let long_label = "a".repeat(64);
        let long_selector = ["abcdefghij"; 13].join(".");
        for (text, reason) in [
            ("ok\nx..y", "line 2: selector \"x..y\" has an empty label"),
            (".lead", "empty label"),
            ("trail.", "empty label"),
            ("foo bar", "a character other than"),
            ("semi;colon", "a character other than"),
            ("quote\"d", "a character other than"),
            ("caf\u{e9}", "a character other than"),
            (long_label.as_str(), "longer than 63"),
            (long_selector.as_str(), "longer than 128"),
            ("-dash", "not a name the DNS client accepts"),
            ("under_score", "not a name the DNS client accepts"),
        ] {
            let error = parse_selectors(text, &mut Vec::new()).unwrap_err();
            assert!(error.contains(reason), "{text:?}: {error}");
        }
    }

    fn fetched(status: u16, verdict: CertVerdict, body: &str) -> WebObservation {
        WebObservation {
            status: Some(status),
            tls: Some(crate::check::web::TlsFacts {
                version: "TLSv1.3",
                verdict,
                verdict_detail: None,
                not_after: None,
            }),
            body: Some(bytes::Bytes::from(body.to_string())),
            ..WebObservation::without_request(WebOutcome::Ok, None)
        }
    }

    #[test]
    fn policy_fetch_judgement() {
        let policy = "version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 604800\n";
        let (presence, reason, parsed) =
            judge_policy_fetch(&fetched(200, CertVerdict::Trusted, policy));
        assert_eq!(presence, PolicyPresence::Present);
        assert_eq!(reason, None);
        assert_eq!(parsed.unwrap().mode, Some(mtasts::Mode::Enforce));

        let (presence, reason, _) =
            judge_policy_fetch(&fetched(200, CertVerdict::SelfSigned, policy));
        assert_eq!(presence, PolicyPresence::Unknown);
        assert_eq!(reason.as_deref(), Some("certificate_self_signed"));

        let (presence, reason, _) = judge_policy_fetch(&fetched(301, CertVerdict::Trusted, ""));
        assert_eq!(presence, PolicyPresence::Unknown);
        assert_eq!(reason.as_deref(), Some("redirect"));

        let (presence, _, _) = judge_policy_fetch(&fetched(404, CertVerdict::Trusted, ""));
        assert_eq!(presence, PolicyPresence::Absent);

        let refused = WebObservation::without_request(WebOutcome::ConnectRefused, None);
        let (presence, reason, _) = judge_policy_fetch(&refused);
        assert_eq!(presence, PolicyPresence::Unknown);
        assert_eq!(reason.as_deref(), Some(WebOutcome::ConnectRefused.as_str()));
    }
}
