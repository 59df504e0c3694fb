//! The poller: one task per target that keeps one connection open, sends `INFO` (and
//! `CONFIG GET maxmemory*` when needed) once per interval, and records the outcome.
//!
//! IO shell around the pure core: it fetches INFO as a raw string, hands it to [`crate::core::info`],
//! feeds the sample to the target's [`History`], and stores the result with one call to
//! [`Shared::record`]. /metrics never waits for it.
//!
//! Timing: the first poll is delayed by a per-target offset (a hash of the name) so a fleet does
//! not poll in bursts; missed ticks are skipped, never bunched. Every Redis call is bounded by
//! the configured timeout. A lost connection is re-established with capped exponential backoff.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::{Instant, MissedTickBehavior};
use tracing::{debug, info, warn};

use super::gate::LookupGate;
use super::schedule::{backoff, start_offset};
use crate::client::call::{PollError, classify, config_pairs, reply_text, timeout_error};
use crate::client::conn::{Conn, Connector};
use crate::core::derive::History;
use crate::core::error_kind::ErrorKind;
use crate::core::info::Sample;
use crate::core::sampler::Lookups;
use crate::state::{Outcome, Shared};

/// What one poller needs to know about its target.
#[derive(Clone)]
pub struct PollerSettings {
    pub name: String,
    /// Shown in logs; never contains the password.
    pub redacted_url: String,
    pub connection: crate::config::ConnectionInfo,
    pub interval: Duration,
    pub timeout: Duration,
    /// `Some("CONFIG")` normally; a renamed command; `None` never to send CONFIG.
    pub config_command: Option<String>,
    /// TLS files of a `rediss://` target (re-read when they change, at the next connect).
    pub tls: Option<crate::config::tls::TlsFiles>,
    /// The target's sampler gate, when a key-prefix sampler runs: held around INFO so the
    /// sampler's own keyspace lookups can be taken out of the hit ratio exactly.
    pub lookup_gate: Option<Arc<LookupGate>>,
}

/// The INFO sections the exporter reads, asked for by name where the server allows several
/// sections in one call (Redis 7+), which skips the costly ones (latencystats, errorstats).
const INFO_SECTIONS: [&str; 7] = [
    "server",
    "clients",
    "memory",
    "stats",
    "replication",
    "commandstats",
    "keyspace",
];

/// How INFO is asked for; falls back once if the server refuses several sections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InfoMode {
    Sections,
    All,
}

/// Fills maxmemory and the policy from CONFIG where INFO did not report them.
fn merge_config(s: &mut Sample, config: &[(String, String)]) {
    for (k, v) in config {
        match k.as_str() {
            "maxmemory" if s.maxmemory.is_none() => s.maxmemory = v.parse().ok(),
            "maxmemory-policy" if s.maxmemory_policy.is_none() => {
                s.maxmemory_policy = Some(v.clone())
            }
            _ => {}
        }
    }
}

/// One target's poll loop state.
struct Poller {
    settings: PollerSettings,
    shared: Shared,
    origin: Instant,
    client: Option<Connector>,
    factory: crate::client::tls::ClientFactory,
    /// The open connection, owned by this task: one command at a time.
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
    info_mode: InfoMode,
    /// CONFIG was refused (renamed, blocked by ACL or a managed service): never sent again.
    config_refused: bool,
    /// CONFIG GET values from the current connection.
    config: Vec<(String, String)>,
    config_fresh: bool,
    history: History,
    /// The sampler's lookups as of the last INFO (see [`PollerSettings::lookup_gate`]).
    own_lookups: Option<Lookups>,
}

/// Runs the poll loop of one target until the task is aborted.
///
/// Not an `async fn`: the poller is built here, so the spawned task holds one copy of it and
/// its ticker, not the arguments as well.
pub fn run(
    settings: PollerSettings,
    shared: Shared,
    origin: Instant,
) -> impl Future<Output = ()> + Send {
    let offset = start_offset(&settings.name, settings.interval);
    Poller::new(settings, shared, origin).run(Instant::now() + offset)
}

/// Like [`run`], with the first poll at once (an on-demand target's first scrape waits for it).
pub fn run_now(
    settings: PollerSettings,
    shared: Shared,
    origin: Instant,
) -> impl Future<Output = ()> + Send {
    Poller::new(settings, shared, origin).run(Instant::now())
}

impl Poller {
    fn new(settings: PollerSettings, shared: Shared, origin: Instant) -> Poller {
        // No `CLIENT SETINFO` on connect: the exporter sends only what it reads (and what a
        // least-privilege ACL user allows).
        let connection = settings.connection.clone().set_redis_settings(
            settings
                .connection
                .redis_settings()
                .clone()
                .set_skip_set_lib_name(),
        );
        let mut factory = crate::client::tls::ClientFactory::new(connection, settings.tls.clone());
        let client = factory.connector();
        let mut p = Poller {
            factory,
            history: History::new(settings.interval / 2),
            own_lookups: None,
            client: None,
            conn: None,
            failures: 0,
            attempts: 0,
            backoff_kind: ErrorKind::Connect,
            next_connect: Instant::now(),
            info_mode: InfoMode::Sections,
            config_refused: settings.config_command.is_none(),
            config: Vec::new(),
            config_fresh: false,
            settings,
            shared,
            origin,
        };
        match client {
            Ok(c) => p.client = Some(c),
            Err(e) => {
                warn!(target_name = %p.settings.name, error = %e, "Target URL or TLS files not usable.")
            }
        }
        p
    }

    /// The poll loop. An `async move` block rather than an `async fn`: an `async fn` would
    /// keep its `self` argument and the body's copy of it side by side in the task.
    fn run(mut self, first: Instant) -> impl Future<Output = ()> + Send {
        let mut ticker = tokio::time::interval_at(first, self.settings.interval);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
        async move {
            loop {
                ticker.tick().await;
                // Boxed: a poll's future (connect with TLS, INFO, CONFIG, their timeouts) is
                // several KB and exists only while the poll runs; inline, every idle poller
                // task would carry it.
                Box::pin(self.poll_once()).await;
            }
        }
    }
}

impl Poller {
    async fn poll_once(&mut self) {
        let started = Instant::now();
        let result = self.fetch().await;
        let duration = started.elapsed();
        let at = Instant::now().duration_since(self.origin);
        let unix_now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        let name = &self.settings.name;
        let (outcome, error) = match result {
            Ok(sample) => {
                let derived = self
                    .history
                    .observe_excluding(at, &sample, self.own_lookups);
                if derived.reset {
                    info!(target_name = %name, "Counter reset detected (restart or CONFIG RESETSTAT).");
                }
                let outcome = Outcome::Success {
                    sample: Arc::new(sample),
                    derived: Arc::new(derived),
                };
                (outcome, None)
            }
            Err(e) => (Outcome::Failure(e.kind), Some(e)),
        };
        let changed = self.shared.record(name, outcome, duration, at, unix_now);
        match (error, changed) {
            (None, Some(true)) => {
                info!(target_name = %name, url = %self.settings.redacted_url, "Target up.")
            }
            (Some(e), Some(true)) => {
                warn!(target_name = %name, url = %self.settings.redacted_url, error = %e, "Target down.")
            }
            (Some(e), _) => debug!(target_name = %name, error = %e, "Poll failed."),
            _ => {}
        }
    }

    /// Connects if needed, then INFO (+ CONFIG when needed). Drops the connection on errors
    /// that leave it unusable.
    async fn fetch(&mut self) -> Result<Sample, PollError> {
        let result = self.fetch_inner().await;
        match &result {
            Ok(_) => {
                self.failures = 0;
                self.attempts = 0;
            }
            Err(e) => {
                self.failures += 1;
                if e.reconnect {
                    self.conn = None;
                    // A peer that accepts but then hangs or talks garbage gets the same backoff
                    // as one that refuses connections.
                    self.attempts += 1;
                    self.backoff_kind = e.kind;
                    self.next_connect =
                        Instant::now() + backoff(self.attempts, self.settings.interval);
                    if self.failures == 1 {
                        info!(target_name = %self.settings.name, error = %e, "Reconnecting.");
                    } else {
                        debug!(target_name = %self.settings.name, error = %e, "Reconnecting.");
                    }
                }
            }
        }
        result
    }

    /// Polls over the open connection (or a new one); keeps it unless the error says not to.
    async fn fetch_inner(&mut self) -> Result<Sample, PollError> {
        let mut conn = match self.conn.take() {
            Some(c) => c,
            None => self.connect().await?,
        };
        let result = self.fetch_on(&mut conn).await;
        conn.release();
        if !matches!(&result, Err(e) if e.reconnect) {
            self.conn = Some(conn);
        }
        result
    }

    async fn fetch_on(&mut self, conn: &mut Conn) -> Result<Sample, PollError> {
        let timeout = self.settings.timeout;
        let gate = self.settings.lookup_gate.clone();
        // A sampler batch in flight finishes first (one pipeline, bounded by the timeout); if
        // the gate is not free within the timeout, INFO goes ahead and the sampler's lookups
        // of this step are taken out at the next one.
        let lookups = match &gate {
            Some(g) => tokio::time::timeout(timeout, g.lock()).await.ok(),
            None => None,
        };
        let text = match self.info(conn, self.info_mode).await {
            Err(e)
                if self.info_mode == InfoMode::Sections
                    && e.kind == ErrorKind::Command
                    && e.message.contains("syntax") =>
            {
                // Servers before 7.0 accept one section only.
                debug!(target_name = %self.settings.name, "Server refuses several INFO sections; using INFO all.");
                self.info_mode = InfoMode::All;
                self.info(conn, InfoMode::All).await?
            }
            r => r?,
        };
        self.own_lookups = lookups.map(|l| *l);
        let mut sample = crate::core::info::parse(&text).map_err(|e| PollError {
            kind: ErrorKind::Protocol,
            message: e.to_string(),
            reconnect: true,
        })?;
        if !sample.skipped.is_empty() {
            debug!(target_name = %self.settings.name, fields = ?sample.skipped, "INFO fields with unparsable values skipped.");
        }
        let need_config =
            !self.config_fresh || sample.maxmemory.is_none() || sample.maxmemory_policy.is_none();
        if need_config && !self.config_refused {
            self.fetch_config(conn, timeout).await?;
        }
        merge_config(&mut sample, &self.config);
        Ok(sample)
    }

    async fn info(&self, conn: &mut Conn, mode: InfoMode) -> Result<String, PollError> {
        let mut args: Vec<&[u8]> = vec![b"INFO"];
        match mode {
            InfoMode::Sections => args.extend(INFO_SECTIONS.iter().map(|s| s.as_bytes())),
            InfoMode::All => args.push(b"all"),
        }
        let timeout = self.settings.timeout;
        let v = tokio::time::timeout(timeout, conn.call(&args))
            .await
            .map_err(|_| timeout_error("INFO", timeout))?
            .map_err(|e| classify(&e))?;
        reply_text(v)
    }

    async fn fetch_config(&mut self, conn: &mut Conn, timeout: Duration) -> Result<(), PollError> {
        let Some(command) = self.settings.config_command.clone() else {
            return Ok(());
        };
        let args: [&[u8]; 3] = [command.as_bytes(), b"GET", b"maxmemory*"];
        let reply = tokio::time::timeout(timeout, conn.call(&args))
            .await
            .map_err(|_| timeout_error("CONFIG GET", timeout))?;
        match reply {
            Ok(v) => {
                self.config = config_pairs(v);
                self.config_fresh = true;
            }
            Err(e) => {
                let pe = classify(&e);
                if pe.kind != ErrorKind::Command {
                    return Err(pe);
                }
                // Renamed, disabled or denied: INFO memory supplies maxmemory and the policy.
                info!(target_name = %self.settings.name, command = %command, error = %e, "CONFIG refused; using INFO memory only, not sending it again.");
                self.config_refused = true;
            }
        }
        Ok(())
    }

    /// A new connection when the backoff allows.
    async fn connect(&mut self) -> Result<Conn, PollError> {
        if self.factory.changed() {
            info!(target_name = %self.settings.name, "TLS files changed; using them from this connection on.");
            self.client = self
                .factory
                .connector()
                .inspect_err(|e| warn!(target_name = %self.settings.name, error = %e, "TLS files not usable."))
                .ok();
        }
        let Some(client) = &self.client else {
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
        let timeout = self.settings.timeout;
        // Connect, TLS, AUTH and SELECT together, within the timeout.
        let attempt = tokio::time::timeout(timeout, client.connect())
            .await
            .map_err(|_| timeout_error("connect", timeout))
            .and_then(|r| r.map_err(|e| classify(&e)));
        match attempt {
            Ok(c) => {
                self.config_fresh = false;
                debug!(target_name = %self.settings.name, "Connected.");
                Ok(c)
            }
            Err(mut e) => {
                self.attempts += 1;
                self.next_connect = Instant::now() + backoff(self.attempts, self.settings.interval);
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
}

#[cfg(test)]
mod tests {
    use redis::Value;

    use super::*;

    #[tokio::test]
    async fn an_idle_poller_task_holds_its_poller_and_ticker_only() {
        use redis::IntoConnectionInfo;
        let settings = PollerSettings {
            name: "t".into(),
            redacted_url: "redis://127.0.0.1:6379".into(),
            connection: "redis://127.0.0.1:6379".into_connection_info().unwrap(),
            interval: Duration::from_secs(15),
            timeout: Duration::from_secs(5),
            config_command: Some("CONFIG".into()),
            tls: None,
            lookup_gate: None,
        };
        let task = run(settings, Shared::new(), Instant::now());
        // Every configured target has one such task: 10 000 targets, 10 000 of these. A poll's
        // own future (several KB, with TLS) is boxed and lives only while the poll runs.
        let (task, poller) = (std::mem::size_of_val(&task), std::mem::size_of::<Poller>());
        eprintln!("poller task {task} bytes, poller {poller} bytes");
        assert!(
            task < poller + 256,
            "poller task {task} bytes, poller {poller} bytes"
        );
        assert!(task < 2048, "poller task {task} bytes");
    }

    #[test]
    fn config_reply_fills_only_what_info_lacks() {
        let v = Value::Array(vec![
            Value::BulkString(b"maxmemory".to_vec()),
            Value::BulkString(b"1048576".to_vec()),
            Value::BulkString(b"maxmemory-policy".to_vec()),
            Value::BulkString(b"allkeys-lru".to_vec()),
            Value::BulkString(b"maxmemory-samples".to_vec()),
        ]);
        let pairs = config_pairs(v);
        assert_eq!(pairs.len(), 2);
        let mut s = Sample {
            maxmemory: Some(7),
            ..Sample::default()
        };
        merge_config(&mut s, &pairs);
        assert_eq!(s.maxmemory, Some(7));
        assert_eq!(s.maxmemory_policy.as_deref(), Some("allkeys-lru"));
    }
}
