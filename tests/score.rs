//! Scores of a real scan on the simulated internet, checked from the outside. `rescore`,
//! `diff` and `report` run as the binary, and headless Chromium renders the report. Every
//! figure in the page is compared with DuckDB queries on the same Parquet files, and the
//! recipes of docs/analysis.md run against the same scan.
//!
//! Run inside the simulated internet: `scripts/simnet run -- cargo test --release --test score`.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use regex::Regex;

/// Domains of the world scanned by these tests.
const DOMAINS: usize = 200;
const INDUSTRIES: &[&str] = &["Retail", "Energy", "Banking", "Health care"];

struct Scans {
    /// Kept so the folders outlive the tests.
    _dir: tempfile::TempDir,
    first: PathBuf,
    rescored: PathBuf,
    report: PathBuf,
    diff: PathBuf,
}

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: these tests need the simulated internet; run them as \
             `scripts/simnet run -- cargo test --release --test score`"
        )
    })
}

fn posture(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_posture"))
        .args(args)
        .output()
        .expect("the posture binary runs");
    assert!(
        output.status.success(),
        "posture {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Writes an input list of the world's first domains with company, industry and rating
/// columns: two domains per company, so that the organisation view groups them.
fn write_input(path: &Path) {
    let domains = std::fs::read_to_string(var("SIMNET_DOMAINS")).expect("the world's list");
    let mut csv = String::from("domain,company,industry,employee_rating\n");
    // The first field of each line that looks like a domain: the list may be Tranco's
    // `rank,domain` or a CSV with a header such as the Fortune 500's.
    let domain = Regex::new(r"^[a-z0-9-]+(\.[a-z0-9-]+)+$").unwrap();
    let names = domains
        .lines()
        .filter_map(|line| {
            line.split(',')
                .map(|field| field.trim().to_ascii_lowercase())
                .find(|field| domain.is_match(field))
        })
        .take(DOMAINS);
    for (index, name) in names.enumerate() {
        let industry = INDUSTRIES[index % INDUSTRIES.len()];
        let rating = 1.0 + (index % 5) as f64;
        csv.push_str(&format!(
            "{name},Company {},{industry},{rating}\n",
            index / 2
        ));
    }
    std::fs::write(path, csv).unwrap();
}

/// Scans once, rescores with a stricter rubric, diffs and reports; shared by the tests.
fn scans() -> &'static Scans {
    static SCANS: OnceLock<Scans> = OnceLock::new();
    SCANS.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("input.csv");
        write_input(&input);
        let first = dir.path().join("first");
        posture(&[
            "scan",
            input.to_str().unwrap(),
            "-o",
            first.to_str().unwrap(),
            "--resolver",
            &var("SIMNET_RESOLVER"),
            "--ca-file",
            &var("SIMNET_CA"),
            "--allow-private",
            "--rate",
            "2000",
            "--per-address",
            "5000",
            "-q",
        ]);
        // A stricter rubric: an unsigned zone costs 30 points instead of 4.
        let rubric = include_str!("../datasets/rubric.toml")
            .replace("version = \"2026.12.1\"", "version = \"strict-dnssec\"")
            .replace(
                "# [finding.\"dnssec.unsigned\"]\n# severity = \"medium\"\n# penalty = 8",
                "[finding.\"dnssec.unsigned\"]\npenalty = 30",
            );
        assert!(
            rubric.contains("penalty = 30"),
            "the rubric example changed"
        );
        let rubric_path = dir.path().join("strict.toml");
        std::fs::write(&rubric_path, rubric).unwrap();
        let rescored = dir.path().join("rescored");
        posture(&[
            "rescore",
            first.to_str().unwrap(),
            "--rubric",
            rubric_path.to_str().unwrap(),
            "-o",
            rescored.to_str().unwrap(),
        ]);
        let diff = dir.path().join("diff.jsonl");
        posture(&[
            "diff",
            first.to_str().unwrap(),
            rescored.to_str().unwrap(),
            "-o",
            diff.to_str().unwrap(),
        ]);
        let report = dir.path().join("report.html");
        posture(&[
            "report",
            first.to_str().unwrap(),
            rescored.to_str().unwrap(),
            "-o",
            report.to_str().unwrap(),
        ]);
        Scans {
            _dir: dir,
            first,
            rescored,
            report,
            diff,
        }
    })
}

/// Runs a DuckDB query and returns its rows as tab-separated fields.
fn duckdb(sql: &str) -> Vec<Vec<String>> {
    let output = Command::new("duckdb")
        .args(["-noheader", "-separator", "\t", "-list", "-c", sql])
        .output()
        .expect("the duckdb CLI runs");
    assert!(
        output.status.success(),
        "duckdb failed on {sql}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| line.split('\t').map(str::to_string).collect())
        .collect()
}

fn parts(folder: &Path) -> String {
    format!("'{}/part-*.parquet'", folder.display())
}

/// Renders the report in headless Chromium and returns the DOM it built.
fn render(report: &Path) -> String {
    let profile = tempfile::tempdir().unwrap();
    let output = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", report.display()))
        .output()
        .expect("chromium runs; scripts/install-deps installs it");
    assert!(
        output.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Returns the attributes of every element with the class.
fn elements(dom: &str, class: &str) -> Vec<HashMap<String, String>> {
    let element = Regex::new(&format!(r#"<\w+ ([^>]*\bclass="{class}"[^>]*)>"#)).unwrap();
    let attribute = Regex::new(r#"([\w-]+)="([^"]*)""#).unwrap();
    element
        .captures_iter(dom)
        .map(|found| {
            attribute
                .captures_iter(&found[1])
                .map(|pair| (pair[1].to_string(), pair[2].replace("&amp;", "&")))
                .collect()
        })
        .collect()
}

#[test]
fn scan_writes_scores_and_organisations() {
    let scans = scans();
    let rows = duckdb(&format!(
        "select count(*), count(score), count(*) filter (where score_status = 'graded'), \
         count(*) filter (where findings is not null) from {}",
        parts(&scans.first)
    ));
    let counts: Vec<u64> = rows[0].iter().map(|value| value.parse().unwrap()).collect();
    assert_eq!(counts[0], DOMAINS as u64);
    assert!(
        counts[1] > (DOMAINS as u64) / 2,
        "only {} rows scored",
        counts[1]
    );
    assert_eq!(counts[1], counts[2]);
    assert!(counts[3] > 0, "no findings at all");

    // Every point is traceable: 100 less the penalties, or the cap of a finding.
    let untraced = duckdb(&format!(
        "select domain, score, score_capped_by from {} where score_status = 'graded' and \
         score <> greatest(0, 100 - coalesce(list_sum([f.penalty for f in findings]), 0)) \
         and score_capped_by is null",
        parts(&scans.first)
    ));
    assert!(
        untraced.is_empty(),
        "scores not traced to findings: {untraced:?}"
    );

    // The sub-scores read the web and tls checks' columns: a row with every column they
    // need gets both, and evidence that was read is never left unknown.
    let subscores = duckdb(&format!(
        "select count(*) filter (where hsts_header_count is not null and csp_present is not null \
           and https_enforced is not null and x_content_type_options_nosniff is not null \
           and cookie_count is not null and observatory_approx_score is null), \
         count(*) filter (where tls_cert_defects is not null and tls_tls1_2_offered is not null \
           and tls_cert_key_bits is not null and https_cert_verdict is not null \
           and ssllabs_approx_grade is null), \
         count(observatory_approx_score), count(ssllabs_approx_grade), \
         count(*) filter (where hsts_header_count is not null \
           and list_contains(score_unknown_tests, 'http.no_hsts')) from {}",
        parts(&scans.first)
    ));
    let counts: Vec<u64> = subscores[0]
        .iter()
        .map(|value| value.parse().unwrap())
        .collect();
    assert_eq!(
        counts[0], 0,
        "rows with the HTTP evidence but no Observatory-style score"
    );
    assert_eq!(
        counts[1], 0,
        "rows with the TLS evidence but no SSL Labs-style grade"
    );
    assert!(
        counts[2] > (DOMAINS as u64) / 4,
        "{} Observatory-style scores",
        counts[2]
    );
    assert!(
        counts[3] > (DOMAINS as u64) / 4,
        "{} SSL Labs-style grades",
        counts[3]
    );
    assert_eq!(counts[4], 0, "HSTS was read but its test is unknown");

    let organisations = duckdb(&format!(
        "select count(*), max(domains), sum(domains) from '{}/organisations.parquet'",
        scans.first.display()
    ));
    assert_eq!(organisations[0][0], (DOMAINS / 2).to_string());
    assert_eq!(organisations[0][1], "2");

    let context = duckdb(&format!(
        "select count(*) filter (where context_score is not null), \
         count(*) filter (where context_employee_rating = 5.0 and context_score <> 100) from {}",
        parts(&scans.first)
    ));
    assert_eq!(context[0][0], DOMAINS.to_string());
    assert_eq!(context[0][1], "0");
}

#[test]
fn rescore_applies_the_new_rubric() {
    let scans = scans();
    let rows = duckdb(&format!(
        "select count(*) filter (where o.score - n.score <> 26), count(*), \
         min(n.score_rubric), count(*) filter (where o.score_rubric = n.score_rubric) \
         from {} o join {} n using (input_line) \
         where list_contains([f.id for f in o.findings], 'dnssec.unsigned') \
         and o.score_capped_by is null and n.score_capped_by is null and n.score > 0",
        parts(&scans.first),
        parts(&scans.rescored)
    ));
    assert_ne!(rows[0][1], "0", "no unsigned zone in the sample");
    assert_eq!(rows[0][0], "0", "unsigned zones lost other than 26 points");
    assert_eq!(rows[0][2], "posture-default strict-dnssec");
    assert_eq!(rows[0][3], "0");
}

#[test]
fn diff_matches_duckdb() {
    let scans = scans();
    let lines = std::fs::read_to_string(&scans.diff).unwrap();
    let regressed = lines
        .lines()
        .filter(|line| line.contains("\"change\":\"regressed\""))
        .count();
    let expected = duckdb(&format!(
        "select count(*) from {} o join {} n using (domain) where n.score < o.score",
        parts(&scans.first),
        parts(&scans.rescored)
    ));
    assert_eq!(regressed.to_string(), expected[0][0]);
    assert!(regressed > 0);
    // Penalties changed, but no finding appeared or disappeared.
    assert!(!lines.contains("\"appeared\":[\""), "{lines}");
}

#[test]
fn report_figures_match_duckdb() {
    let scans = scans();
    let html = std::fs::read_to_string(&scans.report).unwrap();
    assert!(
        !html.contains(" src="),
        "the report loads an external resource"
    );
    assert!(
        !html.contains(" href="),
        "the report links an external resource"
    );
    let dom = render(&scans.report);
    assert!(
        dom.contains("id=\"adoption\""),
        "the page did not render: {dom}"
    );
    let latest = parts(&scans.rescored);
    let label = scans.rescored.display().to_string();

    // Grade distribution of the latest scan.
    let expected: BTreeMap<String, String> = duckdb(&format!(
        "select coalesce(grade, 'ungraded'), count(*) from {latest} \
         where score_status in ('graded', 'insufficient_evidence') group by 1"
    ))
    .into_iter()
    .map(|row| (row[0].clone(), row[1].clone()))
    .collect();
    let shown: BTreeMap<String, String> = elements(&dom, "grade-bar")
        .into_iter()
        .filter(|bar| bar["data-scan"] == label && bar["data-count"] != "0")
        .map(|bar| (bar["data-grade"].clone(), bar["data-count"].clone()))
        .collect();
    assert_eq!(shown, expected);

    // Adoption by industry.
    let cells = elements(&dom, "measure");
    let rows = elements(&dom, "industry");
    assert_eq!(rows.len(), INDUSTRIES.len());
    for (measure, condition) in [
        ("dmarc_reject", "dmarc_effective_policy = 'reject'"),
        ("dnssec", "dnssec_state = 'secure'"),
        ("https_enforced", "http_redirects_to_https"),
        ("hsts", "hsts_valid"),
        ("tls1_0", "tls_tls1_0_offered"),
    ] {
        let expected: Vec<(String, String)> = duckdb(&format!(
            "select count(*) filter (where {condition}), count(*) from {latest} \
             where status = 'ok' group by industry order by industry"
        ))
        .into_iter()
        .map(|row| (row[0].clone(), row[1].clone()))
        .collect();
        let shown: Vec<(String, String)> = cells
            .iter()
            .filter(|cell| cell["data-measure"] == measure)
            .map(|cell| (cell["data-count"].clone(), cell["data-total"].clone()))
            .collect();
        assert_eq!(shown, expected, "{measure}");
    }
    // Most common findings.
    let expected: Vec<(String, String)> = duckdb(&format!(
        "select f.id, count(*) from (select unnest(findings) f from {latest} where status = 'ok') \
         group by 1 order by 2 desc, 1 limit 15"
    ))
    .into_iter()
    .map(|row| (row[0].clone(), row[1].clone()))
    .collect();
    let shown: Vec<(String, String)> = elements(&dom, "finding")
        .into_iter()
        .map(|row| (row["data-finding"].clone(), row["data-count"].clone()))
        .collect();
    assert_eq!(shown, expected);

    // Worst domains.
    let expected: Vec<(String, String)> = duckdb(&format!(
        "select domain, score from {latest} where score_status = 'graded' \
         order by score, domain limit 20"
    ))
    .into_iter()
    .map(|row| (row[0].clone(), row[1].clone()))
    .collect();
    let shown: Vec<(String, String)> = elements(&dom, "worst")
        .into_iter()
        .map(|row| (row["data-domain"].clone(), row["data-score"].clone()))
        .collect();
    assert_eq!(shown, expected);

    // Changes between the two scans.
    let regressed = duckdb(&format!(
        "select count(*) from {} o join {latest} n using (domain) where n.score < o.score",
        parts(&scans.first)
    ));
    let section = Regex::new(r#"id="changes" data-improved="(\d+)" data-regressed="(\d+)""#)
        .unwrap()
        .captures(&dom)
        .expect("the changes section");
    assert_eq!(&section[1], "0");
    assert_eq!(section[2], regressed[0][0]);
}

/// Extracts the fenced blocks of one language from a Markdown page.
fn code_blocks(markdown: &str, language: &str) -> Vec<String> {
    let fence = format!("```{language}\n");
    markdown
        .split(fence.as_str())
        .skip(1)
        .filter_map(|rest| rest.split("\n```").next())
        .map(str::to_string)
        .collect()
}

#[test]
fn analysis_recipes_run() {
    let scans = scans();
    let page = include_str!("../docs/analysis.md");
    let folder = scans.rescored.display().to_string();
    let sql = code_blocks(page, "sql");
    assert!(
        sql.len() >= 5,
        "docs/analysis.md has {} SQL recipes",
        sql.len()
    );
    for recipe in sql {
        let query = recipe.replace("out/", &format!("{folder}/"));
        let rows = duckdb(&query);
        assert!(!rows.is_empty(), "no rows from {query}");
    }
    let python = code_blocks(page, "python");
    assert!(
        python.len() >= 3,
        "docs/analysis.md has {} pandas recipes",
        python.len()
    );
    for recipe in python {
        let code = recipe.replace("\"out/", &format!("\"{folder}/"));
        let output = Command::new("python3")
            .args(["-c", &code])
            .output()
            .expect("python3 runs");
        assert!(
            output.status.success(),
            "recipe failed:\n{code}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(!output.stdout.is_empty(), "recipe printed nothing:\n{code}");
    }
}

#[test]
fn check_prints_the_scan_grade() {
    let scans = scans();
    let row = duckdb(&format!(
        "select domain, score, grade from {} where score_status = 'graded' \
         order by input_line limit 1",
        parts(&scans.first)
    ));
    let (domain, score, grade) = (&row[0][0], &row[0][1], &row[0][2]);
    let text = posture(&[
        "check",
        domain,
        "--resolver",
        &var("SIMNET_RESOLVER"),
        "--ca-file",
        &var("SIMNET_CA"),
        "--allow-private",
    ]);
    assert!(text.starts_with(domain.as_str()), "{text}");
    assert!(
        text.contains(&format!("grade {grade}  score {score}/100")),
        "{text}"
    );
    let json = posture(&[
        "check",
        domain,
        "--resolver",
        &var("SIMNET_RESOLVER"),
        "--ca-file",
        &var("SIMNET_CA"),
        "--allow-private",
        "--json",
    ]);
    let value: serde_json::Value = serde_json::from_str(json.trim()).expect("one JSON row");
    assert_eq!(value["grade"], grade.as_str());
    assert_eq!(value["score"].to_string(), *score);
}
