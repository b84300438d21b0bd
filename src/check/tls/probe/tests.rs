//! Grading of parsed responses, the serialised report, and the calls of the connection hooks
//! against a local server. The rest of the socket side runs against real nginx in
//! `tests/tls_lab.rs`.

use super::*;

fn server_hello(version: u16, suite: u16) -> Exchange {
    Exchange::Received(Response::ServerHello(ServerHello {
        legacy_version: version.min(0x0303),
        selected_version: (version == 0x0304).then_some(0x0304),
        cipher_suite: suite,
        hello_retry_request: false,
    }))
}

#[test]
fn accepted_when_version_and_suite_match() {
    let outcome = grade(
        ProtocolVersion::Tls12,
        &[0xC02F, 0x002F],
        server_hello(0x0303, 0x002F),
    );
    assert_eq!(
        outcome,
        HelloOutcome::Accepted {
            suite: "TLS_RSA_WITH_AES_128_CBC_SHA".into(),
            suite_id: 0x002F,
            hello_retry_request: false,
        }
    );
}

#[test]
fn tls13_accepted_through_supported_versions() {
    let outcome = grade(
        ProtocolVersion::Tls13,
        &[0x1301],
        server_hello(0x0304, 0x1301),
    );
    assert!(outcome.is_accepted(), "{outcome:?}");
}

#[test]
fn tls12_response_to_tls13_hello_rejected() {
    let outcome = grade(
        ProtocolVersion::Tls13,
        &[0x1301],
        server_hello(0x0303, 0x1301),
    );
    assert_eq!(
        outcome,
        HelloOutcome::Rejected {
            reason: Rejection::LowerVersion,
            alert: None,
            server_version: Some(ProtocolVersion::Tls12),
        }
    );
}

#[test]
fn lower_version_is_rejection() {
    let outcome = grade(
        ProtocolVersion::Tls12,
        &[0x002F],
        server_hello(0x0301, 0x002F),
    );
    let HelloOutcome::Rejected { server_version, .. } = outcome else {
        panic!("expected a rejection, got {outcome:?}");
    };
    assert_eq!(server_version, Some(ProtocolVersion::Tls10));
}

#[test]
fn higher_version_is_violation() {
    let outcome = grade(
        ProtocolVersion::Tls10,
        &[0x002F],
        server_hello(0x0303, 0x002F),
    );
    assert!(matches!(
        outcome,
        HelloOutcome::Unknown {
            error: ProbeError::ProtocolViolation,
            ..
        }
    ));
}

#[test]
fn unoffered_suite_is_not_acceptance() {
    let outcome = grade(
        ProtocolVersion::Tls12,
        &[0x0005],
        server_hello(0x0303, 0xC02F),
    );
    match outcome {
        HelloOutcome::Unknown { error, detail } => {
            assert_eq!(error, ProbeError::ProtocolViolation);
            assert!(
                detail.contains("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
                "{detail}"
            );
        }
        other => panic!("expected unknown, got {other:?}"),
    }
}

#[test]
fn tls12_suite_in_tls13_is_violation() {
    let outcome = grade(
        ProtocolVersion::Tls13,
        &[0x1301, 0xC02F],
        server_hello(0x0304, 0xC02F),
    );
    match outcome {
        HelloOutcome::Unknown { error, detail } => {
            assert_eq!(error, ProbeError::ProtocolViolation);
            assert!(detail.contains("not a tls1.3 suite"), "{detail}");
        }
        other => panic!("expected unknown, got {other:?}"),
    }
}

#[test]
fn hello_retry_request_counts_for_tls13() {
    let exchange = Exchange::Received(Response::ServerHello(ServerHello {
        legacy_version: 0x0303,
        selected_version: Some(0x0304),
        cipher_suite: 0x1302,
        hello_retry_request: true,
    }));
    let outcome = grade(ProtocolVersion::Tls13, &[0x1301, 0x1302], exchange);
    assert_eq!(
        outcome,
        HelloOutcome::Accepted {
            suite: "TLS_AES_256_GCM_SHA384".into(),
            suite_id: 0x1302,
            hello_retry_request: true,
        }
    );
}

#[test]
fn hello_retry_request_outside_tls13_is_violation() {
    let exchange = Exchange::Received(Response::ServerHello(ServerHello {
        legacy_version: 0x0303,
        selected_version: None,
        cipher_suite: 0x002F,
        hello_retry_request: true,
    }));
    let outcome = grade(ProtocolVersion::Tls12, &[0x002F], exchange);
    assert!(matches!(
        outcome,
        HelloOutcome::Unknown {
            error: ProbeError::ProtocolViolation,
            ..
        }
    ));
}

#[test]
fn alert_is_rejection_with_name() {
    let exchange = Exchange::Received(Response::Alert {
        level: 2,
        description: 70,
    });
    assert_eq!(
        grade(ProtocolVersion::Tls10, &[0x002F], exchange),
        HelloOutcome::Rejected {
            reason: Rejection::Alert,
            alert: Some("protocol_version".into()),
            server_version: None,
        }
    );
}

#[test]
fn close_and_reset_are_rejections() {
    assert_eq!(
        grade(ProtocolVersion::Ssl3, &[0x002F], Exchange::Closed),
        HelloOutcome::rejected(Rejection::Closed)
    );
    assert_eq!(
        grade(ProtocolVersion::Ssl3, &[0x002F], Exchange::Reset),
        HelloOutcome::rejected(Rejection::Reset)
    );
}

#[test]
fn plain_text_is_unknown() {
    let exchange = Exchange::Received(Response::NotTls {
        prefix: "HTTP/1.1 400 Bad Request".into(),
    });
    let outcome = grade(ProtocolVersion::Tls10, &[0x002F], exchange);
    assert!(!outcome.is_accepted());
    assert!(is_port_failure(&outcome));
}

#[test]
fn ssl2_response_is_unknown() {
    let outcome = grade(
        ProtocolVersion::Tls10,
        &[0x002F],
        Exchange::Received(Response::Ssl2ServerHello),
    );
    assert!(matches!(
        outcome,
        HelloOutcome::Unknown {
            error: ProbeError::Ssl2Only,
            ..
        }
    ));
}

#[test]
fn unknown_alert_code_keeps_number() {
    assert_eq!(alert_name(40), "handshake_failure");
    assert_eq!(alert_name(201), "alert_201");
}

#[test]
fn report_serialises_compactly() {
    let report = ProbeReport {
        address: "127.0.0.1:443".parse().unwrap(),
        server_name: Some("a.test".into()),
        connections: 2,
        versions: vec![
            VersionReport {
                version: ProtocolVersion::Tls12,
                outcome: HelloOutcome::Accepted {
                    suite: "TLS_RSA_WITH_AES_128_CBC_SHA".into(),
                    suite_id: 0x002F,
                    hello_retry_request: false,
                },
                weak: vec![WeakReport {
                    category: WeakCategory::NoForwardSecrecy,
                    outcome: HelloOutcome::Accepted {
                        suite: "TLS_RSA_WITH_AES_128_CBC_SHA".into(),
                        suite_id: 0x002F,
                        hello_retry_request: false,
                    },
                }],
            },
            VersionReport {
                version: ProtocolVersion::Tls10,
                outcome: HelloOutcome::Rejected {
                    reason: Rejection::Alert,
                    alert: Some("protocol_version".into()),
                    server_version: None,
                },
                weak: Vec::new(),
            },
        ],
        chain: vec![rustls::pki_types::CertificateDer::from(vec![0x30, 0x00])],
        chain_version: Some(ProtocolVersion::Tls12),
        chain_error: None,
    };
    let json = serde_json::to_value(&report).unwrap();
    assert!(
        json.get("chain").is_none(),
        "the chain stays out of the evidence"
    );
    assert_eq!(json["chain_version"], "tls1.2");
    assert!(json.get("chain_error").is_none());
    assert_eq!(json["versions"][0]["version"], "tls1.2");
    assert_eq!(json["versions"][0]["status"], "accepted");
    assert_eq!(json["versions"][0]["suite"], "TLS_RSA_WITH_AES_128_CBC_SHA");
    assert_eq!(
        json["versions"][0]["weak"][0]["category"],
        "no_forward_secrecy"
    );
    assert_eq!(json["versions"][1]["status"], "rejected");
    assert_eq!(json["versions"][1]["alert"], "protocol_version");
    assert!(json["versions"][1].get("weak").is_none());
    assert!(json["versions"][0].get("hello_retry_request").is_none());

    let back: ProbeReport = serde_json::from_value(json).unwrap();
    assert!(back.chain.is_empty());
    let without_chain = ProbeReport {
        chain: Vec::new(),
        ..report
    };
    assert_eq!(back, without_chain);
    assert_eq!(back.accepted_versions(), vec![ProtocolVersion::Tls12]);
    assert_eq!(
        back.weak_categories(ProtocolVersion::Tls12),
        vec![WeakCategory::NoForwardSecrecy]
    );
}

/// Hooks that count the connections they let through and the resets they hear of.
struct CountingHooks<'a> {
    connections: &'a std::sync::atomic::AtomicUsize,
    resets: &'a std::sync::atomic::AtomicUsize,
}

impl ConnectionHooks for CountingHooks<'_> {
    fn before_connect(&self) -> impl Future<Output = ()> {
        self.connections
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        std::future::ready(())
    }

    fn on_reset(&self) {
        self.resets
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Starts a server on a free loopback port that reads the first bytes of each connection,
/// then resets it (`reset`) or replies with a fatal `handshake_failure` alert.
async fn serve_hellos(reset: bool) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buffer = [0u8; 4096];
                let _ = stream.read(&mut buffer).await;
                if reset {
                    // With a zero linger time, closing the socket sends RST instead of FIN.
                    let _ = stream.set_zero_linger();
                    return;
                }
                let _ = stream.write_all(&[21, 3, 3, 0, 2, 2, 40]).await;
                let _ = stream.shutdown().await;
                while matches!(stream.read(&mut buffer).await, Ok(read) if read > 0) {}
            });
        }
    });
    address
}

#[tokio::test]
async fn hooks_hear_resets_not_alerts() {
    for (reset, expected_resets) in [(true, 5), (false, 0)] {
        let address = serve_hellos(reset).await;
        let connections = std::sync::atomic::AtomicUsize::new(0);
        let resets = std::sync::atomic::AtomicUsize::new(0);
        let hooks = CountingHooks {
            connections: &connections,
            resets: &resets,
        };
        let timeout = Duration::from_secs(5);
        let report = probe_address(address, Some("a.test"), timeout, false, hooks).await;
        // Every version is rejected, so no weak suite is probed: one connection per version.
        assert_eq!(report.connections, 5, "probe connections, reset = {reset}");
        assert_eq!(connections.into_inner(), 5, "waits, reset = {reset}");
        assert_eq!(
            resets.into_inner(),
            expected_resets,
            "resets, reset = {reset}"
        );
        for version in &report.versions {
            let expected = match reset {
                true => Rejection::Reset,
                false => Rejection::Alert,
            };
            assert!(
                matches!(&version.outcome, HelloOutcome::Rejected { reason, .. } if *reason == expected),
                "{:?}: {:?}",
                version.version,
                version.outcome
            );
        }
    }
}
