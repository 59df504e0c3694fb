//! A poller's connection to its target and the backoff between connection attempts: the
//! connection is kept across polls, dropped when a call leaves it unusable, and made again no
//! sooner than the backoff allows. TLS files are checked for changes before each new
//! connection, so rotated certificates are used from the next one on.

use std::time::Duration;

use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::schedule::backoff;
use super::settings::PollerSettings;
use super::wire::Dial;
use crate::client::{CallError, CallKind};

/// The connection state of one poller.
pub(super) struct Link<D: Dial> {
    connector: D,
    /// The open connection, owned by the poller: one command at a time.
    conn: Option<D::Conn>,
    /// Consecutive failed polls.
    failures: u32,
    /// Consecutive failed connection attempts and dropped connections (drives the reconnect
    /// backoff; polls skipped while backing off do not count).
    attempts: u32,
    /// The kind of the error that started the current backoff: polls skipped while backing off
    /// are counted under it (a hung server keeps reporting `timeout`, not `connect`).
    backoff_kind: CallKind,
    next_connect: Instant,
}

impl<D: Dial> Link<D> {
    pub(super) fn new(connector: D, name: &str) -> Link<D> {
        if let Some(e) = connector.problem() {
            warn!(target_name = %name, error = %e, "Target URL or TLS files not usable.");
        }
        Link {
            connector,
            conn: None,
            failures: 0,
            attempts: 0,
            backoff_kind: CallKind::Connect,
            next_connect: Instant::now(),
        }
    }

    /// The open connection, or a new one when the backoff allows; `true` with a new one.
    pub(super) async fn open(
        &mut self,
        settings: &PollerSettings,
    ) -> Result<(D::Conn, bool), CallError> {
        if let Some(c) = self.conn.take() {
            return Ok((c, false));
        }
        let name = &settings.name;
        if self.connector.refresh() {
            info!(target_name = %name, "TLS files changed; using them from this connection on.");
            if let Some(e) = self.connector.problem() {
                warn!(target_name = %name, error = %e, "TLS files not usable.");
            }
        }
        if let Some(e) = self.connector.problem() {
            return Err(CallError {
                reconnect: false,
                ..e.clone()
            });
        }
        let now = Instant::now();
        if now < self.next_connect {
            return Err(CallError {
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
        // Connect, TLS, AUTH and SELECT together, within the timeout.
        match self.connector.connect().await {
            Ok(c) => {
                debug!(target_name = %name, "Connected.");
                Ok((c, true))
            }
            Err(mut e) => {
                self.attempts += 1;
                self.next_connect = Instant::now() + backoff(self.attempts, settings.interval);
                self.backoff_kind = e.kind;
                e.reconnect = false;
                Err(e)
            }
        }
    }

    /// Keeps `conn` for the next poll unless `error` says it is unusable; its read buffer is
    /// released either way.
    pub(super) fn put_back(&mut self, mut conn: D::Conn, error: Option<&CallError>) {
        super::wire::Wire::release(&mut conn);
        if !error.is_some_and(|e| e.reconnect) {
            self.conn = Some(conn);
        }
    }

    /// Counts a poll's outcome; an error that dropped the connection starts (or extends) the
    /// backoff.
    pub(super) fn record(&mut self, error: Option<&CallError>, settings: &PollerSettings) {
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
