//! The key-prefix sampler's pure core: which prefix a key belongs to, the tally of one cycle
//! (keys, TTL buckets, sampled memory per prefix), and the estimates exported from it (top-K
//! prefixes plus `(other)`, so the number of `prefix` label values stays bounded).
//!
//! Pure: no tokio, no redis. The IO loop (one task per target, its own connection, `SCAN`
//! under a budget, pipelined `PTTL`, `MEMORY USAGE` on a few keys per prefix) is in
//! `crate::poll::sampler_task`; this file holds the arithmetic and most of the unit tests.
//!
//! Estimation: a cycle examines at most `keys_per_cycle` keys in `SCAN` order, which follows the
//! hash table's buckets and so is unrelated to key names. A prefix seen on `n` of the cycle's
//! `N` existing keys is estimated at `n × DBSIZE / N` keys; its TTL buckets scale the same way;
//! its memory is the average `MEMORY USAGE` of its sampled keys times its estimated count.

use std::collections::HashMap;
use std::time::Duration;

use super::glob::glob_match;

/// Label value of the keys whose prefix is outside the top K.
pub(crate) const OTHER: &str = "(other)";
/// Label value of the keys with no prefix: no separator in the name and no pattern matched.
pub const NONE: &str = "(none)";
/// Longest prefix (in characters, before the trailing `*`) used as a label value.
pub(crate) const MAX_PREFIX_CHARS: usize = 100;

/// Maps key names to group labels.
#[derive(Debug, Clone)]
pub(crate) struct Grouper {
    separator: Vec<u8>,
    depth: usize,
    patterns: Vec<String>,
}

impl Grouper {
    /// Groups by `patterns` first, then by the name up to the `depth`-th `separator`.
    pub(crate) fn new(separator: &str, depth: usize, patterns: &[String]) -> Grouper {
        Grouper {
            separator: separator.as_bytes().to_vec(),
            depth: depth.max(1),
            patterns: patterns.to_vec(),
        }
    }

    /// The group of a key: the first matching pattern; else the name up to its `depth`-th
    /// separator (or its last one, when it has fewer) followed by `*`, e.g. `user:*`; else
    /// [`NONE`].
    pub(crate) fn group(&self, key: &[u8]) -> String {
        self.group_of(key).label()
    }

    /// The group of a key without building its label (miss attribution tallies per event).
    pub(crate) fn group_of<'a>(&'a self, key: &'a [u8]) -> Group<'a> {
        if let Some(p) = self.patterns.iter().find(|p| glob_match(p.as_bytes(), key)) {
            return Group::Pattern(p);
        }
        let sep = &self.separator;
        let mut end = None;
        let mut from = 0;
        for _ in 0..self.depth {
            match find(&key[from..], sep) {
                Some(i) => {
                    end = Some(from + i + sep.len());
                    from += i + sep.len();
                }
                None => break,
            }
        }
        match end {
            None => Group::None,
            Some(end) => Group::Prefix(&key[..end]),
        }
    }
}

/// A key's group as [`Grouper::group_of`] finds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Group<'a> {
    /// A configured pattern.
    Pattern(&'a str),
    /// The name up to its separator, the separator included.
    Prefix(&'a [u8]),
    /// No pattern matched and no separator.
    None,
}

impl Group<'_> {
    /// The label value: the pattern, the prefix (lossy, cut at [`MAX_PREFIX_CHARS`]) followed
    /// by `*`, or [`NONE`].
    pub(crate) fn label(self) -> String {
        match self {
            Group::Pattern(p) => p.to_string(),
            Group::None => NONE.to_string(),
            Group::Prefix(bytes) => {
                let text = String::from_utf8_lossy(bytes);
                let mut label: String = text.chars().take(MAX_PREFIX_CHARS).collect();
                label.push('*');
                label
            }
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// TTL buckets, fixed so `redis_keyspace_prefix_ttl_keys{bucket}` has five values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bucket {
    /// No TTL (`PTTL` answered -1).
    None,
    Under1m,
    Under1h,
    Under1d,
    Over1d,
}

impl Bucket {
    pub(crate) const ALL: [Bucket; 5] = [
        Bucket::None,
        Bucket::Under1m,
        Bucket::Under1h,
        Bucket::Under1d,
        Bucket::Over1d,
    ];

    pub(crate) fn label(self) -> &'static str {
        match self {
            Bucket::None => "none",
            Bucket::Under1m => "<1m",
            Bucket::Under1h => "<1h",
            Bucket::Under1d => "<1d",
            Bucket::Over1d => ">=1d",
        }
    }

    /// The bucket of a `PTTL` reply; `None` when the key no longer exists (-2).
    pub(crate) fn of_pttl(ms: i64) -> Option<Bucket> {
        Some(match ms {
            -1 => Bucket::None,
            ms if ms < 0 => return None,
            ms if ms < 60_000 => Bucket::Under1m,
            ms if ms < 3_600_000 => Bucket::Under1h,
            ms if ms < 86_400_000 => Bucket::Under1d,
            _ => Bucket::Over1d,
        })
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// What one cycle saw of one group.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tally {
    /// Existing keys examined.
    pub keys: u64,
    /// Keys per TTL bucket, in `Bucket::ALL` order.
    pub ttl: [u64; 5],
    /// Sum of the `MEMORY USAGE` replies received.
    pub memory_bytes: u64,
    /// Number of `MEMORY USAGE` replies received.
    pub memory_keys: u64,
    /// `MEMORY USAGE` calls planned (sent or about to be).
    pub memory_planned: u64,
}

impl Tally {
    fn merge(&mut self, o: &Tally) {
        self.keys += o.keys;
        for (a, b) in self.ttl.iter_mut().zip(o.ttl) {
            *a += b;
        }
        self.memory_bytes += o.memory_bytes;
        self.memory_keys += o.memory_keys;
        self.memory_planned += o.memory_planned;
    }
}

/// The tally of one cycle, per group.
#[derive(Debug, Clone, Default)]
pub struct Cycle {
    pub groups: HashMap<String, Tally>,
    /// Keys `SCAN` returned that the cycle examined (the unit of `keys_per_cycle`).
    pub examined: u64,
    /// Of those, keys still there when `PTTL` asked.
    pub existing: u64,
}

impl Cycle {
    /// Whether another `MEMORY USAGE` for `group` fits `per_group`; if so, counts it as planned.
    pub(crate) fn plan_memory(&mut self, group: &str, per_group: usize) -> bool {
        let t = self.groups.entry(group.to_string()).or_default();
        if t.memory_planned < per_group as u64 {
            t.memory_planned += 1;
            true
        } else {
            false
        }
    }

    /// Records a key's `PTTL` reply.
    pub fn add_key(&mut self, group: &str, pttl_ms: i64) {
        self.examined += 1;
        let Some(bucket) = Bucket::of_pttl(pttl_ms) else {
            return;
        };
        self.existing += 1;
        let t = self.groups.entry(group.to_string()).or_default();
        t.keys += 1;
        t.ttl[bucket.index()] += 1;
    }

    /// Records a `MEMORY USAGE` reply (`None`: the key was gone).
    pub fn add_memory(&mut self, group: &str, bytes: Option<u64>) {
        if let Some(b) = bytes {
            let t = self.groups.entry(group.to_string()).or_default();
            t.memory_bytes += b;
            t.memory_keys += 1;
        }
    }
}

/// The exported estimate for one prefix (or `(other)`).
#[derive(Debug, Clone, PartialEq)]
pub struct PrefixEstimate {
    pub prefix: String,
    /// Keys of the prefix the cycle saw.
    pub sampled: u64,
    pub keys_estimated: f64,
    /// Share of the sampled keys without a TTL, 0-1.
    pub no_ttl_ratio: f64,
    /// Estimated keys per TTL bucket, in `Bucket::ALL` order.
    pub ttl_keys: [f64; 5],
    /// Average sampled `MEMORY USAGE` times the estimated count; `None` without samples.
    pub memory_bytes_estimated: Option<f64>,
}

/// The top `top_k` groups by sampled keys (ties by name), then `(other)` summing the rest,
/// scaled from the cycle's existing keys to `dbsize`. Empty when the cycle saw no key.
pub fn summarize(cycle: &Cycle, dbsize: u64, top_k: usize) -> Vec<PrefixEstimate> {
    if cycle.existing == 0 {
        return Vec::new();
    }
    let scale = dbsize as f64 / cycle.existing as f64;
    let mut groups: Vec<(&String, &Tally)> =
        cycle.groups.iter().filter(|(_, t)| t.keys > 0).collect();
    groups.sort_by(|a, b| b.1.keys.cmp(&a.1.keys).then_with(|| a.0.cmp(b.0)));
    let memory = |t: &Tally| {
        (t.memory_keys > 0)
            .then(|| t.memory_bytes as f64 / t.memory_keys as f64 * t.keys as f64 * scale)
    };
    let estimate = |prefix: &str, t: &Tally, mem: Option<f64>| PrefixEstimate {
        prefix: prefix.to_string(),
        sampled: t.keys,
        keys_estimated: t.keys as f64 * scale,
        no_ttl_ratio: t.ttl[Bucket::None.index()] as f64 / t.keys as f64,
        ttl_keys: t.ttl.map(|n| n as f64 * scale),
        memory_bytes_estimated: mem,
    };
    let mut out: Vec<PrefixEstimate> = groups
        .iter()
        .take(top_k)
        .map(|(p, t)| estimate(p, t, memory(t)))
        .collect();
    let rest = &groups[top_k.min(groups.len())..];
    if !rest.is_empty() {
        let mut sum = Tally::default();
        let mut mem: Option<f64> = None;
        for (_, t) in rest {
            sum.merge(t);
            if let Some(m) = memory(t) {
                *mem.get_or_insert(0.0) += m;
            }
        }
        out.push(estimate(OTHER, &sum, mem));
    }
    out
}

/// Redis-side CPU time, in microseconds, of `own` calls per command, from two `INFO
/// commandstats` readings taken before and after a cycle. Each command's time is shared in
/// proportion to the calls: when other clients sent the same command meanwhile, the cycle is
/// charged its share of the calls (assuming equal cost per call). `None` when a counter went
/// down (restart or `CONFIG RESETSTAT`) between the readings.
pub(crate) fn redis_usec(
    before: &[crate::core::info::CommandStat],
    after: &[crate::core::info::CommandStat],
    own: &[(&[&str], u64)],
) -> Option<u64> {
    let find = |stats: &[crate::core::info::CommandStat], names: &[&str]| {
        names
            .iter()
            .find_map(|n| stats.iter().find(|c| c.name == *n))
            .map_or((0, 0), |c| (c.calls, c.usec))
    };
    let mut total = 0.0;
    for (names, calls) in own {
        let (c0, u0) = find(before, names);
        let (c1, u1) = find(after, names);
        if c1 < c0 || u1 < u0 {
            return None;
        }
        let (dc, du) = (c1 - c0, u1 - u0);
        if dc == 0 {
            continue;
        }
        total += du as f64 * (*calls as f64 / dc as f64).min(1.0);
    }
    Some(total.round() as u64)
}

/// Why a cycle ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// `keys_per_cycle` keys examined.
    Keys,
    /// `max_time_per_cycle` passed.
    Time,
    /// The cursor came back to 0: the pass over the key space is complete.
    EndOfPass,
}

/// The outcome of one completed cycle.
#[derive(Debug, Clone, PartialEq)]
pub struct CycleReport {
    pub prefixes: Vec<PrefixEstimate>,
    /// Keys examined.
    pub keys: u64,
    /// Wall time of the cycle, pauses included.
    pub duration: Duration,
    /// Redis-side CPU time of the cycle's `SCAN`, `PTTL` and `MEMORY USAGE` calls
    /// (see `redis_usec`); `None` when INFO commandstats could not tell.
    pub redis_usec: Option<u64>,
    /// `DBSIZE` at the end of the cycle.
    pub dbsize: u64,
    pub stop: Stop,
}

/// Keyspace lookups the exporter itself caused: Redis counts every `PTTL` as a hit (the key
/// exists) or a miss (it does not), exactly like an application `GET`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Lookups {
    pub hits: u64,
    pub misses: u64,
}

/// A target's sampler as /metrics shows it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SamplerStatus {
    pub cycles_total: u64,
    pub cycle_errors_total: u64,
    /// Lookups caused so far (cumulative; exported as counters).
    pub lookups: Lookups,
    /// The last completed cycle; dropped after `STALE_AFTER_FAILED_CYCLES` failed cycles.
    pub last: Option<std::sync::Arc<CycleReport>>,
}

/// Failed cycles in a row after which the last result is no longer shown.
pub(crate) const STALE_AFTER_FAILED_CYCLES: u32 = 3;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::info::CommandStat;

    fn grouper(sep: &str, depth: usize, patterns: &[&str]) -> Grouper {
        let patterns: Vec<String> = patterns
            .iter()
            .map(std::string::ToString::to_string)
            .collect();
        Grouper::new(sep, depth, &patterns)
    }

    #[test]
    fn prefix_by_separator_and_depth() {
        let g = grouper(":", 1, &[]);
        assert_eq!(g.group(b"user:42:profile"), "user:*");
        assert_eq!(g.group(b"user:"), "user:*");
        assert_eq!(g.group(b"misc12"), NONE);
        let g2 = grouper(":", 2, &[]);
        assert_eq!(g2.group(b"user:42:profile"), "user:42:*");
        // Fewer separators than the depth: up to the last one.
        assert_eq!(g2.group(b"user:42"), "user:*");
        let g3 = grouper("::", 1, &[]);
        assert_eq!(g3.group(b"a::b:c"), "a::*");
        // Binary names are shown lossily and long prefixes are cut.
        assert_eq!(grouper(":", 1, &[]).group(b"\xff:x"), "\u{fffd}:*");
        let long = format!("{}:x", "a".repeat(500));
        assert_eq!(
            g.group(long.as_bytes()).chars().count(),
            MAX_PREFIX_CHARS + 1
        );
    }

    #[test]
    fn patterns_first_then_separator() {
        let g = grouper(":", 1, &["sess:*", "*:lock", "user:*"]);
        assert_eq!(g.group(b"sess:1"), "sess:*");
        assert_eq!(g.group(b"user:1:lock"), "*:lock");
        assert_eq!(g.group(b"user:1"), "user:*");
        assert_eq!(g.group(b"cart:9"), "cart:*");
        assert_eq!(g.group(b"plain"), NONE);
    }

    #[test]
    fn ttl_buckets() {
        assert_eq!(Bucket::of_pttl(-2), None);
        assert_eq!(Bucket::of_pttl(-1), Some(Bucket::None));
        assert_eq!(Bucket::of_pttl(0), Some(Bucket::Under1m));
        assert_eq!(Bucket::of_pttl(59_999), Some(Bucket::Under1m));
        assert_eq!(Bucket::of_pttl(60_000), Some(Bucket::Under1h));
        assert_eq!(Bucket::of_pttl(3_600_000), Some(Bucket::Under1d));
        assert_eq!(Bucket::of_pttl(86_400_000), Some(Bucket::Over1d));
        let labels: Vec<_> = Bucket::ALL.iter().map(|b| b.label()).collect();
        assert_eq!(labels, ["none", "<1m", "<1h", "<1d", ">=1d"]);
    }

    /// A cycle that saw `n` keys of each (group, pttl).
    fn cycle(spec: &[(&str, u64, i64)]) -> Cycle {
        let mut c = Cycle::default();
        for (g, n, pttl) in spec {
            for _ in 0..*n {
                c.add_key(g, *pttl);
            }
        }
        c
    }

    #[test]
    fn estimates_scale_to_dbsize() {
        // A third of a 30 000-key space: 2 000 user (TTL 1 h+), 500 sess (TTL 30 s), 300 lock
        // (no TTL), 200 keys without prefix, and 10 keys gone before PTTL.
        let mut c = cycle(&[
            ("user:*", 2000, 7_200_000),
            ("sess:*", 500, 30_000),
            ("lock:*", 300, -1),
            (NONE, 200, -1),
            ("user:*", 10, -2),
        ]);
        assert_eq!((c.examined, c.existing), (3010, 3000));
        for _ in 0..5 {
            assert!(c.plan_memory("user:*", 5));
            c.add_memory("user:*", Some(100));
        }
        assert!(!c.plan_memory("user:*", 5));
        c.add_memory("lock:*", Some(50));
        c.add_memory("lock:*", None);
        let est = summarize(&c, 30_000, 20);
        let names: Vec<_> = est.iter().map(|e| e.prefix.as_str()).collect();
        assert_eq!(names, ["user:*", "sess:*", "lock:*", NONE]);
        let user = &est[0];
        assert_eq!(user.keys_estimated, 20_000.0);
        assert_eq!(user.no_ttl_ratio, 0.0);
        assert_eq!(user.ttl_keys, [0.0, 0.0, 0.0, 20_000.0, 0.0]);
        assert_eq!(user.memory_bytes_estimated, Some(100.0 * 20_000.0));
        assert_eq!(est[1].ttl_keys[Bucket::Under1m.index()], 5_000.0);
        assert_eq!(est[2].no_ttl_ratio, 1.0);
        assert_eq!(est[2].memory_bytes_estimated, Some(50.0 * 3_000.0));
        assert_eq!(est[3].memory_bytes_estimated, None);
        let total: f64 = est.iter().map(|e| e.keys_estimated).sum();
        assert_eq!(total, 30_000.0);
    }

    #[test]
    fn top_k_plus_other_bounds_cardinality() {
        let mut c = cycle(&[
            ("a:*", 40, -1),
            ("b:*", 30, 1000),
            ("c:*", 20, -1),
            ("d:*", 10, 1000),
        ]);
        c.add_memory("c:*", Some(10));
        c.add_memory("d:*", Some(30));
        let est = summarize(&c, 100, 2);
        let names: Vec<_> = est.iter().map(|e| e.prefix.as_str()).collect();
        assert_eq!(names, ["a:*", "b:*", OTHER]);
        let other = &est[2];
        assert_eq!(other.sampled, 30);
        assert_eq!(other.keys_estimated, 30.0);
        assert!((other.no_ttl_ratio - 20.0 / 30.0).abs() < 1e-12);
        // Memory of (other) sums each merged prefix's own estimate.
        assert_eq!(
            other.memory_bytes_estimated,
            Some(10.0 * 20.0 + 30.0 * 10.0)
        );
        // Exactly K groups: no (other).
        assert_eq!(summarize(&c, 100, 4).len(), 4);
        // Ties are broken by name, so the output is stable.
        let tie = cycle(&[("y:*", 5, -1), ("x:*", 5, -1), ("z:*", 5, -1)]);
        let names: Vec<_> = summarize(&tie, 15, 2)
            .into_iter()
            .map(|e| e.prefix)
            .collect();
        assert_eq!(names, ["x:*", "y:*", OTHER]);
    }

    #[test]
    fn empty_cycle_gives_no_estimates() {
        assert!(summarize(&Cycle::default(), 100, 5).is_empty());
        assert!(summarize(&cycle(&[("a:*", 3, -2)]), 100, 5).is_empty());
    }

    fn stat(name: &str, calls: u64, usec: u64) -> CommandStat {
        CommandStat {
            name: name.into(),
            calls,
            usec,
            rejected_calls: None,
            failed_calls: None,
        }
    }

    #[test]
    fn redis_cost_from_commandstats_deltas() {
        let before = [stat("scan", 10, 1000), stat("pttl", 100, 500)];
        let after = [
            stat("scan", 20, 3000),
            stat("pttl", 1100, 2500),
            stat("memory|usage", 5, 50),
        ];
        let scan: &[&str] = &["scan"];
        let pttl: &[&str] = &["pttl"];
        let mem: &[&str] = &["memory|usage", "memory"];
        // Alone: every call of these commands was ours.
        assert_eq!(
            redis_usec(&before, &after, &[(scan, 10), (pttl, 1000), (mem, 5)]),
            Some(2000 + 2000 + 50)
        );
        // Other clients sent PTTL too: only our share of the calls is charged.
        assert_eq!(
            redis_usec(&before, &after, &[(scan, 10), (pttl, 500), (mem, 5)]),
            Some(2000 + 1000 + 50)
        );
        // Redis 6.2 names the command `memory`, without the subcommand.
        let after6 = [stat("scan", 20, 3000), stat("memory", 5, 70)];
        assert_eq!(
            redis_usec(&before, &after6, &[(scan, 10), (mem, 5)]),
            Some(2070)
        );
        // A reset between the readings: unknown.
        assert_eq!(redis_usec(&after, &before, &[(scan, 10)]), None);
    }
}
