//! The running exporter: starts one poller per target and serves HTTP until SIGTERM or
//! Ctrl-C; SIGHUP and `POST /-/reload` re-read the configuration and apply it by difference.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use axum::serve::ListenerExt;
use tokio::time::Instant;
use tracing::{error, info, warn};

use crate::cli::Cli;
use crate::config::Config;
use crate::http::basic_auth::{self, BasicAuth};
use crate::http::https::{self, TlsReloader};
use crate::http::{ExporterCollector, ReloadRequest, app, reload_routes};
use crate::state::Shared;
use crate::targets::on_demand::Scraper;
use crate::targets::supervisor::Supervisor;

/// How long in-flight HTTP responses get after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(4);

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// A server future: the HTTP(S) listener serving until it is told to stop.
type Server = Pin<Box<dyn Future<Output = std::io::Result<()>> + Send>>;

/// Serves until a shutdown signal; an error when the listener cannot be opened or fails.
pub async fn run(cli: Cli, config: Config) -> anyhow::Result<()> {
    let origin = Instant::now();
    let shared = Shared::new();
    let mut supervisor = Supervisor::new(shared.clone(), origin);
    supervisor.apply(&config).await;
    let scraper = Scraper::start(&config, origin, shared.clone());
    shared.set_reload(true, unix_now());

    let security = ListenerSecurity::new(&config)?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    info!(
        listen = %config.listen,
        targets = config.targets.len(),
        scheme = if security.tls.is_some() { "https" } else { "http" },
        basic_auth = security.auth.enabled(),
        version = env!("CARGO_PKG_VERSION"),
        "Serving /metrics."
    );
    let (reload_tx, reload_rx) = tokio::sync::mpsc::channel::<ReloadRequest>(4);
    let router = app(ExporterCollector::new(shared.clone(), origin))
        .merge(reload_routes(reload_tx))
        .merge(crate::http::scrape::routes(scraper.clone()))
        .layer(axum::middleware::from_fn_with_state(
            security.auth.clone(),
            basic_auth::require_basic_auth,
        ));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let server = serve(listener, router, security.tls.clone(), stop_rx);
    let running = Running {
        cli,
        listen: config.listen,
        security,
        supervisor,
        shared,
        scraper,
    };
    // Every task has what it needs from the configuration: its targets' settings (megabytes
    // with 10 000 targets) are not kept for the exporter's lifetime.
    drop(config);
    running.until_shutdown(server, stop_tx, reload_rx).await
}

/// The listener serving `router`, over HTTPS with `tls`.
fn serve(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    tls: Option<Arc<TlsReloader>>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Server {
    match tls {
        Some(tls) => Box::pin(https::serve_tls(listener, router, tls, stop)),
        None => Box::pin(
            // Responses go out as soon as they are written (a streamed /metrics ends with a
            // small piece that Nagle's algorithm would hold back for the peer's delayed ACK).
            axum::serve(
                listener.tap_io(|tcp| {
                    let _ = tcp.set_nodelay(true);
                }),
                router,
            )
            .with_graceful_shutdown(async move {
                let _ = stop.wait_for(|s| *s).await;
            })
            .into_future(),
        ),
    }
}

/// What a running exporter holds between signals.
struct Running {
    cli: Cli,
    /// The listen address at start (it cannot change on reload). Not the whole configuration:
    /// the running tasks hold what they need, and 10 000 targets' settings are megabytes.
    listen: SocketAddr,
    security: ListenerSecurity,
    supervisor: Supervisor,
    shared: Shared,
    scraper: Scraper,
}

impl Running {
    /// Serves, reloads on SIGHUP and `POST /-/reload`, and stops on SIGTERM or Ctrl-C.
    async fn until_shutdown(
        mut self,
        mut server: Server,
        stop: tokio::sync::watch::Sender<bool>,
        mut reload_requests: tokio::sync::mpsc::Receiver<ReloadRequest>,
    ) -> anyhow::Result<()> {
        let mut hangup = hangup_signal();
        let shutdown = shutdown_signal();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                r = &mut server => return r.context("HTTP server failed"),
                signal = &mut shutdown => {
                    info!(signal, "Shutting down.");
                    self.supervisor.stop_all();
                    self.scraper.stop_all();
                    let _ = stop.send(true);
                    if tokio::time::timeout(SHUTDOWN_GRACE, &mut server).await.is_err() {
                        info!("In-flight requests did not finish in time; exiting anyway.");
                    }
                    return Ok(());
                }
                Some(()) = hangup.recv() => {
                    let _ = self.reload().await;
                }
                Some(reply) = reload_requests.recv() => {
                    let result = self.reload().await;
                    let _ = reply.send(result);
                }
            }
        }
    }

    /// Re-reads the configuration and applies it by difference; on error the old one keeps
    /// running.
    async fn reload(&mut self) -> Result<String, String> {
        let listen = self.listen;
        match self.cli.load() {
            Ok(new) => {
                if new.listen != listen {
                    warn!(
                        listen = %listen,
                        requested = %new.listen,
                        "The listen address cannot change on reload; restart to apply it.",
                    );
                }
                self.security.apply(&new);
                let changes = self.supervisor.apply(&new).await;
                self.scraper.apply(&new);
                self.shared.set_reload(true, unix_now());
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
                self.shared.set_reload(false, unix_now());
                error!(
                    error = %e,
                    "Configuration reload refused; the previous configuration keeps running.",
                );
                Err(format!("configuration reload refused: {e}"))
            }
        }
    }
}

/// What the listener's `[web]` settings became at start: a reload may change the users and the
/// certificate files, but not switch HTTPS on or off.
struct ListenerSecurity {
    tls: Option<Arc<TlsReloader>>,
    auth: BasicAuth,
}

impl ListenerSecurity {
    /// The `[web]` table at start; an error when the certificate files cannot be loaded.
    fn new(config: &Config) -> anyhow::Result<ListenerSecurity> {
        let tls = match &config.web.tls {
            Some(files) => Some(Arc::new(
                TlsReloader::new(files.clone()).map_err(anyhow::Error::msg)?,
            )),
            None => None,
        };
        Ok(ListenerSecurity {
            tls,
            auth: BasicAuth::new(&config.web.basic_auth_users),
        })
    }

    /// Applies the `[web]` table of a reloaded configuration.
    fn apply(&self, new: &Config) {
        self.auth.set_users(&new.web.basic_auth_users);
        match (&self.tls, &new.web.tls) {
            (Some(tls), Some(files)) => {
                if let Err(e) = tls.set_files(files.clone()) {
                    warn!(
                        error = %e,
                        "New listener certificate files cannot be used; the previous ones keep \
                         serving.",
                    );
                }
            }
            (None, None) => {}
            (Some(_), None) | (None, Some(_)) => {
                warn!("HTTPS cannot be switched on or off on reload; restart to apply it.");
            }
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
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                () = ctrl_c => "SIGINT",
                _ = term.recv() => "SIGTERM",
            }
        } else {
            ctrl_c.await;
            "SIGINT"
        }
    }
    #[cfg(not(unix))]
    {
        ctrl_c.await;
        "SIGINT"
    }
}
