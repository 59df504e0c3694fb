//! Miss attribution's task: one per target with `[targets.miss_attribution]` enabled, on its
//! own connection (one per node in a Cluster, since events are per node), started and stopped
//! with the target's poller.
//!
//! Each session: connect (TLS, ACL user, database as the poller does), read
//! `notify-keyspace-events` through the target's CONFIG command; with flags missing either add
//! them (`manage_notifications`, keeping every flag set) or say once which are missing, stay
//! inactive and look again a minute later; then subscribe and classify every event in the
//! pure [`Attribution`]. A lost connection (CLIENT KILL, the `pubsub` output buffer limit, a
//! restart, a failover) is counted and resubscribed with backoff; the events lost meanwhile
//! show as coverage below 1. Reading never touches the poller: the poller only takes the
//! totals under a short lock at each INFO.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::gate::LookupGate;
use super::schedule::backoff;
use crate::client::subscriber::{Subscriber, notify_flags, set_notify_flags};
use crate::client::{Conn, Connector, Endpoint};
use crate::config::miss_attribution::MissAttributionConfig;
use crate::core::attribution::{Attribution, missing_flags, with_flags};
use crate::core::ghost::{Ghost, Settings as GhostSettings};
use crate::state::Shared;

/// One target's attribution, shared by its task (writer) and its poller (reads the totals).
pub(crate) type SharedAttribution = Arc<Mutex<Attribution>>;

/// The shared attribution of `config`, empty.
pub(crate) fn new_state(config: &MissAttributionConfig) -> SharedAttribution {
    let p = &config.prefixes;
    Arc::new(Mutex::new(Attribution::new(
        config.remembered_keys,
        &p.separator,
        p.depth,
        &p.patterns,
        p.top_k,
    )))
}

/// Locks the state; a panic elsewhere leaves plain counters behind, still usable.
pub(crate) fn lock(state: &SharedAttribution) -> std::sync::MutexGuard<'_, Attribution> {
    state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// One target's memory-sizing model, fed by its attribution task, read by its poller.
pub(crate) type SharedGhost = Arc<Mutex<Ghost>>;

/// An empty model with the default budget.
pub(crate) fn new_ghost() -> SharedGhost {
    Arc::new(Mutex::new(Ghost::new(GhostSettings::default())))
}

/// Locks the model; after a panic elsewhere it is still a consistent list of hashes.
pub(crate) fn lock_ghost(ghost: &SharedGhost) -> std::sync::MutexGuard<'_, Ghost> {
    ghost
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// What an attribution task needs to know about its target.
#[derive(Clone)]
pub(crate) struct AttributionSettings {
    pub name: String,
    /// Where and how to connect; its timeout bounds each call (connect, CONFIG, SUBSCRIBE,
    /// PING).
    pub endpoint: Endpoint,
    /// The CONFIG command (renamed, or `None`: never sent, flags not verifiable).
    pub config_command: Option<String>,
    pub config: MissAttributionConfig,
}

/// The status is published this often (and the quiet connection checked).
const PUBLISH_EVERY: Duration = Duration::from_secs(1);
/// Most events classified under one hold of the state's lock and the sampler's gate (a
/// fraction of a millisecond).
const MAX_BURST: usize = 1000;
/// Once every event received is classified, events are left to gather this long (or until
/// [`GATHER_BYTES`] have come) before the next read. Waking for each write of a busy server
/// was most of the subscriber's CPU: bench/attribution.py, ~90 % hits, 1.7 µs per event
/// without, 0.4 µs with (BENCHMARKS.md, Miss attribution).
const GATHER: Duration = Duration::from_millis(10);
const GATHER_BYTES: u16 = u16::MAX;
/// With flags missing and not managed, they are read again after this long.
const RECHECK_FLAGS: Duration = Duration::from_secs(60);

struct Task {
    settings: AttributionSettings,
    state: SharedAttribution,
    ghost: SharedGhost,
    shared: Shared,
    gate: Option<Arc<LookupGate>>,
    origin: Instant,
    active: bool,
    missing: String,
    disconnects: u64,
    /// Whether the current session got as far as subscribing.
    subscribed: bool,
    /// What was last said about the flags, so the log says it once.
    said: Option<String>,
}

/// Why a session ended.
enum End {
    /// The connection failed or was lost.
    Lost(String),
    /// The flags are missing: look again later.
    FlagsMissing,
}

impl<E: std::fmt::Display> From<E> for End {
    fn from(e: E) -> End {
        End::Lost(crate::client::call::one_line(&e.to_string()))
    }
}

/// Runs a target's attribution until the task is aborted.
pub(crate) async fn run(
    settings: AttributionSettings,
    state: SharedAttribution,
    ghost: SharedGhost,
    shared: Shared,
    gate: Option<Arc<LookupGate>>,
    origin: Instant,
) {
    if let Some(g) = &gate {
        g.keep_missed();
    }
    let connector = Connector::new(settings.endpoint.clone());
    let mut t = Task {
        settings,
        state,
        ghost,
        shared,
        gate,
        origin,
        active: false,
        missing: String::new(),
        disconnects: 0,
        subscribed: false,
        said: None,
    };
    if let Some(e) = connector.problem() {
        warn!(
            target_name = %t.settings.name,
            error = %e,
            "Miss attribution: target URL or TLS files not usable.",
        );
        t.publish();
        return;
    }
    let mut failures = 0u32;
    loop {
        t.subscribed = false;
        let end = t.session(&connector).await;
        t.active = false;
        t.publish();
        let wait = match end {
            End::FlagsMissing => RECHECK_FLAGS,
            End::Lost(e) => {
                failures = if t.subscribed { 1 } else { failures + 1 };
                if failures == 1 {
                    warn!(
                        target_name = %t.settings.name,
                        error = %e,
                        "Miss attribution: subscriber connection lost; resubscribing.",
                    );
                } else {
                    debug!(
                        target_name = %t.settings.name,
                        error = %e,
                        "Miss attribution: subscriber connection failed.",
                    );
                }
                backoff(failures, Duration::from_secs(30))
            }
        };
        tokio::time::sleep(wait).await;
    }
}

impl Task {
    fn now(&self) -> Duration {
        Instant::now().duration_since(self.origin)
    }

    fn publish(&self) {
        let status =
            lock(&self.state).status(self.now(), self.active, &self.missing, self.disconnects);
        self.shared
            .record_attribution(&self.settings.name, Arc::new(status));
    }

    async fn session(&mut self, connector: &Connector) -> End {
        let timeout = self.settings.endpoint.timeout();
        let mut conn = match connector.connect().await {
            Err(e) => return e.into(),
            Ok(c) => c,
        };
        if let Err(end) = self.check_flags(&mut conn).await {
            return end;
        }
        let mut sub = match Subscriber::subscribe(conn, connector.db(), timeout).await {
            Err(e) => return e.into(),
            Ok(s) => s,
        };
        self.active = true;
        self.subscribed = true;
        self.publish();
        let end = match self.read(&mut sub).await {
            Err(end) => end,
            Ok(never) => match never {},
        };
        self.disconnects += 1;
        end
    }

    /// Reads events until the connection fails; publishes the status every second.
    async fn read(&mut self, sub: &mut Subscriber) -> Result<std::convert::Infallible, End> {
        let mut next_publish = Instant::now() + PUBLISH_EVERY;
        loop {
            if sub.wait(next_publish).await? {
                self.classify_burst(sub).await?;
                if sub.caught_up() {
                    sub.gather(GATHER, GATHER_BYTES).await;
                }
            }
            if Instant::now() >= next_publish {
                self.publish();
                next_publish = Instant::now() + PUBLISH_EVERY;
                sub.keepalive(self.settings.endpoint.timeout()).await?;
            }
        }
    }

    /// Classifies the events already received (at most [`MAX_BURST`]) under one lock of the
    /// state and, with a sampler, one hold of its gate: a sampler batch in flight finishes
    /// first, so the keys it missed are known before any `keymiss` is classified.
    async fn classify_burst(&mut self, sub: &mut Subscriber) -> Result<(), End> {
        let gate = self.gate.clone();
        let _batch = match &gate {
            Some(g) => Some(g.lock().await),
            None => None,
        };
        let now = self.now();
        let mut a = lock(&self.state);
        let mut ghost = lock_ghost(&self.ghost);
        if let Some(g) = &gate {
            for h in g.take_missed() {
                a.own_miss(h);
            }
        }
        for _ in 0..MAX_BURST {
            match sub.next_buffered()? {
                Some((event, key)) => {
                    let c = a.on_event(event, key, now);
                    ghost.on_classified(&c, now);
                }
                None => break,
            }
        }
        Ok(())
    }

    /// Reads the flags and adds the missing ones when managed; `Err` when they stay missing.
    async fn check_flags(&mut self, conn: &mut Conn) -> Result<(), End> {
        let name = self.settings.name.clone();
        let Some(cmd) = self.settings.config_command.clone() else {
            self.say(
                "unverified",
                "Miss attribution: CONFIG is disabled for this target, so notify-keyspace-events \
                 cannot be checked; subscribing anyway.",
                None,
            );
            self.missing.clear();
            return Ok(());
        };
        // Each call is bounded by the endpoint's timeout.
        let current = match notify_flags(conn, &cmd).await {
            Err(e) if e.kind.is_reply() => {
                self.say(
                    "unverified",
                    "Miss attribution: CONFIG GET notify-keyspace-events refused, so the flags \
                     cannot be checked; subscribing anyway.",
                    Some(e.to_string()),
                );
                self.missing.clear();
                return Ok(());
            }
            Err(e) => return Err(e.into()),
            Ok(v) => v,
        };
        let missing = missing_flags(&current);
        if missing.is_empty() {
            self.missing.clear();
            return Ok(());
        }
        if self.settings.config.manage_notifications {
            let value = with_flags(&current, &missing);
            match set_notify_flags(conn, &cmd, &value).await {
                Ok(()) => {
                    info!(
                        target_name = %name,
                        was = %current,
                        added = %missing,
                        "Miss attribution: notify-keyspace-events flags added.",
                    );
                    self.missing.clear();
                    return Ok(());
                }
                Err(e) if e.kind.is_reply() => {
                    self.missing.clone_from(&missing);
                    self.say(
                        &format!("set-refused {missing}"),
                        "Miss attribution: CONFIG SET notify-keyspace-events refused; inactive \
                         until the flags are set.",
                        Some(format!("missing flags {missing:?} (have {current:?}): {e}")),
                    );
                    return Err(End::FlagsMissing);
                }
                Err(e) => return Err(e.into()),
            }
        }
        self.missing.clone_from(&missing);
        self.say(
            &format!("missing {missing}"),
            "Miss attribution inactive: notify-keyspace-events lacks flags and \
             manage_notifications is false; the server is left unchanged.",
            Some(format!(
                "missing flags {missing:?} (have {current:?}); set them with CONFIG SET \
                 notify-keyspace-events {:?}",
                with_flags(&current, &missing)
            )),
        );
        Err(End::FlagsMissing)
    }

    /// Logs `message` once per distinct `what`.
    fn say(&mut self, what: &str, message: &str, detail: Option<String>) {
        if self.said.as_deref() == Some(what) {
            return;
        }
        self.said = Some(what.to_string());
        let name = &self.settings.name;
        if let Some(d) = detail {
            warn!(target_name = %name, detail = %d, "{message}");
        } else {
            warn!(target_name = %name, "{message}");
        }
    }
}
