//! The registry of `/scrape?target=URL` pollers (the Prometheus multi-target pattern, as
//! blackbox_exporter and redis_exporter have it): Prometheus service discovery supplies the
//! targets, the exporter polls them on demand.
//!
//! On-demand pollers are keyed by the target's canonical URL. A target's first scrape starts a
//! poller ([`poller::run_now`]) and waits for its first poll, bounded by
//! `X-Prometheus-Scrape-Timeout-Seconds` minus a margin; later scrapes read the poller's latest
//! snapshot, so the connection and the history (the windows) are reused. A poller not scraped
//! for `scrape.idle_timeout` (default 10 poll intervals) is stopped. A configured target is
//! served from the configured state: its poller already runs.
//!
//! Guards (in [`rules`]): the target must match `scrape.allow` (default: the configured targets'
//! URLs), credentials never come from the query string (a URL with user info is refused) but
//! from `[[scrape.credentials]]` by URL pattern. The route itself is `crate::http::scrape`.

pub(crate) mod rules;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{debug, info};

pub(crate) use rules::TargetError;
use rules::{Rules, first_poll_wait};

use crate::config::Config;
use crate::poll::poller;
use crate::state::{Shared, Snapshot};

/// One running on-demand poller.
struct Entry {
    fingerprint: String,
    shared: Shared,
    task: JoinHandle<()>,
    last_scrape: Instant,
    idle: Duration,
}

impl Drop for Entry {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Inner {
    origin: Instant,
    rules: Rules,
    entries: HashMap<String, Entry>,
    /// The configured targets' state (their pollers belong to the supervisor).
    configured: Shared,
}

/// Where a scrape's snapshot comes from.
enum Source {
    /// A configured target's poller: the snapshot named so in the configured state.
    Configured(Shared, String),
    /// An on-demand poller's own state.
    OnDemand(Shared),
}

impl Source {
    fn snapshots(&self) -> Vec<Snapshot> {
        match self {
            Source::Configured(shared, name) => shared.snapshot(name).into_iter().collect(),
            Source::OnDemand(shared) => shared.snapshots(),
        }
    }
}

/// The registry of on-demand pollers. Cheap to clone; all clones share it.
#[derive(Clone)]
pub(crate) struct Scraper {
    inner: Arc<Mutex<Inner>>,
}

impl Scraper {
    /// A registry for `config`, with a background task that stops idle pollers. Needs a tokio
    /// runtime. `configured` is the state the configured targets' pollers write: a scrape of a
    /// configured target is served from it, without a second poller or connection.
    pub(crate) fn start(config: &Config, origin: Instant, configured: Shared) -> Scraper {
        let scraper = Scraper {
            inner: Arc::new(Mutex::new(Inner {
                origin,
                rules: Rules::new(config),
                entries: HashMap::new(),
                configured,
            })),
        };
        tokio::spawn(sweep(Arc::downgrade(&scraper.inner)));
        scraper
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Every update is a single insert, remove or field assignment: a poisoned lock still
        // holds a consistent map.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Applies a reloaded configuration: pollers whose settings changed or that are no longer
    /// allowed stop (the next scrape starts a new one); the others keep their connection.
    pub(crate) fn apply(&self, config: &Config) {
        let mut inner = self.lock();
        inner.rules = Rules::new(config);
        let rules = inner.rules.clone();
        inner.entries.retain(|key, e| {
            let keep = rules.enabled
                && rules
                    .resolve(key)
                    .is_ok_and(|r| r.fingerprint() == e.fingerprint);
            if !keep {
                debug!(target_name = %key, "On-demand target stopped by the new configuration.");
            }
            keep
        });
    }

    /// Whether the endpoint is enabled by the current configuration.
    pub(crate) fn enabled(&self) -> bool {
        self.lock().rules.enabled
    }

    /// Stops every on-demand poller (at shutdown).
    pub(crate) fn stop_all(&self) {
        self.lock().entries.clear();
    }

    /// The snapshot of one scrape of `raw_target`, waiting for a new target's first poll as
    /// long as Prometheus's scrape timeout (`timeout_header`) allows.
    pub(crate) async fn scrape(
        &self,
        raw_target: &str,
        timeout_header: Option<&str>,
    ) -> Result<Scraped, TargetError> {
        let (source, origin, deadline) = {
            let mut inner = self.lock();
            let resolved = inner.rules.resolve(raw_target)?;
            let now = Instant::now();
            let wait = first_poll_wait(timeout_header, resolved.settings.endpoint.timeout());
            let origin = inner.origin;
            let name = &resolved.meta.name;
            if resolved.configured && inner.configured.snapshot(name).is_some() {
                let source = Source::Configured(inner.configured.clone(), name.clone());
                (source, origin, now + wait)
            } else {
                let entry = inner
                    .entries
                    .entry(resolved.key.clone())
                    .or_insert_with(|| {
                        info!(
                            target_name = %resolved.meta.name,
                            url = %resolved.key,
                            "On-demand target started.",
                        );
                        let shared = Shared::new();
                        shared.add(resolved.meta.clone());
                        let mut settings = resolved.settings.clone();
                        // The first poll must fit in the wait, so its calls get at most that long.
                        Arc::make_mut(&mut settings.endpoint).limit_timeout(wait);
                        let task = tokio::spawn(poller::run_now(settings, shared.clone(), origin));
                        Entry {
                            fingerprint: resolved.fingerprint(),
                            shared,
                            task,
                            last_scrape: now,
                            idle: resolved.idle,
                        }
                    });
                entry.last_scrape = now;
                (Source::OnDemand(entry.shared.clone()), origin, now + wait)
            }
        };
        Ok(wait_for_first_poll(source, origin, deadline).await)
    }
}

/// What one scrape shows: the target's snapshot, and the monotonic offset it is judged at.
pub(crate) struct Scraped {
    pub snapshots: Vec<Snapshot>,
    pub now: Duration,
}

/// A new target (or one whose first poll is still running) is waited for until `deadline`, so
/// the first scrape returns data; redis_up=0 when the deadline passes first.
async fn wait_for_first_poll(source: Source, origin: Instant, deadline: Instant) -> Scraped {
    while source.snapshots().iter().all(|s| s.polls_total == 0) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Scraped {
        snapshots: source.snapshots(),
        now: Instant::now().duration_since(origin),
    }
}

/// Stops pollers not scraped for their idle time; exits when the registry is dropped.
async fn sweep(inner: Weak<Mutex<Inner>>) {
    loop {
        let every = {
            let Some(inner) = inner.upgrade() else { return };
            let mut inner = inner
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let now = Instant::now();
            inner.entries.retain(|key, e| {
                let keep = now.duration_since(e.last_scrape) < e.idle;
                if !keep {
                    info!(
                        target_name = %key,
                        idle = %humantime::format_duration(e.idle),
                        "On-demand target expired.",
                    );
                }
                keep
            });
            let shortest = inner
                .entries
                .values()
                .map(|e| e.idle)
                .min()
                .unwrap_or_else(|| inner.rules.default_idle());
            (shortest / 4).clamp(Duration::from_millis(50), Duration::from_secs(5))
        };
        tokio::time::sleep(every).await;
    }
}
