//! Miss attribution's pure core: keyspace events in, misses by cause out. Owns the bounded
//! memory of recently removed keys, the classification of `keymiss` events, the per-prefix
//! tally (with the sampler's prefix rules), the `notify-keyspace-events` flags it needs, and
//! the coverage ratio and hit-ratio ceilings per window.
//!
//! Pure: no tokio, no redis, no IO. The subscriber (`crate::client::subscriber`) and its task
//! (`crate::poll::attribution_task`) feed it events; the poller reads its totals at each INFO.
//!
//! A key removed by expiry, eviction or `DEL`/`UNLINK` is remembered (a 64-bit hash of its
//! name, the cause, the time) in a ring of fixed capacity with a hash index; a `keymiss` on a
//! remembered key has that cause, any other `keymiss` is `cold` (never stored, or removed
//! before the memory's horizon, which is exported). A key removed twice keeps its latest cause:
//! that is why it is absent now.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::time::Duration;

use super::derive::{AttributionWindow, Window, WindowStats};
use super::sampler::{Group, Grouper, OTHER};

/// Why a lookup missed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cause {
    /// The key's TTL ran out before it was read (longer TTLs would help).
    Expired,
    /// Redis evicted the key for memory (more memory or another policy would help).
    Evicted,
    /// The application deleted it with `DEL` or `UNLINK` (invalidation too eager?).
    Deleted,
    /// No removal remembered: never stored (cold start, unique keys) or removed before the
    /// horizon of the memory.
    Cold,
}

impl Cause {
    pub const ALL: [Cause; 4] = [Cause::Expired, Cause::Evicted, Cause::Deleted, Cause::Cold];

    pub fn label(self) -> &'static str {
        match self {
            Cause::Expired => "expired",
            Cause::Evicted => "evicted",
            Cause::Deleted => "deleted",
            Cause::Cold => "cold",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The keyspace events subscribed to, one channel each (`__keyevent@<db>__:<event>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    Keymiss,
    Expired,
    Evicted,
    Del,
}

impl Event {
    pub const ALL: [Event; 4] = [Event::Keymiss, Event::Expired, Event::Evicted, Event::Del];

    pub fn label(self) -> &'static str {
        match self {
            Event::Keymiss => "keymiss",
            Event::Expired => "expired",
            Event::Evicted => "evicted",
            Event::Del => "del",
        }
    }

    /// The exact channel of this event in database `db`.
    pub fn channel(self, db: i64) -> String {
        format!("__keyevent@{db}__:{}", self.label())
    }

    /// The event a channel name carries (`__keyevent@0__:expired` → `Expired`).
    pub fn of_channel(channel: &[u8]) -> Option<Event> {
        let at = channel.iter().rposition(|&b| b == b':')?;
        let name = &channel[at + 1..];
        Event::ALL
            .into_iter()
            .find(|e| e.label().as_bytes() == name)
    }

    fn index(self) -> usize {
        self as usize
    }

    /// The cause of a removal event; `None` for `keymiss`.
    fn removal(self) -> Option<Cause> {
        match self {
            Event::Keymiss => None,
            Event::Expired => Some(Cause::Expired),
            Event::Evicted => Some(Cause::Evicted),
            Event::Del => Some(Cause::Deleted),
        }
    }
}

/// The 64-bit hash a key is remembered by. SipHash with fixed keys: stable across runs, and
/// a collision (one in 2^64 per pair) at worst gives one miss the wrong cause.
pub fn key_hash(key: &[u8]) -> u64 {
    let mut h = DefaultHasher::new();
    key.hash(&mut h);
    h.finish()
}

/// A hasher for keys that are already hashes.
#[derive(Default)]
struct Identity(u64);

impl Hasher for Identity {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8) | u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type HashIndex = HashMap<u64, u32, BuildHasherDefault<Identity>>;

/// One remembered removal: 16 bytes.
#[derive(Debug, Clone, Copy)]
struct Slot {
    hash: u64,
    /// Seconds since the monotonic origin (136 years fit).
    at_secs: u32,
    cause: Cause,
}

/// The bounded memory of removed keys: a ring of `capacity` slots (the oldest overwritten
/// first) and an index from hash to slot.
#[derive(Debug)]
pub struct Remembered {
    capacity: usize,
    ring: Vec<Slot>,
    /// Where the next removal is written once the ring is full (then also the oldest slot).
    next: usize,
    index: HashIndex,
}

impl Remembered {
    /// Remembers at most `capacity` keys (at least 1). Memory is allocated as keys come.
    pub fn new(capacity: usize) -> Remembered {
        Remembered {
            capacity: capacity.max(1),
            ring: Vec::new(),
            next: 0,
            index: HashIndex::default(),
        }
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Keys remembered now (distinct hashes).
    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Bytes the memory takes once `capacity` keys are remembered: 16 per ring slot, and the
    /// index's table (a power of two of buckets at most 7/8 full, a 16-byte entry and one
    /// control byte each). Divided by `capacity`: 35 to 55 bytes per key, by where the
    /// capacity falls between two powers of two (38 for the default 200 000).
    pub fn bytes_for(capacity: usize) -> usize {
        let buckets = (capacity.max(1) * 8).div_ceil(7).next_power_of_two();
        let entry = std::mem::size_of::<(u64, u32)>();
        capacity * std::mem::size_of::<Slot>() + buckets * (entry + 1)
    }

    /// Records that the key with `hash` was removed for `cause` at `at`.
    pub fn remember(&mut self, hash: u64, cause: Cause, at: Duration) {
        let slot = Slot {
            hash,
            at_secs: u32::try_from(at.as_secs()).unwrap_or(u32::MAX),
            cause,
        };
        let pos = if self.ring.len() < self.capacity {
            self.ring.push(slot);
            self.ring.len() - 1
        } else {
            let pos = self.next;
            let old = self.ring[pos].hash;
            // The oldest slot's key is forgotten unless a later removal moved it elsewhere.
            if self.index.get(&old) == Some(&(pos as u32)) {
                self.index.remove(&old);
            }
            self.ring[pos] = slot;
            self.next = (pos + 1) % self.capacity;
            pos
        };
        self.index.insert(hash, pos as u32);
    }

    /// The cause of the key's latest remembered removal.
    pub fn cause_of(&self, hash: u64) -> Option<Cause> {
        self.index.get(&hash).map(|&i| self.ring[i as usize].cause)
    }

    /// How far back the memory reaches at `now`: the age of its oldest slot (`None` empty).
    pub fn horizon(&self, now: Duration) -> Option<Duration> {
        let oldest = if self.ring.len() < self.capacity {
            self.ring.first()?
        } else {
            &self.ring[self.next]
        };
        Some(now.saturating_sub(Duration::from_secs(u64::from(oldest.at_secs))))
    }
}

/// What one event meant, handed to an observer (the ghost list of evicted keys builds on it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Classified {
    /// A key was removed; `seq` numbers removals of each cause from 1 (for evictions: the
    /// eviction sequence number).
    Removed { hash: u64, cause: Cause, seq: u64 },
    /// An application lookup missed, for `cause`.
    Miss { hash: u64, cause: Cause },
    /// A miss the exporter's own sampler caused; not attributed.
    OwnMiss { hash: u64 },
}

/// Receives every classified event.
pub type Observer = Box<dyn FnMut(&Classified) + Send>;

/// Most distinct prefixes tallied; misses of further prefixes count in `(other)` only, so a
/// key space whose prefixes are unique stays bounded.
pub const MAX_TRACKED_PREFIXES: usize = 1000;

/// Most pending own misses of the sampler (a sampler cycle's misses are keys that expired
/// between SCAN and PTTL: few); older ones are dropped.
const MAX_OWN_PENDING: usize = 4096;

/// Misses per prefix and cause. The top K prefixes by misses are exported by name; misses of
/// the others count in `(other)` from the moment they happen, so every exported series only
/// grows: a prefix entering the top K appears with its whole count, one leaving it disappears
/// and its later misses go to `(other)`.
#[derive(Debug)]
struct PrefixMisses {
    top_k: usize,
    /// By a hash of the group (no label built per miss): its label, counts, and whether named.
    groups: HashMap<u64, PrefixTally, BuildHasherDefault<Identity>>,
    /// Prefixes named now.
    named: usize,
    other: [u64; 4],
}

#[derive(Debug)]
struct PrefixTally {
    label: String,
    counts: [u64; 4],
    named: bool,
}

impl PrefixMisses {
    fn add(&mut self, group: Group, cause: Cause) {
        let i = cause.index();
        let mut h = DefaultHasher::new();
        group.hash(&mut h);
        let id = h.finish();
        if let Some(t) = self.groups.get_mut(&id) {
            t.counts[i] += 1;
            if !t.named {
                self.other[i] += 1;
            }
            return;
        }
        // While fewer than K are named, a new prefix is named at once.
        let named = self.named < self.top_k;
        if !named {
            self.other[i] += 1;
        }
        if self.groups.len() < MAX_TRACKED_PREFIXES {
            let mut counts = [0; 4];
            counts[i] = 1;
            let label = group.label();
            self.groups.insert(
                id,
                PrefixTally {
                    label,
                    counts,
                    named,
                },
            );
            self.named += usize::from(named);
        }
    }

    /// Names the top K prefixes by misses (ties by label).
    fn rank(&mut self) {
        let mut order: Vec<(&String, u64, u64)> = self
            .groups
            .iter()
            .map(|(id, t)| (&t.label, t.counts.iter().sum(), *id))
            .collect();
        order.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        let named: HashSet<u64> = order.iter().take(self.top_k).map(|o| o.2).collect();
        for (id, t) in &mut self.groups {
            t.named = named.contains(id);
        }
        self.named = named.len();
    }

    fn series(&self) -> Vec<(String, [u64; 4])> {
        let mut out: Vec<(String, [u64; 4])> = self
            .groups
            .values()
            .filter(|t| t.named)
            .map(|t| (t.label.clone(), t.counts))
            .collect();
        out.sort();
        if self.other.iter().any(|n| *n > 0) {
            out.push((OTHER.to_string(), self.other));
        }
        out
    }
}

/// The cumulative counts of one target's attribution.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Application misses by cause, in [`Cause::ALL`] order.
    pub attributed: [u64; 4],
    /// Events received, in [`Event::ALL`] order.
    pub events: [u64; 4],
    /// `keymiss` events of the sampler's own lookups (not attributed).
    pub own_misses: u64,
}

impl Counts {
    /// All attributed misses.
    pub fn attributed_total(&self) -> u64 {
        self.attributed.iter().sum()
    }

    pub fn attributed(&self, cause: Cause) -> u64 {
        self.attributed[cause.index()]
    }

    pub fn events(&self, event: Event) -> u64 {
        self.events[event.index()]
    }
}

/// One target's attribution state.
pub struct Attribution {
    remembered: Remembered,
    grouper: Grouper,
    prefixes: PrefixMisses,
    counts: Counts,
    /// Removals per cause so far (the `seq` of [`Classified::Removed`]).
    removals: [u64; 4],
    /// Hashes of keys the sampler's lookups missed, not yet matched with their `keymiss`.
    own_pending: VecDeque<u64>,
    observer: Option<Observer>,
}

impl std::fmt::Debug for Attribution {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attribution")
            .field("remembered", &self.remembered.len())
            .field("counts", &self.counts)
            .finish()
    }
}

impl Attribution {
    /// Remembers up to `capacity` removed keys; groups misses by the sampler's prefix rules
    /// (`separator`, `depth`, `patterns`), the `top_k` prefixes by name.
    pub fn new(
        capacity: usize,
        separator: &str,
        depth: usize,
        patterns: &[String],
        top_k: usize,
    ) -> Attribution {
        Attribution {
            remembered: Remembered::new(capacity),
            grouper: Grouper::new(separator, depth, patterns),
            prefixes: PrefixMisses {
                top_k,
                groups: HashMap::default(),
                named: 0,
                other: [0; 4],
            },
            counts: Counts::default(),
            removals: [0; 4],
            own_pending: VecDeque::new(),
            observer: None,
        }
    }

    /// Sets the function every classified event is handed to.
    pub fn set_observer(&mut self, observer: Observer) {
        self.observer = Some(observer);
    }

    /// The sampler's lookup of the key with `hash` missed: its `keymiss` is the exporter's own.
    pub fn own_miss(&mut self, hash: u64) {
        if self.own_pending.len() >= MAX_OWN_PENDING {
            self.own_pending.pop_front();
        }
        self.own_pending.push_back(hash);
    }

    /// Classifies one event on `key` received at `at` (monotonic).
    pub fn on_event(&mut self, event: Event, key: &[u8], at: Duration) -> Classified {
        self.counts.events[event.index()] += 1;
        let hash = key_hash(key);
        let classified = match event.removal() {
            Some(cause) => {
                self.remembered.remember(hash, cause, at);
                self.removals[cause.index()] += 1;
                Classified::Removed {
                    hash,
                    cause,
                    seq: self.removals[cause.index()],
                }
            }
            None => {
                if let Some(i) = self.own_pending.iter().position(|h| *h == hash) {
                    self.own_pending.remove(i);
                    self.counts.own_misses += 1;
                    Classified::OwnMiss { hash }
                } else {
                    let cause = self.remembered.cause_of(hash).unwrap_or(Cause::Cold);
                    self.counts.attributed[cause.index()] += 1;
                    self.prefixes.add(self.grouper.group_of(key), cause);
                    Classified::Miss { hash, cause }
                }
            }
        };
        if let Some(o) = &mut self.observer {
            o(&classified);
        }
        classified
    }

    pub fn counts(&self) -> Counts {
        self.counts
    }

    pub fn remembered(&self) -> &Remembered {
        &self.remembered
    }

    /// Re-ranks the prefixes and returns their series: the top K by name, then `(other)`.
    pub fn prefix_series(&mut self) -> Vec<(String, [u64; 4])> {
        self.prefixes.rank();
        self.prefixes.series()
    }
}

/// The `notify-keyspace-events` classes attribution needs: `E` (keyevent channels), `g`
/// (`del`), `x` (`expired`), `e` (`evicted`), `m` (`keymiss`, Redis 6.0+).
pub const NEEDED_FLAGS: &str = "Egxem";

/// The flags of [`NEEDED_FLAGS`] missing from a `notify-keyspace-events` value. `A` stands for
/// `g$lshzxetd` (not `m`, nor `n`).
pub fn missing_flags(current: &str) -> String {
    let mut have: String = current.to_string();
    if current.contains('A') {
        have.push_str("g$lshzxetd");
    }
    NEEDED_FLAGS
        .chars()
        .filter(|c| !have.contains(*c))
        .collect()
}

/// The value that adds `missing` to `current`, keeping every flag already set.
pub fn with_flags(current: &str, missing: &str) -> String {
    format!("{current}{missing}")
}

/// The cause a hit-ratio ceiling removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Without {
    Evictions,
    Expirations,
    Deletions,
}

impl Without {
    pub const ALL: [Without; 3] = [Without::Evictions, Without::Expirations, Without::Deletions];

    pub fn label(self) -> &'static str {
        match self {
            Without::Evictions => "evictions",
            Without::Expirations => "expirations",
            Without::Deletions => "deletions",
        }
    }

    /// The cause whose misses this ceiling counts as hits.
    pub fn cause(self) -> Cause {
        match self {
            Without::Evictions => Cause::Evicted,
            Without::Expirations => Cause::Expired,
            Without::Deletions => Cause::Deleted,
        }
    }
}

/// Attributed totals at each poll, so a window's attributed misses are the difference of two
/// points chosen exactly as [`crate::core::derive::History`] chooses its own (same times, same
/// tolerance): the window's keyspace misses and hits come from there, reset-safe.
#[derive(Debug, Clone)]
pub struct AttributionHistory {
    points: VecDeque<(Duration, [u64; 4])>,
    tolerance: Duration,
}

impl AttributionHistory {
    /// `tolerance` as the target's `History` has it (half the poll interval).
    pub fn new(tolerance: Duration) -> AttributionHistory {
        AttributionHistory {
            points: VecDeque::new(),
            tolerance,
        }
    }

    /// Adds the attributed totals read with the INFO of the poll at `at`, and derives each
    /// window that `stats` (the same poll's derivation) has.
    pub fn observe(
        &mut self,
        at: Duration,
        attributed: [u64; 4],
        stats: &[WindowStats],
    ) -> Vec<AttributionWindow> {
        let at = self.points.back().map_or(at, |p| p.0.max(at));
        self.points.push_back((at, attributed));
        let keep = Window::M15.duration() + self.tolerance;
        while self
            .points
            .front()
            .is_some_and(|p| at.saturating_sub(p.0) > keep)
        {
            self.points.pop_front();
        }
        stats.iter().filter_map(|s| self.window(s)).collect()
    }

    fn window(&self, s: &WindowStats) -> Option<AttributionWindow> {
        let now = self.points.back()?;
        let start = now.0.saturating_sub(s.window.duration() + self.tolerance);
        let base = self.points.iter().find(|p| p.0 >= start)?;
        let mut attributed = [0u64; 4];
        for (i, a) in attributed.iter_mut().enumerate() {
            // Our own counters never go down; saturating for safety all the same.
            *a = now.1[i].saturating_sub(base.1[i]);
        }
        Some(window_values(s, attributed))
    }
}

/// Coverage and ceilings of a window from its attributed misses and its INFO deltas.
pub fn window_values(s: &WindowStats, attributed: [u64; 4]) -> AttributionWindow {
    let total: u64 = attributed.iter().sum();
    let coverage = s.misses.filter(|m| *m > 0).map(|m| total as f64 / m as f64);
    let ceilings = match (s.hits, s.misses) {
        (Some(hits), Some(misses)) => ceilings(hits, misses, attributed),
        _ => [None; 3],
    };
    AttributionWindow {
        window: s.window,
        attributed,
        coverage,
        ceilings,
    }
}

/// The hit ratio had the misses of one cause been hits, in [`Without::ALL`] order, from a
/// period's keyspace `hits` and `misses` and its `attributed` misses; `None` without lookups.
pub fn ceilings(hits: u64, misses: u64, attributed: [u64; 4]) -> [Option<f64>; 3] {
    let lookups = hits.saturating_add(misses);
    Without::ALL.map(|w| {
        let lifted = attributed[w.cause().index()].min(misses);
        (lookups > 0).then(|| (hits + lifted) as f64 / lookups as f64)
    })
}

/// What a target's attribution shows on /metrics (published by its task).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AttributionStatus {
    /// Subscribed, with the needed flags set (or not verifiable: CONFIG refused).
    pub active: bool,
    /// The needed flags the server lacks (empty when none, or unknown).
    pub missing_flags: String,
    pub counts: Counts,
    /// The top prefixes and `(other)`: misses per cause in [`Cause::ALL`] order.
    pub prefixes: Vec<(String, [u64; 4])>,
    pub remembered_keys: u64,
    pub remembered_capacity: u64,
    /// Age of the oldest remembered removal; `None` while nothing is remembered.
    pub horizon: Option<Duration>,
    /// Subscriber connections lost (killed, output buffer limit, restart, failover).
    pub disconnects_total: u64,
}

impl Attribution {
    /// The status as of `now`, for /metrics.
    pub fn status(
        &mut self,
        now: Duration,
        active: bool,
        missing: &str,
        disconnects: u64,
    ) -> AttributionStatus {
        AttributionStatus {
            active,
            missing_flags: missing.to_string(),
            counts: self.counts,
            prefixes: self.prefix_series(),
            remembered_keys: self.remembered.len() as u64,
            remembered_capacity: self.remembered.capacity() as u64,
            horizon: self.remembered.horizon(now),
            disconnects_total: disconnects,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    fn attribution(capacity: usize, top_k: usize) -> Attribution {
        Attribution::new(capacity, ":", 1, &[], top_k)
    }

    #[test]
    fn channels_and_events() {
        assert_eq!(Event::Keymiss.channel(0), "__keyevent@0__:keymiss");
        assert_eq!(Event::Del.channel(3), "__keyevent@3__:del");
        for e in Event::ALL {
            assert_eq!(Event::of_channel(e.channel(7).as_bytes()), Some(e));
        }
        assert_eq!(Event::of_channel(b"__keyevent@0__:set"), None);
        assert_eq!(Event::of_channel(b"nochannel"), None);
    }

    #[test]
    fn a_miss_takes_the_cause_of_the_latest_removal() {
        let mut a = attribution(100, 10);
        a.on_event(Event::Expired, b"user:1", secs(1));
        a.on_event(Event::Evicted, b"user:2", secs(1));
        a.on_event(Event::Del, b"sess:3", secs(2));
        a.on_event(Event::Expired, b"sess:4", secs(2));
        a.on_event(Event::Del, b"sess:4", secs(3));
        let miss = |a: &mut Attribution, k: &[u8]| match a.on_event(Event::Keymiss, k, secs(4)) {
            Classified::Miss { cause, .. } => cause,
            other => panic!("{other:?}"),
        };
        assert_eq!(miss(&mut a, b"user:1"), Cause::Expired);
        assert_eq!(miss(&mut a, b"user:2"), Cause::Evicted);
        assert_eq!(miss(&mut a, b"sess:3"), Cause::Deleted);
        assert_eq!(miss(&mut a, b"sess:4"), Cause::Deleted);
        assert_eq!(miss(&mut a, b"user:9"), Cause::Cold);
        // A second read of a key still absent has the same cause.
        assert_eq!(miss(&mut a, b"user:1"), Cause::Expired);
        let c = a.counts();
        assert_eq!(c.attributed, [2, 1, 2, 1]);
        assert_eq!(c.events, [6, 2, 1, 2]);
        assert_eq!(c.attributed_total(), 6);
    }

    #[test]
    fn the_memory_is_bounded_and_forgets_the_oldest() {
        let mut r = Remembered::new(3);
        assert_eq!(r.horizon(secs(5)), None);
        for (i, k) in [b"a", b"b", b"c", b"d"].iter().enumerate() {
            r.remember(key_hash(*k), Cause::Evicted, secs(10 + i as u64));
        }
        assert_eq!(r.len(), 3);
        assert_eq!(r.cause_of(key_hash(b"a")), None, "the oldest is forgotten");
        assert_eq!(r.cause_of(key_hash(b"d")), Some(Cause::Evicted));
        assert_eq!(r.horizon(secs(20)), Some(secs(9)), "oldest is b at 11 s");
        // A key removed again moves; overwriting its old slot does not forget it.
        r.remember(key_hash(b"b"), Cause::Expired, secs(14));
        r.remember(key_hash(b"e"), Cause::Expired, secs(15));
        assert_eq!(r.cause_of(key_hash(b"b")), Some(Cause::Expired));
        assert!(r.len() <= 3);
        let mut big = Remembered::new(1000);
        for i in 0..100_000u32 {
            big.remember(key_hash(&i.to_le_bytes()), Cause::Expired, secs(1));
        }
        assert_eq!(big.len(), 1000);
        assert_eq!(std::mem::size_of::<Slot>(), 16);
        // 200 000 keys: 3.2 MB of ring, 262 144 buckets of 17 bytes.
        assert_eq!(Remembered::bytes_for(200_000), 3_200_000 + 262_144 * 17);
    }

    #[test]
    fn the_samplers_own_misses_are_not_attributed() {
        let mut a = attribution(10, 10);
        a.on_event(Event::Expired, b"k:1", secs(1));
        a.own_miss(key_hash(b"k:1"));
        assert_eq!(
            a.on_event(Event::Keymiss, b"k:1", secs(1)),
            Classified::OwnMiss {
                hash: key_hash(b"k:1")
            }
        );
        // Only once: the application's own miss on the same key is attributed.
        assert!(matches!(
            a.on_event(Event::Keymiss, b"k:1", secs(2)),
            Classified::Miss {
                cause: Cause::Expired,
                ..
            }
        ));
        assert_eq!(a.counts().own_misses, 1);
        assert_eq!(a.counts().attributed_total(), 1);
        for i in 0..(MAX_OWN_PENDING as u64 + 10) {
            a.own_miss(i);
        }
        assert_eq!(a.own_pending.len(), MAX_OWN_PENDING);
    }

    #[test]
    fn removals_are_numbered_and_observed() {
        use std::sync::{Arc, Mutex};
        let seen = Arc::new(Mutex::new(Vec::new()));
        let mut a = attribution(10, 10);
        let s = seen.clone();
        a.set_observer(Box::new(move |c| s.lock().unwrap().push(*c)));
        a.on_event(Event::Evicted, b"x", secs(1));
        a.on_event(Event::Evicted, b"y", secs(1));
        a.on_event(Event::Keymiss, b"x", secs(2));
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 3);
        assert!(matches!(
            seen[1],
            Classified::Removed {
                seq: 2,
                cause: Cause::Evicted,
                ..
            }
        ));
        assert!(matches!(
            seen[2],
            Classified::Miss {
                cause: Cause::Evicted,
                ..
            }
        ));
    }

    #[test]
    fn prefixes_top_k_and_other_only_grow() {
        let mut a = attribution(100, 2);
        for (k, n) in [("a:1", 5), ("b:1", 3), ("c:1", 1)] {
            for _ in 0..n {
                a.on_event(Event::Keymiss, k.as_bytes(), secs(1));
            }
        }
        let s = a.prefix_series();
        let names: Vec<&str> = s.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(names, ["a:*", "b:*", OTHER]);
        assert_eq!(s[0].1, [0, 0, 0, 5]);
        // The first K prefixes are named as they come.
        assert_eq!(s[2].1, [0, 0, 0, 1]);
        // c overtakes b: b's series disappears, c's appears whole, (other) keeps growing.
        for _ in 0..4 {
            a.on_event(Event::Keymiss, b"c:2", secs(2));
        }
        let s2 = a.prefix_series();
        let names: Vec<&str> = s2.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(names, ["a:*", "c:*", OTHER]);
        assert_eq!(s2[1].1, [0, 0, 0, 5]);
        assert_eq!(s2[2].1, [0, 0, 0, 5]);
        a.on_event(Event::Keymiss, b"b:2", secs(3));
        assert_eq!(a.prefix_series()[2].1, [0, 0, 0, 6]);
    }

    #[test]
    fn unique_prefixes_stay_bounded() {
        let mut a = attribution(10, 5);
        for i in 0..(MAX_TRACKED_PREFIXES + 500) {
            a.on_event(Event::Keymiss, format!("p{i}:x").as_bytes(), secs(1));
        }
        assert_eq!(a.prefixes.groups.len(), MAX_TRACKED_PREFIXES);
        assert_eq!(a.prefix_series().len(), 6);
    }

    #[test]
    fn flags_missing_and_added() {
        assert_eq!(missing_flags(""), "Egxem");
        assert_eq!(missing_flags("AE"), "m");
        assert_eq!(missing_flags("KEA"), "m");
        assert_eq!(missing_flags("Egxem"), "");
        assert_eq!(missing_flags("Ex"), "gem");
        assert_eq!(with_flags("Kl", "Egxem"), "KlEgxem");
    }

    fn stats(window: Window, hits: u64, misses: u64) -> WindowStats {
        WindowStats {
            window,
            covered: secs(60),
            hit_ratio: None,
            lookups_per_second: None,
            evictions: None,
            expirations: None,
            hits: Some(hits),
            misses: Some(misses),
        }
    }

    #[test]
    fn coverage_and_ceilings_per_window() {
        let mut h = AttributionHistory::new(secs(7));
        assert!(h.observe(secs(0), [0; 4], &[]).is_empty());
        // 900 hits, 100 misses: 60 expired, 30 evicted, 5 deleted, 3 cold, 2 lost.
        let w = h.observe(
            secs(15),
            [60, 30, 5, 3],
            &[stats(Window::M1, 900, 100), stats(Window::M5, 900, 100)],
        );
        assert_eq!(w.len(), 2);
        assert_eq!(w[0].attributed, [60, 30, 5, 3]);
        assert_eq!(w[0].coverage, Some(0.98));
        assert_eq!(w[0].ceilings, [Some(0.93), Some(0.96), Some(0.905)]);
        // No misses: no coverage; no lookups: no ceilings.
        let w = window_values(&stats(Window::M1, 10, 0), [0; 4]);
        assert_eq!((w.coverage, w.ceilings[0]), (None, Some(1.0)));
        let w = window_values(&stats(Window::M1, 0, 0), [0; 4]);
        assert_eq!(w.ceilings, [None, None, None]);
        // More attributed than INFO counted (events read after INFO): the ceiling stays ≤ 1.
        let w = window_values(&stats(Window::M1, 0, 10), [0, 12, 0, 0]);
        assert_eq!(w.ceilings[0], Some(1.0));
    }

    #[test]
    fn windows_use_their_own_base_point() {
        let mut h = AttributionHistory::new(secs(7));
        for i in 0..=8u64 {
            h.observe(secs(i * 15), [i * 10, 0, 0, 0], &[]);
        }
        let w = h.observe(secs(135), [100, 0, 0, 0], &[stats(Window::M1, 0, 40)]);
        // The 1m window starts at the point of 75 s (50): 50 attributed.
        assert_eq!(w[0].attributed[0], 50);
        assert_eq!(w[0].coverage, Some(1.25));
    }
}
