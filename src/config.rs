//! The validated configuration of a scan, built from the command-line flags.

use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use crate::check::CheckSet;
use crate::check::address::ExcludeList;
use crate::check::dns::{DnsSettings, MAX_IN_FLIGHT, parse_resolver};
use crate::check::email::records::{DKIM_SELECTORS, parse_selectors};
use crate::cli::{Format, ProgressMode, ScanArgs};

/// Tries of a DNS query that times out, the first included.
const DNS_ATTEMPTS: u32 = 3;

pub struct ScanConfig {
    pub input: PathBuf,
    pub output: PathBuf,
    pub format: Format,
    pub column: Option<String>,
    pub limit: Option<u64>,
    pub checks: CheckSet,
    pub dkim_selectors: Vec<String>,
    pub concurrency: usize,
    pub rate: NonZeroU32,
    pub dns: DnsSettings,
    pub per_address: NonZeroU32,
    pub timeout: Duration,
    pub deadline: Duration,
    pub extra_roots: Vec<CertificateDer<'static>>,
    pub exclude: ExcludeList,
    pub user_agent: String,
    pub allow_private: bool,
    pub allow_networks: Vec<ipnet::IpNet>,
    pub part_rows: usize,
    pub dedup_capacity: usize,
    pub progress: ProgressMode,
    pub quiet: bool,
    pub scoring: crate::score::Scoring,
    pub resume: bool,
    /// SHA-256 of the `--exclude` files' contents, in order, so that a resume can check
    /// that they did not change.
    pub exclude_sha256: Option<String>,
    /// SHA-256 of the `--ca-file` contents.
    pub ca_file_sha256: Option<String>,
    /// SHA-256 of the DKIM selector list, for an email scan whose list is not the built-in one.
    pub dkim_selectors_sha256: Option<String>,
}

/// Returns the SHA-256 of `bytes` in lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, bytes).as_ref())
}

/// Formats bytes as lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn positive(value: u32, flag: &str) -> anyhow::Result<NonZeroU32> {
    NonZeroU32::new(value).with_context(|| format!("{flag} must be at least 1"))
}

impl ScanConfig {
    pub fn from_args(args: ScanArgs, quiet: bool) -> anyhow::Result<Self> {
        let checks = match &args.checks {
            Some(names) => CheckSet::parse(names).map_err(anyhow::Error::msg)?,
            None => CheckSet::all(),
        };

        let resolvers = args
            .resolver
            .iter()
            .map(|text| parse_resolver(text))
            .collect::<Result<Vec<_>, _>>()
            .map_err(anyhow::Error::msg)?;

        let mut extra_roots = Vec::new();
        let mut ca_file_sha256 = None;
        if let Some(path) = &args.ca_file {
            let bytes = std::fs::read(path)
                .with_context(|| format!("cannot read --ca-file {}", path.display()))?;
            ca_file_sha256 = Some(sha256_hex(&bytes));
            for certificate in CertificateDer::pem_file_iter(path)
                .with_context(|| format!("cannot read --ca-file {}", path.display()))?
            {
                let certificate = certificate
                    .with_context(|| format!("invalid PEM certificate in {}", path.display()))?;
                extra_roots.push(certificate);
            }
            if extra_roots.is_empty() {
                bail!("--ca-file {} contains no PEM certificate", path.display());
            }
        }

        let mut builtin_selectors = Vec::new();
        parse_selectors(DKIM_SELECTORS, &mut builtin_selectors)
            .expect("the built-in selector list is valid (tested in records.rs)");
        let mut dkim_selectors = Vec::new();
        if !args.no_builtin_selectors {
            dkim_selectors.clone_from(&builtin_selectors);
        }
        if let Some(path) = &args.dkim_selectors {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read --dkim-selectors file {}", path.display()))?;
            parse_selectors(&text, &mut dkim_selectors).map_err(|error| {
                anyhow!(
                    "--dkim-selectors {}: {error}. Fix or remove that line",
                    path.display()
                )
            })?;
        }
        // The selectors decide which keys a row lists, so a resume of an email scan must query
        // the same ones. The built-in list alone has no digest, which keeps older checkpoints
        // resumable.
        let dkim_selectors_sha256 = (checks.email && dkim_selectors != builtin_selectors)
            .then(|| sha256_hex(dkim_selectors.join("\n").as_bytes()));

        let mut exclude = ExcludeList::default();
        let mut exclude_digest = ring::digest::Context::new(&ring::digest::SHA256);
        for path in &args.exclude {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read --exclude file {}", path.display()))?;
            // Each file's length goes first, so that moving a line between files changes it.
            exclude_digest.update(&(text.len() as u64).to_le_bytes());
            exclude_digest.update(text.as_bytes());
            exclude
                .add_text(&text, &path.display().to_string())
                .map_err(anyhow::Error::msg)?;
        }

        let version = env!("CARGO_PKG_VERSION");
        let user_agent = match &args.contact {
            Some(contact) => format!("{}/{version} (+{contact})", args.user_agent),
            None => format!("{}/{version}", args.user_agent),
        };
        if !user_agent.bytes().all(|b| (0x20..0x7f).contains(&b)) {
            bail!("--user-agent and --contact must be printable ASCII");
        }

        Ok(Self {
            input: args.input,
            output: args.output,
            format: args.format,
            column: args.column,
            limit: args.limit,
            checks,
            dkim_selectors,
            concurrency: args.concurrency as usize,
            rate: positive(args.rate, "--rate")?,
            dns: DnsSettings {
                resolvers,
                timeout: args.timeout,
                queries_per_second: positive(args.dns_qps, "--dns-qps")?,
                attempts: DNS_ATTEMPTS,
                max_in_flight: MAX_IN_FLIGHT,
            },
            per_address: positive(args.per_address, "--per-address")?,
            timeout: args.timeout,
            deadline: args.deadline,
            extra_roots,
            exclude,
            user_agent,
            allow_private: args.allow_private,
            allow_networks: args.allow_network,
            part_rows: args.part_rows,
            dedup_capacity: args.dedup_capacity,
            progress: args.progress,
            quiet,
            resume: args.resume,
            exclude_sha256: (!args.exclude.is_empty())
                .then(|| hex(exclude_digest.finish().as_ref())),
            ca_file_sha256,
            dkim_selectors_sha256,
            scoring: crate::score::commands::scoring(&args.scoring)?,
        })
    }
}
