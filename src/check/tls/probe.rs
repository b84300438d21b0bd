//! Protocol version and cipher suite probes with hand-built ClientHello messages.
//!
//! rustls speaks only TLS 1.2 and 1.3 with strong suites, so finding servers that still accept
//! SSL 3.0, TLS 1.0, TLS 1.1 or weak suites needs hellos of posture's own ([`hello`]) and a
//! parse of what comes back ([`response`]). A probe never completes a handshake: it sends one
//! ClientHello, reads until the ServerHello or an alert, and closes the connection.
//!
//! Only a parsed ServerHello counts as acceptance, and only when the version and the suite it
//! names are ones the hello offered. An alert, a closed or reset connection, or a ServerHello for
//! a lower version is a rejection. Anything else (a timeout, plain text, an SSL 2.0 response,
//! malformed records) leaves the version unknown.
//!
//! Connections per address: one per version (5), then one per accepted version below TLS 1.3
//! that offers every weak suite at once. Only if the server selects one of those does each
//! weak category that the selected suite does not already prove get its own probe (at most 5
//! more). So a modern server (TLS 1.2 and 1.3, no weak suites) costs 6 connections and the
//! worst case is 5 + 4 × 6 = 29.
//! The probes of one address run one after another, never in parallel.
//!
//! In TLS 1.2 and older the Certificate message follows the ServerHello in plaintext. When the
//! caller requests the chain because rustls could not complete a handshake, the first accepted
//! probe of those versions reads on through it on the same connection, up to
//! [`MAX_CERTIFICATE_BYTES`]. So servers that speak only legacy versions or suites still get a
//! certificate verdict without another connection.

mod hello;
mod response;
mod suites;

use std::future::Future;
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::Duration;

use rustls::pki_types::CertificateDer;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tracing::debug;

pub use response::{CertificateParse, Parse, Response, ServerHello, parse as parse_response};
pub use suites::{CipherSuite, SUITES, WeakCategory};

/// Maximum bytes read from a server per probe. A ServerHello comes first and is far smaller.
pub const MAX_RESPONSE_BYTES: usize = 16 * 1024;

/// Maximum bytes read from a server, ServerHello included, to reach the end of its Certificate
/// message. Real chains take a few KiB and a certificate with 10,000 names about 420 KB. Past the
/// limit the probe stops reading, keeps its version verdict and records no chain.
pub const MAX_CERTIFICATE_BYTES: usize = 1024 * 1024;

/// An SSL or TLS protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ProtocolVersion {
    #[serde(rename = "ssl3.0")]
    Ssl3,
    #[serde(rename = "tls1.0")]
    Tls10,
    #[serde(rename = "tls1.1")]
    Tls11,
    #[serde(rename = "tls1.2")]
    Tls12,
    #[serde(rename = "tls1.3")]
    Tls13,
}

impl ProtocolVersion {
    /// The order of the version probes: the versions most servers accept come first, so that a
    /// port that does not speak TLS is found with the first connection.
    pub const PROBE_ORDER: [ProtocolVersion; 5] = [
        Self::Tls12,
        Self::Tls13,
        Self::Tls11,
        Self::Tls10,
        Self::Ssl3,
    ];

    /// Returns the version's wire code (0x0300 for SSL 3.0 to 0x0304 for TLS 1.3).
    pub fn code(self) -> u16 {
        match self {
            Self::Ssl3 => 0x0300,
            Self::Tls10 => 0x0301,
            Self::Tls11 => 0x0302,
            Self::Tls12 => 0x0303,
            Self::Tls13 => 0x0304,
        }
    }

    pub fn from_code(code: u16) -> Option<Self> {
        [
            Self::Ssl3,
            Self::Tls10,
            Self::Tls11,
            Self::Tls12,
            Self::Tls13,
        ]
        .into_iter()
        .find(|version| version.code() == code)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ssl3 => "ssl3.0",
            Self::Tls10 => "tls1.0",
            Self::Tls11 => "tls1.1",
            Self::Tls12 => "tls1.2",
            Self::Tls13 => "tls1.3",
        }
    }

    /// Returns the ClientHello's legacy_version: TLS 1.3 sends 1.2 there and the real version in
    /// supported_versions (RFC 8446 section 4.1.2).
    fn client_version(self) -> u16 {
        match self {
            Self::Tls13 => Self::Tls12.code(),
            other => other.code(),
        }
    }

    /// Returns the record layer version of the ClientHello. Clients send 1.0 there for every
    /// TLS version, because some servers reject a higher one (RFC 8446 section 5.1).
    fn record_version(self) -> u16 {
        match self {
            Self::Ssl3 => Self::Ssl3.code(),
            _ => Self::Tls10.code(),
        }
    }
}

/// Everything one address revealed, with the evidence needed to grade it again later.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeReport {
    pub address: SocketAddr,
    pub server_name: Option<String>,
    /// TCP connections the probes opened.
    pub connections: u32,
    /// One entry per version, in [`ProtocolVersion::PROBE_ORDER`].
    pub versions: Vec<VersionReport>,
    /// The chain of the first Certificate message read, leaf first, when the caller requested
    /// it. The evidence column leaves it out: the certificate columns carry its facts.
    #[serde(skip)]
    pub chain: Vec<CertificateDer<'static>>,
    /// The version of the probe whose Certificate message gave `chain`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain_version: Option<ProtocolVersion>,
    /// The reason the accepted probes gave no chain, when the caller requested one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain_error: Option<String>,
}

impl ProbeReport {
    /// Returns the versions the server accepted, lowest first.
    pub fn accepted_versions(&self) -> Vec<ProtocolVersion> {
        let mut versions: Vec<ProtocolVersion> = self
            .versions
            .iter()
            .filter(|report| report.outcome.is_accepted())
            .map(|report| report.version)
            .collect();
        versions.sort();
        versions
    }

    /// Returns the weak categories the server accepted in `version`.
    pub fn weak_categories(&self, version: ProtocolVersion) -> Vec<WeakCategory> {
        self.versions
            .iter()
            .filter(|report| report.version == version)
            .flat_map(|report| &report.weak)
            .filter(|weak| weak.outcome.is_accepted())
            .map(|weak| weak.category)
            .collect()
    }
}

/// The outcome for one protocol version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionReport {
    pub version: ProtocolVersion,
    #[serde(flatten)]
    pub outcome: HelloOutcome,
    /// Weak categories, probed only when the version was accepted and is below TLS 1.3.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub weak: Vec<WeakReport>,
}

/// Whether a server selects a suite of one weak category.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeakReport {
    pub category: WeakCategory,
    #[serde(flatten)]
    pub outcome: HelloOutcome,
}

/// The server's response to one ClientHello, graded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum HelloOutcome {
    /// A ServerHello for the offered version that selects an offered suite.
    Accepted {
        /// IANA name of the selected suite.
        suite: String,
        suite_id: u16,
        /// The response was a TLS 1.3 HelloRetryRequest, which names the version and suite but
        /// requests a key share in another group.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        hello_retry_request: bool,
    },
    Rejected {
        reason: Rejection,
        /// Alert description name, when the reason is an alert.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        alert: Option<String>,
        /// The version the server selected instead, when the reason is `lower_version`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        server_version: Option<ProtocolVersion>,
    },
    Unknown {
        error: ProbeError,
        detail: String,
    },
}

impl HelloOutcome {
    pub fn is_accepted(&self) -> bool {
        matches!(self, Self::Accepted { .. })
    }

    fn rejected(reason: Rejection) -> Self {
        Self::Rejected {
            reason,
            alert: None,
            server_version: None,
        }
    }

    fn unknown(error: ProbeError, detail: impl Into<String>) -> Self {
        Self::Unknown {
            error,
            detail: detail.into(),
        }
    }
}

/// The kind of rejection a server sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rejection {
    Alert,
    /// The server sent a ServerHello for a lower version than the one offered.
    LowerVersion,
    /// The server closed the connection without sending anything.
    Closed,
    /// The server reset the connection without sending anything.
    Reset,
}

/// The cause of an outcome that is neither acceptance nor rejection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeError {
    ConnectRefused,
    ConnectTimeout,
    ConnectError,
    /// No complete response within the timeout.
    Timeout,
    /// The connection failed after it was established, or ended in the middle of a record.
    Io,
    /// The response does not start a TLS record (an HTTP response, for example).
    NotTls,
    Ssl2Only,
    UnexpectedMessage,
    Malformed,
    /// No complete ServerHello within [`MAX_RESPONSE_BYTES`].
    ResponseTooLarge,
    /// A ServerHello that selects a suite the hello did not offer, a version above the one
    /// offered, or a HelloRetryRequest outside TLS 1.3.
    ProtocolViolation,
    RandomFailure,
}

/// The caller's part in each probe connection, so that it can apply its per-address limits.
/// Every closure that returns a future implements it, as hooks that only wait.
pub trait ConnectionHooks {
    /// Waits until a new connection may start. Awaited before every connection.
    fn before_connect(&self) -> impl Future<Output = ()>;

    /// Notes that the server reset a probe connection. An alert or a closed connection is no
    /// reset. The default does nothing.
    fn on_reset(&self) {}
}

impl<G, F> ConnectionHooks for G
where
    G: Fn() -> F,
    F: Future<Output = ()>,
{
    fn before_connect(&self) -> impl Future<Output = ()> {
        self()
    }
}

/// Probes `address` for every protocol version and, for each accepted version, every weak
/// category. `server_name` is sent as SNI. `timeout` bounds the connect and, separately, the
/// exchange of each probe and the read of a Certificate message. `hooks` waits before every new
/// connection and hears of every reset, so the caller can apply its per-address limits. With
/// `read_chain`, the first accepted probe of TLS 1.2 or older that receives a Certificate message
/// stores its chain in [`ProbeReport::chain`].
pub async fn probe_address<H: ConnectionHooks>(
    address: SocketAddr,
    server_name: Option<&str>,
    timeout: Duration,
    read_chain: bool,
    hooks: H,
) -> ProbeReport {
    let mut prober = Prober {
        address,
        server_name,
        timeout,
        hooks,
        connections: 0,
        chain: read_chain.then(ChainRead::default),
    };

    // 1. One probe per version. If the first shows that nothing speaks TLS on the port, the
    //    other versions would fail the same way and are not probed.
    let mut versions = Vec::with_capacity(ProtocolVersion::PROBE_ORDER.len());
    let mut port_failure: Option<HelloOutcome> = None;
    for version in ProtocolVersion::PROBE_ORDER {
        let outcome = match &port_failure {
            Some(failure) => failure.clone(),
            None => {
                let offered: Vec<u16> = suites::for_version(version)
                    .iter()
                    .map(|suite| suite.id)
                    .collect();
                prober.offer(version, &offered).await
            }
        };
        if versions.is_empty() && is_port_failure(&outcome) {
            port_failure = Some(outcome.clone());
        }
        versions.push(VersionReport {
            version,
            outcome,
            weak: Vec::new(),
        });
    }

    // 2. Weak categories for each accepted version below TLS 1.3, which has no weak suites.
    for report in &mut versions {
        if report.outcome.is_accepted() && report.version != ProtocolVersion::Tls13 {
            report.weak = prober.probe_weak(report.version).await;
        }
    }

    let chain = prober.chain.unwrap_or_default();
    ProbeReport {
        address,
        server_name: server_name.map(str::to_string),
        connections: prober.connections,
        versions,
        chain: chain.chain,
        chain_version: chain.version,
        chain_error: match chain.version {
            Some(_) => None,
            None => chain.error,
        },
    }
}

/// Probes `address` for one protocol version with one connection, offering every suite the
/// version allows. `probe_address` is the full probe; this one serves single checks and
/// measurements.
pub async fn probe_version(
    address: SocketAddr,
    server_name: Option<&str>,
    version: ProtocolVersion,
    timeout: Duration,
) -> HelloOutcome {
    let mut prober = Prober {
        address,
        server_name,
        timeout,
        hooks: || std::future::ready(()),
        connections: 0,
        chain: None,
    };
    let offered: Vec<u16> = suites::for_version(version)
        .iter()
        .map(|suite| suite.id)
        .collect();
    prober.offer(version, &offered).await
}

/// Returns whether an outcome means that the port cannot accept any ClientHello.
fn is_port_failure(outcome: &HelloOutcome) -> bool {
    matches!(
        outcome,
        HelloOutcome::Unknown {
            error: ProbeError::ConnectRefused
                | ProbeError::ConnectTimeout
                | ProbeError::ConnectError
                | ProbeError::NotTls,
            ..
        }
    )
}

struct Prober<'a, H> {
    address: SocketAddr,
    server_name: Option<&'a str>,
    timeout: Duration,
    hooks: H,
    connections: u32,
    /// The chain read so far. `None` when the caller did not request one.
    chain: Option<ChainRead>,
}

/// The state of the chain read across the probes of one address.
#[derive(Debug, Default)]
struct ChainRead {
    chain: Vec<CertificateDer<'static>>,
    version: Option<ProtocolVersion>,
    /// The last reason an accepted probe gave no chain.
    error: Option<String>,
}

impl<H: ConnectionHooks> Prober<'_, H> {
    /// Sends one ClientHello for `version` offering `suites` and grades the response.
    async fn offer(&mut self, version: ProtocolVersion, suites: &[u16]) -> HelloOutcome {
        let hello = match hello::build(version, self.server_name, suites) {
            Ok(hello) => hello,
            Err(error) => {
                return HelloOutcome::unknown(ProbeError::RandomFailure, error.to_string());
            }
        };
        self.hooks.before_connect().await;
        self.connections += 1;
        let (exchange, connection) = exchange(self.address, &hello, self.timeout).await;
        if matches!(exchange, Exchange::Reset | Exchange::ResetInRecord { .. }) {
            self.hooks.on_reset();
        }
        let outcome = grade(version, suites, exchange);
        debug!(address = %self.address, version = version.as_str(), ?outcome, "tls probe");

        // TLS 1.3 encrypts the Certificate message, so only older versions can give the chain.
        let wants_chain = self
            .chain
            .as_ref()
            .is_some_and(|read| read.version.is_none());
        if wants_chain
            && outcome.is_accepted()
            && version != ProtocolVersion::Tls13
            && let Some((mut stream, received)) = connection
        {
            let read = tokio::time::timeout(self.timeout, read_chain(&mut stream, received)).await;
            let read = read.unwrap_or_else(|_| {
                Err("timed out before the end of the Certificate message".to_string())
            });
            debug!(
                address = %self.address,
                version = version.as_str(),
                ok = read.is_ok(),
                "tls probe chain"
            );
            if let Some(state) = self.chain.as_mut() {
                match read {
                    Ok(chain) => {
                        state.chain = chain;
                        state.version = Some(version);
                    }
                    Err(error) => state.error = Some(format!("{}: {error}", version.as_str())),
                }
            }
        }
        outcome
    }

    /// Probes the weak categories of an accepted `version`: all weak suites in one hello, then
    /// each category the selected suite does not already prove.
    async fn probe_weak(&mut self, version: ProtocolVersion) -> Vec<WeakReport> {
        let all: Vec<u16> = suites::weak_for_version(version)
            .iter()
            .map(|suite| suite.id)
            .collect();
        let first = self.offer(version, &all).await;
        let HelloOutcome::Accepted { suite_id, .. } = &first else {
            // The server selected no weak suite, so that probe's evidence is the same for each
            // category.
            return WeakCategory::ALL
                .into_iter()
                .map(|category| WeakReport {
                    category,
                    outcome: first.clone(),
                })
                .collect();
        };

        let selected = suites::SUITES.iter().find(|suite| suite.id == *suite_id);
        let mut reports = Vec::with_capacity(WeakCategory::ALL.len());
        for category in WeakCategory::ALL {
            let outcome = if selected.is_some_and(|suite| suite.is_in(category)) {
                first.clone()
            } else {
                let offered: Vec<u16> = suites::for_category(version, category)
                    .iter()
                    .map(|suite| suite.id)
                    .collect();
                self.offer(version, &offered).await
            };
            reports.push(WeakReport { category, outcome });
        }
        reports
    }
}

/// The server's reaction on the wire after the ClientHello.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Exchange {
    Received(Response),
    Closed,
    /// The server reset the connection before sending anything.
    Reset,
    /// The server reset the connection after `received` bytes, inside a record.
    ResetInRecord {
        received: usize,
    },
    Failed(ProbeError, String),
}

/// Connects, sends `hello` and reads until the response can be parsed, the server closes the
/// connection, [`MAX_RESPONSE_BYTES`] have arrived, or `timeout` passes. After a parsed response
/// it also returns the open connection and every byte received on it.
async fn exchange(
    address: SocketAddr,
    hello: &[u8],
    timeout: Duration,
) -> (Exchange, Option<(TcpStream, Vec<u8>)>) {
    let mut stream = match tokio::time::timeout(timeout, TcpStream::connect(address)).await {
        Err(_) => {
            let failure = Exchange::Failed(ProbeError::ConnectTimeout, "connect timed out".into());
            return (failure, None);
        }
        Ok(Err(error)) if error.kind() == ErrorKind::ConnectionRefused => {
            return (
                Exchange::Failed(ProbeError::ConnectRefused, error.to_string()),
                None,
            );
        }
        Ok(Err(error)) => {
            return (
                Exchange::Failed(ProbeError::ConnectError, error.to_string()),
                None,
            );
        }
        Ok(Ok(stream)) => stream,
    };

    match tokio::time::timeout(timeout, send_and_read(&mut stream, hello)).await {
        Ok((exchange @ Exchange::Received(_), received)) => (exchange, Some((stream, received))),
        Ok((exchange, _)) => (exchange, None),
        Err(_) => (
            Exchange::Failed(
                ProbeError::Timeout,
                "timed out before a complete response".into(),
            ),
            None,
        ),
    }
}

/// Sends `hello` and reads until the response parses. Returns the bytes read with it.
async fn send_and_read(stream: &mut TcpStream, hello: &[u8]) -> (Exchange, Vec<u8>) {
    if let Err(error) = stream.write_all(hello).await {
        let failure = match error.kind() {
            ErrorKind::ConnectionReset | ErrorKind::BrokenPipe => Exchange::Reset,
            _ => Exchange::Failed(ProbeError::Io, error.to_string()),
        };
        return (failure, Vec::new());
    }

    let mut buffer = vec![0u8; MAX_RESPONSE_BYTES];
    let mut filled = 0;
    let failure = loop {
        if filled == buffer.len() {
            break Exchange::Failed(
                ProbeError::ResponseTooLarge,
                format!("no ServerHello in the first {MAX_RESPONSE_BYTES} bytes"),
            );
        }
        let read = match stream.read(&mut buffer[filled..]).await {
            Ok(read) => read,
            Err(error) if filled == 0 && error.kind() == ErrorKind::ConnectionReset => {
                break Exchange::Reset;
            }
            Err(error) if error.kind() == ErrorKind::ConnectionReset => {
                break Exchange::ResetInRecord { received: filled };
            }
            Err(error) => break Exchange::Failed(ProbeError::Io, error.to_string()),
        };
        if read == 0 {
            break match filled {
                0 => Exchange::Closed,
                _ => Exchange::Failed(
                    ProbeError::Io,
                    format!("connection closed after {filled} bytes, inside a record"),
                ),
            };
        }
        filled += read;
        if let Parse::Complete(parsed) = response::parse(&buffer[..filled]) {
            buffer.truncate(filled);
            return (Exchange::Received(parsed), buffer);
        }
    };
    (failure, Vec::new())
}

/// Reads on from the bytes `received` after an accepted ServerHello until the Certificate
/// message is complete, and returns its chain. Gives up past [`MAX_CERTIFICATE_BYTES`].
async fn read_chain(
    stream: &mut TcpStream,
    mut received: Vec<u8>,
) -> Result<Vec<CertificateDer<'static>>, String> {
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        match response::parse_certificate(&received, MAX_CERTIFICATE_BYTES) {
            CertificateParse::Chain(chain) => {
                return Ok(chain.into_iter().map(CertificateDer::from).collect());
            }
            CertificateParse::Absent(reason) => return Err(reason),
            CertificateParse::Malformed(reason) => return Err(reason.to_string()),
            CertificateParse::TooLarge { length } => {
                return Err(format!(
                    "the Certificate message has {length} bytes, over the limit of \
                     {MAX_CERTIFICATE_BYTES}"
                ));
            }
            CertificateParse::Incomplete => {}
        }
        let room = MAX_CERTIFICATE_BYTES.saturating_sub(received.len());
        if room == 0 {
            return Err(format!(
                "no complete Certificate message in the first {MAX_CERTIFICATE_BYTES} bytes"
            ));
        }
        let limit = room.min(chunk.len());
        let read = stream
            .read(&mut chunk[..limit])
            .await
            .map_err(|error| format!("reading the Certificate message failed: {error}"))?;
        if read == 0 {
            return Err(format!(
                "connection closed after {} bytes, before the end of the Certificate message",
                received.len()
            ));
        }
        received.extend_from_slice(&chunk[..read]);
    }
}

/// Grades the response to a hello for `version` that offered `offered`.
fn grade(version: ProtocolVersion, offered: &[u16], exchange: Exchange) -> HelloOutcome {
    match exchange {
        Exchange::Received(Response::ServerHello(hello)) => {
            grade_server_hello(version, offered, &hello)
        }
        Exchange::Received(Response::Alert { description, .. }) => HelloOutcome::Rejected {
            reason: Rejection::Alert,
            alert: Some(alert_name(description)),
            server_version: None,
        },
        Exchange::Received(Response::UnexpectedMessage {
            content_type,
            handshake_type,
        }) => HelloOutcome::unknown(
            ProbeError::UnexpectedMessage,
            match handshake_type {
                Some(kind) => format!("handshake message type {kind} before any ServerHello"),
                None => format!("record of content type {content_type} before any ServerHello"),
            },
        ),
        Exchange::Received(Response::Ssl2ServerHello) => {
            HelloOutcome::unknown(ProbeError::Ssl2Only, "SSL 2.0 SERVER-HELLO")
        }
        Exchange::Received(Response::NotTls { prefix }) => {
            HelloOutcome::unknown(ProbeError::NotTls, format!("response starts with {prefix}"))
        }
        Exchange::Received(Response::Malformed { reason }) => {
            HelloOutcome::unknown(ProbeError::Malformed, reason)
        }
        Exchange::Closed => HelloOutcome::rejected(Rejection::Closed),
        Exchange::Reset => HelloOutcome::rejected(Rejection::Reset),
        Exchange::ResetInRecord { received } => HelloOutcome::unknown(
            ProbeError::Io,
            format!("connection reset after {received} bytes, inside a record"),
        ),
        Exchange::Failed(error, detail) => HelloOutcome::unknown(error, detail),
    }
}

fn grade_server_hello(
    version: ProtocolVersion,
    offered: &[u16],
    hello: &ServerHello,
) -> HelloOutcome {
    let selected = hello.version();
    let suite_name = suites::name_of(hello.cipher_suite);
    let suite = || {
        suite_name
            .map(str::to_string)
            .unwrap_or_else(|| format!("0x{:04X}", hello.cipher_suite))
    };

    if hello.hello_retry_request && version != ProtocolVersion::Tls13 {
        return HelloOutcome::unknown(
            ProbeError::ProtocolViolation,
            format!("HelloRetryRequest to a {} hello", version.as_str()),
        );
    }
    if selected < version.code() {
        return HelloOutcome::Rejected {
            reason: Rejection::LowerVersion,
            alert: None,
            server_version: ProtocolVersion::from_code(selected),
        };
    }
    if selected > version.code() {
        return HelloOutcome::unknown(
            ProbeError::ProtocolViolation,
            format!(
                "ServerHello version 0x{selected:04X} above the offered {}",
                version.as_str()
            ),
        );
    }
    if !offered.contains(&hello.cipher_suite) {
        return HelloOutcome::unknown(
            ProbeError::ProtocolViolation,
            format!(
                "ServerHello selected {}, which the hello did not offer",
                suite()
            ),
        );
    }
    let known = suites::SUITES
        .iter()
        .find(|suite| suite.id == hello.cipher_suite);
    if known.is_some_and(|suite| !suite.is_valid_for(version)) {
        return HelloOutcome::unknown(
            ProbeError::ProtocolViolation,
            format!(
                "ServerHello selected {}, not a {} suite",
                suite(),
                version.as_str()
            ),
        );
    }
    HelloOutcome::Accepted {
        suite: suite(),
        suite_id: hello.cipher_suite,
        hello_retry_request: hello.hello_retry_request,
    }
}

/// Returns the name of a TLS alert description (IANA TLS Alerts registry).
pub fn alert_name(description: u8) -> String {
    let name = match description {
        0 => "close_notify",
        10 => "unexpected_message",
        20 => "bad_record_mac",
        21 => "decryption_failed",
        22 => "record_overflow",
        30 => "decompression_failure",
        40 => "handshake_failure",
        41 => "no_certificate",
        42 => "bad_certificate",
        43 => "unsupported_certificate",
        44 => "certificate_revoked",
        45 => "certificate_expired",
        46 => "certificate_unknown",
        47 => "illegal_parameter",
        48 => "unknown_ca",
        49 => "access_denied",
        50 => "decode_error",
        51 => "decrypt_error",
        60 => "export_restriction",
        70 => "protocol_version",
        71 => "insufficient_security",
        80 => "internal_error",
        86 => "inappropriate_fallback",
        90 => "user_canceled",
        100 => "no_renegotiation",
        109 => "missing_extension",
        110 => "unsupported_extension",
        112 => "unrecognized_name",
        113 => "bad_certificate_status_response",
        115 => "unknown_psk_identity",
        116 => "certificate_required",
        120 => "no_application_protocol",
        other => return format!("alert_{other}"),
    };
    name.to_string()
}

#[cfg(test)]
mod tests;
