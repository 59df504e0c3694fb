//! The metric table: every exported name, type, HELP text (citing the INFO field it comes from)
//! and label set in one place, each with the function that yields its values from a target's
//! snapshot. docs/metrics.md's metric reference is generated from [`TABLE`] (`super::reference`).
//!
//! Raw Redis counters keep the names `redis_exporter` uses where the meaning is identical, so
//! existing PromQL keeps working.

use std::borrow::Cow;
use std::collections::BTreeSet;

use crate::core::attribution::{Cause, Event, Without};
use crate::core::derive::{
    AttributionWindow, Derived, MissCause, SizingStatus, SizingWindow, WindowStats,
};
use crate::core::error_kind::ErrorKind;
use crate::core::ghost::curve::{MEMORY_MULTIPLES, TARGET_RATIOS};
use crate::core::info::{DbStat, Persistence, Sample, Slow};
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

/// A value computed from the fresh sample, on a series without labels of its own.
macro_rules! from_sample {
    ($name:literal, $kind:ident, $help:literal, |$s:ident| $e:expr) => {
        MetricDef {
            name: $name,
            kind: Kind::$kind,
            help: $help,
            labels: &[],
            emit: Emit::PerTarget(|v, out| {
                if let Some(x) = v.sample().and_then(|$s: &Sample| $e) {
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

/// A figure of a target's memory-sizing model (absent without miss attribution).
macro_rules! ghost {
    ($name:literal, $help:literal, $value:expr) => {
        MetricDef {
            name: $name,
            kind: Kind::Gauge,
            help: $help,
            labels: &[],
            emit: Emit::PerTarget(|v, out| {
                if let Some(s) = sizing(v) {
                    let value: fn(&SizingStatus) -> f64 = $value;
                    out(&[], value(s))
                }
            }),
        }
    };
}

/// A field of INFO persistence (read at the slow sections' cadence).
macro_rules! persistence {
    ($name:literal, $help:literal, $field:ident) => {
        from_sample!($name, Gauge, $help, |s| persistence(s)?
            .$field
            .map(Into::<Number>::into)
            .map(|n| n.0))
    };
}

/// A persistence field as a number: flags as 0/1, counts and times as they are.
struct Number(f64);

impl From<bool> for Number {
    fn from(b: bool) -> Number {
        Number(bool_value(b))
    }
}

impl From<u64> for Number {
    fn from(n: u64) -> Number {
        Number(n as f64)
    }
}

impl From<i64> for Number {
    fn from(n: i64) -> Number {
        Number(n as f64)
    }
}

fn slow(s: &Sample) -> Option<&Slow> {
    s.slow.as_deref()
}

fn persistence(s: &Sample) -> Option<&Persistence> {
    slow(s).map(|x| &x.persistence)
}

/// A replica's `master_host` and `master_port`, the labels redis_exporter puts on the series
/// about the link to the master; `None` on a master.
fn master_labels(s: &Sample) -> Option<[&str; 2]> {
    let r = &s.replication;
    Some([
        r.master_host.as_deref()?,
        r.master_port.as_deref().unwrap_or(""),
    ])
}

/// Calls `f` for each database `redis_db_keys` covers: `db0`…`db{databases-1}` when CONFIG
/// said how many (an empty one as 0, as redis_exporter does), else the ones INFO keyspace
/// lists; with the database's line, if any. A loop, not an iterator chain: it runs for every
/// target on every scrape, where the chain's adapters showed as 2-3 % of a scrape's CPU.
fn each_database(s: &Sample, mut f: impl FnMut(&str, Option<&DbStat>)) {
    let n = s.databases.map_or(0, |n| n.min(MAX_DATABASES));
    let line = |db: u32| s.keyspace.iter().find(|d| d.db == db);
    for db in 0..n {
        f(&db_label(db), line(db));
    }
    for d in s.keyspace.iter().filter(|d| d.db >= n) {
        f(&db_label(d.db), Some(d));
    }
}

/// `db3` for database 3; Redis's default 16 without an allocation, since every target's
/// databases are rendered on every scrape.
fn db_label(db: u32) -> Cow<'static, str> {
    const DEFAULT: [&str; 16] = [
        "db0", "db1", "db2", "db3", "db4", "db5", "db6", "db7", "db8", "db9", "db10", "db11",
        "db12", "db13", "db14", "db15",
    ];
    match DEFAULT.get(db as usize) {
        Some(l) => Cow::Borrowed(l),
        None => Cow::Owned(format!("db{db}")),
    }
}

/// At most this many empty databases get series: `databases` is a config value, and a typo
/// of a million would make a million series per target.
const MAX_DATABASES: u32 = 1024;

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

/// Memory sizing of the last fresh poll.
fn sizing<'a>(v: &'a View) -> Option<&'a SizingStatus> {
    v.derived()?.sizing.as_ref()
}

/// One point of each memory-sizing window per `labels` entry (window, then that label), the
/// absent ones left out (beyond the ghost list's span, above the ceiling); none under a
/// refused policy.
fn sizing_points(
    v: &View,
    out: &mut Out,
    points: fn(&SizingWindow) -> &[Option<f64>; 3],
    labels: [(f64, &str); 3],
) {
    for w in sizing(v).into_iter().flat_map(|s| s.windows.iter()) {
        for (p, (_, label)) in points(w).iter().zip(labels) {
            if let Some(p) = p {
                out(&[w.window.label(), label], *p);
            }
        }
    }
}

fn windows<'a>(v: &'a View) -> impl Iterator<Item = &'a WindowStats> + 'a {
    v.derived().into_iter().flat_map(|d| d.windows.iter())
}

/// One point per window (labelled by it) that has a `value`; the others left out.
fn per_window(v: &View, out: &mut Out, value: fn(&WindowStats) -> Option<f64>) {
    for w in windows(v) {
        if let Some(x) = value(w) {
            out(&[w.window.label()], x);
        }
    }
}

/// One point per database of `each_database` (labelled by it): `count` of its INFO keyspace
/// line, 0 for a database INFO does not list.
fn per_database(v: &View, out: &mut Out, count: fn(&DbStat) -> u64) {
    if let Some(s) = v.sample() {
        each_database(s, |db, line| {
            out(&[db], line.map_or(0.0, |d| count(d) as f64));
        });
    }
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
        help: "Always 1; cache=\"true\" when the target is configured as a cache (config key \
               `cache`). Join with `and on(target)`.",
        labels: &["cache"],
        emit: Emit::PerTarget(|v, out| {
            out(&[if v.snap.meta.cache { "true" } else { "false" }], 1.0);
        }),
    },
    MetricDef {
        name: "redis_instance_info",
        kind: Kind::Gauge,
        help: "Always 1; INFO server redis_version, redis_mode, server_name (server), \
               valkey_version (Valkey, whose redis_version stays 7.2.4 for compatibility) and INFO \
               replication role.",
        labels: &[
            "redis_version",
            "redis_mode",
            "role",
            "server",
            "valkey_version",
        ],
        emit: Emit::PerTarget(|v, out| {
            if let Some(s) = v.sample() {
                let get = |o: &Option<String>| o.clone().unwrap_or_default();
                out(
                    &[
                        &get(&s.redis_version),
                        &get(&s.redis_mode),
                        &get(&s.role),
                        s.server(),
                        &get(&s.valkey_version),
                    ],
                    1.0,
                );
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
        help: "Always 1; the eviction policy (INFO memory maxmemory_policy, or CONFIG GET \
               maxmemory-policy).",
        labels: &["policy"],
        emit: Emit::PerTarget(|v, out| {
            if let Some(p) = v.sample().and_then(|s| s.maxmemory_policy.as_deref()) {
                out(&[p], 1.0);
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
        "redis_config_maxclients",
        Gauge,
        "The maxclients limit (INFO clients maxclients, or CONFIG GET maxclients where INFO lacks \
         it).",
        maxclients
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
        help: "On a replica, 1 if the link to its master is up (INFO replication \
               master_link_status).",
        labels: &["master_host", "master_port"],
        emit: Emit::PerTarget(|v, out| {
            if let Some(s) = v.sample()
                && let Some(up) = s.master_link_up
            {
                out(&master_labels(s).unwrap_or_default(), bool_value(up));
            }
        }),
    },
    MetricDef {
        name: "redis_master_last_io_seconds_ago",
        kind: Kind::Gauge,
        help: "On a replica, seconds since the last interaction with its master; -1 before the \
               first (INFO replication master_last_io_seconds_ago).",
        labels: &["master_host", "master_port"],
        emit: Emit::PerTarget(|v, out| {
            if let Some(s) = v.sample()
                && let (Some(l), Some(io)) =
                    (master_labels(s), s.replication.master_last_io_seconds_ago)
            {
                out(&l, io as f64);
            }
        }),
    },
    MetricDef {
        name: "redis_master_sync_in_progress",
        kind: Kind::Gauge,
        help: "On a replica, 1 while it loads a full copy from its master (INFO replication \
               master_sync_in_progress).",
        labels: &["master_host", "master_port"],
        emit: Emit::PerTarget(|v, out| {
            if let Some(s) = v.sample()
                && let (Some(l), Some(b)) =
                    (master_labels(s), s.replication.master_sync_in_progress)
            {
                out(&l, bool_value(b));
            }
        }),
    },
    MetricDef {
        name: "redis_slave_repl_offset",
        kind: Kind::Gauge,
        help: "On a replica, the replication offset it has processed (INFO replication \
               slave_repl_offset); redis_master_repl_offset of its master minus this is its lag in \
               bytes.",
        labels: &["master_host", "master_port"],
        emit: Emit::PerTarget(|v, out| {
            if let Some(s) = v.sample()
                && let (Some(l), Some(o)) = (master_labels(s), s.replication.slave_repl_offset)
            {
                out(&l, o as f64);
            }
        }),
    },
    MetricDef {
        name: "redis_slave_info",
        kind: Kind::Gauge,
        help: "On a replica, always 1; its master (INFO replication master_host, master_port) and \
               read_only (slave_read_only).",
        labels: &["master_host", "master_port", "read_only"],
        emit: Emit::PerTarget(|v, out| {
            if let Some(s) = v.sample()
                && let Some([host, port]) = master_labels(s)
            {
                let ro = match s.replication.slave_read_only {
                    Some(true) => "1",
                    Some(false) => "0",
                    None => "",
                };
                out(&[host, port, ro], 1.0);
            }
        }),
    },
    from_sample!(
        "redis_master_repl_offset",
        Gauge,
        "The server's replication offset (INFO replication master_repl_offset).",
        |s| s.replication.master_repl_offset
    ),
    MetricDef {
        name: "redis_connected_slave_offset_bytes",
        kind: Kind::Gauge,
        help: "On a master, the replication offset each replica acknowledged (INFO replication \
               slaveN offset).",
        labels: &["slave_ip", "slave_port", "slave_state"],
        emit: Emit::PerTarget(|v, out| {
            for r in v.sample().map_or(&[][..], |s| &s.replication.replicas) {
                out(&[&r.ip, &r.port, &r.state], r.offset as f64);
            }
        }),
    },
    MetricDef {
        name: "redis_connected_slave_lag_seconds",
        kind: Kind::Gauge,
        help: "On a master, seconds since each replica's last acknowledgement (INFO replication \
               slaveN lag).",
        labels: &["slave_ip", "slave_port", "slave_state"],
        emit: Emit::PerTarget(|v, out| {
            for r in v.sample().map_or(&[][..], |s| &s.replication.replicas) {
                if let Some(lag) = r.lag {
                    out(&[&r.ip, &r.port, &r.state], lag as f64);
                }
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
        "redis_evicted_clients_total",
        Counter,
        "Clients evicted because of maxmemory-clients (INFO stats evicted_clients, Redis 7+).",
        evicted_clients
    ),
    from_sample!(
        "redis_eviction_exceeded_seconds_total",
        Counter,
        "Seconds used memory spent over maxmemory, eviction not keeping up with writes (INFO stats \
         total_eviction_exceeded_time, milliseconds, Redis 7+; redis_exporter's \
         redis_eviction_exceeded_time_ms_total / 1000).",
        |s| s.total_eviction_exceeded_time_ms.map(|ms| ms as f64 / 1e3)
    ),
    from_sample!(
        "redis_current_eviction_exceeded_seconds",
        Gauge,
        "Seconds used memory has now been over maxmemory; 0 when it is not (INFO stats \
         current_eviction_exceeded_time, milliseconds, Redis 7+; redis_exporter's \
         redis_current_eviction_exceeded_time_ms / 1000).",
        |s| s
            .current_eviction_exceeded_time_ms
            .map(|ms| ms as f64 / 1e3)
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
        "Replication and AOF buffers not counted against maxmemory (INFO memory \
         mem_not_counted_for_evict).",
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
    from_sample!(
        "redis_cpu_sys_seconds_total",
        Counter,
        "System CPU seconds of the server, all threads (INFO cpu used_cpu_sys).",
        |s| s.cpu.sys
    ),
    from_sample!(
        "redis_cpu_user_seconds_total",
        Counter,
        "User CPU seconds of the server, all threads (INFO cpu used_cpu_user).",
        |s| s.cpu.user
    ),
    from_sample!(
        "redis_cpu_sys_children_seconds_total",
        Counter,
        "System CPU seconds of background children: RDB saves, AOF rewrites (INFO cpu \
         used_cpu_sys_children).",
        |s| s.cpu.sys_children
    ),
    from_sample!(
        "redis_cpu_user_children_seconds_total",
        Counter,
        "User CPU seconds of background children (INFO cpu used_cpu_user_children).",
        |s| s.cpu.user_children
    ),
    from_sample!(
        "redis_cpu_sys_main_thread_seconds_total",
        Counter,
        "System CPU seconds of the main thread, the one that runs commands (INFO cpu \
         used_cpu_sys_main_thread, Redis 6.2+). Its rate near 1 with the user rate means the \
         server is saturated.",
        |s| s.cpu.sys_main_thread
    ),
    from_sample!(
        "redis_cpu_user_main_thread_seconds_total",
        Counter,
        "User CPU seconds of the main thread (INFO cpu used_cpu_user_main_thread, Redis 6.2+).",
        |s| s.cpu.user_main_thread
    ),
    persistence!(
        "redis_rdb_last_save_timestamp_seconds",
        "Unix time of the last successful RDB save (INFO persistence rdb_last_save_time; read once \
         a minute).",
        rdb_last_save_time
    ),
    persistence!(
        "redis_rdb_changes_since_last_save",
        "Writes since the last RDB save (INFO persistence rdb_changes_since_last_save; read once a \
         minute).",
        rdb_changes_since_last_save
    ),
    persistence!(
        "redis_rdb_bgsave_in_progress",
        "1 while an RDB save runs (INFO persistence rdb_bgsave_in_progress; read once a minute).",
        rdb_bgsave_in_progress
    ),
    persistence!(
        "redis_rdb_last_bgsave_status",
        "1 if the last RDB save succeeded, 0 if it failed (INFO persistence \
         rdb_last_bgsave_status; read once a minute).",
        rdb_last_bgsave_ok
    ),
    persistence!(
        "redis_rdb_last_bgsave_duration_seconds",
        "Seconds the last RDB save took; -1 when there was none (INFO persistence \
         rdb_last_bgsave_time_sec; read once a minute; redis_exporter's \
         redis_rdb_last_bgsave_duration_sec).",
        rdb_last_bgsave_time_sec
    ),
    persistence!(
        "redis_aof_enabled",
        "1 if the append-only file is on (INFO persistence aof_enabled; read once a minute).",
        aof_enabled
    ),
    persistence!(
        "redis_aof_rewrite_in_progress",
        "1 while an AOF rewrite runs (INFO persistence aof_rewrite_in_progress; read once a \
         minute).",
        aof_rewrite_in_progress
    ),
    persistence!(
        "redis_aof_last_rewrite_duration_seconds",
        "Seconds the last AOF rewrite took; -1 when there was none (INFO persistence \
         aof_last_rewrite_time_sec; read once a minute; redis_exporter's \
         redis_aof_last_rewrite_duration_sec).",
        aof_last_rewrite_time_sec
    ),
    persistence!(
        "redis_aof_last_bgrewrite_status",
        "1 if the last AOF rewrite succeeded, 0 if it failed (INFO persistence \
         aof_last_bgrewrite_status; read once a minute).",
        aof_last_bgrewrite_ok
    ),
    persistence!(
        "redis_aof_last_write_status",
        "1 if the last AOF write succeeded, 0 if it failed (INFO persistence \
         aof_last_write_status; read once a minute).",
        aof_last_write_ok
    ),
    MetricDef {
        name: "redis_errors_total",
        kind: Kind::Counter,
        help: "Error replies by their first word, e.g. OOM for writes refused at maxmemory under \
               noeviction (INFO errorstats errorstat_<err> count; read once a minute).",
        labels: &["err"],
        emit: Emit::PerTarget(|v, out| {
            for e in v.sample().and_then(slow).map_or(&[][..], |x| &x.errors) {
                out(&[&e.err], e.count as f64);
            }
        }),
    },
    MetricDef {
        name: "redis_latency_percentile_seconds",
        kind: Kind::Gauge,
        help: "Latency percentiles per command since the last reset, seconds, for the commands a \
               cache runs (INFO latencystats latency_percentiles_usec_<cmd>, Redis 7+; read every \
               5 minutes). redis_exporter's summary redis_latency_percentiles_usec{quantile} / \
               1e6, as a gauge with percentile (a quantile label is for summaries only).",
        labels: &["cmd", "percentile"],
        emit: Emit::PerTarget(|v, out| {
            for l in v.sample().and_then(slow).map_or(&[][..], |x| &x.latency) {
                for (q, usec) in &l.quantiles {
                    out(&[&l.cmd, q], *usec / 1e6);
                }
            }
        }),
    },
    MetricDef {
        name: "redis_keysizes_keys",
        kind: Kind::Gauge,
        help: "Keys per database, type and size bin: the bin holds the keys whose size is at least \
               bin and below twice it (bin 0: empty), bytes for strings, items for list, set, zset \
               and hash (INFO keysizes dbN_distrib_<type>_<sizes|items>, Redis 8+; only for \
               targets with keysizes = true; read once a minute; the first 16 databases). \
               redis_exporter has no equivalent.",
        labels: &["db", "type", "bin"],
        emit: Emit::PerTarget(|v, out| {
            for k in v.sample().and_then(slow).map_or(&[][..], |x| &x.keysizes) {
                let db = db_label(k.db);
                for (bin, keys) in &k.bins {
                    out(&[&db, k.kind, &bin.to_string()], *keys as f64);
                }
            }
        }),
    },
    MetricDef {
        name: "redis_commands_total",
        kind: Kind::Counter,
        help: "Calls per command (INFO commandstats cmdstat_<cmd> calls).",
        labels: &["cmd"],
        emit: Emit::PerTarget(|v, out| {
            for c in v.sample().map_or(&[][..], |s| &s.commands) {
                out(&[&c.name], c.calls as f64);
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
                out(&[&c.name], c.usec as f64 / 1e6);
            }
        }),
    },
    MetricDef {
        name: "redis_db_keys",
        kind: Kind::Gauge,
        help: "Keys per database (INFO keyspace dbN keys); every database of CONFIG GET databases, \
               0 when empty, or those INFO lists where CONFIG is refused.",
        labels: &["db"],
        emit: Emit::PerTarget(|v, out| per_database(v, out, |d| d.keys)),
    },
    MetricDef {
        name: "redis_db_keys_expiring",
        kind: Kind::Gauge,
        help: "Keys with a TTL per database (INFO keyspace dbN expires); the databases of \
               redis_db_keys.",
        labels: &["db"],
        emit: Emit::PerTarget(|v, out| per_database(v, out, |d| d.expires)),
    },
    MetricDef {
        name: "redis_db_avg_ttl_seconds",
        kind: Kind::Gauge,
        help: "Average TTL of keys with a TTL per database, estimated by Redis (INFO keyspace dbN \
               avg_ttl).",
        labels: &["db"],
        emit: Emit::PerTarget(|v, out| {
            for d in v.sample().map_or(&[][..], |s| &s.keyspace) {
                out(&[&db_label(d.db)], d.avg_ttl_ms as f64 / 1e3);
            }
        }),
    },
    MetricDef {
        name: "redis_cache_hit_ratio",
        kind: Kind::Gauge,
        help: "keyspace_hits / (keyspace_hits + keyspace_misses) over the window, 0-1; absent when \
               the window saw no lookups.",
        labels: &["window"],
        emit: Emit::PerTarget(|v, out| per_window(v, out, |w| w.hit_ratio)),
    },
    MetricDef {
        name: "redis_cache_lookups_per_second",
        kind: Kind::Gauge,
        help: "(keyspace_hits + keyspace_misses) per second over the window.",
        labels: &["window"],
        emit: Emit::PerTarget(|v, out| per_window(v, out, |w| w.lookups_per_second)),
    },
    MetricDef {
        name: "redis_cache_evictions",
        kind: Kind::Gauge,
        help: "Keys evicted during the window (increase of INFO stats evicted_keys, reset-safe).",
        labels: &["window"],
        emit: Emit::PerTarget(|v, out| per_window(v, out, |w| w.evictions.map(|n| n as f64))),
    },
    MetricDef {
        name: "redis_cache_expirations",
        kind: Kind::Gauge,
        help: "Keys expired during the window (increase of INFO stats expired_keys, reset-safe).",
        labels: &["window"],
        emit: Emit::PerTarget(|v, out| per_window(v, out, |w| w.expirations.map(|n| n as f64))),
    },
    MetricDef {
        name: "redis_cache_window_seconds",
        kind: Kind::Gauge,
        help: "Seconds of history the window's values cover (less than the window after a start).",
        labels: &["window"],
        emit: Emit::PerTarget(|v, out| per_window(v, out, |w| Some(w.covered.as_secs_f64()))),
    },
    MetricDef {
        name: "redis_memory_pressure_ratio",
        kind: Kind::Gauge,
        help: "(used_memory - mem_not_counted_for_evict) / maxmemory, as Redis counts for \
               eviction; limit=\"system\" divides by total_system_memory when maxmemory is 0.",
        labels: &["limit"],
        emit: Emit::PerTarget(|v, out| {
            if let Some(p) = v.derived().and_then(|d| d.pressure) {
                out(&[p.limit.label()], p.ratio);
            }
        }),
    },
    MetricDef {
        name: "redis_db_ttl_coverage_ratio",
        kind: Kind::Gauge,
        help: "Share of the database's keys that have a TTL, 0-1 (INFO keyspace dbN expires / \
               keys); absent for an empty database. Below 1 on a cache means keys that never \
               expire.",
        labels: &["db"],
        emit: Emit::PerTarget(|v, out| {
            for d in v.sample().map_or(&[][..], |s| &s.keyspace) {
                if let Some(r) = crate::core::derive::ttl_coverage(d) {
                    out(&[&db_label(d.db)], r);
                }
            }
        }),
    },
    MetricDef {
        name: "redis_cache_evictions_per_miss",
        kind: Kind::Gauge,
        help: "Keys evicted per keyspace miss over the window (increase of evicted_keys / increase \
               of keyspace_misses); absent without misses. An evicted key causes at most one miss, \
               so min(1, value) bounds the share of misses evictions explain.",
        labels: &["window"],
        emit: Emit::PerTarget(|v, out| per_window(v, out, WindowStats::evictions_per_miss)),
    },
    MetricDef {
        name: "redis_cache_expirations_per_miss",
        kind: Kind::Gauge,
        help: "Keys expired per keyspace miss over the window (increase of expired_keys / increase \
               of keyspace_misses); absent without misses. An expired key causes at most one miss, \
               so min(1, value) bounds the share of misses short TTLs explain.",
        labels: &["window"],
        emit: Emit::PerTarget(|v, out| per_window(v, out, WindowStats::expirations_per_miss)),
    },
    MetricDef {
        name: "redis_cache_miss_cause",
        kind: Kind::Gauge,
        help: "An estimate from ratios of counters, for targets without miss attribution (which \
               measures the causes: redis_cache_misses_attributed_total): 1 for the likely cause \
               of the window's misses, 0 for the others; absent without misses. \
               cause=\"evictions\" (memory too small) or \"expirations\" (TTLs too short) when \
               that per-miss value is the largest of evictions per miss, expirations per miss and \
               the rest (1 - both); \"neither\" (keys never cached, a key space too large or \
               unique, or deleted by the application) otherwise. An evicted or expired key never \
               read again counts here though it caused no miss.",
        labels: &["window", "cause"],
        emit: Emit::PerTarget(|v, out| {
            if v.snap.attribution.is_some() {
                return;
            }
            for w in windows(v) {
                if let Some(c) = w.miss_cause() {
                    for cause in MissCause::ALL {
                        out(&[w.window.label(), cause.label()], bool_value(cause == c));
                    }
                }
            }
        }),
    },
    // Miss attribution (keyspace events), one block.
    MetricDef {
        name: "redis_cache_misses_attributed_total",
        kind: Kind::Counter,
        help: "Application keyspace misses by measured cause (miss attribution, opt-in): a keymiss \
               event on a key whose latest remembered removal was an expired, evicted or del event \
               is expired, evicted or deleted; any other is cold (never stored, or removed before \
               the memory's horizon, redis_exporter_miss_attribution_horizon_seconds). The \
               sampler's own lookups are left out.",
        labels: &["cause"],
        emit: Emit::PerTarget(|v, out| {
            if let Some(a) = &v.snap.attribution {
                for c in Cause::ALL {
                    out(&[c.label()], a.counts.attributed(c) as f64);
                }
            }
        }),
    },
    MetricDef {
        name: "redis_cache_miss_attribution_coverage_ratio",
        kind: Kind::Gauge,
        help: "Misses attributed over the window / increase of INFO keyspace_misses (the sampler's \
               own taken out): 1 when no event was lost; below 1 while the subscriber was \
               disconnected (killed, output buffer limit, restart) or the flags were missing. \
               Absent without misses.",
        labels: &["window"],
        emit: Emit::PerTarget(|v, out| {
            for w in attribution_windows(v) {
                if let Some(c) = w.coverage {
                    out(&[w.window.label()], c);
                }
            }
        }),
    },
    MetricDef {
        name: "redis_cache_hit_ratio_ceiling",
        kind: Kind::Gauge,
        help: "The hit ratio the window would have had if the misses of one cause had been hits: \
               without=\"evictions\" (more memory), \"expirations\" (longer TTLs), \"deletions\" \
               (less eager invalidation). (hits + attributed misses of the cause) / lookups; \
               absent without lookups.",
        labels: &["window", "without"],
        emit: Emit::PerTarget(|v, out| {
            for w in attribution_windows(v) {
                for (without, c) in Without::ALL.iter().zip(w.ceilings) {
                    if let Some(c) = c {
                        out(&[w.window.label(), without.label()], c);
                    }
                }
            }
        }),
    },
    MetricDef {
        name: "redis_cache_prefix_misses_total",
        kind: Kind::Counter,
        help: "Attributed misses per key prefix and cause, with the sampler's prefix rules \
               (separator, depth, patterns) whether or not the sampler runs: the top_k prefixes by \
               misses by name, the rest as (other). A prefix leaving the top K stops being \
               exported and its later misses count in (other).",
        labels: &["prefix", "cause"],
        emit: Emit::PerTarget(|v, out| {
            if let Some(a) = &v.snap.attribution {
                for (prefix, counts) in &a.prefixes {
                    for (c, n) in Cause::ALL.iter().zip(counts) {
                        out(&[prefix, c.label()], *n as f64);
                    }
                }
            }
        }),
    },
    MetricDef {
        name: "redis_exporter_keyspace_events_total",
        kind: Kind::Counter,
        help: "Keyspace events the miss attribution's subscriber received, by event: keymiss, \
               expired, evicted, del (DEL and UNLINK).",
        labels: &["event"],
        emit: Emit::PerTarget(|v, out| {
            if let Some(a) = &v.snap.attribution {
                for e in Event::ALL {
                    out(&[e.label()], a.counts.events(e) as f64);
                }
            }
        }),
    },
    attribution!(
        "redis_exporter_miss_attribution_active",
        Gauge,
        "1 while the miss attribution's subscriber is subscribed with the needed \
         notify-keyspace-events flags (E, g, x, e, m) set or not verifiable (CONFIG refused); 0 \
         otherwise (flags missing and manage_notifications false, or the connection lost). The log \
         names the missing flags.",
        |a| bool_value(a.active)
    ),
    attribution!(
        "redis_exporter_miss_attribution_remembered_keys",
        Gauge,
        "Removed keys the miss attribution remembers now (a hash, the cause, the time each), at \
         most remembered_keys.",
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
        help: "Age of the oldest remembered removal: a miss on a key removed longer ago counts as \
               cold. Absent while nothing is remembered.",
        labels: &[],
        emit: Emit::PerTarget(|v, out| {
            if let Some(h) = v.snap.attribution.as_ref().and_then(|a| a.horizon) {
                out(&[], h.as_secs_f64());
            }
        }),
    },
    attribution!(
        "redis_exporter_miss_attribution_sampler_misses_total",
        Counter,
        "keymiss events of the key-prefix sampler's own PTTL calls (keys gone since SCAN), left \
         out of redis_cache_misses_attributed_total.",
        |a| a.counts.own_misses as f64
    ),
    attribution!(
        "redis_exporter_keyspace_subscriber_disconnects_total",
        Counter,
        "Subscriber connections of the miss attribution lost after subscribing (CLIENT KILL, \
         client-output-buffer-limit pubsub, restart, failover); each is resubscribed with backoff.",
        |a| a.disconnects_total as f64
    ),
    // Memory sizing (the ghost list of evicted keys, fed by the same events), one block.
    MetricDef {
        name: "redis_cache_predicted_hit_ratio",
        kind: Kind::Gauge,
        help: "The hit ratio the window would have had with maxmemory at memory=\"1.5x\", \"2x\" \
               or \"4x\" its current value (memory sizing, with miss attribution): the window's \
               hits plus its misses on evicted keys whose stack distance (keys evicted after them, \
               from the ghost list) fits in the extra memory, over its lookups; a key's cost from \
               INFO (used_memory less used_memory_startup, mem_not_counted_for_evict and \
               mem_clients_normal, over the keys held). Capped by the misses no memory fixes \
               (cold, expired, deleted). Exported only under maxmemory-policy allkeys-lru, \
               volatile-lru or allkeys-lfu (where it was measured to hold) and only within what \
               the ghost list covers.",
        labels: &["window", "memory"],
        emit: Emit::PerTarget(|v, out| sizing_points(v, out, |w| &w.predicted, MEMORY_MULTIPLES)),
    },
    MetricDef {
        name: "redis_cache_memory_needed_bytes",
        kind: Kind::Gauge,
        help: "The smallest maxmemory predicted to reach hit_ratio (0.9, 0.95, 0.99) over the \
               window, from the same curve as redis_cache_predicted_hit_ratio (the current \
               maxmemory when already reached). Absent when memory alone cannot reach it (cold, \
               expired and deleted misses cap the hit ratio) or when it lies beyond what the ghost \
               list covers, and under policies where the prediction was not shown to hold.",
        labels: &["window", "hit_ratio"],
        emit: Emit::PerTarget(|v, out| sizing_points(v, out, |w| &w.needed, TARGET_RATIOS)),
    },
    ghost!(
        "redis_exporter_ghost_sampling_ratio",
        "The fraction of evicted keys memory sizing's ghost list tracks (by a hash of the key, as \
         in SHARDS): 1 until the list fills its budget (about 32 MiB per target), then halved each \
         time it fills again; distances and misses are scaled by its inverse.",
        |s| s.sampling_ratio
    ),
    ghost!(
        "redis_exporter_ghost_span_keys",
        "Evicted keys, not asked for since, that the ghost list stands for (its entries over the \
         sampling ratio): predictions reach this many keys beyond the cache.",
        |s| s.span_keys
    ),
    ghost!(
        "redis_exporter_ghost_span_seconds",
        "Age of the ghost list's oldest entry (0 when empty).",
        |s| s.span_seconds
    ),
    MetricDef {
        name: "redis_keyspace_prefix_keys_estimated",
        kind: Kind::Gauge,
        help: "Keys per prefix, estimated by the key-prefix sampler (opt-in): the prefix's share \
               of the keys the last cycle examined (SCAN) times DBSIZE. prefix is a configured \
               pattern, the name up to the separator followed by *, (none) without one, or (other) \
               beyond the top K.",
        labels: &["prefix"],
        emit: Emit::PerTarget(|v, out| {
            for p in prefixes(v) {
                out(&[&p.prefix], p.keys_estimated);
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
                out(&[&p.prefix], p.no_ttl_ratio);
            }
        }),
    },
    MetricDef {
        name: "redis_keyspace_prefix_ttl_keys",
        kind: Kind::Gauge,
        help: "Estimated keys of the prefix by remaining TTL (PTTL): bucket none (no TTL), <1m, \
               <1h, <1d, >=1d.",
        labels: &["prefix", "bucket"],
        emit: Emit::PerTarget(|v, out| {
            for p in prefixes(v) {
                for (b, n) in crate::core::sampler::Bucket::ALL.iter().zip(p.ttl_keys) {
                    out(&[&p.prefix, b.label()], n);
                }
            }
        }),
    },
    MetricDef {
        name: "redis_keyspace_prefix_memory_bytes_estimated",
        kind: Kind::Gauge,
        help: "Average MEMORY USAGE of up to memory_samples keys of the prefix per cycle times its \
               estimated key count; absent when MEMORY USAGE is refused.",
        labels: &["prefix"],
        emit: Emit::PerTarget(|v, out| {
            for p in prefixes(v) {
                if let Some(b) = p.memory_bytes_estimated {
                    out(&[&p.prefix], b);
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
                out(&[], r.keys as f64);
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
                out(&[], r.duration.as_secs_f64());
            }
        }),
    },
    MetricDef {
        name: "redis_sampler_last_cycle_redis_seconds",
        kind: Kind::Gauge,
        help: "Redis-side CPU time of the last sampler cycle's SCAN, PTTL and MEMORY USAGE calls \
               (INFO commandstats usec before and after the cycle, the cycle's share of each \
               command's calls).",
        labels: &[],
        emit: Emit::PerTarget(|v, out| {
            if let Some(u) = last_cycle(v).and_then(|r| r.redis_usec) {
                out(&[], u as f64 / 1e6);
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
                out(&[], s.cycles_total as f64);
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
                out(&[], s.cycle_errors_total as f64);
            }
        }),
    },
    MetricDef {
        name: "redis_sampler_keyspace_hits_total",
        kind: Kind::Counter,
        help: "Keyspace hits the sampler's PTTL calls caused, as of the same INFO as \
               redis_keyspace_hits_total (which includes them): subtract it for the application's \
               hits. Left out of the redis_cache_* values.",
        labels: &[],
        emit: Emit::PerTarget(|v, out| {
            if let Some(l) = v.derived().and_then(|d| d.own_lookups) {
                out(&[], l.hits as f64);
            }
        }),
    },
    MetricDef {
        name: "redis_sampler_keyspace_misses_total",
        kind: Kind::Counter,
        help: "Keyspace misses the sampler's PTTL calls caused (keys gone since SCAN), as of the \
               same INFO as redis_keyspace_misses_total (which includes them): subtract it for the \
               application's misses. Left out of the redis_cache_* values.",
        labels: &[],
        emit: Emit::PerTarget(|v, out| {
            if let Some(l) = v.derived().and_then(|d| d.own_lookups) {
                out(&[], l.misses as f64);
            }
        }),
    },
    MetricDef {
        name: "redis_exporter_resets_detected_total",
        kind: Kind::Counter,
        help: "Counter resets seen (restart: new run_id or lower uptime; CONFIG RESETSTAT: a \
               counter went down).",
        labels: &[],
        emit: Emit::PerTarget(|v, out| {
            if let Some(last) = &v.snap.last {
                out(&[], last.derived.resets_total as f64);
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
                out(&[k.label()], v.snap.errors(k) as f64);
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
                out(&[], d.as_secs_f64());
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
                out(&[], t);
            }
        }),
    },
    MetricDef {
        name: "redis_cluster_state",
        kind: Kind::Gauge,
        help: "Redis Cluster entries: 1 if CLUSTER INFO cluster_state is ok, 0 if fail (asked of \
               one node each poll interval; target is the entry's name).",
        labels: &["target"],
        emit: Emit::PerGroup(|g, out| {
            if let Some(h) = &g.health {
                out(&[&g.meta.name], bool_value(h.state_ok));
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
        help: "Always 1; one series per discovered node: its target, the Cluster entry, node id, \
               role (master|replica) and shard (the node id of the shard's master), from CLUSTER \
               SHARDS or CLUSTER NODES.",
        labels: &["target", "cluster", "node_id", "role", "shard"],
        emit: Emit::PerGroup(|g, out| {
            if g.kind == crate::state::GroupKind::Cluster {
                for n in &g.nodes {
                    out(
                        &[&n.target, &g.meta.name, &n.node_id, &n.role, &n.shard],
                        1.0,
                    );
                }
            }
        }),
    },
    MetricDef {
        name: "redis_exporter_discovery_up",
        kind: Kind::Gauge,
        help: "Cluster and Sentinel entries: 1 if the last discovery (CLUSTER INFO and topology, \
               or the sentinels' answer) succeeded, else 0; kind is cluster|sentinel. Its \
               instances are the targets `<target>/<host:port>`.",
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
        help: "1 if the last configuration load (start, SIGHUP or POST /-/reload) succeeded, else \
               0.",
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
