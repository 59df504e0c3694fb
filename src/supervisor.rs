//! The supervisor: runs one poller task per configured target and applies a new configuration
//! (hot reload) by difference: added targets start, removed ones stop and disappear from
//! /metrics, changed ones restart, unchanged ones keep their connection and history.
//!
//! IO shell: owns the tasks; the poll logic is in [`crate::poller`].

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::info;

use crate::config::{Config, TargetConfig};
use crate::poller::{self, PollerSettings};
use crate::state::{Shared, TargetMeta};

/// A target's value series disappear after this many missed polls.
pub const STALE_AFTER_POLLS: u32 = 3;

/// Everything that, when changed, requires a new poller. Compared as a whole.
#[derive(Debug, Clone, PartialEq)]
struct Fingerprint {
    meta: TargetMeta,
    url: String,
    connection: String,
    interval: Duration,
    timeout: Duration,
    config_command: Option<String>,
    tls: Option<crate::tls::TlsFiles>,
}

fn fingerprint(t: &TargetConfig) -> Fingerprint {
    let redis = t.connection.redis_settings();
    Fingerprint {
        meta: meta(t),
        url: t.url.clone(),
        // The resolved credentials too: a changed password file means a new connection.
        connection: format!(
            "{}|{}|{:?}|{:?}",
            t.connection.addr(),
            redis.db(),
            redis.username(),
            redis.password()
        ),
        interval: t.poll_interval,
        timeout: t.timeout,
        config_command: t.config_command.clone(),
        tls: t.tls.clone(),
    }
}

/// What the state and /metrics know about a configured target.
pub(crate) fn meta(t: &TargetConfig) -> TargetMeta {
    TargetMeta {
        name: t.name.clone(),
        labels: t.labels.clone(),
        cache: t.cache,
        stale_after: t.poll_interval * STALE_AFTER_POLLS + t.timeout,
    }
}

/// What a poller of a configured target is given.
pub(crate) fn settings(t: &TargetConfig) -> PollerSettings {
    PollerSettings {
        name: t.name.clone(),
        redacted_url: t.redacted_url(),
        connection: t.connection.clone(),
        interval: t.poll_interval,
        timeout: t.timeout,
        config_command: t.config_command.clone(),
        tls: t.tls.clone(),
    }
}

/// What an `apply` changed, for the log and for tests.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Changes {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub restarted: Vec<String>,
    pub unchanged: usize,
}

/// The running pollers.
pub struct Supervisor {
    shared: Shared,
    origin: Instant,
    running: BTreeMap<String, (Fingerprint, JoinHandle<()>)>,
}

impl Supervisor {
    pub fn new(shared: Shared, origin: Instant) -> Supervisor {
        Supervisor {
            shared,
            origin,
            running: BTreeMap::new(),
        }
    }

    /// Makes the running pollers match `config`'s targets.
    pub async fn apply(&mut self, config: &Config) -> Changes {
        let mut changes = Changes::default();
        let wanted: BTreeMap<&str, &TargetConfig> = config
            .targets
            .iter()
            .map(|t| (t.name.as_str(), t))
            .collect();
        let gone: Vec<String> = self
            .running
            .keys()
            .filter(|name| !wanted.contains_key(name.as_str()))
            .cloned()
            .collect();
        for name in gone {
            self.stop(&name).await;
            changes.removed.push(name);
        }
        for (name, t) in wanted {
            let fp = fingerprint(t);
            match self.running.get(name) {
                Some((old, _)) if *old == fp => {
                    changes.unchanged += 1;
                    continue;
                }
                Some(_) => {
                    self.stop(name).await;
                    changes.restarted.push(name.to_string());
                }
                None => changes.added.push(name.to_string()),
            }
            self.shared.add(fp.meta.clone());
            let task = tokio::spawn(poller::run(settings(t), self.shared.clone(), self.origin));
            self.running.insert(name.to_string(), (fp, task));
        }
        if !changes.added.is_empty() || !changes.removed.is_empty() || !changes.restarted.is_empty()
        {
            info!(
                added = ?changes.added,
                removed = ?changes.removed,
                restarted = ?changes.restarted,
                unchanged = changes.unchanged,
                "Targets updated."
            );
        }
        changes
    }

    /// Stops a poller and waits until it is gone, so it cannot record into a successor's
    /// snapshot, then forgets the target.
    async fn stop(&mut self, name: &str) {
        if let Some((_, task)) = self.running.remove(name) {
            task.abort();
            let _ = task.await;
        }
        self.shared.remove(name);
    }

    /// Stops every poller (at shutdown).
    pub fn stop_all(&mut self) {
        for (_, (_, task)) in std::mem::take(&mut self.running) {
            task.abort();
        }
    }

    pub fn len(&self) -> usize {
        self.running.len()
    }

    pub fn is_empty(&self) -> bool {
        self.running.is_empty()
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        self.stop_all();
    }
}
