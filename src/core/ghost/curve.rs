//! The predicted hit ratio against memory for one window: INFO's hits and lookups, the ghost
//! list's distances, keys turned into bytes by the server's own figures; the sizes the exporter
//! reports (1.5×, 2×, 4× maxmemory), the memory needed for a hit ratio, and the policies under
//! which the prediction was shown to hold.

use super::{Distances, Span};

/// The multiples of maxmemory predicted, as in `redis_cache_predicted_hit_ratio{memory="2x"}`.
pub const MEMORY_MULTIPLES: [(f64, &str); 3] = [(1.5, "1.5x"), (2.0, "2x"), (4.0, "4x")];

/// The hit ratios `redis_cache_memory_needed_bytes{hit_ratio}` is given for.
pub const TARGET_RATIOS: [(f64, &str); 3] = [(0.9, "0.9"), (0.95, "0.95"), (0.99, "0.99")];

/// The INFO figures that give a key's cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MemoryFigures {
    pub maxmemory: u64,
    pub used_memory: u64,
    pub not_counted_for_evict: u64,
    pub used_memory_startup: u64,
    /// `mem_clients_normal`: client buffers (a pub/sub subscriber's output buffer among them)
    /// count in `used_memory` but do not grow with the keys.
    pub clients: u64,
    /// Keys held (INFO keyspace, all databases).
    pub keys: u64,
}

/// What one key costs in memory, so that k more keys are k × `bytes_per_key` more maxmemory.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sizing {
    pub maxmemory: f64,
    pub bytes_per_key: f64,
}

impl Sizing {
    /// From INFO memory and keyspace: the memory counted for eviction above what the server
    /// used at start and what its clients' buffers hold, shared by the keys held. Includes each
    /// key's share of the main hash table, which grows with the keys. `None` without maxmemory
    /// or keys.
    pub fn from_info(m: &MemoryFigures) -> Option<Sizing> {
        let data = m
            .used_memory
            .saturating_sub(m.not_counted_for_evict)
            .saturating_sub(m.used_memory_startup)
            .saturating_sub(m.clients);
        Sizing::from_key_bytes(m.maxmemory, data as f64 / m.keys as f64)
    }

    /// From an average key size measured otherwise (the sampler's `MEMORY USAGE`).
    pub fn from_key_bytes(maxmemory: u64, bytes_per_key: f64) -> Option<Sizing> {
        (maxmemory > 0 && bytes_per_key.is_finite() && bytes_per_key > 0.0).then_some(Sizing {
            maxmemory: maxmemory as f64,
            bytes_per_key,
        })
    }

    /// Extra keys that `bytes` of maxmemory hold beyond the current maxmemory's.
    pub fn extra_keys(&self, bytes: f64) -> f64 {
        (bytes - self.maxmemory) / self.bytes_per_key
    }
}

/// A window's lookups from INFO, and the misses no memory fixes (from miss attribution: cold,
/// expired and deleted keys).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lookups {
    pub hits: f64,
    pub misses: f64,
    pub unfixable_misses: f64,
}

/// The hit ratio against memory over one window.
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    lookups: Lookups,
    distances: Distances,
    span: Span,
    sizing: Sizing,
}

/// The answer to "how much maxmemory for this hit ratio".
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Needed {
    /// The smallest maxmemory predicted to reach it (the current one when already reached).
    Bytes(f64),
    /// More than the ghost list covers: it may be reachable, but not shown.
    BeyondSpan,
    /// Above the ceiling: even a cache that never evicts would miss the unfixable misses.
    NotByMemory { ceiling: f64 },
}

impl Curve {
    /// The curve of a window; `None` without lookups, or with misses in INFO but none seen on
    /// tracked keys (nothing to scale from).
    pub fn new(
        lookups: Lookups,
        distances: Distances,
        span: Span,
        sizing: Sizing,
    ) -> Option<Curve> {
        let total = lookups.hits + lookups.misses;
        if total <= 0.0 || (lookups.misses > 0.0 && distances.misses <= 0.0) {
            return None;
        }
        Some(Curve {
            lookups,
            distances,
            span,
            sizing,
        })
    }

    fn total(&self) -> f64 {
        self.lookups.hits + self.lookups.misses
    }

    /// The hit ratio now.
    pub fn current(&self) -> f64 {
        self.lookups.hits / self.total()
    }

    /// The best any memory could do: every miss but the unfixable ones a hit.
    pub fn ceiling(&self) -> f64 {
        1.0 - (self.lookups.unfixable_misses / self.total()).clamp(0.0, 1.0)
    }

    /// Misses that would have been hits: the share of tracked misses found below `k`, times
    /// INFO's misses (a ratio, so sampling's luck in how many misses it caught cancels out).
    fn fixed_misses(&self, k: f64) -> f64 {
        if self.distances.misses <= 0.0 {
            return 0.0;
        }
        self.distances.below(k) / self.distances.misses * self.lookups.misses
    }

    /// The hit ratio with `k` more keys, `None` past a span that does not cover them.
    pub fn with_extra_keys(&self, k: f64) -> Option<f64> {
        if !self.span.complete && k > self.span.keys {
            return None;
        }
        let ratio = (self.lookups.hits + self.fixed_misses(k.max(0.0))) / self.total();
        Some(ratio.min(self.ceiling()))
    }

    /// The hit ratio with maxmemory `bytes`.
    pub fn at_memory(&self, bytes: f64) -> Option<f64> {
        self.with_extra_keys(self.sizing.extra_keys(bytes))
    }

    /// The hit ratio at `multiple` × the current maxmemory.
    pub fn at_multiple(&self, multiple: f64) -> Option<f64> {
        self.at_memory(self.sizing.maxmemory * multiple)
    }

    /// The smallest maxmemory predicted to reach `ratio`.
    pub fn memory_needed(&self, ratio: f64) -> Needed {
        let ceiling = self.ceiling();
        if ratio > ceiling {
            return Needed::NotByMemory { ceiling };
        }
        let wanted = ratio * self.total() - self.lookups.hits;
        if wanted <= 0.0 {
            return Needed::Bytes(self.sizing.maxmemory);
        }
        // In tracked-miss weight: the fixed share is below(k) / distances.misses.
        let weight = wanted / self.lookups.misses * self.distances.misses;
        match self.distances.smallest_reaching(weight) {
            Some(k) if self.span.complete || k <= self.span.keys => {
                Needed::Bytes(self.sizing.maxmemory + k * self.sizing.bytes_per_key)
            }
            _ => Needed::BeyondSpan,
        }
    }
}

/// Whether the prediction holds under a `maxmemory-policy`, measured against real servers
/// (`tests/ghost_accuracy.rs`, docs/memory-sizing.md). The ghost list's distances model an
/// LRU; a policy that evicts otherwise makes them say nothing about a larger cache.
pub fn policy_holds(policy: &str) -> Result<(), &'static str> {
    match policy {
        // Measured within 0.019 of the real hit ratio, memory needed within 10 %.
        "allkeys-lru" | "volatile-lru" => Ok(()),
        // Held, though biased low: Redis's LFU keeps close to recency order on these
        // streams; under-predicts by up to 0.022, memory needed up to 14 % high.
        "allkeys-lfu" => Ok(()),
        "allkeys-random" => Err(
            "random eviction keeps no recency order: measured 0.036 too high at 2x, memory needed \
             19 % low",
        ),
        "noeviction" => Err("noeviction evicts nothing: writes fail instead"),
        _ => Err("not measured under this policy"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn distances(found: &[(u64, f64)], misses: f64) -> Distances {
        let mut d = Distances::default();
        for (k, w) in found {
            d.add(*k, *w);
        }
        d.misses = misses;
        d
    }

    const COMPLETE: Span = Span {
        keys: 100.0,
        seconds: 60.0,
        complete: true,
    };

    fn sizing() -> Sizing {
        // 1 000 bytes of maxmemory, 10 bytes a key: 100 keys held, 1.5× holds 50 more.
        Sizing::from_key_bytes(1_000, 10.0).unwrap()
    }

    #[test]
    fn the_curve_adds_the_misses_below_the_extra_keys() {
        // 100 lookups: 60 hits, 40 misses; of the misses 10 at distance 0, 10 at 20, 5 at 60.
        let l = Lookups {
            hits: 60.0,
            misses: 40.0,
            unfixable_misses: 15.0,
        };
        let c = Curve::new(
            l,
            distances(&[(0, 10.0), (20, 10.0), (60, 5.0)], 40.0),
            COMPLETE,
            sizing(),
        )
        .unwrap();
        assert_eq!(c.current(), 0.6);
        assert_eq!(c.with_extra_keys(0.0), Some(0.6));
        assert_eq!(c.with_extra_keys(1.0), Some(0.7));
        assert_eq!(c.with_extra_keys(21.0), Some(0.8));
        assert_eq!(c.at_multiple(1.5), Some(0.8)); // 50 more keys
        assert_eq!(c.at_multiple(2.0), Some(0.85)); // 100 more keys
        assert_eq!(c.ceiling(), 0.85);
        assert_eq!(
            c.memory_needed(0.8),
            Needed::Bytes(1_000.0 + 21.0 * 10.0 - 10.0 * 0.0)
        );
        assert_eq!(c.memory_needed(0.6), Needed::Bytes(1_000.0));
        assert_eq!(c.memory_needed(0.9), Needed::NotByMemory { ceiling: 0.85 });
    }

    #[test]
    fn a_truncated_span_bounds_what_is_predicted() {
        let l = Lookups {
            hits: 50.0,
            misses: 50.0,
            unfixable_misses: 0.0,
        };
        let span = Span {
            keys: 30.0,
            seconds: 5.0,
            complete: false,
        };
        let c = Curve::new(l, distances(&[(10, 20.0)], 50.0), span, sizing()).unwrap();
        assert_eq!(c.with_extra_keys(30.0), Some(0.7));
        assert_eq!(c.with_extra_keys(31.0), None);
        assert_eq!(c.memory_needed(0.7), Needed::Bytes(1_000.0 + 11.0 * 10.0));
        assert_eq!(c.memory_needed(0.9), Needed::BeyondSpan);
    }

    #[test]
    fn sampled_misses_are_scaled_to_info_misses() {
        // INFO saw 400 misses; the tracked ones weigh 40 with 10 found below 1 key.
        let l = Lookups {
            hits: 600.0,
            misses: 400.0,
            unfixable_misses: 0.0,
        };
        let c = Curve::new(l, distances(&[(0, 10.0)], 40.0), COMPLETE, sizing()).unwrap();
        assert_eq!(c.with_extra_keys(1.0), Some(0.7));
    }

    #[test]
    fn no_curve_without_lookups_or_without_tracked_misses() {
        let none = Lookups {
            hits: 0.0,
            misses: 0.0,
            unfixable_misses: 0.0,
        };
        assert!(Curve::new(none, Distances::default(), COMPLETE, sizing()).is_none());
        let unseen = Lookups {
            misses: 5.0,
            ..none
        };
        assert!(Curve::new(unseen, Distances::default(), COMPLETE, sizing()).is_none());
        let all_hits = Lookups { hits: 5.0, ..none };
        let c = Curve::new(all_hits, Distances::default(), COMPLETE, sizing()).unwrap();
        assert_eq!(c.at_multiple(4.0), Some(1.0));
    }

    #[test]
    fn sizing_from_info_shares_the_data_memory_among_keys() {
        let m = MemoryFigures {
            maxmemory: 8 << 20,
            used_memory: 9_000_000,
            not_counted_for_evict: 1_000_000,
            used_memory_startup: 900_000,
            clients: 100_000,
            keys: 35_000,
        };
        let s = Sizing::from_info(&m).unwrap();
        assert!((s.bytes_per_key - 7_000_000.0 / 35_000.0).abs() < 1e-9);
        assert_eq!(s.extra_keys(s.maxmemory + 400.0), 2.0);
        assert!(Sizing::from_info(&MemoryFigures { maxmemory: 0, ..m }).is_none());
        assert!(Sizing::from_info(&MemoryFigures { keys: 0, ..m }).is_none());
        assert!(Sizing::from_key_bytes(8, f64::NAN).is_none());
    }

    #[test]
    fn the_policy_gate_names_why() {
        assert!(policy_holds("allkeys-lru").is_ok());
        assert!(policy_holds("allkeys-lfu").is_ok());
        let random = policy_holds("allkeys-random").unwrap_err();
        assert!(random.contains("recency"), "{random}");
        let unmeasured = policy_holds("volatile-lfu").unwrap_err();
        assert!(unmeasured.contains("not measured"), "{unmeasured}");
        assert!(policy_holds("noeviction").is_err());
        assert!(policy_holds("something-new").is_err());
    }
}
