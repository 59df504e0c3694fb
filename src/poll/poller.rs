//! The poller: one task per target that keeps one connection open, sends `INFO` (and
//! `CONFIG GET maxmemory*` when needed) once per interval, and records the outcome.
//!
//! IO shell around the pure core: it fetches INFO as a raw string, hands it to
//! [`crate::core::info`], feeds the sample to the target's [`History`], and stores the result with
//! one call to [`Shared::record`]. /metrics never waits for it.
//!
//! Timing: the first poll is delayed by a per-target offset (a hash of the name) so a fleet does
//! not poll in bursts; missed ticks are skipped, never bunched. Every Redis call is bounded by
//! the configured timeout. The poller's state is in three parts: the connection and its
//! backoff ([`Link`]), what the target accepts ([`Capabilities`]) and the history of samples.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::time::{Instant, MissedTickBehavior};
use tracing::{debug, info, warn};

use super::capabilities::Capabilities;
use super::link::Link;
use super::schedule::start_offset;
use super::sections::Sections;
use super::settings::PollerSettings;
use super::wire::Dial;
use crate::client::{CallError, CallKind, Connector};
use crate::core::attribution::AttributionHistory;
use crate::core::derive::History;
use crate::core::info::Sample;
use crate::core::sampler::Lookups;
use crate::state::{Outcome, Shared};

/// One target's poll loop state, over connections made by `D` (the client's [`Connector`]
/// in the exporter).
pub(super) struct Poller<D: Dial> {
    settings: PollerSettings,
    shared: Shared,
    origin: Instant,
    link: Link<D>,
    caps: Capabilities,
    sections: Sections,
    /// The debug line about a server without INFO keysizes was written.
    told_no_keysizes: bool,
    history: History,
    /// The sampler's lookups as of the last INFO (see [`PollerSettings::lookup_gate`]).
    own_lookups: Option<Lookups>,
    /// Attributed misses per poll, for targets with miss attribution.
    attribution: Option<Box<AttributionHistory>>,
    /// The attributed totals as of the last INFO.
    attributed: Option<[u64; 4]>,
}

/// Runs the poll loop of one target until the task is aborted.
///
/// Not an `async fn`: the poller is built here, so the spawned task holds one copy of it and
/// its ticker, not the arguments as well.
pub(crate) fn run(
    settings: PollerSettings,
    shared: Shared,
    origin: Instant,
) -> impl Future<Output = ()> + Send {
    let offset = start_offset(&settings.name, settings.interval);
    let connector = Connector::new(settings.endpoint.clone());
    Poller::new(settings, connector, shared, origin).run(Instant::now() + offset)
}

/// Like [`run`], with the first poll at once (an on-demand target's first scrape waits for it).
pub(crate) fn run_now(
    settings: PollerSettings,
    shared: Shared,
    origin: Instant,
) -> impl Future<Output = ()> + Send {
    let connector = Connector::new(settings.endpoint.clone());
    Poller::new(settings, connector, shared, origin).run(Instant::now())
}

impl<D: Dial + 'static> Poller<D> {
    pub(super) fn new(
        settings: PollerSettings,
        connector: D,
        shared: Shared,
        origin: Instant,
    ) -> Poller<D> {
        Poller {
            link: Link::new(connector, &settings.name),
            caps: Capabilities::new(settings.config_command.as_deref()),
            sections: Sections::default(),
            told_no_keysizes: false,
            history: History::for_interval(settings.interval),
            own_lookups: None,
            attribution: settings
                .attribution
                .as_ref()
                .map(|_| Box::new(AttributionHistory::new(settings.interval / 2))),
            attributed: None,
            settings,
            shared,
            origin,
        }
    }

    /// The poll loop. An `async move` block rather than an `async fn`: an `async fn` would
    /// keep its `self` argument and the body's copy of it side by side in the task.
    pub(super) fn run(mut self, first: Instant) -> impl Future<Output = ()> + Send {
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
                let mut derived = self
                    .history
                    .observe_excluding(at, &sample, self.own_lookups);
                if let (Some(h), Some(a)) = (&mut self.attribution, self.attributed) {
                    derived.attribution = h.observe(at, a, &derived.windows);
                }
                if let Some(g) = &self.settings.ghost {
                    let sizing = super::attribution_task::lock_ghost(g).sizing(
                        at,
                        &sample,
                        &derived.windows,
                        &derived.attribution,
                    );
                    derived.sizing = Some(sizing);
                }
                if derived.reset {
                    info!(
                        target_name = %name,
                        "Counter reset detected (restart or CONFIG RESETSTAT).",
                    );
                }
                let outcome = Outcome::Success {
                    sample: Arc::new(sample),
                    derived: Arc::new(derived),
                };
                (outcome, None)
            }
            Err(e) => (Outcome::Failure(e.error_kind()), Some(e)),
        };
        let changed = self.shared.record(name, outcome, duration, at, unix_now);
        match (error, changed) {
            (None, Some(true)) => {
                info!(target_name = %name, url = %self.settings.redacted_url, "Target up.");
            }
            (Some(e), Some(true)) => {
                warn!(
                    target_name = %name,
                    url = %self.settings.redacted_url,
                    error = %e,
                    "Target down.",
                );
            }
            (Some(e), _) => debug!(target_name = %name, error = %e, "Poll failed."),
            _ => {}
        }
    }

    /// Connects if needed, then INFO (+ CONFIG when needed). Drops the connection on errors
    /// that leave it unusable.
    async fn fetch(&mut self) -> Result<Sample, CallError> {
        let result = self.fetch_inner().await;
        self.link.record(result.as_ref().err(), &self.settings);
        result
    }

    /// Polls over the open connection (or a new one); keeps it unless the error says not to.
    async fn fetch_inner(&mut self) -> Result<Sample, CallError> {
        let (mut conn, new) = self.link.open(&self.settings).await?;
        if new {
            self.caps.new_connection();
        }
        let result = self.fetch_on(&mut conn).await;
        self.link.put_back(conn, result.as_ref().err());
        result
    }

    async fn fetch_on(&mut self, conn: &mut D::Conn) -> Result<Sample, CallError> {
        let timeout = self.settings.endpoint.timeout();
        let name = &self.settings.name;
        let gate = self.settings.lookup_gate.clone();
        // A sampler batch in flight finishes first (one pipeline, bounded by the timeout); if
        // the gate is not free within the timeout, INFO goes ahead and the sampler's lookups
        // of this step are taken out at the next one.
        let lookups = match &gate {
            Some(g) => tokio::time::timeout(timeout, g.lock()).await.ok(),
            None => None,
        };
        let now = Instant::now();
        let sections = self.sections.ask(now, self.settings.keysizes);
        let text = self.caps.info(conn, sections, name).await?;
        self.own_lookups = lookups.map(|l| *l);
        // Read under the gate with INFO, like the sampler's lookups.
        self.attributed = self
            .settings
            .attribution
            .as_ref()
            .map(|a| super::attribution_task::lock(a).counts().attributed);
        let mut sample = crate::core::info::parse(&text)
            .map_err(|e| CallError::new(CallKind::Protocol, format!("INFO: {e}")))?;
        keep_keysizes(&self.settings, &mut self.told_no_keysizes, &mut sample);
        self.sections.carry(&mut sample, now);
        if !sample.skipped.is_empty() {
            debug!(
                target_name = %name,
                fields = ?sample.skipped,
                "INFO fields with unparsable values skipped.",
            );
        }
        let command = self.settings.config_command.as_deref();
        self.caps.complete(conn, &mut sample, command, name).await?;
        Ok(sample)
    }
}

/// Keeps INFO keysizes only where the target asked for them (Redis 8 puts them in
/// `default`, read for the slow sections anyway); says once when it asked and the server
/// has none (before Redis 8, or `INFO all`).
fn keep_keysizes(settings: &PollerSettings, told: &mut bool, sample: &mut Sample) {
    let Some(slow) = &mut sample.slow else {
        return;
    };
    if !settings.keysizes {
        if slow.has_keysizes {
            let slow = Arc::make_mut(slow);
            slow.keysizes = Vec::new();
            slow.has_keysizes = false;
        }
    } else if !slow.has_keysizes && !*told {
        *told = true;
        debug!(
            target_name = %settings.name,
            "No INFO keysizes on this server (Redis 8+ has them); redis_keysizes_keys stays \
             absent.",
        );
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::client::Endpoint;

    pub(super) fn settings(url: &str, interval: Duration) -> PollerSettings {
        let info = crate::config::connection_info(url).unwrap();
        PollerSettings {
            name: "t".into(),
            redacted_url: url.into(),
            endpoint: Arc::new(Endpoint::new(&info, None, Duration::from_secs(5))),
            interval,
            config_command: Some("CONFIG".into()),
            keysizes: false,
            lookup_gate: None,
            attribution: None,
            ghost: None,
        }
    }

    #[tokio::test]
    async fn an_idle_poller_task_holds_its_poller_and_ticker_only() {
        let settings = settings("redis://127.0.0.1:6379", Duration::from_secs(15));
        let task = run(settings, Shared::new(), Instant::now());
        // Every configured target has one such task: 10 000 targets, 10 000 of these. A poll's
        // own future (several KB, with TLS) is boxed and lives only while the poll runs.
        let (task, poller) = (
            std::mem::size_of_val(&task),
            std::mem::size_of::<Poller<Connector>>(),
        );
        eprintln!("poller task {task} bytes, poller {poller} bytes");
        assert!(
            task < poller + 256,
            "poller task {task} bytes, poller {poller} bytes"
        );
        assert!(task < 2048, "poller task {task} bytes");
    }
}
