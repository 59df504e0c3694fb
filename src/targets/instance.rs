//! One instance's tasks: what the state knows of a target ([`meta`]), what its poller is given
//! ([`poller_settings`]), and starting its poller, sampler and miss attribution ([`spawn`]). Used
//! by the supervisor for configured targets, by discovery for the instances it finds and by the
//! `/scrape` registry for configured targets named there.

use std::sync::Arc;

use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::client::Endpoint;
use crate::config::TargetConfig;
use crate::poll::attribution_task::{self, AttributionSettings};
use crate::poll::gate::LookupGate;
use crate::poll::poller;
use crate::poll::sampler_task::{self, SamplerSettings};
use crate::poll::settings::PollerSettings;
use crate::state::{Shared, TargetMeta};

/// A target's value series disappear after this many missed polls.
pub(crate) const STALE_AFTER_POLLS: u32 = 3;

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
pub(crate) fn poller_settings(t: &TargetConfig) -> PollerSettings {
    PollerSettings {
        name: t.name.clone(),
        redacted_url: t.redacted_url(),
        endpoint: Arc::new(Endpoint::of_target(t)),
        interval: t.poll_interval,
        config_command: t.config_command.clone(),
        keysizes: t.keysizes,
        lookup_gate: None,
        attribution: None,
        ghost: None,
    }
}

/// Starts the poller of one instance and, when configured, its sampler and its miss
/// attribution; the poller and the sampler share a [`LookupGate`] so the sampler's lookups stay
/// out of the hit ratio (and out of the attributed misses).
pub(crate) fn spawn(t: &TargetConfig, shared: &Shared, origin: Instant) -> Vec<JoinHandle<()>> {
    let mut poller_settings = poller_settings(t);
    let mut tasks = Vec::with_capacity(3);
    if let Some(config) = &t.sampler {
        let gate = Arc::new(LookupGate::default());
        poller_settings.lookup_gate = Some(gate.clone());
        let s = SamplerSettings {
            name: t.name.clone(),
            endpoint: Endpoint::clone(&poller_settings.endpoint),
            config: config.clone(),
        };
        tasks.push(tokio::spawn(sampler_task::run(s, shared.clone(), gate)));
    }
    if let Some(config) = &t.miss_attribution {
        let state = attribution_task::new_state(config);
        let ghost = attribution_task::new_ghost();
        poller_settings.attribution = Some(state.clone());
        poller_settings.ghost = Some(ghost.clone());
        let s = AttributionSettings {
            name: t.name.clone(),
            endpoint: Endpoint::clone(&poller_settings.endpoint),
            config_command: t.config_command.clone(),
            config: config.clone(),
        };
        let gate = poller_settings.lookup_gate.clone();
        tasks.push(tokio::spawn(attribution_task::run(
            s,
            state,
            ghost,
            shared.clone(),
            gate,
            origin,
        )));
    }
    tasks.push(tokio::spawn(poller::run(
        poller_settings,
        shared.clone(),
        origin,
    )));
    tasks
}
