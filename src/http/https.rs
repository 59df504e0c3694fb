//! HTTPS on our own listener (`[web]` `tls_*`): a hand-rolled accept loop ([`serve_tls`]) over
//! `tokio-rustls` (ring provider) serving the axum router through `hyper-util`, HTTP/1.1 and
//! HTTP/2 by ALPN. The certificate, key and client CA files are stat-ed at every new
//! connection; when a modification time changed they are read again ([`TlsReloader`]), so
//! rotated certificates (cert-manager, Vault agent) are served without a restart. A set of
//! files that does not load (say the certificate was replaced but not yet its key) is logged
//! once and the previous certificate keeps serving.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tracing::{debug, info, warn};

use crate::config::web::{WebTls, WebTlsError};

/// Time a client gets to complete the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The listener's TLS acceptor, rebuilt when the files change.
pub(crate) struct TlsReloader {
    state: Mutex<Loaded>,
}

struct Loaded {
    files: WebTls,
    /// Modification times when last tried (loaded or failed), so a bad set is reported once.
    stamp: Vec<Option<SystemTime>>,
    acceptor: TlsAcceptor,
}

impl TlsReloader {
    /// Loads `files` now; the error names the `[web]` key at fault.
    pub(crate) fn new(files: WebTls) -> Result<TlsReloader, WebTlsError> {
        let stamp = files.stamp();
        let acceptor = TlsAcceptor::from(Arc::new(files.server_config()?));
        Ok(TlsReloader {
            state: Mutex::new(Loaded {
                files,
                stamp,
                acceptor,
            }),
        })
    }

    /// Uses other files from now on (a configuration reload); on error the current ones stay.
    pub(crate) fn set_files(&self, files: WebTls) -> Result<(), WebTlsError> {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if state.files == files {
            return Ok(());
        }
        let stamp = files.stamp();
        state.acceptor = TlsAcceptor::from(Arc::new(files.server_config()?));
        state.files = files;
        state.stamp = stamp;
        Ok(())
    }

    /// The acceptor for a new connection, after re-reading the files if they changed.
    pub(crate) fn acceptor(&self) -> TlsAcceptor {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let stamp = state.files.stamp();
        if stamp != state.stamp {
            state.stamp = stamp;
            match state.files.server_config() {
                Ok(config) => {
                    state.acceptor = TlsAcceptor::from(Arc::new(config));
                    info!(
                        cert_file = %state.files.cert_file.display(),
                        "Listener certificate files changed; reloaded them."
                    );
                }
                Err(e) => warn!(
                    error = %e,
                    "Listener certificate files changed but cannot be used; the previous \
                     certificate keeps serving."
                ),
            }
        }
        state.acceptor.clone()
    }
}

/// Serves `router` over HTTPS on `listener` until `stop` turns true, then lets open
/// connections finish their requests (the caller bounds how long).
pub(crate) async fn serve_tls(
    listener: TcpListener,
    router: Router,
    tls: Arc<TlsReloader>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> std::io::Result<()> {
    let graceful = GracefulShutdown::new();
    let builder = auto::Builder::new(TokioExecutor::new());
    loop {
        let (tcp, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors and the like: pause rather than spin.
                    warn!(error = %e, "Accepting a connection failed.");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = stopped(&mut stop) => break,
        };
        // Responses go out as soon as they are written (a streamed /metrics ends with a small
        // piece that Nagle's algorithm would hold back for the peer's delayed ACK).
        let _ = tcp.set_nodelay(true);
        let acceptor = tls.acceptor();
        let service = TowerToHyperService::new(router.clone());
        let builder = builder.clone();
        let watcher = graceful.watcher();
        let mut stop = stop.clone();
        tokio::spawn(async move {
            let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp));
            let stream = tokio::select! {
                r = handshake => match r {
                    Ok(Ok(s)) => s,
                    Ok(Err(e)) => {
                        debug!(peer = %peer, error = %e, "TLS handshake failed.");
                        return;
                    }
                    Err(_) => {
                        debug!(peer = %peer, "TLS handshake timed out.");
                        return;
                    }
                },
                () = stopped(&mut stop) => return,
            };
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            if let Err(e) = watcher.watch(conn.into_owned()).await {
                debug!(peer = %peer, error = %e, "HTTPS connection ended with an error.");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// Resolves once `stop` is true (or its sender is gone).
async fn stopped(stop: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}
