//! What one poller is given about its target: name, endpoint (address, credentials, TLS,
//! timeout), interval, the CONFIG command, whether keysizes is read, the sampler's lookup gate
//! and the miss attribution when there are.

use std::sync::Arc;
use std::time::Duration;

use super::gate::LookupGate;
use crate::client::Endpoint;

/// What one poller needs to know about its target.
#[derive(Clone)]
pub(crate) struct PollerSettings {
    pub name: String,
    /// Shown in logs; never contains the password.
    pub redacted_url: String,
    /// Where and how to connect; its timeout bounds every call. Shared with the poller's
    /// connector.
    pub endpoint: Arc<Endpoint>,
    pub interval: Duration,
    /// `Some("CONFIG")` normally; a renamed command; `None` never to send CONFIG.
    pub config_command: Option<String>,
    /// Whether INFO keysizes is asked for with the slow sections and kept.
    pub keysizes: bool,
    /// The target's sampler gate, when a key-prefix sampler runs: held around INFO so the
    /// sampler's own keyspace lookups can be taken out of the hit ratio exactly.
    pub lookup_gate: Option<Arc<LookupGate>>,
    /// The target's miss attribution, when it runs: its totals are read with each INFO.
    pub attribution: Option<super::attribution_task::SharedAttribution>,
    /// The target's memory-sizing model, fed by the attribution task: its curve is derived
    /// with each poll.
    pub ghost: Option<super::attribution_task::SharedGhost>,
}
