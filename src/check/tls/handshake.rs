//! One modern TLS handshake per address, with rustls: what a current browser would negotiate.
//!
//! The web check's requests speak HTTP/1.1 only, so this handshake is separate. It offers
//! `h2` and `http/1.1` to learn whether the server speaks HTTP/2, records the negotiated
//! version, cipher suite and key exchange group, whether an OCSP response was stapled, and
//! keeps the served chain for the certificate verdict. The handshake ends once it completes,
//! without a request.

use std::cell::Cell;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use chrono::Utc;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use serde::Serialize;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::cert::{ChainCache, ChainReport};
use super::probe::{ConnectionHooks, HelloOutcome, ProbeReport, probe_address};
use crate::check::backoff::{self, Signal};
use crate::check::limits::AddressLimits;

/// Addresses whose version and suite probe a scan keeps. Past it, the cache starts again.
const PROBE_CACHE_CAPACITY: usize = 65_536;

/// Bytes of certificate chains the probe cache may hold. A cached probe keeps the chain it
/// read for an address whose rustls handshake failed, up to `MAX_CERTIFICATE_BYTES` (1 MiB)
/// each, so a few dozen hostile addresses could otherwise pin gigabytes. Real chains take a
/// few KiB, so 64 MiB is room for well over ten thousand. Past it, the cache starts again, as it does
/// past [`PROBE_CACHE_CAPACITY`], at the cost of probing some addresses twice.
const PROBE_CHAIN_BUDGET: usize = 64 * 1024 * 1024;

/// One probe per address and scan, shared by every name on the address.
type ProbeCell = Arc<tokio::sync::OnceCell<Arc<ProbeReport>>>;

/// Distinct chains whose name-independent analysis a scan keeps.
const CHAIN_CACHE_CAPACITY: usize = 16_384;

tokio::task_local! {
    /// Set by the verifier when the server stapled an OCSP response in this task's handshake.
    static OCSP_STAPLED: Cell<bool>;
}

/// Returns true when no version was accepted and some probe drew an `unrecognized_name`
/// alert. The server then rejected the SNI name, and the report shows nothing of the versions
/// it accepts for the names it serves.
fn sni_name_rejected(report: &ProbeReport) -> bool {
    report.accepted_versions().is_empty()
        && report.versions.iter().any(|version| {
            matches!(
                &version.outcome,
                HelloOutcome::Rejected { alert: Some(alert), .. } if alert == "unrecognized_name"
            )
        })
}

/// Outcome of one handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HandshakeOutcome {
    Ok,
    ConnectRefused,
    ConnectTimeout,
    ConnectError,
    TlsError,
    Timeout,
}

impl HandshakeOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::ConnectRefused => "connect_refused",
            Self::ConnectTimeout => "connect_timeout",
            Self::ConnectError => "connect_error",
            Self::TlsError => "tls_error",
            Self::Timeout => "timeout",
        }
    }
}

/// Facts of one handshake with one address for one server name.
#[derive(Debug, Clone)]
pub struct Handshake {
    pub name: String,
    pub address: IpAddr,
    pub outcome: HandshakeOutcome,
    pub error: Option<String>,
    /// `TLSv1.2` or `TLSv1.3`.
    pub version: Option<&'static str>,
    /// The IANA name of the negotiated cipher suite.
    pub cipher_suite: Option<String>,
    /// The negotiated key exchange group (`X25519`, `secp256r1`, ...).
    pub key_exchange_group: Option<String>,
    pub alpn: Option<String>,
    pub ocsp_stapled: Option<bool>,
    /// The chain as served, leaf first.
    pub chain: Vec<CertificateDer<'static>>,
}

impl Handshake {
    fn failed(name: &str, address: IpAddr, outcome: HandshakeOutcome, error: String) -> Self {
        Self {
            name: name.to_string(),
            address,
            outcome,
            error: Some(error),
            version: None,
            cipher_suite: None,
            key_exchange_group: None,
            alpn: None,
            ocsp_stapled: None,
            chain: Vec::new(),
        }
    }
}

/// Returns the IANA name of a cipher suite. rustls names TLS 1.3 suites `TLS13_*`, and
/// IANA names them `TLS_*`.
pub fn iana_suite_name(suite: rustls::CipherSuite) -> String {
    let name = format!("{suite:?}");
    match name.strip_prefix("TLS13_") {
        Some(rest) => format!("TLS_{rest}"),
        None => name,
    }
}

/// The client that makes the handshakes, sharing the web check's per-address limit and
/// back-off, and judges the served chains once per distinct chain.
pub struct HandshakeClient {
    connector: TlsConnector,
    limits: Arc<AddressLimits>,
    timeout: Duration,
    roots: RootCertStore,
    chains: ChainCache,
    probes: std::sync::Mutex<std::collections::HashMap<IpAddr, ProbeCell>>,
    /// Chain bytes held by the reports in `probes`, counted when each report is made.
    probe_chain_bytes: std::sync::atomic::AtomicUsize,
}

impl HandshakeClient {
    pub fn new(
        limits: Arc<AddressLimits>,
        timeout: Duration,
        extra_roots: &[CertificateDer<'static>],
    ) -> Result<Self, rustls::Error> {
        let mut roots = RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        for certificate in extra_roots {
            roots.add(certificate.clone())?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(RecordOcsp { provider }))
            .with_no_client_auth();
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        config.resumption = rustls::client::Resumption::disabled();
        Ok(Self {
            connector: TlsConnector::from(Arc::new(config)),
            limits,
            timeout,
            roots,
            chains: ChainCache::new(CHAIN_CACHE_CAPACITY),
            probes: std::sync::Mutex::new(std::collections::HashMap::new()),
            probe_chain_bytes: std::sync::atomic::AtomicUsize::new(0),
        })
    }

    /// Probes the protocol versions and weak suites of port 443 on `address`, once per scan:
    /// a shared host serving thousands of names is probed with the first name's SNI only.
    ///
    /// With `read_chain`, the probe also reads the chain of a TLS 1.2 or older Certificate
    /// message, for names whose modern handshake failed.
    ///
    /// NOTE: a server that varies its versions, suites or certificate by SNI is judged by the
    /// first name posture met on the address, and the chain is read only when that first name
    /// requested it.
    pub async fn probe(&self, address: IpAddr, name: &str, read_chain: bool) -> Arc<ProbeReport> {
        let cell = {
            let mut probes = self.probes.lock().unwrap_or_else(|e| e.into_inner());
            let full = probes.len() >= PROBE_CACHE_CAPACITY
                || self.probe_chain_bytes.load(Ordering::Relaxed) > PROBE_CHAIN_BUDGET;
            if full && !probes.contains_key(&address) {
                probes.clear();
                self.probe_chain_bytes.store(0, Ordering::Relaxed);
            }
            probes.entry(address).or_default().clone()
        };
        let probe = async {
            let socket = SocketAddr::new(address, 443);
            let hooks = ProbeHooks {
                limits: &self.limits,
                address,
            };
            let report = probe_address(socket, Some(name), self.timeout, read_chain, hooks).await;
            let bytes = report.chain.iter().map(|cert| cert.len()).sum::<usize>();
            self.probe_chain_bytes.fetch_add(bytes, Ordering::Relaxed);
            Arc::new(report)
        };
        let report = cell.get_or_init(|| probe).await.clone();
        if sni_name_rejected(&report) {
            // The server rejected this name, not the versions, as a shared host does for a
            // name it does not serve. Keep the report for this name only, so that the next
            // name on the address probes again instead of inheriting "every version
            // rejected".
            let mut probes = self.probes.lock().unwrap_or_else(|e| e.into_inner());
            if probes
                .get(&address)
                .is_some_and(|cached| Arc::ptr_eq(cached, &cell))
            {
                probes.remove(&address);
            }
        }
        report
    }

    /// Analyses a served chain for `name`, reusing the analysis of a chain seen before.
    pub fn analyze(&self, chain: &[CertificateDer<'_>], name: &str) -> ChainReport {
        self.chains.analyze(chain, name, Utc::now(), &self.roots)
    }

    /// Connects to port 443 of `address` and completes a handshake for `name`.
    pub async fn handshake(&self, name: &str, address: IpAddr) -> Handshake {
        let Ok(server_name) = ServerName::try_from(name.to_string()) else {
            let error = format!("{name:?} is not a valid TLS server name");
            return Handshake::failed(name, address, HandshakeOutcome::TlsError, error);
        };
        self.limits.until_ready(address).await;
        let socket = SocketAddr::new(address, 443);
        let stream = match tokio::time::timeout(self.timeout, TcpStream::connect(socket)).await {
            Err(_) => {
                let error = format!("connect to {socket} timed out");
                return Handshake::failed(name, address, HandshakeOutcome::ConnectTimeout, error);
            }
            Ok(Err(error)) if error.kind() == std::io::ErrorKind::ConnectionRefused => {
                let error = format!("connect to {socket}: {error}");
                return Handshake::failed(name, address, HandshakeOutcome::ConnectRefused, error);
            }
            Ok(Err(error)) => {
                if backoff::is_reset(&error) {
                    self.limits.signal(address, Signal::Reset);
                }
                let error = format!("connect to {socket}: {error}");
                return Handshake::failed(name, address, HandshakeOutcome::ConnectError, error);
            }
            Ok(Ok(stream)) => stream,
        };
        stream.set_nodelay(true).ok();

        let connect = self.connector.connect(server_name, stream);
        let attempt = OCSP_STAPLED.scope(Cell::new(false), async {
            let result = tokio::time::timeout(self.timeout, connect).await;
            (result, OCSP_STAPLED.with(Cell::get))
        });
        let (result, stapled) = attempt.await;
        let tls_stream = match result {
            Err(_) => {
                let error = "TLS handshake timed out".to_string();
                return Handshake::failed(name, address, HandshakeOutcome::Timeout, error);
            }
            Ok(Err(error)) => {
                // A reset is a back-off signal. An alert is not, because it is how a server
                // normally rejects a hello it cannot serve.
                if backoff::is_reset(&error) {
                    self.limits.signal(address, Signal::Reset);
                }
                let error = format!("TLS handshake failed: {error}");
                return Handshake::failed(name, address, HandshakeOutcome::TlsError, error);
            }
            Ok(Ok(tls_stream)) => tls_stream,
        };
        let connection = tls_stream.get_ref().1;
        let version = match connection.protocol_version() {
            Some(rustls::ProtocolVersion::TLSv1_3) => Some("TLSv1.3"),
            Some(rustls::ProtocolVersion::TLSv1_2) => Some("TLSv1.2"),
            _ => None,
        };
        Handshake {
            name: name.to_string(),
            address,
            outcome: HandshakeOutcome::Ok,
            error: None,
            version,
            cipher_suite: connection
                .negotiated_cipher_suite()
                .map(|suite| iana_suite_name(suite.suite())),
            key_exchange_group: connection
                .negotiated_key_exchange_group()
                .map(|group| format!("{:?}", group.name())),
            alpn: connection
                .alpn_protocol()
                .map(|protocol| String::from_utf8_lossy(protocol).into_owned()),
            ocsp_stapled: Some(stapled),
            chain: connection
                .peer_certificates()
                .map(|chain| chain.iter().map(|cert| cert.clone().into_owned()).collect())
                .unwrap_or_default(),
        }
    }
}

/// The probes' part of the per-address limits: each probe connection waits for them, and a
/// reset slows the address down.
///
/// NOTE: a server that rejects old versions by resetting the connection, as some middleboxes
/// do, slows its address down as an overloaded one would. Each reset then costs the probe a
/// pause of `backoff::DEFAULT_PAUSE`, which counts against the domain's deadline.
struct ProbeHooks<'a> {
    limits: &'a AddressLimits,
    address: IpAddr,
}

impl ConnectionHooks for ProbeHooks<'_> {
    fn before_connect(&self) -> impl Future<Output = ()> {
        self.limits.until_ready(self.address)
    }

    fn on_reset(&self) {
        self.limits.signal(self.address, Signal::Reset);
    }
}

/// Accepts every certificate, so that the handshake completes and the chain can be judged
/// afterwards, but still checks the handshake signatures with the provider's algorithms. Inside
/// a handshake scope it also notes whether the server stapled an OCSP response. The web check
/// uses it too.
#[derive(Debug)]
pub(crate) struct RecordOcsp {
    pub(crate) provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for RecordOcsp {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // Outside a scope there is nothing to record. posture always sets one.
        let _ = OCSP_STAPLED.try_with(|stapled| stapled.set(!ocsp_response.is_empty()));
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.provider.signature_verification_algorithms;
        rustls::crypto::verify_tls12_signature(message, cert, dss, algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.provider.signature_verification_algorithms;
        rustls::crypto::verify_tls13_signature(message, cert, dss, algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suite_names_follow_iana() {
        assert_eq!(
            iana_suite_name(rustls::CipherSuite::TLS13_AES_128_GCM_SHA256),
            "TLS_AES_128_GCM_SHA256"
        );
        assert_eq!(
            iana_suite_name(rustls::CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384),
            "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"
        );
    }

    fn report(outcomes: Vec<HelloOutcome>) -> ProbeReport {
        use super::super::probe::{ProtocolVersion, VersionReport};
        let versions = [ProtocolVersion::Tls12, ProtocolVersion::Tls13];
        ProbeReport {
            address: "127.0.0.1:443".parse().unwrap(),
            server_name: Some("a.example".into()),
            connections: outcomes.len() as u32,
            versions: versions
                .into_iter()
                .zip(outcomes)
                .map(|(version, outcome)| VersionReport {
                    version,
                    outcome,
                    weak: Vec::new(),
                })
                .collect(),
            chain: Vec::new(),
            chain_version: None,
            chain_error: None,
        }
    }

    fn alert(name: &str) -> HelloOutcome {
        HelloOutcome::Rejected {
            reason: super::super::probe::Rejection::Alert,
            alert: Some(name.into()),
            server_version: None,
        }
    }

    #[test]
    fn sni_rejection_needs_unrecognized_name_alert() {
        let rejected = report(vec![alert("unrecognized_name"), alert("unrecognized_name")]);
        assert!(sni_name_rejected(&rejected));
        // A version alert is the server's reply for every name.
        let versions = report(vec![alert("protocol_version"), alert("handshake_failure")]);
        assert!(!sni_name_rejected(&versions));
        // Once a version is accepted, the name was served.
        let accepted = HelloOutcome::Accepted {
            suite: "TLS_AES_128_GCM_SHA256".into(),
            suite_id: 0x1301,
            hello_retry_request: false,
        };
        let served = report(vec![alert("unrecognized_name"), accepted]);
        assert!(!sni_name_rejected(&served));
    }
}
