//! The openspf RFC 7208 test suite (release 2014.04), converted to
//! `tests/fixtures/spf/rfc7208-suite.json` by `scripts/convert-spf-suite`, run against
//! `check_host()` over in-memory zones.

use std::net::IpAddr;

use serde_json::Value;

use super::eval::{Params, check_host};
use super::memory::{Entry, Zone};

const SUITE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/spf/rfc7208-suite.json"
));

/// Number of cases in the suite; every one must run.
const CASE_COUNT: usize = 203;

/// Builds the zone of one scenario. The suite writes records as type SPF (99) and expects
/// the driver to serve them as TXT where a name has no TXT record. `TXT: NONE` marks a name
/// whose SPF records must not be copied.
fn zone_from(zonedata: &Value) -> Zone {
    let mut zone = Zone::default();
    let Some(names) = zonedata.as_object() else {
        return zone;
    };
    for (name, records) in names {
        zone.touch(name);
        let mut spf = Vec::new();
        let mut has_txt = false;
        for record in records.as_array().into_iter().flatten() {
            if record.as_str() == Some("TIMEOUT") {
                zone.add(name, Entry::Timeout);
                continue;
            }
            let Some((kind, value)) = record.as_object().and_then(|map| map.iter().next()) else {
                panic!("unreadable record {record} at {name}");
            };
            match kind.as_str() {
                "SPF" => spf.push(joined(value)),
                "TXT" => {
                    has_txt = true;
                    if value.as_str() != Some("NONE") {
                        zone.add(name, Entry::Txt(joined(value)));
                    }
                }
                _ => zone.add(name, entry(kind, value)),
            }
        }
        if !has_txt {
            for text in spf {
                zone.add(name, Entry::Txt(text));
            }
        }
    }
    zone
}

/// Joins a TXT record given as one string or as a list of character-strings.
fn joined(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Array(strings) => strings.iter().filter_map(Value::as_str).collect(),
        other => panic!("unreadable TXT value {other}"),
    }
}

fn entry(kind: &str, value: &Value) -> Entry {
    let text = value.as_str().unwrap_or_default();
    match kind {
        "A" => Entry::A(text.parse().unwrap()),
        "AAAA" => Entry::Aaaa(text.parse().unwrap()),
        "PTR" => Entry::Ptr(text.to_string()),
        "CNAME" => Entry::Cname(text.to_string()),
        "MX" => {
            let preference = value[0].as_u64().unwrap();
            let exchange = value[1].as_str().unwrap();
            Entry::Mx(u16::try_from(preference).unwrap(), exchange.to_string())
        }
        other => panic!("unknown record type {other}"),
    }
}

/// Runs one case and describes the difference, if any.
async fn run_case(zone: &Zone, case: &Value) -> Result<(), String> {
    let name = case["name"].as_str().unwrap_or_default();
    let helo = case["helo"].as_str().unwrap_or_default();
    let mailfrom = case["mailfrom"].as_str().unwrap_or_default();
    let ip: IpAddr = case["host"].as_str().unwrap_or_default().parse().unwrap();
    let domain = match mailfrom.rsplit_once('@') {
        Some((_, domain)) => domain,
        None => helo,
    };
    let evaluation = check_host(zone, &Params::new(ip, domain, mailfrom, helo)).await;

    let result = evaluation.result.as_str();
    let accepted: Vec<&str> = case["result"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    if !accepted.contains(&result) {
        return Err(format!(
            "{name}: result {result}, expected one of {accepted:?} ({:?})",
            evaluation.problem
        ));
    }
    let expected = match case["explanation"].as_str() {
        None => return Ok(()),
        Some("DEFAULT") => None,
        Some(text) => Some(text),
    };
    if evaluation.explanation.as_deref() != expected {
        return Err(format!(
            "{name}: explanation {:?}, expected {expected:?}",
            evaluation.explanation
        ));
    }
    Ok(())
}

#[tokio::test]
async fn rfc7208_suite_passes() {
    let suite: Value = serde_json::from_str(SUITE).unwrap();
    let mut passed = 0;
    let mut failures = Vec::new();
    for scenario in suite["scenarios"].as_array().unwrap() {
        let zone = zone_from(&scenario["zonedata"]);
        for case in scenario["tests"].as_array().unwrap() {
            match run_case(&zone, case).await {
                Ok(()) => passed += 1,
                Err(failure) => failures.push(failure),
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{passed} cases passed, {} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(passed, CASE_COUNT);
}
