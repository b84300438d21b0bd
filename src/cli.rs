//! Command-line flags, as clap parses them. `config` turns them into a validated configuration.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const SCAN_EXAMPLES: &str = "\
Examples:
  posture scan tranco.csv -o out/
  posture scan companies.csv --column website -o out/ --rate 20 --concurrency 200
  zcat list.txt.gz | posture scan - -o out/ --format jsonl
  posture scan list.txt -o out/ --checks dns --resolver 127.0.0.53 --allow-private
  posture scan tranco.csv -o out/ --resume      (continue after Ctrl-C, a crash or a full disk)

Exit codes:
  0    the scan finished and every input line has its output row
  1    the scan could not run or its output could not be written (see the message);
       the finished parts are whole, and --resume continues the scan
  2    invalid command line
  130  stopped by Ctrl-C (or SIGTERM); finished parts and the manifest are written, and
       --resume continues the scan";

const PARSE_HELP: &str = "\
Examples:
  posture parse dmarc 'v=DMARC1; p=reject; rua=mailto:dmarc@example.com'
  posture parse dkim \"$(dig +short TXT sel._domainkey.example.com | tr -d '\"')\"
  curl -s https://mta-sts.example.com/.well-known/mta-sts.txt | posture parse mta-sts-policy -
  posture parse hsts 'max-age=63072000; includeSubDomains; preload'
  posture parse cookie 'sid=abc; Path=/; HttpOnly' --origin http://www.example.com/login
  posture parse server 'Apache/2.4.6 (CentOS) OpenSSL/1.0.2k-fips PHP/5.4.16'
  printf 'Server: nginx\nX-Powered-By: PHP/7.4.33\n' | posture parse server -

The JSON has the record type, \"valid\", and the parsed record with its defaults applied,
its errors and its warnings, each error and warning with a \"kind\" and a \"message\".
A cookie is valid when a browser would store it; server banners are always valid, and
their end-of-life verdicts are for today's date.

Exit codes:
  0    the record is valid (it may have warnings)
  1    the record has errors, or standard input could not be read
  2    invalid command line";

/// Grades the external security posture of domains in bulk and writes Parquet.
#[derive(Debug, Parser)]
#[command(name = "posture", version, about, propagate_version = true)]
pub struct Cli {
    /// More log detail on standard error (repeat for more).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    /// Only errors on standard error, no progress bar.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    #[command(subcommand)]
    pub command: Command,
}

// The command line is parsed once per run, so the size of the scan variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Scan every domain of a list and write one output row per input line.
    #[command(after_help = SCAN_EXAMPLES)]
    Scan(ScanArgs),
    /// Parse one email authentication record or HTTP header and print it as JSON, with its
    /// errors and warnings. Needs no network.
    #[command(after_help = PARSE_HELP)]
    Parse(ParseArgs),
    /// Recompute findings, scores and grades of stored results with a rubric, without
    /// scanning again.
    #[command(after_help = RESCORE_HELP)]
    Rescore(RescoreArgs),
    /// List, per domain, the findings that appeared and disappeared between two scored scans.
    Diff(DiffArgs),
    /// Write one self-contained HTML report with charts of one or more scans.
    Report(ReportArgs),
    /// Scan one domain and print its grade and findings for a person to read.
    Check(CheckArgs),
    /// SPF tools that query DNS.
    #[command(subcommand)]
    Spf(SpfCommand),
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The domain to scan.
    pub domain: String,

    /// DNS resolver to use, as ADDRESS, ADDRESS:PORT, [IPv6] or [IPv6]:PORT; repeatable
    /// (default: the system's).
    #[arg(long, value_name = "ADDR[:PORT]")]
    pub resolver: Vec<String>,

    /// Extra trusted root certificates (PEM), added to Mozilla's.
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<PathBuf>,

    /// Allow connections to loopback, private and shared (CGNAT) addresses; for test networks.
    #[arg(long)]
    pub allow_private: bool,

    /// Time limit of one operation, e.g. 5s or 500ms.
    #[arg(long, value_name = "DURATION", default_value = "5s")]
    pub timeout: String,

    /// Scoring rubric (TOML); default: the built-in one.
    #[arg(long, value_name = "FILE")]
    pub rubric: Option<PathBuf>,

    /// Print the scored row as JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

const RESCORE_HELP: &str = "\
Examples:
  posture rescore out/ --rubric my-rubric.toml -o rescored/
  posture rescore out/part-00000.parquet -o rescored/

The output folder gets one part for each input part, organisations.parquet and a copy of
the manifest naming the rubric.";

/// Scoring flags shared by `scan` and `rescore`.
#[derive(Debug, Clone, Args)]
pub struct ScoringArgs {
    /// Scoring rubric (TOML); default: the built-in datasets/rubric.toml.
    #[arg(long, value_name = "FILE")]
    pub rubric: Option<PathBuf>,

    /// Input column with an employer rating from 1 to 5, for the context_* columns (default:
    /// the first of employee_rating, employer_rating, glassdoor_rating, company_rating,
    /// overall_rating, rating).
    #[arg(long, value_name = "NAME")]
    pub employee_rating_column: Option<String>,

    /// Input column with CEO approval, as a percentage or a fraction (default: the first of
    /// ceo_approval, ceo_approval_rating, ceo_approval_percent, glassdoor_ceo_approval).
    #[arg(long, value_name = "NAME")]
    pub ceo_approval_column: Option<String>,
}

#[derive(Debug, Args)]
pub struct RescoreArgs {
    /// A scan's output folder, or one Parquet part of it.
    pub results: PathBuf,

    /// Output folder for the rescored parts; must differ from the input's folder.
    #[arg(short, long)]
    pub output: PathBuf,

    #[command(flatten)]
    pub scoring: ScoringArgs,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The earlier scan's output folder or Parquet file.
    pub old: PathBuf,
    /// The later scan's output folder or Parquet file.
    pub new: PathBuf,
    /// Write one JSON line per changed domain to this file (`-` for standard output).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Scan output folders or Parquet files, oldest first. With two or more, the report
    /// compares the first with the last.
    #[arg(required = true)]
    pub results: Vec<PathBuf>,

    /// The HTML file to write.
    #[arg(short, long)]
    pub output: PathBuf,

    /// Rubric for results that have no score columns, and for the grade order of the charts.
    #[arg(long, value_name = "FILE")]
    pub rubric: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum SpfCommand {
    /// Evaluate the SPF policy of a sender for a client address with check_host() (RFC 7208)
    /// and print the result as JSON, with the terms evaluated and the lookup counts.
    Evaluate(SpfEvaluateArgs),
}

#[derive(Debug, Args)]
pub struct SpfEvaluateArgs {
    /// The SMTP client's IP address.
    #[arg(long)]
    pub ip: std::net::IpAddr,

    /// The MAIL FROM address, or a bare domain (evaluated as postmaster@DOMAIN). An empty
    /// value stands for the null reverse-path, and the HELO name is evaluated instead.
    #[arg(long)]
    pub sender: String,

    /// The HELO or EHLO name (default: the sender's domain).
    #[arg(long)]
    pub helo: Option<String>,

    /// DNS resolver to use, as ADDRESS, ADDRESS:PORT, [IPv6] or [IPv6]:PORT; repeatable
    /// (default: the system's, from /etc/resolv.conf).
    #[arg(long, value_name = "ADDR[:PORT]")]
    pub resolver: Vec<String>,

    /// Time limit of one DNS query, e.g. 5s or 500ms.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    pub timeout: std::time::Duration,
}

#[derive(Debug, Args)]
pub struct ParseArgs {
    /// Record type: the TXT record of SPF, DMARC (`_dmarc`), DKIM (`<selector>._domainkey`),
    /// MTA-STS (`_mta-sts`), TLS-RPT (`_smtp._tls`) or BIMI (`default._bimi`), the
    /// MTA-STS policy file, an HTTP header value (Strict-Transport-Security, Set-Cookie,
    /// Server, Content-Security-Policy) or a security.txt file.
    #[arg(value_enum)]
    pub kind: RecordKind,

    /// The record, its TXT strings joined without separators, the header value or the
    /// file. For `server`, lines of `Name: value` name any of Server, X-Powered-By,
    /// X-AspNet-Version, X-AspNetMvc-Version, X-Generator and Via. `-` reads standard input.
    pub text: String,

    /// For `cookie`: the URL of the response that set the cookie, which decides the
    /// default path, host-only cookies and whether Secure is allowed (default: https:// and
    /// the Domain attribute, or example.com).
    #[arg(long, value_name = "URL")]
    pub origin: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RecordKind {
    Spf,
    Dmarc,
    Dkim,
    MtaSts,
    MtaStsPolicy,
    TlsRpt,
    Bimi,
    Hsts,
    Cookie,
    Server,
    Csp,
    SecurityTxt,
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Domain list: CSV with a header, headerless `rank,domain` (Tranco), or one domain per
    /// line; gzip and zstd are decompressed. `-` reads standard input.
    pub input: PathBuf,

    /// Output folder; created if missing. Must not already contain a scan, unless --resume.
    #[arg(short, long)]
    pub output: PathBuf,

    /// Continue the interrupted scan in the output folder: lines that have a row in a finished
    /// part are skipped, and every other line is scanned. The input file and the options that
    /// change results must be the same as before. Starts a new scan if the folder contains none.
    #[arg(long)]
    pub resume: bool,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Parquet)]
    pub format: Format,

    /// Input column that contains the domain (default: the first of domain, host, hostname,
    /// website, url, site, fqdn, domain_name).
    #[arg(long, value_name = "NAME")]
    pub column: Option<String>,

    /// Stop after this many input records (lines, or CSV records, which may span lines).
    #[arg(long, value_name = "N")]
    pub limit: Option<u64>,

    /// Checks to run, comma-separated: dns, dnssec, email, web, tls (default:
    /// all).
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub checks: Option<Vec<String>>,

    /// Domains scanned at the same time.
    #[arg(long, value_name = "N", default_value_t = 256,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub concurrency: u32,

    /// New domains started per second.
    #[arg(long, value_name = "N", default_value_t = 200)]
    pub rate: u32,

    /// DNS queries per second, over all resolvers.
    #[arg(long, value_name = "N", default_value_t = 2000)]
    pub dns_qps: u32,

    /// New connections per second to any one IP address.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub per_address: u32,

    /// Time limit of one operation (a DNS query, a connection, a TLS handshake, an HTTP
    /// response), e.g. 5s or 500ms.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    pub timeout: std::time::Duration,

    /// Time limit for all checks of one domain.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub deadline: std::time::Duration,

    /// DNS resolver to use, as ADDRESS, ADDRESS:PORT, [IPv6] or [IPv6]:PORT; repeatable
    /// (default: the system's, from /etc/resolv.conf).
    #[arg(long, value_name = "ADDR[:PORT]")]
    pub resolver: Vec<String>,

    /// File of extra DKIM selectors, one per line (`#` comments), queried after the built-in
    /// dictionary; each adds one TXT query per domain whose `_domainkey` name exists.
    #[arg(long, value_name = "FILE")]
    pub dkim_selectors: Option<PathBuf>,

    /// Leave out the built-in DKIM selector dictionary, so that only the selectors of
    /// --dkim-selectors are queried. Without either, DKIM evidence rests on `_domainkey` and
    /// the wildcard probe alone (2 queries where `_domainkey` exists, in place of 36).
    #[arg(long)]
    pub no_builtin_selectors: bool,

    /// Extra trusted root certificates (PEM), added to Mozilla's.
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<PathBuf>,

    /// File of domains and CIDR networks never to contact, one per line (`#` comments);
    /// repeatable.
    #[arg(long, value_name = "FILE")]
    pub exclude: Vec<PathBuf>,

    /// User-Agent product token; the version and contact URL are appended.
    #[arg(long, value_name = "TEXT", default_value = "posture")]
    pub user_agent: String,

    /// URL where site owners can learn about the scan and opt out; sent in the User-Agent.
    #[arg(long, value_name = "URL")]
    pub contact: Option<String>,

    /// Allow connections to loopback, private (RFC 1918, ULA) and shared (CGNAT) addresses.
    /// For test networks such as the simulated internet; never for scans of the internet.
    #[arg(long)]
    pub allow_private: bool,

    /// Allow connections to one network (CIDR, or one address) even when it is special-purpose,
    /// such as a test network on 127.0.0.0/8; repeatable. `--exclude` still wins. Narrower
    /// than --allow-private: a redirect to any other private or link-local address stays
    /// blocked.
    #[arg(long, value_name = "CIDR", value_parser = parse_network)]
    pub allow_network: Vec<ipnet::IpNet>,

    /// Rows per output part file; a new part starts after this many.
    #[arg(long, value_name = "N", default_value_t = 250_000)]
    pub part_rows: usize,

    /// Distinct names remembered for de-duplication (19 to 39 bytes each, up to 58 while the
    /// table grows). Past it, names are still scanned but repeats are no longer caught.
    #[arg(long, value_name = "N", default_value_t = 20_000_000)]
    pub dedup_capacity: usize,

    /// Progress bar on standard error even when it is not a terminal (`always`), or never.
    #[arg(long, value_enum, default_value_t = ProgressMode::Auto)]
    pub progress: ProgressMode,

    #[command(flatten)]
    pub scoring: ScoringArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Parquet,
    Jsonl,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProgressMode {
    Auto,
    Always,
    Never,
}

/// Parses a CIDR network or a single address.
pub fn parse_network(text: &str) -> Result<ipnet::IpNet, String> {
    let text = text.trim();
    text.parse::<ipnet::IpNet>()
        .map(|network| network.trunc())
        .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("invalid network {text:?}: expected CIDR such as 127.0.0.0/8"))
}

/// Parses `500ms`, `5s`, `2m` or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(index) => text.split_at(index),
        None => (text, "s"),
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("invalid duration {text:?}: expected e.g. 500ms, 5s or 2m"))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        _ => return Err(format!("invalid duration unit in {text:?}: use ms, s or m")),
    };
    // One millisecond to one day: outside that, a value is a typing error.
    if !(0.001..=86_400.0).contains(&seconds) {
        return Err(format!(
            "invalid duration {text:?}: must be from 1ms to 24h"
        ));
    }
    Ok(std::time::Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn duration_units() {
        assert_eq!(
            parse_network("127.0.0.0/8"),
            Ok("127.0.0.0/8".parse().unwrap())
        );
        assert_eq!(
            parse_network("127.1.2.3/8"),
            Ok("127.0.0.0/8".parse().unwrap())
        );
        assert_eq!(parse_network("::1"), Ok("::1/128".parse().unwrap()));
        assert!(parse_network("localhost").is_err());
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
    }

    #[test]
    fn duration_rejects_zero_and_junk() {
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("0.0000000001").is_err());
        assert!(parse_duration("99999999999999999999").is_err());
        assert!(parse_duration("fast").is_err());
        assert!(parse_duration("5h").is_err());
    }
}
