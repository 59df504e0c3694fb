//! The `redis-cache-exporter` binary: reads the configuration, starts one poller per target and
//! serves HTTP until SIGTERM or Ctrl-C.

use std::io::IsTerminal;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use tokio::time::Instant;
use tracing::{error, info};

use redis_cache_exporter::config::{Cli, Config, LogFormat};
use redis_cache_exporter::http::{ExporterCollector, app};
use redis_cache_exporter::poller::{self, PollerSettings};
use redis_cache_exporter::state::{Shared, TargetMeta};

/// A target's value series disappear after this many missed polls.
const STALE_AFTER_POLLS: u32 = 3;

/// How long in-flight HTTP responses get after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(4);

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let config = match cli.load() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("redis-cache-exporter: invalid configuration: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    if cli.check_config {
        println!(
            "configuration valid: {} target(s), listening on {}",
            config.targets.len(),
            config.listen
        );
        return std::process::ExitCode::SUCCESS;
    }
    init_logging(&config);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            error!(error = %e, "Cannot start the async runtime.");
            return std::process::ExitCode::from(1);
        }
    };
    match runtime.block_on(serve(config)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            error!(error = format!("{e:#}"), "Exiting.");
            std::process::ExitCode::from(1)
        }
    }
}

fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log_level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match config.log_format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let origin = Instant::now();
    let shared = Shared::new();
    let mut pollers = tokio::task::JoinSet::new();
    for t in &config.targets {
        shared.add(TargetMeta {
            name: t.name.clone(),
            labels: t.labels.clone(),
            cache: t.cache,
            stale_after: t.poll_interval * STALE_AFTER_POLLS + t.timeout,
        });
        let settings = PollerSettings {
            name: t.name.clone(),
            redacted_url: t.redacted_url(),
            connection: t.connection.clone(),
            interval: t.poll_interval,
            timeout: t.timeout,
            config_command: t.config_command.clone(),
        };
        pollers.spawn(poller::run(settings, shared.clone(), origin));
    }
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    info!(
        listen = %config.listen,
        targets = config.targets.len(),
        version = env!("CARGO_PKG_VERSION"),
        "Serving /metrics."
    );
    let router = app(ExporterCollector::new(shared, origin));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let server = axum::serve(listener, router).with_graceful_shutdown(async move {
        let mut rx = stop_rx;
        let _ = rx.wait_for(|s| *s).await;
    });
    let mut server = std::pin::pin!(server.into_future());
    tokio::select! {
        r = &mut server => r.context("HTTP server failed")?,
        signal = shutdown_signal() => {
            info!(signal, "Shutting down.");
            pollers.abort_all();
            let _ = stop_tx.send(true);
            if tokio::time::timeout(SHUTDOWN_GRACE, &mut server).await.is_err() {
                info!("In-flight requests did not finish in time; exiting anyway.");
            }
        }
    }
    Ok(())
}

/// Resolves on SIGTERM or Ctrl-C (SIGINT), naming which.
async fn shutdown_signal() -> &'static str {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => tokio::select! {
                _ = ctrl_c => "SIGINT",
                _ = term.recv() => "SIGTERM",
            },
            Err(_) => {
                ctrl_c.await;
                "SIGINT"
            }
        }
    }
    #[cfg(not(unix))]
    {
        ctrl_c.await;
        "SIGINT"
    }
}
