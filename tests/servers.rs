//! The core checks on every server the suite knows (Debian's Redis 7.0, Redis 6.2, Redis 8.2,
//! Valkey 9.1; see `support::servers`): an exact hit ratio, evictions equal to the server's own
//! counter, memory pressure as the server computes it, counter resets (CONFIG RESETSTAT and a
//! restart on the same port), CONFIG renamed or blocked, and the families dashboards expect (CPU
//! counters, every database, a replica pair, errorstats and latencystats read once a minute). Each
//! check is a function of the server; `per_server!` makes one test per (server, check) pair, named
//! `<server>::<check>`.

mod support;

use std::time::Duration;

use support::servers::ServerKind;
use support::{
    Exporter, RedisServer, assert_900_hits_100_misses, sample, value, wait_for, wait_polls, wait_up,
};

fn args(v: &[&str]) -> Vec<String> {
    v.iter().map(std::string::ToString::to_string).collect()
}

/// The poll settings of every check: short enough that waiting on a few polls stays cheap.
const POLLING: &str = "poll_interval = \"500ms\"\ntimeout = \"450ms\"\n";

fn target(name: &str, r: &RedisServer) -> String {
    format!("[[targets]]\nname = \"{name}\"\nurl = \"{}\"\n", r.url())
}

fn exporter(targets: &[String]) -> Exporter {
    Exporter::start(&format!("{POLLING}{}", targets.concat()))
}

/// `n` SETs of 1 kB values.
fn writes_1k(n: usize) -> Vec<Vec<String>> {
    let value_1k = "x".repeat(1024);
    (0..n)
        .map(|i| args(&["SET", &format!("key:{i}"), &value_1k]))
        .collect()
}

/// A scrape in which `selector` equals `want` (what the server itself reported).
fn wait_value(e: &Exporter, kind: ServerKind, selector: &str, want: f64) -> String {
    wait_for(
        &format!("{kind}: {selector} = {want}"),
        Duration::from_secs(20),
        || {
            let m = e.metrics();
            (sample(&m, selector) == Some(want)).then_some(m)
        },
    )
}

fn info_number(kind: ServerKind, r: &RedisServer, field: &str) -> f64 {
    let v = r.info_field(field);
    v.parse()
        .unwrap_or_else(|e| panic!("{kind}: INFO {field}:{v} is not a number: {e}"))
}

/// The limit and the policy that a scrape shows for `target`.
fn assert_maxmemory(kind: ServerKind, m: &str, target: &str, bytes: u64, policy: &str) {
    let max = value(m, &format!("redis_memory_max_bytes{{target=\"{target}\"}}"));
    assert_eq!(max, bytes as f64, "{kind}: maxmemory of {target}");
    let info = format!("redis_maxmemory_policy_info{{target=\"{target}\",policy=\"{policy}\"}} 1");
    assert!(m.contains(&info), "{kind}: no {info} in\n{m}");
}

fn hit_ratio_of_900_hits_and_100_misses_is_exactly_0_9(kind: ServerKind) {
    let r = RedisServer::start_kind(kind, &[]);
    let e = exporter(&[target("cache", &r)]);
    wait_up(&e, "cache", 1.0);
    wait_polls(&e, "cache", 1.0);

    assert_eq!(r.pipeline(&support::hits_and_misses(900, 100)), 0, "{kind}");

    // A poll may land in the middle of the workload; the windows count from before it either way.
    wait_value(
        &e,
        kind,
        "redis_keyspace_misses_total{target=\"cache\"}",
        100.0,
    );
    let m = wait_value(
        &e,
        kind,
        "redis_keyspace_hits_total{target=\"cache\"}",
        900.0,
    );
    assert_900_hits_100_misses(&m, "cache");
    let lookups = value(
        &m,
        "redis_cache_lookups_per_second{target=\"cache\",window=\"1m\"}",
    );
    assert!(lookups > 0.0, "{kind}: lookups/s {lookups}");
    assert_eq!(
        value(&m, "redis_commands_total{target=\"cache\",cmd=\"get\"}"),
        1000.0,
        "{kind}"
    );
    assert_eq!(
        value(&m, "redis_db_keys{target=\"cache\",db=\"db0\"}"),
        100.0,
        "{kind}"
    );
}

fn instance_info_names_the_server(kind: ServerKind) {
    let r = RedisServer::start_kind(kind, &[]);
    let e = exporter(&[target("c", &r)]);
    let m = wait_up(&e, "c", 1.0);
    let info = m
        .lines()
        .find(|l| l.starts_with("redis_instance_info{target=\"c\""))
        .unwrap_or_else(|| panic!("{kind}: no redis_instance_info in\n{m}"));
    let want = [
        format!("redis_version=\"{}\"", r.info_field("redis_version")),
        "redis_mode=\"standalone\"".to_string(),
        "role=\"master\"".to_string(),
        format!("server=\"{}\"", kind.server_label()),
        // Valkey's own version beside the redis_version it keeps for compatibility.
        match kind {
            ServerKind::Valkey91 => {
                format!("valkey_version=\"{}\"", r.info_field("valkey_version"))
            }
            _ => "valkey_version=\"\"".to_string(),
        },
    ];
    for label in want {
        assert!(info.contains(&label), "{kind}: {label} missing in {info}");
    }
}

fn evictions_equal_the_servers_evicted_keys(kind: ServerKind) {
    let r = RedisServer::start_kind(
        kind,
        &["--maxmemory", "2mb", "--maxmemory-policy", "allkeys-lru"],
    );
    let e = exporter(&[target("lru", &r)]);
    wait_up(&e, "lru", 1.0);
    let before = wait_polls(&e, "lru", 1.0);
    let evicted_before = value(&before, "redis_evicted_keys_total{target=\"lru\"}");

    assert_eq!(r.pipeline(&writes_1k(6000)), 0, "{kind}");

    // Redis may go on evicting for a moment after the writes (eviction is time-boxed), so the
    // scrape is matched to what INFO says at that moment.
    let (m, evicted) = wait_for(
        &format!("{kind}: redis_evicted_keys_total = INFO evicted_keys"),
        Duration::from_secs(20),
        || {
            let evicted = info_number(kind, &r, "evicted_keys");
            let m = e.metrics();
            (sample(&m, "redis_evicted_keys_total{target=\"lru\"}") == Some(evicted))
                .then_some((m, evicted))
        },
    );
    assert!(
        evicted > 1000.0,
        "{kind}: the workload must evict (evicted {evicted})"
    );
    for w in ["1m", "5m", "15m"] {
        let delta = value(
            &m,
            &format!("redis_cache_evictions{{target=\"lru\",window=\"{w}\"}}"),
        );
        assert_eq!(delta, evicted - evicted_before, "{kind}: window {w}");
    }
    assert_maxmemory(kind, &m, "lru", 2 << 20, "allkeys-lru");
    let pressure = value(
        &m,
        "redis_memory_pressure_ratio{target=\"lru\",limit=\"maxmemory\"}",
    );
    assert!(pressure > 0.5, "{kind}: an evicting server at {pressure}");
}

/// Pressure is (used_memory − mem_not_counted_for_evict) / maxmemory, as Redis decides on
/// eviction; with maxmemory 0 the limit is total_system_memory, named in the `limit` label.
fn memory_pressure_is_what_the_server_counts_for_eviction(kind: ServerKind) {
    let limited = RedisServer::start_kind(
        kind,
        &["--maxmemory", "8mb", "--maxmemory-policy", "allkeys-lru"],
    );
    let unlimited = RedisServer::start_kind(kind, &["--maxmemory", "0"]);
    let e = exporter(&[target("limited", &limited), target("unlimited", &unlimited)]);
    wait_up(&e, "unlimited", 1.0);
    wait_up(&e, "limited", 1.0);

    assert_eq!(limited.pipeline(&writes_1k(3000)), 0, "{kind}");
    let m = wait_value(
        &e,
        kind,
        "redis_db_keys{target=\"limited\",db=\"db0\"}",
        3000.0,
    );

    // The same scrape's raw figures give the ratio exactly; INFO read now gives it closely.
    let used = value(&m, "redis_memory_used_bytes{target=\"limited\"}");
    let not_counted = value(
        &m,
        "redis_mem_not_counted_for_eviction_bytes{target=\"limited\"}",
    );
    assert_maxmemory(kind, &m, "limited", 8 << 20, "allkeys-lru");
    let max = value(&m, "redis_memory_max_bytes{target=\"limited\"}");
    let pressure = value(
        &m,
        "redis_memory_pressure_ratio{target=\"limited\",limit=\"maxmemory\"}",
    );
    assert!(
        (pressure - (used - not_counted) / max).abs() < 1e-12,
        "{kind}: pressure {pressure} from used {used}, not counted {not_counted}, max {max}"
    );
    let info_pressure = (info_number(kind, &limited, "used_memory")
        - info_number(kind, &limited, "mem_not_counted_for_evict"))
        / max;
    assert!(
        (pressure - info_pressure).abs() < 0.05,
        "{kind}: exporter {pressure} vs INFO {info_pressure}"
    );
    assert!(
        pressure > 0.3 && pressure < 1.0,
        "{kind}: 3000 × 1 kB in 8 MB: {pressure}"
    );

    assert_eq!(
        value(&m, "redis_memory_max_bytes{target=\"unlimited\"}"),
        0.0,
        "{kind}"
    );
    let total = value(&m, "redis_total_system_memory_bytes{target=\"unlimited\"}");
    assert_eq!(
        total,
        info_number(kind, &unlimited, "total_system_memory"),
        "{kind}"
    );
    let used = value(&m, "redis_memory_used_bytes{target=\"unlimited\"}");
    let p = value(
        &m,
        "redis_memory_pressure_ratio{target=\"unlimited\",limit=\"system\"}",
    );
    assert!(
        (p - used / total).abs() < 1e-9,
        "{kind}: {p} vs {used}/{total}"
    );
    assert!(
        !m.contains("redis_memory_pressure_ratio{target=\"unlimited\",limit=\"maxmemory\"}"),
        "{kind}: maxmemory 0 has no maxmemory pressure"
    );
}

/// Windows must stay within their physical bounds: ratio in [0, 1], counts and rates >= 0 and
/// no larger than what the test itself did.
fn assert_sane(kind: ServerKind, m: &str, max_lookups: f64) {
    for w in ["1m", "5m", "15m"] {
        let sel = |name: &str| format!("{name}{{target=\"c\",window=\"{w}\"}}");
        // Every window has seen lookups, so each has a ratio.
        let r = value(m, &sel("redis_cache_hit_ratio"));
        assert!((0.0..=1.0).contains(&r), "{kind}: {w} ratio {r}");
        let lps = value(m, &sel("redis_cache_lookups_per_second"));
        let covered = value(m, &sel("redis_cache_window_seconds"));
        assert!(
            lps >= 0.0 && lps * covered <= max_lookups + 0.5,
            "{kind}: {w}: {lps}/s over {covered}s"
        );
        let ev = value(m, &sel("redis_cache_evictions"));
        assert_eq!(ev, 0.0, "{kind}: {w} evictions");
    }
}

fn resetstat_and_restart_never_give_negative_or_huge_values(kind: ServerKind) {
    let mut r = RedisServer::start_kind(kind, &[]);
    let e = exporter(&[target("c", &r)]);
    wait_up(&e, "c", 1.0);
    let load = |r: &RedisServer, hits: usize| {
        let mut cmds = vec![args(&["SET", "k", "v"])];
        cmds.extend((0..hits).map(|_| args(&["GET", "k"])));
        cmds.extend((0..10).map(|_| args(&["GET", "nope"])));
        assert_eq!(r.pipeline(&cmds), 0, "{kind}");
    };
    load(&r, 5000);
    wait_value(&e, kind, "redis_keyspace_hits_total{target=\"c\"}", 5000.0);

    // CONFIG RESETSTAT: counters drop to zero while the server keeps running.
    r.cmd(&["CONFIG", "RESETSTAT"]);
    load(&r, 90);
    let m = wait_value(&e, kind, "redis_keyspace_hits_total{target=\"c\"}", 90.0);
    assert_sane(kind, &m, 5000.0 + 10.0 + 100.0);
    assert_eq!(
        value(&m, "redis_exporter_resets_detected_total{target=\"c\"}"),
        1.0,
        "{kind}: CONFIG RESETSTAT"
    );

    // Restart on the same port: new run_id, counters from zero.
    r.restart();
    load(&r, 20);
    let m = wait_value(&e, kind, "redis_keyspace_hits_total{target=\"c\"}", 20.0);
    assert_sane(kind, &m, 5000.0 + 90.0 + 20.0 + 30.0);
    assert_eq!(
        value(&m, "redis_exporter_resets_detected_total{target=\"c\"}"),
        2.0,
        "{kind}: CONFIG RESETSTAT, then a restart"
    );
    // The 1m window spans both resets and counts what happened on every side of them: 5110
    // hits, and 30 misses, or 20 when the misses after RESETSTAT were back at the 10 seen
    // before it by the next poll (a counter that did not go down is not taken as reset).
    let ratio = value(&m, "redis_cache_hit_ratio{target=\"c\",window=\"1m\"}");
    assert!(
        (5110.0 / 5140.0 - 1e-12..=5110.0 / 5130.0 + 1e-12).contains(&ratio),
        "{kind}: 1m ratio {ratio}"
    );
}

/// Calls of CONFIG GET in INFO commandstats (`config|get` on 7.0 and later, `config` before).
fn config_get_calls(kind: ServerKind, r: &RedisServer) -> u64 {
    let stats = r.cmd(&["INFO", "commandstats"]);
    ["cmdstat_config|get:calls=", "cmdstat_config:calls="]
        .iter()
        .find_map(|p| stats.lines().find_map(|l| l.strip_prefix(p)))
        .and_then(|v| v.split(',').next())
        .map_or(0, |n| {
            n.parse()
                .unwrap_or_else(|e| panic!("{kind}: calls={n}: {e}"))
        })
}

fn blocked_or_renamed_config_degrades_to_info(kind: ServerKind) {
    let renamed = RedisServer::start_kind(kind, &["--rename-command", "CONFIG", "SECRETCONFIG"]);
    let blocked = RedisServer::start_kind(
        kind,
        &["--rename-command", "CONFIG", "", "--maxmemory", "3mb"],
    );
    let e = exporter(&[
        target("renamed", &renamed) + "config_command = \"SECRETCONFIG\"\n",
        target("blocked", &blocked),
    ]);
    wait_up(&e, "renamed", 1.0);
    // The first poll has sent CONFIG (and been refused) by the time up is 1.
    wait_up(&e, "blocked", 1.0);
    let errors = |r: &RedisServer| info_number(kind, r, "total_error_replies");
    let errors_before = errors(&blocked);
    // Redis 6.2 also refuses the first poll's multi-section INFO once.
    let info_refused = if kind == ServerKind::Redis62 {
        1.0
    } else {
        0.0
    };
    assert_eq!(
        errors_before,
        1.0 + info_refused,
        "{kind}: error replies after the first poll; the blocked CONFIG is sent once"
    );
    let m = wait_polls(&e, "blocked", 3.0);
    assert_eq!(
        errors(&blocked),
        errors_before,
        "{kind}: CONFIG re-sent to the server that refused it"
    );
    assert_eq!(value(&m, "redis_up{target=\"blocked\"}"), 1.0, "{kind}");
    assert_maxmemory(kind, &m, "blocked", 3 << 20, "noeviction");
    for kind_label in ["connect", "timeout", "auth", "protocol", "command"] {
        let sel =
            format!("redis_exporter_poll_errors_total{{target=\"blocked\",kind=\"{kind_label}\"}}");
        assert_eq!(value(&m, &sel), 0.0, "{kind}: {sel}");
    }
    // One call for `maxmemory*` and `databases`; Redis 6.2 takes one pattern per call (its
    // refusal of the pair is a rejected call, not counted in calls).
    let calls = if kind == ServerKind::Redis62 { 2 } else { 1 };
    assert_eq!(
        config_get_calls(kind, &renamed),
        calls,
        "{kind}: the renamed CONFIG is used once per connection"
    );
    assert_eq!(value(&m, "redis_up{target=\"renamed\"}"), 1.0, "{kind}");
}

/// Label of `line` named `name`, e.g. `slave_port` of a `redis_connected_slave_lag_seconds` line.
fn label<'a>(line: &'a str, name: &str) -> &'a str {
    let start = line
        .find(&format!("{name}=\""))
        .unwrap_or_else(|| panic!("no {name} in {line}"))
        + name.len()
        + 2;
    &line[start..start + line[start..].find('"').unwrap()]
}

/// CPU counters are the server's and grow with work; `redis_db_keys` covers every database of
/// CONFIG GET databases, the empty db0 as 0; maxclients is INFO's.
fn cpu_grows_and_every_database_is_counted(kind: ServerKind) {
    let r = RedisServer::start_kind(kind, &["--databases", "4"]);
    let e = exporter(&[target("c", &r)]);
    let m = wait_up(&e, "c", 1.0);
    let cpu = |m: &str| {
        ["sys", "user"]
            .map(|k| value(m, &format!("redis_cpu_{k}_seconds_total{{target=\"c\"}}")))
            .iter()
            .sum::<f64>()
    };
    let before = cpu(&m);
    for k in [
        "sys_main_thread",
        "user_main_thread",
        "sys_children",
        "user_children",
    ] {
        let v = value(&m, &format!("redis_cpu_{k}_seconds_total{{target=\"c\"}}"));
        assert!(v >= 0.0, "{kind}: {k} {v}");
    }
    assert_eq!(
        value(&m, "redis_config_maxclients{target=\"c\"}"),
        info_number(kind, &r, "maxclients"),
        "{kind}"
    );
    let mut writes = vec![args(&["SELECT", "2"])];
    writes.extend(writes_1k(20_000));
    assert_eq!(r.pipeline(&writes), 0, "{kind}");
    let m = wait_value(&e, kind, "redis_db_keys{target=\"c\",db=\"db2\"}", 20_000.0);
    for db in ["db0", "db1", "db3"] {
        let keys = value(&m, &format!("redis_db_keys{{target=\"c\",db=\"{db}\"}}"));
        let expiring = value(
            &m,
            &format!("redis_db_keys_expiring{{target=\"c\",db=\"{db}\"}}"),
        );
        assert_eq!((keys, expiring), (0.0, 0.0), "{kind}: {db}");
    }
    assert!(!m.contains("db=\"db4\""), "{kind}: only 4 databases");
    let after = cpu(&m);
    assert!(
        after > before,
        "{kind}: CPU {before} -> {after} after 20 000 SETs"
    );
    let info = info_number(kind, &r, "used_cpu_sys") + info_number(kind, &r, "used_cpu_user");
    assert!(after <= info, "{kind}: exported {after}, INFO now {info}");
}

/// A master and its replica: the master lists the replica with its lag and offset, the replica
/// its master, the last I/O with it and an offset that catches up with the master's.
fn a_replica_pair_shows_offsets_and_lag(kind: ServerKind) {
    let primary = RedisServer::start_kind(kind, &[]);
    let port = primary.port.to_string();
    let replica = RedisServer::start_kind(kind, &["--replicaof", "127.0.0.1", &port]);
    let e = exporter(&[target("p", &primary), target("r", &replica)]);
    wait_up(&e, "p", 1.0);
    wait_up(&e, "r", 1.0);
    assert_eq!(primary.pipeline(&writes_1k(500)), 0, "{kind}");
    let offset = info_number(kind, &primary, "master_repl_offset");
    let m = wait_for(
        &format!("{kind}: the replica at the master's offset {offset}"),
        Duration::from_secs(20),
        || {
            let m = e.metrics();
            let sel = "redis_slave_repl_offset{target=\"r\",master_host=\"127.0.0.1\",master_port=";
            let at = m.lines().find(|l| l.starts_with(sel))?;
            let lag = m
                .lines()
                .find(|l| l.starts_with("redis_connected_slave_lag_seconds{target=\"p\""))?;
            let acked = m
                .lines()
                .find(|l| l.starts_with("redis_connected_slave_offset_bytes{target=\"p\""))?;
            let num = |l: &str| l.rsplit(' ').next()?.parse::<f64>().ok();
            // The replica acknowledges once a second, so the master's view comes last.
            let caught_up = num(at)? >= offset && num(acked)? >= offset;
            (caught_up && label(lag, "slave_state") == "online").then_some(m)
        },
    );
    let line = |prefix: &str| {
        m.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("{kind}: no {prefix} in\n{m}"))
    };
    let lag = line("redis_connected_slave_lag_seconds{target=\"p\"");
    assert_eq!(label(lag, "slave_ip"), "127.0.0.1", "{kind}");
    assert_eq!(label(lag, "slave_port"), replica.port.to_string(), "{kind}");
    let lag: f64 = lag.rsplit(' ').next().unwrap().parse().unwrap();
    assert!((0.0..=2.0).contains(&lag), "{kind}: lag {lag}");
    assert!(
        value(&m, "redis_master_repl_offset{target=\"p\"}") >= offset,
        "{kind}"
    );
    let io = line("redis_master_last_io_seconds_ago{target=\"r\"");
    assert_eq!(label(io, "master_port"), port, "{kind}");
    let io: f64 = io.rsplit(' ').next().unwrap().parse().unwrap();
    assert!((0.0..=10.0).contains(&io), "{kind}: last I/O {io}");
    let link = line("redis_master_link_up{target=\"r\"");
    assert!(link.ends_with(" 1"), "{kind}: {link}");
    let info = line("redis_slave_info{target=\"r\"");
    assert_eq!(label(info, "read_only"), "1", "{kind}");
}

/// Writes refused under noeviction count as `redis_errors_total{err="OOM"}`, latency percentiles
/// appear on Redis 7 and later, and both are read once a minute: polls in between carry them.
fn errorstats_count_an_oom_and_slow_sections_are_carried(kind: ServerKind) {
    let r = RedisServer::start_kind(
        kind,
        &["--maxmemory", "2mb", "--maxmemory-policy", "noeviction"],
    );
    let refused = r.pipeline(&writes_1k(4000));
    assert!(refused > 1000, "{kind}: {refused} writes refused");
    let gets: Vec<Vec<String>> = (0..100)
        .map(|i| args(&["GET", &format!("key:{i}")]))
        .collect();
    assert_eq!(r.pipeline(&gets), 0, "{kind}");
    let ooms = || {
        let stats = r.cmd(&["INFO", "errorstats"]);
        let line = stats
            .lines()
            .find_map(|l| l.strip_prefix("errorstat_OOM:count="));
        line.map_or(0.0, |n| n.trim().parse().unwrap())
    };
    let oom = ooms();
    assert_eq!(
        oom, refused as f64,
        "{kind}: INFO errorstats counts each refusal"
    );

    let e = exporter(&[target("c", &r)]);
    let m = wait_up(&e, "c", 1.0);
    assert_eq!(
        value(&m, "redis_errors_total{target=\"c\",err=\"OOM\"}"),
        oom,
        "{kind}"
    );
    let p99 = sample(
        &m,
        "redis_latency_percentile_seconds{target=\"c\",cmd=\"get\",percentile=\"0.99\"}",
    );
    if kind == ServerKind::Redis62 {
        assert_eq!(p99, None, "{kind}: no latencystats before 7.0");
    } else {
        let p99 = p99.unwrap_or_else(|| panic!("{kind}: no GET p99 in\n{m}"));
        assert!(p99 > 0.0 && p99 < 0.1, "{kind}: GET p99 {p99} s");
        let info = "redis_latency_percentile_seconds{target=\"c\",cmd=\"info\"";
        assert!(!m.contains(info), "{kind}: INFO is not a cache command");
    }
    assert_eq!(
        value(&m, "redis_rdb_last_bgsave_status{target=\"c\"}"),
        1.0,
        "{kind}"
    );

    // More refusals: polls within the minute show what the first one read.
    assert!(r.pipeline(&writes_1k(10)) > 0, "{kind}");
    let m = wait_polls(&e, "c", 3.0);
    let shown = value(&m, "redis_errors_total{target=\"c\",err=\"OOM\"}");
    if kind == ServerKind::Redis62 {
        // INFO all every poll: errorstats are fresh.
        assert_eq!(shown, ooms(), "{kind}");
    } else {
        assert_eq!(shown, oom, "{kind}: carried until the next slow read");
        assert!(ooms() > oom, "{kind}");
    }
}

/// INFO keysizes (Redis 8+) for the target with `keysizes = true` only, bin by bin what the
/// server reports; servers without the section (and the other target) show no series, and stay
/// up.
fn keysizes_only_where_asked_and_only_on_redis_8(kind: ServerKind) {
    let r = RedisServer::start_kind(kind, &[]);
    let mut writes: Vec<Vec<String>> = (0..300)
        .map(|i| args(&["SET", &format!("s:{i}"), &"x".repeat(i + 1)]))
        .collect();
    writes.extend((0..40).map(|i| args(&["RPUSH", &format!("l:{}", i % 4), "v"])));
    writes.extend((0..12).map(|i| args(&["HSET", "h", &format!("f{i}"), "v"])));
    writes.push(args(&["SELECT", "2"]));
    writes.extend((0..5).map(|i| args(&["SET", &format!("c:{i}"), "v"])));
    assert_eq!(r.pipeline(&writes), 0, "{kind}");
    let own = r.cmd(&["INFO", "keysizes"]);
    let lines: Vec<(&str, &str)> = own
        .lines()
        .filter_map(|l| l.trim_end().split_once(':'))
        .collect();

    let keysizes = format!("{}keysizes = true\n", target("k", &r));
    let e = exporter(&[keysizes, target("n", &r)]);
    wait_up(&e, "k", 1.0);
    let m = wait_up(&e, "n", 1.0);
    assert!(
        !m.contains("redis_keysizes_keys{target=\"n\""),
        "{kind}: not asked for"
    );
    if kind != ServerKind::Redis82 {
        assert!(lines.is_empty(), "{kind}: INFO keysizes gave {own}");
        assert!(
            !m.contains("redis_keysizes_keys{"),
            "{kind}: no keysizes, no series"
        );
        return;
    }
    let types = [
        ("strings_sizes", "string"),
        ("lists_items", "list"),
        ("hashes_items", "hash"),
    ];
    let mut seen = 0;
    for (key, bins) in &lines {
        let (db, rest) = key.split_once("_distrib_").expect(key);
        let kind_label = types.iter().find(|(t, _)| t == &rest).expect(rest).1;
        for (bin, keys) in bins.split(',').filter_map(|b| b.split_once('=')) {
            let sel = format!(
                "redis_keysizes_keys{{target=\"k\",db=\"{db}\",type=\"{kind_label}\",\
                 bin=\"{bin}\"}}"
            );
            assert_eq!(
                value(&m, &sel),
                keys.parse::<f64>().unwrap(),
                "{kind}: {sel}"
            );
            seen += 1;
        }
    }
    // Strings of 1..=300 bytes: the bins 1, 2, 4 … 256; 4 lists of 10 items; one hash of 12;
    // 5 strings in db2.
    assert_eq!(seen, 9 + 1 + 1 + 1, "{kind}: {own}");
    let series = m
        .lines()
        .filter(|l| l.starts_with("redis_keysizes_keys{"))
        .count();
    assert_eq!(series, seen, "{kind}");
}

/// One test per (server, check): `per_server!(module => Kind, …; check, …)`.
macro_rules! per_server {
    ($($module:ident => $kind:ident),+ ; $checks:tt) => {
        $(per_server!(@server $module $kind $checks);)+
    };
    (@server $module:ident $kind:ident ($($check:ident),+ $(,)?)) => {
        mod $module {
            $(
                #[test]
                fn $check() {
                    super::$check(super::ServerKind::$kind)
                }
            )+
        }
    };
}

per_server!(
    redis_7_0 => Redis70,
    redis_6_2 => Redis62,
    redis_8_2 => Redis82,
    valkey_9_1 => Valkey91;
    (
        hit_ratio_of_900_hits_and_100_misses_is_exactly_0_9,
        instance_info_names_the_server,
        evictions_equal_the_servers_evicted_keys,
        memory_pressure_is_what_the_server_counts_for_eviction,
        resetstat_and_restart_never_give_negative_or_huge_values,
        blocked_or_renamed_config_degrades_to_info,
        cpu_grows_and_every_database_is_counted,
        a_replica_pair_shows_offsets_and_lag,
        errorstats_count_an_oom_and_slow_sections_are_carried,
        keysizes_only_where_asked_and_only_on_redis_8,
    )
);
