//! Unit tests of DKIM key records, and the fixture cases of
//! `tests/fixtures/dmarc-dkim/dkim.json` (from mox and go-msgauth).

use serde_json::Value;

use super::*;

const CASES: &str = include_str!("../../../../tests/fixtures/dmarc-dkim/dkim.json");

/// A 512-bit RSA key, generated with `openssl genrsa 512` for these tests.
const RSA_512: &str = "MFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBAN2iGP/g5U4tW+OmQIJDMovBCS3kiaAgFmTuU5ddrKBbB5tA\
                       9V1avYdt/Y9HQTCv9xG+5a0paUwRUjcg83cWJ8kCAwEAAQ==";
/// A P-256 key in a SubjectPublicKeyInfo, generated with `openssl ecparam`.
const EC_P256: &str = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEs7t+6w3tkDeuz5oVV85TOeDfL/f2TgjzRT5NjeYzYM7OH\
                       LHpL09GolWwFYt13vRuyCIg0paQAb+qbAvEIwcUDA==";
/// One 1500-bit RSA key, as a SubjectPublicKeyInfo and as a bare RSAPublicKey.
const RSA_1500_SPKI: &str = "MIHaMA0GCSqGSIb3DQEBAQUAA4HIADCBxAKBvA2S73ZVwjD2hayr1/x4Yt+io2IgxAK/7efPmx/nQo\
    KbtB5L9pD1RQDV8DWSGexJ1S17yM++7b7I4SjfL3BAV5JhqiyWYD/5bxV4zdBlq8eV77an9C7GujBcq3aIfUuYITUXRoPCeXfs/I2w\
    5RdFG0KSbKdFRKfi5SP8NV0Eby8BEaBAmm8mG/BLc1ecyDosQlQU/3/CbH6IK6hxV9bclpfx5Ky4U5qZbVxAUUvh5NS5vTRFLU3sIs\
    VjCuoPAgMBAAE=";
const RSA_1500_PKCS1: &str = "MIHEAoG8DZLvdlXCMPaFrKvX/Hhi36KjYiDEAr/t58+bH+dCgpu0Hkv2kPVFANXwNZIZ7EnVLXvIz77t\
    vsjhKN8vcEBXkmGqLJZgP/lvFXjN0GWrx5Xvtqf0Lsa6MFyrdoh9S5ghNRdGg8J5d+z8jbDlF0UbQpJsp0VEp+LlI/w1XQRvLwERoE\
    CabyYb8EtzV5zIOixCVBT/f8JsfogrqHFX1tyWl/HkrLhTmpltXEBRS+Hk1Lm9NEUtTewixWMK6g8CAwEAAQ==";

fn error_kinds(key: &DkimKey) -> Vec<DkimError> {
    key.errors.iter().map(|issue| issue.kind).collect()
}

fn warning_kinds(key: &DkimKey) -> Vec<DkimWarning> {
    key.warnings.iter().map(|issue| issue.kind).collect()
}

#[test]
fn fixture_cases() {
    let cases: Vec<Value> = serde_json::from_str(CASES).unwrap();
    assert_eq!(cases.len(), 15);
    for case in &cases {
        let text = case["record"].as_str().unwrap();
        let key = parse(text);
        assert_eq!(
            key.is_valid(),
            case["valid"].as_bool().unwrap(),
            "{text:?}: errors {:?}",
            key.errors
        );
        let parsed = serde_json::to_value(&key).unwrap();
        if let Some(fields) = case.get("fields").and_then(Value::as_object) {
            for (name, expected) in fields {
                assert_eq!(&parsed[name], expected, "{text:?}: field {name}");
            }
        }
        if let Some(expected) = case.get("warnings") {
            let kinds: Vec<Value> = key
                .warnings
                .iter()
                .map(|issue| serde_json::to_value(issue.kind).unwrap())
                .collect();
            assert_eq!(&Value::from(kinds), expected, "{text:?}: warnings");
        }
    }
}

#[test]
fn rsa_key_bits_exact() {
    let key = parse(&format!("v=DKIM1; k=rsa; p={RSA_1500_SPKI}"));
    assert!(key.is_valid(), "{:?}", key.errors);
    assert_eq!(key.key_bits, Some(1500));
    assert_eq!(key.key_format, Some(KeyFormat::SubjectPublicKeyInfo));
    assert_eq!(warning_kinds(&key), [DkimWarning::ShortKey]);
}

#[test]
fn pkcs1_key_accepted_with_warning() {
    let key = parse(&format!("p={RSA_1500_PKCS1}"));
    assert!(key.is_valid(), "{:?}", key.errors);
    assert_eq!(key.key_bits, Some(1500));
    assert_eq!(key.key_format, Some(KeyFormat::Pkcs1));
    assert_eq!(
        warning_kinds(&key),
        [DkimWarning::Pkcs1PublicKey, DkimWarning::ShortKey]
    );
}

#[test]
fn weak_rsa_key_is_error() {
    let key = parse(&format!("v=DKIM1; p={RSA_512}"));
    assert_eq!(error_kinds(&key), [DkimError::WeakKey]);
    assert_eq!(key.key_bits, Some(512));
}

#[test]
fn non_rsa_key_rejected() {
    let key = parse(&format!("v=DKIM1; p={EC_P256}"));
    assert_eq!(error_kinds(&key), [DkimError::InvalidPublicKey]);
    assert_eq!(key.key_bits, None);
    let ed25519 = parse(&format!("k=ed25519; p={RSA_512}"));
    assert_eq!(error_kinds(&ed25519), [DkimError::InvalidPublicKey]);
}

#[test]
fn invalid_base64_rejected() {
    for value in ["MFw*", "MFw", "MFwwDQ=="] {
        let key = parse(&format!("v=DKIM1; p={value}"));
        let expected = if value == "MFwwDQ==" {
            DkimError::InvalidPublicKey
        } else {
            DkimError::InvalidBase64
        };
        assert_eq!(error_kinds(&key), [expected], "{value}");
    }
}

#[test]
fn revoked_key_is_valid() {
    let key = parse("v=DKIM1; p=");
    assert!(key.is_valid());
    assert!(key.revoked);
    assert_eq!(warning_kinds(&key), [DkimWarning::RevokedKey]);
}

#[test]
fn version_rules() {
    assert_eq!(
        error_kinds(&parse("v=DKIM2; p=")),
        [DkimError::InvalidVersion]
    );
    assert_eq!(
        error_kinds(&parse("p=; v=DKIM1")),
        [DkimError::VersionNotFirst]
    );
    assert_eq!(
        error_kinds(&parse("v=DKIM1")),
        [DkimError::MissingPublicKey]
    );
    assert_eq!(
        error_kinds(&parse("v=DKIM1; p=; p=")),
        [DkimError::DuplicateTag]
    );
}

#[test]
fn hash_list_weakness() {
    let sha1 = parse("h=sha1; p=");
    assert_eq!(
        warning_kinds(&sha1),
        [DkimWarning::Sha1Only, DkimWarning::RevokedKey]
    );
    let none = parse("h=md5; p=");
    assert_eq!(error_kinds(&none), [DkimError::NoSupportedHash]);
    let both = parse("h=sha1:sha256; p=");
    assert_eq!(warning_kinds(&both), [DkimWarning::RevokedKey]);
}

#[test]
fn flags_and_services() {
    let key = parse("t=y:s; s=tlsrpt; n=hello; p=");
    assert!(key.testing);
    assert!(key.strict_subdomains);
    assert_eq!(key.notes.as_deref(), Some("hello"));
    assert_eq!(
        warning_kinds(&key),
        [
            DkimWarning::TestingMode,
            DkimWarning::NotForEmail,
            DkimWarning::RevokedKey
        ]
    );
    assert_eq!(key.explicit, ["t", "s", "n", "p"]);
}
