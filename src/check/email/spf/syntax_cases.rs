//! Runs the SPF syntax cases of `tests/fixtures/dmarc-dkim/spf-syntax.json` (from the mox
//! test suite) against the record parser: validity, and the canonical form where a case
//! gives one.

use serde_json::Value;

use super::record::parse;

const CASES: &str = include_str!("../../../../tests/fixtures/dmarc-dkim/spf-syntax.json");

#[test]
fn mox_spf_syntax_cases() {
    let cases: Vec<Value> = serde_json::from_str(CASES).unwrap();
    assert_eq!(cases.len(), 28);
    for case in &cases {
        let text = case["record"].as_str().unwrap();
        let result = parse(text);
        assert_eq!(
            result.is_ok(),
            case["valid"].as_bool().unwrap(),
            "{text:?}: {result:?}"
        );
        if let (Some(canonical), Ok(record)) = (case["canonical"].as_str(), &result) {
            assert_eq!(record.to_string(), canonical, "{text:?}");
        }
    }
}
