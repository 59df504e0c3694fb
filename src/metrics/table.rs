//! The metric table: every exported name, type, HELP text (citing the INFO field it comes from)
//! and label set in one place, each with the function that yields its values from a target's
//! snapshot. The README's metric reference is generated from [`TABLE`] (see `reference()`).
//!
//! Pure: builds `prometheus` metric families from snapshots; no IO. Raw Redis counters keep the
//! names `redis_exporter` uses where the meaning is identical, so existing PromQL keeps working.
//!
//! Label order on every series: `target`, then the metric's own labels, then the target's static
//! labels (sorted by name).

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use prometheus::proto::{Counter, Gauge, LabelPair, Metric, MetricFamily, MetricType};

use crate::core::derive::{Derived, MissCause, Window};
use crate::core::error_kind::ErrorKind;
use crate::core::info::Sample;
use crate::state::{Globals, GroupStatus, Rendered, Snapshot};

/// Counter or gauge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
}

/// Where a series comes from, for the reference table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    Raw,
    Derived,
    Exporter,
}

/// What an emitter sees of one target at scrape time.
pub struct View<'a> {
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
pub type Out<'o> = dyn FnMut(&[&str], f64) + 'o;

/// One row of the table.
pub struct MetricDef {
    pub name: &'static str,
    pub kind: Kind,
    pub group: Group,
    pub help: &'static str,
    /// The metric's own labels (besides `target` and static labels).
    pub labels: &'static [&'static str],
    pub emit: Emit,
}

/// How a metric's values are produced.
pub enum Emit {
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
            group: Group::Raw,
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
            group: Group::Raw,
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

fn windows<'a>(v: &'a View) -> impl Iterator<Item = &'a crate::core::derive::WindowStats> + 'a {
    v.derived().into_iter().flat_map(|d| d.windows.iter())
}

/// Every metric the exporter serves, in output order.
pub static TABLE: &[MetricDef] = &[
    MetricDef {
        name: "redis_up",
        kind: Kind::Gauge,
        group: Group::Raw,
        help: "1 if the last poll of the target succeeded (connection and INFO), else 0.",
        labels: &[],
        emit: Emit::PerTarget(|v, out| out(&[], bool_value(v.snap.up))),
    },
    MetricDef {
        name: "redis_target_info",
        kind: Kind::Gauge,
        group: Group::Raw,
        help: "Always 1; cache=\"true\" when the target is configured as a cache (config key `cache`). Join with `and on(target)`.",
        labels: &["cache"],
        emit: Emit::PerTarget(|v, out| {
            out(&[if v.snap.meta.cache { "true" } else { "false" }], 1.0)
        }),
    },
    MetricDef {
        name: "redis_instance_info",
        kind: Kind::Gauge,
        group: Group::Raw,
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
        group: Group::Raw,
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
        group: Group::Raw,
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
        group: Group::Raw,
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
        group: Group::Raw,
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
        group: Group::Raw,
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
        group: Group::Raw,
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
        group: Group::Raw,
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
        group: Group::Derived,
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
        group: Group::Derived,
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
        group: Group::Derived,
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
        group: Group::Derived,
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
        group: Group::Derived,
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
        group: Group::Derived,
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
        group: Group::Derived,
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
        group: Group::Derived,
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
        group: Group::Derived,
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
        group: Group::Derived,
        help: "1 for the likely cause of the window's misses, 0 for the others; absent without misses. cause=\"evictions\" (memory too small) or \"expirations\" (TTLs too short) when that per-miss value is the largest of evictions per miss, expirations per miss and the rest (1 - both); \"neither\" (keys never cached, a key space too large or unique, or deleted by the application) otherwise.",
        labels: &["window", "cause"],
        emit: Emit::PerTarget(|v, out| {
            for w in windows(v) {
                if let Some(c) = w.miss_cause() {
                    for cause in MissCause::ALL {
                        out(&[w.window.label(), cause.label()], bool_value(cause == c))
                    }
                }
            }
        }),
    },
    MetricDef {
        name: "redis_keyspace_prefix_keys_estimated",
        kind: Kind::Gauge,
        group: Group::Derived,
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
        group: Group::Derived,
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
        group: Group::Derived,
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
        group: Group::Derived,
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
        group: Group::Exporter,
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
        group: Group::Exporter,
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
        group: Group::Exporter,
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
        group: Group::Exporter,
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
        group: Group::Exporter,
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
        group: Group::Exporter,
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
        group: Group::Exporter,
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
        group: Group::Exporter,
        help: "Counter resets seen (restart: new run_id or lower uptime; CONFIG RESETSTAT: a counter went down).",
        labels: &[],
        emit: Emit::PerTarget(|v, out| {
            if let Some((_, d, _)) = &v.snap.last {
                out(&[], d.resets_total as f64)
            }
        }),
    },
    MetricDef {
        name: "redis_exporter_polls_total",
        kind: Kind::Counter,
        group: Group::Exporter,
        help: "Polls of the target, successful or not.",
        labels: &[],
        emit: Emit::PerTarget(|v, out| out(&[], v.snap.polls_total as f64)),
    },
    MetricDef {
        name: "redis_exporter_poll_errors_total",
        kind: Kind::Counter,
        group: Group::Exporter,
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
        group: Group::Exporter,
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
        group: Group::Exporter,
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
        group: Group::Raw,
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
        group: Group::Raw,
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
        group: Group::Exporter,
        help: "Cluster and Sentinel entries: 1 if the last discovery (CLUSTER INFO and topology, or the sentinels' answer) succeeded, else 0; kind is cluster|sentinel. Its instances are the targets `<target>/<host:port>`.",
        labels: &["target", "kind"],
        emit: Emit::PerGroup(|g, out| out(&[&g.meta.name, g.kind.label()], bool_value(g.up))),
    },
    MetricDef {
        name: "redis_exporter_build_info",
        kind: Kind::Gauge,
        group: Group::Exporter,
        help: "Always 1; the exporter's version.",
        labels: &["version"],
        emit: Emit::Global(|_, out| out(&[env!("CARGO_PKG_VERSION")], 1.0)),
    },
    MetricDef {
        name: "redis_exporter_config_last_reload_successful",
        kind: Kind::Gauge,
        group: Group::Exporter,
        help: "1 if the last configuration load (start, SIGHUP or POST /-/reload) succeeded, else 0.",
        labels: &[],
        emit: Emit::Global(|g, out| out(&[], bool_value(g.reload_successful))),
    },
    MetricDef {
        name: "redis_exporter_config_last_reload_success_timestamp_seconds",
        kind: Kind::Gauge,
        group: Group::Exporter,
        help: "Unix time of the last successful configuration load.",
        labels: &[],
        emit: Emit::Global(|g, out| out(&[], g.reload_success_unix)),
    },
];

fn pair(name: &str, value: &str) -> LabelPair {
    let mut p = LabelPair::default();
    p.set_name(name.to_string());
    p.set_value(value.to_string());
    p
}

fn metric(kind: Kind, labels: Vec<LabelPair>, value: f64) -> Metric {
    let mut m = Metric::from_label(labels);
    match kind {
        Kind::Counter => {
            let mut c = Counter::default();
            c.set_value(value);
            m.set_counter(c);
        }
        Kind::Gauge => {
            let mut g = Gauge::default();
            g.set_value(value);
            m.set_gauge(g);
        }
    }
    m
}

/// Builds every metric family from the snapshots, fresh on each call. `now` is the monotonic
/// offset used to decide which samples are still fresh.
pub fn families(snaps: &[Snapshot], globals: &Globals, now: Duration) -> Vec<MetricFamily> {
    let views: Vec<View> = snaps
        .iter()
        .map(|snap| View {
            snap,
            fresh: snap.fresh(now),
        })
        .collect();
    let mut out = Vec::with_capacity(TABLE.len());
    for def in TABLE {
        let mut metrics = Vec::new();
        match def.emit {
            Emit::PerTarget(emit) => {
                for v in &views {
                    let meta = &v.snap.meta;
                    emit(v, &mut |values: &[&str], value: f64| {
                        let mut labels = Vec::with_capacity(1 + values.len() + meta.labels.len());
                        labels.push(pair("target", &meta.name));
                        for (n, val) in def.labels.iter().zip(values) {
                            labels.push(pair(n, val));
                        }
                        for (n, val) in &meta.labels {
                            labels.push(pair(n, val));
                        }
                        metrics.push(metric(def.kind, labels, value));
                    });
                }
            }
            Emit::Global(emit) => emit(globals, &mut |values: &[&str], value: f64| {
                let labels = def
                    .labels
                    .iter()
                    .zip(values)
                    .map(|(n, v)| pair(n, v))
                    .collect();
                metrics.push(metric(def.kind, labels, value));
            }),
            Emit::PerGroup(emit) => {
                for g in globals.groups.values() {
                    emit(g, &mut |values: &[&str], value: f64| {
                        let mut labels: Vec<LabelPair> = def
                            .labels
                            .iter()
                            .zip(values)
                            .map(|(n, v)| pair(n, v))
                            .collect();
                        for (n, val) in &g.meta.labels {
                            labels.push(pair(n, val));
                        }
                        metrics.push(metric(def.kind, labels, value));
                    });
                }
            }
        }
        if metrics.is_empty() {
            continue;
        }
        let mut mf = MetricFamily::default();
        mf.set_name(def.name.to_string());
        mf.set_help(def.help.to_string());
        mf.set_field_type(match def.kind {
            Kind::Counter => MetricType::COUNTER,
            Kind::Gauge => MetricType::GAUGE,
        });
        mf.set_metric(metrics);
        out.push(mf);
    }
    out
}

/// Appends `v` escaped as the text format wants it: backslash and newline always, the double
/// quote too inside label values (as `prometheus::TextEncoder` does).
fn push_escaped(out: &mut String, v: &str, quote: bool) {
    if !v
        .bytes()
        .any(|b| b == b'\\' || b == b'\n' || (quote && b == b'"'))
    {
        out.push_str(v);
        return;
    }
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if quote => out.push_str("\\\""),
            c => out.push(c),
        }
    }
}

/// Appends one `name{labels} value` line; `head` is `{target="…"` (empty for exporter-wide
/// series) and `tail` the target's static labels, both escaped once per scrape.
fn push_sample(
    out: &mut String,
    name: &str,
    head: &str,
    own: &[&str],
    values: &[&str],
    tail: &str,
    value: f64,
) {
    out.push_str(name);
    out.push_str(head);
    let mut open = !head.is_empty();
    for (n, v) in own.iter().zip(values) {
        out.push(if open { ',' } else { '{' });
        open = true;
        out.push_str(n);
        out.push_str("=\"");
        push_escaped(out, v, true);
        out.push('"');
    }
    out.push_str(tail);
    if open {
        out.push('}');
    }
    out.push(' ');
    push_value(out, value);
    out.push('\n');
}

/// Appends `v` exactly as `Display` for f64 writes it (what the text encoder uses: "1", "0.9",
/// "NaN", "inf"). Integral values, most of a scrape (counters, bytes, flags), skip the float
/// formatter: for them `Display` prints the digits alone.
fn push_value(out: &mut String, v: f64) {
    use std::fmt::Write as _;
    // Below 2^53 every integral f64 is an exact integer; -0.0 prints as "-0" and takes the
    // general path.
    if v.fract() == 0.0 && v.abs() < 9_007_199_254_740_992.0 && !(v == 0.0 && v.is_sign_negative())
    {
        if v < 0.0 {
            out.push('-');
        }
        let mut n = v.abs() as u64;
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        out.push_str(std::str::from_utf8(&digits[i..]).unwrap_or("NaN"));
    } else {
        let _ = write!(out, "{v}");
    }
}

/// The label prefix (`{target="…"`) and suffix (`,team="…"`) of a target's series, escaped.
fn head_tail(snap: &Snapshot) -> (String, String) {
    let mut head = String::from("{target=\"");
    push_escaped(&mut head, &snap.meta.name, true);
    head.push('"');
    (head, label_suffix(&snap.meta.labels))
}

/// Static labels as they follow a series' own labels: `,name="value"` each, escaped.
fn label_suffix(labels: &BTreeMap<String, String>) -> String {
    let mut tail = String::new();
    for (n, v) in labels {
        tail.push(',');
        tail.push_str(n);
        tail.push_str("=\"");
        push_escaped(&mut tail, v, true);
        tail.push('"');
    }
    tail
}

/// Appends a family's `# HELP` and `# TYPE` lines.
fn push_header(out: &mut String, def: &MetricDef) {
    out.push_str("# HELP ");
    out.push_str(def.name);
    out.push(' ');
    push_escaped(out, def.help, false);
    out.push_str("\n# TYPE ");
    out.push_str(def.name);
    out.push_str(match def.kind {
        Kind::Counter => " counter\n",
        Kind::Gauge => " gauge\n",
    });
}

/// Appends the series of a per-group family (rendered on every scrape: a handful of groups).
fn push_groups(
    out: &mut String,
    def: &MetricDef,
    globals: &Globals,
    emit: fn(&GroupStatus, &mut Out),
) {
    for g in globals.groups.values() {
        let tail = label_suffix(&g.meta.labels);
        emit(g, &mut |values: &[&str], value: f64| {
            push_sample(out, def.name, "", def.labels, values, &tail, value)
        });
    }
}

/// Renders every per-target family of one target, in table order.
fn render_target(view: &View) -> Rendered {
    let (head, tail) = head_tail(view.snap);
    let mut text = String::new();
    let mut ends = Vec::with_capacity(TABLE.len());
    for def in TABLE {
        if let Emit::PerTarget(emit) = def.emit {
            emit(view, &mut |values: &[&str], value: f64| {
                push_sample(&mut text, def.name, &head, def.labels, values, &tail, value)
            });
        }
        ends.push(text.len() as u32);
    }
    text.shrink_to_fit();
    Rendered { text, ends }
}

/// How a scrape gets one target's lines: kept from an earlier scrape of the same snapshot, or
/// rendered into the output as it goes (with the target's label prefix and suffix escaped once).
enum Lines<'a> {
    Kept(&'a Rendered),
    Fresh {
        view: View<'a>,
        head: String,
        tail: String,
    },
}

/// A target's lines for a scrape at `now`. With `keep`, the second scrape of a snapshot's form
/// renders its lines into the snapshot's [`LineCache`](crate::state::LineCache) and later scrapes copy them.
fn lines_of(snap: &Snapshot, now: Duration, keep: bool) -> Lines<'_> {
    let fresh = snap.fresh(now);
    let form = usize::from(fresh.is_some());
    let view = View { snap, fresh };
    let cache = &snap.rendered;
    if let Some(r) = cache.lines[form].get() {
        return Lines::Kept(r);
    }
    if keep && cache.scraped[form].swap(true, Ordering::Relaxed) {
        return Lines::Kept(cache.lines[form].get_or_init(|| render_target(&view)));
    }
    let (head, tail) = head_tail(snap);
    Lines::Fresh { view, head, tail }
}

/// Writes the text exposition (format 0.0.4) of every family into `out`: the same bytes as
/// `prometheus::TextEncoder` produces from [`families`], without building the intermediate
/// protobuf structures. Lines of snapshots scraped before come from their [`LineCache`](crate::state::LineCache).
pub fn render_text(snaps: &[Snapshot], globals: &Globals, now: Duration, out: &mut String) {
    render(snaps, globals, now, true, out, usize::MAX, &mut |_| true);
}

/// [`render_text`] without the per-snapshot cache: every line rendered afresh, nothing kept.
/// The reference the cached path is tested against.
pub fn render_text_uncached(
    snaps: &[Snapshot],
    globals: &Globals,
    now: Duration,
    out: &mut String,
) {
    render(snaps, globals, now, false, out, usize::MAX, &mut |_| true);
}

/// [`render_text`] handed to `sink` in pieces of about `chunk` bytes (cut only between series
/// lines), so a large exposition is never held whole; `sink`'s flag is true for the last piece
/// (an exposition that fits in one piece comes whole, flagged last). Stops early when `sink`
/// returns false (the client went away).
pub fn render_chunks(
    snaps: &[Snapshot],
    globals: &Globals,
    now: Duration,
    chunk: usize,
    sink: &mut dyn FnMut(String, bool) -> bool,
) {
    // A piece grows to about `chunk`; a small exposition (about 6 KiB per target) gets less.
    let room = chunk.saturating_add(16 * 1024);
    let mut out = String::with_capacity(room.min(4096 + snaps.len() * 6 * 1024));
    // One piece is held back until the next, so the last one can be flagged.
    let mut held: Option<String> = None;
    let finished = render(snaps, globals, now, true, &mut out, chunk, &mut |out| {
        let piece = std::mem::replace(out, String::with_capacity(room));
        held.replace(piece)
            .is_none_or(|previous| sink(previous, false))
    });
    if finished {
        let last = match held {
            Some(previous) if out.is_empty() => previous,
            Some(previous) => {
                if !sink(previous, false) {
                    return;
                }
                out
            }
            None => out,
        };
        sink(last, true);
    }
}

/// The rendering behind [`render_text`] and [`render_chunks`]: calls `flush` whenever `out`
/// holds `chunk` bytes or more at the end of a target's lines; returns false when `flush` did.
fn render(
    snaps: &[Snapshot],
    globals: &Globals,
    now: Duration,
    keep: bool,
    out: &mut String,
    chunk: usize,
    flush: &mut dyn FnMut(&mut String) -> bool,
) -> bool {
    let lines: Vec<Lines> = snaps.iter().map(|s| lines_of(s, now, keep)).collect();
    for (i, def) in TABLE.iter().enumerate() {
        let start = out.len();
        push_header(out, def);
        let header = out.len();
        // Once part of a family has been handed on, it has series and cannot be taken back.
        let mut handed = false;
        match def.emit {
            Emit::PerTarget(emit) => {
                for l in &lines {
                    match l {
                        Lines::Kept(r) => {
                            let from = if i == 0 { 0 } else { r.ends[i - 1] as usize };
                            out.push_str(&r.text[from..r.ends[i] as usize]);
                        }
                        Lines::Fresh { view, head, tail } => {
                            emit(view, &mut |values: &[&str], value: f64| {
                                push_sample(out, def.name, head, def.labels, values, tail, value)
                            })
                        }
                    }
                    if out.len() >= chunk && (handed || out.len() > header) {
                        if !flush(out) {
                            return false;
                        }
                        handed = true;
                    }
                }
            }
            Emit::Global(emit) => emit(globals, &mut |values: &[&str], value: f64| {
                push_sample(out, def.name, "", def.labels, values, "", value)
            }),
            Emit::PerGroup(emit) => push_groups(out, def, globals, emit),
        }
        // A family without series is left out, as `families` does.
        if !handed && out.len() == header {
            out.truncate(start);
        }
        if out.len() >= chunk && !flush(out) {
            return false;
        }
    }
    true
}

/// The metric reference as a Markdown table (README and docs/metrics.md are checked against it).
pub fn reference() -> String {
    let mut s = String::from("| metric | type | labels | meaning |\n|---|---|---|---|\n");
    for def in TABLE {
        let mut labels: Vec<&str> = Vec::new();
        if matches!(def.emit, Emit::PerTarget(_)) {
            labels.push("target");
        }
        labels.extend(def.labels);
        let kind = match def.kind {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
        };
        s.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            def.name,
            kind,
            labels
                .iter()
                .map(|l| format!("`{l}`"))
                .collect::<Vec<_>>()
                .join(", "),
            def.help.replace('|', "\\|")
        ));
    }
    s
}

/// Every window label, for documentation and tests.
pub fn window_labels() -> Vec<&'static str> {
    Window::ALL.iter().map(|w| w.label()).collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use prometheus::{Encoder, TextEncoder};

    use super::*;
    use crate::core::derive::History;
    use crate::state::{Outcome, Shared, TargetMeta};

    const INFO: &str = include_str!("../../tests/fixtures/info/redis-7.0-evicting.txt");

    fn encoded(shared: &Shared, now: Duration) -> String {
        let families = families(&shared.snapshots(), &shared.globals(), now);
        let mut buf = Vec::new();
        TextEncoder::new().encode(&families, &mut buf).unwrap();
        String::from_utf8(buf).unwrap()
    }

    fn rendered(shared: &Shared, now: Duration) -> String {
        let mut out = String::new();
        render_text(&shared.snapshots(), &shared.globals(), now, &mut out);
        out
    }

    /// What a streamed /metrics body adds up to, with pieces of about `chunk` bytes (each
    /// piece checked to end at a line's end).
    fn chunked(shared: &Shared, now: Duration, chunk: usize) -> String {
        let mut out = String::new();
        let mut done = false;
        render_chunks(
            &shared.snapshots(),
            &shared.globals(),
            now,
            chunk,
            &mut |piece, last| {
                assert!(
                    piece.ends_with('\n'),
                    "a piece cut inside a line: {piece:?}"
                );
                assert!(!done, "a piece after the last");
                done = last;
                out.push_str(&piece);
                true
            },
        );
        assert!(done, "no piece flagged last");
        out
    }

    fn add(shared: &Shared, name: &str, labels: &[(&str, &str)]) {
        shared.add(TargetMeta {
            name: name.into(),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
            cache: true,
            stale_after: Duration::from_secs(45),
        });
    }

    #[test]
    fn values_print_as_display_does() {
        for v in [
            0.0,
            -0.0,
            1.0,
            -1.0,
            0.9,
            1e-7,
            123_456_789.0,
            -42.0,
            1e15,
            9_007_199_254_740_991.0,
            9_007_199_254_740_992.0,
            1e20,
            f64::MAX,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            1_700_000_000.25,
        ] {
            let mut out = String::new();
            push_value(&mut out, v);
            assert_eq!(out, format!("{v}"), "{v:?}");
        }
    }

    fn uncached(shared: &Shared, now: Duration) -> String {
        let mut out = String::new();
        render_text_uncached(&shared.snapshots(), &shared.globals(), now, &mut out);
        out
    }

    /// One successful poll of `name` at `t` (seconds), its counters grown by `i`.
    fn poll(shared: &Shared, h: &mut History, name: &str, t: u64, i: u64) {
        let mut s = crate::core::info::parse(INFO).unwrap();
        s.keyspace_hits = s.keyspace_hits.map(|v| v + 9 * i);
        s.keyspace_misses = s.keyspace_misses.map(|v| v + i);
        let t = Duration::from_secs(t);
        let d = h.observe(t, &s);
        shared.record(
            name,
            Outcome::Success {
                sample: Arc::new(s),
                derived: Arc::new(d),
            },
            Duration::from_micros(1234),
            t,
            1.7e9 + t.as_secs_f64(),
        );
    }

    #[test]
    fn a_streamed_rendering_comes_in_pieces_and_stops_when_the_client_goes_away() {
        let shared = Shared::new();
        let mut hs = Vec::new();
        for name in ["a", "b", "c"] {
            add(&shared, name, &[]);
            let mut h = History::new(Duration::from_secs(7));
            poll(&shared, &mut h, name, 60, 0);
            hs.push(h);
        }
        let now = Duration::from_secs(61);
        let whole = rendered(&shared, now);
        let (mut sizes, mut lasts) = (Vec::new(), Vec::new());
        render_chunks(
            &shared.snapshots(),
            &shared.globals(),
            now,
            1000,
            &mut |piece, last| {
                sizes.push(piece.len());
                lasts.push(last);
                true
            },
        );
        assert_eq!(lasts.iter().filter(|l| **l).count(), 1);
        assert_eq!(lasts.last(), Some(&true));
        assert_eq!(sizes.iter().sum::<usize>(), whole.len());
        assert!(sizes.len() > 5, "{sizes:?}");
        let (last, full) = sizes.split_last().unwrap();
        assert!(*last > 0);
        assert!(full.iter().all(|s| (1000..3000).contains(s)), "{sizes:?}");
        let mut pieces = 0;
        render_chunks(
            &shared.snapshots(),
            &shared.globals(),
            now,
            1000,
            &mut |_, _| {
                pieces += 1;
                false
            },
        );
        assert_eq!(
            pieces, 1,
            "rendering went on after the sink refused a piece"
        );
        // What fits in one piece comes whole, flagged last.
        let mut whole_pieces = Vec::new();
        render_chunks(
            &shared.snapshots(),
            &shared.globals(),
            now,
            1 << 20,
            &mut |piece, last| {
                whole_pieces.push((piece, last));
                true
            },
        );
        assert_eq!(whole_pieces, [(whole, true)]);
    }

    #[test]
    fn cached_rendering_follows_changing_snapshots() {
        let shared = Shared::new();
        shared.set_reload(true, 1_700_000_000.25);
        add(&shared, "a", &[("team", "x\"y")]);
        add(&shared, "b", &[]);
        let (mut ha, mut hb) = (
            History::new(Duration::from_secs(7)),
            History::new(Duration::from_secs(7)),
        );
        poll(&shared, &mut ha, "a", 60, 0);
        poll(&shared, &mut hb, "b", 70, 0);
        let check = |now: u64, what: &str| {
            let now = Duration::from_secs(now);
            let cached = rendered(&shared, now);
            assert_eq!(cached, uncached(&shared, now), "{what}");
            // A second scrape of unchanged snapshots keeps their lines, a third copies them.
            assert_eq!(rendered(&shared, now), cached, "{what}, again");
            assert_eq!(rendered(&shared, now), cached, "{what}, from the cache");
            assert_eq!(cached, encoded(&shared, now), "{what}, text encoder");
            assert_eq!(chunked(&shared, now, 100), cached, "{what}, in pieces");
            cached
        };
        let kept = |i: usize| shared.snapshots()[i].rendered.lines[1].get().is_some();
        // One scrape per snapshot keeps nothing.
        rendered(&shared, Duration::from_secs(75));
        assert!(!kept(0) && !kept(1), "kept after one scrape");
        let first = check(75, "both fresh");
        assert!(
            kept(0) && kept(1),
            "fresh forms kept from the second scrape"
        );
        // A poll of one target replaces its lines only.
        poll(&shared, &mut ha, "a", 75, 1);
        assert!(!kept(0));
        assert!(kept(1));
        let second = check(76, "after a poll of a");
        assert_ne!(first, second);
        // A failed poll: up=0, the error counted, values still fresh.
        shared.record(
            "b",
            Outcome::Failure(ErrorKind::Timeout),
            Duration::from_millis(500),
            Duration::from_secs(85),
            1.7e9 + 85.0,
        );
        let third = check(86, "after b failed");
        assert!(third.contains("redis_up{target=\"b\"} 0\n"));
        assert!(third.contains("redis_uptime_in_seconds{target=\"b\"}"));
        // b goes stale between scrapes without a new poll (last success at 70 s, stale after
        // 45 s): its values disappear, a stays.
        let stale = check(116, "b stale");
        assert!(!stale.contains("redis_uptime_in_seconds{target=\"b\"}"));
        assert!(stale.contains("redis_uptime_in_seconds{target=\"a\",team=\"x\\\"y\"}"));
        // And both forms stay consistent when scrapes go back and forth.
        assert_eq!(check(86, "b fresh again at an earlier now"), third);
        check(200, "both stale");
        poll(&shared, &mut hb, "b", 201, 1);
        check(202, "b polled again");
    }

    #[test]
    fn render_text_is_byte_for_byte_what_the_text_encoder_makes() {
        let shared = Shared::new();
        shared.set_reload(true, 1_700_000_000.25);
        let base = crate::core::info::parse(INFO).unwrap();
        // Label values that need escaping, in target names and static labels.
        add(
            &shared,
            "a \"quoted\" \\ name\nwith newline",
            &[("team", "x\"y")],
        );
        add(&shared, "plain", &[("env", "prod"), ("team", "b\\c")]);
        add(&shared, "stale", &[]);
        add(&shared, "down", &[]);
        for (name, at) in [
            ("a \"quoted\" \\ name\nwith newline", 100),
            ("plain", 100),
            ("stale", 40),
        ] {
            let mut h = History::new(Duration::from_secs(7));
            for i in 0..3u64 {
                let mut s = base.clone();
                s.keyspace_hits = s.keyspace_hits.map(|v| v + 9 * i);
                s.keyspace_misses = s.keyspace_misses.map(|v| v + i);
                let t = Duration::from_secs(at - 30 + 15 * i);
                let d = h.observe(t, &s);
                shared.record(
                    name,
                    Outcome::Success {
                        sample: Arc::new(s),
                        derived: Arc::new(d),
                    },
                    Duration::from_micros(1234),
                    t,
                    1.7e9 + t.as_secs_f64(),
                );
            }
        }
        shared.record(
            "down",
            Outcome::Failure(ErrorKind::Timeout),
            Duration::from_millis(500),
            Duration::from_secs(99),
            1.7e9,
        );
        shared.set_group(crate::state::GroupStatus {
            meta: Arc::new(TargetMeta {
                name: "cl\"x".into(),
                labels: [("team".to_string(), "q\\z".to_string())].into(),
                cache: true,
                stale_after: Duration::from_secs(45),
            }),
            kind: crate::state::GroupKind::Cluster,
            up: true,
            nodes: vec![crate::state::GroupNode {
                target: "cl\"x/127.0.0.1:7000".into(),
                addr: "127.0.0.1:7000".into(),
                node_id: "abc".into(),
                role: "master".into(),
                shard: "abc".into(),
            }],
            health: Some(crate::core::cluster::Health {
                state_ok: true,
                slots_assigned: 16384,
                ..Default::default()
            }),
        });
        let now = Duration::from_secs(101);
        let text = rendered(&shared, now);
        assert_eq!(text, encoded(&shared, now));
        assert_eq!(text, uncached(&shared, now));
        assert!(text.contains(
            "redis_cluster_node_info{target=\"cl\\\"x/127.0.0.1:7000\",cluster=\"cl\\\"x\",node_id=\"abc\",role=\"master\",shard=\"abc\",team=\"q\\\\z\"} 1\n"
        ), "{text}");
        assert!(
            text.contains(
                "redis_cluster_slots_assigned{target=\"cl\\\"x\",team=\"q\\\\z\"} 16384\n"
            )
        );
        assert!(text.contains("target=\"a \\\"quoted\\\" \\\\ name\\nwith newline\""));
        assert!(text.contains("redis_exporter_build_info{version=\""));
        assert!(text.contains("\nredis_exporter_config_last_reload_successful 1\n"));
        // No targets at all: only the exporter-wide families.
        let empty = Shared::new();
        assert_eq!(rendered(&empty, now), encoded(&empty, now));
    }
}
