//! The supervisor: runs one poller task per configured target (and, for targets with a
//! key-prefix sampler, the sampler's task beside it) and applies a new configuration
//! (hot reload) by difference: added targets start, removed ones stop and disappear from
//! /metrics, changed ones restart, unchanged ones keep their connection and history.
//!
//! IO shell: owns the tasks; the poll logic is in [`crate::poll::poller`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::info;

use crate::config::{Config, TargetConfig};
use crate::core::sampler::SamplerConfig;
use crate::poll::gate::LookupGate;
use crate::poll::poller::{self, PollerSettings};
use crate::poll::sampler_task::{self, SamplerSettings};
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
    tls: Option<crate::client::tls::TlsFiles>,
    sampler: Option<SamplerConfig>,
    discovery: Option<crate::config::Discovery>,
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
        sampler: t.sampler.clone(),
        discovery: t.discovery.clone(),
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
        lookup_gate: None,
    }
}

/// Starts a target's poller and, when configured, its sampler; the poller and the sampler
/// share a [`LookupGate`] so the sampler's lookups stay out of the hit ratio. A Cluster or
/// Sentinel entry gets its discovery task instead, which runs a poller per instance.
pub(crate) fn spawn(t: &TargetConfig, shared: &Shared, origin: Instant) -> Vec<JoinHandle<()>> {
    if t.discovery.is_some() {
        return vec![tokio::spawn(crate::targets::discovery::run(
            t.clone(),
            shared.clone(),
            origin,
        ))];
    }
    let mut poller_settings = settings(t);
    let mut tasks = Vec::with_capacity(2);
    if let Some(config) = &t.sampler {
        let gate = Arc::new(LookupGate::default());
        poller_settings.lookup_gate = Some(gate.clone());
        let s = SamplerSettings {
            name: t.name.clone(),
            connection: t.connection.clone(),
            timeout: t.timeout,
            config: config.clone(),
        };
        tasks.push(tokio::spawn(sampler_task::run(s, shared.clone(), gate)));
    }
    tasks.push(tokio::spawn(poller::run(
        poller_settings,
        shared.clone(),
        origin,
    )));
    tasks
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
    running: BTreeMap<String, (Fingerprint, Vec<JoinHandle<()>>)>,
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
            if t.discovery.is_none() {
                // A group's instances are registered by its discovery task.
                self.shared.add(fp.meta.clone());
            }
            let tasks = spawn(t, &self.shared, self.origin);
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
    pub fn stop_all(&mut self) {
        for (_, (_, tasks)) in std::mem::take(&mut self.running) {
            for task in tasks {
                task.abort();
            }
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
