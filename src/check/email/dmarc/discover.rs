//! DMARC policy discovery by both methods in use: RFC 7489 section 6.6.3 (the name, then
//! its organizational domain from the Public Suffix List) and the DNS tree walk of RFC 9989
//! section 4.10. Both run on every name, and the result marks where they disagree.
//!
//! A failed query (timeout, SERVFAIL) never turns into "absent": the method that met it
//! reports [`DiscoveryStatus::Failed`] unless the name's own record was already found.

use std::collections::{HashMap, HashSet};
use std::future::Future;

use serde::Serialize;

use super::super::issue::Issue;
use super::super::spf::Lookup;
use super::{PublicSuffixFlag, is_dmarc_record, parse};

/// RFC 9989 section 4.10 step 4: a name of this many labels or more is shortened at once,
/// so that no walk makes more than eight queries.
const WALK_SHORTCUT_LABELS: usize = 8;
/// RFC 9989 section 4.10 step 4: the labels that remain after that shortcut.
const WALK_SHORTENED_LABELS: usize = 7;

/// The TXT queries discovery needs. Names have no trailing dot; implementations join the
/// strings of each TXT record (RFC 7489 section 6.6.3 step 2).
pub trait DmarcDns: Sync {
    fn txt(&self, name: &str) -> impl Future<Output = Lookup<String>> + Send;
}

/// A discovery method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// RFC 7489 section 6.6.3: the name, then its organizational domain.
    Rfc7489,
    /// RFC 9989 section 4.10: the DNS tree walk.
    TreeWalk,
}

/// The outcome of one method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DiscoveryStatus {
    /// A single DMARC record applies.
    Found,
    /// Every query succeeded and no record applies.
    Absent,
    /// A query failed, so whether a record applies is not known.
    Failed,
    /// RFC 7489 only: several DMARC records at one name end discovery with none applied.
    MultipleRecords,
}

/// The outcome of one `_dmarc` query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum QueryOutcome {
    /// TXT records, of which `dmarc_records` are DMARC records.
    Records,
    NoData,
    NxDomain,
    Failed,
}

/// One query a method made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueryStep {
    /// The queried name, `_dmarc.` included.
    pub name: String,
    pub outcome: QueryOutcome,
    /// The failure detail when `outcome` is `failed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The TXT records that start with `v=DMARC1`.
    pub dmarc_records: Vec<String>,
}

/// The result of one method.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MethodResult {
    pub status: DiscoveryStatus,
    /// The domain whose `_dmarc` record applies, when `status` is `found`.
    pub found_at: Option<String>,
    pub record: Option<String>,
    /// The organizational domain the method used: the caller's for RFC 7489, the one the
    /// walk determined for RFC 9989 (`None` when the walk stopped at the name itself or
    /// failed).
    pub organizational_domain: Option<String>,
    pub queries: Vec<QueryStep>,
}

/// Problems of discovery itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DiscoveryError {
    /// Several DMARC records at one name: receivers discard all of them.
    MultipleRecords,
    /// A query failed, so at least one method could not finish.
    LookupFailed,
}

/// The DMARC records that apply to one name, by both methods.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Discovery {
    pub name: String,
    pub rfc7489: MethodResult,
    pub tree_walk: MethodResult,
    /// The methods that found a record.
    pub found_by: Vec<Method>,
    /// True when the methods end differently or select different records.
    pub methods_disagree: bool,
    pub errors: Vec<Issue<DiscoveryError>>,
}

/// Discovers the DMARC record of `name` by both methods. `organizational_domain` is the
/// name's registrable domain by the Public Suffix List, computed by the caller. Each name
/// is queried once, and both methods use that response.
pub async fn discover<D: DmarcDns>(dns: &D, name: &str, organizational_domain: &str) -> Discovery {
    let name = normalize(name);
    let organizational_domain = normalize(organizational_domain);
    let mut cache = Cache {
        dns,
        answers: HashMap::new(),
    };
    let rfc7489 = discover_rfc7489(&mut cache, &name, &organizational_domain).await;
    let tree_walk = discover_tree_walk(&mut cache, &name).await;

    let mut found_by = Vec::new();
    if rfc7489.status == DiscoveryStatus::Found {
        found_by.push(Method::Rfc7489);
    }
    if tree_walk.status == DiscoveryStatus::Found {
        found_by.push(Method::TreeWalk);
    }
    let methods_disagree = rfc7489.status != tree_walk.status
        || rfc7489.found_at != tree_walk.found_at
        || rfc7489.record != tree_walk.record;
    let errors = discovery_errors(&rfc7489, &tree_walk);
    Discovery {
        name,
        rfc7489,
        tree_walk,
        found_by,
        methods_disagree,
        errors,
    }
}

fn normalize(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// Answers already received, so that both methods share one query per name.
struct Cache<'a, D> {
    dns: &'a D,
    answers: HashMap<String, QueryStep>,
}

impl<D: DmarcDns> Cache<'_, D> {
    /// Queries `_dmarc.<domain>` once and keeps the DMARC records of the answer.
    async fn query(&mut self, domain: &str) -> QueryStep {
        let name = format!("_dmarc.{domain}");
        if let Some(step) = self.answers.get(&name) {
            return step.clone();
        }
        let (outcome, detail, dmarc_records) = match self.dns.txt(&name).await {
            Lookup::Found(texts) => {
                let records: Vec<String> = texts
                    .into_iter()
                    .filter(|text| is_dmarc_record(text))
                    .collect();
                (QueryOutcome::Records, None, records)
            }
            Lookup::NoData => (QueryOutcome::NoData, None, Vec::new()),
            Lookup::NxDomain => (QueryOutcome::NxDomain, None, Vec::new()),
            Lookup::Failed(detail) => (QueryOutcome::Failed, Some(detail), Vec::new()),
        };
        let step = QueryStep {
            name: name.clone(),
            outcome,
            detail,
            dmarc_records,
        };
        self.answers.insert(name, step.clone());
        step
    }
}

impl MethodResult {
    fn new(status: DiscoveryStatus, queries: Vec<QueryStep>) -> Self {
        Self {
            status,
            found_at: None,
            record: None,
            organizational_domain: None,
            queries,
        }
    }

    fn found(domain: &str, record: &str, queries: Vec<QueryStep>) -> Self {
        Self {
            found_at: Some(domain.to_string()),
            record: Some(record.to_string()),
            ..Self::new(DiscoveryStatus::Found, queries)
        }
    }
}

/// RFC 7489 section 6.6.3 steps 1 to 5.
async fn discover_rfc7489<D: DmarcDns>(
    cache: &mut Cache<'_, D>,
    name: &str,
    organizational_domain: &str,
) -> MethodResult {
    let mut queries = Vec::new();
    let mut candidates = vec![name];
    if organizational_domain != name {
        candidates.push(organizational_domain);
    }
    let mut result = MethodResult::new(DiscoveryStatus::Absent, Vec::new());
    for domain in candidates {
        let step = cache.query(domain).await;
        queries.push(step.clone());
        // Step 5: several records, or a failure, end discovery at this name.
        match (step.outcome, step.dmarc_records.as_slice()) {
            (QueryOutcome::Failed, _) => {
                result = MethodResult::new(DiscoveryStatus::Failed, Vec::new());
                break;
            }
            (_, [record]) => {
                result = MethodResult::found(domain, record, Vec::new());
                break;
            }
            (_, [_, _, ..]) => {
                result = MethodResult::new(DiscoveryStatus::MultipleRecords, Vec::new());
                break;
            }
            (_, []) => {}
        }
    }
    result.organizational_domain = Some(organizational_domain.to_string());
    result.queries = queries;
    result
}

/// Lists the names the tree walk queries, per RFC 9989 section 4.10 steps 3, 4 and 7: the
/// name, then at most seven labels of it, then one label fewer each time down to the
/// top-level domain.
pub fn walk_targets(name: &str) -> Vec<String> {
    let labels: Vec<&str> = name.split('.').filter(|label| !label.is_empty()).collect();
    if labels.is_empty() {
        return Vec::new();
    }
    let mut targets = vec![labels.join(".")];
    let mut start = if labels.len() >= WALK_SHORTCUT_LABELS {
        labels.len() - WALK_SHORTENED_LABELS
    } else {
        1
    };
    while start < labels.len() {
        targets.push(labels[start..].join("."));
        start += 1;
    }
    targets
}

/// A single DMARC record met on the walk above the name.
struct Collected {
    domain: String,
    record: String,
    psd: PublicSuffixFlag,
}

/// RFC 9989 section 4.10.1 (policy discovery) over the walk of section 4.10, with the
/// organizational domain of section 4.10.2.
async fn discover_tree_walk<D: DmarcDns>(cache: &mut Cache<'_, D>, name: &str) -> MethodResult {
    let targets = walk_targets(name);
    let mut queries = Vec::new();

    // 1. Section 4.10.1: a single record at the name itself applies, and the walk stops.
    let Some(first) = targets.first() else {
        return MethodResult::new(DiscoveryStatus::Absent, queries);
    };
    let step = cache.query(first).await;
    queries.push(step.clone());
    if step.outcome == QueryOutcome::Failed {
        return MethodResult::new(DiscoveryStatus::Failed, queries);
    }
    if let [record] = step.dmarc_records.as_slice() {
        return MethodResult::found(first, record, queries);
    }

    // 2. Section 4.10 steps 5 to 7: walk up, discarding names with several records, until
    // a record with a psd tag or the top-level domain.
    let mut collected = Vec::new();
    for target in &targets[1..] {
        let step = cache.query(target).await;
        queries.push(step.clone());
        if step.outcome == QueryOutcome::Failed {
            // The names above were not examined, so the record that applies is unknown.
            return MethodResult::new(DiscoveryStatus::Failed, queries);
        }
        let [record] = step.dmarc_records.as_slice() else {
            continue;
        };
        let psd = parse(record).public_suffix;
        collected.push(Collected {
            domain: target.clone(),
            record: record.clone(),
            psd,
        });
        if psd != PublicSuffixFlag::Unknown {
            break;
        }
    }

    // 3. Section 4.10.2, then the order of section 4.10.1: the organizational domain's
    // record, else the PSD's.
    let organizational_domain = select_organizational_domain(name, &collected);
    let applied = collected
        .iter()
        .find(|entry| entry.domain == organizational_domain)
        .or_else(|| {
            collected
                .iter()
                .find(|entry| entry.psd == PublicSuffixFlag::Yes)
        });
    let mut result = match applied {
        Some(entry) => MethodResult::found(&entry.domain, &entry.record, queries),
        None => MethodResult::new(DiscoveryStatus::Absent, queries),
    };
    result.organizational_domain = Some(organizational_domain);
    result
}

/// Selects the organizational domain by RFC 9989 section 4.10.2, over the records from the
/// longest name to the shortest. The first with `psd=n` is the organizational domain, and
/// the first with `psd=y` puts it one label below. Otherwise it is the record with the
/// fewest labels, and without records the name itself.
fn select_organizational_domain(name: &str, collected: &[Collected]) -> String {
    for entry in collected {
        match entry.psd {
            PublicSuffixFlag::No => return entry.domain.clone(),
            PublicSuffixFlag::Yes => return one_label_below(name, &entry.domain),
            PublicSuffixFlag::Unknown => {}
        }
    }
    match collected.last() {
        Some(entry) => entry.domain.clone(),
        None => name.to_string(),
    }
}

/// Returns the suffix of `name` that has one label more than `ancestor`.
fn one_label_below(name: &str, ancestor: &str) -> String {
    let labels: Vec<&str> = name.split('.').collect();
    let depth = ancestor.split('.').count() + 1;
    let start = labels.len().saturating_sub(depth);
    labels[start..].join(".")
}

fn discovery_errors(
    rfc7489: &MethodResult,
    tree_walk: &MethodResult,
) -> Vec<Issue<DiscoveryError>> {
    let mut errors = Vec::new();
    let mut reported = HashSet::new();
    let steps = rfc7489.queries.iter().chain(&tree_walk.queries);
    for step in steps {
        if step.dmarc_records.len() > 1 && reported.insert(step.name.clone()) {
            errors.push(Issue::new(
                DiscoveryError::MultipleRecords,
                format!(
                    "{} has {} DMARC records; receivers discard all of them",
                    step.name,
                    step.dmarc_records.len()
                ),
            ));
        }
    }
    for step in rfc7489.queries.iter().chain(&tree_walk.queries) {
        if let Some(detail) = &step.detail
            && reported.insert(step.name.clone())
        {
            errors.push(Issue::new(
                DiscoveryError::LookupFailed,
                format!("TXT query for {} failed: {detail}", step.name),
            ));
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// TXT answers by name; names not listed are NXDOMAIN. Queried names are recorded.
    #[derive(Default)]
    struct MemoryDns {
        answers: HashMap<String, Lookup<String>>,
        queried: Mutex<Vec<String>>,
    }

    impl MemoryDns {
        fn with(entries: &[(&str, Lookup<String>)]) -> Self {
            let answers = entries
                .iter()
                .map(|(name, lookup)| (name.to_string(), lookup.clone()))
                .collect();
            Self {
                answers,
                queried: Mutex::default(),
            }
        }

        fn queried(&self) -> Vec<String> {
            self.queried.lock().unwrap().clone()
        }
    }

    impl DmarcDns for MemoryDns {
        async fn txt(&self, name: &str) -> Lookup<String> {
            self.queried.lock().unwrap().push(name.to_string());
            self.answers.get(name).cloned().unwrap_or(Lookup::NxDomain)
        }
    }

    fn txt(records: &[&str]) -> Lookup<String> {
        Lookup::Found(records.iter().map(|text| text.to_string()).collect())
    }

    fn timeout() -> Lookup<String> {
        Lookup::Failed("timed out".to_string())
    }

    fn run(dns: &MemoryDns, name: &str, organizational_domain: &str) -> Discovery {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(discover(dns, name, organizational_domain))
    }

    #[test]
    fn walk_targets_short_name() {
        assert_eq!(
            walk_targets("a.mail.example.com"),
            [
                "a.mail.example.com",
                "mail.example.com",
                "example.com",
                "com"
            ]
        );
        assert_eq!(walk_targets("com"), ["com"]);
        assert!(walk_targets("").is_empty());
    }

    #[test]
    fn walk_targets_long_name_shortened() {
        let name = "a.b.c.d.e.f.g.h.i.j.k.l.m";
        let targets = walk_targets(name);
        assert_eq!(targets.len(), 8);
        assert_eq!(targets[0], name);
        assert_eq!(targets[1], "g.h.i.j.k.l.m");
        assert_eq!(targets[7], "m");
        // Eight labels are shortened too, seven are not.
        assert_eq!(walk_targets("a.b.c.d.e.f.g.h")[1], "b.c.d.e.f.g.h");
        assert_eq!(walk_targets("a.b.c.d.e.f.g").len(), 7);
    }

    #[test]
    fn record_at_name_both_agree() {
        let dns = MemoryDns::with(&[("_dmarc.example.com", txt(&["v=DMARC1; p=reject"]))]);
        let discovery = run(&dns, "Example.COM.", "example.com");
        assert_eq!(discovery.rfc7489.status, DiscoveryStatus::Found);
        assert_eq!(discovery.tree_walk.status, DiscoveryStatus::Found);
        assert_eq!(discovery.rfc7489.found_at.as_deref(), Some("example.com"));
        assert_eq!(discovery.found_by, [Method::Rfc7489, Method::TreeWalk]);
        assert!(!discovery.methods_disagree);
        assert_eq!(dns.queried(), ["_dmarc.example.com"]);
    }

    #[test]
    fn subdomain_inherits_organizational_domain() {
        let dns = MemoryDns::with(&[
            ("_dmarc.example.com", txt(&["v=DMARC1; p=reject; sp=none"])),
            (
                "_dmarc.mail.example.com",
                txt(&["google-site-verification=x"]),
            ),
        ]);
        let discovery = run(&dns, "shop.mail.example.com", "example.com");
        assert_eq!(discovery.rfc7489.found_at.as_deref(), Some("example.com"));
        assert_eq!(discovery.tree_walk.found_at.as_deref(), Some("example.com"));
        assert_eq!(
            discovery.tree_walk.organizational_domain.as_deref(),
            Some("example.com")
        );
        assert!(!discovery.methods_disagree);
    }

    #[test]
    fn tree_walk_finds_psd_policy() {
        let dns = MemoryDns::with(&[("_dmarc.gov.example", txt(&["v=DMARC1; p=reject; psd=y"]))]);
        let discovery = run(&dns, "agency.gov.example", "agency.gov.example");
        assert_eq!(discovery.rfc7489.status, DiscoveryStatus::Absent);
        assert_eq!(discovery.tree_walk.status, DiscoveryStatus::Found);
        assert_eq!(discovery.tree_walk.found_at.as_deref(), Some("gov.example"));
        assert_eq!(
            discovery.tree_walk.organizational_domain.as_deref(),
            Some("agency.gov.example")
        );
        assert_eq!(discovery.found_by, [Method::TreeWalk]);
        assert!(discovery.methods_disagree);
    }

    #[test]
    fn tree_walk_uses_highest_record() {
        // Public Suffix List: example.com; the walk: the record with the fewest labels.
        let dns = MemoryDns::with(&[
            ("_dmarc.b.example.com", txt(&["v=DMARC1; p=none"])),
            ("_dmarc.example.com", txt(&["v=DMARC1; p=reject"])),
        ]);
        let discovery = run(&dns, "a.b.example.com", "example.com");
        assert_eq!(discovery.tree_walk.found_at.as_deref(), Some("example.com"));
        assert_eq!(discovery.rfc7489.found_at.as_deref(), Some("example.com"));

        // psd=n at b.example.com makes it the organizational domain and stops the walk.
        let dns = MemoryDns::with(&[
            ("_dmarc.b.example.com", txt(&["v=DMARC1; p=none; psd=n"])),
            ("_dmarc.example.com", txt(&["v=DMARC1; p=reject"])),
        ]);
        let discovery = run(&dns, "a.b.example.com", "example.com");
        assert_eq!(
            discovery.tree_walk.found_at.as_deref(),
            Some("b.example.com")
        );
        assert!(discovery.methods_disagree);
        assert!(!dns.queried().contains(&"_dmarc.com".to_string()));
    }

    #[test]
    fn nothing_anywhere_is_absent() {
        let dns = MemoryDns::with(&[("_dmarc.example.com", Lookup::NoData)]);
        let discovery = run(&dns, "www.example.com", "example.com");
        assert_eq!(discovery.rfc7489.status, DiscoveryStatus::Absent);
        assert_eq!(discovery.tree_walk.status, DiscoveryStatus::Absent);
        assert!(discovery.found_by.is_empty());
        assert!(!discovery.methods_disagree);
        assert_eq!(
            dns.queried(),
            ["_dmarc.www.example.com", "_dmarc.example.com", "_dmarc.com"]
        );
    }

    #[test]
    fn failure_is_never_absent() {
        let dns = MemoryDns::with(&[("_dmarc.example.com", timeout())]);
        let discovery = run(&dns, "www.example.com", "example.com");
        assert_eq!(discovery.rfc7489.status, DiscoveryStatus::Failed);
        assert_eq!(discovery.tree_walk.status, DiscoveryStatus::Failed);
        assert_eq!(discovery.errors.len(), 1);
        assert_eq!(discovery.errors[0].kind, DiscoveryError::LookupFailed);

        // Above the organizational domain, only the tree walk meets the failure.
        let dns = MemoryDns::with(&[("_dmarc.com", timeout())]);
        let discovery = run(&dns, "www.example.com", "example.com");
        assert_eq!(discovery.rfc7489.status, DiscoveryStatus::Absent);
        assert_eq!(discovery.tree_walk.status, DiscoveryStatus::Failed);
        assert!(discovery.methods_disagree);
    }

    #[test]
    fn failure_above_found_record_keeps_it() {
        let dns = MemoryDns::with(&[
            ("_dmarc.example.com", txt(&["v=DMARC1; p=reject"])),
            ("_dmarc.com", timeout()),
        ]);
        let discovery = run(&dns, "example.com", "example.com");
        assert_eq!(discovery.tree_walk.status, DiscoveryStatus::Found);
        assert_eq!(discovery.rfc7489.status, DiscoveryStatus::Found);
    }

    #[test]
    fn several_records_at_name() {
        let dns = MemoryDns::with(&[
            (
                "_dmarc.www.example.com",
                txt(&["v=DMARC1; p=none", "v=DMARC1; p=reject"]),
            ),
            ("_dmarc.example.com", txt(&["v=DMARC1; p=quarantine"])),
        ]);
        let discovery = run(&dns, "www.example.com", "example.com");
        assert_eq!(discovery.rfc7489.status, DiscoveryStatus::MultipleRecords);
        // The tree walk discards them and goes on up.
        assert_eq!(discovery.tree_walk.status, DiscoveryStatus::Found);
        assert_eq!(discovery.tree_walk.found_at.as_deref(), Some("example.com"));
        assert_eq!(discovery.errors.len(), 1);
        assert_eq!(discovery.errors[0].kind, DiscoveryError::MultipleRecords);
        assert!(discovery.methods_disagree);
    }

    #[test]
    fn non_dmarc_txt_ignored() {
        let dns = MemoryDns::with(&[(
            "_dmarc.example.com",
            txt(&["v=spf1 -all", "v=dmarc1; p=reject", "v=DMARC1; p=none"]),
        )]);
        let discovery = run(&dns, "example.com", "example.com");
        assert_eq!(
            discovery.rfc7489.record.as_deref(),
            Some("v=DMARC1; p=none")
        );
    }

    #[test]
    fn each_name_queried_once() {
        let dns = MemoryDns::default();
        run(&dns, "a.b.example.com", "example.com");
        let queried = dns.queried();
        let unique: HashSet<&String> = queried.iter().collect();
        assert_eq!(queried.len(), unique.len(), "{queried:?}");
        assert_eq!(queried.len(), 4);
    }
}
