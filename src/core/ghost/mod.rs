//! Memory sizing from evictions: the ghost list of evicted keys, the stack distance of a miss on
//! one, and the hit ratio a cache with more memory would have had ([`curve`]).
//!
//! Under LRU, a cache of C + k keys holds the C keys of a cache of C plus the k keys the
//! smaller one evicted most recently and that were not asked for since (the LRU stack of
//! Mattson et al., 1970). So a miss on an evicted key is a hit with k more keys exactly when
//! fewer than k keys still in the ghost list were evicted after it: that count is its
//! *distance*. A key that is asked for (missed, then written back by cache-aside), written or
//! deleted leaves the ghost list: it is back in the cache, or gone on purpose.
//!
//! Memory stays under a budget whatever the cache's size: when the list is full, only keys
//! whose hash falls under a threshold are tracked (spatial sampling, as in SHARDS, Waldspurger
//! et al., FAST 2015); the threshold halves each time the list fills again, and distances and
//! misses are scaled by the inverse of the rate.
//!
//! Pure: no IO, no tokio, no redis. Keys come in as 64-bit hashes the caller computes; times as
//! a monotonic offset like [`crate::core::derive`]'s.

pub mod curve;
mod histogram;
mod list;
pub mod lru;
pub mod predict;

use std::time::Duration;

use crate::core::attribution::{Cause, Classified};
use histogram::Buckets;
pub use histogram::Distances;
use list::GhostList;

/// Sampling thresholds are out of this many hash values.
const MODULUS: u64 = 1 << 24;
/// The lowest sampling rate (1 key in 65 536); below it the list drops its oldest entries.
const MIN_THRESHOLD: u64 = MODULUS >> 16;

/// The memory a target's model may hold, when not configured: about 32 MiB.
pub const DEFAULT_BUDGET_BYTES: usize = 32 << 20;

/// How far distances are worth tracking, in multiples of the keys the cache holds: the
/// largest size predicted is 4× maxmemory, and `memory_needed` looks somewhat further.
const USEFUL_SPAN: f64 = 8.0;

/// How a model is set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Heap bytes the model may hold (list and histograms).
    pub budget_bytes: usize,
    /// Width of one histogram bucket.
    pub bucket: Duration,
    /// How long buckets are kept (the longest window).
    pub retention: Duration,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            budget_bytes: DEFAULT_BUDGET_BYTES,
            bucket: Duration::from_secs(10),
            retention: Duration::from_secs(900),
        }
    }
}

/// How far back the ghost list reaches.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Span {
    /// Evicted keys it stands for (entries over the sampling rate).
    pub keys: f64,
    /// Seconds since the eviction of its oldest entry (0 when empty).
    pub seconds: f64,
    /// Whether it still holds every (sampled) key evicted and not asked for since: then a key
    /// not in it was never evicted, and predictions hold beyond `keys`.
    pub complete: bool,
}

/// The model of one target.
#[derive(Debug, Clone)]
pub struct Ghost {
    list: GhostList,
    buckets: Buckets,
    threshold: u64,
    /// Largest useful span in keys, once the keys held are known.
    useful_span: Option<f64>,
    /// Entries were dropped for room (not for sampling): the span is a limit.
    truncated: bool,
    /// Bytes set aside for the histograms.
    histogram_bytes: usize,
    budget: usize,
}

/// Bytes set aside for the histograms of a retention: a bucket's bins reach distances of 2^33
/// (1 100 bins of 8 bytes) in the worst case; most stay far smaller.
fn histogram_allowance(settings: &Settings) -> usize {
    let buckets = settings.retention.as_secs() / settings.bucket.as_secs().max(1) + 2;
    buckets as usize * (1_100 * 8 + 64)
}

/// A bijective mix of the caller's hash, so that sampling by threshold is uniform even when
/// the caller's hash is not (the finalizer of splitmix64).
fn mix(mut h: u64) -> u64 {
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

fn secs(at: Duration) -> u64 {
    at.as_secs()
}

impl Ghost {
    pub fn new(settings: Settings) -> Ghost {
        let histogram_bytes = histogram_allowance(&settings);
        let for_list = settings.budget_bytes.saturating_sub(histogram_bytes);
        Ghost {
            list: GhostList::for_budget(for_list),
            buckets: Buckets::new(secs(settings.bucket), secs(settings.retention)),
            threshold: MODULUS,
            useful_span: None,
            truncated: false,
            histogram_bytes,
            budget: settings.budget_bytes,
        }
    }

    /// The fraction of keys tracked (1 until the list first fills).
    pub fn sampling_rate(&self) -> f64 {
        self.threshold as f64 / MODULUS as f64
    }

    fn sampled(&self, mixed: u64) -> bool {
        mixed % MODULUS < self.threshold
    }

    /// The keys the cache holds (from INFO keyspace), which bounds how far distances are worth
    /// tracking: entries beyond [`USEFUL_SPAN`] times as many are dropped before the sampling
    /// rate is lowered.
    pub fn set_keys_held(&mut self, keys: u64) {
        self.useful_span = (keys > 0).then_some(keys as f64 * USEFUL_SPAN);
    }

    /// A key was evicted at `at`: it becomes the most recently evicted entry.
    pub fn on_evicted(&mut self, key_hash: u64, at: Duration) {
        let mixed = mix(key_hash);
        if !self.sampled(mixed) {
            return;
        }
        if self.list.is_full() {
            self.make_room();
            if !self.sampled(mixed) {
                return;
            }
        }
        let at = u32::try_from(secs(at)).unwrap_or(u32::MAX);
        self.list.push(mixed, at);
    }

    /// Room for one entry: past the useful span the oldest entry goes; otherwise the sampling
    /// rate halves (the floor reached, the oldest goes and the span becomes a limit).
    fn make_room(&mut self) {
        let span = self.list.len() as f64 / self.sampling_rate();
        let beyond_use = self.useful_span.is_some_and(|u| span > u);
        if beyond_use || self.threshold <= MIN_THRESHOLD {
            self.list.drop_oldest();
            self.truncated = true;
            return;
        }
        self.threshold /= 2;
        let threshold = self.threshold;
        self.list.pack(|h| h % MODULUS < threshold);
    }

    /// A lookup of a key missed at `at`. A key in the ghost list leaves it (cache-aside writes
    /// it back) and its distance, in keys (scaled by the sampling rate), is returned and
    /// counted; every miss on a tracked key counts in the window's misses.
    pub fn on_miss(&mut self, key_hash: u64, at: Duration) -> Option<u64> {
        let mixed = mix(key_hash);
        if !self.sampled(mixed) {
            return None;
        }
        let rate = self.sampling_rate();
        let distance = self.list.remove(mixed).map(|d| (d as f64 / rate) as u64);
        let bucket = self.buckets.at(secs(at));
        bucket.misses += 1.0 / rate;
        if let Some(d) = distance {
            bucket.add(d, 1.0 / rate);
        }
        distance
    }

    /// A key was written or deleted without a miss being seen: it leaves the ghost list.
    pub fn on_removed(&mut self, key_hash: u64) {
        self.list.remove(mix(key_hash));
    }

    /// An event as miss attribution classified it (same key hash): an eviction joins the
    /// list, an expiry or deletion leaves it, an application miss is looked up in it.
    pub fn on_classified(&mut self, c: &Classified, at: Duration) {
        match *c {
            Classified::Removed {
                hash,
                cause: Cause::Evicted,
                ..
            } => self.on_evicted(hash, at),
            Classified::Removed { hash, .. } => self.on_removed(hash),
            Classified::Miss { hash, .. } => {
                self.on_miss(hash, at);
            }
            // The sampler's own lookup: not in INFO's lookups the curve scales by, and
            // nothing writes the key back.
            Classified::OwnMiss { .. } => {}
        }
    }

    /// The distances of the misses seen from `since` on (by bucket: a bucket that ends after
    /// `since` counts whole).
    pub fn distances(&self, since: Duration) -> Distances {
        self.buckets.since(secs(since))
    }

    /// How far back the ghost list reaches at `now`.
    pub fn span(&mut self, now: Duration) -> Span {
        let oldest = self.list.oldest_time();
        Span {
            keys: self.list.len() as f64 / self.sampling_rate(),
            seconds: oldest
                .map_or(0.0, |t| now.as_secs_f64() - f64::from(t))
                .max(0.0),
            complete: !self.truncated,
        }
    }

    /// The curve of the window from `since` to `now`, given INFO's lookups over the same window
    /// and the key cost; `None` as [`curve::Curve::new`] says.
    pub fn curve(
        &mut self,
        now: Duration,
        since: Duration,
        lookups: curve::Lookups,
        sizing: curve::Sizing,
    ) -> Option<curve::Curve> {
        let span = self.span(now);
        curve::Curve::new(lookups, self.distances(since), span, sizing)
    }

    /// Heap bytes held now (the list's tables and slots at their capacity, the histograms).
    pub fn heap_bytes(&self) -> usize {
        self.list.heap_bytes() + self.buckets.heap_bytes()
    }

    /// The budget the model was given, and the part of it kept for histograms.
    pub fn budget_bytes(&self) -> (usize, usize) {
        (self.budget, self.histogram_bytes)
    }
}

#[cfg(test)]
mod tests;
