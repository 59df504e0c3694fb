//! A poller's connection to its target and the backoff between connection attempts: the
//! connection is kept across polls, dropped when a call leaves it unusable, and made again no
//! sooner than the backoff allows. TLS files are checked for changes before each new
//! connection, so rotated certificates are used from the next one on.

use std::time::Duration;

use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::schedule::backoff;
use super::settings::PollerSettings;
use crate::client::call::{PollError, classify, timeout_error};
use crate::client::conn::{Conn, Connector};
use crate::client::tls::ClientFactory;
use crate::client::without_lib_name;
use crate::core::error_kind::ErrorKind;

/// The connection state of one poller.
pub(super) struct Link {
    factory: ClientFactory,
    connector: Option<Connector>,
    /// The open connection, owned by the poller: one command at a time.
    conn: Option<Conn>,
    /// Consecutive failed polls.
    failures: u32,
    /// Consecutive failed connection attempts and dropped connections (drives the reconnect
    /// backoff; polls skipped while backing off do not count).
    attempts: u32,
    /// The kind of the error that started the current backoff: polls skipped while backing off
    /// are counted under it (a hung server keeps reporting `timeout`, not `connect`).
    backoff_kind: ErrorKind,
    next_connect: Instant,
}

impl Link {
    pub(super) fn new(settings: &PollerSettings) -> Link {
        let connection = without_lib_name(&settings.connection);
        let mut factory = ClientFactory::new(connection, settings.tls.clone());
        let connector = factory
            .connector()
            .inspect_err(|e| {
                warn!(target_name = %settings.name, error = %e, "Target URL or TLS files not usable.")
            })
            .ok();
        Link {
            factory,
            connector,
            conn: None,
            failures: 0,
            attempts: 0,
            backoff_kind: ErrorKind::Connect,
            next_connect: Instant::now(),
        }
    }

    /// The open connection, or a new one when the backoff allows; `true` with a new one.
    pub(super) async fn open(
        &mut self,
        settings: &PollerSettings,
    ) -> Result<(Conn, bool), PollError> {
        if let Some(c) = self.conn.take() {
            return Ok((c, false));
        }
        let name = &settings.name;
        if self.factory.changed() {
            info!(target_name = %name, "TLS files changed; using them from this connection on.");
            self.connector = self
                .factory
                .connector()
                .inspect_err(|e| warn!(target_name = %name, error = %e, "TLS files not usable."))
                .ok();
        }
        let Some(connector) = &self.connector else {
            return Err(PollError {
                kind: ErrorKind::Connect,
                message: "target URL or TLS files not usable".into(),
                reconnect: false,
            });
        };
        let now = Instant::now();
        if now < self.next_connect {
            return Err(PollError {
                kind: self.backoff_kind,
                message: format!(
                    "backing off, next connect attempt in {}",
                    humantime::format_duration(Duration::from_millis(
                        (self.next_connect - now).as_millis() as u64
                    ))
                ),
                reconnect: false,
            });
        }
        let timeout = settings.timeout;
        // Connect, TLS, AUTH and SELECT together, within the timeout.
        let attempt = tokio::time::timeout(timeout, connector.connect())
            .await
            .map_err(|_| timeout_error("connect", timeout))
            .and_then(|r| r.map_err(|e| classify(&e)));
        match attempt {
            Ok(c) => {
                debug!(target_name = %name, "Connected.");
                Ok((c, true))
            }
            Err(mut e) => {
                self.attempts += 1;
                self.next_connect = Instant::now() + backoff(self.attempts, settings.interval);
                if e.kind == ErrorKind::Command {
                    // An error reply during the handshake is about credentials or permissions.
                    e.kind = ErrorKind::Auth;
                }
                self.backoff_kind = e.kind;
                e.reconnect = false;
                Err(e)
            }
        }
    }

    /// Keeps `conn` for the next poll unless `error` says it is unusable; its read buffer is
    /// released either way.
    pub(super) fn put_back(&mut self, mut conn: Conn, error: Option<&PollError>) {
        conn.release();
        if !error.is_some_and(|e| e.reconnect) {
            self.conn = Some(conn);
        }
    }

    /// Counts a poll's outcome; an error that dropped the connection starts (or extends) the
    /// backoff.
    pub(super) fn record(&mut self, error: Option<&PollError>, settings: &PollerSettings) {
        let Some(e) = error else {
            self.failures = 0;
            self.attempts = 0;
            return;
        };
        self.failures += 1;
        if !e.reconnect {
            return;
        }
        self.conn = None;
        // A peer that accepts but then hangs or talks garbage gets the same backoff as one
        // that refuses connections.
        self.attempts += 1;
        self.backoff_kind = e.kind;
        self.next_connect = Instant::now() + backoff(self.attempts, settings.interval);
        if self.failures == 1 {
            info!(target_name = %settings.name, error = %e, "Reconnecting.");
        } else {
            debug!(target_name = %settings.name, error = %e, "Reconnecting.");
        }
    }
}
