use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use posture::check::dns::{DnsClient, DnsSettings, MAX_IN_FLIGHT, parse_resolver};
use posture::check::email::evaluate::evaluate;
use posture::check::email::render::render;
use posture::cli::{Cli, Command, ParseArgs, SpfCommand, SpfEvaluateArgs};
use posture::config::ScanConfig;
use posture::pipeline::{self, Ending};
use posture::score::commands;

fn main() -> ExitCode {
    tune_allocator();
    let cli = Cli::parse();
    init_logging(cli.verbose, cli.quiet);

    let result = match cli.command {
        Command::Scan(args) => ScanConfig::from_args(args, cli.quiet).and_then(|config| {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            runtime.block_on(pipeline::run(config))
        }),
        Command::Parse(args) => return parse_record(&args),
        Command::Rescore(args) => commands::rescore(&args).map(|()| Ending::Complete),
        Command::Diff(args) => commands::diff(&args).map(|()| Ending::Complete),
        Command::Report(args) => commands::report(&args).map(|()| Ending::Complete),
        Command::Check(args) => commands::check(&args, cli.verbose).map(|()| Ending::Complete),
        Command::Spf(SpfCommand::Evaluate(args)) => return evaluate_spf(&args),
    };
    match result {
        Ok(Ending::Complete) => ExitCode::SUCCESS,
        Ok(Ending::Interrupted) => ExitCode::from(130),
        // An input or output error is returned as an error, so these do not occur here.
        Ok(Ending::InputError | Ending::OutputError) => ExitCode::from(1),
        Err(error) => {
            eprintln!("posture: error: {error:#}");
            ExitCode::from(1)
        }
    }
}

/// Prints one parsed record as JSON: exit code 0 when it is valid, 1 when it has errors.
fn parse_record(args: &ParseArgs) -> ExitCode {
    let text = if args.text == "-" {
        let mut text = String::new();
        if let Err(error) = std::io::Read::read_to_string(&mut std::io::stdin(), &mut text) {
            eprintln!("posture: error: cannot read standard input: {error}");
            return ExitCode::from(1);
        }
        text
    } else {
        args.text.clone()
    };
    let rendered = render(args.kind, &text, args.origin.as_deref());
    match serde_json::to_string_pretty(&rendered) {
        Ok(json) => println!("{json}"),
        Err(error) => {
            eprintln!("posture: error: cannot write JSON: {error}");
            return ExitCode::from(1);
        }
    }
    if rendered.valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// Prints one SPF evaluation as JSON: exit code 0 whatever the result, 1 when the resolver
/// cannot be set up.
fn evaluate_spf(args: &SpfEvaluateArgs) -> ExitCode {
    let run = || -> anyhow::Result<String> {
        let resolvers = args
            .resolver
            .iter()
            .map(|text| parse_resolver(text))
            .collect::<Result<Vec<_>, _>>()
            .map_err(anyhow::Error::msg)?;
        let settings = DnsSettings {
            resolvers,
            timeout: args.timeout,
            queries_per_second: std::num::NonZeroU32::new(100).expect("100 is not zero"),
            attempts: 2,
            max_in_flight: MAX_IN_FLIGHT,
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let report = runtime.block_on(async {
            let dns = DnsClient::new(&settings)?;
            anyhow::Ok(evaluate(&dns, args.ip, &args.sender, args.helo.as_deref()).await)
        })?;
        Ok(serde_json::to_string_pretty(&report)?)
    };
    match run() {
        Ok(json) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("posture: error: {error:#}");
            ExitCode::from(1)
        }
    }
}

/// The allocator of the Rust code: jemalloc.
///
/// With glibc's allocator, the resident size jumped by 13 to 17 MiB when rows began to arrive
/// faster, while heaptrack showed no more live heap: glibc kept the freed memory. With
/// jemalloc, a 1,000,000-line scan peaked 9.7 MiB above a 10,000-line one (docs/benchmarks.md).
#[cfg(all(target_os = "linux", not(target_env = "musl")))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Options that jemalloc reads before its first allocation. The crate prefixes jemalloc's
/// symbols, hence the name, and `_RJEM_MALLOC_CONF` in the environment overrides them.
///
/// - One arena, and unused pages returned to the system after 1 s, at once rather than first
///   kept as reusable (muzzy). With jemalloc's defaults (four arenas per core, 10 s), a
///   10,000-line scan peaked 13 MiB higher.
#[cfg(all(target_os = "linux", not(target_env = "musl")))]
#[unsafe(export_name = "_rjem_malloc_conf")]
#[allow(non_upper_case_globals)]
pub static malloc_conf: &[u8; 47] = b"narenas:1,dirty_decay_ms:1000,muzzy_decay_ms:0\0";

/// Tunes glibc's allocator, which still serves what C code allocates, such as zstd's
/// contexts (about 96 KB for each of the ~300 columns of a row group).
///
/// - A fixed mmap threshold: glibc otherwise raises it as large blocks are freed, and freed
///   blocks then stay in the heap. Blocks of 128 KiB and more are mapped on their own and
///   returned to the system when freed.
/// - One arena: with one per thread, each thread kept freed memory that the others could not
///   reuse.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn tune_allocator() {
    // SAFETY: mallopt only changes allocator parameters; it is called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn tune_allocator() {}

/// Logs to standard error: warnings by default, more with -v, errors only with -q.
/// `RUST_LOG` overrides the level.
fn init_logging(verbose: u8, quiet: bool) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        (false, _) => "trace",
    };
    // hickory logs each stale UDP response at warn, which a busy scan produces routinely.
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("posture={level},hickory_net=error,warn")));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}
