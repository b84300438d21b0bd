//! DNS and DNSSEC findings, from the `dns_*` and `dnssec_*` columns.

use crate::score::evidence::RowEvidence;
use crate::score::finding::{Assessments, Verdict};

/// Returns `Some(true)` for an outcome that the name servers gave, `None` for a failed query.
fn answered(outcome: Option<&str>) -> Option<bool> {
    match outcome? {
        "data" | "no_data" | "nxdomain" => Some(true),
        _ => None,
    }
}

pub fn assess_resolution(row: &RowEvidence<'_>, out: &mut Assessments) {
    // SERVFAIL for the name's A query, when DNSSEC is not the cause, comes from name servers
    // that do not answer for the zone (a lame delegation) or answer with errors.
    let verdict = match row.text("dns_a_outcome") {
        Some("servfail") => Verdict::Fail(format!(
            "A query: SERVFAIL{}",
            row.text("dns_error")
                .map(|error| format!(" ({error})"))
                .unwrap_or_default()
        )),
        outcome if answered(outcome).is_some() => Verdict::Pass,
        Some("bogus") => Verdict::NotApplicable,
        _ => Verdict::Unknown,
    };
    out.push("dns.servfail", verdict);
}

pub fn assess_name_servers(row: &RowEvidence<'_>, out: &mut Assessments) {
    let ids = [
        "dns.single_ns_host",
        "dns.single_ns_network",
        "dns.no_ipv6_ns",
    ];
    let hosts = match row.number("dns_ns_hosts") {
        None => return out.unknown(&ids),
        // No NS records at the name: a name below a zone cut, or one that does not exist.
        Some(0) => return out.not_applicable(&ids),
        Some(hosts) => hosts,
    };
    let names = || row.texts("dns_ns").unwrap_or_default().join(", ");
    out.test("dns.single_ns_host", Some(hosts < 2), || {
        format!("1 name server: {}", names())
    });
    let networks = row.number("dns_ns_ipv4_networks_24");
    out.test("dns.single_ns_network", networks.map(|n| n < 2), || {
        format!(
            "{hosts} name servers in {} IPv4 /24 network(s): {}",
            networks.unwrap_or(0),
            names()
        )
    });
    let with_aaaa = row.number("dns_ns_hosts_with_aaaa");
    out.test("dns.no_ipv6_ns", with_aaaa.map(|n| n == 0), || {
        format!(
            "none of {hosts} name servers has an AAAA record: {}",
            names()
        )
    });
}

pub fn assess_cname(row: &RowEvidence<'_>, out: &mut Assessments) {
    for (id, prefix, label) in [
        ("dns.cname_dangling", "dns_cname", "the name"),
        ("dns.www_cname_dangling", "dns_www_cname", "www"),
    ] {
        let dangling = row.flag(&format!("{prefix}_dangling"));
        out.test(id, dangling, || {
            let chain = row
                .texts(&format!("{prefix}_chain"))
                .unwrap_or_default()
                .join(" -> ");
            format!("{label} is an alias to a name that does not exist: {chain}")
        });
    }
}

pub fn assess_caa(row: &RowEvidence<'_>, out: &mut Assessments) {
    let verdict = match row.text("dns_caa_outcome") {
        Some("no_data") => Verdict::Fail("no CAA record at the name".to_string()),
        Some("data") => Verdict::Pass,
        Some("nxdomain") => Verdict::NotApplicable,
        _ => Verdict::Unknown,
    };
    out.push("dns.no_caa", verdict);
}

pub fn assess_dnssec(row: &RowEvidence<'_>, out: &mut Assessments) {
    let state = row.text("dnssec_state");
    let reason = row.text("dnssec_reason").unwrap_or("");
    let bogus = match state {
        Some("bogus") => {
            let detail = row
                .text("dnssec_extended_error")
                .map(|error| format!(", EDE {error}"))
                .unwrap_or_default();
            Verdict::Fail(format!("validation failed: {reason}{detail}"))
        }
        Some("secure" | "insecure") => Verdict::Pass,
        _ => Verdict::Unknown,
    };
    out.push("dnssec.bogus", bogus);
    let unsigned = match state {
        Some("insecure") => Verdict::Fail(format!("not signed: {reason}")),
        Some("secure") => Verdict::Pass,
        Some("bogus") => Verdict::NotApplicable,
        _ => Verdict::Unknown,
    };
    out.push("dnssec.unsigned", unsigned);

    let signed_ids = [
        "dnssec.deprecated_algorithm",
        "dnssec.deprecated_digest",
        "dnssec.nsec3_iterations",
    ];
    match state {
        Some("secure") => {}
        Some("insecure" | "bogus") => return out.not_applicable(&signed_ids),
        _ => return out.unknown(&signed_ids),
    }
    // The two lists are null when the zone uses none of the deprecated numbers.
    let algorithms = row.numbers("dnssec_deprecated_algorithms");
    out.test(
        "dnssec.deprecated_algorithm",
        Some(algorithms.is_some()),
        || {
            format!(
                "deprecated algorithm(s) {:?} (RFC 8624)",
                algorithms.clone().unwrap_or_default()
            )
        },
    );
    let digests = row.numbers("dnssec_deprecated_digest_types");
    out.test("dnssec.deprecated_digest", Some(digests.is_some()), || {
        format!(
            "deprecated DS digest type(s) {:?} (RFC 8624)",
            digests.clone().unwrap_or_default()
        )
    });
    let iterations = match row.text("dnssec_denial") {
        Some("nsec") => Verdict::Pass,
        Some("nsec3") => match row.number("dnssec_nsec3_iterations") {
            Some(0) => Verdict::Pass,
            Some(count) => Verdict::Fail(format!(
                "NSEC3 with {count} extra iterations (RFC 9276 asks for 0)"
            )),
            None => Verdict::Unknown,
        },
        _ => Verdict::Unknown,
    };
    out.push("dnssec.nsec3_iterations", iterations);
}
