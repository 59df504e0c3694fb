//! Derivation: cache-health values computed from a short history of [`Sample`]s.
//!
//! Pure: no IO, no tokio, no redis imports. Time is passed in as a monotonic offset
//! ([`Duration`] since an arbitrary origin), so wall-clock jumps cannot produce negative rates and
//! tests control time exactly.
//!
//! Counter resets follow Prometheus's `rate()`: when a counter goes down, or the server restarted
//! (new `run_id`, or lower `uptime_in_seconds`), the counter is taken to have restarted from zero,
//! so the increase across the reset is the new value. Each observation adds its increase to a
//! running, never-decreasing total per counter; a window's increase is the difference of two
//! totals, so a window that spans a reset counts what happened on both sides of it.

use std::time::Duration;

use crate::core::info::Sample;
use crate::core::ring::{COUNTERS, Entry, Ring};
use crate::core::sampler::Lookups;

/// The windows the exporter reports, as in `redis_cache_hit_ratio{window="5m"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    M1,
    M5,
    M15,
}

impl Window {
    pub const ALL: [Window; 3] = [Window::M1, Window::M5, Window::M15];

    pub fn label(self) -> &'static str {
        match self {
            Window::M1 => "1m",
            Window::M5 => "5m",
            Window::M15 => "15m",
        }
    }

    pub fn duration(self) -> Duration {
        Duration::from_secs(match self {
            Window::M1 => 60,
            Window::M5 => 300,
            Window::M15 => 900,
        })
    }
}

/// Counters tracked over time, in this order.
const HITS: usize = 0;
const MISSES: usize = 1;
const EVICTED: usize = 2;
const EXPIRED: usize = 3;

fn counters(s: &Sample) -> [Option<u64>; COUNTERS] {
    [
        s.keyspace_hits,
        s.keyspace_misses,
        s.evicted_keys,
        s.expired_keys,
    ]
}

/// What was seen last, to detect resets.
#[derive(Debug, Clone, Default)]
struct Last {
    run_id: Option<String>,
    uptime: Option<u64>,
    raw: [Option<u64>; COUNTERS],
    /// The exporter's own lookups at the last observation.
    own: Option<Lookups>,
}

/// The history ring of one target.
#[derive(Debug, Clone)]
pub struct History {
    points: Ring,
    last: Last,
    totals: [u64; COUNTERS],
    /// How far a window's start may be missed when choosing its first point (half the poll
    /// interval: the point closest to the window's start, from either side, is taken).
    tolerance: Duration,
    /// Points reserved at the first one: as many as the longest window holds at the poll
    /// interval, when it is known (0: the ring grows as needed).
    room: usize,
    resets: u64,
}

/// Values over one window. Absent values are `None` (no hit ratio without lookups).
#[derive(Debug, Clone, PartialEq)]
pub struct WindowStats {
    pub window: Window,
    /// How much time the values cover (less than the window while history is short).
    pub covered: Duration,
    pub hit_ratio: Option<f64>,
    pub lookups_per_second: Option<f64>,
    pub evictions: Option<u64>,
    pub expirations: Option<u64>,
    /// Keyspace hits during the window.
    pub hits: Option<u64>,
    /// Keyspace misses during the window.
    pub misses: Option<u64>,
}

/// Miss attribution's coverage and ceilings over one window (computed in
/// `core::attribution` from the attributed totals and this window's [`WindowStats`]).
#[derive(Debug, Clone, PartialEq)]
pub struct AttributionWindow {
    pub window: Window,
    /// Misses attributed in the window, in the order expired, evicted, deleted, cold.
    pub attributed: [u64; 4],
    /// Attributed misses over the application's keyspace misses (INFO, the sampler's own
    /// taken out); `None` without misses.
    pub coverage: Option<f64>,
    /// The hit ratio had the misses of one cause been hits, without evictions, expirations
    /// and deletions in this order; `None` without lookups.
    pub ceilings: [Option<f64>; 3],
}

/// Memory sizing's prediction over one window (computed in `core::ghost` from the ghost
/// list's distances and this window's [`WindowStats`]); only under a policy where it was shown
/// to hold.
#[derive(Debug, Clone, PartialEq)]
pub struct SizingWindow {
    pub window: Window,
    /// The window's hit ratio, as the curve starts from it.
    pub current: f64,
    /// The best any memory could do: the misses no memory fixes (cold, expired, deleted) stay.
    pub ceiling: f64,
    /// Those misses' share of all the window's misses (0 without misses).
    pub unfixable_share: f64,
    pub maxmemory: f64,
    /// The predicted hit ratio at 1.5×, 2× and 4× maxmemory (`core::ghost::curve`'s
    /// `MEMORY_MULTIPLES`); `None` beyond what the ghost list covers.
    pub predicted: [Option<f64>; 3],
    /// The smallest maxmemory predicted to reach 0.9, 0.95 and 0.99 (`TARGET_RATIOS`); `None`
    /// above the ceiling or beyond what the ghost list covers.
    pub needed: [Option<f64>; 3],
}

/// Memory sizing's state for a target with miss attribution: the model's own figures always,
/// the predictions only where the policy allows them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SizingStatus {
    /// The fraction of evicted keys the ghost list tracks.
    pub sampling_ratio: f64,
    /// Evicted keys the ghost list stands for, and the age of its oldest entry.
    pub span_keys: f64,
    pub span_seconds: f64,
    /// Why nothing is predicted under this target's `maxmemory-policy`, if so.
    pub refused: Option<&'static str>,
    pub windows: Vec<SizingWindow>,
}

/// Which limit memory pressure is measured against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// `maxmemory` is set.
    Maxmemory,
    /// `maxmemory` is 0 (no limit): the host's `total_system_memory`.
    System,
}

impl Limit {
    pub fn label(self) -> &'static str {
        match self {
            Limit::Maxmemory => "maxmemory",
            Limit::System => "system",
        }
    }
}

/// Memory counted for eviction over the limit (may exceed 1.0).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pressure {
    pub ratio: f64,
    pub limit: Limit,
}

/// Everything derived for one target after a poll.
#[derive(Debug, Clone, PartialEq)]
pub struct Derived {
    /// One entry per window for which at least two polls exist.
    pub windows: Vec<WindowStats>,
    pub pressure: Option<Pressure>,
    /// The last observation was a counter reset (restart or `CONFIG RESETSTAT`).
    pub reset: bool,
    /// Resets seen since the exporter started.
    pub resets_total: u64,
    /// Hit ratio over the last 15 minutes (or the history there is), oldest first, for a
    /// sparkline: at most `TREND_POINTS` steps of at least 1/60 of the span each (15 s once 15
    /// minutes of history exist); `None` for a step without lookups.
    pub hit_ratio_trend: Trend,
    /// The key-prefix sampler's lookups as of the INFO this derivation comes from (read under
    /// the gate the poller holds around INFO, so they match INFO's counters); `None` without a
    /// sampler.
    pub own_lookups: Option<Lookups>,
    /// Miss attribution's coverage and ceilings per window, for targets with attribution
    /// (filled by the poller from the same poll's windows).
    pub attribution: Vec<AttributionWindow>,
    /// Memory sizing, for targets with miss attribution (filled by the poller).
    pub sizing: Option<SizingStatus>,
}

/// Most points reserved up front (a 1 s interval needs 902); shorter intervals grow the ring.
const MAX_ROOM: usize = 1024;

/// A hit-ratio trend: each step's ratio in two bytes, to 0.0001 (a sparkline needs no more),
/// so the trend every target keeps is 120 bytes rather than 480 as `Option<f32>` (3.7 MiB at
/// 10 000 targets).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Trend(Box<[u16]>);

impl Trend {
    /// A step without lookups.
    const NONE: u16 = u16::MAX;
    const SCALE: f32 = 10_000.0;

    /// The steps' ratios in order, `None` for a step without lookups; ratios are clamped to
    /// 0..=1.
    pub fn from_steps(steps: impl IntoIterator<Item = Option<f32>>) -> Trend {
        let step = |r: f32| (r.clamp(0.0, 1.0) * Self::SCALE).round() as u16;
        Trend(
            steps
                .into_iter()
                .map(|r| r.map_or(Self::NONE, step))
                .collect(),
        )
    }

    /// The steps, oldest first, each ratio to 0.0001.
    pub fn steps(&self) -> Vec<Option<f32>> {
        self.0
            .iter()
            .map(|&v| (v != Self::NONE).then(|| f32::from(v) / Self::SCALE))
            .collect()
    }
}

/// Most entries in [`Derived::hit_ratio_trend`].
pub(crate) const TREND_POINTS: usize = 60;

impl History {
    /// An empty history. `tolerance` is normally half the poll interval.
    pub fn new(tolerance: Duration) -> History {
        History {
            points: Ring::default(),
            last: Last::default(),
            totals: [0; COUNTERS],
            tolerance,
            room: 0,
            resets: 0,
        }
    }

    /// The history of a target polled every `interval`: a tolerance of half the interval, and
    /// room for the points of the longest window reserved at the first poll (a ring that grew
    /// by doubling would end at up to twice that).
    pub fn for_interval(interval: Duration) -> History {
        let mut h = History::new(interval / 2);
        if !interval.is_zero() {
            let span = Window::M15.duration() + h.tolerance;
            // One point per interval over the span, both ends included, and one spare for a
            // poll that comes early after a slow one.
            let points = span.as_nanos() / interval.as_nanos() + 2;
            h.room = usize::try_from(points).unwrap_or(0).min(MAX_ROOM);
        }
        h
    }

    /// Number of points held (bounded by the longest window over the poll interval).
    pub fn len(&self) -> usize {
        self.points.len()
    }

    pub fn is_empty(&self) -> bool {
        self.points.len() == 0
    }

    /// Adds a sample taken at `at` (monotonic, non-decreasing) and derives the current values.
    pub fn observe(&mut self, at: Duration, s: &Sample) -> Derived {
        self.observe_excluding(at, s, None)
    }

    /// Like [`History::observe`], with `own` the exporter's own keyspace lookups so far
    /// (cumulative, as seen by the same INFO): their increase since the last observation is
    /// taken out of the increase of keyspace_hits and keyspace_misses, so the hit ratio and
    /// the lookup rate describe the application only. Reset detection still uses the raw
    /// counters.
    pub fn observe_excluding(&mut self, at: Duration, s: &Sample, own: Option<Lookups>) -> Derived {
        let own_inc = self.own_increase(own);
        let raw = counters(s);
        let restarted = self.restarted(s);
        let (reset, total) = self.add_increases(&raw, restarted, own_inc);
        if reset && !self.is_empty() {
            self.resets += 1;
        }
        for (last, cur) in self.last.raw.iter_mut().zip(raw) {
            if cur.is_some() {
                *last = cur;
            }
        }
        self.last.run_id = s.run_id.clone().or(self.last.run_id.take());
        self.last.uptime = s.uptime_in_seconds.or(self.last.uptime);
        self.push(at, total);
        Derived {
            windows: Window::ALL.iter().filter_map(|w| self.window(*w)).collect(),
            pressure: memory_pressure(s),
            reset: reset && self.points.len() > 1,
            resets_total: self.resets,
            hit_ratio_trend: self.trend(),
            own_lookups: self.last.own,
            attribution: Vec::new(),
            sizing: None,
        }
    }

    /// The increase of the exporter's own hits and misses since the last observation that
    /// had them; remembers `own`.
    fn own_increase(&mut self, own: Option<Lookups>) -> [u64; 2] {
        let inc = match (self.last.own, own) {
            (Some(a), Some(b)) => [
                b.hits.saturating_sub(a.hits),
                b.misses.saturating_sub(a.misses),
            ],
            _ => [0, 0],
        };
        if own.is_some() {
            self.last.own = own;
        }
        inc
    }

    /// Whether the server restarted since the last observation: another `run_id`, or a lower
    /// uptime.
    fn restarted(&self, s: &Sample) -> bool {
        let new_run = match (&self.last.run_id, &s.run_id) {
            (Some(a), Some(b)) => a != b,
            _ => false,
        };
        new_run || matches!((self.last.uptime, s.uptime_in_seconds), (Some(a), Some(b)) if b < a)
    }

    /// Adds each counter's increase (the new value after a reset, the own lookups taken out)
    /// to its running total; whether any counter was reset, and the totals of this point.
    fn add_increases(
        &mut self,
        raw: &[Option<u64>; COUNTERS],
        restarted: bool,
        own_inc: [u64; 2],
    ) -> (bool, [Option<u64>; COUNTERS]) {
        let mut reset = restarted;
        let mut total = [None; COUNTERS];
        for i in 0..COUNTERS {
            let Some(cur) = raw[i] else { continue };
            let inc = match self.last.raw[i] {
                // First sight of this counter: nothing is known to have happened yet.
                None => 0,
                Some(_) if restarted => cur,
                Some(prev) if cur < prev => {
                    reset = true;
                    cur
                }
                Some(prev) => cur - prev,
            };
            let inc = match i {
                HITS => inc.saturating_sub(own_inc[0]),
                MISSES => inc.saturating_sub(own_inc[1]),
                _ => inc,
            };
            self.totals[i] = self.totals[i].saturating_add(inc);
            total[i] = Some(self.totals[i]);
        }
        (reset, total)
    }

    /// Appends the point at `at` and drops those older than the longest window needs.
    fn push(&mut self, at: Duration, total: [Option<u64>; COUNTERS]) {
        // A clock that went backwards (it should not: callers pass monotonic time) must not
        // create negative spans; treat it as no time passing.
        let at = self.points.newest_at().map_or(at, |p| p.max(at));
        if self.is_empty() {
            self.points.reserve(self.room);
        }
        self.points.push(at, total);
        let keep = Window::M15.duration() + self.tolerance;
        while self
            .points
            .oldest_at()
            .is_some_and(|p| at.saturating_sub(p) > keep)
        {
            self.points.pop_oldest();
        }
    }

    /// Per-step hit ratios over the last 15 minutes: points at least 1/[`TREND_POINTS`] of the
    /// span apart, each entry the ratio between two consecutive chosen points.
    fn trend(&self) -> Trend {
        let Some(now) = self.points.newest() else {
            return Trend::default();
        };
        let start = now.at.saturating_sub(Window::M15.duration());
        let oldest = self
            .points
            .iter()
            .find(|p| p.at >= start)
            .map_or(now.at, |p| p.at);
        let step = now.at.checked_sub(oldest).unwrap() / TREND_POINTS as u32;
        let mut chosen: Vec<Entry> = Vec::new();
        // Walk back from the newest point so the newest step is always complete.
        for p in self.points.iter().rev() {
            if p.at < start {
                break;
            }
            if chosen.last().is_none_or(|c| c.at >= p.at + step) {
                chosen.push(p);
            }
        }
        chosen.reverse();
        let steps = chosen.windows(2).map(|pair| {
            let d = |i: usize| Some(pair[1].total[i]? - pair[0].total[i]?);
            let (h, m) = (d(HITS)?, d(MISSES)?);
            let l = h.saturating_add(m);
            (l > 0).then(|| (h as f64 / l as f64) as f32)
        });
        let skip = steps.len().saturating_sub(TREND_POINTS);
        Trend::from_steps(steps.skip(skip))
    }

    /// Values over `w`, ending at the newest point; `None` with fewer than two points.
    fn window(&self, w: Window) -> Option<WindowStats> {
        let now = self.points.newest()?;
        let start = now.at.saturating_sub(w.duration() + self.tolerance);
        let base = self.points.iter().find(|p| p.at >= start)?;
        let covered = now.at.checked_sub(base.at).unwrap();
        if covered.is_zero() {
            return None;
        }
        let delta = |i: usize| Some(now.total[i]? - base.total[i]?);
        let (hits, misses) = (delta(HITS), delta(MISSES));
        let lookups = hits.zip(misses).map(|(h, m)| h.saturating_add(m));
        Some(WindowStats {
            window: w,
            covered,
            hit_ratio: hits
                .zip(lookups)
                .filter(|(_, l)| *l > 0)
                .map(|(h, l)| h as f64 / l as f64),
            lookups_per_second: lookups.map(|l| l as f64 / covered.as_secs_f64()),
            evictions: delta(EVICTED),
            expirations: delta(EXPIRED),
            hits,
            misses,
        })
    }
}

/// The likely cause of the misses in a window: a small closed set, so
/// `redis_cache_miss_cause{window, cause}` has a fixed cardinality.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MissCause {
    /// Keys were evicted for memory (maxmemory too small for the working set).
    Evictions,
    /// Keys expired before being read again (TTLs too short).
    Expirations,
    /// Neither explains the misses: keys never cached, a key space too large or too unique,
    /// or keys deleted by the application.
    Neither,
}

impl MissCause {
    pub(crate) const ALL: [MissCause; 3] = [
        MissCause::Evictions,
        MissCause::Expirations,
        MissCause::Neither,
    ];

    pub(crate) fn label(self) -> &'static str {
        match self {
            MissCause::Evictions => "evictions",
            MissCause::Expirations => "expirations",
            MissCause::Neither => "neither",
        }
    }
}

impl WindowStats {
    /// Keys evicted per miss in the window; `None` without misses. Each evicted key can cause
    /// at most one miss before it is cached again, so `min(1, x)` bounds the share of misses
    /// evictions explain.
    pub(crate) fn evictions_per_miss(&self) -> Option<f64> {
        per_miss(self.evictions, self.misses)
    }

    /// Keys expired per miss in the window; `None` without misses (see
    /// [`WindowStats::evictions_per_miss`]).
    pub(crate) fn expirations_per_miss(&self) -> Option<f64> {
        per_miss(self.expirations, self.misses)
    }

    /// The likely cause of the window's misses; `None` without misses.
    pub(crate) fn miss_cause(&self) -> Option<MissCause> {
        miss_cause(self.evictions_per_miss()?, self.expirations_per_miss()?)
    }
}

fn per_miss(n: Option<u64>, misses: Option<u64>) -> Option<f64> {
    let misses = misses.filter(|m| *m > 0)?;
    Some(n? as f64 / misses as f64)
}

/// The largest of: evicted keys per miss, expired keys per miss, and the rest (1 − both, at
/// least 0), the share of misses neither can explain. Ties go to evictions, then expirations
/// (the more actionable causes).
pub(crate) fn miss_cause(evictions_per_miss: f64, expirations_per_miss: f64) -> Option<MissCause> {
    let (e, x) = (evictions_per_miss, expirations_per_miss);
    if !(e.is_finite() && x.is_finite()) || e < 0.0 || x < 0.0 {
        return None;
    }
    let rest = (1.0 - e - x).max(0.0);
    Some(if e >= x && e >= rest {
        MissCause::Evictions
    } else if x >= rest {
        MissCause::Expirations
    } else {
        MissCause::Neither
    })
}

/// Share of a database's keys that have a TTL (`expires / keys` of INFO keyspace); `None` for
/// an empty database.
pub(crate) fn ttl_coverage(db: &crate::core::info::DbStat) -> Option<f64> {
    (db.keys > 0).then(|| db.expires.min(db.keys) as f64 / db.keys as f64)
}

/// (used_memory − mem_not_counted_for_evict) / maxmemory, the figure Redis compares with
/// `maxmemory` before evicting (see `getMaxmemoryState` in Redis's evict.c). With maxmemory 0 the
/// limit is the host's memory. `None` when the needed fields are missing.
pub fn memory_pressure(s: &Sample) -> Option<Pressure> {
    let used = s
        .used_memory?
        .saturating_sub(s.mem_not_counted_for_evict.unwrap_or(0));
    match s.maxmemory {
        Some(max) if max > 0 => Some(Pressure {
            ratio: used as f64 / max as f64,
            limit: Limit::Maxmemory,
        }),
        _ => match s.total_system_memory {
            Some(total) if total > 0 => Some(Pressure {
                ratio: used as f64 / total as f64,
                limit: Limit::System,
            }),
            _ => None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(run_id: &str, uptime: u64, hits: u64, misses: u64, evicted: u64) -> Sample {
        Sample {
            run_id: Some(run_id.into()),
            uptime_in_seconds: Some(uptime),
            keyspace_hits: Some(hits),
            keyspace_misses: Some(misses),
            evicted_keys: Some(evicted),
            expired_keys: Some(0),
            ..Sample::default()
        }
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    fn win(d: &Derived, w: Window) -> &WindowStats {
        d.windows
            .iter()
            .find(|x| x.window == w)
            .expect("window present")
    }

    #[test]
    fn one_poll_gives_no_window() {
        let mut h = History::new(secs(7));
        let d = h.observe(secs(0), &sample("a", 10, 5, 5, 0));
        assert!(d.windows.is_empty());
        assert!(!d.reset);
    }

    #[test]
    fn hit_ratio_and_rate_over_short_history() {
        let mut h = History::new(secs(7));
        h.observe(secs(0), &sample("a", 10, 100, 100, 0));
        let d = h.observe(secs(15), &sample("a", 25, 1000, 200, 4));
        for w in Window::ALL {
            let s = win(&d, w);
            assert_eq!(s.covered, secs(15));
            assert_eq!(s.hit_ratio, Some(0.9));
            assert_eq!(s.lookups_per_second, Some(1000.0 / 15.0));
            assert_eq!(s.evictions, Some(4));
        }
    }

    #[test]
    fn windows_cover_their_own_span() {
        let mut h = History::new(secs(7));
        // One poll every 15 s for 20 minutes; 10 hits and 0..=1 misses per poll.
        let (mut hits, mut misses) = (0, 0);
        let mut d = None;
        for i in 0..=80u64 {
            hits += 10;
            if i >= 76 {
                misses += 10; // From poll 76 on, half the lookups miss.
            }
            d = Some(h.observe(secs(i * 15), &sample("a", 100 + i * 15, hits, misses, 0)));
        }
        let d = d.unwrap();
        assert_eq!(win(&d, Window::M1).covered, secs(60));
        assert_eq!(win(&d, Window::M1).hit_ratio, Some(0.5));
        assert_eq!(win(&d, Window::M5).covered, secs(300));
        assert_eq!(win(&d, Window::M5).hit_ratio, Some(200.0 / 250.0));
        assert_eq!(win(&d, Window::M15).covered, secs(900));
        assert_eq!(win(&d, Window::M15).hit_ratio, Some(600.0 / 650.0));
        assert!(h.len() <= 62, "history bounded, got {}", h.len());
    }

    #[test]
    fn idle_window_has_no_hit_ratio() {
        let mut h = History::new(secs(7));
        h.observe(secs(0), &sample("a", 10, 50, 50, 0));
        let d = h.observe(secs(15), &sample("a", 25, 50, 50, 0));
        let s = win(&d, Window::M1);
        assert_eq!(s.hit_ratio, None);
        assert_eq!(s.lookups_per_second, Some(0.0));
    }

    #[test]
    fn restart_counts_from_zero_on_both_sides() {
        let mut h = History::new(secs(7));
        h.observe(secs(0), &sample("a", 1000, 5000, 500, 70));
        h.observe(secs(15), &sample("a", 1015, 5090, 510, 75));
        // Restart: new run id; the new server has already served 30 hits and 10 misses.
        let d = h.observe(secs(30), &sample("b", 10, 30, 10, 1));
        assert!(d.reset);
        let s = win(&d, Window::M1);
        assert_eq!(s.hit_ratio, Some(120.0 / 140.0));
        assert_eq!(s.evictions, Some(6));
        // Even when the restarted server's counters are already higher than before.
        let d = h.observe(secs(45), &sample("c", 5, 9000, 10, 0));
        assert!(d.reset);
        assert_eq!(win(&d, Window::M1).evictions, Some(6));
        assert_eq!(d.resets_total, 2);
    }

    #[test]
    fn resetstat_is_a_reset_without_restart() {
        let mut h = History::new(secs(7));
        h.observe(secs(0), &sample("a", 100, 900, 100, 10));
        // CONFIG RESETSTAT: same run id and uptime grows, counters drop to near zero.
        let d = h.observe(secs(15), &sample("a", 115, 9, 1, 0));
        assert!(d.reset);
        let s = win(&d, Window::M1);
        assert_eq!(s.hit_ratio, Some(0.9));
        assert_eq!(s.evictions, Some(0));
        assert!(s.lookups_per_second.unwrap() >= 0.0);
    }

    #[test]
    fn lower_uptime_is_a_restart_even_with_the_same_run_id() {
        let mut h = History::new(secs(7));
        h.observe(secs(0), &sample("a", 100, 10, 0, 0));
        let d = h.observe(secs(15), &sample("a", 3, 20, 0, 0));
        assert!(d.reset);
        assert_eq!(win(&d, Window::M1).hit_ratio, Some(1.0));
        assert_eq!(h.totals[HITS], 20);
    }

    #[test]
    fn clock_going_backwards_never_gives_negative_rates() {
        let mut h = History::new(secs(7));
        h.observe(secs(100), &sample("a", 10, 10, 10, 0));
        let d = h.observe(secs(50), &sample("a", 25, 20, 20, 0));
        assert!(d.windows.is_empty(), "no time passed, so no window");
    }

    #[test]
    fn missing_counters_give_missing_values() {
        let mut h = History::new(secs(7));
        let s = Sample {
            uptime_in_seconds: Some(1),
            ..Sample::default()
        };
        h.observe(secs(0), &s);
        let d = h.observe(secs(15), &s);
        let w = win(&d, Window::M1);
        assert_eq!(
            (w.hit_ratio, w.lookups_per_second, w.evictions),
            (None, None, None)
        );
    }

    #[test]
    fn miss_cause_picks_the_largest_explanation() {
        assert_eq!(miss_cause(0.8, 0.1), Some(MissCause::Evictions));
        assert_eq!(miss_cause(0.1, 0.7), Some(MissCause::Expirations));
        assert_eq!(miss_cause(0.05, 0.1), Some(MissCause::Neither));
        // More removed keys than misses: still the larger one.
        assert_eq!(miss_cause(3.0, 9.0), Some(MissCause::Expirations));
        assert_eq!(miss_cause(0.5, 0.5), Some(MissCause::Evictions));
        assert_eq!(miss_cause(f64::NAN, 0.0), None);
    }

    #[test]
    fn window_cause_from_deltas_and_none_without_misses() {
        let mut h = History::new(secs(7));
        let at = |hits, misses, ev, ex| Sample {
            expired_keys: Some(ex),
            ..sample("a", 10, hits, misses, ev)
        };
        h.observe(secs(0), &at(0, 0, 0, 0));
        let d = h.observe(secs(15), &at(50, 100, 80, 10));
        let w = win(&d, Window::M1);
        assert_eq!((w.hits, w.misses), (Some(50), Some(100)));
        assert_eq!(w.evictions_per_miss(), Some(0.8));
        assert_eq!(w.expirations_per_miss(), Some(0.1));
        assert_eq!(w.miss_cause(), Some(MissCause::Evictions));
        let d = h.observe(secs(30), &at(60, 100, 80, 10));
        let w = win(&d, Window::M1);
        assert_eq!(w.misses, Some(100), "the 1m window still covers both steps");
        let mut h = History::new(secs(7));
        h.observe(secs(0), &at(0, 0, 0, 0));
        let d = h.observe(secs(15), &at(50, 0, 5, 5));
        assert_eq!(win(&d, Window::M1).miss_cause(), None);
    }

    #[test]
    fn ttl_coverage_per_db() {
        let db = |keys, expires| crate::core::info::DbStat {
            db: 0,
            keys,
            expires,
            avg_ttl_ms: 0,
        };
        assert_eq!(ttl_coverage(&db(4, 1)), Some(0.25));
        assert_eq!(ttl_coverage(&db(0, 0)), None);
        assert_eq!(ttl_coverage(&db(4, 4)), Some(1.0));
    }

    #[test]
    fn a_full_ring_fits_the_room_reserved_for_its_interval() {
        let mut h = History::for_interval(secs(15));
        let mut d = None;
        // Twenty minutes at 15 s, with counters beyond 32 bits: the ring keeps the 15-minute
        // window (61 points) in the 62 reserved and the values stay exact.
        for i in 0..80u64 {
            let base = 1u64 << 40;
            d = Some(h.observe(
                secs(i * 15),
                &sample("a", 10 + i, base + 3 * i, base + i, 0),
            ));
        }
        assert_eq!(h.len(), 61);
        assert_eq!(h.points.capacity(), 62);
        let d = d.unwrap();
        assert_eq!(win(&d, Window::M15).hits, Some(180));
        assert_eq!(win(&d, Window::M15).misses, Some(60));
        assert_eq!(win(&d, Window::M1).hit_ratio, Some(0.75));
        assert_eq!(d.hit_ratio_trend.steps(), vec![Some(0.75); TREND_POINTS]);
    }

    #[test]
    fn trend_keeps_each_step_to_a_ten_thousandth_and_the_steps_without_lookups() {
        let t = Trend::from_steps([Some(0.75), None, Some(0.123_456), Some(1.5), Some(-0.1)]);
        let steps = t.steps();
        assert_eq!(steps.len(), 5);
        assert_eq!(steps[..2], [Some(0.75), None]);
        assert!((steps[2].unwrap() - 0.1235).abs() < 1e-6, "{steps:?}");
        assert_eq!(steps[3..], [Some(1.0), Some(0.0)]);
        assert!(Trend::default().steps().is_empty());
    }

    #[test]
    fn trend_has_at_most_sixty_steps_over_the_history_there_is() {
        let mut h = History::new(secs(1));
        let mut d = None;
        // One poll per second for 20 minutes; hits only during the last minute.
        for i in 0..1200u64 {
            let hits = i.saturating_sub(1140);
            d = Some(h.observe(secs(i), &sample("a", 10 + i, hits, 0, 0)));
        }
        let t = d.unwrap().hit_ratio_trend.steps();
        assert_eq!(t.len(), TREND_POINTS);
        assert!(t[..55].iter().all(std::option::Option::is_none), "{t:?}");
        assert!(t[57..].iter().all(|x| *x == Some(1.0)), "{t:?}");
        // Short history: one step per poll.
        let mut h = History::new(secs(7));
        h.observe(secs(0), &sample("a", 10, 0, 0, 0));
        h.observe(secs(15), &sample("a", 25, 3, 1, 0));
        let d = h.observe(secs(30), &sample("a", 40, 3, 3, 0));
        assert_eq!(d.hit_ratio_trend.steps(), vec![Some(0.75), Some(0.0)]);
    }

    #[test]
    fn pressure_uses_maxmemory_minus_replication_buffers() {
        let s = Sample {
            used_memory: Some(1100),
            mem_not_counted_for_evict: Some(100),
            maxmemory: Some(2000),
            total_system_memory: Some(10_000),
            ..Sample::default()
        };
        assert_eq!(
            memory_pressure(&s),
            Some(Pressure {
                ratio: 0.5,
                limit: Limit::Maxmemory
            })
        );
        let s = Sample {
            maxmemory: Some(0),
            ..s
        };
        assert_eq!(
            memory_pressure(&s),
            Some(Pressure {
                ratio: 0.1,
                limit: Limit::System
            })
        );
        let s = Sample {
            total_system_memory: None,
            ..s
        };
        assert_eq!(memory_pressure(&s), None);
    }

    #[test]
    fn own_lookups_are_taken_out_of_the_hit_ratio() {
        let own = |hits, misses| Some(Lookups { hits, misses });
        let mut h = History::new(secs(5));
        h.observe_excluding(secs(0), &sample("a", 10, 1000, 100, 0), own(50, 2));
        // The application: 900 hits, 100 misses; the sampler: 3000 hits, 30 misses.
        let d = h.observe_excluding(secs(10), &sample("a", 20, 4900, 230, 0), own(3050, 32));
        let w = win(&d, Window::M1);
        assert_eq!((w.hits, w.misses), (Some(900), Some(100)));
        assert_eq!(w.hit_ratio, Some(0.9));
        // Without the correction the sampler's lookups would lift it to 0.95.
        let mut raw = History::new(secs(5));
        raw.observe(secs(0), &sample("a", 10, 1000, 100, 0));
        let d = raw.observe(secs(10), &sample("a", 20, 4900, 230, 0));
        let r = win(&d, Window::M1).hit_ratio.unwrap();
        assert!((r - 3900.0 / 4030.0).abs() < 1e-12);
        // CONFIG RESETSTAT: the raw counters restart from zero, the sampler's do not; the
        // step counts the new values minus the sampler's increase, never below zero.
        let d = h.observe_excluding(secs(20), &sample("a", 30, 400, 20, 0), own(3150, 32));
        assert!(d.reset);
        let w = win(&d, Window::M1);
        assert_eq!((w.hits, w.misses), (Some(900 + 300), Some(100 + 20)));
        let d = h.observe_excluding(secs(30), &sample("a", 40, 400, 20, 0), own(3500, 40));
        assert_eq!(win(&d, Window::M1).hits, Some(1200));
    }
}
