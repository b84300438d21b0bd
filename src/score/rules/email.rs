//! SPF and DMARC findings, from the `spf_*` and `dmarc_*` columns.

use crate::score::evidence::RowEvidence;
use crate::score::finding::{Assessments, Verdict};

/// RFC 7208 section 4.6.4: at most 10 DNS-querying terms and 2 void lookups.
const MAX_LOOKUPS: i64 = 10;
const MAX_VOID_LOOKUPS: i64 = 2;

pub fn assess_spf(row: &RowEvidence<'_>, out: &mut Assessments) {
    let record_ids = [
        "spf.pass_all",
        "spf.invalid",
        "spf.too_many_lookups",
        "spf.neutral",
        "spf.softfail",
        "spf.ptr",
    ];
    match row.text("spf_outcome") {
        Some("present") => out.push("spf.missing", Verdict::Pass),
        Some("absent") => {
            out.push(
                "spf.missing",
                Verdict::Fail("no v=spf1 TXT record".to_string()),
            );
            return out.not_applicable(&record_ids);
        }
        _ => {
            out.unknown(&["spf.missing"]);
            return out.unknown(&record_ids);
        }
    }
    let record = || row.texts("spf_records").unwrap_or_default().join(" | ");

    out.test("spf.pass_all", row.flag("spf_pass_all"), || {
        format!("any client passes: {}", record())
    });

    let lookups = row.number("spf_lookups");
    let void_lookups = row.number("spf_void_lookups");
    let over_limit = match (lookups, void_lookups) {
        (Some(lookups), Some(void)) => Some(lookups > MAX_LOOKUPS || void > MAX_VOID_LOOKUPS),
        _ => None,
    };
    out.test("spf.too_many_lookups", over_limit, || {
        format!(
            "{} DNS lookups (limit {MAX_LOOKUPS}), {} void (limit {MAX_VOID_LOOKUPS})",
            lookups.unwrap_or(0),
            void_lookups.unwrap_or(0)
        )
    });
    // A policy over the lookup limit is invalid too; it is counted once, above.
    let invalid = row
        .flag("spf_valid")
        .map(|valid| !valid && over_limit != Some(true));
    out.test("spf.invalid", invalid, || {
        format!(
            "permerror: {} in {}",
            row.text("spf_error").unwrap_or("invalid policy"),
            record()
        )
    });

    let all = row.text("spf_all");
    let implied = row.flag("spf_all_implied") == Some(true);
    let (neutral, softfail) = match all {
        Some("pass") => (Verdict::NotApplicable, Verdict::NotApplicable),
        Some("neutral") => {
            let how = if implied { "no all term" } else { "?all" };
            (
                Verdict::Fail(format!("{how}: {}", record())),
                Verdict::NotApplicable,
            )
        }
        Some("softfail") => (Verdict::Pass, Verdict::Fail(format!("~all: {}", record()))),
        Some(_) => (Verdict::Pass, Verdict::Pass),
        None => (Verdict::Unknown, Verdict::Unknown),
    };
    out.push("spf.neutral", neutral);
    out.push("spf.softfail", softfail);
    out.test("spf.ptr", row.flag("spf_ptr"), || {
        format!("deprecated ptr mechanism: {}", record())
    });
}

pub fn assess_dmarc(row: &RowEvidence<'_>, out: &mut Assessments) {
    let record_ids = [
        "dmarc.invalid",
        "dmarc.policy_none",
        "dmarc.pct_partial",
        "dmarc.reports_unauthorised",
    ];
    out.test("dmarc.record_at_apex", row.flag("dmarc_at_apex"), || {
        "a v=DMARC1 record at the name itself, which receivers ignore".to_string()
    });
    match row.text("dmarc_outcome") {
        Some("present") => {
            out.push("dmarc.missing", Verdict::Pass);
            out.push("dmarc.multiple_records", Verdict::Pass);
        }
        Some("absent") => {
            out.push(
                "dmarc.missing",
                Verdict::Fail("no _dmarc record at the name or its organizational domain".into()),
            );
            out.push("dmarc.multiple_records", Verdict::NotApplicable);
            return out.not_applicable(&record_ids);
        }
        Some("multiple_records") => {
            out.push("dmarc.missing", Verdict::Pass);
            out.push(
                "dmarc.multiple_records",
                Verdict::Fail("several DMARC records at one name, so receivers apply none".into()),
            );
            return out.not_applicable(&record_ids);
        }
        _ => {
            out.unknown(&["dmarc.missing", "dmarc.multiple_records"]);
            return out.unknown(&record_ids);
        }
    }
    let record = row.text("dmarc_record").unwrap_or("");
    let found_at = row.text("dmarc_found_at").unwrap_or("");

    out.test(
        "dmarc.invalid",
        row.flag("dmarc_valid").map(|valid| !valid),
        || {
            let errors = row.texts("dmarc_errors").unwrap_or_default().join(", ");
            format!("errors [{errors}] in {record}")
        },
    );

    let policy = row
        .text("dmarc_effective_policy")
        .or_else(|| row.text("dmarc_policy"));
    let policy_none = match policy {
        Some("none") => Verdict::Fail(format!("p=none at {found_at}: {record}")),
        Some(_) => Verdict::Pass,
        // Receivers ignore a record without a usable policy.
        None => Verdict::Fail(format!("no usable policy at {found_at}: {record}")),
    };
    out.push("dmarc.policy_none", policy_none);

    let pct = match (policy, row.number("dmarc_pct")) {
        (Some("quarantine" | "reject"), Some(pct)) if pct < 100 => {
            Verdict::Fail(format!("pct={pct}: {record}"))
        }
        (Some("quarantine" | "reject"), Some(_)) => Verdict::Pass,
        (Some("quarantine" | "reject"), None) => Verdict::Unknown,
        _ => Verdict::NotApplicable,
    };
    out.push("dmarc.pct_partial", pct);

    let unauthorised = row.texts("dmarc_report_unauthorized");
    out.test(
        "dmarc.reports_unauthorised",
        Some(unauthorised.as_ref().is_some_and(|hosts| !hosts.is_empty())),
        || {
            format!(
                "report hosts without an authorization record: {}",
                unauthorised.clone().unwrap_or_default().join(", ")
            )
        },
    );
}
