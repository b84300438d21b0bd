//! The TLS version and weak-suite probes against a real nginx (`scripts/tls-lab`).
//!
//! The test starts nginx itself, on 127.77.0.x, so it must run in a network namespace that has
//! only loopback: `unshare -rn cargo test --release --test tls_lab`, or the whole suite under
//! `scripts/simnet run -- cargo test --release`. Each case's expectations follow the
//! `ssl_protocols` and `ssl_ciphers` lines of its server block, and the probe must report exactly
//! those versions and weak categories.

use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use posture::check::tls::probe::{
    HelloOutcome, ProbeError, ProbeReport, ProtocolVersion, Rejection, WeakCategory, probe_address,
    probe_version,
};

const SERVER_NAME: &str = "tls-lab.test";
const TIMEOUT: Duration = Duration::from_secs(5);

/// Serialises the tests of this file, because each starts nginx on the same addresses.
static LAB_LOCK: Mutex<()> = Mutex::new(());

/// nginx serving the cases; stopped with SIGTERM when dropped.
struct Lab {
    nginx: Child,
    dir: tempfile::TempDir,
}

impl Lab {
    fn start() -> Lab {
        require_isolated_network();
        let dir = tempfile::tempdir().expect("temp dir");
        let nginx = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/tls-lab"))
            .arg("serve")
            .arg(dir.path())
            .stdin(Stdio::null())
            .spawn()
            .expect("scripts/tls-lab starts");
        let mut lab = Lab { nginx, dir };
        lab.wait_ready();
        lab
    }

    /// Waits until every case address accepts TCP connections.
    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        for case in CASES {
            let address = case.address();
            while TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_err() {
                if let Ok(Some(status)) = self.nginx.try_wait() {
                    panic!("nginx exited with {status}: {}", self.error_log());
                }
                assert!(
                    Instant::now() < deadline,
                    "nginx did not listen on {address} within 20 s: {}",
                    self.error_log()
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("logs/error.log")).unwrap_or_default()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // SIGTERM makes the nginx master stop its workers before it exits.
        let pid = self.nginx.id() as libc::pid_t;
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
        let _ = self.nginx.wait();
    }
}

/// Panics with instructions unless this process is in a network namespace with only loopback,
/// so that nginx binds nothing reachable from outside and the probes reach nothing else.
fn require_isolated_network() {
    let devices = std::fs::read_to_string("/proc/net/dev").expect("/proc/net/dev readable");
    let interfaces: Vec<&str> = devices
        .lines()
        .filter_map(|line| line.split_once(':').map(|(name, _)| name.trim()))
        .collect();
    assert!(
        interfaces == ["lo"],
        "these tests start nginx and need a network namespace with only loopback (found {}): \
         run them as `unshare -rn cargo test --release --test tls_lab` or \
         `scripts/simnet run -- cargo test --release --test tls_lab`",
        interfaces.join(", ")
    );
}

/// One server block of `scripts/tls-lab` and what the probe must report for it.
struct Case {
    name: &'static str,
    address: &'static str,
    accepted: &'static [ProtocolVersion],
    /// Weak categories accepted in every accepted version below TLS 1.3.
    weak: &'static [WeakCategory],
    /// IANA names of every suite the server may select.
    suites: &'static [&'static str],
}

impl Case {
    fn address(&self) -> SocketAddr {
        format!("{}:443", self.address)
            .parse()
            .expect("case address")
    }
}

use ProtocolVersion::{Ssl3, Tls10, Tls11, Tls12, Tls13};
use WeakCategory::{Anonymous, NoForwardSecrecy, Null};

const TLS13_SUITES: [&str; 3] = [
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
];

const CASES: &[Case] = &[
    Case {
        name: "modern",
        address: "127.77.0.1",
        accepted: &[Tls12, Tls13],
        weak: &[],
        suites: &[
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
            "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
            TLS13_SUITES[0],
            TLS13_SUITES[1],
            TLS13_SUITES[2],
        ],
    },
    Case {
        name: "legacy",
        address: "127.77.0.2",
        accepted: &[Tls10, Tls11],
        weak: &[],
        suites: &["TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"],
    },
    Case {
        name: "null",
        address: "127.77.0.3",
        accepted: &[Tls12],
        weak: &[Null],
        suites: &["TLS_ECDHE_RSA_WITH_NULL_SHA"],
    },
    Case {
        name: "anonymous",
        address: "127.77.0.4",
        accepted: &[Tls12],
        weak: &[Anonymous],
        suites: &["TLS_ECDH_anon_WITH_AES_128_CBC_SHA"],
    },
    Case {
        name: "static-rsa",
        address: "127.77.0.5",
        accepted: &[Tls12],
        weak: &[NoForwardSecrecy],
        suites: &["TLS_RSA_WITH_AES_128_CBC_SHA"],
    },
    Case {
        name: "plain-http",
        address: "127.77.0.6",
        accepted: &[],
        weak: &[],
        suites: &[],
    },
    Case {
        name: "ssl3-configured",
        address: "127.77.0.7",
        accepted: &[],
        weak: &[],
        suites: &[],
    },
    Case {
        name: "tls13-p384-only",
        address: "127.77.0.8",
        accepted: &[Tls13],
        weak: &[],
        suites: &TLS13_SUITES,
    },
    Case {
        name: "legacy-weak-mix",
        address: "127.77.0.9",
        accepted: &[Tls10, Tls11, Tls12],
        weak: &[Null, Anonymous, NoForwardSecrecy],
        suites: &[
            "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
            "TLS_RSA_WITH_AES_128_CBC_SHA",
            "TLS_ECDHE_RSA_WITH_NULL_SHA",
            "TLS_ECDH_anon_WITH_AES_128_CBC_SHA",
        ],
    },
];

fn find_case(name: &str) -> &'static Case {
    CASES
        .iter()
        .find(|case| case.name == name)
        .expect("case exists")
}

/// Probes one address and returns the report with the number of `before_connect` calls.
async fn probe(address: SocketAddr) -> (ProbeReport, u32) {
    let gate_calls = AtomicU32::new(0);
    let report = probe_address(address, Some(SERVER_NAME), TIMEOUT, false, || {
        gate_calls.fetch_add(1, Ordering::Relaxed);
        std::future::ready(())
    })
    .await;
    (report, gate_calls.load(Ordering::Relaxed))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Returns the selected suite of an accepted outcome.
fn accepted_suite(outcome: &HelloOutcome) -> Option<&str> {
    match outcome {
        HelloOutcome::Accepted { suite, .. } => Some(suite),
        _ => None,
    }
}

fn check_case(case: &Case, report: &ProbeReport, gate_calls: u32) {
    let name = case.name;
    let json = serde_json::to_string_pretty(report).expect("report serialises");
    println!("{name}: {json}");

    assert_eq!(
        report.accepted_versions(),
        case.accepted,
        "{name}: versions\n{json}"
    );
    assert_eq!(
        gate_calls, report.connections,
        "{name}: one gate call per connection"
    );
    let below_tls13 = case.accepted.iter().filter(|&&v| v != Tls13).count() as u32;
    assert!(
        report.connections <= 5 + 6 * below_tls13,
        "{name}: {} connections\n{json}",
        report.connections
    );

    for version in &report.versions {
        if let Some(suite) = accepted_suite(&version.outcome) {
            assert!(
                case.suites.contains(&suite),
                "{name}: {} selected {suite}, not a configured suite",
                version.version.as_str()
            );
        }
        if version.version == Tls13 || !version.outcome.is_accepted() {
            assert!(
                version.weak.is_empty(),
                "{name}: weak probes for {:?}",
                version.version
            );
            continue;
        }
        let mut weak = report.weak_categories(version.version);
        weak.sort();
        let mut expected = case.weak.to_vec();
        expected.sort();
        assert_eq!(
            weak, expected,
            "{name}: weak categories in {:?}\n{json}",
            version.version
        );
        for finding in &version.weak {
            if let Some(suite) = accepted_suite(&finding.outcome) {
                assert!(case.suites.contains(&suite), "{name}: weak suite {suite}");
            }
        }
    }
}

#[test]
fn probes_match_nginx_configuration() {
    let _lock = LAB_LOCK
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let _lab = Lab::start();
    let reports = runtime().block_on(async {
        let probes = CASES.iter().map(|case| probe(case.address()));
        futures::future::join_all(probes).await
    });

    for (case, (report, gate_calls)) in CASES.iter().zip(&reports) {
        check_case(case, report, *gate_calls);
    }

    // A server with TLS 1.2 and 1.3 and no weak suite costs 5 version probes and 1 weak probe.
    let modern = &reports[0].0;
    assert_eq!(modern.connections, 6);

    // Servers that speak TLS reject with an alert what they do not accept.
    for name in ["modern", "legacy", "ssl3-configured"] {
        let index = CASES.iter().position(|case| case.name == name).unwrap();
        for version in &reports[index].0.versions {
            if !version.outcome.is_accepted() {
                assert!(
                    matches!(
                        version.outcome,
                        HelloOutcome::Rejected {
                            reason: Rejection::Alert | Rejection::LowerVersion,
                            ..
                        }
                    ),
                    "{name}: {:?} {:?}",
                    version.version,
                    version.outcome
                );
            }
        }
    }

    // The TLS 1.3 server with only P-384 requests that key share with a HelloRetryRequest.
    let index = CASES
        .iter()
        .position(|case| case.name == "tls13-p384-only")
        .unwrap();
    let tls13 = reports[index]
        .0
        .versions
        .iter()
        .find(|v| v.version == Tls13)
        .unwrap();
    assert!(
        matches!(
            tls13.outcome,
            HelloOutcome::Accepted {
                hello_retry_request: true,
                ..
            }
        ),
        "{:?}",
        tls13.outcome
    );

    // Plain HTTP on the TLS port: one connection, and no version counts as offered.
    let index = CASES
        .iter()
        .position(|case| case.name == "plain-http")
        .unwrap();
    let plain = &reports[index].0;
    assert_eq!(plain.connections, 1);
    for version in &plain.versions {
        assert!(
            matches!(
                version.outcome,
                HelloOutcome::Unknown {
                    error: ProbeError::NotTls,
                    ..
                }
            ),
            "{:?}",
            version.outcome
        );
    }
    assert!(find_case("ssl3-configured").accepted.is_empty());
    let ssl3 = &reports[CASES
        .iter()
        .position(|c| c.name == "ssl3-configured")
        .unwrap()]
    .0;
    assert!(!ssl3.accepted_versions().contains(&Ssl3));
}

#[test]
fn closed_port_costs_one_connection() {
    let _lock = LAB_LOCK
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let _lab = Lab::start();
    let address: SocketAddr = "127.77.0.1:8443".parse().unwrap();
    let (report, gate_calls) = runtime().block_on(probe(address));
    assert_eq!(report.connections, 1);
    assert_eq!(gate_calls, 1);
    for version in &report.versions {
        assert!(
            matches!(
                version.outcome,
                HelloOutcome::Unknown {
                    error: ProbeError::ConnectRefused,
                    ..
                }
            ),
            "{:?}",
            version.outcome
        );
    }
}

/// With the chain requested, the first accepted probe of TLS 1.2 or older reads the served
/// certificate, without another connection, and an anonymous suite gives no chain.
#[test]
fn probe_reads_legacy_chain() {
    let _lock = LAB_LOCK
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let lab = Lab::start();
    let served: Vec<Vec<u8>> = CertificateDer::pem_file_iter(lab.dir.path().join("cert.pem"))
        .expect("lab cert readable")
        .map(|cert| cert.expect("lab cert is PEM").to_vec())
        .collect();
    assert_eq!(served.len(), 1);

    let expectations = [
        ("modern", Some(ProtocolVersion::Tls12)),
        ("legacy", Some(ProtocolVersion::Tls11)),
        ("static-rsa", Some(ProtocolVersion::Tls12)),
        ("anonymous", None),
    ];
    for (name, chain_version) in expectations {
        let case = find_case(name);
        let (with_chain, without_chain) = runtime().block_on(async {
            let read = |read_chain| {
                probe_address(
                    case.address(),
                    Some(SERVER_NAME),
                    TIMEOUT,
                    read_chain,
                    || std::future::ready(()),
                )
            };
            (read(true).await, read(false).await)
        });
        assert_eq!(with_chain.chain_version, chain_version, "{name}");
        assert_eq!(
            with_chain.connections, without_chain.connections,
            "{name}: reading the chain must not open another connection"
        );
        assert!(without_chain.chain.is_empty(), "{name}");
        assert_eq!(without_chain.chain_error, None, "{name}");
        match chain_version {
            Some(_) => {
                let chain: Vec<Vec<u8>> = with_chain.chain.iter().map(|c| c.to_vec()).collect();
                assert_eq!(chain, served, "{name}");
                assert_eq!(with_chain.chain_error, None, "{name}");
            }
            None => {
                assert!(with_chain.chain.is_empty(), "{name}");
                let error = with_chain.chain_error.clone().unwrap_or_default();
                assert!(error.contains("type 12"), "{name}: {error}");
            }
        }
    }
}

/// Measures how many probe connections per second posture completes against the modern case,
/// and prints the rate. Run it alone: `... --test tls_lab -- --ignored --nocapture probe_rate`.
#[test]
#[ignore = "a measurement, not a check; run it on an idle machine"]
fn probe_rate() {
    let _lock = LAB_LOCK
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let _lab = Lab::start();
    let address = find_case("modern").address();
    let concurrency: usize = std::env::var("TLS_LAB_CONCURRENCY")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(32);
    let probes: usize = std::env::var("TLS_LAB_PROBES")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(500);

    // TLS_LAB_VERSION=tls1.2 or tls1.3 measures single accepted hellos of that version, which
    // make the server sign; without it, whole probe_address runs, most of whose connections end
    // in a cheap alert.
    let version: Option<ProtocolVersion> = std::env::var("TLS_LAB_VERSION")
        .ok()
        .map(|name| serde_json::from_value(name.into()).expect("TLS_LAB_VERSION is tls1.x"));

    let (connections, elapsed, complete) = runtime().block_on(async {
        use futures::StreamExt;
        let start = Instant::now();
        let results: Vec<(u32, bool)> = futures::stream::iter(0..probes)
            .map(|_| async move {
                match version {
                    Some(version) => {
                        let outcome =
                            probe_version(address, Some(SERVER_NAME), version, TIMEOUT).await;
                        (1, outcome.is_accepted())
                    }
                    None => {
                        let (report, _) = probe(address).await;
                        let expected = report.accepted_versions() == [Tls12, Tls13];
                        (report.connections, expected)
                    }
                }
            })
            .buffer_unordered(concurrency)
            .collect()
            .await;
        let connections: u32 = results.iter().map(|(connections, _)| connections).sum();
        let complete = results.iter().filter(|(_, expected)| *expected).count();
        (connections, start.elapsed(), complete)
    });
    println!(
        "{probes} probes ({}), {connections} connections in {:.2} s: {:.0} connections/s at \
         concurrency {concurrency}",
        version.map_or("probe_address", ProtocolVersion::as_str),
        elapsed.as_secs_f64(),
        f64::from(connections) / elapsed.as_secs_f64()
    );
    assert_eq!(complete, probes, "every probe got the expected result");

    // h2load on the same server in the same run, for comparison. Each h2load run has as many
    // clients as requests, so every request opens its own connection with a full handshake.
    // With fewer clients and `Connection: close`, h2load 1.52 resumes the TLS session when it
    // reconnects, and nginx then signs nothing.
    let requests = usize::try_from(connections).unwrap_or(usize::MAX).max(200);
    let clients = concurrency.to_string();
    let (mut succeeded, mut runs, mut elapsed) = (0usize, 0usize, 0f64);
    while runs * concurrency < requests {
        runs += 1;
        let output = match Command::new("h2load")
            .args(["-n", &clients, "-c", &clients, "--h1"])
            .arg(format!("https://{address}/"))
            .output()
        {
            Ok(output) => output,
            Err(error) => {
                println!("h2load not run: {error}");
                return;
            }
        };
        let text = String::from_utf8_lossy(&output.stdout);
        let (run_succeeded, run_seconds) = h2load_totals(&text);
        succeeded += run_succeeded;
        elapsed += run_seconds;
    }
    println!(
        "h2load: {succeeded} requests with a full handshake each, {runs} runs of {concurrency} \
         clients in {elapsed:.2} s: {:.0} per second",
        succeeded as f64 / elapsed
    );
}

/// Reads the successful requests and the duration in seconds from h2load's summary, whose
/// lines read `finished in 1.83s, 545.45 req/s, ...` and `requests: 1000 total, ..., 1000
/// succeeded, ...`. The duration leaves out h2load's own start.
fn h2load_totals(summary: &str) -> (usize, f64) {
    let (mut succeeded, mut seconds) = (0, 0.0);
    for line in summary.lines() {
        if let Some(counts) = line.strip_prefix("requests: ") {
            let field = counts
                .split(", ")
                .find(|field| field.ends_with(" succeeded"));
            if let Some(count) = field.and_then(|field| field.split(' ').next()) {
                succeeded += count.parse::<usize>().unwrap_or(0);
            }
        }
        if let Some(rest) = line.strip_prefix("finished in ") {
            let duration = rest.split(',').next().unwrap_or_default();
            if let Some(milliseconds) = duration.strip_suffix("ms") {
                seconds += milliseconds.parse::<f64>().unwrap_or(0.0) / 1000.0;
            } else if let Some(whole) = duration.strip_suffix('s') {
                seconds += whole.parse::<f64>().unwrap_or(0.0);
            }
        }
    }
    (succeeded, seconds)
}
