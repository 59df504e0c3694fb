//! INFO parser and derivation against the captured replies in `tests/fixtures/info/`.
//!
//! Every expected value here is the one documented in `tests/fixtures/README.md`, which was read
//! off the files themselves. When the fixtures are regenerated, that table and this file change
//! together.

use std::collections::BTreeMap;
use std::time::Duration;

use redis_cache_exporter::core::derive::{History, Limit, Pressure, Window, memory_pressure};
use redis_cache_exporter::core::info::{CommandStat, DbStat, InfoError, Sample, parse};

/// `(file name, contents)` of one fixture, embedded at compile time.
macro_rules! fixture {
    ($name:literal) => {
        ($name, include_str!(concat!("fixtures/info/", $name)))
    };
}

/// Every file of `tests/fixtures/info/` (checked by `every_fixture_file_is_listed`).
const FIXTURES: &[(&str, &str)] = &[
    fixture!("malformed-bad-numbers.txt"),
    fixture!("malformed-empty.txt"),
    fixture!("malformed-garbage.txt"),
    fixture!("malformed-lf-only.txt"),
    fixture!("malformed-truncated.txt"),
    fixture!("redis-6.2-empty.config.txt"),
    fixture!("redis-6.2-empty.txt"),
    fixture!("redis-6.2-evicting.config.txt"),
    fixture!("redis-6.2-evicting.txt"),
    fixture!("redis-6.2-maxmemory-0.config.txt"),
    fixture!("redis-6.2-maxmemory-0.txt"),
    fixture!("redis-6.2-noeviction.config.txt"),
    fixture!("redis-6.2-noeviction.txt"),
    fixture!("redis-6.2-primary-with-replica.config.txt"),
    fixture!("redis-6.2-primary-with-replica.txt"),
    fixture!("redis-6.2-replica.config.txt"),
    fixture!("redis-6.2-replica.txt"),
    fixture!("redis-7.0-empty.config.txt"),
    fixture!("redis-7.0-empty.txt"),
    fixture!("redis-7.0-evicting.config.txt"),
    fixture!("redis-7.0-evicting.txt"),
    fixture!("redis-7.0-maxmemory-0.config.txt"),
    fixture!("redis-7.0-maxmemory-0.txt"),
    fixture!("redis-7.0-noeviction.config.txt"),
    fixture!("redis-7.0-noeviction.txt"),
    fixture!("redis-7.0-primary-with-replica.config.txt"),
    fixture!("redis-7.0-primary-with-replica.txt"),
    fixture!("redis-7.0-replica.config.txt"),
    fixture!("redis-7.0-replica.txt"),
    fixture!("redis-8.2-empty.config.txt"),
    fixture!("redis-8.2-empty.txt"),
    fixture!("redis-8.2-evicting.config.txt"),
    fixture!("redis-8.2-evicting.txt"),
    fixture!("redis-8.2-keysizes.txt"),
    fixture!("redis-8.2-maxmemory-0.config.txt"),
    fixture!("redis-8.2-maxmemory-0.txt"),
    fixture!("redis-8.2-noeviction.config.txt"),
    fixture!("redis-8.2-noeviction.txt"),
    fixture!("redis-8.2-primary-with-replica.config.txt"),
    fixture!("redis-8.2-primary-with-replica.txt"),
    fixture!("redis-8.2-replica.config.txt"),
    fixture!("redis-8.2-replica.txt"),
    fixture!("valkey-8.0.1-evicting-primary.txt"),
    fixture!("valkey-8.0.1-replica.txt"),
    fixture!("valkey-9.1-empty.config.txt"),
    fixture!("valkey-9.1-empty.txt"),
    fixture!("valkey-9.1-evicting.config.txt"),
    fixture!("valkey-9.1-evicting.txt"),
    fixture!("valkey-9.1-maxmemory-0.config.txt"),
    fixture!("valkey-9.1-maxmemory-0.txt"),
    fixture!("valkey-9.1-noeviction.config.txt"),
    fixture!("valkey-9.1-noeviction.txt"),
    fixture!("valkey-9.1-primary-with-replica.config.txt"),
    fixture!("valkey-9.1-primary-with-replica.txt"),
    fixture!("valkey-9.1-replica.config.txt"),
    fixture!("valkey-9.1-replica.txt"),
];

fn text(name: &str) -> &'static str {
    FIXTURES
        .iter()
        .find(|(n, _)| *n == name)
        .map_or_else(|| panic!("{name} is not in FIXTURES"), |(_, t)| *t)
}

fn sample(name: &str) -> Sample {
    parse(text(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The real captures: INFO replies as the servers sent them.
fn captures() -> impl Iterator<Item = (&'static str, &'static str)> {
    FIXTURES
        .iter()
        .copied()
        .filter(|(n, _)| !n.starts_with("malformed-") && !n.ends_with(".config.txt"))
}

/// A `CONFIG GET maxmemory*` sidecar: one `key value` pair per line.
fn sidecar(text: &str) -> BTreeMap<&str, &str> {
    text.lines()
        .map(|l| {
            l.split_once(' ')
                .unwrap_or_else(|| panic!("sidecar line without a space: {l:?}"))
        })
        .collect()
}

fn command<'a>(s: &'a Sample, name: &str) -> &'a CommandStat {
    s.commands
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no cmdstat_{name} in {:?}", s.commands))
}

fn db(db: u32, keys: u64, expires: u64, avg_ttl_ms: u64) -> DbStat {
    DbStat {
        db,
        keys,
        expires,
        avg_ttl_ms,
    }
}

/// One row of the README's notable-values and keyspace tables.
struct Expected {
    file: &'static str,
    redis_version: &'static str,
    role: &'static str,
    server: &'static str,
    hits: u64,
    misses: u64,
    evicted: u64,
    expired: u64,
    used_memory: u64,
    not_counted: u64,
    maxmemory: u64,
    policy: &'static str,
    system: u64,
    connected_slaves: u64,
    /// `master_link_status` is only reported by replicas.
    master_link_up: Option<bool>,
    keyspace: Vec<DbStat>,
}

const SYSTEM: u64 = 25_276_063_744;
const VALKEY_SYSTEM: u64 = 25_276_514_304;
/// `total_system_memory` of the Redis 8.2 and Valkey 9.1 captures (made on another day).
const SYSTEM_8_2_9_1: u64 = 25_275_973_632;

/// Asserts every documented value of one capture and returns the parsed sample.
fn check(e: &Expected) -> Sample {
    let s = sample(e.file);
    let f = e.file;
    assert_eq!(s.redis_version.as_deref(), Some(e.redis_version), "{f}");
    assert_eq!(s.role.as_deref(), Some(e.role), "{f}");
    assert_eq!(s.server(), e.server, "{f}");
    assert!(s.uptime_in_seconds.is_some(), "{f}: uptime_in_seconds");
    assert!(s.run_id.is_some(), "{f}: run_id");
    assert_eq!(
        (s.keyspace_hits, s.keyspace_misses),
        (Some(e.hits), Some(e.misses)),
        "{f}: hits, misses"
    );
    assert_eq!(s.lookups(), Some(e.hits + e.misses), "{f}");
    assert_eq!(s.evicted_keys, Some(e.evicted), "{f}: evicted_keys");
    assert_eq!(s.expired_keys, Some(e.expired), "{f}: expired_keys");
    assert_eq!(s.used_memory, Some(e.used_memory), "{f}: used_memory");
    assert_eq!(
        s.mem_not_counted_for_evict,
        Some(e.not_counted),
        "{f}: mem_not_counted_for_evict"
    );
    assert_eq!(s.maxmemory, Some(e.maxmemory), "{f}: maxmemory");
    assert_eq!(s.maxmemory_policy.as_deref(), Some(e.policy), "{f}");
    assert_eq!(s.total_system_memory, Some(e.system), "{f}");
    assert_eq!(s.connected_slaves, Some(e.connected_slaves), "{f}");
    assert_eq!(s.master_link_up, e.master_link_up, "{f}: master_link_up");
    assert_eq!(s.keyspace, e.keyspace, "{f}: keyspace");
    assert!(s.skipped.is_empty(), "{f}: skipped {:?}", s.skipped);

    let used = (e.used_memory - e.not_counted) as f64;
    let expected = if e.maxmemory > 0 {
        Pressure {
            ratio: used / e.maxmemory as f64,
            limit: Limit::Maxmemory,
        }
    } else {
        Pressure {
            ratio: used / e.system as f64,
            limit: Limit::System,
        }
    };
    assert_eq!(memory_pressure(&s), Some(expected), "{f}: memory pressure");
    s
}

#[test]
fn every_fixture_file_is_listed() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/info");
    let mut on_disk: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {dir}: {e}"))
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| !n.starts_with('.'))
        .collect();
    on_disk.sort();
    let listed: Vec<&str> = FIXTURES.iter().map(|(n, _)| *n).collect();
    assert_eq!(on_disk, listed);
}

#[test]
fn real_captures_are_crlf_and_skip_nothing() {
    let mut n = 0;
    for (name, t) in captures() {
        assert!(t.ends_with("\r\n"), "{name} ends with the payload's CRLF");
        assert!(!t.replace("\r\n", "").contains('\n'), "{name}: bare LF");
        let s = Sample::try_from(t).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(s, sample(name), "{name}: TryFrom and parse agree");
        assert!(s.skipped.is_empty(), "{name}: skipped {:?}", s.skipped);
        assert!(!s.commands.is_empty() || name == "valkey-8.0.1-replica.txt");
        for c in &s.commands {
            assert!(
                !c.name.is_empty() && c.name == c.name.to_ascii_lowercase(),
                "{name}: command name {:?}",
                c.name
            );
        }
        n += 1;
    }
    assert_eq!(n, 27);
}

/// `redis_instance_info{redis_mode}` needs the mode on every server. Valkey 8 renamed the field
/// to `server_mode`.
#[test]
fn redis_mode_is_read_from_every_capture_including_valkey_server_mode() {
    let mut valkey = 0;
    for (name, _) in captures() {
        assert_eq!(
            sample(name).redis_mode.as_deref(),
            Some("standalone"),
            "{name}"
        );
        valkey += usize::from(name.starts_with("valkey-"));
    }
    assert!(valkey > 0, "no Valkey capture, so server_mode went unread");
}

#[test]
fn config_sidecars_agree_with_info() {
    let mut n = 0;
    for (name, t) in FIXTURES.iter().copied() {
        let Some(base) = name.strip_suffix(".config.txt") else {
            continue;
        };
        let config = sidecar(t);
        let s = sample(&format!("{base}.txt"));
        let maxmemory: u64 = config["maxmemory"].parse().expect("maxmemory is a number");
        assert_eq!(s.maxmemory, Some(maxmemory), "{name}");
        assert_eq!(
            s.maxmemory_policy.as_deref(),
            Some(config["maxmemory-policy"]),
            "{name}"
        );
        assert_eq!(config["maxmemory-samples"], "5", "{name}");
        // `maxmemory-clients` arrived in Redis 7.0.
        assert_eq!(
            config.contains_key("maxmemory-clients"),
            !base.starts_with("redis-6.2"),
            "{name}"
        );
        n += 1;
    }
    assert_eq!(n, 24);
}

#[test]
fn redis_7_0_evicting() {
    let s = check(&Expected {
        file: "redis-7.0-evicting.txt",
        redis_version: "7.0.15",
        role: "master",
        server: "redis",
        hits: 430,
        misses: 685,
        evicted: 5350,
        expired: 200,
        used_memory: 4_040_880,
        not_counted: 0,
        maxmemory: 4_194_304,
        policy: "allkeys-lru",
        system: SYSTEM,
        connected_slaves: 0,
        master_link_up: None,
        keyspace: vec![db(0, 2650, 1297, 3_599_845), db(3, 20, 10, 3_599_847)],
    });
    assert_eq!(
        command(&s, "keys"),
        &CommandStat {
            name: "keys".into(),
            calls: 1,
            usec: 536,
            rejected_calls: Some(0),
            failed_calls: Some(0),
        }
    );
    assert_eq!(s.uptime_in_seconds, Some(1));
    assert_eq!(s.total_commands_processed, Some(9339));
    assert_eq!(s.mem_fragmentation_ratio, Some(3.98));
    assert_eq!(s.used_memory_rss, Some(15_917_056));
    assert_eq!(s.used_memory_peak, Some(4_214_768));
    assert_eq!(s.redis_mode.as_deref(), Some("standalone"));
    assert_eq!(s.loading, Some(false));
    assert_eq!(s.used_memory_startup, Some(876_464));
    assert_eq!(s.mem_clients_normal, Some(0));
}

/// Memory sizing's cost per key needs both, on every server it runs against.
#[test]
fn memory_sizing_figures_are_read_from_redis_6_2_and_valkey_8() {
    for (file, startup) in [
        ("redis-6.2-evicting.txt", 887_696),
        ("valkey-8.0.1-evicting-primary.txt", 1_000_304),
    ] {
        let s = sample(file);
        assert_eq!(s.used_memory_startup, Some(startup), "{file}");
        assert_eq!(s.mem_clients_normal, Some(0), "{file}");
    }
}

#[test]
fn redis_7_0_maxmemory_0() {
    let s = check(&Expected {
        file: "redis-7.0-maxmemory-0.txt",
        redis_version: "7.0.15",
        role: "master",
        server: "redis",
        hits: 60,
        misses: 15,
        evicted: 0,
        expired: 0,
        used_memory: 999_752,
        not_counted: 0,
        maxmemory: 0,
        policy: "noeviction",
        system: SYSTEM,
        connected_slaves: 0,
        master_link_up: None,
        keyspace: vec![db(0, 100, 20, 3_599_898)],
    });
    assert_eq!(command(&s, "set").calls, 100);
}

#[test]
fn redis_7_0_empty() {
    let s = check(&Expected {
        file: "redis-7.0-empty.txt",
        redis_version: "7.0.15",
        role: "master",
        server: "redis",
        hits: 0,
        misses: 0,
        evicted: 0,
        expired: 0,
        used_memory: 941_184,
        not_counted: 0,
        maxmemory: 0,
        policy: "noeviction",
        system: SYSTEM,
        connected_slaves: 0,
        master_link_up: None,
        keyspace: vec![],
    });
    let names: Vec<&str> = s.commands.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["ping"]);
}

#[test]
fn redis_7_0_noeviction() {
    let s = check(&Expected {
        file: "redis-7.0-noeviction.txt",
        redis_version: "7.0.15",
        role: "master",
        server: "redis",
        hits: 10,
        misses: 3,
        evicted: 0,
        expired: 0,
        used_memory: 2_123_752,
        not_counted: 0,
        maxmemory: 2_097_152,
        policy: "noeviction",
        system: SYSTEM,
        connected_slaves: 0,
        master_link_up: None,
        keyspace: vec![db(0, 1034, 0, 0)],
    });
    let set = command(&s, "set");
    assert_eq!(
        (set.calls, set.rejected_calls, set.failed_calls),
        (1034, Some(91), Some(0))
    );
}

#[test]
fn redis_7_0_replica() {
    let s = check(&Expected {
        file: "redis-7.0-replica.txt",
        redis_version: "7.0.15",
        role: "slave",
        server: "redis",
        hits: 5,
        misses: 2,
        evicted: 0,
        expired: 0,
        used_memory: 1_127_048,
        not_counted: 0,
        maxmemory: 0,
        policy: "noeviction",
        system: SYSTEM,
        connected_slaves: 0,
        master_link_up: Some(true),
        keyspace: vec![db(0, 70, 10, 0), db(2, 5, 0, 0)],
    });
    assert_eq!(s.connected_clients, Some(2));
}

#[test]
fn redis_7_0_primary_with_replica() {
    let s = check(&Expected {
        file: "redis-7.0-primary-with-replica.txt",
        redis_version: "7.0.15",
        role: "master",
        server: "redis",
        hits: 0,
        misses: 0,
        evicted: 0,
        expired: 0,
        used_memory: 1_131_112,
        not_counted: 24_496,
        maxmemory: 67_108_864,
        policy: "allkeys-lru",
        system: SYSTEM,
        connected_slaves: 1,
        master_link_up: None,
        keyspace: vec![db(0, 70, 10, 3_599_030), db(2, 5, 0, 0)],
    });
    assert_eq!(command(&s, "psync").calls, 1);
}

#[test]
fn redis_6_2_evicting() {
    let s = check(&Expected {
        file: "redis-6.2-evicting.txt",
        redis_version: "6.2.14",
        role: "master",
        server: "redis",
        hits: 475,
        misses: 640,
        evicted: 5385,
        expired: 200,
        used_memory: 3_867_696,
        not_counted: 0,
        maxmemory: 4_194_304,
        policy: "allkeys-lru",
        system: SYSTEM,
        connected_slaves: 0,
        master_link_up: None,
        keyspace: vec![db(0, 2615, 1313, 3_599_897), db(3, 20, 10, 3_599_948)],
    });
    let keys = command(&s, "keys");
    assert_eq!((keys.calls, keys.usec), (1, 526));
    assert_eq!(s.total_commands_processed, Some(9339));
    assert_eq!(s.mem_fragmentation_ratio, Some(2.09));
    assert_eq!(s.used_memory_rss, Some(7_966_720));
    assert_eq!(s.used_memory_peak, Some(4_210_720));
}

#[test]
fn redis_6_2_maxmemory_0() {
    let s = check(&Expected {
        file: "redis-6.2-maxmemory-0.txt",
        redis_version: "6.2.14",
        role: "master",
        server: "redis",
        hits: 60,
        misses: 15,
        evicted: 0,
        expired: 0,
        used_memory: 950_312,
        not_counted: 0,
        maxmemory: 0,
        policy: "noeviction",
        system: SYSTEM,
        connected_slaves: 0,
        master_link_up: None,
        keyspace: vec![db(0, 100, 20, 3_599_948)],
    });
    assert_eq!(command(&s, "set").calls, 100);
}

#[test]
fn redis_6_2_empty() {
    let s = check(&Expected {
        file: "redis-6.2-empty.txt",
        redis_version: "6.2.14",
        role: "master",
        server: "redis",
        hits: 0,
        misses: 0,
        evicted: 0,
        expired: 0,
        used_memory: 939_672,
        not_counted: 0,
        maxmemory: 0,
        policy: "noeviction",
        system: SYSTEM,
        connected_slaves: 0,
        master_link_up: None,
        keyspace: vec![],
    });
    let names: Vec<&str> = s.commands.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["ping"]);
}

#[test]
fn redis_6_2_noeviction() {
    let s = check(&Expected {
        file: "redis-6.2-noeviction.txt",
        redis_version: "6.2.14",
        role: "master",
        server: "redis",
        hits: 10,
        misses: 3,
        evicted: 0,
        expired: 0,
        used_memory: 2_090_000,
        not_counted: 0,
        maxmemory: 2_097_152,
        policy: "noeviction",
        system: SYSTEM,
        connected_slaves: 0,
        master_link_up: None,
        keyspace: vec![db(0, 1042, 0, 0)],
    });
    let set = command(&s, "set");
    assert_eq!(
        (set.calls, set.rejected_calls, set.failed_calls),
        (1042, Some(83), Some(0))
    );
}

#[test]
fn redis_6_2_replica() {
    let s = check(&Expected {
        file: "redis-6.2-replica.txt",
        redis_version: "6.2.14",
        role: "slave",
        server: "redis",
        hits: 5,
        misses: 2,
        evicted: 0,
        expired: 0,
        used_memory: 2_062_856,
        not_counted: 0,
        maxmemory: 0,
        policy: "noeviction",
        system: SYSTEM,
        connected_slaves: 0,
        master_link_up: Some(true),
        keyspace: vec![db(0, 70, 10, 0), db(2, 5, 0, 0)],
    });
    assert_eq!(s.connected_clients, Some(2));
}

#[test]
fn redis_6_2_primary_with_replica() {
    let s = check(&Expected {
        file: "redis-6.2-primary-with-replica.txt",
        redis_version: "6.2.14",
        role: "master",
        server: "redis",
        hits: 0,
        misses: 0,
        evicted: 0,
        expired: 0,
        used_memory: 1_001_952,
        not_counted: 0,
        maxmemory: 67_108_864,
        policy: "allkeys-lru",
        system: SYSTEM,
        connected_slaves: 1,
        master_link_up: None,
        keyspace: vec![db(0, 70, 10, 3_599_081), db(2, 5, 0, 0)],
    });
    assert_eq!(command(&s, "psync").calls, 1);
}

#[test]
fn valkey_8_0_1_evicting_primary() {
    let s = check(&Expected {
        file: "valkey-8.0.1-evicting-primary.txt",
        redis_version: "7.2.4",
        role: "master",
        server: "valkey",
        hits: 817,
        misses: 283,
        evicted: 18874,
        expired: 0,
        used_memory: 12_600_968,
        not_counted: 16_400,
        maxmemory: 12_582_912,
        policy: "allkeys-lru",
        system: VALKEY_SYSTEM,
        connected_slaves: 1,
        master_link_up: None,
        keyspace: vec![db(0, 1176, 1126, 598_667)],
    });
    assert_eq!(command(&s, "keys").calls, 1);
    // Redis 7 style subcommand names (`config|get`), kept as reported. No Redis 7.0 capture has
    // one: their CONFIG GET runs after INFO.
    let config = command(&s, "config|resetstat");
    assert_eq!((config.calls, config.usec), (1, 64));
    assert!(memory_pressure(&s).unwrap().ratio > 1.0);
}

#[test]
fn valkey_8_0_1_replica_with_link_down() {
    let s = check(&Expected {
        file: "valkey-8.0.1-replica.txt",
        redis_version: "7.2.4",
        role: "slave",
        server: "valkey",
        hits: 0,
        misses: 0,
        evicted: 0,
        expired: 0,
        used_memory: 1_037_928,
        not_counted: 0,
        maxmemory: 0,
        policy: "noeviction",
        system: VALKEY_SYSTEM,
        connected_slaves: 0,
        master_link_up: Some(false),
        keyspace: vec![],
    });
    assert!(s.commands.is_empty());
}

#[test]
fn redis_8_2_evicting() {
    let s = check(&Expected {
        file: "redis-8.2-evicting.txt",
        redis_version: "8.2.3",
        role: "master",
        server: "redis",
        hits: 527,
        misses: 588,
        evicted: 5102,
        expired: 200,
        used_memory: 4_002_096,
        not_counted: 0,
        maxmemory: 4_194_304,
        policy: "allkeys-lru",
        system: SYSTEM_8_2_9_1,
        connected_slaves: 0,
        master_link_up: None,
        // `subexpiry=0` follows on these lines (Redis 7.4+), and the `# Keysizes` section's
        // `db0_distrib_strings_sizes:512=2898` is no keyspace line.
        keyspace: vec![db(0, 2898, 1454, 3_599_978), db(3, 20, 10, 3_599_930)],
    });
    let keys = command(&s, "keys");
    assert_eq!((keys.calls, keys.usec), (1, 183));
    assert_eq!(s.uptime_in_seconds, Some(1));
    assert_eq!(s.total_commands_processed, Some(9339));
    assert_eq!(s.mem_fragmentation_ratio, Some(3.22));
    assert_eq!(s.used_memory_rss, Some(12_742_656));
    assert_eq!(s.used_memory_peak, Some(4_214_784));
    assert_eq!(s.redis_mode.as_deref(), Some("standalone"));
    assert_eq!(s.loading, Some(false));
}

#[test]
fn redis_8_2_maxmemory_0() {
    let s = check(&Expected {
        file: "redis-8.2-maxmemory-0.txt",
        redis_version: "8.2.3",
        role: "master",
        server: "redis",
        hits: 60,
        misses: 15,
        evicted: 0,
        expired: 0,
        used_memory: 777_056,
        not_counted: 0,
        maxmemory: 0,
        policy: "noeviction",
        system: SYSTEM_8_2_9_1,
        connected_slaves: 0,
        master_link_up: None,
        keyspace: vec![db(0, 100, 20, 3_599_993)],
    });
    assert_eq!(command(&s, "set").calls, 100);
}

#[test]
fn redis_8_2_empty() {
    let s = check(&Expected {
        file: "redis-8.2-empty.txt",
        redis_version: "8.2.3",
        role: "master",
        server: "redis",
        hits: 0,
        misses: 0,
        evicted: 0,
        expired: 0,
        used_memory: 719_056,
        not_counted: 0,
        maxmemory: 0,
        policy: "noeviction",
        system: SYSTEM_8_2_9_1,
        connected_slaves: 0,
        master_link_up: None,
        keyspace: vec![],
    });
    let names: Vec<&str> = s.commands.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["ping"]);
}

#[test]
fn redis_8_2_noeviction() {
    let s = check(&Expected {
        file: "redis-8.2-noeviction.txt",
        redis_version: "8.2.3",
        role: "master",
        server: "redis",
        hits: 10,
        misses: 3,
        evicted: 0,
        expired: 0,
        used_memory: 2_113_480,
        not_counted: 0,
        maxmemory: 2_097_152,
        policy: "noeviction",
        system: SYSTEM_8_2_9_1,
        connected_slaves: 0,
        master_link_up: None,
        keyspace: vec![db(0, 1251, 0, 0)],
    });
    let set = command(&s, "set");
    assert_eq!(
        (set.calls, set.rejected_calls, set.failed_calls),
        (1251, Some(74), Some(0))
    );
}

#[test]
fn redis_8_2_replica() {
    let s = check(&Expected {
        file: "redis-8.2-replica.txt",
        redis_version: "8.2.3",
        role: "slave",
        server: "redis",
        hits: 5,
        misses: 2,
        evicted: 0,
        expired: 0,
        used_memory: 891_408,
        not_counted: 0,
        maxmemory: 0,
        policy: "noeviction",
        system: SYSTEM_8_2_9_1,
        connected_slaves: 0,
        master_link_up: Some(true),
        keyspace: vec![db(0, 70, 10, 0), db(2, 5, 0, 0)],
    });
    assert_eq!(s.connected_clients, Some(2));
}

#[test]
fn redis_8_2_primary_with_replica() {
    let s = check(&Expected {
        file: "redis-8.2-primary-with-replica.txt",
        redis_version: "8.2.3",
        role: "master",
        server: "redis",
        hits: 0,
        misses: 0,
        evicted: 0,
        expired: 0,
        used_memory: 892_032,
        not_counted: 24_496,
        maxmemory: 67_108_864,
        policy: "allkeys-lru",
        system: SYSTEM_8_2_9_1,
        connected_slaves: 1,
        master_link_up: None,
        keyspace: vec![db(0, 70, 10, 3_599_884), db(2, 5, 0, 0)],
    });
    assert_eq!(command(&s, "psync").calls, 2);
}

#[test]
fn valkey_9_1_evicting() {
    let s = check(&Expected {
        file: "valkey-9.1-evicting.txt",
        redis_version: "7.2.4",
        role: "master",
        server: "valkey",
        hits: 439,
        misses: 676,
        evicted: 5398,
        expired: 200,
        used_memory: 3_981_336,
        not_counted: 0,
        maxmemory: 4_194_304,
        policy: "allkeys-lru",
        system: SYSTEM_8_2_9_1,
        connected_slaves: 0,
        master_link_up: None,
        // `keys_with_volatile_items=0` follows on these lines (Valkey 9).
        keyspace: vec![db(0, 2602, 1312, 3_599_954), db(3, 20, 10, 3_599_995)],
    });
    let keys = command(&s, "keys");
    assert_eq!((keys.calls, keys.usec), (1, 137));
    assert_eq!(s.uptime_in_seconds, Some(1));
    // Two more than the same workload on Redis: Valkey's own CONFIG GETs at startup.
    assert_eq!(s.total_commands_processed, Some(9341));
    assert_eq!(s.mem_fragmentation_ratio, Some(2.53));
    assert_eq!(s.used_memory_rss, Some(10_022_912));
    assert_eq!(s.used_memory_peak, Some(4_210_624));
    // Valkey names the field `server_mode`.
    assert_eq!(s.redis_mode.as_deref(), Some("standalone"));
    assert_eq!(s.loading, Some(false));
}

#[test]
fn valkey_9_1_maxmemory_0() {
    let s = check(&Expected {
        file: "valkey-9.1-maxmemory-0.txt",
        redis_version: "7.2.4",
        role: "master",
        server: "valkey",
        hits: 60,
        misses: 15,
        evicted: 0,
        expired: 0,
        used_memory: 1_098_720,
        not_counted: 0,
        maxmemory: 0,
        policy: "noeviction",
        system: SYSTEM_8_2_9_1,
        connected_slaves: 0,
        master_link_up: None,
        keyspace: vec![db(0, 100, 20, 3_599_946)],
    });
    assert_eq!(command(&s, "set").calls, 100);
}

#[test]
fn valkey_9_1_empty() {
    let s = check(&Expected {
        file: "valkey-9.1-empty.txt",
        redis_version: "7.2.4",
        role: "master",
        server: "valkey",
        hits: 0,
        misses: 0,
        evicted: 0,
        expired: 0,
        used_memory: 1_043_528,
        not_counted: 0,
        maxmemory: 0,
        policy: "noeviction",
        system: SYSTEM_8_2_9_1,
        connected_slaves: 0,
        master_link_up: None,
        keyspace: vec![],
    });
    let names: Vec<&str> = s.commands.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["ping", "config|get"]);
    // Valkey's built-in Lua engine reads its settings with CONFIG GET when the server starts.
    assert_eq!(command(&s, "config|get").calls, 2);
}

#[test]
fn valkey_9_1_noeviction() {
    let s = check(&Expected {
        file: "valkey-9.1-noeviction.txt",
        redis_version: "7.2.4",
        role: "master",
        server: "valkey",
        hits: 10,
        misses: 3,
        evicted: 0,
        expired: 0,
        used_memory: 2_078_200,
        not_counted: 0,
        maxmemory: 2_097_152,
        policy: "noeviction",
        system: SYSTEM_8_2_9_1,
        connected_slaves: 0,
        master_link_up: None,
        keyspace: vec![db(0, 917, 0, 0)],
    });
    let set = command(&s, "set");
    assert_eq!(
        (set.calls, set.rejected_calls, set.failed_calls),
        (917, Some(108), Some(0))
    );
}

#[test]
fn valkey_9_1_replica() {
    let s = check(&Expected {
        file: "valkey-9.1-replica.txt",
        redis_version: "7.2.4",
        role: "slave",
        server: "valkey",
        hits: 5,
        misses: 2,
        evicted: 0,
        expired: 0,
        used_memory: 1_219_464,
        not_counted: 0,
        maxmemory: 0,
        policy: "noeviction",
        system: SYSTEM_8_2_9_1,
        connected_slaves: 0,
        master_link_up: Some(true),
        keyspace: vec![db(0, 70, 10, 0), db(2, 5, 0, 0)],
    });
    assert_eq!(s.connected_clients, Some(2));
}

#[test]
fn valkey_9_1_primary_with_replica() {
    let s = check(&Expected {
        file: "valkey-9.1-primary-with-replica.txt",
        redis_version: "7.2.4",
        role: "master",
        server: "valkey",
        hits: 0,
        misses: 0,
        evicted: 0,
        expired: 0,
        used_memory: 1_204_048,
        not_counted: 16_384,
        maxmemory: 67_108_864,
        policy: "allkeys-lru",
        system: SYSTEM_8_2_9_1,
        connected_slaves: 1,
        master_link_up: None,
        keyspace: vec![db(0, 70, 10, 3_599_135), db(2, 5, 0, 0)],
    });
    assert_eq!(command(&s, "psync").calls, 1);
}

#[test]
fn truncated_reply_keeps_the_fields_before_the_cut() {
    let t = text("malformed-truncated.txt");
    assert!(text("redis-7.0-evicting.txt").starts_with(t));
    assert!(t.ends_with("\r\nevicted_ke"));
    let s = sample("malformed-truncated.txt");
    assert_eq!(s.redis_version.as_deref(), Some("7.0.15"));
    assert_eq!(s.uptime_in_seconds, Some(1));
    assert_eq!(s.used_memory, Some(4_040_880));
    assert_eq!(s.maxmemory, Some(4_194_304));
    assert_eq!(s.maxmemory_policy.as_deref(), Some("allkeys-lru"));
    assert_eq!(s.total_system_memory, Some(SYSTEM));
    assert_eq!(s.expired_keys, Some(200));
    assert_eq!(s.evicted_keys, None);
    assert_eq!((s.keyspace_hits, s.keyspace_misses), (None, None));
    assert_eq!(s.lookups(), None);
    assert_eq!((s.role, s.connected_slaves), (None, None));
    assert!(s.commands.is_empty());
    assert!(s.keyspace.is_empty());
    assert!(s.skipped.is_empty(), "{:?}", s.skipped);
}

#[test]
fn lf_only_parses_the_same_as_its_crlf_original() {
    let crlf = text("redis-7.0-evicting.txt");
    let lf = text("malformed-lf-only.txt");
    assert_eq!(lf, crlf.replace("\r\n", "\n"));
    assert_eq!(parse(lf), parse(crlf));
    assert_eq!(sample("malformed-lf-only.txt").keyspace_hits, Some(430));
}

#[test]
fn bad_numbers_are_skipped_and_named_and_the_rest_survives() {
    let s = sample("malformed-bad-numbers.txt");
    assert_eq!(s.keyspace_misses, Some(685));
    assert_eq!(s.expired_keys, Some(200));
    assert_eq!(s.maxmemory_policy.as_deref(), Some("allkeys-lru"));
    assert_eq!(s.keyspace, vec![db(3, 20, 10, 3_599_847)]);
    assert_eq!(
        s.skipped,
        [
            "uptime_in_seconds",
            "used_memory",
            "total_system_memory",
            "maxmemory",
            "evicted_keys",
            "keyspace_hits",
            "db0",
        ]
    );
    assert_eq!(memory_pressure(&s), None);

    // Apart from the edited fields, the sample is the original's.
    let mut expected = sample("redis-7.0-evicting.txt");
    expected.uptime_in_seconds = None;
    expected.used_memory = None;
    expected.total_system_memory = None;
    expected.maxmemory = None;
    expected.evicted_keys = None;
    expected.keyspace_hits = None;
    expected.keyspace.retain(|d| d.db != 0);
    expected.skipped = s.skipped.clone();
    assert_eq!(s, expected);
}

/// `db0:keys` and `db0:=,=,=` in the garbage fixture are not INFO fields; a reply made of such
/// lines must not be taken for INFO.
#[test]
fn garbage_with_valueless_db_lines_is_not_info() {
    assert_eq!(
        parse(text("malformed-garbage.txt")),
        Err(InfoError::NotInfo)
    );
}

#[test]
fn empty_reply_is_an_error() {
    assert_eq!(text("malformed-empty.txt"), "");
    assert_eq!(parse(text("malformed-empty.txt")), Err(InfoError::Empty));
}

fn m1(
    d: &redis_cache_exporter::core::derive::Derived,
) -> &redis_cache_exporter::core::derive::WindowStats {
    d.windows
        .iter()
        .find(|w| w.window == Window::M1)
        .expect("1m window")
}

/// Two different servers (different `run_id`) behind one target: the second one's counters count
/// from zero, although its `uptime_in_seconds` went up (0 → 1).
#[test]
fn new_run_id_between_captures_counts_the_new_server_from_zero() {
    let (first, second) = (
        sample("redis-7.0-empty.txt"),
        sample("redis-7.0-maxmemory-0.txt"),
    );
    assert_ne!(first.run_id, second.run_id);
    assert!(first.uptime_in_seconds <= second.uptime_in_seconds);

    let mut h = History::new(Duration::from_millis(7500));
    let d = h.observe(Duration::ZERO, &first);
    assert!(d.windows.is_empty());
    assert!(!d.reset);
    let d = h.observe(Duration::from_secs(15), &second);
    assert!(d.reset, "a new run_id is a restart");
    assert_eq!(d.resets_total, 1);
    let w = m1(&d);
    assert_eq!(w.covered, Duration::from_secs(15));
    assert_eq!(w.hit_ratio, Some(60.0 / 75.0));
    assert_eq!(w.lookups_per_second, Some(75.0 / 15.0));
    assert_eq!((w.evictions, w.expirations), (Some(0), Some(0)));
    assert_eq!(
        d.pressure,
        Some(Pressure {
            ratio: 999_752.0 / SYSTEM as f64,
            limit: Limit::System
        })
    );
}

/// As above, but the new server's counters are partly higher than the old one's (hits 430 → 475,
/// misses 685 → 640): without restart detection the hits would count only 45.
#[test]
fn new_run_id_with_higher_counters_still_counts_from_zero() {
    let (first, second) = (
        sample("redis-7.0-evicting.txt"),
        sample("redis-6.2-evicting.txt"),
    );
    assert_ne!(first.run_id, second.run_id);

    let mut h = History::new(Duration::from_millis(7500));
    h.observe(Duration::ZERO, &first);
    let d = h.observe(Duration::from_secs(15), &second);
    assert!(d.reset);
    let w = m1(&d);
    assert_eq!(w.hit_ratio, Some(475.0 / 1115.0));
    assert_eq!(w.lookups_per_second, Some(1115.0 / 15.0));
    assert_eq!((w.evictions, w.expirations), (Some(5385), Some(200)));
}
