//! One HTTP request to a URL, on an address that DNS gave: the client under every hop that
//! [`follow`](super::follow) walks.
//!
//! The TLS handshake accepts any certificate, so that a site with a bad one still yields its
//! status code. The served chain is then judged separately against Mozilla's roots plus
//! `--ca-file`, and the verdict names the defect. Redirects are not followed here, and at
//! most [`MAX_BODY_BYTES`] of a body are read, only from responses that are not redirects.
//!
//! posture drives hyper itself instead of using reqwest: reqwest exposes neither the address a
//! request went to nor the whole certificate chain the server sent, and a scanner needs both
//! (the address for per-address politeness and the safety rules, the chain to tell an
//! incomplete chain from an unknown root).

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::HeaderMap;
use http_body_util::{BodyExt, Empty};
use hyper::header::{ACCEPT, CONNECTION, HOST, LOCATION, USER_AGENT};
use hyper_util::rt::TokioIo;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, RootCertStore};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use url::Url;

use super::backoff::{self, Signal};
use super::limits::AddressLimits;
use crate::check::tls::handshake::RecordOcsp;

/// Outcome of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebOutcome {
    Ok,
    NoAddress,
    DnsFailure,
    /// The address queries failed DNSSEC validation (the zone is bogus).
    DnsBogus,
    BlockedAddress,
    ConnectRefused,
    ConnectTimeout,
    ConnectError,
    TlsError,
    Timeout,
    HttpError,
    DeadlineExceeded,
}

impl WebOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::NoAddress => "no_address",
            Self::DnsFailure => "dns_failure",
            Self::DnsBogus => "dns_bogus",
            Self::BlockedAddress => "blocked_address",
            Self::ConnectRefused => "connect_refused",
            Self::ConnectTimeout => "connect_timeout",
            Self::ConnectError => "connect_error",
            Self::TlsError => "tls_error",
            Self::Timeout => "timeout",
            Self::HttpError => "http_error",
            Self::DeadlineExceeded => "deadline_exceeded",
        }
    }
}

/// The certificate verdict, for one served chain and name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertVerdict {
    Trusted,
    Expired,
    NotYetValid,
    NameMismatch,
    SelfSigned,
    UnknownIssuer,
    Invalid,
}

impl CertVerdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Trusted => "trusted",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::NameMismatch => "name_mismatch",
            Self::SelfSigned => "self_signed",
            Self::UnknownIssuer => "unknown_issuer",
            Self::Invalid => "invalid",
        }
    }
}

/// Facts of a completed TLS handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFacts {
    pub version: &'static str,
    pub verdict: CertVerdict,
    pub verdict_detail: Option<String>,
    pub not_after: Option<DateTime<Utc>>,
}

/// One request's observations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebObservation {
    pub outcome: WebOutcome,
    pub address: Option<IpAddr>,
    pub status: Option<u16>,
    pub location: Option<String>,
    pub error: Option<String>,
    pub tls: Option<TlsFacts>,
    /// Every response header, as received (at most [`MAX_HEAD_BYTES`] in all).
    pub headers: HeaderMap,
    /// The first bytes of the body of a response that is not a redirect.
    pub body: Option<Bytes>,
}

impl WebObservation {
    pub fn without_request(outcome: WebOutcome, error: Option<String>) -> Self {
        Self {
            outcome,
            address: None,
            status: None,
            location: None,
            error,
            tls: None,
            headers: HeaderMap::new(),
            body: None,
        }
    }

    /// Whether the response is a redirect that a browser would follow.
    pub fn is_redirect(&self) -> bool {
        matches!(self.status, Some(301 | 302 | 303 | 307 | 308))
    }
}

/// The parts of a response that [`WebClient`] keeps.
struct ResponseHead {
    status: u16,
    location: Option<String>,
    headers: HeaderMap,
    body: Option<Bytes>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
}

/// Settings of the web client.
pub struct WebSettings {
    pub timeout: Duration,
    pub user_agent: String,
    pub extra_roots: Vec<CertificateDer<'static>>,
    /// New connections per second to one address.
    pub per_address: NonZeroU32,
}

/// The web client shared by all domains of a scan.
pub struct WebClient {
    connector: TlsConnector,
    verifier: Arc<WebPkiServerVerifier>,
    /// The per-address limit and the back-off, shared with the tls check.
    limits: Arc<AddressLimits>,
    timeout: Duration,
    user_agent: String,
}

/// Largest response head (status line and headers) read, in bytes.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

/// Largest body prefix read, in bytes: enough to recognise a challenge page or a
/// security.txt file, and small enough that an endless body costs nothing.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// Addresses tried per request when connecting fails.
const MAX_ADDRESSES: usize = 3;

impl WebClient {
    pub fn new(settings: WebSettings) -> Result<Self, rustls::Error> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        for certificate in settings.extra_roots {
            roots.add(certificate)?;
        }
        let verifier =
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .map_err(|error| rustls::Error::General(error.to_string()))?;

        let mut config = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(RecordOcsp { provider }))
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        config.resumption = rustls::client::Resumption::disabled();

        Ok(Self {
            connector: TlsConnector::from(Arc::new(config)),
            verifier,
            limits: Arc::new(AddressLimits::new(settings.per_address)),
            timeout: settings.timeout,
            user_agent: settings.user_agent,
        })
    }

    /// Sends `GET /` for `name` to the first of `addresses` that accepts a connection.
    pub async fn fetch(&self, scheme: Scheme, name: &str, addresses: &[IpAddr]) -> WebObservation {
        let scheme = match scheme {
            Scheme::Http => "http",
            Scheme::Https => "https",
        };
        match Url::parse(&format!("{scheme}://{name}/")) {
            Ok(url) => self.fetch_url(&url, addresses).await,
            Err(error) => WebObservation::without_request(
                WebOutcome::HttpError,
                Some(format!("{name:?} does not make a URL: {error}")),
            ),
        }
    }

    /// Sends `GET` for `url` to the first of `addresses` that accepts a connection. The
    /// caller has resolved the URL's host and checked the addresses against the safety rules.
    pub async fn fetch_url(&self, url: &Url, addresses: &[IpAddr]) -> WebObservation {
        let Some(host) = url.host_str() else {
            let error = format!("{url} has no host");
            return WebObservation::without_request(WebOutcome::HttpError, Some(error));
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let port = url.port_or_known_default().unwrap_or(80);
        let https = url.scheme() == "https";
        // The Host header carries the port only when it is not the scheme's default.
        let authority = match url.port() {
            Some(port) => format!("{}:{port}", url.host_str().unwrap_or(host)),
            None => url.host_str().unwrap_or(host).to_string(),
        };
        let target = &url[url::Position::BeforePath..url::Position::AfterQuery];
        let target = if target.is_empty() { "/" } else { target };

        let mut first_failure = None;
        for address in addresses.iter().take(MAX_ADDRESSES) {
            let observation = match self.connect(SocketAddr::new(*address, port)).await {
                Ok(stream) if https => {
                    self.request_tls(stream, *address, host, &authority, target)
                        .await
                }
                Ok(stream) => self.request(stream, *address, &authority, target).await,
                Err(failure) => {
                    first_failure.get_or_insert(failure);
                    continue;
                }
            };
            if let Some(status) = observation.status
                && let Some(signal) =
                    backoff::response_signal(status, &observation.headers, Utc::now())
            {
                self.limits.signal(*address, signal);
            }
            return WebObservation {
                address: Some(*address),
                ..observation
            };
        }
        let (outcome, error) = first_failure.unwrap_or((WebOutcome::NoAddress, String::new()));
        WebObservation {
            address: addresses.first().copied(),
            ..WebObservation::without_request(outcome, Some(error))
        }
    }

    /// Returns the per-address limit and back-off, for other checks that connect to the same
    /// addresses.
    pub fn address_limits(&self) -> Arc<AddressLimits> {
        self.limits.clone()
    }

    /// Judges a served chain for `name` against the trusted roots.
    pub fn judge(
        &self,
        chain: &[CertificateDer<'_>],
        name: &str,
        version: &'static str,
    ) -> TlsFacts {
        match ServerName::try_from(name.to_string()) {
            Ok(server_name) => judge_chain(&self.verifier, chain, &server_name, version),
            Err(_) => TlsFacts {
                version,
                verdict: CertVerdict::NameMismatch,
                verdict_detail: Some(format!("{name:?} is not a valid TLS server name")),
                not_after: None,
            },
        }
    }

    /// Forgets per-address rate state that is no longer limiting, bounding its memory.
    pub fn forget_idle_addresses(&self) {
        self.limits.forget_idle();
    }

    async fn connect(&self, address: SocketAddr) -> Result<TcpStream, (WebOutcome, String)> {
        self.limits.until_ready(address.ip()).await;
        match tokio::time::timeout(self.timeout, TcpStream::connect(address)).await {
            Err(_) => Err((
                WebOutcome::ConnectTimeout,
                format!("connect to {address} timed out"),
            )),
            Ok(Err(error)) if error.kind() == std::io::ErrorKind::ConnectionRefused => Err((
                WebOutcome::ConnectRefused,
                format!("connect to {address}: {error}"),
            )),
            Ok(Err(error)) => {
                if backoff::is_reset(&error) {
                    self.limits.signal(address.ip(), Signal::Reset);
                }
                Err((
                    WebOutcome::ConnectError,
                    format!("connect to {address}: {error}"),
                ))
            }
            Ok(Ok(stream)) => {
                stream.set_nodelay(true).ok();
                Ok(stream)
            }
        }
    }

    async fn request_tls(
        &self,
        stream: TcpStream,
        address: IpAddr,
        name: &str,
        authority: &str,
        target: &str,
    ) -> WebObservation {
        let Ok(server_name) = ServerName::try_from(name.to_string()) else {
            let error = format!("{name:?} is not a valid TLS server name");
            return WebObservation::without_request(WebOutcome::TlsError, Some(error));
        };
        let handshake = self.connector.connect(server_name.clone(), stream);
        let tls_stream = match tokio::time::timeout(self.timeout, handshake).await {
            Err(_) => {
                let error = "TLS handshake timed out".to_string();
                return WebObservation::without_request(WebOutcome::Timeout, Some(error));
            }
            Ok(Err(error)) => {
                if backoff::is_reset(&error) {
                    self.limits.signal(address, Signal::Reset);
                }
                let error = format!("TLS handshake failed: {error}");
                return WebObservation::without_request(WebOutcome::TlsError, Some(error));
            }
            Ok(Ok(tls_stream)) => tls_stream,
        };

        let connection = tls_stream.get_ref().1;
        let version = match connection.protocol_version() {
            Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3",
            Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2",
            _ => "unknown",
        };
        let chain = connection.peer_certificates().unwrap_or(&[]);
        let tls = judge_chain(&self.verifier, chain, &server_name, version);

        let observation = self.request(tls_stream, address, authority, target).await;
        WebObservation {
            tls: Some(tls),
            ..observation
        }
    }

    async fn request<S>(
        &self,
        stream: S,
        address: IpAddr,
        authority: &str,
        target: &str,
    ) -> WebObservation
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        // The head must arrive in time. The body is read until the same moment, and a body
        // that is still arriving then is kept as far as it came.
        let deadline = tokio::time::Instant::now() + self.timeout;
        match self
            .send_get(stream, address, authority, target, deadline)
            .await
        {
            Err(None) => WebObservation::without_request(
                WebOutcome::Timeout,
                Some("no HTTP response in time".to_string()),
            ),
            Err(Some(error)) => WebObservation::without_request(WebOutcome::HttpError, Some(error)),
            Ok(head) => WebObservation {
                outcome: WebOutcome::Ok,
                address: None,
                status: Some(head.status),
                location: head.location,
                error: None,
                tls: None,
                headers: head.headers,
                body: head.body,
            },
        }
    }

    /// Sends `GET target` and reads the response head, and the start of the body unless the
    /// response is a redirect.
    ///
    /// Fails with `None` when the head did not arrive before `deadline`.
    async fn send_get<S>(
        &self,
        stream: S,
        address: IpAddr,
        authority: &str,
        target: &str,
        deadline: tokio::time::Instant,
    ) -> Result<ResponseHead, Option<String>>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let handshake = hyper::client::conn::http1::Builder::new()
            .max_buf_size(MAX_HEAD_BYTES)
            .handshake(TokioIo::new(stream));
        let (mut sender, connection) = tokio::time::timeout_at(deadline, handshake)
            .await
            .map_err(|_| None)?
            .map_err(|error| {
                self.note_reset(address, &error);
                Some(format!("HTTP handshake failed: {error}"))
            })?;
        let request = hyper::Request::get(target)
            .header(HOST, authority)
            .header(USER_AGENT, &self.user_agent)
            .header(ACCEPT, "*/*")
            .header(CONNECTION, "close")
            .body(Empty::<Bytes>::new())
            .map_err(|error| Some(format!("cannot build a request for {target:?}: {error}")))?;

        // The connection task drives the socket while the response and its body are read. The
        // guard aborts it on every return, which closes the connection without reading more.
        let connection = AbortOnDrop(tokio::spawn(connection));
        let response = tokio::time::timeout_at(deadline, sender.send_request(request))
            .await
            .map_err(|_| None)?
            .map_err(|error| {
                self.note_reset(address, &error);
                Some(format!("invalid HTTP response: {error}"))
            })?;
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get(LOCATION)
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned());
        let (parts, mut body) = response.into_parts();
        let redirect = matches!(status, 301 | 302 | 303 | 307 | 308);
        let body = match redirect {
            true => None,
            false => {
                let mut prefix = Vec::new();
                // A body that ends early or breaks off still yields what arrived.
                while prefix.len() < MAX_BODY_BYTES {
                    match tokio::time::timeout_at(deadline, body.frame()).await {
                        Ok(Some(Ok(frame))) => {
                            if let Some(data) = frame.data_ref() {
                                let room = MAX_BODY_BYTES - prefix.len();
                                prefix.extend_from_slice(&data[..data.len().min(room)]);
                            }
                        }
                        _ => break,
                    }
                }
                Some(Bytes::from(prefix))
            }
        };
        drop(connection);
        Ok(ResponseHead {
            status,
            location,
            headers: parts.headers,
            body,
        })
    }
}

impl WebClient {
    /// Slows `address` down when `error` comes from a reset connection.
    fn note_reset(&self, address: IpAddr, error: &hyper::Error) {
        if backoff::is_reset(error) {
            self.limits.signal(address, Signal::Reset);
        }
    }
}

/// Aborts a spawned task when dropped.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Judges a served chain against the trusted roots and the name.
fn judge_chain(
    verifier: &WebPkiServerVerifier,
    chain: &[CertificateDer<'_>],
    server_name: &ServerName<'_>,
    version: &'static str,
) -> TlsFacts {
    let Some((leaf, intermediates)) = chain.split_first() else {
        return TlsFacts {
            version,
            verdict: CertVerdict::Invalid,
            verdict_detail: Some("the server sent no certificate".to_string()),
            not_after: None,
        };
    };
    let parsed = x509_parser::parse_x509_certificate(leaf)
        .ok()
        .map(|(_, cert)| cert);
    let not_after = parsed
        .as_ref()
        .and_then(|cert| DateTime::from_timestamp(cert.validity().not_after.timestamp(), 0));
    let self_issued = parsed
        .as_ref()
        .is_some_and(|cert| cert.subject().as_raw() == cert.issuer().as_raw());

    let result =
        verifier.verify_server_cert(leaf, intermediates, server_name, &[], UnixTime::now());
    let (verdict, detail) = match result {
        Ok(_) => (CertVerdict::Trusted, None),
        Err(rustls::Error::InvalidCertificate(error)) => {
            let verdict = match error {
                CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                    CertVerdict::Expired
                }
                CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                    CertVerdict::NotYetValid
                }
                CertificateError::NotValidForName
                | CertificateError::NotValidForNameContext { .. } => CertVerdict::NameMismatch,
                CertificateError::UnknownIssuer if self_issued => CertVerdict::SelfSigned,
                CertificateError::UnknownIssuer => CertVerdict::UnknownIssuer,
                _ => CertVerdict::Invalid,
            };
            (verdict, Some(error.to_string()))
        }
        Err(error) => (CertVerdict::Invalid, Some(error.to_string())),
    };
    TlsFacts {
        version,
        verdict,
        verdict_detail: detail,
        not_after,
    }
}

/// Returns whether `location` sends the client to `https://` on `name` (any port).
pub fn redirects_to_https(status: u16, location: Option<&str>, name: &str) -> bool {
    let Some(location) = location else {
        return false;
    };
    if !(300..400).contains(&status) {
        return false;
    }
    let location = location.trim();
    let Some(scheme_end) = location.find("://") else {
        return false;
    };
    if !location[..scheme_end].eq_ignore_ascii_case("https") {
        return false;
    }
    let rest = &location[scheme_end + 3..];
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit('@').next().unwrap_or("");
    let host = match host_port.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => host_port,
    };
    host.trim_end_matches('.').eq_ignore_ascii_case(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_redirect_detection() {
        let name = "example.com";
        assert!(redirects_to_https(301, Some("https://example.com/"), name));
        assert!(redirects_to_https(
            308,
            Some("HTTPS://Example.COM:443/x?y"),
            name
        ));
        assert!(redirects_to_https(302, Some("https://example.com."), name));
        assert!(!redirects_to_https(200, Some("https://example.com/"), name));
        assert!(!redirects_to_https(
            301,
            Some("https://www.example.com/"),
            name
        ));
        assert!(!redirects_to_https(301, Some("http://example.com/"), name));
        assert!(!redirects_to_https(301, Some("/login"), name));
        assert!(!redirects_to_https(
            301,
            Some("https://example.com.evil.net/"),
            name
        ));
        assert!(!redirects_to_https(301, None, name));
    }
}
