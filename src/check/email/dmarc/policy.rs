//! The consequences of a discovered DMARC record for the scanned name: the policy that
//! applies to it, and the report destinations that need an authorization record.

use serde::Serialize;

use super::{DmarcRecord, Policy, ReportUri};

/// The policy that receivers apply to mail from the scanned name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EffectivePolicy {
    pub policy: Policy,
    /// The tag that set the policy: `p`, `sp` or `np`. A tag left out inherits from the
    /// one before it, so an absent `sp` gives `p`.
    pub tag: &'static str,
    /// The share of failing mail the policy covers (`pct`, RFC 7489 only).
    pub percent: u8,
    /// `t=y`: receivers apply one level lower (RFC 9989).
    pub testing: bool,
}

/// Computes the policy for the scanned name from the record that discovery selected.
///
/// - `found_at_name`: the record is at `_dmarc.<name>` itself. Otherwise it came from the
///   organizational domain or a PSD, and the subdomain policy applies (RFC 7489 section
///   6.6.3 step 4; RFC 9989 for a PSD's record).
/// - `name_exists`: false when the name itself does not exist in DNS (NXDOMAIN for A,
///   AAAA and MX), which selects `np` under RFC 9989.
///
/// Returns `None` when receivers would not apply the record at all.
// NOTE: a PSD's record (`psd=y`) is treated like an organizational domain's, so `sp` or
// `np` applies to the organizational domain below it. No test vector checks that reading.
pub fn effective_policy(
    record: &DmarcRecord,
    found_at_name: bool,
    name_exists: bool,
) -> Option<EffectivePolicy> {
    if !record.usable {
        return None;
    }
    let (policy, tag) = if found_at_name {
        (record.policy, "p")
    } else if !name_exists {
        (record.nonexistent_policy, inherited_tag(record, "np"))
    } else {
        (record.subdomain_policy, inherited_tag(record, "sp"))
    };
    // RFC 7489 section 6.6.3 step 6 replaces every policy by none, whatever tag set it.
    let tag = if record.fallback_to_none { "p" } else { tag };
    Some(EffectivePolicy {
        policy,
        tag,
        percent: record.percent,
        testing: record.testing,
    })
}

/// Returns the tag a policy comes from: `np` falls back to `sp`, which falls back to `p`.
fn inherited_tag(record: &DmarcRecord, tag: &'static str) -> &'static str {
    if tag == "np" && record.is_explicit("np") {
        return "np";
    }
    if record.is_explicit("sp") {
        return "sp";
    }
    "p"
}

/// One `rua` or `ruf` destination with what RFC 7489 section 7.1 requires of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportDestination {
    /// `rua` or `ruf`.
    pub tag: &'static str,
    pub uri: String,
    /// The domain of the `mailto:` address; `None` for other schemes.
    pub host: Option<String>,
    /// True when the destination's organizational domain differs from the domain's, so the
    /// destination must publish an authorization record.
    pub external: bool,
    /// `<domain>._report._dmarc.<host>`, the TXT name to query for `v=DMARC1` when
    /// `external` is true.
    pub authorization_name: Option<String>,
}

/// Lists the `rua` and `ruf` destinations of `domain`'s record, marking those outside its
/// organizational domain (from the Public Suffix List).
pub fn report_destinations(domain: &str, record: &DmarcRecord) -> Vec<ReportDestination> {
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    let domain_org = organizational_domain(&domain);
    let tagged = |tag: &'static str, uris: &'_ [ReportUri]| {
        uris.iter()
            .map(|uri| (tag, uri.clone()))
            .collect::<Vec<_>>()
    };
    let mut all = tagged("rua", &record.aggregate_reports);
    all.extend(tagged("ruf", &record.failure_reports));
    all.into_iter()
        .map(|(tag, uri)| {
            let host = uri.mailto_domain();
            let external = host
                .as_deref()
                .is_some_and(|host| organizational_domain(host) != domain_org);
            let authorization_name = match (&host, external) {
                (Some(host), true) => Some(format!("{domain}._report._dmarc.{host}")),
                _ => None,
            };
            ReportDestination {
                tag,
                uri: uri.uri,
                host,
                external,
                authorization_name,
            }
        })
        .collect()
}

/// Returns the registrable domain of a lower-case name by the Public Suffix List, or the
/// name itself when it is a public suffix or unknown to the list.
pub fn organizational_domain(name: &str) -> String {
    match psl::domain(name.as_bytes()) {
        Some(domain) => String::from_utf8_lossy(domain.as_bytes()).into_owned(),
        None => name.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use super::*;

    #[test]
    fn policy_at_name_uses_p() {
        let record = parse("v=DMARC1; p=reject; sp=quarantine; np=none");
        let effective = effective_policy(&record, true, true).unwrap();
        assert_eq!(effective.policy, Policy::Reject);
        assert_eq!(effective.tag, "p");
    }

    #[test]
    fn policy_from_parent_uses_sp() {
        let record = parse("v=DMARC1; p=reject; sp=quarantine");
        let effective = effective_policy(&record, false, true).unwrap();
        assert_eq!(effective.policy, Policy::Quarantine);
        assert_eq!(effective.tag, "sp");
    }

    #[test]
    fn policy_from_parent_inherits_p() {
        let record = parse("v=DMARC1; p=reject; pct=50; t=y");
        let effective = effective_policy(&record, false, true).unwrap();
        assert_eq!(effective.policy, Policy::Reject);
        assert_eq!(effective.tag, "p");
        assert_eq!(effective.percent, 50);
        assert!(effective.testing);
    }

    #[test]
    fn nonexistent_name_uses_np() {
        let record = parse("v=DMARC1; p=none; sp=quarantine; np=reject");
        let effective = effective_policy(&record, false, false).unwrap();
        assert_eq!(effective.policy, Policy::Reject);
        assert_eq!(effective.tag, "np");
        let without_np = parse("v=DMARC1; p=none; sp=quarantine");
        let effective = effective_policy(&without_np, false, false).unwrap();
        assert_eq!(effective.policy, Policy::Quarantine);
        assert_eq!(effective.tag, "sp");
    }

    #[test]
    fn np_ignored_at_name_itself() {
        let record = parse("v=DMARC1; p=none; np=reject");
        let effective = effective_policy(&record, true, false).unwrap();
        assert_eq!(effective.policy, Policy::None);
    }

    #[test]
    fn fallback_record_gives_none() {
        let record = parse("v=DMARC1; p=reject; sp=bogus; rua=mailto:d@example.com");
        let effective = effective_policy(&record, false, true).unwrap();
        assert_eq!(effective.policy, Policy::None);
        assert_eq!(effective.tag, "p");
    }

    #[test]
    fn unusable_record_gives_nothing() {
        let record = parse("v=DMARC1; sp=reject");
        assert_eq!(effective_policy(&record, true, true), None);
    }

    #[test]
    fn destinations_mark_external() {
        let record = parse(
            "v=DMARC1; p=none; rua=mailto:d@example.com,mailto:r@reports.Vendor.example.net!10m; \
             ruf=mailto:f@mail.example.com,https://collector.example.org/r",
        );
        let destinations = report_destinations("Shop.Example.com.", &record);
        assert_eq!(destinations.len(), 4);

        assert_eq!(destinations[0].tag, "rua");
        assert_eq!(destinations[0].host.as_deref(), Some("example.com"));
        assert!(!destinations[0].external);
        assert_eq!(destinations[0].authorization_name, None);

        assert!(destinations[1].external);
        assert_eq!(
            destinations[1].authorization_name.as_deref(),
            Some("shop.example.com._report._dmarc.reports.vendor.example.net")
        );

        assert_eq!(destinations[2].tag, "ruf");
        assert!(!destinations[2].external);

        assert_eq!(destinations[3].host, None);
        assert!(!destinations[3].external);
    }

    #[test]
    fn destinations_under_public_suffix() {
        let record = parse("v=DMARC1; p=none; rua=mailto:d@other.co.uk");
        let destinations = report_destinations("shop.example.co.uk", &record);
        assert!(destinations[0].external);
        assert_eq!(organizational_domain("a.b.example.co.uk"), "example.co.uk");
    }
}
