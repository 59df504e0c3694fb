//! The lookup gate of a target with a key-prefix sampler: the sampler holds it while its
//! `PTTL` batch runs and the poller holds it around `INFO`, so every INFO sees either all or
//! none of a batch's keyspace lookups; it also counts them. With miss attribution, the
//! sampler also leaves here the keys its lookups missed, before letting the gate go, and the
//! subscriber takes them under the gate before classifying a `keymiss`: Redis publishes the
//! `keymiss` while running the `PTTL`, so once the gate is free its key is here.

use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::{Mutex, MutexGuard};

use crate::core::sampler::Lookups;

/// Serializes the sampler's lookups with the poller's `INFO` on one target; holds the
/// sampler's cumulative lookup counts.
#[derive(Debug, Default)]
pub(crate) struct LookupGate {
    lookups: Mutex<Lookups>,
    /// Set when miss attribution runs: only then are missed keys kept.
    keep_missed: AtomicBool,
    /// Hashes of the keys the sampler's lookups missed, not yet taken.
    missed: std::sync::Mutex<Vec<u64>>,
}

/// Most missed keys kept between two takes (the subscriber takes them at every `keymiss`).
const MAX_MISSED: usize = 4096;

impl LookupGate {
    /// Waits for a sampler batch in flight to finish; while the guard lives no batch starts.
    pub(crate) async fn lock(&self) -> MutexGuard<'_, Lookups> {
        self.lookups.lock().await
    }

    /// From now on, keep the keys the sampler's lookups miss for [`LookupGate::take_missed`].
    pub(crate) fn keep_missed(&self) {
        self.keep_missed.store(true, Ordering::Relaxed);
    }

    /// The sampler's lookup of the key with `hash` missed (called under the gate).
    pub(crate) fn missed(&self, hash: u64) {
        if self.keep_missed.load(Ordering::Relaxed) {
            let mut m = self
                .missed
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if m.len() < MAX_MISSED {
                m.push(hash);
            }
        }
    }

    /// The missed keys left since the last take.
    pub(crate) fn take_missed(&self) -> Vec<u64> {
        std::mem::take(
            &mut *self
                .missed
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
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
        gate.missed(7);
        assert!(gate.take_missed().is_empty(), "kept only with attribution");
        gate.keep_missed();
        gate.missed(7);
        assert_eq!(gate.take_missed(), [7]);
        assert!(gate.take_missed().is_empty());
    }
}
