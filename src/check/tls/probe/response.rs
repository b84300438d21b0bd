//! A narrow parser for the first flight a server sends back to a ClientHello.
//!
//! It reads TLS records until it can name what the server did: a ServerHello (or a
//! HelloRetryRequest, which RFC 8446 section 4.1.3 sends as a ServerHello with a fixed random),
//! an alert, some other record, an SSL 2.0 response, or bytes that are not TLS at all.
//!
//! posture does not use the `tls-parser` crate (version 0.12.2, MIT or Apache-2.0) here because
//! that release parses one record at a time and leaves a ServerHello split across records to the
//! caller, does not tell a HelloRetryRequest from a ServerHello, and brings nom-derive, phf and
//! num_enum into the build for the five fields this module reads.

/// The largest record the probe accepts: a TLSCiphertext of 2^14 + 2048 bytes (RFC 5246
/// section 6.2.3). Longer length fields mean the bytes are not TLS.
const MAX_RECORD_LENGTH: usize = (1 << 14) + 2048;

/// The largest ServerHello handshake message the probe accepts. A real one is under 200 bytes
/// for TLS 1.2 and under 1 KiB for TLS 1.3 with post-quantum key shares.
const MAX_SERVER_HELLO_LENGTH: usize = 8 * 1024;

const CONTENT_TYPE_CHANGE_CIPHER_SPEC: u8 = 20;
const CONTENT_TYPE_ALERT: u8 = 21;
const CONTENT_TYPE_HANDSHAKE: u8 = 22;
const CONTENT_TYPE_HEARTBEAT: u8 = 24;

const HANDSHAKE_SERVER_HELLO: u8 = 2;
const HANDSHAKE_CERTIFICATE: u8 = 11;
const SSL2_SERVER_HELLO: u8 = 4;

const ALERT_LEVEL_WARNING: u8 = 1;
const ALERT_CLOSE_NOTIFY: u8 = 0;

const EXTENSION_SUPPORTED_VERSIONS: u16 = super::hello::EXTENSION_SUPPORTED_VERSIONS;

/// SHA-256 of "HelloRetryRequest": the random of a HelloRetryRequest (RFC 8446 section 4.1.3).
const HELLO_RETRY_REQUEST_RANDOM: [u8; 32] = [
    0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
    0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C,
];

/// The fields of a ServerHello that the probes grade.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerHello {
    pub legacy_version: u16,
    /// The version from the supported_versions extension (TLS 1.3 and HelloRetryRequest).
    pub selected_version: Option<u16>,
    pub cipher_suite: u16,
    pub hello_retry_request: bool,
}

impl ServerHello {
    /// Returns the negotiated version: supported_versions when present, else legacy_version
    /// (RFC 8446 section 4.2.1).
    pub fn version(&self) -> u16 {
        self.selected_version.unwrap_or(self.legacy_version)
    }
}

/// The kind of message the server's first bytes contain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    ServerHello(ServerHello),
    /// A fatal alert, or a close_notify, before any ServerHello.
    Alert {
        level: u8,
        description: u8,
    },
    /// A record of another content type, or a handshake message other than ServerHello, where
    /// the ServerHello should be.
    UnexpectedMessage {
        content_type: u8,
        handshake_type: Option<u8>,
    },
    /// An SSL 2.0 SERVER-HELLO: the server speaks only SSL 2.0.
    Ssl2ServerHello,
    /// Bytes that do not start a TLS record, such as an HTTP response. `prefix` is the start of
    /// them, escaped.
    NotTls {
        prefix: String,
    },
    /// TLS records whose content does not parse.
    Malformed {
        reason: &'static str,
    },
}

/// The result of parsing the bytes received so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parse {
    Complete(Response),
    /// More bytes are needed to decide.
    Incomplete,
}

/// Parses the bytes a server sent after the ClientHello.
pub fn parse(bytes: &[u8]) -> Parse {
    let Some(&first) = bytes.first() else {
        return Parse::Incomplete;
    };
    if first & 0x80 != 0 {
        return parse_ssl2(bytes);
    }
    if !(CONTENT_TYPE_CHANGE_CIPHER_SPEC..=CONTENT_TYPE_HEARTBEAT).contains(&first)
        || bytes.get(1).is_some_and(|&major| major != 3)
    {
        return Parse::Complete(not_tls(bytes));
    }

    // Handshake messages may span records, so their payloads are joined before parsing.
    let mut handshake = Vec::new();
    let mut at = 0;
    loop {
        let Some(header) = bytes.get(at..at + 5) else {
            return Parse::Incomplete;
        };
        let content_type = header[0];
        let length = u16::from_be_bytes([header[3], header[4]]) as usize;
        if !(CONTENT_TYPE_CHANGE_CIPHER_SPEC..=CONTENT_TYPE_HEARTBEAT).contains(&content_type)
            || header[1] != 3
        {
            return malformed("record header is not TLS");
        }
        if length == 0 || length > MAX_RECORD_LENGTH {
            return malformed("record length out of range");
        }
        let Some(payload) = bytes.get(at + 5..at + 5 + length) else {
            return Parse::Incomplete;
        };
        at += 5 + length;

        match content_type {
            CONTENT_TYPE_ALERT => {
                let [level, description, ..] = *payload else {
                    return malformed("alert shorter than 2 bytes");
                };
                // Some servers send a warning such as unrecognized_name and go on with the
                // handshake, so only a fatal alert or close_notify ends it.
                if level != ALERT_LEVEL_WARNING || description == ALERT_CLOSE_NOTIFY {
                    return Parse::Complete(Response::Alert { level, description });
                }
            }
            CONTENT_TYPE_HANDSHAKE => {
                handshake.extend_from_slice(payload);
                if let Some(parse) = parse_handshake(&handshake) {
                    return parse;
                }
            }
            _ => {
                return Parse::Complete(Response::UnexpectedMessage {
                    content_type,
                    handshake_type: None,
                });
            }
        }
    }
}

/// Parses the joined handshake payloads, or returns `None` while the first message is partial.
fn parse_handshake(handshake: &[u8]) -> Option<Parse> {
    let header = handshake.get(..4)?;
    let kind = header[0];
    if kind != HANDSHAKE_SERVER_HELLO {
        return Some(Parse::Complete(Response::UnexpectedMessage {
            content_type: CONTENT_TYPE_HANDSHAKE,
            handshake_type: Some(kind),
        }));
    }
    let length = u32::from_be_bytes([0, header[1], header[2], header[3]]) as usize;
    if length > MAX_SERVER_HELLO_LENGTH {
        return Some(malformed("ServerHello length out of range"));
    }
    let body = handshake.get(4..4 + length)?;
    Some(match parse_server_hello(body) {
        Ok(hello) => Parse::Complete(Response::ServerHello(hello)),
        Err(reason) => malformed(reason),
    })
}

/// The server's certificate chain as far as the bytes received so far show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertificateParse {
    /// The certificate_list of the Certificate message, leaf first, each entry as DER bytes.
    Chain(Vec<Vec<u8>>),
    /// The flight has no Certificate message after the ServerHello: an anonymous suite, another
    /// handshake message, an alert or another record type comes first. The text names it.
    Absent(String),
    /// More bytes are needed.
    Incomplete,
    /// The Certificate message declares `length` bytes, more than the caller's limit.
    TooLarge {
        length: usize,
    },
    Malformed(&'static str),
}

/// Parses the Certificate message that follows the ServerHello in a TLS 1.2 or older flight
/// (RFC 5246 section 7.4.2), where it travels in plaintext.
///
/// `bytes` is everything the server sent, from the first record on, the ServerHello included.
/// Records may split a message or carry several, so the handshake payloads are joined first.
/// A Certificate message longer than `max_length` bytes gives [`CertificateParse::TooLarge`]
/// as soon as its header arrives.
pub fn parse_certificate(bytes: &[u8], max_length: usize) -> CertificateParse {
    let mut handshake = Vec::new();
    let mut at = 0;
    loop {
        // Every complete handshake message in the joined payloads, in order.
        let mut message_at = 0;
        while let Some(header) = handshake.get(message_at..message_at + 4) {
            let kind = header[0];
            let length = u32::from_be_bytes([0, header[1], header[2], header[3]]) as usize;
            if message_at == 0 {
                if kind != HANDSHAKE_SERVER_HELLO {
                    return CertificateParse::Malformed(
                        "the flight does not start with a ServerHello",
                    );
                }
                message_at = 4 + length;
                continue;
            }
            if kind != HANDSHAKE_CERTIFICATE {
                return CertificateParse::Absent(format!(
                    "handshake message type {kind} follows the ServerHello, not a Certificate"
                ));
            }
            if length > max_length {
                return CertificateParse::TooLarge { length };
            }
            let Some(body) = handshake.get(message_at + 4..message_at + 4 + length) else {
                break;
            };
            return match parse_certificate_list(body) {
                Ok(chain) => CertificateParse::Chain(chain),
                Err(reason) => CertificateParse::Malformed(reason),
            };
        }

        let Some(header) = bytes.get(at..at + 5) else {
            return CertificateParse::Incomplete;
        };
        let content_type = header[0];
        let length = u16::from_be_bytes([header[3], header[4]]) as usize;
        if header[1] != 3 || length == 0 || length > MAX_RECORD_LENGTH {
            return CertificateParse::Malformed("record header is not TLS");
        }
        let Some(payload) = bytes.get(at + 5..at + 5 + length) else {
            return CertificateParse::Incomplete;
        };
        at += 5 + length;
        match content_type {
            CONTENT_TYPE_HANDSHAKE => handshake.extend_from_slice(payload),
            // A warning such as unrecognized_name may come before the ServerHello.
            CONTENT_TYPE_ALERT
                if payload.first() == Some(&ALERT_LEVEL_WARNING)
                    && payload.get(1) != Some(&ALERT_CLOSE_NOTIFY) => {}
            CONTENT_TYPE_ALERT => {
                let description = payload.get(1).copied().unwrap_or_default();
                return CertificateParse::Absent(format!(
                    "alert {} before the Certificate message",
                    super::alert_name(description)
                ));
            }
            other => {
                return CertificateParse::Absent(format!(
                    "record of content type {other} before the Certificate message"
                ));
            }
        }
    }
}

/// Parses the body of a TLS 1.2 or older Certificate message: a 24-bit length, then each
/// certificate as a 24-bit length and its DER bytes.
fn parse_certificate_list(body: &[u8]) -> Result<Vec<Vec<u8>>, &'static str> {
    let mut reader = Reader::new(body);
    let length = reader.u24().ok_or("Certificate message truncated")?;
    let mut list = Reader::new(
        reader
            .take(length as usize)
            .ok_or("certificate_list longer than the Certificate message")?,
    );
    if !reader.is_empty() {
        return Err("bytes after the certificate_list");
    }
    let mut chain = Vec::new();
    while !list.is_empty() {
        let size = list.u24().ok_or("certificate entry truncated")?;
        if size == 0 {
            return Err("empty certificate entry");
        }
        let der = list
            .take(size as usize)
            .ok_or("certificate entry longer than the certificate_list")?;
        chain.push(der.to_vec());
    }
    if chain.is_empty() {
        return Err("the Certificate message lists no certificate");
    }
    Ok(chain)
}

/// Parses a ServerHello body (RFC 5246 section 7.4.1.3, RFC 8446 section 4.1.3).
fn parse_server_hello(body: &[u8]) -> Result<ServerHello, &'static str> {
    let mut reader = Reader::new(body);
    let legacy_version = reader.u16().ok_or("ServerHello truncated")?;
    if legacy_version >> 8 != 3 {
        return Err("ServerHello version is not 3.x");
    }
    let random = reader.take(32).ok_or("ServerHello truncated")?;
    let hello_retry_request = random == HELLO_RETRY_REQUEST_RANDOM;
    let session_id_length = reader.u8().ok_or("ServerHello truncated")?;
    if session_id_length > 32 {
        return Err("ServerHello session id longer than 32 bytes");
    }
    reader
        .take(session_id_length as usize)
        .ok_or("ServerHello truncated")?;
    let cipher_suite = reader.u16().ok_or("ServerHello truncated")?;
    reader.u8().ok_or("ServerHello truncated")?; // compression method

    // SSL 3.0 and early TLS servers may end the message here: extensions are optional.
    let mut selected_version = None;
    if !reader.is_empty() {
        let length = reader.u16().ok_or("ServerHello extensions truncated")?;
        let mut extensions = Reader::new(
            reader
                .take(length as usize)
                .ok_or("ServerHello extensions truncated")?,
        );
        while !extensions.is_empty() {
            let kind = extensions.u16().ok_or("extension truncated")?;
            let size = extensions.u16().ok_or("extension truncated")?;
            let data = extensions
                .take(size as usize)
                .ok_or("extension truncated")?;
            if kind == EXTENSION_SUPPORTED_VERSIONS {
                let [high, low] = *data else {
                    return Err("supported_versions is not 2 bytes");
                };
                selected_version = Some(u16::from_be_bytes([high, low]));
            }
        }
    }
    Ok(ServerHello {
        legacy_version,
        selected_version,
        cipher_suite,
        hello_retry_request,
    })
}

/// Parses a response whose first byte has the high bit set: an SSL 2.0 record with a two-byte
/// header, whose first body byte is the message type.
fn parse_ssl2(bytes: &[u8]) -> Parse {
    match bytes.get(2) {
        None => Parse::Incomplete,
        Some(&SSL2_SERVER_HELLO) => Parse::Complete(Response::Ssl2ServerHello),
        Some(_) => Parse::Complete(not_tls(bytes)),
    }
}

fn not_tls(bytes: &[u8]) -> Response {
    let prefix = &bytes[..bytes.len().min(32)];
    Response::NotTls {
        prefix: prefix.escape_ascii().to_string(),
    }
}

fn malformed(reason: &'static str) -> Parse {
    Parse::Complete(Response::Malformed { reason })
}

/// A cursor over a byte slice whose reads return `None` past the end.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self { bytes }
    }

    fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    fn take(&mut self, count: usize) -> Option<&'a [u8]> {
        if count > self.bytes.len() {
            return None;
        }
        let (head, tail) = self.bytes.split_at(count);
        self.bytes = tail;
        Some(head)
    }

    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|bytes| bytes[0])
    }

    fn u16(&mut self) -> Option<u16> {
        self.take(2)
            .map(|bytes| u16::from_be_bytes([bytes[0], bytes[1]]))
    }

    fn u24(&mut self) -> Option<u32> {
        self.take(3)
            .map(|bytes| u32::from_be_bytes([0, bytes[0], bytes[1], bytes[2]]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a ServerHello body; `supported_version` adds that extension.
    fn server_hello_body(
        legacy_version: u16,
        random: [u8; 32],
        suite: u16,
        supported_version: Option<u16>,
        with_extensions: bool,
    ) -> Vec<u8> {
        let mut body = legacy_version.to_be_bytes().to_vec();
        body.extend_from_slice(&random);
        body.push(32);
        body.extend_from_slice(&[0xAB; 32]);
        body.extend_from_slice(&suite.to_be_bytes());
        body.push(0);
        if with_extensions {
            let mut extensions = vec![0xFF, 0x01, 0x00, 0x01, 0x00]; // renegotiation_info
            if let Some(version) = supported_version {
                extensions.extend_from_slice(&[0x00, 0x2B, 0x00, 0x02]);
                extensions.extend_from_slice(&version.to_be_bytes());
            }
            body.extend_from_slice(&(extensions.len() as u16).to_be_bytes());
            body.extend_from_slice(&extensions);
        }
        body
    }

    fn handshake_message(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut message = vec![kind];
        message.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        message.extend_from_slice(body);
        message
    }

    fn record(content_type: u8, version: u16, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![content_type];
        out.extend_from_slice(&version.to_be_bytes());
        out.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        out.extend_from_slice(payload);
        out
    }

    fn server_hello_record(legacy_version: u16, suite: u16, supported: Option<u16>) -> Vec<u8> {
        let body = server_hello_body(legacy_version, [7; 32], suite, supported, true);
        record(
            CONTENT_TYPE_HANDSHAKE,
            legacy_version,
            &handshake_message(HANDSHAKE_SERVER_HELLO, &body),
        )
    }

    fn expect_hello(bytes: &[u8]) -> ServerHello {
        match parse(bytes) {
            Parse::Complete(Response::ServerHello(hello)) => hello,
            other => panic!("expected a ServerHello, got {other:?}"),
        }
    }

    #[test]
    fn server_hello_each_version() {
        for version in [0x0300, 0x0301, 0x0302, 0x0303] {
            let hello = expect_hello(&server_hello_record(version, 0x002F, None));
            assert_eq!(hello.version(), version);
            assert_eq!(hello.cipher_suite, 0x002F);
            assert!(!hello.hello_retry_request);
        }
    }

    #[test]
    fn ssl3_server_hello_without_extensions() {
        let body = server_hello_body(0x0300, [1; 32], 0x000A, None, false);
        let bytes = record(
            CONTENT_TYPE_HANDSHAKE,
            0x0300,
            &handshake_message(HANDSHAKE_SERVER_HELLO, &body),
        );
        let hello = expect_hello(&bytes);
        assert_eq!(hello.version(), 0x0300);
        assert_eq!(hello.cipher_suite, 0x000A);
    }

    #[test]
    fn tls13_server_hello_uses_supported_versions() {
        let hello = expect_hello(&server_hello_record(0x0303, 0x1302, Some(0x0304)));
        assert_eq!(hello.legacy_version, 0x0303);
        assert_eq!(hello.version(), 0x0304);
        assert_eq!(hello.cipher_suite, 0x1302);
    }

    #[test]
    fn hello_retry_request_is_flagged() {
        let body = server_hello_body(
            0x0303,
            HELLO_RETRY_REQUEST_RANDOM,
            0x1301,
            Some(0x0304),
            true,
        );
        let bytes = record(
            CONTENT_TYPE_HANDSHAKE,
            0x0303,
            &handshake_message(HANDSHAKE_SERVER_HELLO, &body),
        );
        let hello = expect_hello(&bytes);
        assert!(hello.hello_retry_request);
        assert_eq!(hello.version(), 0x0304);
    }

    #[test]
    fn server_hello_split_across_records() {
        let body = server_hello_body(0x0303, [3; 32], 0xC02F, None, true);
        let message = handshake_message(HANDSHAKE_SERVER_HELLO, &body);
        let (head, tail) = message.split_at(10);
        let mut bytes = record(CONTENT_TYPE_HANDSHAKE, 0x0303, head);
        assert_eq!(parse(&bytes), Parse::Incomplete);
        bytes.extend_from_slice(&record(CONTENT_TYPE_HANDSHAKE, 0x0303, tail));
        assert_eq!(expect_hello(&bytes).cipher_suite, 0xC02F);
    }

    #[test]
    fn every_prefix_is_incomplete() {
        let bytes = server_hello_record(0x0303, 0xC02F, None);
        for end in 0..bytes.len() {
            assert_eq!(
                parse(&bytes[..end]),
                Parse::Incomplete,
                "prefix of {end} bytes"
            );
        }
    }

    #[test]
    fn fatal_alerts() {
        for (description, name) in [(40u8, "handshake_failure"), (70, "protocol_version")] {
            let bytes = record(CONTENT_TYPE_ALERT, 0x0301, &[2, description]);
            assert_eq!(
                parse(&bytes),
                Parse::Complete(Response::Alert {
                    level: 2,
                    description
                }),
                "{name}"
            );
        }
    }

    #[test]
    fn warning_alert_then_server_hello() {
        let mut bytes = record(CONTENT_TYPE_ALERT, 0x0303, &[1, 112]); // unrecognized_name
        bytes.extend_from_slice(&server_hello_record(0x0303, 0x002F, None));
        assert_eq!(expect_hello(&bytes).cipher_suite, 0x002F);
    }

    #[test]
    fn close_notify_warning_ends_handshake() {
        let bytes = record(CONTENT_TYPE_ALERT, 0x0303, &[1, 0]);
        assert_eq!(
            parse(&bytes),
            Parse::Complete(Response::Alert {
                level: 1,
                description: 0
            })
        );
    }

    #[test]
    fn short_alert_is_malformed() {
        let bytes = record(CONTENT_TYPE_ALERT, 0x0303, &[2]);
        assert!(matches!(
            parse(&bytes),
            Parse::Complete(Response::Malformed { .. })
        ));
    }

    #[test]
    fn other_record_type_first() {
        let bytes = record(23, 0x0303, &[0; 20]);
        assert_eq!(
            parse(&bytes),
            Parse::Complete(Response::UnexpectedMessage {
                content_type: 23,
                handshake_type: None
            })
        );
    }

    #[test]
    fn other_handshake_message_first() {
        let bytes = record(
            CONTENT_TYPE_HANDSHAKE,
            0x0303,
            &handshake_message(11, &[0; 8]),
        );
        assert_eq!(
            parse(&bytes),
            Parse::Complete(Response::UnexpectedMessage {
                content_type: CONTENT_TYPE_HANDSHAKE,
                handshake_type: Some(11)
            })
        );
    }

    #[test]
    fn http_response_is_not_tls() {
        let bytes = b"HTTP/1.1 400 Bad Request\r\nServer: nginx\r\n\r\n";
        match parse(bytes) {
            Parse::Complete(Response::NotTls { prefix }) => {
                assert!(prefix.starts_with("HTTP/1.1 400"), "{prefix}");
            }
            other => panic!("expected NotTls, got {other:?}"),
        }
    }

    #[test]
    fn wrong_major_version_is_not_tls() {
        // 0x16 followed by a major version other than 3.
        assert!(matches!(
            parse(&[0x16, 0x48, 0x54]),
            Parse::Complete(Response::NotTls { .. })
        ));
    }

    #[test]
    fn ssl2_server_hello() {
        let bytes = [0x80, 0x2E, SSL2_SERVER_HELLO, 0x00, 0x01, 0x00, 0x02];
        assert_eq!(parse(&bytes), Parse::Complete(Response::Ssl2ServerHello));
        assert_eq!(parse(&bytes[..2]), Parse::Incomplete);
    }

    #[test]
    fn oversized_record_length() {
        let bytes = [CONTENT_TYPE_HANDSHAKE, 0x03, 0x03, 0xFF, 0xFF, 0x02];
        assert_eq!(parse(&bytes), malformed("record length out of range"));
    }

    #[test]
    fn zero_record_length() {
        let bytes = [CONTENT_TYPE_HANDSHAKE, 0x03, 0x03, 0x00, 0x00];
        assert_eq!(parse(&bytes), malformed("record length out of range"));
    }

    #[test]
    fn oversized_server_hello_length() {
        let bytes = record(CONTENT_TYPE_HANDSHAKE, 0x0303, &[2, 0xFF, 0xFF, 0xFF, 3, 3]);
        assert_eq!(parse(&bytes), malformed("ServerHello length out of range"));
    }

    #[test]
    fn truncated_server_hello_body() {
        // The handshake header claims 6 bytes and they arrive, but a ServerHello needs 38.
        let bytes = record(
            CONTENT_TYPE_HANDSHAKE,
            0x0303,
            &handshake_message(HANDSHAKE_SERVER_HELLO, &[3, 3, 0, 0, 0, 0]),
        );
        assert_eq!(parse(&bytes), malformed("ServerHello truncated"));
    }

    #[test]
    fn extension_length_past_the_end() {
        let mut body = server_hello_body(0x0303, [5; 32], 0x002F, None, false);
        body.extend_from_slice(&[0x00, 0x10, 0x00, 0x2B]);
        let bytes = record(
            CONTENT_TYPE_HANDSHAKE,
            0x0303,
            &handshake_message(HANDSHAKE_SERVER_HELLO, &body),
        );
        assert_eq!(parse(&bytes), malformed("ServerHello extensions truncated"));
    }

    #[test]
    fn bad_supported_versions_length() {
        let mut body = server_hello_body(0x0303, [5; 32], 0x1301, None, false);
        body.extend_from_slice(&[0x00, 0x05, 0x00, 0x2B, 0x00, 0x01, 0x03]);
        let bytes = record(
            CONTENT_TYPE_HANDSHAKE,
            0x0303,
            &handshake_message(HANDSHAKE_SERVER_HELLO, &body),
        );
        assert_eq!(
            parse(&bytes),
            malformed("supported_versions is not 2 bytes")
        );
    }

    #[test]
    fn long_session_id_is_malformed() {
        let mut body = server_hello_body(0x0303, [5; 32], 0x002F, None, false);
        body[34] = 33;
        let bytes = record(
            CONTENT_TYPE_HANDSHAKE,
            0x0303,
            &handshake_message(HANDSHAKE_SERVER_HELLO, &body),
        );
        assert_eq!(
            parse(&bytes),
            malformed("ServerHello session id longer than 32 bytes")
        );
    }
    /// Builds a Certificate message (RFC 5246 section 7.4.2) carrying `certificates`.
    fn certificate_message(certificates: &[&[u8]]) -> Vec<u8> {
        let mut list = Vec::new();
        for certificate in certificates {
            list.extend_from_slice(&(certificate.len() as u32).to_be_bytes()[1..]);
            list.extend_from_slice(certificate);
        }
        let mut body = (list.len() as u32).to_be_bytes()[1..].to_vec();
        body.extend_from_slice(&list);
        handshake_message(HANDSHAKE_CERTIFICATE, &body)
    }

    fn server_hello_message() -> Vec<u8> {
        let body = server_hello_body(0x0301, [9; 32], 0x002F, None, true);
        handshake_message(HANDSHAKE_SERVER_HELLO, &body)
    }

    /// Splits `payload` into handshake records of at most `size` bytes each.
    fn fragmented(payload: &[u8], size: usize) -> Vec<u8> {
        payload
            .chunks(size)
            .flat_map(|chunk| record(CONTENT_TYPE_HANDSHAKE, 0x0301, chunk))
            .collect()
    }

    const LEAF: &[u8] = &[0x30, 0x03, 0x02, 0x01, 0x01];
    const INTERMEDIATE: &[u8] = &[0x30, 0x03, 0x02, 0x01, 0x02];

    #[test]
    fn certificate_coalesced_with_server_hello() {
        // ServerHello, Certificate and ServerHelloDone in one record, which RFC 5246 section
        // 6.2.1 allows.
        let mut flight = server_hello_message();
        flight.extend_from_slice(&certificate_message(&[LEAF, INTERMEDIATE]));
        flight.extend_from_slice(&handshake_message(14, &[]));
        let bytes = record(CONTENT_TYPE_HANDSHAKE, 0x0301, &flight);
        assert_eq!(
            parse_certificate(&bytes, 1 << 20),
            CertificateParse::Chain(vec![LEAF.to_vec(), INTERMEDIATE.to_vec()])
        );
    }

    #[test]
    fn certificate_fragmented_across_records() {
        let big = vec![0x42; 40_000];
        let mut flight = server_hello_message();
        flight.extend_from_slice(&certificate_message(&[&big, LEAF]));
        for size in [1, 7, 100, 16_384] {
            let bytes = fragmented(&flight, size);
            assert_eq!(
                parse_certificate(&bytes, 1 << 20),
                CertificateParse::Chain(vec![big.clone(), LEAF.to_vec()]),
                "records of {size} bytes"
            );
        }
    }

    #[test]
    fn certificate_after_separate_records() {
        let mut bytes = record(CONTENT_TYPE_ALERT, 0x0301, &[1, 112]); // unrecognized_name
        bytes.extend_from_slice(&record(
            CONTENT_TYPE_HANDSHAKE,
            0x0301,
            &server_hello_message(),
        ));
        bytes.extend_from_slice(&record(
            CONTENT_TYPE_HANDSHAKE,
            0x0301,
            &certificate_message(&[LEAF]),
        ));
        assert_eq!(
            parse_certificate(&bytes, 1 << 20),
            CertificateParse::Chain(vec![LEAF.to_vec()])
        );
    }

    #[test]
    fn certificate_truncated_is_incomplete() {
        let mut flight = server_hello_message();
        flight.extend_from_slice(&certificate_message(&[LEAF, INTERMEDIATE]));
        let bytes = fragmented(&flight, 50);
        for end in 0..bytes.len() {
            assert_eq!(
                parse_certificate(&bytes[..end], 1 << 20),
                CertificateParse::Incomplete,
                "prefix of {end} bytes"
            );
        }
    }

    #[test]
    fn certificate_over_limit() {
        let big = vec![0x42; 5_000];
        let mut flight = server_hello_message();
        flight.extend_from_slice(&certificate_message(&[&big]));
        // Only the records up to the Certificate message's header are needed to see its size.
        let bytes = fragmented(&flight, 200);
        assert_eq!(
            parse_certificate(&bytes[..400], 4_096),
            CertificateParse::TooLarge { length: 5_006 }
        );
    }

    #[test]
    fn anonymous_suite_has_no_certificate() {
        let mut flight = server_hello_message();
        flight.extend_from_slice(&handshake_message(12, &[0; 20])); // ServerKeyExchange
        let bytes = record(CONTENT_TYPE_HANDSHAKE, 0x0301, &flight);
        assert!(matches!(
            parse_certificate(&bytes, 1 << 20),
            CertificateParse::Absent(reason) if reason.contains("type 12")
        ));
    }

    #[test]
    fn alert_instead_of_certificate() {
        let mut bytes = record(CONTENT_TYPE_HANDSHAKE, 0x0301, &server_hello_message());
        bytes.extend_from_slice(&record(CONTENT_TYPE_ALERT, 0x0301, &[2, 80]));
        assert!(matches!(
            parse_certificate(&bytes, 1 << 20),
            CertificateParse::Absent(reason) if reason.contains("internal_error")
        ));
    }

    #[test]
    fn certificate_entry_past_list_end() {
        let mut message = certificate_message(&[LEAF]);
        // The entry claims one byte more than the list holds.
        message[9] += 1;
        let mut flight = server_hello_message();
        flight.extend_from_slice(&message);
        let bytes = record(CONTENT_TYPE_HANDSHAKE, 0x0301, &flight);
        assert_eq!(
            parse_certificate(&bytes, 1 << 20),
            CertificateParse::Malformed("certificate entry longer than the certificate_list")
        );
    }

    #[test]
    fn empty_certificate_list() {
        let mut flight = server_hello_message();
        flight.extend_from_slice(&certificate_message(&[]));
        let bytes = record(CONTENT_TYPE_HANDSHAKE, 0x0301, &flight);
        assert_eq!(
            parse_certificate(&bytes, 1 << 20),
            CertificateParse::Malformed("the Certificate message lists no certificate")
        );
    }
}
