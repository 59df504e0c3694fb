//! The key-prefix sampler against a real redis-server holding 20 000 `user:*` keys with a TTL,
//! 5 000 `sess:*` with a TTL, 3 000 `lock:*` without and 2 000 keys without a prefix: estimated
//! counts within 10 % of the truth, the share without TTL, the TTL buckets, the budget (keys and
//! time per cycle, Redis-side time measured), top-K plus `(other)`, and a hit ratio that the
//! sampler's own `PTTL` lookups do not distort.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use support::{Exporter, RedisServer, sample, wait_for};

const USERS: u64 = 20_000;
const SESSIONS: u64 = 5_000;
const LOCKS: u64 = 3_000;
const PLAIN: u64 = 2_000;

/// Loads the key space with pipelined writes (writes are not keyspace lookups).
fn load(redis: &RedisServer) {
    let mut cmds: Vec<Vec<String>> = Vec::new();
    let s = |v: &[&str]| {
        v.iter()
            .map(std::string::ToString::to_string)
            .collect::<Vec<_>>()
    };
    for i in 0..USERS {
        // Two hours: bucket <1d.
        cmds.push(s(&[
            "PSETEX",
            &format!("user:{i}"),
            "7200000",
            "profile-data-0123456789",
        ]));
    }
    for i in 0..SESSIONS {
        // Thirty minutes: bucket <1h.
        cmds.push(s(&["PSETEX", &format!("sess:{i}"), "1800000", "session"]));
    }
    for i in 0..LOCKS {
        cmds.push(s(&["SET", &format!("lock:{i}"), "owner"]));
    }
    for i in 0..PLAIN {
        cmds.push(s(&["SET", &format!("misc{i}"), "x"]));
    }
    for chunk in cmds.chunks(5000) {
        assert_eq!(redis.pipeline(chunk), 0, "loading keys");
    }
    assert_eq!(
        redis.cmd(&["DBSIZE"]),
        format!(":{}\r\n", USERS + SESSIONS + LOCKS + PLAIN)
    );
}

fn config(redis: &RedisServer, sampler: &str) -> String {
    format!(
        "poll_interval = \"1s\"\n[[targets]]\nname = \"s\"\nurl = \"{}\"\n[targets.sampler]\n\
         enabled = true\n{sampler}",
        redis.url()
    )
}

/// Waits until at least `n` sampler cycles completed; returns that scrape.
fn wait_cycles(e: &Exporter, n: f64) -> String {
    wait_for(
        &format!("{n} sampler cycles"),
        Duration::from_secs(30),
        || {
            let m = e.metrics();
            (sample(&m, "redis_sampler_cycles_total{target=\"s\"}").unwrap_or(0.0) >= n)
                .then_some(m)
        },
    )
}

fn prefix_value(m: &str, metric: &str, prefix: &str) -> f64 {
    sample(m, &format!("{metric}{{target=\"s\",prefix=\"{prefix}\"}}"))
        .unwrap_or_else(|| panic!("no {metric} for prefix {prefix}:\n{m}"))
}

fn prefix_labels(m: &str) -> Vec<String> {
    m.lines()
        .filter(|l| l.starts_with("redis_keyspace_prefix_keys_estimated{"))
        .filter_map(|l| l.split("prefix=\"").nth(1)?.split('"').next())
        .map(str::to_string)
        .collect()
}

#[test]
fn estimates_ttl_shares_and_budget_against_the_truth() {
    let redis = RedisServer::start(&[]);
    load(&redis);
    let e = Exporter::start(&config(
        &redis,
        "interval = \"2s\"\nkeys_per_cycle = 10000\nbatch_size = 500\n\
         max_time_per_cycle = \"1500ms\"\n",
    ));
    // Three cycles: the cursor continues across cycles, so together they walk the key space.
    let m = wait_cycles(&e, 3.0);

    let truth = [
        ("user:*", USERS),
        ("sess:*", SESSIONS),
        ("lock:*", LOCKS),
        ("(none)", PLAIN),
    ];
    for (prefix, n) in truth {
        let est = prefix_value(&m, "redis_keyspace_prefix_keys_estimated", prefix);
        let err = (est - n as f64).abs() / n as f64;
        eprintln!(
            "{prefix}: estimated {est:.0}, truth {n}, error {:.1} %",
            err * 100.0
        );
        assert!(err < 0.10, "{prefix}: estimated {est}, truth {n}");
    }
    assert_eq!(prefix_labels(&m).len(), 4, "exactly the four groups");

    // Share without TTL, and the TTL buckets.
    assert_eq!(
        prefix_value(&m, "redis_keyspace_prefix_no_ttl_ratio", "lock:*"),
        1.0
    );
    assert_eq!(
        prefix_value(&m, "redis_keyspace_prefix_no_ttl_ratio", "(none)"),
        1.0
    );
    assert_eq!(
        prefix_value(&m, "redis_keyspace_prefix_no_ttl_ratio", "user:*"),
        0.0
    );
    assert_eq!(
        prefix_value(&m, "redis_keyspace_prefix_no_ttl_ratio", "sess:*"),
        0.0
    );
    let bucket = |prefix: &str, b: &str| {
        sample(
            &m,
            &format!(
                "redis_keyspace_prefix_ttl_keys{{target=\"s\",prefix=\"{prefix}\",bucket=\"{b}\"}}"
            ),
        )
        .unwrap_or_else(|| panic!("no bucket {b} for {prefix}"))
    };
    let user = prefix_value(&m, "redis_keyspace_prefix_keys_estimated", "user:*");
    assert_eq!(bucket("user:*", "<1d"), user);
    assert_eq!(bucket("user:*", "none"), 0.0);
    assert_eq!(bucket("user:*", "<1h"), 0.0);
    let sess = prefix_value(&m, "redis_keyspace_prefix_keys_estimated", "sess:*");
    assert_eq!(bucket("sess:*", "<1h"), sess);
    let lock = prefix_value(&m, "redis_keyspace_prefix_keys_estimated", "lock:*");
    assert_eq!(bucket("lock:*", "none"), lock);

    // Sampled memory: the average MEMORY USAGE times the estimate, checked against the real
    // size of one such key.
    let one_user: f64 = redis
        .cmd(&["MEMORY", "USAGE", "user:1"])
        .trim_start_matches(':')
        .trim()
        .parse()
        .unwrap();
    let mem = prefix_value(&m, "redis_keyspace_prefix_memory_bytes_estimated", "user:*");
    let per_key = mem / user;
    eprintln!(
        "user:* memory {mem:.0} bytes, {per_key:.1} per key, MEMORY USAGE user:1 = {one_user}"
    );
    assert!(
        (per_key - one_user).abs() <= 16.0,
        "per-key memory {per_key} vs {one_user}"
    );

    // The budget: keys per cycle, time per cycle, and the Redis-side cost, measured.
    let keys = sample(&m, "redis_sampler_last_cycle_keys{target=\"s\"}").unwrap();
    let secs = sample(
        &m,
        "redis_sampler_last_cycle_duration_seconds{target=\"s\"}",
    )
    .unwrap();
    let redis_secs = sample(&m, "redis_sampler_last_cycle_redis_seconds{target=\"s\"}")
        .expect("Redis-side time of the cycle");
    eprintln!(
        "last cycle: {keys} keys in {:.1} ms, Redis-side {:.0} µs ({:.2} µs per key)",
        secs * 1e3,
        redis_secs * 1e6,
        redis_secs * 1e6 / keys
    );
    assert!(keys > 0.0 && keys <= 10_000.0, "keys per cycle {keys}");
    assert!(secs < 1.5 + 0.5, "cycle took {secs} s");
    assert!(
        redis_secs > 0.0 && redis_secs < secs,
        "Redis-side {redis_secs} s"
    );
    assert_eq!(
        sample(&m, "redis_sampler_cycle_errors_total{target=\"s\"}"),
        Some(0.0)
    );
    // The sampler's lookups are counted and exported.
    let own_hits = sample(&m, "redis_sampler_keyspace_hits_total{target=\"s\"}").unwrap();
    assert!(own_hits >= 3.0 * 5_000.0, "sampler hits {own_hits}");
    // SCAN, never KEYS.
    let stats = redis.cmd(&["INFO", "commandstats"]);
    assert!(stats.contains("cmdstat_scan:"), "{stats}");
    assert!(!stats.contains("cmdstat_keys:"), "{stats}");
}

#[test]
fn a_tiny_time_budget_stops_the_cycle_early() {
    let redis = RedisServer::start(&[]);
    load(&redis);
    let e = Exporter::start(&config(
        &redis,
        "interval = \"1s\"\nkeys_per_cycle = 10000\nbatch_size = 100\n\
         max_time_per_cycle = \"1ms\"\npause_between_batches = \"20ms\"\n",
    ));
    let m = wait_cycles(&e, 2.0);
    let keys = sample(&m, "redis_sampler_last_cycle_keys{target=\"s\"}").unwrap();
    let secs = sample(
        &m,
        "redis_sampler_last_cycle_duration_seconds{target=\"s\"}",
    )
    .unwrap();
    eprintln!("time-bound cycle: {keys} keys in {:.1} ms", secs * 1e3);
    // One batch (SCAN COUNT 100 returns about 100 keys) and no second one after the pause.
    assert!(keys > 0.0 && keys < 300.0, "keys {keys}");
    assert!(secs < 0.5, "cycle took {secs} s");
    // A small sample still yields estimates (coarser).
    let total: f64 = ["user:*", "sess:*", "lock:*", "(none)"]
        .iter()
        .filter_map(|p| {
            sample(
                &m,
                &format!("redis_keyspace_prefix_keys_estimated{{target=\"s\",prefix=\"{p}\"}}"),
            )
        })
        .sum();
    assert!(
        (total - 30_000.0).abs() < 1.0,
        "estimates add up to DBSIZE: {total}"
    );
}

#[test]
fn top_k_with_other_bounds_the_prefix_label() {
    let redis = RedisServer::start(&[]);
    load(&redis);
    let e = Exporter::start(&config(
        &redis,
        "interval = \"1s\"\nkeys_per_cycle = 40000\nmax_time_per_cycle = \"900ms\"\ntop_k = 2\n\
         patterns = [\"lock:*\", \"sess:*\"]\n",
    ));
    let m = wait_cycles(&e, 1.0);
    let mut labels = prefix_labels(&m);
    labels.sort();
    // Four groups (lock:* and sess:* by pattern, user:* by separator, (none)), two shown.
    assert_eq!(labels, ["(other)", "sess:*", "user:*"]);
    let other = prefix_value(&m, "redis_keyspace_prefix_keys_estimated", "(other)");
    assert!((other - (LOCKS + PLAIN) as f64).abs() / ((LOCKS + PLAIN) as f64) < 0.1);
    let ttl_series = m
        .lines()
        .filter(|l| l.starts_with("redis_keyspace_prefix_ttl_keys{"))
        .count();
    assert_eq!(ttl_series, 3 * 5, "three prefixes times five buckets");
}

#[test]
fn the_sampler_does_not_distort_the_hit_ratio() {
    let redis = Arc::new(RedisServer::start(&[]));
    load(&redis);
    // An aggressive sampler: the whole key space every second, 30 000 PTTL per second.
    let e = Exporter::start(&config(
        &redis,
        "interval = \"1s\"\nkeys_per_cycle = 40000\nbatch_size = 2000\n\
         pause_between_batches = \"1ms\"\nmax_time_per_cycle = \"900ms\"\n",
    ));
    // The workload: 900 hits and 100 misses per transaction, so every INFO sees whole ones.
    let stop = Arc::new(AtomicBool::new(false));
    let batches = Arc::new(AtomicU64::new(0));
    let worker = {
        let (stop, batches) = (stop.clone(), batches.clone());
        let r = redis.clone();
        std::thread::spawn(move || {
            let mut cmds = vec![vec!["MULTI".to_string()]];
            for i in 0..900 {
                cmds.push(vec!["GET".into(), format!("user:{i}")]);
            }
            for i in 0..100 {
                cmds.push(vec!["GET".into(), format!("absent:{i}")]);
            }
            cmds.push(vec!["EXEC".to_string()]);
            while !stop.load(Ordering::Relaxed) {
                assert_eq!(r.pipeline(&cmds), 0);
                batches.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    let hits0: f64 = redis.info_field("keyspace_hits").parse().unwrap();
    let misses0: f64 = redis.info_field("keyspace_misses").parse().unwrap();
    let start = wait_cycles(&e, 1.0);
    let c0 = sample(&start, "redis_sampler_cycles_total{target=\"s\"}").unwrap();
    let m = wait_cycles(&e, c0 + 4.0);
    stop.store(true, Ordering::Relaxed);
    worker.join().unwrap();
    let hits1: f64 = redis.info_field("keyspace_hits").parse().unwrap();
    let misses1: f64 = redis.info_field("keyspace_misses").parse().unwrap();

    let ratio =
        sample(&m, "redis_cache_hit_ratio{target=\"s\",window=\"1m\"}").expect("a 1m hit ratio");
    let raw = (hits1 - hits0) / (hits1 - hits0 + misses1 - misses0);
    let own = sample(&m, "redis_sampler_keyspace_hits_total{target=\"s\"}").unwrap();
    eprintln!(
        "hit ratio with the sampler running: exported {ratio:.6}; from raw INFO counters {raw:.4} \
         ({} workload transactions, {own} sampler hits)",
        batches.load(Ordering::Relaxed)
    );
    assert!(own > 4.0 * 20_000.0, "the sampler did run: {own} hits");
    assert!((ratio - 0.9).abs() < 1e-9, "exported hit ratio {ratio}");
    assert!(
        raw > 0.93,
        "without the correction the sampler lifts it: {raw}"
    );
    let lookups = sample(
        &m,
        "redis_cache_lookups_per_second{target=\"s\",window=\"1m\"}",
    )
    .unwrap();
    // The workload sends at most 1000 lookups per 50 ms; the sampler alone sends more.
    assert!(
        lookups <= 20_000.0,
        "lookups/s are the workload's only: {lookups}"
    );
}
