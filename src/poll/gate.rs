//! The lookup gate of a target with a key-prefix sampler: the sampler holds it while its
//! `PTTL` batch runs and the poller holds it around `INFO`, so every INFO sees either all or
//! none of a batch's keyspace lookups; it also counts them.

use tokio::sync::{Mutex, MutexGuard};

use crate::core::sampler::Lookups;

/// Serializes the sampler's lookups with the poller's `INFO` on one target; holds the
/// sampler's cumulative lookup counts.
#[derive(Debug, Default)]
pub(crate) struct LookupGate(Mutex<Lookups>);

impl LookupGate {
    /// Waits for a sampler batch in flight to finish; while the guard lives no batch starts.
    pub(crate) async fn lock(&self) -> MutexGuard<'_, Lookups> {
        self.0.lock().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_gate_holds_the_lookups() {
        let gate = LookupGate::default();
        {
            let mut l = gate.lock().await;
            l.hits += 3;
            l.misses += 1;
        }
        assert_eq!(*gate.lock().await, Lookups { hits: 3, misses: 1 });
    }
}
