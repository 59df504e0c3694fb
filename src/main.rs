//! The `redis-cache-exporter` binary: reads the configuration, starts one poller per target and
//! serves HTTP until SIGTERM or Ctrl-C. SIGHUP and `POST /-/reload` re-read the configuration.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use clap::Parser;
use tokio::time::Instant;
use tracing::{error, info, warn};

use redis_cache_exporter::config::{Cli, Command, Config, LogFormat};
use redis_cache_exporter::http::{ExporterCollector, ReloadRequest, app, reload_routes};
use redis_cache_exporter::state::Shared;
use redis_cache_exporter::supervisor::Supervisor;

/// How long in-flight HTTP responses get after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(4);

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Check(args)) = &cli.command {
        return std::process::ExitCode::from(redis_cache_exporter::check::main(args));
    }
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
    match runtime.block_on(serve(cli, config)) {
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

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

async fn serve(cli: Cli, config: Config) -> anyhow::Result<()> {
    let origin = Instant::now();
    let shared = Shared::new();
    let mut supervisor = Supervisor::new(shared.clone(), origin);
    supervisor.apply(&config).await;
    shared.set_reload(true, unix_now());

    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    info!(
        listen = %config.listen,
        targets = config.targets.len(),
        version = env!("CARGO_PKG_VERSION"),
        "Serving /metrics."
    );
    let (reload_tx, mut reload_rx) = tokio::sync::mpsc::channel::<ReloadRequest>(4);
    let router =
        app(ExporterCollector::new(shared.clone(), origin)).merge(reload_routes(reload_tx));
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let server = axum::serve(listener, router).with_graceful_shutdown(async move {
        let _ = stop_rx.wait_for(|s| *s).await;
    });
    let mut server = std::pin::pin!(server.into_future());
    let mut hangup = hangup_signal();
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            r = &mut server => return r.context("HTTP server failed"),
            signal = &mut shutdown => {
                info!(signal, "Shutting down.");
                supervisor.stop_all();
                let _ = stop_tx.send(true);
                if tokio::time::timeout(SHUTDOWN_GRACE, &mut server).await.is_err() {
                    info!("In-flight requests did not finish in time; exiting anyway.");
                }
                return Ok(());
            }
            Some(()) = hangup.recv() => {
                let _ = reload(&cli, config.listen, &mut supervisor, &shared).await;
            }
            Some(reply) = reload_rx.recv() => {
                let result = reload(&cli, config.listen, &mut supervisor, &shared).await;
                let _ = reply.send(result);
            }
        }
    }
}

/// Re-reads the configuration and applies it by difference; on error the old one keeps running.
async fn reload(
    cli: &Cli,
    listen: SocketAddr,
    supervisor: &mut Supervisor,
    shared: &Shared,
) -> Result<String, String> {
    match cli.load() {
        Ok(new) => {
            if new.listen != listen {
                warn!(listen = %listen, requested = %new.listen, "The listen address cannot change on reload; restart to apply it.");
            }
            let changes = supervisor.apply(&new).await;
            shared.set_reload(true, unix_now());
            let summary = format!(
                "configuration reloaded: {} added, {} removed, {} restarted, {} unchanged",
                changes.added.len(),
                changes.removed.len(),
                changes.restarted.len(),
                changes.unchanged
            );
            info!("{summary}");
            Ok(summary)
        }
        Err(e) => {
            shared.set_reload(false, unix_now());
            error!(error = %e, "Configuration reload refused; the previous configuration keeps running.");
            Err(format!("configuration reload refused: {e}"))
        }
    }
}

/// A stream of SIGHUPs (never yields where signals are unavailable).
fn hangup_signal() -> tokio::sync::mpsc::Receiver<()> {
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut hup) = signal(SignalKind::hangup()) {
            tokio::spawn(async move {
                while hup.recv().await.is_some() {
                    if tx.send(()).await.is_err() {
                        break;
                    }
                }
            });
        }
    }
    #[cfg(not(unix))]
    drop(tx);
    rx
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
