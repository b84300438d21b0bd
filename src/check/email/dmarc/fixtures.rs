//! Runs the DMARC cases of `tests/fixtures/dmarc-dkim/dmarc.json` (from the mox test suite):
//! validity, and the fields a case gives compared with the JSON form of the parsed record.

use serde_json::Value;

use super::parse;

const CASES: &str = include_str!("../../../../tests/fixtures/dmarc-dkim/dmarc.json");

#[test]
fn mox_dmarc_cases() {
    let cases: Vec<Value> = serde_json::from_str(CASES).unwrap();
    assert_eq!(cases.len(), 41);
    for case in &cases {
        let text = case["record"].as_str().unwrap();
        let record = parse(text);
        let expected_valid = case["valid"].as_bool().unwrap();
        assert_eq!(
            record.is_valid(),
            expected_valid,
            "{text:?}: errors {:?}",
            record.errors
        );
        let parsed = serde_json::to_value(&record).unwrap();
        let Some(fields) = case.get("fields").and_then(Value::as_object) else {
            continue;
        };
        for (name, expected) in fields {
            assert_eq!(&parsed[name], expected, "{text:?}: field {name}");
        }
    }
}
