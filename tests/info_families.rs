//! The families dashboards and alerts expect (CPU, replication, persistence, errorstats,
//! latencystats, eviction signals, maxclients, Valkey's version) read from the captured INFO
//! replies in `tests/fixtures/info/` and `../shared/fixtures/info/`; each expected value was
//! read off the file it names.

use redis_cache_exporter::core::info::slow::LATENCY_COMMANDS;
use redis_cache_exporter::core::info::{Sample, parse};

macro_rules! capture {
    ($name:literal) => {
        ($name, include_str!(concat!("fixtures/info/", $name)))
    };
}

const SERVERS: [&str; 4] = ["redis-6.2", "redis-7.0", "redis-8.2", "valkey-9.1"];

const CAPTURES: &[(&str, &str)] = &[
    capture!("redis-6.2-noeviction.txt"),
    capture!("redis-6.2-primary-with-replica.txt"),
    capture!("redis-6.2-replica.txt"),
    capture!("redis-7.0-evicting.txt"),
    capture!("redis-7.0-noeviction.txt"),
    capture!("redis-7.0-primary-with-replica.txt"),
    capture!("redis-7.0-replica.txt"),
    capture!("redis-8.2-noeviction.txt"),
    capture!("redis-8.2-primary-with-replica.txt"),
    capture!("redis-8.2-replica.txt"),
    capture!("valkey-9.1-noeviction.txt"),
    capture!("valkey-9.1-primary-with-replica.txt"),
    capture!("valkey-9.1-replica.txt"),
    (
        "valkey-8.0.1-replica.txt",
        include_str!("../../shared/fixtures/info/valkey-8.0.1-replica.txt"),
    ),
];

fn sample(name: &str) -> Sample {
    let (_, text) = CAPTURES
        .iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("{name} is not in CAPTURES"));
    parse(text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn every_server_reports_cpu_of_the_process_and_of_its_main_thread() {
    for (name, _) in CAPTURES {
        let c = sample(name).cpu;
        for (field, v) in [
            ("sys", c.sys),
            ("user", c.user),
            ("sys_children", c.sys_children),
            ("user_children", c.user_children),
            ("sys_main_thread", c.sys_main_thread),
            ("user_main_thread", c.user_main_thread),
        ] {
            let v = v.unwrap_or_else(|| panic!("{name}: no used_cpu_{field}"));
            assert!((0.0..100.0).contains(&v), "{name}: used_cpu_{field} {v}");
        }
    }
    // used_cpu_sys:0.004139, used_cpu_user_main_thread:0.005075
    let c = sample("redis-8.2-primary-with-replica.txt").cpu;
    assert_eq!(
        (c.sys, c.user_main_thread),
        (Some(0.004_139), Some(0.005_075))
    );
}

#[test]
fn a_master_lists_its_replica_and_the_replica_its_master() {
    for server in SERVERS {
        let primary = sample(&format!("{server}-primary-with-replica.txt"));
        let r = &primary.replication;
        assert_eq!(r.replicas.len(), 1, "{server}");
        let replica = &r.replicas[0];
        assert_eq!(
            (replica.ip.as_str(), replica.state.as_str(), replica.lag),
            ("127.0.0.1", "online", Some(1)),
            "{server}"
        );
        assert!(r.master_repl_offset.unwrap() > 20_000, "{server}");
        assert!(r.master_host.is_none(), "{server}: a master has no master");

        let s = sample(&format!("{server}-replica.txt"));
        let r = &s.replication;
        assert_eq!(r.master_host.as_deref(), Some("127.0.0.1"), "{server}");
        assert!(r.master_port.as_deref().unwrap().parse::<u16>().is_ok());
        assert!(
            (0..=1).contains(&r.master_last_io_seconds_ago.unwrap()),
            "{server}"
        );
        assert_eq!(r.master_sync_in_progress, Some(false), "{server}");
        assert_eq!(r.slave_read_only, Some(true), "{server}");
        // The pair was captured in sync: the replica processed all the master had.
        assert_eq!(r.slave_repl_offset, r.master_repl_offset, "{server}");
        assert!(r.replicas.is_empty(), "{server}");
    }
    // A replica that never reached its master: last I/O -1, as Valkey 8.0.1 wrote it.
    let r = sample("valkey-8.0.1-replica.txt").replication;
    assert_eq!(r.master_last_io_seconds_ago, Some(-1));
    assert_eq!(r.slave_repl_offset, Some(951_212));
}

#[test]
fn an_oom_under_noeviction_is_counted_by_errorstats() {
    for (server, oom) in [
        ("redis-6.2", 83),
        ("redis-7.0", 91),
        ("redis-8.2", 74),
        ("valkey-9.1", 108),
    ] {
        let s = sample(&format!("{server}-noeviction.txt"));
        let slow = s.slow.as_deref().expect("INFO all has the slow sections");
        let errors: Vec<(&str, u64)> = slow.errors.iter().map(|e| (&*e.err, e.count)).collect();
        assert_eq!(errors, vec![("OOM", oom)], "{server}");
        assert_eq!(
            s.maxmemory_policy.as_deref(),
            Some("noeviction"),
            "{server}"
        );
    }
}

#[test]
fn latencystats_come_from_redis_7_and_later_for_cache_commands_only() {
    for (name, _) in CAPTURES {
        let s = sample(name);
        let latency = &s.slow.as_deref().expect("slow sections").latency;
        if name.starts_with("redis-6.2") {
            assert!(latency.is_empty(), "{name}: 6.2 has no latencystats");
            continue;
        }
        for l in latency {
            assert!(
                LATENCY_COMMANDS.contains(&l.cmd.as_str()),
                "{name}: {} is not a cache command",
                l.cmd
            );
            let q: Vec<&str> = l.quantiles.iter().map(|(q, _)| q.as_str()).collect();
            assert_eq!(q, ["0.5", "0.99", "0.999"], "{name}: {}", l.cmd);
        }
    }
    // latency_percentiles_usec_get:p50=1.003,p99=7.007,p99.9=26.111; info, keys and select
    // are left out.
    let s = sample("redis-7.0-evicting.txt");
    let latency = &s.slow.as_deref().unwrap().latency;
    let get = latency.iter().find(|l| l.cmd == "get").expect("get");
    let values: Vec<f64> = get.quantiles.iter().map(|(_, v)| *v).collect();
    assert_eq!(values, [1.003, 7.007, 26.111]);
    assert!(latency.iter().all(|l| l.cmd == "get" || l.cmd == "set"));
}

#[test]
fn eviction_exceeded_time_and_evicted_clients_from_redis_7() {
    // Captured while writes were refused: Redis 7.0 and 8.2 were still over maxmemory (the
    // current spell equals the total), Valkey had just dropped below.
    for (name, total, current) in [
        ("redis-7.0-noeviction.txt", Some(178), Some(178)),
        ("redis-8.2-noeviction.txt", Some(128), Some(128)),
        ("valkey-9.1-noeviction.txt", Some(127), Some(0)),
        ("redis-6.2-noeviction.txt", None, None),
    ] {
        let s = sample(name);
        assert_eq!(s.total_eviction_exceeded_time_ms, total, "{name}");
        assert_eq!(s.current_eviction_exceeded_time_ms, current, "{name}");
        assert_eq!(s.evicted_clients, total.map(|_| 0), "{name}");
    }
}

#[test]
fn maxclients_persistence_and_valkeys_own_version() {
    for (name, _) in CAPTURES {
        let s = sample(name);
        assert_eq!(s.maxclients, Some(10_000), "{name}");
        let p = &s.slow.as_deref().expect("slow sections").persistence;
        assert!(p.rdb_last_save_time.unwrap() > 1_700_000_000, "{name}");
        assert_eq!(p.aof_enabled, Some(false), "{name}");
        assert_eq!(p.rdb_last_bgsave_ok, Some(true), "{name}");
        let want = match name.split('-').nth(1) {
            Some(v) if name.starts_with("valkey-") => Some(if v == "9.1" { "9.1.2" } else { v }),
            _ => None,
        };
        assert_eq!(s.valkey_version.as_deref(), want, "{name}");
        if want.is_some() {
            assert_eq!(s.redis_version.as_deref(), Some("7.2.4"), "{name}");
        }
    }
    // rdb_changes_since_last_save:75, rdb_last_save_time:1796162302
    let p = sample("redis-8.2-primary-with-replica.txt")
        .slow
        .map(|s| s.persistence.clone())
        .unwrap();
    assert_eq!(p.rdb_changes_since_last_save, Some(75));
    assert_eq!(p.rdb_last_save_time, Some(1_796_162_302));
}
