//! The supervisor: runs one poller task per configured target (and, for targets with a
//! key-prefix sampler, the sampler's task beside it) and applies a new configuration
//! (hot reload) by difference: added targets start, removed ones stop and disappear from
//! /metrics, changed ones restart, unchanged ones keep their connection and history.
//!
//! IO shell: owns the tasks; what one instance runs is in [`super::instance`], the poll logic
//! in [`crate::poll::poller`].

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::info;

use super::{discovery, instance};
use crate::config::sampler::SamplerConfig;
use crate::config::{Config, TargetConfig};
use crate::state::{Shared, TargetMeta};

/// Everything that, when changed, requires a new poller. Compared as a whole.
#[derive(Debug, Clone, PartialEq)]
struct Fingerprint {
    meta: TargetMeta,
    url: String,
    connection: String,
    interval: Duration,
    timeout: Duration,
    config_command: Option<String>,
    tls: Option<crate::config::tls::TlsFiles>,
    sampler: Option<SamplerConfig>,
    miss_attribution: Option<crate::config::miss_attribution::MissAttributionConfig>,
    discovery: Option<crate::config::Discovery>,
}

fn fingerprint(t: &TargetConfig) -> Fingerprint {
    let redis = t.connection.redis_settings();
    Fingerprint {
        meta: instance::meta(t),
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
        sampler: t.sampler.clone(),
        miss_attribution: t.miss_attribution.clone(),
        discovery: t.discovery.clone(),
    }
}

/// What an `apply` changed, for the log and for tests.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Changes {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub restarted: Vec<String>,
    pub unchanged: usize,
}

/// The running pollers.
pub(crate) struct Supervisor {
    shared: Shared,
    origin: Instant,
    running: BTreeMap<String, (Fingerprint, Vec<JoinHandle<()>>)>,
}

impl Supervisor {
    pub(crate) fn new(shared: Shared, origin: Instant) -> Supervisor {
        Supervisor {
            shared,
            origin,
            running: BTreeMap::new(),
        }
    }

    /// Makes the running pollers match `config`'s targets.
    pub(crate) async fn apply(&mut self, config: &Config) -> Changes {
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
            if t.discovery.is_none() {
                // A group's instances are registered by its discovery task.
                self.shared.add(fp.meta.clone());
            }
            let tasks = match &t.discovery {
                Some(_) => vec![tokio::spawn(discovery::run(
                    t.clone(),
                    self.shared.clone(),
                    self.origin,
                ))],
                None => instance::spawn(t, &self.shared, self.origin),
            };
            self.running.insert(name.to_string(), (fp, tasks));
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

    /// Stops a poller (and its sampler) and waits until they are gone, so they cannot record
    /// into a successor's snapshot, then forgets the target.
    async fn stop(&mut self, name: &str) {
        if let Some((_, tasks)) = self.running.remove(name) {
            for task in &tasks {
                task.abort();
            }
            for task in tasks {
                let _ = task.await;
            }
        }
        self.shared.remove(name);
    }

    /// Stops every poller (at shutdown).
    pub(crate) fn stop_all(&mut self) {
        for (_, (_, tasks)) in std::mem::take(&mut self.running) {
            for task in tasks {
                task.abort();
            }
        }
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        self.stop_all();
    }
}
