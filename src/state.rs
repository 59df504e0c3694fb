//! Per-target state shared between the pollers (writers) and /metrics (reader).
//!
//! Pure data plus a short-lived lock: the lock is held only to copy or replace a snapshot, never
//! across an `.await` and never while talking to Redis. One function, [`Shared::record`], applies
//! the outcome of one poll (up, duration, last success, error kind counter) so the pieces can never
//! disagree.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use crate::core::attribution::AttributionStatus;
use crate::core::derive::Derived;
use crate::core::error_kind::ErrorKind;
use crate::core::info::Sample;
use crate::core::sampler::SamplerStatus;

/// What the configuration says about a target (fixed while it runs).
#[derive(Debug, Clone, PartialEq, Hash)]
pub struct TargetMeta {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub cache: bool,
    /// Value series are dropped when the last success is older than this.
    pub stale_after: Duration,
}

/// The latest view of one target, as /metrics renders it.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub meta: Arc<TargetMeta>,
    pub up: bool,
    /// The last successful poll.
    pub(crate) last: Option<LastSuccess>,
    pub last_poll_duration: Option<Duration>,
    /// Unix time of the last successful poll, seconds.
    pub last_success_unix: Option<f64>,
    pub polls_total: u64,
    pub errors_total: [u64; ErrorKind::ALL.len()],
    /// The key-prefix sampler's latest status, for targets with a sampler.
    pub sampler: Option<Arc<SamplerStatus>>,
    /// Miss attribution's latest status, for targets with attribution.
    pub attribution: Option<Arc<AttributionStatus>>,
    /// This snapshot's lines as /metrics renders them, kept from its second scrape on;
    /// replaced by every change.
    pub(crate) rendered: Arc<LineCache>,
}

/// The last successful poll of a target: its sample, what was derived from it, and when.
#[derive(Debug, Clone)]
pub(crate) struct LastSuccess {
    pub sample: Arc<Sample>,
    pub derived: Arc<Derived>,
    /// Monotonic offset of the poll.
    pub at: Duration,
}

/// A snapshot's rendered lines, stale form (index 0) and fresh form (index 1). A scrape writes
/// a target's lines straight into its output and only marks the form scraped; the next scrape
/// of the same snapshot and form renders them once more and keeps them for the scrapes after.
/// So a snapshot scraped once per poll (Prometheus scraping as often as targets are polled)
/// costs no memory, and one scraped by several Prometheus servers is rendered at most twice.
#[derive(Debug, Default)]
pub(crate) struct LineCache {
    pub lines: [OnceLock<Rendered>; 2],
    pub scraped: [AtomicBool; 2],
}

/// One target's rendered series: `text` holds every family's lines in table order, family
/// `i` at `text[ends[i - 1]..ends[i]]` (from 0 for the first).
#[derive(Debug, Default)]
pub(crate) struct Rendered {
    pub text: String,
    pub ends: Vec<u32>,
}

impl Snapshot {
    fn new(meta: Arc<TargetMeta>) -> Snapshot {
        Snapshot {
            meta,
            up: false,
            last: None,
            last_poll_duration: None,
            last_success_unix: None,
            polls_total: 0,
            errors_total: [0; ErrorKind::ALL.len()],
            sampler: None,
            attribution: None,
            rendered: Arc::default(),
        }
    }

    /// The sample and derivation if they are fresh at `now` (monotonic offset).
    pub fn fresh(&self, now: Duration) -> Option<(&Sample, &Derived)> {
        let last = self.last.as_ref()?;
        (now.saturating_sub(last.at) <= self.meta.stale_after)
            .then_some((last.sample.as_ref(), last.derived.as_ref()))
    }

    pub fn errors(&self, kind: ErrorKind) -> u64 {
        self.errors_total[kind.index()]
    }
}

/// The outcome of one poll.
#[derive(Debug, Clone)]
pub enum Outcome {
    Success {
        sample: Arc<Sample>,
        derived: Arc<Derived>,
    },
    Failure(ErrorKind),
}

/// All targets' snapshots, keyed by target name (sorted, so /metrics output is stable).
#[derive(Debug, Clone, Default)]
pub struct Shared {
    inner: Arc<RwLock<BTreeMap<String, Snapshot>>>,
    globals: Arc<RwLock<Globals>>,
}

/// Exporter-wide state: the configuration reload status, and what the discovery of each
/// Cluster and Sentinel entry found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Globals {
    pub reload_successful: bool,
    /// Unix time of the last successful configuration load, seconds.
    pub reload_success_unix: f64,
    /// Cluster and Sentinel entries by name.
    pub groups: BTreeMap<String, Arc<GroupStatus>>,
}

/// How a group's instances are found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupKind {
    Cluster,
    Sentinel,
}

impl GroupKind {
    pub fn label(self) -> &'static str {
        match self {
            GroupKind::Cluster => "cluster",
            GroupKind::Sentinel => "sentinel",
        }
    }
}

/// One instance a group's discovery found (it is polled as target `name`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupNode {
    /// The node's target name, `<entry>/<host:port>`.
    pub target: String,
    /// `host:port`.
    pub addr: String,
    /// Cluster node id (empty for Sentinel groups).
    pub node_id: String,
    /// `master` | `replica`, as the cluster or the sentinels see it.
    pub role: String,
    /// Cluster: node id of the shard's master (empty for Sentinel groups).
    pub shard: String,
}

/// The latest discovery of a Cluster or Sentinel entry.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupStatus {
    /// The entry's name and static labels.
    pub meta: Arc<TargetMeta>,
    pub kind: GroupKind,
    /// Whether the last discovery attempt got an answer.
    pub up: bool,
    pub nodes: Vec<GroupNode>,
    /// `CLUSTER INFO` of one node at the last attempt (Cluster entries).
    pub health: Option<crate::core::cluster::Health>,
}

impl Shared {
    pub fn new() -> Shared {
        Shared::default()
    }

    /// Registers a target (up=0 until its first successful poll). Replaces one of the same name.
    pub fn add(&self, meta: TargetMeta) {
        let meta = Arc::new(meta);
        self.write().insert(meta.name.clone(), Snapshot::new(meta));
    }

    /// Forgets a target: its series disappear from the next scrape.
    pub fn remove(&self, name: &str) {
        self.write().remove(name);
    }

    /// Applies one poll outcome; returns whether `up` changed (for a one-line state-change log).
    pub fn record(
        &self,
        name: &str,
        outcome: Outcome,
        duration: Duration,
        at: Duration,
        unix_now: f64,
    ) -> Option<bool> {
        let mut map = self.write();
        let snap = map.get_mut(name)?;
        let was_up = snap.up;
        snap.rendered = Arc::default();
        snap.polls_total += 1;
        snap.last_poll_duration = Some(duration);
        match outcome {
            Outcome::Success { sample, derived } => {
                snap.up = true;
                snap.last = Some(LastSuccess {
                    sample,
                    derived,
                    at,
                });
                snap.last_success_unix = Some(unix_now);
            }
            Outcome::Failure(kind) => {
                snap.up = false;
                snap.errors_total[kind.index()] += 1;
            }
        }
        Some(was_up != snap.up || snap.polls_total == 1)
    }

    /// Replaces a target's sampler status (after each sampler batch and cycle).
    pub fn record_sampler(&self, name: &str, status: Arc<SamplerStatus>) {
        if let Some(snap) = self.write().get_mut(name) {
            snap.rendered = Arc::default();
            snap.sampler = Some(status);
        }
    }

    /// Replaces a target's miss attribution status (published by its subscriber task).
    pub fn record_attribution(&self, name: &str, status: Arc<AttributionStatus>) {
        if let Some(snap) = self.write().get_mut(name) {
            snap.rendered = Arc::default();
            snap.attribution = Some(status);
        }
    }

    /// Records the outcome of a configuration load (at start and on every reload).
    pub fn set_reload(&self, successful: bool, unix_now: f64) {
        let mut g = self
            .globals
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        g.reload_successful = successful;
        if successful {
            g.reload_success_unix = unix_now;
        }
    }

    /// Replaces a group's discovery status.
    pub fn set_group(&self, status: GroupStatus) {
        let mut g = self
            .globals
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        g.groups.insert(status.meta.name.clone(), Arc::new(status));
    }

    /// Forgets a group (its entry was removed or restarted).
    pub(crate) fn remove_group(&self, name: &str) {
        let mut g = self
            .globals
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        g.groups.remove(name);
    }

    /// A copy of one snapshot.
    pub fn snapshot(&self, name: &str) -> Option<Snapshot> {
        self.read().get(name).cloned()
    }

    pub fn globals(&self) -> Globals {
        self.globals
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// A copy of every snapshot, taken under the lock and rendered outside it.
    pub fn snapshots(&self) -> Vec<Snapshot> {
        self.read().values().cloned().collect()
    }

    #[cfg(test)]
    fn names(&self) -> Vec<String> {
        self.read().keys().cloned().collect()
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, Snapshot>> {
        // A poisoned lock only means a panic elsewhere while holding it; the map itself is
        // always consistent (every update is a single insert or field assignment).
        self.inner
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Snapshot>> {
        self.inner
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::derive::Trend;

    fn meta(name: &str) -> TargetMeta {
        TargetMeta {
            name: name.into(),
            labels: BTreeMap::new(),
            cache: true,
            stale_after: Duration::from_secs(45),
        }
    }

    fn ok() -> Outcome {
        Outcome::Success {
            sample: Arc::new(Sample::default()),
            derived: Arc::new(Derived {
                windows: vec![],
                pressure: None,
                reset: false,
                resets_total: 0,
                hit_ratio_trend: Trend::default(),
                own_lookups: None,
                attribution: vec![],
                sizing: None,
            }),
        }
    }

    #[test]
    fn record_updates_all_pieces_together() {
        let s = Shared::new();
        s.add(meta("a"));
        let t = Duration::from_secs(10);
        assert_eq!(
            s.record("a", ok(), Duration::from_millis(2), t, 1e9),
            Some(true)
        );
        assert_eq!(
            s.record("a", ok(), Duration::from_millis(2), t, 1e9),
            Some(false)
        );
        assert_eq!(
            s.record(
                "a",
                Outcome::Failure(ErrorKind::Timeout),
                Duration::from_secs(1),
                t,
                2e9
            ),
            Some(true)
        );
        let snap = &s.snapshots()[0];
        assert!(!snap.up);
        assert_eq!(snap.polls_total, 3);
        assert_eq!(snap.errors(ErrorKind::Timeout), 1);
        assert_eq!(snap.last_success_unix, Some(1e9));
        assert_eq!(snap.last_poll_duration, Some(Duration::from_secs(1)));
        // The last sample is kept, fresh until stale_after passes.
        assert!(snap.fresh(t + Duration::from_secs(45)).is_some());
        assert!(snap.fresh(t + Duration::from_secs(46)).is_none());
    }

    #[test]
    fn unknown_and_removed_targets() {
        let s = Shared::new();
        assert_eq!(
            s.record("x", ok(), Duration::ZERO, Duration::ZERO, 0.0),
            None
        );
        s.add(meta("a"));
        s.add(meta("b"));
        s.remove("a");
        assert_eq!(s.names(), vec!["b".to_string()]);
    }
}
