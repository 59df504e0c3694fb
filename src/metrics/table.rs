//! The metric table: every exported name, type, HELP text (citing the INFO field it comes from)
//! and label set in one place, each with the function that yields its values from a target's
//! snapshot. docs/metrics.md's metric reference is generated from [`TABLE`] (`super::reference`).
//!
//! Raw Redis counters keep the names `redis_exporter` uses where the meaning is identical, so
//! existing PromQL keeps working.

use std::collections::BTreeSet;

use crate::core::attribution::{Cause, Event, Without};
use crate::core::derive::{AttributionWindow, Derived, MissCause};
use crate::core::error_kind::ErrorKind;
use crate::core::info::Sample;
use crate::state::{Globals, GroupStatus, Snapshot};

/// Counter or gauge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Counter,
    Gauge,
}

/// What an emitter sees of one target at scrape time.
pub(crate) struct View<'a> {
    pub snap: &'a Snapshot,
    /// Present only while the last successful poll is fresh (see `TargetMeta::stale_after`).
    pub fresh: Option<(&'a Sample, &'a Derived)>,
}

impl View<'_> {
    fn sample(&self) -> Option<&Sample> {
        self.fresh.map(|(s, _)| s)
    }
    fn derived(&self) -> Option<&Derived> {
        self.fresh.map(|(_, d)| d)
    }
}

/// Receives one value with the values of the metric's own labels.
pub(crate) type Out<'o> = dyn FnMut(&[&str], f64) + 'o;

/// One row of the table.
pub struct MetricDef {
    pub name: &'static str,
    pub(crate) kind: Kind,
    pub(crate) help: &'static str,
    /// The metric's own labels (besides `target` and static labels).
    pub(crate) labels: &'static [&'static str],
    pub(crate) emit: Emit,
}

/// How a metric's values are produced.
pub(crate) enum Emit {
    /// Once per target; the series carry `target` and the target's static labels.
    PerTarget(fn(&View, &mut Out)),
    /// Once per exporter (build info, reload status); no `target` label.
    Global(fn(&Globals, &mut Out)),
    /// Once per Cluster or Sentinel entry; the metric's own labels start with `target`, and the
    /// entry's static labels follow them.
    PerGroup(fn(&GroupStatus, &mut Out)),
}

macro_rules! cluster {
    ($name:literal, $help:literal, $field:ident) => {
        MetricDef {
            name: $name,
            kind: Kind::Gauge,
            help: $help,
            labels: &["target"],
            emit: Emit::PerGroup(|g, out| {
                if let Some(h) = &g.health {
                    out(&[&g.meta.name], h.$field as f64)
                }
            }),
        }
    };
}

macro_rules! raw {
    ($name:literal, $kind:ident, $help:literal, $field:ident) => {
        MetricDef {
            name: $name,
            kind: Kind::$kind,
            help: $help,
            labels: &[],
            emit: Emit::PerTarget(|v, out| {
                if let Some(x) = v.sample().and_then(|s| s.$field) {
                    out(&[], x as f64)
                }
            }),
        }
    };
}

/// A miss attribution figure of one value per target (absent without attribution).
macro_rules! attribution {
    ($name:literal, $kind:ident, $help:literal, $value:expr) => {
        MetricDef {
            name: $name,
            kind: Kind::$kind,
            help: $help,
            labels: &[],
            emit: Emit::PerTarget(|v, out| {
                if let Some(a) = &v.snap.attribution {
                    let value: fn(&crate::core::attribution::AttributionStatus) -> f64 = $value;
                    out(&[], value(a))
                }
            }),
        }
    };
}

fn bool_value(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

/// The prefix estimates of the target's last sampler cycle, while the target is fresh.
fn prefixes<'a>(
    v: &'a View,
) -> impl Iterator<Item = &'a crate::core::sampler::PrefixEstimate> + 'a {
    v.fresh
        .and(v.snap.sampler.as_ref())
        .and_then(|s| s.last.as_ref())
        .into_iter()
        .flat_map(|r| r.prefixes.iter())
}

/// The target's last completed sampler cycle.
fn last_cycle<'a>(v: &'a View) -> Option<&'a crate::core::sampler::CycleReport> {
    v.snap.sampler.as_ref()?.last.as_deref()
}

/// Miss attribution's windows of the last fresh poll.
fn attribution_windows<'a>(v: &'a View) -> impl Iterator<Item = &'a AttributionWindow> + 'a {
    v.derived().into_iter().flat_map(|d| d.attribution.iter())
}

fn windows<'a>(v: &'a View) -> impl Iterator<Item = &'a crate::core::derive::WindowStats> + 'a {
    v.derived().into_iter().flat_map(|d| d.windows.iter())
}

/// Every metric the exporter serves, in output order.
pub static TABLE: &[MetricDef] = &[
    MetricDef {
        name: "redis_up",
        kind: Kind::Gauge,
        help: "1 if the last poll of the target succeeded (connection and INFO), else 0.",
        labels: &[],
        emit: Emit::PerTarget(|v, out| out(&[], bool_value(v.snap.up))),
    },
    MetricDef {
        name: "redis_target_info",
        kind: Kind::Gauge,
        help: "Always 1; cache=\"true\" when the target is configured as a cache (config key `cache`). Join with `and on(target)`.",
        labels: &["cache"],
        emit: Emit::PerTarget(|v, out| {
            out(&[if v.snap.meta.cache { "true" } else { "false" }], 1.0)
        }),
    },
    MetricDef {
        name: "redis_instance_info",
        kind: Kind::Gauge,
        help: "Always 1; INFO server redis_version, redis_mode, server_name (server) and INFO replication role.",
        labels: &["redis_version", "redis_mode", "role", "server"],
        emit: Emit::PerTarget(|v, out| {
            if let Some(s) = v.sample() {
                let get = |o: &Option<String>| o.clone().unwrap_or_default();
                out(
                    &[
                        &get(&s.redis_version),
                        &get(&s.redis_mode),
                        &get(&s.role),
                        s.server(),
                    ],
                    1.0,
                )
            }
        }),
    },
    raw!(
        "redis_uptime_in_seconds",
        Gauge,
        "Seconds since the server started (INFO server uptime_in_seconds).",
        uptime_in_seconds
    ),
    MetricDef {
        name: "redis_maxmemory_policy_info",
        kind: Kind::Gauge,
        help: "Always 1; the eviction policy (INFO memory maxmemory_policy, or CONFIG GET maxmemory-policy).",
        labels: &["policy"],
        emit: Emit::PerTarget(|v, out| {
            if let Some(p) = v.sample().and_then(|s| s.maxmemory_policy.as_deref()) {
                out(&[p], 1.0)
            }
        }),
    },
    raw!(
        "redis_connected_clients",
        Gauge,
        "Client connections, replicas excluded (INFO clients connected_clients).",
        connected_clients
    ),
    raw!(
        "redis_blocked_clients",
        Gauge,
        "Clients blocked in a blocking call (INFO clients blocked_clients).",
        blocked_clients
    ),
    raw!(
        "redis_connected_slaves",
        Gauge,
        "Connected replicas (INFO replication connected_slaves).",
        connected_slaves
    ),
    MetricDef {
        name: "redis_master_link_up",
        kind: Kind::Gauge,
        help: "On a replica, 1 if the link to its primary is up (INFO replication master_link_status).",
        labels: &[],
        emit: Emit::PerTarget(|v, out| {
            if let Some(up) = v.sample().and_then(|s| s.master_link_up) {
                out(&[], bool_value(up))
            }
        }),
    },
    raw!(
        "redis_rejected_connections_total",
        Counter,
        "Connections rejected because of maxclients (INFO stats rejected_connections).",
        rejected_connections
    ),
    raw!(
        "redis_connections_received_total",
        Counter,
        "Connections accepted (INFO stats total_connections_received).",
        total_connections_received
    ),
    raw!(
        "redis_commands_processed_total",
        Counter,
        "Commands processed (INFO stats total_commands_processed).",
        total_commands_processed
    ),
    raw!(
        "redis_net_input_bytes_total",
        Counter,
        "Bytes read from the network (INFO stats total_net_input_bytes).",
        total_net_input_bytes
    ),
    raw!(
        "redis_net_output_bytes_total",
        Counter,
        "Bytes written to the network (INFO stats total_net_output_bytes).",
        total_net_output_bytes
    ),
    raw!(
        "redis_keyspace_hits_total",
        Counter,
        "Successful key lookups (INFO stats keyspace_hits).",
        keyspace_hits
    ),
    raw!(
        "redis_keyspace_misses_total",
        Counter,
        "Failed key lookups (INFO stats keyspace_misses).",
        keyspace_misses
    ),
    raw!(
        "redis_evicted_keys_total",
        Counter,
        "Keys evicted because of the maxmemory limit (INFO stats evicted_keys).",
        evicted_keys
    ),
    raw!(
        "redis_expired_keys_total",
        Counter,
        "Keys removed because their TTL passed (INFO stats expired_keys).",
        expired_keys
    ),
    raw!(
        "redis_memory_used_bytes",
        Gauge,
        "Memory allocated by Redis (INFO memory used_memory).",
        used_memory
    ),
    raw!(
        "redis_memory_used_rss_bytes",
        Gauge,
        "Resident set size of the server process (INFO memory used_memory_rss).",
        used_memory_rss
    ),
    raw!(
        "redis_memory_used_peak_bytes",
        Gauge,
        "Peak of used_memory (INFO memory used_memory_peak).",
        used_memory_peak
    ),
    raw!(
        "redis_memory_max_bytes",
        Gauge,
        "The maxmemory limit; 0 means no limit (INFO memory maxmemory, or CONFIG GET maxmemory).",
        maxmemory
    ),
    raw!(
        "redis_mem_not_counted_for_eviction_bytes",
        Gauge,
        "Replication and AOF buffers not counted against maxmemory (INFO memory mem_not_counted_for_evict).",
        mem_not_counted_for_evict
    ),
    raw!(
        "redis_mem_fragmentation_ratio",
        Gauge,
        "used_memory_rss / used_memory (INFO memory mem_fragmentation_ratio).",
        mem_fragmentation_ratio
    ),
    raw!(
        "redis_total_system_memory_bytes",
        Gauge,
        "Memory of the host Redis runs on (INFO memory total_system_memory).",
        total_system_memory
    ),
    MetricDef {
        name: "redis_commands_total",
        kind: Kind::Counter,
        help: "Calls per command (INFO commandstats cmdstat_<cmd> calls).",
        labels: &["cmd"],
        emit: Emit::PerTarget(|v, out| {
            for c in v.sample().map_or(&[][..], |s| &s.commands) {
                out(&[&c.name], c.calls as f64)
            }
        }),
    },
    MetricDef {
        name: "redis_commands_duration_seconds_total",
        kind: Kind::Counter,
        help: "CPU time spent per command (INFO commandstats cmdstat_<cmd> usec).",
        labels: &["cmd"],
        emit: Emit::PerTarget(|v, out| {
            for c in v.sample().map_or(&[][..], |s| &s.commands) {
                out(&[&c.name], c.usec as f64 / 1e6)
            }
        }),
    },
    MetricDef {
        name: "redis_db_keys",
        kind: Kind::Gauge,
        help: "Keys per database (INFO keyspace dbN keys).",
        labels: &["db"],
        emit: Emit::PerTarget(|v, out| {
            for d in v.sample().map_or(&[][..], |s| &s.keyspace) {
                out(&[&format!("db{}", d.db)], d.keys as f64)
            }
        }),
    },
    MetricDef {
        name: "redis_db_keys_expiring",
        kind: Kind::Gauge,
        help: "Keys with a TTL per database (INFO keyspace dbN expires).",
        labels: &["db"],
        emit: Emit::PerTarget(|v, out| {
            for d in v.sample().map_or(&[][..], |s| &s.keyspace) {
                out(&[&format!("db{}", d.db)], d.expires as f64)
            }
        }),
    },
    MetricDef {
        name: "redis_db_avg_ttl_seconds",
        kind: Kind::Gauge,
        help: "Average TTL of keys with a TTL per database, estimated by Redis (INFO keyspace dbN avg_ttl).",
        labels: &["db"],
        emit: Emit::PerTarget(|v, out| {
            for d in v.sample().map_or(&[][..], |s| &s.keyspace) {
                out(&[&format!("db{}", d.db)], d.avg_ttl_ms as f64 / 1e3)
            }
        }),
    },
    MetricDef {
        name: "redis_cache_hit_ratio",
        kind: Kind::Gauge,
        help: "keyspace_hits / (keyspace_hits + keyspace_misses) over the window, 0-1; absent when the window saw no lookups.",
        labels: &["window"],
        emit: Emit::PerTarget(|v, out| {
            for w in windows(v) {
                if let Some(r) = w.hit_ratio {
                    out(&[w.window.label()], r)
                }
            }
        }),
    },
    MetricDef {
        name: "redis_cache_lookups_per_second",
        kind: Kind::Gauge,
        help: "(keyspace_hits + keyspace_misses) per second over the window.",
        labels: &["window"],
        emit: Emit::PerTarget(|v, out| {
            for w in windows(v) {
                if let Some(r) = w.lookups_per_second {
                    out(&[w.window.label()], r)
                }
            }
        }),
    },
    MetricDef {
        name: "redis_cache_evictions",
        kind: Kind::Gauge,
        help: "Keys evicted during the window (increase of INFO stats evicted_keys, reset-safe).",
        labels: &["window"],
        emit: Emit::PerTarget(|v, out| {
            for w in windows(v) {
                if let Some(n) = w.evictions {
                    out(&[w.window.label()], n as f64)
                }
            }
        }),
    },
    MetricDef {
        name: "redis_cache_expirations",
        kind: Kind::Gauge,
        help: "Keys expired during the window (increase of INFO stats expired_keys, reset-safe).",
        labels: &["window"],
        emit: Emit::PerTarget(|v, out| {
            for w in windows(v) {
                if let Some(n) = w.expirations {
                    out(&[w.window.label()], n as f64)
                }
            }
        }),
    },
    MetricDef {
        name: "redis_cache_window_seconds",
        kind: Kind::Gauge,
        help: "Seconds of history the window's values cover (less than the window after a start).",
        labels: &["window"],
        emit: Emit::PerTarget(|v, out| {
            for w in windows(v) {
                out(&[w.window.label()], w.covered.as_secs_f64())
            }
        }),
    },
    MetricDef {
        name: "redis_memory_pressure_ratio",
        kind: Kind::Gauge,
        help: "(used_memory - mem_not_counted_for_evict) / maxmemory, as Redis counts for eviction; limit=\"system\" divides by total_system_memory when maxmemory is 0.",
        labels: &["limit"],
        emit: Emit::PerTarget(|v, out| {
            if let Some(p) = v.derived().and_then(|d| d.pressure) {
                out(&[p.limit.label()], p.ratio)
            }
        }),
    },
    MetricDef {
        name: "redis_db_ttl_coverage_ratio",
        kind: Kind::Gauge,
        help: "Share of the database's keys that have a TTL, 0-1 (INFO keyspace dbN expires / keys); absent for an empty database. Below 1 on a cache means keys that never expire.",
        labels: &["db"],
        emit: Emit::PerTarget(|v, out| {
            for d in v.sample().map_or(&[][..], |s| &s.keyspace) {
                if let Some(r) = crate::core::derive::ttl_coverage(d) {
                    out(&[&format!("db{}", d.db)], r)
                }
            }
        }),
    },
    MetricDef {
        name: "redis_cache_evictions_per_miss",
        kind: Kind::Gauge,
        help: "Keys evicted per keyspace miss over the window (increase of evicted_keys / increase of keyspace_misses); absent without misses. An evicted key causes at most one miss, so min(1, value) bounds the share of misses evictions explain.",
        labels: &["window"],
        emit: Emit::PerTarget(|v, out| {
            for w in windows(v) {
                if let Some(r) = w.evictions_per_miss() {
                    out(&[w.window.label()], r)
                }
            }
        }),
    },
    MetricDef {
        name: "redis_cache_expirations_per_miss",
        kind: Kind::Gauge,
        help: "Keys expired per keyspace miss over the window (increase of expired_keys / increase of keyspace_misses); absent without misses. An expired key causes at most one miss, so min(1, value) bounds the share of misses short TTLs explain.",
        labels: &["window"],
        emit: Emit::PerTarget(|v, out| {
            for w in windows(v) {
                if let Some(r) = w.expirations_per_miss() {
                    out(&[w.window.label()], r)
                }
            }
        }),
    },
    MetricDef {
        name: "redis_cache_miss_cause",
        kind: Kind::Gauge,
        help: "An estimate from ratios of counters, for targets without miss attribution (which measures the causes: redis_cache_misses_attributed_total): 1 for the likely cause of the window's misses, 0 for the others; absent without misses. cause=\"evictions\" (memory too small) or \"expirations\" (TTLs too short) when that per-miss value is the largest of evictions per miss, expirations per miss and the rest (1 - both); \"neither\" (keys never cached, a key space too large or unique, or deleted by the application) otherwise. An evicted or expired key never read again counts here though it caused no miss.",
        labels: &["window", "cause"],
        emit: Emit::PerTarget(|v, out| {
            if v.snap.attribution.is_some() {
                return;
            }
            for w in windows(v) {
                if let Some(c) = w.miss_cause() {
                    for cause in MissCause::ALL {
                        out(&[w.window.label(), cause.label()], bool_value(cause == c))
                    }
                }
            }
        }),
    },
    // Miss attribution (keyspace events), one block.
    MetricDef {
        name: "redis_cache_misses_attributed_total",
        kind: Kind::Counter,
        help: "Application keyspace misses by measured cause (miss attribution, opt-in): a keymiss event on a key whose latest remembered removal was an expired, evicted or del event is expired, evicted or deleted; any other is cold (never stored, or removed before the memory's horizon, redis_exporter_miss_attribution_horizon_seconds). The sampler's own lookups are left out.",
        labels: &["cause"],
        emit: Emit::PerTarget(|v, out| {
            if let Some(a) = &v.snap.attribution {
                for c in Cause::ALL {
                    out(&[c.label()], a.counts.attributed(c) as f64)
                }
            }
        }),
    },
    MetricDef {
        name: "redis_cache_miss_attribution_coverage_ratio",
        kind: Kind::Gauge,
        help: "Misses attributed over the window / increase of INFO keyspace_misses (the sampler's own taken out): 1 when no event was lost; below 1 while the subscriber was disconnected (killed, output buffer limit, restart) or the flags were missing. Absent without misses.",
        labels: &["window"],
        emit: Emit::PerTarget(|v, out| {
            for w in attribution_windows(v) {
                if let Some(c) = w.coverage {
                    out(&[w.window.label()], c)
                }
            }
        }),
    },
    MetricDef {
        name: "redis_cache_hit_ratio_ceiling",
        kind: Kind::Gauge,
        help: "The hit ratio the window would have had if the misses of one cause had been hits: without=\"evictions\" (more memory), \"expirations\" (longer TTLs), \"deletions\" (less eager invalidation). (hits + attributed misses of the cause) / lookups; absent without lookups.",
        labels: &["window", "without"],
        emit: Emit::PerTarget(|v, out| {
            for w in attribution_windows(v) {
                for (without, c) in Without::ALL.iter().zip(w.ceilings) {
                    if let Some(c) = c {
                        out(&[w.window.label(), without.label()], c)
                    }
                }
            }
        }),
    },
    MetricDef {
        name: "redis_cache_prefix_misses_total",
        kind: Kind::Counter,
        help: "Attributed misses per key prefix and cause, with the sampler's prefix rules (separator, depth, patterns) whether or not the sampler runs: the top_k prefixes by misses by name, the rest as (other). A prefix leaving the top K stops being exported and its later misses count in (other).",
        labels: &["prefix", "cause"],
        emit: Emit::PerTarget(|v, out| {
            if let Some(a) = &v.snap.attribution {
                for (prefix, counts) in &a.prefixes {
                    for (c, n) in Cause::ALL.iter().zip(counts) {
                        out(&[prefix, c.label()], *n as f64)
                    }
                }
            }
        }),
    },
    MetricDef {
        name: "redis_exporter_keyspace_events_total",
        kind: Kind::Counter,
        help: "Keyspace events the miss attribution's subscriber received, by event: keymiss, expired, evicted, del (DEL and UNLINK).",
        labels: &["event"],
        emit: Emit::PerTarget(|v, out| {
            if let Some(a) = &v.snap.attribution {
                for e in Event::ALL {
                    out(&[e.label()], a.counts.events(e) as f64)
                }
            }
        }),
    },
    attribution!(
        "redis_exporter_miss_attribution_active",
        Gauge,
        "1 while the miss attribution's subscriber is subscribed with the needed notify-keyspace-events flags (E, g, x, e, m) set or not verifiable (CONFIG refused); 0 otherwise (flags missing and manage_notifications false, or the connection lost). The log names the missing flags.",
        |a| bool_value(a.active)
    ),
    attribution!(
        "redis_exporter_miss_attribution_remembered_keys",
        Gauge,
        "Removed keys the miss attribution remembers now (a hash, the cause, the time each), at most remembered_keys.",
        |a| a.remembered_keys as f64
    ),
    attribution!(
        "redis_exporter_miss_attribution_remembered_capacity_keys",
        Gauge,
        "The configured bound of remembered removed keys (miss_attribution.remembered_keys).",
        |a| a.remembered_capacity as f64
    ),
    MetricDef {
        name: "redis_exporter_miss_attribution_horizon_seconds",
        kind: Kind::Gauge,
        help: "Age of the oldest remembered removal: a miss on a key removed longer ago counts as cold. Absent while nothing is remembered.",
        labels: &[],
        emit: Emit::PerTarget(|v, out| {
            if let Some(h) = v.snap.attribution.as_ref().and_then(|a| a.horizon) {
                out(&[], h.as_secs_f64())
            }
        }),
    },
    attribution!(
        "redis_exporter_miss_attribution_sampler_misses_total",
        Counter,
        "keymiss events of the key-prefix sampler's own PTTL calls (keys gone since SCAN), left out of redis_cache_misses_attributed_total.",
        |a| a.counts.own_misses as f64
    ),
    attribution!(
        "redis_exporter_keyspace_subscriber_disconnects_total",
        Counter,
        "Subscriber connections of the miss attribution lost after subscribing (CLIENT KILL, client-output-buffer-limit pubsub, restart, failover); each is resubscribed with backoff.",
        |a| a.disconnects_total as f64
    ),
    MetricDef {
        name: "redis_keyspace_prefix_keys_estimated",
        kind: Kind::Gauge,
        help: "Keys per prefix, estimated by the key-prefix sampler (opt-in): the prefix's share of the keys the last cycle examined (SCAN) times DBSIZE. prefix is a configured pattern, the name up to the separator followed by *, (none) without one, or (other) beyond the top K.",
        labels: &["prefix"],
        emit: Emit::PerTarget(|v, out| {
            for p in prefixes(v) {
                out(&[&p.prefix], p.keys_estimated)
            }
        }),
    },
    MetricDef {
        name: "redis_keyspace_prefix_no_ttl_ratio",
        kind: Kind::Gauge,
        help: "Share of the prefix's sampled keys without a TTL (PTTL -1), 0-1.",
        labels: &["prefix"],
        emit: Emit::PerTarget(|v, out| {
            for p in prefixes(v) {
                out(&[&p.prefix], p.no_ttl_ratio)
            }
        }),
    },
    MetricDef {
        name: "redis_keyspace_prefix_ttl_keys",
        kind: Kind::Gauge,
        help: "Estimated keys of the prefix by remaining TTL (PTTL): bucket none (no TTL), <1m, <1h, <1d, >=1d.",
        labels: &["prefix", "bucket"],
        emit: Emit::PerTarget(|v, out| {
            for p in prefixes(v) {
                for (b, n) in crate::core::sampler::Bucket::ALL.iter().zip(p.ttl_keys) {
                    out(&[&p.prefix, b.label()], n)
                }
            }
        }),
    },
    MetricDef {
        name: "redis_keyspace_prefix_memory_bytes_estimated",
        kind: Kind::Gauge,
        help: "Average MEMORY USAGE of up to memory_samples keys of the prefix per cycle times its estimated key count; absent when MEMORY USAGE is refused.",
        labels: &["prefix"],
        emit: Emit::PerTarget(|v, out| {
            for p in prefixes(v) {
                if let Some(b) = p.memory_bytes_estimated {
                    out(&[&p.prefix], b)
                }
            }
        }),
    },
    MetricDef {
        name: "redis_sampler_last_cycle_keys",
        kind: Kind::Gauge,
        help: "Keys the last sampler cycle examined (returned by SCAN), at most keys_per_cycle.",
        labels: &[],
        emit: Emit::PerTarget(|v, out| {
            if let Some(r) = last_cycle(v) {
                out(&[], r.keys as f64)
            }
        }),
    },
    MetricDef {
        name: "redis_sampler_last_cycle_duration_seconds",
        kind: Kind::Gauge,
        help: "Wall time of the last sampler cycle, pauses between batches included.",
        labels: &[],
        emit: Emit::PerTarget(|v, out| {
            if let Some(r) = last_cycle(v) {
                out(&[], r.duration.as_secs_f64())
            }
        }),
    },
    MetricDef {
        name: "redis_sampler_last_cycle_redis_seconds",
        kind: Kind::Gauge,
        help: "Redis-side CPU time of the last sampler cycle's SCAN, PTTL and MEMORY USAGE calls (INFO commandstats usec before and after the cycle, the cycle's share of each command's calls).",
        labels: &[],
        emit: Emit::PerTarget(|v, out| {
            if let Some(u) = last_cycle(v).and_then(|r| r.redis_usec) {
                out(&[], u as f64 / 1e6)
            }
        }),
    },
    MetricDef {
        name: "redis_sampler_cycles_total",
        kind: Kind::Counter,
        help: "Completed key-prefix sampler cycles.",
        labels: &[],
        emit: Emit::PerTarget(|v, out| {
            if let Some(s) = &v.snap.sampler {
                out(&[], s.cycles_total as f64)
            }
        }),
    },
    MetricDef {
        name: "redis_sampler_cycle_errors_total",
        kind: Kind::Counter,
        help: "Sampler cycles that failed (connection, timeout, or SCAN/PTTL refused).",
        labels: &[],
        emit: Emit::PerTarget(|v, out| {
            if let Some(s) = &v.snap.sampler {
                out(&[], s.cycle_errors_total as f64)
            }
        }),
    },
    MetricDef {
        name: "redis_sampler_keyspace_hits_total",
        kind: Kind::Counter,
        help: "Keyspace hits the sampler's PTTL calls caused, as of the same INFO as redis_keyspace_hits_total (which includes them): subtract it for the application's hits. Left out of the redis_cache_* values.",
        labels: &[],
        emit: Emit::PerTarget(|v, out| {
            if let Some(l) = v.derived().and_then(|d| d.own_lookups) {
                out(&[], l.hits as f64)
            }
        }),
    },
    MetricDef {
        name: "redis_sampler_keyspace_misses_total",
        kind: Kind::Counter,
        help: "Keyspace misses the sampler's PTTL calls caused (keys gone since SCAN), as of the same INFO as redis_keyspace_misses_total (which includes them): subtract it for the application's misses. Left out of the redis_cache_* values.",
        labels: &[],
        emit: Emit::PerTarget(|v, out| {
            if let Some(l) = v.derived().and_then(|d| d.own_lookups) {
                out(&[], l.misses as f64)
            }
        }),
    },
    MetricDef {
        name: "redis_exporter_resets_detected_total",
        kind: Kind::Counter,
        help: "Counter resets seen (restart: new run_id or lower uptime; CONFIG RESETSTAT: a counter went down).",
        labels: &[],
        emit: Emit::PerTarget(|v, out| {
            if let Some(last) = &v.snap.last {
                out(&[], last.derived.resets_total as f64)
            }
        }),
    },
    MetricDef {
        name: "redis_exporter_polls_total",
        kind: Kind::Counter,
        help: "Polls of the target, successful or not.",
        labels: &[],
        emit: Emit::PerTarget(|v, out| out(&[], v.snap.polls_total as f64)),
    },
    MetricDef {
        name: "redis_exporter_poll_errors_total",
        kind: Kind::Counter,
        help: "Failed polls by kind: connect, timeout, auth, protocol, command.",
        labels: &["kind"],
        emit: Emit::PerTarget(|v, out| {
            for k in ErrorKind::ALL {
                out(&[k.label()], v.snap.errors(k) as f64)
            }
        }),
    },
    MetricDef {
        name: "redis_exporter_last_poll_duration_seconds",
        kind: Kind::Gauge,
        help: "Duration of the last poll (connect if needed, INFO, CONFIG GET).",
        labels: &[],
        emit: Emit::PerTarget(|v, out| {
            if let Some(d) = v.snap.last_poll_duration {
                out(&[], d.as_secs_f64())
            }
        }),
    },
    MetricDef {
        name: "redis_exporter_last_poll_success_timestamp_seconds",
        kind: Kind::Gauge,
        help: "Unix time of the last successful poll.",
        labels: &[],
        emit: Emit::PerTarget(|v, out| {
            if let Some(t) = v.snap.last_success_unix {
                out(&[], t)
            }
        }),
    },
    MetricDef {
        name: "redis_cluster_state",
        kind: Kind::Gauge,
        help: "Redis Cluster entries: 1 if CLUSTER INFO cluster_state is ok, 0 if fail (asked of one node each poll interval; target is the entry's name).",
        labels: &["target"],
        emit: Emit::PerGroup(|g, out| {
            if let Some(h) = &g.health {
                out(&[&g.meta.name], bool_value(h.state_ok))
            }
        }),
    },
    cluster!(
        "redis_cluster_slots_assigned",
        "Slots assigned to a node (CLUSTER INFO cluster_slots_assigned; 16384 when all are).",
        slots_assigned
    ),
    cluster!(
        "redis_cluster_slots_ok",
        "Slots served by a node not in PFAIL or FAIL state (CLUSTER INFO cluster_slots_ok).",
        slots_ok
    ),
    cluster!(
        "redis_cluster_slots_pfail",
        "Slots served by a node one node sees as failing (CLUSTER INFO cluster_slots_pfail).",
        slots_pfail
    ),
    cluster!(
        "redis_cluster_slots_fail",
        "Slots served by a node the cluster agrees has failed (CLUSTER INFO cluster_slots_fail).",
        slots_fail
    ),
    cluster!(
        "redis_cluster_known_nodes",
        "Nodes the cluster knows, handshaking ones included (CLUSTER INFO cluster_known_nodes).",
        known_nodes
    ),
    cluster!(
        "redis_cluster_size",
        "Master nodes serving at least one slot (CLUSTER INFO cluster_size).",
        size
    ),
    MetricDef {
        name: "redis_cluster_node_info",
        kind: Kind::Gauge,
        help: "Always 1; one series per discovered node: its target, the Cluster entry, node id, role (master|replica) and shard (the node id of the shard's master), from CLUSTER SHARDS or CLUSTER NODES.",
        labels: &["target", "cluster", "node_id", "role", "shard"],
        emit: Emit::PerGroup(|g, out| {
            if g.kind == crate::state::GroupKind::Cluster {
                for n in &g.nodes {
                    out(
                        &[&n.target, &g.meta.name, &n.node_id, &n.role, &n.shard],
                        1.0,
                    )
                }
            }
        }),
    },
    MetricDef {
        name: "redis_exporter_discovery_up",
        kind: Kind::Gauge,
        help: "Cluster and Sentinel entries: 1 if the last discovery (CLUSTER INFO and topology, or the sentinels' answer) succeeded, else 0; kind is cluster|sentinel. Its instances are the targets `<target>/<host:port>`.",
        labels: &["target", "kind"],
        emit: Emit::PerGroup(|g, out| out(&[&g.meta.name, g.kind.label()], bool_value(g.up))),
    },
    MetricDef {
        name: "redis_exporter_build_info",
        kind: Kind::Gauge,
        help: "Always 1; the exporter's version.",
        labels: &["version"],
        emit: Emit::Global(|_, out| out(&[env!("CARGO_PKG_VERSION")], 1.0)),
    },
    MetricDef {
        name: "redis_exporter_config_last_reload_successful",
        kind: Kind::Gauge,
        help: "1 if the last configuration load (start, SIGHUP or POST /-/reload) succeeded, else 0.",
        labels: &[],
        emit: Emit::Global(|g, out| out(&[], bool_value(g.reload_successful))),
    },
    MetricDef {
        name: "redis_exporter_config_last_reload_success_timestamp_seconds",
        kind: Kind::Gauge,
        help: "Unix time of the last successful configuration load.",
        labels: &[],
        emit: Emit::Global(|g, out| out(&[], g.reload_success_unix)),
    },
];

/// The label names a target's static labels may not use: every label of every family (with
/// `target`, which every per-target family carries), and `instance` and `job`, which
/// Prometheus owns.
pub(crate) fn reserved_labels() -> BTreeSet<&'static str> {
    let mut names: BTreeSet<&'static str> = ["target", "instance", "job"].into();
    for def in TABLE {
        names.extend(def.labels.iter().copied());
    }
    names
}
