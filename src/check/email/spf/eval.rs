//! `check_host()` of RFC 7208 section 4: the SPF result for one client address, sender and
//! domain, with a trace of every term evaluated.
//!
//! Glossary (RFC 7208): a *term* is a directive (qualifier and mechanism) or a modifier; a
//! *DNS-querying term* is `include`, `a`, `mx`, `ptr`, `exists` or `redirect`, of which one
//! evaluation may run 10; a *void lookup* is a query of such a term that returns NXDOMAIN or
//! no records, of which one evaluation may have 2.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::pin::Pin;
use std::time::{SystemTime, UNIX_EPOCH};

use super::lookup::SpfDns;
use super::macros::{
    MacroContext, MacroLetter, MacroString, MacroValues, is_valid_query_name, query_name,
};
use super::record::{DualCidr, Mechanism, Qualifier, Record, SpfError, parse, select_records};

/// RFC 7208 section 4.6.4: at most 10 DNS-querying terms per evaluation, recursion included.
pub const MAX_LOOKUPS: u32 = 10;
/// RFC 7208 section 4.6.4: at most two void lookups.
pub const MAX_VOID_LOOKUPS: u32 = 2;
/// RFC 7208 section 4.6.4: an `mx` term with more MX records than this is a permerror.
pub const MAX_MX_NAMES: usize = 10;
/// RFC 7208 section 4.6.4: a `ptr` term or `%{p}` looks at no more PTR names than this.
pub const MAX_PTR_NAMES: usize = 10;

/// The results of RFC 7208 section 2.6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SpfResult {
    None,
    Neutral,
    Pass,
    Fail,
    SoftFail,
    TempError,
    PermError,
}

impl SpfResult {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Neutral => "neutral",
            Self::Pass => "pass",
            Self::Fail => "fail",
            Self::SoftFail => "softfail",
            Self::TempError => "temperror",
            Self::PermError => "permerror",
        }
    }
}

impl From<Qualifier> for SpfResult {
    fn from(qualifier: Qualifier) -> Self {
        match qualifier {
            Qualifier::Pass => Self::Pass,
            Qualifier::Fail => Self::Fail,
            Qualifier::SoftFail => Self::SoftFail,
            Qualifier::Neutral => Self::Neutral,
        }
    }
}

/// The reason an evaluation ended in none, temperror or permerror.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("DNS query for {name} failed: {detail}")]
    DnsFailure { name: String, detail: String },
    #[error("include or redirect loop back to {domain}")]
    IncludeLoop { domain: String },
    #[error("include:{target} has no SPF record")]
    IncludeWithoutRecord { target: String },
    #[error("{domain:?} is not a valid domain: {reason}")]
    InvalidDomain {
        domain: String,
        reason: &'static str,
    },
    #[error("invalid target name {name:?} after macro expansion")]
    InvalidName { name: String },
    #[error("more than {MAX_LOOKUPS} DNS-querying terms (include, a, mx, ptr, exists, redirect)")]
    LookupLimit,
    #[error("{domain} has {count} SPF records, expected one")]
    MultipleRecords { domain: String, count: usize },
    #[error("{domain} has {count} MX records, more than the {MAX_MX_NAMES} an mx term may use")]
    MxLimit { domain: String, count: usize },
    #[error("no SPF record at {domain}")]
    NoRecord { domain: String },
    #[error("redirect={target} has no SPF record")]
    RedirectWithoutRecord { target: String },
    #[error("invalid SPF record at {domain}: {error}")]
    Syntax { domain: String, error: SpfError },
    #[error("the value of macro %{{{letter}}} is not known")]
    UnknownMacroValue { letter: char },
    #[error("more than {MAX_VOID_LOOKUPS} void lookups (NXDOMAIN or no records)")]
    VoidLookupLimit,
}

impl Problem {
    /// Maps the problem to the result `check_host()` returns for it.
    pub fn result(&self) -> SpfResult {
        match self {
            Self::NoRecord { .. } | Self::InvalidDomain { .. } => SpfResult::None,
            Self::DnsFailure { .. } => SpfResult::TempError,
            _ => SpfResult::PermError,
        }
    }
}

/// The inputs of `check_host()` (RFC 7208 section 4.1).
#[derive(Debug, Clone)]
pub struct Params<'a> {
    /// The client address; an IPv4-mapped IPv6 address is evaluated as IPv4.
    pub ip: IpAddr,
    /// The domain whose policy is evaluated: the MAIL FROM domain, or the HELO name.
    pub domain: &'a str,
    /// The MAIL FROM address; empty for a null reverse-path.
    pub sender: &'a str,
    /// The HELO or EHLO name.
    pub helo: &'a str,
    /// The name of the checking host for `%{r}` in explanations.
    pub receiver: &'a str,
    /// Seconds since the Unix epoch for `%{t}` in explanations.
    pub timestamp: u64,
}

impl<'a> Params<'a> {
    /// Builds the inputs with `%{r}` as `unknown` and `%{t}` as the current time.
    pub fn new(ip: IpAddr, domain: &'a str, sender: &'a str, helo: &'a str) -> Self {
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_secs());
        Self {
            ip,
            domain,
            sender,
            helo,
            receiver: "unknown",
            timestamp,
        }
    }
}

/// The outcome of `check_host()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    pub result: SpfResult,
    /// The reason for none, temperror and permerror.
    pub problem: Option<Problem>,
    /// For fail, the text of the `exp=` modifier (RFC 7208 section 6.2). `None` means the
    /// domain gave none, so the caller shows its own default.
    pub explanation: Option<String>,
    pub trace: Trace,
}

/// The record of an evaluation: terms in order, counters and include targets.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Trace {
    pub terms: Vec<TermTrace>,
    /// DNS-querying terms evaluated, the one that went past the limit included.
    pub lookups: u32,
    pub void_lookups: u32,
    /// Targets of `include` terms, after macro expansion, in evaluation order.
    pub includes: Vec<String>,
}

/// One evaluated term.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TermTrace {
    /// The domain whose record contains the term.
    pub domain: String,
    pub term: String,
    /// 0 for the top record, 1 inside its first `include` or `redirect`, and so on.
    pub depth: u32,
    pub outcome: TermOutcome,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TermOutcome {
    /// The mechanism matched, or the `redirect` target gave the result.
    Match,
    NoMatch,
    /// The evaluation stopped at this term with temperror or permerror.
    Error,
}

/// Evaluates the SPF policy of `params.domain` for a client (RFC 7208 section 4).
pub async fn check_host<D: SpfDns>(dns: &D, params: &Params<'_>) -> Evaluation {
    // RFC 7208 section 4.3: a malformed or single-label domain gives none without a query.
    if let Err(reason) = check_initial_domain(params.domain) {
        let problem = Problem::InvalidDomain {
            domain: params.domain.to_string(),
            reason,
        };
        return Evaluation {
            result: problem.result(),
            problem: Some(problem),
            explanation: None,
            trace: Trace::default(),
        };
    }

    let (local_part, sender_domain) = split_sender(params.sender, params.helo);
    let evaluator = Evaluator {
        dns,
        ip: canonical_ip(params.ip),
        sender: format!("{local_part}@{sender_domain}"),
        local_part,
        sender_domain,
        helo: params.helo,
        receiver: params.receiver,
        timestamp: params.timestamp,
    };
    let mut state = State::default();
    let domain = params.domain.trim_end_matches('.').to_string();
    match evaluator.evaluate(&mut state, domain, true, 0).await {
        Ok(verdict) => Evaluation {
            result: verdict.result,
            problem: None,
            explanation: verdict.explanation,
            trace: state.trace,
        },
        Err(problem) => Evaluation {
            result: problem.result(),
            problem: Some(problem),
            explanation: None,
            trace: state.trace,
        },
    }
}

/// Checks the domain before any query (RFC 7208 section 4.3).
fn check_initial_domain(domain: &str) -> Result<(), &'static str> {
    let name = domain.strip_suffix('.').unwrap_or(domain);
    if name.starts_with('[') || name.parse::<IpAddr>().is_ok() {
        return Err("an address literal is not a domain");
    }
    if !is_valid_query_name(name) {
        return Err("a label is empty or longer than 63 octets, or the name is too long");
    }
    if !name.contains('.') {
        return Err("a single-label name is not a domain");
    }
    Ok(())
}

/// Splits the sender into local-part and domain. RFC 7208 section 2.4: an empty MAIL FROM
/// stands for `postmaster@` the HELO name; section 4.3: an empty local-part is `postmaster`.
fn split_sender(sender: &str, helo: &str) -> (String, String) {
    let (local_part, domain) = match sender.rsplit_once('@') {
        Some((local_part, domain)) => (local_part, domain),
        None if sender.is_empty() => ("", helo),
        None => ("", sender),
    };
    let local_part = if local_part.is_empty() {
        "postmaster"
    } else {
        local_part
    };
    (local_part.to_string(), domain.to_string())
}

/// RFC 7208 section 5: an IPv4-mapped IPv6 client is evaluated as IPv4.
fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// True when `name` is `domain` or a name below it, ignoring case and trailing dots.
pub(super) fn is_within(name: &str, domain: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    name == domain || name.ends_with(&format!(".{domain}"))
}

/// True when `a` and `b` agree in their first `length` bits.
pub(super) fn same_prefix_v4(a: Ipv4Addr, b: Ipv4Addr, length: u8) -> bool {
    let mask = u32::MAX
        .checked_shl(32 - u32::from(length.min(32)))
        .unwrap_or(0);
    (u32::from(a) ^ u32::from(b)) & mask == 0
}

fn same_prefix_v6(a: Ipv6Addr, b: Ipv6Addr, length: u8) -> bool {
    let mask = u128::MAX
        .checked_shl(128 - u32::from(length.min(128)))
        .unwrap_or(0);
    (u128::from(a) ^ u128::from(b)) & mask == 0
}

fn dns_failure(name: &str, detail: String) -> Problem {
    Problem::DnsFailure {
        name: name.to_string(),
        detail,
    }
}

/// Reads the one SPF record at `domain` (RFC 7208 section 4.5).
pub(super) fn select_record(domain: &str, txt: &[String]) -> Result<Record, Problem> {
    let records = select_records(txt);
    match records.as_slice() {
        [] => Err(Problem::NoRecord {
            domain: domain.to_string(),
        }),
        [text] => parse(text).map_err(|error| Problem::Syntax {
            domain: domain.to_string(),
            error,
        }),
        _ => Err(Problem::MultipleRecords {
            domain: domain.to_string(),
            count: records.len(),
        }),
    }
}

/// A result that a record reached by matching or by falling through.
struct Verdict {
    result: SpfResult,
    explanation: Option<String>,
}

type BoxFuture<'s, T> = Pin<Box<dyn Future<Output = T> + Send + 's>>;

/// The counters and trace shared by the whole recursion.
#[derive(Default)]
struct State {
    trace: Trace,
}

impl State {
    fn count_lookup(&mut self) -> Result<(), Problem> {
        self.trace.lookups += 1;
        if self.trace.lookups > MAX_LOOKUPS {
            return Err(Problem::LookupLimit);
        }
        Ok(())
    }

    fn count_void(&mut self) -> Result<(), Problem> {
        self.trace.void_lookups += 1;
        if self.trace.void_lookups > MAX_VOID_LOOKUPS {
            return Err(Problem::VoidLookupLimit);
        }
        Ok(())
    }

    /// Records a term about to be evaluated; its outcome stays `Error` unless it finishes.
    fn begin(&mut self, domain: &str, term: String, depth: u32) -> usize {
        self.trace.terms.push(TermTrace {
            domain: domain.to_string(),
            term,
            depth,
            outcome: TermOutcome::Error,
        });
        self.trace.terms.len() - 1
    }

    fn finish(&mut self, index: usize, matched: bool) {
        if let Some(entry) = self.trace.terms.get_mut(index) {
            entry.outcome = if matched {
                TermOutcome::Match
            } else {
                TermOutcome::NoMatch
            };
        }
    }
}

/// The fixed inputs of one evaluation.
struct Evaluator<'a, D> {
    dns: &'a D,
    ip: IpAddr,
    sender: String,
    local_part: String,
    sender_domain: String,
    helo: &'a str,
    receiver: &'a str,
    timestamp: u64,
}

impl<D: SpfDns> Evaluator<'_, D> {
    /// Evaluates the record at `domain`. Boxed because `include` and `redirect` recurse.
    fn evaluate<'s>(
        &'s self,
        state: &'s mut State,
        domain: String,
        explain: bool,
        depth: u32,
    ) -> BoxFuture<'s, Result<Verdict, Problem>> {
        Box::pin(async move {
            let txt = self.dns.txt(&domain).await.into_records();
            let txt = txt.map_err(|detail| dns_failure(&domain, detail))?;
            let record = select_record(&domain, &txt.unwrap_or_default())?;
            self.evaluate_record(state, &record, &domain, explain, depth)
                .await
        })
    }

    async fn evaluate_record(
        &self,
        state: &mut State,
        record: &Record,
        domain: &str,
        explain: bool,
        depth: u32,
    ) -> Result<Verdict, Problem> {
        // RFC 7208 section 4.6.2: the first directive that matches gives the result.
        for directive in record.directives() {
            let index = state.begin(domain, directive.to_string(), depth);
            let matched = self
                .matches(state, &directive.mechanism, domain, depth)
                .await?;
            state.finish(index, matched);
            if matched {
                let result = SpfResult::from(directive.qualifier);
                let explanation = if result == SpfResult::Fail && explain {
                    self.explain(state, record, domain).await
                } else {
                    None
                };
                return Ok(Verdict {
                    result,
                    explanation,
                });
            }
        }

        // RFC 7208 section 6.1: with no match, redirect= hands over to another domain. A
        // record with `all` always matched above, so its redirect is ignored as required.
        let Some(target) = record.redirect() else {
            // RFC 7208 section 4.7: no match and no redirect gives neutral.
            return Ok(Verdict {
                result: SpfResult::Neutral,
                explanation: None,
            });
        };
        let index = state.begin(domain, format!("redirect={target}"), depth);
        state.count_lookup()?;
        let target = self.expand_target(state, target, domain).await?;
        let verdict = match self
            .evaluate(state, target.clone(), explain, depth + 1)
            .await
        {
            Err(problem) if problem.result() == SpfResult::None => {
                Err(Problem::RedirectWithoutRecord { target })
            }
            other => other,
        }?;
        state.finish(index, true);
        Ok(verdict)
    }

    /// Evaluates one mechanism (RFC 7208 section 5).
    async fn matches(
        &self,
        state: &mut State,
        mechanism: &Mechanism,
        domain: &str,
        depth: u32,
    ) -> Result<bool, Problem> {
        if mechanism.queries_dns() {
            state.count_lookup()?;
        }
        match mechanism {
            Mechanism::All => Ok(true),
            Mechanism::Ip4(network) => {
                Ok(matches!(self.ip, IpAddr::V4(ip) if network.contains(&ip)))
            }
            Mechanism::Ip6(network) => {
                Ok(matches!(self.ip, IpAddr::V6(ip) if network.contains(&ip)))
            }
            Mechanism::A { domain: spec, cidr } => {
                let target = self.target(state, spec.as_ref(), domain).await?;
                self.address_match(state, &target, *cidr, true).await
            }
            Mechanism::Mx { domain: spec, cidr } => {
                let target = self.target(state, spec.as_ref(), domain).await?;
                self.mx_match(state, &target, *cidr).await
            }
            Mechanism::Ptr(spec) => {
                let target = self.target(state, spec.as_ref(), domain).await?;
                let validated = self.validated_names(state, true).await?;
                Ok(validated.iter().any(|name| is_within(name, &target)))
            }
            Mechanism::Exists(spec) => {
                let target = self.expand_target(state, spec, domain).await?;
                // RFC 7208 section 5.7: always an A query, whatever the client's family.
                let found = self.dns.a(&target).await.into_records();
                match found.map_err(|detail| dns_failure(&target, detail))? {
                    Some(_) => Ok(true),
                    None => state.count_void().map(|()| false),
                }
            }
            Mechanism::Include(spec) => {
                let target = self.expand_target(state, spec, domain).await?;
                state.trace.includes.push(target.clone());
                self.include_match(state, target, depth).await
            }
        }
    }

    /// Maps the included domain's result to a match (RFC 7208 section 5.2).
    async fn include_match(
        &self,
        state: &mut State,
        target: String,
        depth: u32,
    ) -> Result<bool, Problem> {
        // The included record's exp= is never used, so it is not fetched.
        match self.evaluate(state, target.clone(), false, depth + 1).await {
            Ok(verdict) => Ok(verdict.result == SpfResult::Pass),
            Err(problem) if problem.result() == SpfResult::None => {
                Err(Problem::IncludeWithoutRecord { target })
            }
            Err(problem) => Err(problem),
        }
    }

    /// Looks up the addresses of `name` in the client's family and compares them with the
    /// client under the CIDR lengths (RFC 7208 section 5.3).
    async fn address_match(
        &self,
        state: &mut State,
        name: &str,
        cidr: DualCidr,
        count_void: bool,
    ) -> Result<bool, Problem> {
        let matched = match self.ip {
            IpAddr::V4(ip) => self.dns.a(name).await.into_records().map(|found| {
                found.map(|list| list.iter().any(|a| same_prefix_v4(*a, ip, cidr.ip4)))
            }),
            IpAddr::V6(ip) => self.dns.aaaa(name).await.into_records().map(|found| {
                found.map(|list| list.iter().any(|a| same_prefix_v6(*a, ip, cidr.ip6)))
            }),
        };
        match matched.map_err(|detail| dns_failure(name, detail))? {
            Some(matched) => Ok(matched),
            None if count_void => state.count_void().map(|()| false),
            None => Ok(false),
        }
    }

    /// Evaluates the `mx` mechanism (RFC 7208 section 5.4).
    async fn mx_match(
        &self,
        state: &mut State,
        name: &str,
        cidr: DualCidr,
    ) -> Result<bool, Problem> {
        let found = self.dns.mx(name).await.into_records();
        let Some(exchanges) = found.map_err(|detail| dns_failure(name, detail))? else {
            return state.count_void().map(|()| false);
        };
        // RFC 7208 section 4.6.4: more than 10 MX records make the mechanism a permerror.
        if exchanges.len() > MAX_MX_NAMES {
            return Err(Problem::MxLimit {
                domain: name.to_string(),
                count: exchanges.len(),
            });
        }
        for exchange in &exchanges {
            let exchange = exchange.trim_end_matches('.');
            // A null MX (RFC 7505) names no host.
            if exchange.is_empty() {
                continue;
            }
            if self.address_match(state, exchange, cidr, false).await? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Looks up the client's PTR names and keeps those whose addresses include the client
    /// (RFC 7208 section 5.5). A failed PTR query gives no names, and a failed address query
    /// skips that name.
    async fn validated_names(
        &self,
        state: &mut State,
        count_void: bool,
    ) -> Result<Vec<String>, Problem> {
        let names = match self.dns.ptr(self.ip).await.into_records() {
            Ok(Some(names)) => names,
            Ok(None) if count_void => return state.count_void().map(|()| Vec::new()),
            Ok(None) | Err(_) => return Ok(Vec::new()),
        };
        let mut validated = Vec::new();
        for name in names.iter().take(MAX_PTR_NAMES) {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            let exact = DualCidr::default();
            if let Ok(true) = self.address_match(state, &name, exact, false).await {
                validated.push(name);
            }
        }
        Ok(validated)
    }

    /// Computes `%{p}` (RFC 7208 section 7.3): the domain itself if validated, else a
    /// validated name below it, else any validated name, else `unknown`.
    async fn validated_name(&self, state: &mut State, domain: &str) -> Result<String, Problem> {
        let names = self.validated_names(state, false).await?;
        let exact = names.iter().find(|name| name.eq_ignore_ascii_case(domain));
        let chosen = exact
            .or_else(|| names.iter().find(|name| is_within(name, domain)))
            .or_else(|| names.first());
        Ok(chosen.map_or_else(|| "unknown".to_string(), String::clone))
    }

    async fn target(
        &self,
        state: &mut State,
        spec: Option<&MacroString>,
        domain: &str,
    ) -> Result<String, Problem> {
        match spec {
            Some(spec) => self.expand_target(state, spec, domain).await,
            None => Ok(domain.to_string()),
        }
    }

    /// Expands a domain-spec into a name to query (RFC 7208 section 7.3).
    async fn expand_target(
        &self,
        state: &mut State,
        spec: &MacroString,
        domain: &str,
    ) -> Result<String, Problem> {
        let name = query_name(&self.expand(state, spec, domain).await?);
        // NOTE: RFC 7208 leaves a name with an empty or over-long label open. posture
        // treats it as a permerror, which is one of the two results the openspf suite accepts.
        if !is_valid_query_name(&name) {
            return Err(Problem::InvalidName { name });
        }
        Ok(name)
    }

    async fn expand(
        &self,
        state: &mut State,
        text: &MacroString,
        domain: &str,
    ) -> Result<String, Problem> {
        let validated = if text.uses(MacroLetter::ValidatedName) {
            Some(self.validated_name(state, domain).await?)
        } else {
            None
        };
        let values = MacroValues {
            sender: Some(&self.sender),
            local_part: Some(&self.local_part),
            sender_domain: Some(&self.sender_domain),
            domain,
            ip: Some(self.ip),
            validated_name: validated.as_deref(),
            helo: Some(self.helo),
            receiver: Some(self.receiver),
            timestamp: Some(self.timestamp),
        };
        text.expand(&values)
            .map_err(|letter| Problem::UnknownMacroValue {
                letter: letter.as_char(),
            })
    }

    /// Builds the explanation of a fail (RFC 7208 section 6.2). Every failure on the way
    /// (DNS, not exactly one TXT record, a syntax error, non-ASCII text) leaves none.
    async fn explain(&self, state: &mut State, record: &Record, domain: &str) -> Option<String> {
        let spec = record.explanation()?;
        let name = self.expand_target(state, spec, domain).await.ok()?;
        let Ok(Some(texts)) = self.dns.txt(&name).await.into_records() else {
            return None;
        };
        let [text] = texts.as_slice() else {
            return None;
        };
        let message = MacroString::parse(text, MacroContext::Explanation).ok()?;
        self.expand(state, &message, domain).await.ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::email::spf::memory::Zone;

    fn client(ip: &str, domain: &'static str) -> Params<'static> {
        let mut params = Params::new(
            ip.parse().unwrap(),
            domain,
            "user@example.com",
            "mx.example.com",
        );
        params.timestamp = 0;
        params
    }

    /// The scan spawns one task per domain, so both futures must be `Send`.
    #[test]
    fn futures_are_send() {
        fn assert_send<T: Send>(_: &T) {}
        let zone = Zone::default();
        let params = client("192.0.2.1", "example.com");
        assert_send(&check_host(&zone, &params));
        assert_send(&crate::check::email::spf::analyze(&zone, "example.com"));
    }

    #[tokio::test]
    async fn trace_lists_terms_in_order() {
        let zone = Zone::from_records(&[
            (
                "example.com",
                "TXT v=spf1 ip4:198.51.100.0/24 include:_spf.example.net -all",
            ),
            ("_spf.example.net", "TXT v=spf1 a:mail.example.net ~all"),
            ("mail.example.net", "A 192.0.2.10"),
        ]);
        let evaluation = check_host(&zone, &client("192.0.2.10", "example.com")).await;
        assert_eq!(evaluation.result, SpfResult::Pass);
        let trace = evaluation.trace;
        let terms: Vec<(&str, &str, u32, TermOutcome)> = trace
            .terms
            .iter()
            .map(|t| (t.domain.as_str(), t.term.as_str(), t.depth, t.outcome))
            .collect();
        assert_eq!(
            terms,
            [
                (
                    "example.com",
                    "ip4:198.51.100.0/24",
                    0,
                    TermOutcome::NoMatch
                ),
                (
                    "example.com",
                    "include:_spf.example.net",
                    0,
                    TermOutcome::Match
                ),
                (
                    "_spf.example.net",
                    "a:mail.example.net",
                    1,
                    TermOutcome::Match
                ),
            ]
        );
        assert_eq!(trace.lookups, 2);
        assert_eq!(trace.void_lookups, 0);
        assert_eq!(trace.includes, ["_spf.example.net"]);
    }

    #[tokio::test]
    async fn lookups_past_limit_give_permerror() {
        // 2 includes and 9 mx terms: the eleventh DNS-querying term is the last mx.
        let zone = Zone::from_records(&[
            (
                "example.com",
                "TXT v=spf1 include:a.example.com include:b.example.com -all",
            ),
            ("a.example.com", "TXT v=spf1 mx mx mx mx mx"),
            ("b.example.com", "TXT v=spf1 mx mx mx mx"),
            ("a.example.com", "MX 10 mail.example.com"),
            ("b.example.com", "MX 10 mail.example.com"),
            ("mail.example.com", "A 192.0.2.99"),
        ]);
        let evaluation = check_host(&zone, &client("192.0.2.1", "example.com")).await;
        assert_eq!(evaluation.result, SpfResult::PermError);
        assert_eq!(evaluation.problem, Some(Problem::LookupLimit));
        assert_eq!(evaluation.trace.lookups, 11);
        assert_eq!(
            evaluation.trace.terms.last().unwrap().outcome,
            TermOutcome::Error
        );
    }

    #[tokio::test]
    async fn temperror_and_explanation() {
        let zone = Zone::from_records(&[
            (
                "example.com",
                "TXT v=spf1 -ip4:192.0.2.1 include:slow.example.net exp=why.%{d}",
            ),
            ("why.example.com", "TXT %{i} is not one of %{d}'s senders"),
            ("slow.example.net", "TIMEOUT"),
        ]);
        let evaluation = check_host(&zone, &client("192.0.2.1", "example.com")).await;
        assert_eq!(evaluation.result, SpfResult::Fail);
        assert_eq!(
            evaluation.explanation.as_deref(),
            Some("192.0.2.1 is not one of example.com's senders")
        );
        let evaluation = check_host(&zone, &client("192.0.2.2", "example.com")).await;
        assert_eq!(evaluation.result, SpfResult::TempError);
        assert!(matches!(
            evaluation.problem,
            Some(Problem::DnsFailure { .. })
        ));
    }

    #[test]
    fn sender_defaults() {
        assert_eq!(
            split_sender("", "mx.example.org"),
            ("postmaster".to_string(), "mx.example.org".to_string())
        );
        assert_eq!(
            split_sender("@example.net", "helo"),
            ("postmaster".to_string(), "example.net".to_string())
        );
        assert_eq!(
            split_sender("a@b@example.com", "helo"),
            ("a@b".to_string(), "example.com".to_string())
        );
    }

    #[test]
    fn initial_domain_rules() {
        assert!(check_initial_domain("example.com").is_ok());
        assert!(check_initial_domain("example.com.").is_ok());
        assert!(check_initial_domain("A2345678").is_err());
        assert!(check_initial_domain("[1.2.3.5]").is_err());
        assert!(check_initial_domain("a...example.com").is_err());
        assert!(check_initial_domain(&format!("{}.example.com", "a".repeat(64))).is_err());
    }

    #[test]
    fn prefixes() {
        let a = Ipv4Addr::new(192, 0, 2, 1);
        let b = Ipv4Addr::new(192, 0, 2, 200);
        assert!(same_prefix_v4(a, b, 24));
        assert!(!same_prefix_v4(a, b, 25));
        assert!(same_prefix_v4(a, Ipv4Addr::BROADCAST, 0));
        let c: Ipv6Addr = "2001:db8::1".parse().unwrap();
        let d: Ipv6Addr = "2001:db8::ffff".parse().unwrap();
        assert!(same_prefix_v6(c, d, 64));
        assert!(!same_prefix_v6(c, d, 128));
        assert!(same_prefix_v6(c, Ipv6Addr::UNSPECIFIED, 0));
    }

    #[test]
    fn mapped_addresses_become_ipv4() {
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(
            canonical_ip(mapped),
            IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))
        );
        let plain: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(canonical_ip(plain), plain);
    }
}
