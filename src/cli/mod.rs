//! The command line: one binary for the broker, its operators' tools, the demo and the
//! sandboxes. Each subcommand lives in its own file.

mod bench;
mod bench_cluster;
pub mod bench_config;
mod bench_fit_connect;
mod bench_support;
mod bench_xoev;
mod bench_xta;
mod check;
mod demo;
mod keys;
mod mapping;
mod messages;
mod replay;
mod run;
mod samples;
mod sandbox;
mod xoev;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "amtsbote", version, about = "Integration broker: FIT-Connect / XTA 2 / HTTP in, validated and mapped, into Fachverfahren", long_about = None)]
pub struct Cli {
    /// Configuration file (its conf.d/ directory is read too). Without one, embedded defaults.
    #[arg(long, short, global = true, env = "AMTSBOTE_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the broker until SIGTERM/SIGINT.
    Run,
    /// Start a broker, a sample Fachverfahren and send sample applications through; prints
    /// what happened. Exits 0 only if every message was delivered. Uses its own temporary
    /// configuration (--config is ignored).
    Demo(demo::Args),
    /// Validate the configuration as a start would; non-zero exit with file, key and reason.
    Check,
    /// Look at messages in the ledger.
    #[command(subcommand)]
    Messages(messages::Command),
    /// Send dead or unrouted messages round again (re-routed with the current configuration).
    Replay(replay::Args),
    /// Measure throughput and latency beside a plain-SQLite baseline (see docs/BENCHMARKS.md).
    Bench(bench::Args),
    /// Look at an XÖV message by hand: header and schema validation.
    #[command(subcommand)]
    Xoev(xoev::Command),
    /// Declarative mappings (XÖV → the Fachverfahren's JSON).
    #[command(subcommand)]
    Mapping(mapping::Command),
    /// Keys: the payload encryption key, FIT-Connect destination key pairs.
    #[command(subcommand)]
    Keys(keys::Command),
    /// Local stand-ins for outside systems.
    #[command(subcommand)]
    Sandbox(sandbox::Command),
}

pub fn main() -> ExitCode {
    // Output piped into `head` and the like ends quietly, as command-line tools do.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // Failpoints named in `FAILPOINTS` (only in builds with the `failpoints` feature).
    #[cfg(feature = "failpoints")]
    let _failpoints = fail::FailScenario::setup();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let config = cli.config.as_deref();
    let result = runtime.block_on(async {
        match cli.command {
            Command::Run => run::run(config).await,
            Command::Demo(args) => demo::run(args).await,
            Command::Check => check::run(config),
            Command::Messages(cmd) => messages::run(config, cmd).await,
            Command::Replay(args) => replay::run(config, args).await,
            Command::Sandbox(cmd) => sandbox::run(cmd).await,
            Command::Bench(args) => bench::run(args).await,
            Command::Keys(cmd) => keys::run(cmd),
            Command::Mapping(cmd) => mapping::run(cmd),
            Command::Xoev(cmd) => xoev::run(config, cmd).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Loads the configuration for tools, printing every problem.
fn load_config(path: Option<&std::path::Path>) -> anyhow::Result<crate::config::Config> {
    crate::config::load(path)
        .map(|l| l.config)
        .map_err(crate::plan::invalid)
}
