//! The `redis-cache-exporter` binary: the command line, then the `check` subcommand or the
//! exporter itself.

use std::process::ExitCode;

use clap::Parser;
use tracing::error;

use redis_cache_exporter::cli::{Cli, Command};
use redis_cache_exporter::{app, check, telemetry};

// jemalloc returns the pages a scrape or a replaced snapshot freed (measured at 10 000 targets:
// BENCHMARKS.md); its settings are in .cargo/config.toml.
#[cfg(feature = "jemalloc")]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Check(args)) = &cli.command {
        return ExitCode::from(check::main(args));
    }
    let config = match cli.load() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("redis-cache-exporter: invalid configuration: {e}");
            return ExitCode::from(1);
        }
    };
    if cli.check_config {
        let scrape_only = match (&config.scrape.allow, config.targets.is_empty()) {
            (Some(allow), true) => format!(" (/scrape only, {} allow pattern(s))", allow.len()),
            _ => String::new(),
        };
        println!(
            "configuration valid: {} target(s){scrape_only}, listening on {}",
            config.targets.len(),
            config.listen
        );
        return ExitCode::SUCCESS;
    }
    telemetry::init_logging(&config);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            error!(error = %e, "Cannot start the async runtime.");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(app::run(cli, config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!(error = format!("{e:#}"), "Exiting.");
            ExitCode::from(1)
        }
    }
}
