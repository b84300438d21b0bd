//! ClientHello messages built by hand, for any version from SSL 3.0 to TLS 1.3.
//!
//! The extensions and their order follow what current browsers and OpenSSL send, so servers and
//! middleboxes treat the probe like an ordinary client. They are SNI, extended master secret,
//! renegotiation info, supported groups, EC point formats, session ticket, signature algorithms
//! (TLS 1.2 and later), and for TLS 1.3 supported versions, PSK key exchange modes and key
//! shares for X25519 and P-256 with real public keys. The hello never offers
//! TLS_FALLBACK_SCSV, which would make a server that supports a higher version reject it.

use std::net::IpAddr;

use ring::agreement::{ECDH_P256, EphemeralPrivateKey, X25519};
use ring::rand::{SecureRandom, SystemRandom};

use super::ProtocolVersion;

const CONTENT_TYPE_HANDSHAKE: u8 = 22;
const HANDSHAKE_CLIENT_HELLO: u8 = 1;

/// RFC 5746 section 3.3: the signalling suite that replaces an empty renegotiation_info in a
/// hello that carries no extensions (SSL 3.0).
const EMPTY_RENEGOTIATION_INFO_SCSV: u16 = 0x00FF;

const EXTENSION_SERVER_NAME: u16 = 0x0000;
const EXTENSION_SUPPORTED_GROUPS: u16 = 0x000A;
const EXTENSION_EC_POINT_FORMATS: u16 = 0x000B;
const EXTENSION_SIGNATURE_ALGORITHMS: u16 = 0x000D;
const EXTENSION_PADDING: u16 = 0x0015;
const EXTENSION_EXTENDED_MASTER_SECRET: u16 = 0x0017;
const EXTENSION_SESSION_TICKET: u16 = 0x0023;
pub(super) const EXTENSION_SUPPORTED_VERSIONS: u16 = 0x002B;
const EXTENSION_PSK_KEY_EXCHANGE_MODES: u16 = 0x002D;
pub(super) const EXTENSION_KEY_SHARE: u16 = 0x0033;
const EXTENSION_RENEGOTIATION_INFO: u16 = 0xFF01;

const GROUP_X25519: u16 = 0x001D;
const GROUP_SECP256R1: u16 = 0x0017;

/// Named groups, in the order a browser prefers them. The finite-field groups come last
/// (RFC 7919) so a server that only has DHE still finds one.
const SUPPORTED_GROUPS: &[u16] = &[
    GROUP_X25519,
    GROUP_SECP256R1,
    0x0018, // secp384r1
    0x0019, // secp521r1
    0x001E, // x448
    0x0100, // ffdhe2048
    0x0101, // ffdhe3072
];

/// Signature schemes (RFC 8446 section 4.2.3), SHA-1 and DSA included so that old servers with
/// such certificates still accept TLS 1.2.
const SIGNATURE_ALGORITHMS: &[u16] = &[
    0x0403, // ecdsa_secp256r1_sha256
    0x0804, // rsa_pss_rsae_sha256
    0x0401, // rsa_pkcs1_sha256
    0x0503, // ecdsa_secp384r1_sha384
    0x0805, // rsa_pss_rsae_sha384
    0x0501, // rsa_pkcs1_sha384
    0x0806, // rsa_pss_rsae_sha512
    0x0601, // rsa_pkcs1_sha512
    0x0807, // ed25519
    0x0603, // ecdsa_secp521r1_sha512
    0x0201, // rsa_pkcs1_sha1
    0x0203, // ecdsa_sha1
    0x0402, // dsa_sha256
    0x0202, // dsa_sha1
];

/// Failure to draw random bytes or an ephemeral key from the system's generator.
#[derive(Debug, thiserror::Error)]
#[error("random number generator failed")]
pub struct RandomError;

/// Builds a ClientHello record for `version` that offers `suites` (IANA code points).
///
/// `server_name` goes into the SNI extension unless it is an IP address, which RFC 6066 section
/// 3 does not allow there.
pub fn build(
    version: ProtocolVersion,
    server_name: Option<&str>,
    suites: &[u16],
) -> Result<Vec<u8>, RandomError> {
    let random = SystemRandom::new();
    let mut body = Vec::with_capacity(512);

    // 1. Legacy version, random and a 32-byte session id. TLS 1.3 clients send a non-empty
    //    session id so that middleboxes see a resumption attempt (RFC 8446 appendix D.4).
    put_u16(&mut body, version.client_version());
    let mut bytes = [0u8; 64];
    random.fill(&mut bytes).map_err(|_| RandomError)?;
    body.extend_from_slice(&bytes[..32]);
    body.push(32);
    body.extend_from_slice(&bytes[32..]);

    // 2. Cipher suites and the null compression method.
    let mut suite_list: Vec<u16> = suites.to_vec();
    if version == ProtocolVersion::Ssl3 {
        suite_list.push(EMPTY_RENEGOTIATION_INFO_SCSV);
    }
    put_u16(&mut body, (suite_list.len() * 2) as u16);
    for suite in &suite_list {
        put_u16(&mut body, *suite);
    }
    body.extend_from_slice(&[1, 0]);

    // 3. Extensions. SSL 3.0 has none (RFC 6101 has no extension field, and some SSL 3.0
    //    servers reject a hello that carries one).
    if version != ProtocolVersion::Ssl3 {
        let extensions = extensions(version, server_name, &random)?;
        let padded = pad(&extensions, body.len());
        put_u16(&mut body, padded.len() as u16);
        body.extend_from_slice(&padded);
    }

    let mut message = Vec::with_capacity(body.len() + 9);
    message.push(CONTENT_TYPE_HANDSHAKE);
    put_u16(&mut message, version.record_version());
    put_u16(&mut message, (body.len() + 4) as u16);
    message.push(HANDSHAKE_CLIENT_HELLO);
    put_u24(&mut message, body.len());
    message.extend_from_slice(&body);
    Ok(message)
}

fn extensions(
    version: ProtocolVersion,
    server_name: Option<&str>,
    random: &SystemRandom,
) -> Result<Vec<u8>, RandomError> {
    let mut out = Vec::with_capacity(256);

    if let Some(name) = server_name.filter(|name| name.parse::<IpAddr>().is_err()) {
        let name = name.trim_end_matches('.').as_bytes();
        let mut data = Vec::with_capacity(name.len() + 5);
        put_u16(&mut data, (name.len() + 3) as u16);
        data.push(0); // host_name
        put_u16(&mut data, name.len() as u16);
        data.extend_from_slice(name);
        put_extension(&mut out, EXTENSION_SERVER_NAME, &data);
    }
    put_extension(&mut out, EXTENSION_EXTENDED_MASTER_SECRET, &[]);
    put_extension(&mut out, EXTENSION_RENEGOTIATION_INFO, &[0]);
    put_extension(
        &mut out,
        EXTENSION_SUPPORTED_GROUPS,
        &u16_list(SUPPORTED_GROUPS),
    );
    put_extension(&mut out, EXTENSION_EC_POINT_FORMATS, &[1, 0]);
    put_extension(&mut out, EXTENSION_SESSION_TICKET, &[]);
    if version >= ProtocolVersion::Tls12 {
        put_extension(
            &mut out,
            EXTENSION_SIGNATURE_ALGORITHMS,
            &u16_list(SIGNATURE_ALGORITHMS),
        );
    }

    if version == ProtocolVersion::Tls13 {
        // Only 1.3 is listed, so a server that would pick 1.2 has to reject the hello instead.
        put_extension(&mut out, EXTENSION_SUPPORTED_VERSIONS, &[2, 0x03, 0x04]);
        put_extension(&mut out, EXTENSION_PSK_KEY_EXCHANGE_MODES, &[1, 1]); // psk_dhe_ke

        let mut shares = Vec::with_capacity(110);
        for (group, algorithm) in [(GROUP_X25519, &X25519), (GROUP_SECP256R1, &ECDH_P256)] {
            let key = EphemeralPrivateKey::generate(algorithm, random).map_err(|_| RandomError)?;
            let public = key.compute_public_key().map_err(|_| RandomError)?;
            put_u16(&mut shares, group);
            put_u16(&mut shares, public.as_ref().len() as u16);
            shares.extend_from_slice(public.as_ref());
        }
        let mut data = Vec::with_capacity(shares.len() + 2);
        put_u16(&mut data, shares.len() as u16);
        data.extend_from_slice(&shares);
        put_extension(&mut out, EXTENSION_KEY_SHARE, &data);
    }
    Ok(out)
}

/// Appends a padding extension (RFC 7685) when the ClientHello record would be 256 to 511 bytes
/// long, a range that RFC 7685 says at least one TLS implementation hangs on. `before` is the
/// body length so far.
fn pad(extensions: &[u8], before: usize) -> Vec<u8> {
    let mut out = extensions.to_vec();
    // Handshake header (4) + body so far + the extensions length field (2) + the extensions.
    let length = 4 + before + 2 + extensions.len();
    if (256..512).contains(&length) {
        let data = (512 - length).saturating_sub(4).max(1);
        put_extension(&mut out, EXTENSION_PADDING, &vec![0; data]);
    }
    out
}

fn put_extension(out: &mut Vec<u8>, kind: u16, data: &[u8]) {
    put_u16(out, kind);
    put_u16(out, data.len() as u16);
    out.extend_from_slice(data);
}

fn u16_list(values: &[u16]) -> Vec<u8> {
    let mut out = Vec::with_capacity(values.len() * 2 + 2);
    put_u16(&mut out, (values.len() * 2) as u16);
    for value in values {
        put_u16(&mut out, *value);
    }
    out
}

fn put_u16(out: &mut Vec<u8>, value: u16) {
    out.extend_from_slice(&value.to_be_bytes());
}

fn put_u24(out: &mut Vec<u8>, value: usize) {
    out.extend_from_slice(&(value as u32).to_be_bytes()[1..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Extension types of a TLS 1.0+ hello, read back from the bytes, plus the hello's fields.
    struct Parsed {
        record_version: u16,
        client_version: u16,
        suites: Vec<u16>,
        extensions: Vec<(u16, Vec<u8>)>,
        handshake_length: usize,
    }

    fn parse(bytes: &[u8]) -> Parsed {
        assert_eq!(bytes[0], CONTENT_TYPE_HANDSHAKE);
        let record_length = u16::from_be_bytes([bytes[3], bytes[4]]) as usize;
        assert_eq!(record_length, bytes.len() - 5, "record length");
        assert_eq!(bytes[5], HANDSHAKE_CLIENT_HELLO);
        let handshake_length = u32::from_be_bytes([0, bytes[6], bytes[7], bytes[8]]) as usize;
        assert_eq!(handshake_length, bytes.len() - 9, "handshake length");

        let body = &bytes[9..];
        let session_id_length = body[34] as usize;
        assert_eq!(session_id_length, 32);
        let mut at = 35 + session_id_length;
        let suites_length = u16::from_be_bytes([body[at], body[at + 1]]) as usize;
        let suites = body[at + 2..at + 2 + suites_length]
            .chunks(2)
            .map(|pair| u16::from_be_bytes([pair[0], pair[1]]))
            .collect();
        at += 2 + suites_length;
        assert_eq!(&body[at..at + 2], &[1, 0], "null compression only");
        at += 2;

        let mut extensions = Vec::new();
        if at < body.len() {
            let total = u16::from_be_bytes([body[at], body[at + 1]]) as usize;
            at += 2;
            assert_eq!(total, body.len() - at, "extensions length");
            while at < body.len() {
                let kind = u16::from_be_bytes([body[at], body[at + 1]]);
                let length = u16::from_be_bytes([body[at + 2], body[at + 3]]) as usize;
                extensions.push((kind, body[at + 4..at + 4 + length].to_vec()));
                at += 4 + length;
            }
        }
        Parsed {
            record_version: u16::from_be_bytes([bytes[1], bytes[2]]),
            client_version: u16::from_be_bytes([body[0], body[1]]),
            suites,
            extensions,
            handshake_length,
        }
    }

    fn extension(parsed: &Parsed, kind: u16) -> Option<&[u8]> {
        parsed
            .extensions
            .iter()
            .find(|(found, _)| *found == kind)
            .map(|(_, data)| data.as_slice())
    }

    #[test]
    fn ssl3_hello_has_no_extensions() {
        let parsed = parse(&build(ProtocolVersion::Ssl3, Some("example.com"), &[0x002F]).unwrap());
        assert_eq!(parsed.record_version, 0x0300);
        assert_eq!(parsed.client_version, 0x0300);
        assert_eq!(parsed.suites, vec![0x002F, EMPTY_RENEGOTIATION_INFO_SCSV]);
        assert!(parsed.extensions.is_empty());
    }

    #[test]
    fn tls10_hello_fields() {
        let parsed = parse(&build(ProtocolVersion::Tls10, Some("example.com"), &[0xC013]).unwrap());
        assert_eq!(parsed.record_version, 0x0301);
        assert_eq!(parsed.client_version, 0x0301);
        assert_eq!(parsed.suites, vec![0xC013]);
        let sni = extension(&parsed, EXTENSION_SERVER_NAME).expect("SNI present");
        assert_eq!(&sni[5..], b"example.com");
        assert_eq!(
            extension(&parsed, EXTENSION_RENEGOTIATION_INFO),
            Some(&[0u8][..])
        );
        assert!(extension(&parsed, EXTENSION_SIGNATURE_ALGORITHMS).is_none());
        assert!(extension(&parsed, EXTENSION_SUPPORTED_VERSIONS).is_none());
    }

    #[test]
    fn tls12_hello_fields() {
        let parsed = parse(&build(ProtocolVersion::Tls12, None, &[0xC02F]).unwrap());
        assert_eq!(parsed.client_version, 0x0303);
        assert!(extension(&parsed, EXTENSION_SERVER_NAME).is_none());
        assert!(extension(&parsed, EXTENSION_SIGNATURE_ALGORITHMS).is_some());
        assert!(extension(&parsed, EXTENSION_KEY_SHARE).is_none());
    }

    #[test]
    fn tls13_hello_fields() {
        let parsed = parse(&build(ProtocolVersion::Tls13, Some("a.test"), &[0x1301]).unwrap());
        assert_eq!(parsed.record_version, 0x0301);
        assert_eq!(parsed.client_version, 0x0303);
        assert_eq!(
            extension(&parsed, EXTENSION_SUPPORTED_VERSIONS),
            Some(&[2u8, 3, 4][..])
        );
        let shares = extension(&parsed, EXTENSION_KEY_SHARE).expect("key_share present");
        // List length, then X25519 (2 + 2 + 32 bytes) and P-256 (2 + 2 + 65 bytes).
        assert_eq!(shares.len(), 2 + 36 + 69);
        assert_eq!(&shares[2..6], &[0x00, 0x1D, 0x00, 32]);
        assert_eq!(&shares[38..42], &[0x00, 0x17, 0x00, 65]);
        assert_eq!(shares[42], 4, "uncompressed P-256 point");
    }

    #[test]
    fn ip_address_is_not_sent_as_sni() {
        let parsed = parse(&build(ProtocolVersion::Tls12, Some("192.0.2.1"), &[0x002F]).unwrap());
        assert!(extension(&parsed, EXTENSION_SERVER_NAME).is_none());
    }

    #[test]
    fn hello_avoids_256_to_511_bytes() {
        for count in 1..200u16 {
            let suites: Vec<u16> = (0..count).collect();
            for version in [ProtocolVersion::Tls10, ProtocolVersion::Tls12] {
                let parsed = parse(&build(version, Some("example.com"), &suites).unwrap());
                // The record payload: handshake header and ClientHello body.
                let message_length = parsed.handshake_length + 4;
                assert!(
                    !(256..512).contains(&message_length),
                    "{count} suites give a {message_length} byte hello"
                );
            }
        }
    }

    #[test]
    fn hellos_differ_in_random() {
        let first = build(ProtocolVersion::Tls12, None, &[0x002F]).unwrap();
        let second = build(ProtocolVersion::Tls12, None, &[0x002F]).unwrap();
        assert_ne!(first[11..43], second[11..43]);
    }
}
