//! Scans against broken and hostile web and DNS servers, and a count of the connections that
//! reach addresses posture must never contact.
//!
//! Each test runs itself again in a fresh network namespace (`unshare -rn`) where only
//! loopback exists, so it can bind fixtures on 127.77.0.0/16, put 10.0.0.1 and
//! 169.254.169.254 on `lo`, and listen on port 53 without touching the host's network. It
//! works the same outside and inside `scripts/simnet run`, and fails with a message when no
//! namespace can be made.

#[path = "hostile/dns.rs"]
mod dns;
#[path = "hostile/web.rs"]
mod web;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use dns::{Misbehaviour, Record, Zone};
use serde_json::Value;
use web::{Behaviour, Fixture};

/// Set in the child process that runs inside the new namespace.
const NAMESPACE_VARIABLE: &str = "POSTURE_HOSTILE_IN_NAMESPACE";

const RESOLVER: Ipv4Addr = Ipv4Addr::new(127, 77, 0, 53);
const METADATA: Ipv4Addr = Ipv4Addr::new(169, 254, 169, 254);
const PRIVATE: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const NORMAL: Ipv4Addr = Ipv4Addr::new(127, 77, 1, 20);
const REDIRECTOR: Ipv4Addr = Ipv4Addr::new(127, 77, 1, 7);
/// Address of a name on the exclude list.
const EXCLUDED_BY_NAME: Ipv4Addr = Ipv4Addr::new(127, 77, 2, 1);
/// Address inside a network on the exclude list.
const EXCLUDED_NETWORK_ADDRESS: Ipv4Addr = Ipv4Addr::new(127, 77, 3, 1);
/// One address behind the 2,000 names of the load test.
const LOAD: Ipv4Addr = Ipv4Addr::new(127, 77, 4, 1);
const LOAD_NAMES: usize = 2000;
/// Sends 429 with `Retry-After: 1`.
const TOO_MANY: Ipv4Addr = Ipv4Addr::new(127, 77, 4, 2);
/// Resets every connection.
const RESETTER: Ipv4Addr = Ipv4Addr::new(127, 77, 4, 3);
/// Behaves: a 200 on port 80 and a TLS alert on port 443. It has as many names as each of
/// the other back-off fixtures.
const TWIN: Ipv4Addr = Ipv4Addr::new(127, 77, 4, 4);
/// Sends 503 with `Retry-After: 1`.
const UNAVAILABLE: Ipv4Addr = Ipv4Addr::new(127, 77, 4, 5);
/// Sends 503 without `Retry-After`.
const UNAVAILABLE_PLAIN: Ipv4Addr = Ipv4Addr::new(127, 77, 4, 6);
const BACKOFF_NAMES: usize = 30;
const EXCLUDE_FILE: &str = "excluded.test\nwww.www-excluded.test\n127.77.3.0/24\n";

/// Per-operation timeout and per-domain deadline given to posture.
const TIMEOUT: &str = "1s";
const DEADLINE_SECONDS: u64 = 12;

/// Web fixtures: address, behaviour on port 80, behaviour on port 443.
fn web_fixtures() -> Vec<(Ipv4Addr, Behaviour, Behaviour)> {
    let redirects: HashMap<String, String> = [
        ("to-metadata.test", "http://169.254.169.254/"),
        ("to-private.test", "http://10.0.0.1/"),
        ("to-loopback6.test", "http://[::1]/"),
        ("to-metadata-name.test", "http://metadata.points.test/"),
        ("to-private-name.test", "http://private.points.test/"),
        ("to-loopback6-name.test", "http://loopback6.points.test/"),
        ("to-excluded-name.test", "http://excluded.test/"),
        ("to-excluded-network.test", "http://127.77.3.1/"),
        (
            "to-excluded-network-name.test",
            "http://in-excluded-network.test/",
        ),
    ]
    .into_iter()
    .map(|(host, target)| (host.to_string(), target.to_string()))
    .collect();
    let by_host = Behaviour::RedirectByHost(Arc::new(redirects));
    let address = |last| Ipv4Addr::new(127, 77, 1, last);
    vec![
        (address(1), Behaviour::Silent, Behaviour::Silent),
        (address(2), Behaviour::SlowHead, Behaviour::SlowHead),
        (address(3), Behaviour::HugeHead, Behaviour::HugeHead),
        (address(4), Behaviour::EndlessBody, Behaviour::Garbage),
        (address(5), Behaviour::GzipBomb, Behaviour::Garbage),
        (address(6), Behaviour::EndlessRedirects, Behaviour::Garbage),
        (REDIRECTOR, by_host.clone(), by_host),
        (address(8), Behaviour::Normal, Behaviour::Garbage),
        (address(9), Behaviour::Normal, Behaviour::Silent),
        (address(10), Behaviour::Normal, Behaviour::PlainHttp),
        (NORMAL, Behaviour::Normal, Behaviour::Normal),
        (LOAD, Behaviour::Normal, Behaviour::Garbage),
        (
            TOO_MANY,
            Behaviour::TooManyRequests,
            Behaviour::TooManyRequests,
        ),
        (RESETTER, Behaviour::Reset, Behaviour::Reset),
        (TWIN, Behaviour::Normal, Behaviour::TlsAlert),
        (
            UNAVAILABLE,
            Behaviour::ServiceUnavailable(Some(1)),
            Behaviour::ServiceUnavailable(Some(1)),
        ),
        (
            UNAVAILABLE_PLAIN,
            Behaviour::ServiceUnavailable(None),
            Behaviour::ServiceUnavailable(None),
        ),
    ]
}

fn load_names() -> Vec<String> {
    (0..LOAD_NAMES)
        .map(|i| format!("n{i:04}.load.test"))
        .collect()
}

/// Zones of the back-off tests and their addresses.
const BACKOFF_ZONES: [(&str, Ipv4Addr); 5] = [
    ("too-many", TOO_MANY),
    ("resets", RESETTER),
    ("twin", TWIN),
    ("unavailable", UNAVAILABLE),
    ("unavailable-plain", UNAVAILABLE_PLAIN),
];

/// Names of the back-off tests: [`BACKOFF_NAMES`] in each zone of [`BACKOFF_ZONES`].
fn backoff_names() -> Vec<(String, Ipv4Addr)> {
    let mut names = Vec::new();
    for (zone, address) in BACKOFF_ZONES {
        for i in 0..BACKOFF_NAMES {
            names.push((format!("n{i:02}.{zone}.test"), address));
        }
    }
    names
}

/// Returns the back-off test names in `zones`.
fn backoff_names_in(zones: &[&str]) -> Vec<String> {
    backoff_names()
        .into_iter()
        .map(|(name, _)| name)
        .filter(|name| {
            zones
                .iter()
                .any(|zone| name.ends_with(&format!(".{zone}.test")))
        })
        .collect()
}

/// Listeners on addresses that no connection may reach.
fn forbidden_addresses() -> Vec<IpAddr> {
    vec![
        IpAddr::V4(METADATA),
        IpAddr::V4(PRIVATE),
        IpAddr::V6(Ipv6Addr::LOCALHOST),
        IpAddr::V4(EXCLUDED_BY_NAME),
        IpAddr::V4(EXCLUDED_NETWORK_ADDRESS),
    ]
}

const WEB_DOMAINS: [&str; 10] = [
    "silent.test",
    "slow-head.test",
    "huge-head.test",
    "endless-body.test",
    "gzip-bomb.test",
    "redirect-chain.test",
    "tls-garbage.test",
    "tls-stall.test",
    "plain-on-443.test",
    "normal.test",
];

const BLOCKED_DOMAINS: [&str; 16] = [
    "metadata.points.test",
    "private.points.test",
    "loopback6.points.test",
    "excluded.test",
    "in-excluded-network.test",
    "to-metadata.test",
    "to-private.test",
    "to-loopback6.test",
    "to-metadata-name.test",
    "to-private-name.test",
    "to-loopback6-name.test",
    "to-excluded-name.test",
    "to-excluded-network.test",
    "to-excluded-network-name.test",
    "www-excluded.test",
    "normal.test",
];

const DNS_DOMAINS: [&str; 8] = [
    "big-txt.test",
    "many-mx.test",
    "cname-loop.test",
    "pointer-loop.test",
    "servfail.test",
    "silent-dns.test",
    "spf-loop.test",
    "spf-tree.test",
];

/// Domains that all get SERVFAIL, scanned with [`DNS_DOMAINS`].
const SERVFAIL_FLOOD: usize = 40;

/// Strings of 255 bytes in the large TXT record: 59,925 bytes in all.
const BIG_TXT_STRINGS: usize = 235;
const MANY_MX: usize = 500;

fn zone() -> Zone {
    let mut zone = Zone::default();
    // The fixtures on 127.77.1.0/24 each have one name; the others get theirs below.
    for (address, _, _) in web_fixtures()
        .into_iter()
        .filter(|(address, _, _)| address.octets()[2] == 1)
    {
        let last = address.octets()[3];
        let name = match last {
            1 => "silent.test",
            2 => "slow-head.test",
            3 => "huge-head.test",
            4 => "endless-body.test",
            5 => "gzip-bomb.test",
            6 => "redirect-chain.test",
            8 => "tls-garbage.test",
            9 => "tls-stall.test",
            10 => "plain-on-443.test",
            20 => "normal.test",
            _ => continue,
        };
        zone.add(name, Record::A(address));
    }
    for domain in BLOCKED_DOMAINS
        .iter()
        .filter(|name| name.starts_with("to-"))
    {
        zone.add(domain, Record::A(REDIRECTOR));
    }
    for name in load_names() {
        zone.add(&name, Record::A(LOAD));
    }
    for (name, address) in backoff_names() {
        zone.add(&name, Record::A(address));
    }
    zone.add("metadata.points.test", Record::A(METADATA));
    zone.add("private.points.test", Record::A(PRIVATE));
    zone.add("loopback6.points.test", Record::Aaaa(Ipv6Addr::LOCALHOST));
    zone.add("excluded.test", Record::A(EXCLUDED_BY_NAME));
    zone.add(
        "in-excluded-network.test",
        Record::A(EXCLUDED_NETWORK_ADDRESS),
    );
    zone.add("www-excluded.test", Record::A(NORMAL));
    zone.add("www.www-excluded.test", Record::A(EXCLUDED_BY_NAME));

    let big_txt = vec![vec![b't'; 255]; BIG_TXT_STRINGS];
    zone.add("big-txt.test", Record::Txt(big_txt));
    for preference in 0..MANY_MX {
        let exchange = format!("mx{preference}.many-mx.test");
        zone.add("many-mx.test", Record::Mx(preference as u16, exchange));
    }
    zone.add("cname-loop.test", Record::Cname("loop-b.test".to_string()));
    zone.add("loop-b.test", Record::Cname("cname-loop.test".to_string()));
    zone.misbehave("pointer-loop.test", Misbehaviour::PointerLoop);
    zone.misbehave("servfail.test", Misbehaviour::ServFail);
    zone.misbehave("silent-dns.test", Misbehaviour::Silent);

    // A record longer than 255 bytes is split into several strings, as a zone file does.
    let spf = |text: String| {
        let strings = text.as_bytes().chunks(255).map(<[u8]>::to_vec).collect();
        Record::Txt(strings)
    };
    zone.add(
        "spf-loop.test",
        spf("v=spf1 include:spf-loop.test -all".to_string()),
    );
    // Three levels of nine includes: 819 lookups where the limit is 10.
    let includes = |parent: &str| -> String {
        let terms: Vec<String> = (1..=9).map(|i| format!("include:t{i}.{parent}")).collect();
        format!("v=spf1 {} -all", terms.join(" "))
    };
    zone.add("spf-tree.test", spf(includes("spf-tree.test")));
    for i in 1..=9 {
        let level_one = format!("t{i}.spf-tree.test");
        zone.add(&level_one, spf(includes(&level_one)));
        for j in 1..=9 {
            let level_two = format!("t{j}.{level_one}");
            zone.add(&level_two, spf(includes(&level_two)));
        }
    }
    zone
}

/// Runs this test again inside a new network namespace, or, when already inside one, checks
/// that only loopback exists and runs `body`.
fn in_namespace(test: &str, body: impl FnOnce()) {
    if std::env::var_os(NAMESPACE_VARIABLE).is_some() {
        assert_only_loopback();
        body();
        return;
    }
    let program = std::env::current_exe().expect("the test binary's path is known");
    let status = Command::new("unshare")
        .args(["--net", "--map-root-user", "--"])
        .arg(program)
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(NAMESPACE_VARIABLE, "1")
        .status();
    match status {
        Err(error) => panic!(
            "cannot run `unshare` ({error}): these tests need a new network namespace; \
             install util-linux"
        ),
        Ok(status) => assert!(
            status.success(),
            "{test} failed inside its network namespace ({status}); its output is above. \
             If unshare itself failed, this kernel does not allow unprivileged network \
             namespaces: run as root or enable user namespaces"
        ),
    }
}

/// Panics unless the process's network namespace has no interface but `lo`, so that nothing
/// below can reach a real network.
fn assert_only_loopback() {
    let devices = std::fs::read_to_string("/proc/self/net/dev").expect("/proc/self/net/dev");
    let interfaces: Vec<&str> = devices
        .lines()
        .skip(2)
        .filter_map(|line| line.split(':').next())
        .map(str::trim)
        .collect();
    assert_eq!(
        interfaces,
        ["lo"],
        "refusing to run: this network namespace has interfaces besides lo"
    );
}

fn run_ip(args: &[&str]) {
    let status = Command::new("ip")
        .args(args)
        .status()
        .expect("the ip command runs");
    assert!(status.success(), "ip {} failed: {status}", args.join(" "));
}

/// The servers of one test, alive while this value is.
struct World {
    /// Runs the fixtures until dropped.
    _runtime: tokio::runtime::Runtime,
    fixtures: HashMap<(IpAddr, u16), Fixture>,
    dns_tcp_connections: Arc<AtomicUsize>,
}

impl World {
    fn start() -> World {
        run_ip(&["link", "set", "lo", "up"]);
        run_ip(&["addr", "add", "10.0.0.1/32", "dev", "lo"]);
        run_ip(&["addr", "add", "169.254.169.254/32", "dev", "lo"]);

        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let (fixtures, dns_tcp_connections) = runtime.block_on(async {
            let dns_tcp_connections = dns::serve(RESOLVER, zone()).await;
            let mut fixtures = HashMap::new();
            for (address, http, https) in web_fixtures() {
                let address = IpAddr::V4(address);
                for (port, behaviour) in [(80, http), (443, https)] {
                    let fixture = web::serve(address, port, behaviour).await;
                    fixtures.insert((address, port), fixture);
                }
            }
            for address in forbidden_addresses() {
                for port in [80, 443] {
                    let fixture = web::serve(address, port, Behaviour::Normal).await;
                    fixtures.insert((address, port), fixture);
                }
            }
            (fixtures, dns_tcp_connections)
        });
        World {
            _runtime: runtime,
            fixtures,
            dns_tcp_connections,
        }
    }

    fn connections(&self, address: IpAddr) -> usize {
        [80, 443]
            .iter()
            .map(|port| self.fixtures[&(address, *port)].connections())
            .sum()
    }

    /// Returns the moments connections to `address` were accepted, on both ports, in order.
    fn accept_times(&self, address: IpAddr) -> Vec<std::time::Instant> {
        let mut times: Vec<_> = [80, 443]
            .iter()
            .flat_map(|port| self.fixtures[&(address, *port)].accept_times())
            .collect();
        times.sort();
        times
    }
}

/// Options of one scan that differ between tests.
struct Options {
    per_address: u32,
    deadline_seconds: u64,
    /// `--checks`, or all checks when `None`.
    checks: Option<&'static str>,
    /// The scan must end within this time, because domains run concurrently.
    max_elapsed: Option<Duration>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            per_address: 1000,
            deadline_seconds: DEADLINE_SECONDS,
            checks: None,
            max_elapsed: Some(Duration::from_secs(2 * DEADLINE_SECONDS + 10)),
        }
    }
}

/// A finished scan: its rows by domain and the process's peak resident memory.
struct Scan {
    rows: HashMap<String, Value>,
    peak_memory_kib: Option<u64>,
}

impl Scan {
    fn row(&self, domain: &str) -> &Value {
        self.rows
            .get(domain)
            .unwrap_or_else(|| panic!("no output row for {domain}"))
    }

    fn text(&self, domain: &str, column: &str) -> Option<&str> {
        self.row(domain)[column].as_str()
    }

    /// Returns the `web_hops` entries of one chain.
    fn hops(&self, domain: &str, chain: &str) -> Vec<&Value> {
        self.row(domain)["web_hops"]
            .as_array()
            .map(|hops| hops.iter().filter(|hop| hop["chain"] == chain).collect())
            .unwrap_or_default()
    }
}

/// Scans `domains` with every check, under `/usr/bin/time -v` when it exists.
fn scan(domains: &[String]) -> Scan {
    scan_with(domains, &Options::default())
}

/// Scans `domains` with `options`, under `/usr/bin/time -v` when it exists.
fn scan_with(domains: &[String], options: &Options) -> Scan {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("domains.txt");
    std::fs::write(&input, domains.join("\n") + "\n").unwrap();
    let exclude = dir.path().join("exclude.txt");
    std::fs::write(&exclude, EXCLUDE_FILE).unwrap();
    let output = dir.path().join("out");

    let time = Path::new("/usr/bin/time");
    let mut command = match time.exists() {
        true => {
            let mut command = Command::new(time);
            command.arg("-v").arg(env!("CARGO_BIN_EXE_posture"));
            command
        }
        false => Command::new(env!("CARGO_BIN_EXE_posture")),
    };
    let deadline = format!("{}s", options.deadline_seconds);
    let per_address = options.per_address.to_string();
    command
        .arg("scan")
        .arg(&input)
        .arg("-o")
        .arg(&output)
        .args(["--format", "jsonl", "--resolver", &RESOLVER.to_string()])
        .args(["--allow-network", "127.77.0.0/16", "--exclude"])
        .arg(&exclude)
        .args(["--timeout", TIMEOUT, "--deadline", &deadline])
        .args(["--rate", "1000", "--per-address", &per_address, "-q"]);
    if let Some(checks) = options.checks {
        command.args(["--checks", checks]);
    }
    let started = std::time::Instant::now();
    let result = command.output().expect("the posture binary runs");
    let elapsed = started.elapsed();
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(
        result.status.success(),
        "posture failed with {}: {stderr}",
        result.status
    );
    if let Some(max_elapsed) = options.max_elapsed {
        assert!(elapsed < max_elapsed, "the scan took {elapsed:?}");
    }

    let peak_memory_kib = stderr.lines().find_map(|line| {
        let value = line
            .trim()
            .strip_prefix("Maximum resident set size (kbytes):")?;
        value.trim().parse().ok()
    });
    let mut rows = HashMap::new();
    for entry in std::fs::read_dir(&output).unwrap() {
        let path = entry.unwrap().path();
        if path
            .extension()
            .is_some_and(|extension| extension == "jsonl")
        {
            for line in std::fs::read_to_string(&path).unwrap().lines() {
                let row: Value = serde_json::from_str(line).unwrap();
                let domain = row["input"].as_str().unwrap().to_string();
                rows.insert(domain, row);
            }
        }
    }
    assert_eq!(rows.len(), domains.len(), "one row per input line");
    for (domain, row) in &rows {
        let duration = row["duration_ms"].as_u64().unwrap_or(0);
        assert!(
            duration <= options.deadline_seconds * 1000 + 2000,
            "{domain} took {duration} ms, past the deadline"
        );
    }
    Scan {
        rows,
        peak_memory_kib,
    }
}

fn strings(domains: &[&str]) -> Vec<String> {
    domains.iter().map(|domain| domain.to_string()).collect()
}

#[test]
fn hostile_web_servers() {
    in_namespace("hostile_web_servers", || {
        let world = World::start();
        let scan = scan(&strings(&WEB_DOMAINS));
        for domain in WEB_DOMAINS {
            assert_eq!(scan.text(domain, "status"), Some("ok"), "{domain} status");
        }

        assert_eq!(scan.text("silent.test", "http_outcome"), Some("timeout"));
        assert_eq!(scan.text("silent.test", "https_outcome"), Some("timeout"));
        assert_eq!(scan.text("slow-head.test", "http_outcome"), Some("timeout"));
        assert_eq!(
            scan.text("slow-head.test", "https_outcome"),
            Some("tls_error")
        );
        assert_eq!(
            scan.text("huge-head.test", "http_outcome"),
            Some("http_error")
        );

        assert_eq!(scan.text("endless-body.test", "http_outcome"), Some("ok"));
        assert_eq!(scan.row("endless-body.test")["http_status"], 200);
        assert_eq!(scan.text("gzip-bomb.test", "http_outcome"), Some("ok"));
        assert_eq!(scan.row("gzip-bomb.test")["http_status"], 200);

        assert_eq!(
            scan.text("redirect-chain.test", "http_end"),
            Some("too_many_redirects")
        );
        let hops = scan.hops("redirect-chain.test", "http").len();
        assert_eq!(hops, 11, "the first request and 10 redirects");
        let redirect_address = IpAddr::V4(Ipv4Addr::new(127, 77, 1, 6));
        let served = world.connections(redirect_address);
        assert!(served <= 20, "{served} connections to the redirect chain");

        assert_eq!(
            scan.text("tls-garbage.test", "https_outcome"),
            Some("tls_error")
        );
        assert_eq!(scan.text("tls-garbage.test", "http_outcome"), Some("ok"));
        assert_eq!(
            scan.text("tls-stall.test", "https_outcome"),
            Some("timeout")
        );
        assert_eq!(scan.text("tls-stall.test", "http_outcome"), Some("ok"));
        assert_eq!(
            scan.text("plain-on-443.test", "https_outcome"),
            Some("tls_error")
        );
        assert_eq!(scan.text("normal.test", "https_outcome"), Some("tls_error"));
        assert_eq!(scan.text("normal.test", "http_outcome"), Some("ok"));
        drop(world);
    });
}

#[test]
fn hostile_dns_answers() {
    in_namespace("hostile_dns_answers", || {
        let world = World::start();
        let mut domains = strings(&DNS_DOMAINS);
        domains.extend((0..SERVFAIL_FLOOD).map(|i| format!("flood{i}.servfail.test")));
        let scan = scan(&domains);
        for domain in &domains {
            assert_eq!(scan.text(domain, "status"), Some("ok"), "{domain} status");
        }

        // Both need TCP: the fixture truncates every UDP answer longer than 1232 bytes.
        let tcp = world.dns_tcp_connections.load(Ordering::SeqCst);
        assert!(tcp > 0, "no DNS query was repeated over TCP");
        assert_eq!(scan.text("big-txt.test", "dns_txt_outcome"), Some("data"));
        let txt = scan.row("big-txt.test")["dns_txt"][0]
            .as_str()
            .unwrap_or("");
        assert_eq!(txt.len(), 255 * BIG_TXT_STRINGS);
        assert_eq!(scan.text("many-mx.test", "dns_mx_outcome"), Some("data"));
        let mx = scan.row("many-mx.test")["dns_mx"].as_array().map(Vec::len);
        assert_eq!(mx, Some(MANY_MX));

        // The loop's CNAMEs arrive without an address, which the resolver reports as no data.
        assert_eq!(
            scan.text("cname-loop.test", "dns_a_outcome"),
            Some("no_data")
        );
        assert_eq!(
            scan.text("cname-loop.test", "dns_cname_outcome"),
            Some("data")
        );
        assert_eq!(
            scan.text("pointer-loop.test", "dns_a_outcome"),
            Some("error")
        );
        assert_eq!(
            scan.text("servfail.test", "dns_a_outcome"),
            Some("servfail")
        );
        assert_eq!(
            scan.text("silent-dns.test", "dns_a_outcome"),
            Some("timeout")
        );
        for i in 0..SERVFAIL_FLOOD {
            let domain = format!("flood{i}.servfail.test");
            assert_eq!(scan.text(&domain, "dns_a_outcome"), Some("servfail"));
        }

        assert_eq!(scan.text("spf-loop.test", "spf_outcome"), Some("present"));
        assert_eq!(scan.row("spf-loop.test")["spf_valid"], false);
        assert_eq!(scan.text("spf-tree.test", "spf_outcome"), Some("present"));
        assert_eq!(scan.row("spf-tree.test")["spf_valid"], false);
        let lookups = scan.row("spf-tree.test")["spf_lookups"].as_u64();
        assert!(
            lookups.is_some_and(|count| count > 10),
            "{lookups:?} lookups"
        );
        drop(world);
    });
}

#[test]
fn blocked_addresses_get_no_connection() {
    in_namespace("blocked_addresses_get_no_connection", || {
        let world = World::start();
        let scan = scan(&strings(&BLOCKED_DOMAINS));

        for address in forbidden_addresses() {
            assert_eq!(world.connections(address), 0, "connections to {address}");
        }
        assert!(world.connections(IpAddr::V4(REDIRECTOR)) > 0);
        assert!(world.connections(IpAddr::V4(NORMAL)) > 0);

        for domain in [
            "metadata.points.test",
            "private.points.test",
            "loopback6.points.test",
        ] {
            assert_eq!(
                scan.text(domain, "status"),
                Some("private_address"),
                "{domain}"
            );
        }
        for domain in ["excluded.test", "in-excluded-network.test"] {
            assert_eq!(scan.text(domain, "status"), Some("excluded"), "{domain}");
        }
        for domain in BLOCKED_DOMAINS
            .iter()
            .filter(|name| name.starts_with("to-"))
        {
            assert_eq!(scan.text(domain, "http_outcome"), Some("ok"), "{domain}");
            assert_eq!(
                scan.text(domain, "http_end"),
                Some("blocked_address"),
                "{domain}"
            );
        }
        assert_eq!(
            scan.text("www-excluded.test", "www_http_outcome"),
            Some("blocked_address")
        );
        drop(world);
    });
}

#[test]
fn hostile_set_peak_memory() {
    in_namespace("hostile_set_peak_memory", || {
        let world = World::start();
        let mut domains = strings(&WEB_DOMAINS);
        domains.extend(strings(&DNS_DOMAINS));
        domains.extend(
            BLOCKED_DOMAINS
                .iter()
                .filter(|domain| !WEB_DOMAINS.contains(domain))
                .map(|domain| domain.to_string()),
        );
        let scan = scan(&domains);
        let Some(peak) = scan.peak_memory_kib else {
            panic!("/usr/bin/time -v is missing or printed no peak memory; install GNU time");
        };
        println!("peak resident memory over the hostile set: {peak} KiB");
        // The whole set fits well below this, and a fixture read in full (100 MB of
        // header, an endless body, 256 MiB of decompressed body) would pass it.
        assert!(peak < 100 * 1024, "peak resident memory {peak} KiB");
        drop(world);
    });
}

/// Counts the times in each window of length `window` that starts at one of them, and
/// returns the maximum.
fn busiest_window(times: &[std::time::Instant], window: Duration) -> usize {
    let mut busiest = 0;
    let mut end = 0;
    for (start, first) in times.iter().enumerate() {
        while end < times.len() && times[end] < *first + window {
            end += 1;
        }
        busiest = busiest.max(end - start);
    }
    busiest
}

#[test]
fn per_address_limit_holds_under_load() {
    in_namespace("per_address_limit_holds_under_load", || {
        const PER_ADDRESS: usize = 50;
        let world = World::start();
        let options = Options {
            per_address: PER_ADDRESS as u32,
            deadline_seconds: 2,
            checks: Some("web"),
            max_elapsed: None,
        };
        scan_with(&load_names(), &options);

        let times = world.accept_times(IpAddr::V4(LOAD));
        // The limiter was busy for several seconds, or the windows below prove nothing.
        assert!(
            times.len() > 4 * PER_ADDRESS,
            "only {} connections to {LOAD}",
            times.len()
        );
        // The fixture notes a connection when it accepts it, a little after posture made it.
        // A fixture thread that is not scheduled for a moment accepts several at once, so the
        // bound allows a fifth more: runs on a loaded 2-core machine reached 53. Without the
        // limit, or with governor's default burst (a full second's connections at once),
        // windows contain close to twice the limit or more.
        let busiest = busiest_window(&times, Duration::from_secs(1));
        println!(
            "{} connections to {LOAD}, at most {busiest} in one second",
            times.len()
        );
        assert!(
            busiest <= PER_ADDRESS + PER_ADDRESS / 5,
            "{busiest} connections to {LOAD} within one second, limit {PER_ADDRESS}"
        );
        drop(world);
    });
}

/// Returns the connections `address`:`port` accepted after its first 429, 503 or reset.
fn accepted_after_first_signal(world: &World, address: Ipv4Addr, port: u16) -> usize {
    let fixture = &world.fixtures[&(IpAddr::V4(address), port)];
    let first = fixture
        .first_signal()
        .unwrap_or_else(|| panic!("{address}:{port} sent no 429, 503 or reset"));
    fixture
        .accept_times()
        .iter()
        .filter(|time| **time > first)
        .count()
}

/// Counts the rows of `zone` whose `column` equals `value`.
fn rows_with(scan: &Scan, zone: &str, column: &str, value: &Value) -> usize {
    (0..BACKOFF_NAMES)
        .filter(|i| scan.row(&format!("n{i:02}.{zone}.test"))[column] == *value)
        .count()
}

/// Returns the `tls_endpoints` entries of every row of `zone`.
fn tls_endpoints(scan: &Scan, zone: &str) -> Vec<Value> {
    (0..BACKOFF_NAMES)
        .flat_map(|i| {
            let row = scan.row(&format!("n{i:02}.{zone}.test"));
            row["tls_endpoints"].as_array().cloned().unwrap_or_default()
        })
        .collect()
}

#[test]
fn backs_off_on_resets_429_and_503() {
    in_namespace("backs_off_on_resets_429_and_503", || {
        let world = World::start();
        let names = backoff_names_in(&BACKOFF_ZONES.map(|(zone, _)| zone));
        let options = Options {
            per_address: 100,
            deadline_seconds: 6,
            checks: Some("web"),
            max_elapsed: None,
        };
        let scan = scan_with(&names, &options);
        // Names that waited past their deadline have no response, but some got one.
        let status = |code: u16| Value::from(code);
        assert!(rows_with(&scan, "too-many", "http_status", &status(429)) > 0);
        assert!(rows_with(&scan, "unavailable", "http_status", &status(503)) > 0);
        let http_error = Value::from("http_error");
        assert!(rows_with(&scan, "resets", "http_outcome", &http_error) > 0);
        assert_eq!(
            rows_with(&scan, "twin", "http_status", &status(200)),
            BACKOFF_NAMES,
            "every name of the twin gets its answer"
        );
        assert_eq!(
            rows_with(&scan, "unavailable-plain", "http_status", &status(503)),
            BACKOFF_NAMES,
            "every name of the address that sends 503 without Retry-After gets its answer"
        );

        // The twin gets every connection its names need: one per name on port 80. The 429, 503
        // and resetting addresses get one, then about one a second while each signal pauses
        // them again. A machine that is slow only spaces them more. Port 80 is compared with
        // port 80, because without back-off each address gets one connection per name there
        // too, and a bound against both of the twin's ports would still hold.
        let twin = world.fixtures[&(IpAddr::V4(TWIN), 80)].connections();
        for address in [TOO_MANY, RESETTER, UNAVAILABLE] {
            let after = accepted_after_first_signal(&world, address, 80);
            println!(
                "{address}: {after} connections to port 80 after the first signal; twin: {twin}"
            );
            assert!(
                2 * after < twin,
                "{after} connections to port 80 of {address} after its first signal, {twin} to \
                 the twin's"
            );
        }

        // A 503 without Retry-After is no signal, so that address gets about as many
        // connections as the twin, far more than the slowed addresses above.
        let plain = world.fixtures[&(IpAddr::V4(UNAVAILABLE_PLAIN), 80)].connections();
        println!("{UNAVAILABLE_PLAIN}: {plain} connections to port 80; twin: {twin}");
        assert!(
            2 * plain >= twin,
            "{plain} connections to {UNAVAILABLE_PLAIN}, {twin} to the twin: a 503 without \
             Retry-After slowed it down"
        );
        drop(world);
    });
}

#[test]
fn tls_backs_off_on_resets() {
    in_namespace("tls_backs_off_on_resets", || {
        let world = World::start();
        let options = Options {
            per_address: 100,
            deadline_seconds: 6,
            checks: Some("tls"),
            max_elapsed: None,
        };
        let scan = scan_with(&backoff_names_in(&["resets", "twin"]), &options);

        // The twin replies to each handshake and each of the 5 version probes with an alert.
        // An alert is no signal, so every one of them reaches it.
        let twin_endpoints = tls_endpoints(&scan, "twin");
        assert_eq!(
            twin_endpoints.len(),
            BACKOFF_NAMES,
            "one handshake per twin name"
        );
        for endpoint in &twin_endpoints {
            assert_eq!(
                endpoint["outcome"], "tls_error",
                "twin handshake {endpoint}"
            );
        }
        let twin = world.fixtures[&(IpAddr::V4(TWIN), 443)].connections();
        assert_eq!(
            twin,
            BACKOFF_NAMES + 5,
            "connections to the twin, which answers with alerts"
        );

        // Without back-off the resetting address would get as many. With it, it gets one,
        // then about one a second while each reset pauses it again.
        let after = accepted_after_first_signal(&world, RESETTER, 443);
        println!("{RESETTER}: {after} connections after the first reset; twin: {twin}");
        assert!(
            2 * after < twin,
            "{after} connections to {RESETTER} after its first reset, {twin} to the twin"
        );
        drop(world);
    });
}

#[test]
fn tls_waits_for_web_backoff() {
    in_namespace("tls_waits_for_web_backoff", || {
        let world = World::start();
        let options = Options {
            per_address: 100,
            deadline_seconds: 6,
            checks: Some("web,tls"),
            max_elapsed: None,
        };
        let scan = scan_with(&backoff_names_in(&["too-many", "twin"]), &options);

        // Only the web check's requests to port 80 get the 429s, because port 443 replies to a
        // hello with plain HTTP, which is no signal. So the handshakes slow down only because
        // the web check and the tls check share one back-off table. Without it, each name
        // whose handshake had not started by the first 429 would connect to port 443 at once.
        let first_429 = world.fixtures[&(IpAddr::V4(TOO_MANY), 80)]
            .first_signal()
            .unwrap_or_else(|| panic!("{TOO_MANY} sent no 429"));
        let after = world.fixtures[&(IpAddr::V4(TOO_MANY), 443)]
            .accept_times()
            .iter()
            .filter(|time| **time > first_429)
            .count();
        let deadline_ended = |endpoint: &Value| {
            endpoint["error"]
                .as_str()
                .is_some_and(|error| error.contains("deadline ended"))
        };
        let waited = tls_endpoints(&scan, "too-many")
            .iter()
            .filter(|endpoint| deadline_ended(endpoint))
            .count();
        let twin_waited = tls_endpoints(&scan, "twin")
            .iter()
            .filter(|endpoint| deadline_ended(endpoint))
            .count();
        println!(
            "{TOO_MANY}: {after} connections to port 443 after the first 429, {waited} \
             handshakes cut by the deadline; twin: {twin_waited} cut"
        );
        // With one table, the pauses started by port 80's 429s hold the handshakes until the
        // deadline cuts most of them. In test runs, 19 to 27 of 30 were cut, and 5 to 21
        // connections reached port 443 after the first 429. The count varies with which
        // waiting check gets each permit between pauses. With a table per check, all 35
        // connect after it (30 handshakes and 5 probes), and without back-off 58 do.
        assert!(
            after < BACKOFF_NAMES,
            "{after} connections to port 443 of {TOO_MANY} after its first 429 on port 80"
        );
        assert!(
            3 * waited >= BACKOFF_NAMES,
            "only {waited} handshakes with {TOO_MANY} waited until the deadline"
        );
        assert_eq!(
            twin_waited, 0,
            "handshakes with the twin cut by the deadline"
        );
        drop(world);
    });
}
