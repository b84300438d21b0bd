//! Static analysis of a domain's SPF policy for scanning, where no client address or sender
//! is known. It walks the whole include and redirect tree, counts DNS-querying terms and void
//! lookups over every term (evaluation stops at the first match, so this is the worst case),
//! and computes how many IPv4 addresses the policy passes.
//!
//! Terms whose macros need a sender or client (`%{i}`, `%{s}`, `%{l}`, ...) are reported as
//! not evaluable and add no addresses, and neither does `ptr`, which depends on the client.
//! Void lookups are those an IPv4 client would cause, because only A records are queried.

use std::future::Future;
use std::pin::Pin;

use ipnet::Ipv4Net;

use super::eval::{MAX_LOOKUPS, MAX_MX_NAMES, MAX_VOID_LOOKUPS, Problem, select_record};
use super::lookup::SpfDns;
use super::macros::{MacroString, MacroValues, is_valid_query_name, query_name};
use super::record::{
    Directive, Mechanism, Qualifier, Record, Warning, has_spf2_record, select_records,
};

/// Counted lookups past which the walk stops descending, so that a tree that repeats large
/// includes many times stays bounded. Ten times the RFC 7208 limit of 10.
const MAX_WALKED_LOOKUPS: u32 = 10 * MAX_LOOKUPS;

/// The SPF posture of one domain.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Analysis {
    pub domain: String,
    /// The SPF records at the domain; more than one makes every evaluation a permerror.
    pub records: Vec<String>,
    /// Problems found in walk order, then the lookup limits. Empty means a valid policy.
    pub problems: Vec<Problem>,
    /// The result for a client that no term matches: the first `all` of the record, else
    /// that of the redirect target, else neutral (implied). `None` when it cannot be known.
    pub all: Option<Qualifier>,
    /// True when neither `all` nor `redirect` ends the policy, so neutral is implied.
    pub all_implied: bool,
    /// DNS-querying terms in the whole tree, counted past the limit of 10.
    pub lookups: u32,
    pub void_lookups: u32,
    /// Targets of every `include` in the tree, in walk order.
    pub includes: Vec<String>,
    /// True when `+all` (or a bare `all`) passes every client, at the top or through
    /// pass-qualified includes and redirects.
    pub pass_all: bool,
    pub uses_ptr: bool,
    /// True when an `spf2.0/...` record is published at the domain.
    pub deprecated_spf2: bool,
    /// Number of IPv4 addresses that get `pass`, overlapping ranges merged and addresses
    /// already decided by an earlier term excluded.
    pub authorized_ipv4: u64,
    /// Terms that could not be evaluated without a client, as written.
    pub not_evaluable: Vec<String>,
    pub warnings: Vec<Warning>,
    /// True when the walk stopped descending after too many lookups.
    pub truncated: bool,
}

impl Analysis {
    pub fn is_valid(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Analyzes the SPF policy of `domain`.
pub async fn analyze<D: SpfDns>(dns: &D, domain: &str) -> Analysis {
    let domain = domain.trim_end_matches('.').to_string();
    let mut walker = Walker {
        dns,
        report: Analysis {
            domain: domain.clone(),
            ..Analysis::default()
        },
        ancestors: vec![domain.clone()],
    };

    // 1. The records at the domain itself.
    let txt = match dns.txt(&domain).await.into_records() {
        Ok(found) => found.unwrap_or_default(),
        Err(detail) => {
            walker.problem(Problem::DnsFailure {
                name: domain,
                detail,
            });
            return walker.report;
        }
    };
    walker.report.records = select_records(&txt)
        .into_iter()
        .map(str::to_string)
        .collect();
    walker.report.deprecated_spf2 = has_spf2_record(&txt);
    if walker.report.deprecated_spf2 {
        walker.warn(Warning::DeprecatedSpf2Record);
    }
    let record = match select_record(&domain, &txt) {
        Ok(record) => record,
        Err(problem) => {
            walker.problem(problem);
            return walker.report;
        }
    };

    // 2. The whole tree, then the limits over it.
    let summary = walker.walk_record(&record, &domain, true).await;
    let mut report = walker.report;
    report.authorized_ipv4 = summary.pass.len();
    report.all = summary.all;
    report.all_implied = summary.all_implied;
    if report.lookups > MAX_LOOKUPS {
        report.problems.push(Problem::LookupLimit);
    }
    if report.void_lookups > MAX_VOID_LOOKUPS {
        report.problems.push(Problem::VoidLookupLimit);
    }
    report
}

/// The addresses a record passes, and its result for a client that no term matches.
struct Summary {
    pass: Ipv4Set,
    all: Option<Qualifier>,
    all_implied: bool,
}

type BoxFuture<'s, T> = Pin<Box<dyn Future<Output = T> + Send + 's>>;

struct Walker<'a, D> {
    dns: &'a D,
    report: Analysis,
    /// The include and redirect chain down to the record being walked, to detect loops.
    ancestors: Vec<String>,
}

impl<D: SpfDns> Walker<'_, D> {
    fn problem(&mut self, problem: Problem) {
        self.report.problems.push(problem);
    }

    fn warn(&mut self, warning: Warning) {
        if !self.report.warnings.contains(&warning) {
            self.report.warnings.push(warning);
        }
    }

    /// Walks the record at an include or redirect target. Boxed because it recurses.
    fn walk_domain<'s>(
        &'s mut self,
        domain: String,
        authorizing: bool,
    ) -> BoxFuture<'s, Result<Summary, Problem>> {
        Box::pin(async move {
            if self.ancestors.contains(&domain) {
                return Err(Problem::IncludeLoop { domain });
            }
            let txt = match self.dns.txt(&domain).await.into_records() {
                Ok(Some(txt)) => txt,
                // Not a void lookup: check_host() counts none for include and redirect.
                Ok(None) => return Err(Problem::NoRecord { domain }),
                Err(detail) => {
                    return Err(Problem::DnsFailure {
                        name: domain,
                        detail,
                    });
                }
            };
            let record = select_record(&domain, &txt)?;
            self.ancestors.push(domain.clone());
            let summary = self.walk_record(&record, &domain, authorizing).await;
            self.ancestors.pop();
            Ok(summary)
        })
    }

    /// Walks every term of a record in order. `authorizing` is false below an include whose
    /// qualifier is not `+`, where a pass inside gives the client no pass.
    async fn walk_record(&mut self, record: &Record, domain: &str, authorizing: bool) -> Summary {
        for warning in record.warnings() {
            self.warn(warning);
        }
        let mut decided = Ipv4Set::default();
        let mut pass = Ipv4Set::default();
        for directive in record.directives() {
            let passes = authorizing && directive.qualifier == Qualifier::Pass;
            // An earlier term decides an address first (RFC 7208 section 4.6.2).
            if let Some(matched) = self.match_set(directive, domain, passes).await {
                if directive.qualifier == Qualifier::Pass {
                    pass = pass.union(&matched.difference(&decided));
                }
                decided = decided.union(&matched);
            }
        }

        if let Some(all) = record.all() {
            return Summary {
                pass,
                all: Some(all),
                all_implied: false,
            };
        }
        let Some(spec) = record.redirect() else {
            // RFC 7208 section 4.7: no match and no redirect gives neutral.
            return Summary {
                pass,
                all: Some(Qualifier::Neutral),
                all_implied: true,
            };
        };
        let mut summary = Summary {
            pass,
            all: None,
            all_implied: false,
        };
        self.report.lookups += 1;
        let Some(target) = self.target(Some(spec), domain, &format!("redirect={spec}")) else {
            return summary;
        };
        match self.descend(target.clone(), authorizing).await {
            Ok(inner) => {
                summary.pass = summary.pass.union(&inner.pass.difference(&decided));
                summary.all = inner.all;
                summary.all_implied = inner.all_implied;
            }
            Err(Problem::NoRecord { .. }) => {
                self.problem(Problem::RedirectWithoutRecord { target })
            }
            Err(problem) => self.problem(problem),
        }
        summary
    }

    /// Walks an include or redirect target unless the walk is already too large.
    async fn descend(&mut self, target: String, authorizing: bool) -> Result<Summary, Problem> {
        if self.report.lookups > MAX_WALKED_LOOKUPS {
            self.report.truncated = true;
            return Ok(Summary {
                pass: Ipv4Set::default(),
                all: None,
                all_implied: false,
            });
        }
        self.walk_domain(target, authorizing).await
    }

    /// Computes the IPv4 addresses a directive matches, or `None` when they depend on the
    /// client. `passes` is true when a match there gives the client pass.
    async fn match_set(
        &mut self,
        directive: &Directive,
        domain: &str,
        passes: bool,
    ) -> Option<Ipv4Set> {
        if directive.mechanism.queries_dns() {
            self.report.lookups += 1;
        }
        let term = directive.to_string();
        match &directive.mechanism {
            Mechanism::All => {
                self.report.pass_all |= passes;
                Some(Ipv4Set::full())
            }
            Mechanism::Ip4(network) => Some(Ipv4Set::from_network(*network)),
            Mechanism::Ip6(_) => Some(Ipv4Set::default()),
            Mechanism::A { domain: spec, cidr } => {
                let name = self.target(spec.as_ref(), domain, &term)?;
                self.host_set(&name, cidr.ip4, true).await
            }
            Mechanism::Mx { domain: spec, cidr } => {
                let name = self.target(spec.as_ref(), domain, &term)?;
                self.mx_set(&name, cidr.ip4).await
            }
            Mechanism::Ptr(_) => {
                self.report.uses_ptr = true;
                self.report.not_evaluable.push(term);
                None
            }
            Mechanism::Exists(spec) => {
                let name = self.target(Some(spec), domain, &term)?;
                self.exists_set(&name).await
            }
            Mechanism::Include(spec) => {
                let name = self.target(Some(spec), domain, &term)?;
                self.include_set(name, passes).await
            }
        }
    }

    async fn include_set(&mut self, target: String, passes: bool) -> Option<Ipv4Set> {
        self.report.includes.push(target.clone());
        match self.descend(target.clone(), passes).await {
            Ok(inner) => Some(inner.pass),
            // RFC 7208 section 5.2: an include target without a record is a permerror.
            Err(Problem::NoRecord { .. }) => {
                self.problem(Problem::IncludeWithoutRecord { target });
                None
            }
            Err(problem) => {
                self.problem(problem);
                None
            }
        }
    }

    /// `exists` matches every client when the name has an A record, and none when not.
    async fn exists_set(&mut self, name: &str) -> Option<Ipv4Set> {
        match self.dns.a(name).await.into_records() {
            Ok(Some(_)) => Some(Ipv4Set::full()),
            Ok(None) => {
                self.report.void_lookups += 1;
                Some(Ipv4Set::default())
            }
            Err(detail) => {
                self.dns_failure(name, detail);
                None
            }
        }
    }

    /// Looks up the A records of `name` and widens each to the IPv4 CIDR length.
    async fn host_set(&mut self, name: &str, length: u8, count_void: bool) -> Option<Ipv4Set> {
        match self.dns.a(name).await.into_records() {
            Ok(Some(addresses)) => {
                let sets = addresses.into_iter().filter_map(|address| {
                    Ipv4Net::new(address, length)
                        .ok()
                        .map(Ipv4Set::from_network)
                });
                Some(sets.fold(Ipv4Set::default(), |all, set| all.union(&set)))
            }
            Ok(None) => {
                if count_void {
                    self.report.void_lookups += 1;
                }
                Some(Ipv4Set::default())
            }
            Err(detail) => {
                self.dns_failure(name, detail);
                None
            }
        }
    }

    async fn mx_set(&mut self, name: &str, length: u8) -> Option<Ipv4Set> {
        let exchanges = match self.dns.mx(name).await.into_records() {
            Ok(Some(exchanges)) => exchanges,
            Ok(None) => {
                self.report.void_lookups += 1;
                return Some(Ipv4Set::default());
            }
            Err(detail) => {
                self.dns_failure(name, detail);
                return None;
            }
        };
        // RFC 7208 section 4.6.4: more than 10 MX records make the mechanism a permerror.
        if exchanges.len() > MAX_MX_NAMES {
            self.problem(Problem::MxLimit {
                domain: name.to_string(),
                count: exchanges.len(),
            });
            return None;
        }
        let mut set = Ipv4Set::default();
        for exchange in &exchanges {
            let exchange = exchange.trim_end_matches('.');
            if !exchange.is_empty() {
                set = set.union(&self.host_set(exchange, length, false).await?);
            }
        }
        Some(set)
    }

    /// Expands a domain-spec with only the domain known. A spec that needs more is recorded
    /// as not evaluable, and an invalid name as a problem.
    fn target(&mut self, spec: Option<&MacroString>, domain: &str, term: &str) -> Option<String> {
        let Some(spec) = spec else {
            return Some(domain.to_string());
        };
        let values = MacroValues {
            domain,
            ..MacroValues::default()
        };
        let Ok(expanded) = spec.expand(&values) else {
            self.report.not_evaluable.push(term.to_string());
            return None;
        };
        let name = query_name(&expanded);
        if !is_valid_query_name(&name) {
            self.problem(Problem::InvalidName { name });
            return None;
        }
        Some(name)
    }

    fn dns_failure(&mut self, name: &str, detail: String) {
        self.problem(Problem::DnsFailure {
            name: name.to_string(),
            detail,
        });
    }
}

/// A set of IPv4 addresses as sorted, disjoint, non-adjacent inclusive ranges. Bounds are
/// `u64` so that `end + 1` cannot overflow.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Ipv4Set {
    ranges: Vec<(u64, u64)>,
}

impl Ipv4Set {
    fn full() -> Self {
        Self {
            ranges: vec![(0, u64::from(u32::MAX))],
        }
    }

    fn from_network(network: Ipv4Net) -> Self {
        let start = u64::from(u32::from(network.network()));
        let end = u64::from(u32::from(network.broadcast()));
        Self {
            ranges: vec![(start, end)],
        }
    }

    fn len(&self) -> u64 {
        self.ranges.iter().map(|(start, end)| end - start + 1).sum()
    }

    fn union(&self, other: &Self) -> Self {
        let mut all: Vec<(u64, u64)> = self.ranges.iter().chain(&other.ranges).copied().collect();
        all.sort_unstable();
        let mut merged: Vec<(u64, u64)> = Vec::with_capacity(all.len());
        for (start, end) in all {
            match merged.last_mut() {
                Some(last) if start <= last.1 + 1 => last.1 = last.1.max(end),
                _ => merged.push((start, end)),
            }
        }
        Self { ranges: merged }
    }

    fn difference(&self, other: &Self) -> Self {
        let mut result = Vec::new();
        for &(start, end) in &self.ranges {
            let mut cursor = start;
            for &(cut_start, cut_end) in &other.ranges {
                if cut_end < cursor || cut_start > end {
                    continue;
                }
                if cut_start > cursor {
                    result.push((cursor, cut_start - 1));
                }
                cursor = cut_end + 1;
                if cursor > end {
                    break;
                }
            }
            if cursor <= end {
                result.push((cursor, end));
            }
        }
        Self { ranges: result }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::email::spf::memory::Zone;

    fn set(network: &str) -> Ipv4Set {
        Ipv4Set::from_network(network.parse().unwrap())
    }

    #[test]
    fn ipv4_set_operations() {
        let merged = set("192.0.2.0/25").union(&set("192.0.2.128/25"));
        assert_eq!(merged, set("192.0.2.0/24"));
        assert_eq!(merged.len(), 256);
        let holed = set("192.0.2.0/24").difference(&set("192.0.2.64/26"));
        assert_eq!(holed.len(), 192);
        assert_eq!(holed.ranges.len(), 2);
        assert_eq!(Ipv4Set::full().len(), 1 << 32);
        assert_eq!(set("10.0.0.0/8").difference(&Ipv4Set::full()).len(), 0);
    }

    #[tokio::test]
    async fn tree_counts_and_addresses() {
        let zone = Zone::from_records(&[
            (
                "example.com",
                "TXT v=spf1 ip4:192.0.2.0/24 include:_spf.a.test mx -all",
            ),
            ("example.com", "MX 10 mail.example.com"),
            ("mail.example.com", "A 192.0.2.10"),
            (
                "_spf.a.test",
                "TXT v=spf1 ip4:198.51.100.0/25 a:host.a.test ~all",
            ),
            ("host.a.test", "A 203.0.113.5"),
        ]);
        let report = analyze(&zone, "example.com").await;
        assert!(report.is_valid(), "{:?}", report.problems);
        assert_eq!(report.records.len(), 1);
        assert_eq!(report.lookups, 3);
        assert_eq!(report.void_lookups, 0);
        assert_eq!(report.includes, ["_spf.a.test"]);
        assert_eq!(report.all, Some(Qualifier::Fail));
        assert!(!report.all_implied);
        // 256 + 128 + 1; the MX host is inside the /24 already.
        assert_eq!(report.authorized_ipv4, 385);
        assert!(!report.pass_all);
    }

    #[tokio::test]
    async fn earlier_terms_decide_first() {
        let zone = Zone::from_records(&[
            (
                "example.com",
                "TXT v=spf1 -ip4:192.0.2.1 ?include:n.test ip4:192.0.2.0/24 -all",
            ),
            ("n.test", "TXT v=spf1 ip4:192.0.2.128/25 -all"),
        ]);
        let report = analyze(&zone, "example.com").await;
        // 256 minus the denied address and the 128 that the neutral include decides.
        assert_eq!(report.authorized_ipv4, 127);
    }

    #[tokio::test]
    async fn pass_all_and_warnings() {
        let zone = Zone::from_records(&[
            ("example.com", "TXT v=spf1 ptr include:open.test -all"),
            ("example.com", "TXT spf2.0/pra -all"),
            ("open.test", "TXT v=spf1 +all redirect=x.test"),
        ]);
        let report = analyze(&zone, "example.com").await;
        assert!(report.pass_all);
        assert!(report.uses_ptr);
        assert!(report.deprecated_spf2);
        assert_eq!(report.authorized_ipv4, 1 << 32);
        assert_eq!(report.not_evaluable, ["ptr"]);
        assert_eq!(report.lookups, 2);
        let expected = [
            Warning::DeprecatedSpf2Record,
            Warning::PtrMechanism,
            Warning::PassAll,
            Warning::RedirectIgnored,
        ];
        assert_eq!(report.warnings, expected);
    }

    #[tokio::test]
    async fn lookups_counted_past_limit() {
        let record = format!("TXT v=spf1 {}-all", "a:h.example.com ".repeat(12));
        let zone = Zone::from_records(&[
            ("example.com", record.as_str()),
            ("h.example.com", "A 192.0.2.1"),
        ]);
        let report = analyze(&zone, "example.com").await;
        assert_eq!(report.lookups, 12);
        assert_eq!(report.problems, [Problem::LookupLimit]);
        assert_eq!(report.authorized_ipv4, 1);
    }

    #[tokio::test]
    async fn void_lookups_and_missing_include() {
        let zone = Zone::from_records(&[(
            "example.com",
            "TXT v=spf1 a:gone1.test include:gone2.test mx:gone3.test exists:gone4.test ?all",
        )]);
        let report = analyze(&zone, "example.com").await;
        assert_eq!(report.void_lookups, 3);
        let expected = [
            Problem::IncludeWithoutRecord {
                target: "gone2.test".to_string(),
            },
            Problem::VoidLookupLimit,
        ];
        assert_eq!(report.problems, expected);
    }

    #[tokio::test]
    async fn sender_macros_not_evaluable() {
        let zone = Zone::from_records(&[
            (
                "example.com",
                "TXT v=spf1 exists:%{i}._spf.%{d} include:_s.%{d} redirect=r.test",
            ),
            ("_s.example.com", "TXT v=spf1 ip4:192.0.2.0/30"),
            ("r.test", "TXT v=spf1 ~all"),
        ]);
        let report = analyze(&zone, "example.com").await;
        assert!(report.is_valid(), "{:?}", report.problems);
        assert_eq!(report.not_evaluable, ["exists:%{i}._spf.%{d}"]);
        assert_eq!(report.includes, ["_s.example.com"]);
        assert_eq!(report.authorized_ipv4, 4);
        assert_eq!(report.all, Some(Qualifier::SoftFail));
        assert_eq!(report.lookups, 3);
    }

    #[tokio::test]
    async fn implied_neutral_and_record_problems() {
        let zone = Zone::from_records(&[
            ("plain.test", "TXT v=spf1 ip4:192.0.2.1"),
            ("two.test", "TXT v=spf1 -all"),
            ("two.test", "TXT v=spf1 ~all"),
            ("loop.test", "TXT v=spf1 include:loop2.test -all"),
            ("loop2.test", "TXT v=spf1 include:loop.test"),
        ]);
        let plain = analyze(&zone, "plain.test").await;
        assert_eq!(plain.all, Some(Qualifier::Neutral));
        assert!(plain.all_implied);
        let two = analyze(&zone, "two.test").await;
        assert_eq!(two.records.len(), 2);
        assert!(matches!(
            two.problems[..],
            [Problem::MultipleRecords { count: 2, .. }]
        ));
        let looped = analyze(&zone, "loop.test").await;
        assert!(matches!(looped.problems[..], [Problem::IncludeLoop { .. }]));
        let none = analyze(&zone, "absent.test").await;
        assert!(matches!(none.problems[..], [Problem::NoRecord { .. }]));
    }
}
