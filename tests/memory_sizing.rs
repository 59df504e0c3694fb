//! Memory sizing end to end, on Redis 7.0 and on Valkey 9.1: a real server at 8 MiB
//! `allkeys-lru` with miss attribution on,
//! a cache-aside Zipf stream into it and, at the same time, the same stream (same seed) into
//! servers of 12, 16 and 32 MiB that the exporter polls as plain targets. The exporter's
//! `redis_cache_predicted_hit_ratio{memory="1.5x"|"2x"|"4x"}` for the small server must be
//! within 0.03 of the hit ratio the exporter measures on the larger ones over the same window,
//! and `redis_cache_memory_needed_bytes{hit_ratio="0.9"}` must fall where the larger servers
//! cross 0.9. Under `allkeys-random` (a policy the gate refuses) nothing is predicted.

#[path = "support/cache_aside.rs"]
mod cache_aside;
mod support;
#[path = "support/zipf.rs"]
mod zipf;

use cache_aside::Stream;
use support::servers::ServerKind;
use support::{Exporter, RedisServer, sample, value, wait_polls};

const MIB: u64 = 1 << 20;
/// 50 000 keys of about 500 bytes with Zipf 1.0: 8 MiB holds about a quarter of them, and a
/// hit ratio of 0.9 lies between 12 and 32 MiB (an LRU simulation of the stream gives 0.83,
/// 0.88, 0.90 and 0.93 at 8, 12, 16 and 32 MiB), so `memory_needed{0.9}` has an answer.
const KEYS: u64 = 50_000;
const ALPHA: f64 = 1.0;
const LOOKUPS: usize = 600_000;
const VALUE_LEN: usize = 400;
const SEED: u64 = 17;
/// The window compared: it covers the whole run (less than 15 minutes of history).
const WINDOW: &str = "15m";

/// The stream every server gets, `lookups` long.
fn stream(alpha: f64, lookups: usize) -> Stream {
    Stream {
        keys: KEYS,
        alpha,
        lookups,
        value_len: VALUE_LEN,
        seed: SEED,
    }
}

fn server(kind: ServerKind, maxmemory: u64, policy: &str) -> RedisServer {
    RedisServer::start_kind(
        kind,
        &[
            "--maxmemory",
            &maxmemory.to_string(),
            "--maxmemory-policy",
            policy,
            // The subscriber must not be cut off mid-stream.
            "--client-output-buffer-limit",
            "pubsub 0 0 0",
        ],
    )
}

fn config(targets: &[(&str, &RedisServer, bool)]) -> String {
    let mut c = String::from("poll_interval = \"1s\"\n");
    for (name, server, attribution) in targets {
        c.push_str(&format!(
            "[[targets]]\nname = \"{name}\"\nurl = \"{}\"\n",
            server.url()
        ));
        if *attribution {
            // Remembering every key: a miss on an evicted key forgotten would count as cold.
            c.push_str(
                "[targets.miss_attribution]\nenabled = true\nmanage_notifications = true\n\
                 remembered_keys = 100000\n",
            );
        }
    }
    c
}

fn series(m: &str, name: &str, target: &str, labels: &str) -> Option<f64> {
    sample(
        m,
        &format!("{name}{{target=\"{target}\",window=\"{WINDOW}\",{labels}}}"),
    )
}

#[test]
fn predicted_hit_ratio_matches_larger_servers_redis_7_0() {
    check(ServerKind::Redis70);
}

#[test]
fn predicted_hit_ratio_matches_larger_servers_valkey_9_1() {
    check(ServerKind::Valkey91);
}

/// Predictions for the small server against the larger ones' real hit ratios, and none under
/// a refused policy, every server of `kind`.
fn check(kind: ServerKind) {
    let small = server(kind, 8 * MIB, "allkeys-lru");
    let larger: Vec<(&str, u64, RedisServer)> = [("m12", 12), ("m16", 16), ("m32", 32)]
        .into_iter()
        .map(|(n, mib)| (n, mib * MIB, server(kind, mib * MIB, "allkeys-lru")))
        .collect();
    let random = server(kind, 8 * MIB, "allkeys-random");
    let mut targets = vec![("small", &small, true), ("random", &random, true)];
    targets.extend(larger.iter().map(|(n, _, s)| (*n, s, false)));
    let e = Exporter::start(&config(&targets));
    for t in ["small", "random"] {
        support::wait_attribution_active(&e, t);
    }

    std::thread::scope(|s| {
        for port in std::iter::once(small.port).chain(larger.iter().map(|l| l.2.port)) {
            s.spawn(move || cache_aside::run(port, &stream(ALPHA, LOOKUPS)));
        }
        s.spawn(|| cache_aside::run(random.port, &stream(ALPHA, LOOKUPS / 4)));
    });
    // Two polls after the last lookup, so every window holds the whole stream; then until the
    // subscriber has caught up with the stream's misses, and one more poll.
    wait_polls(&e, "small", 2.0);
    let m = support::wait_misses_attributed(&e, "small");

    let ratio = |t: &str| {
        value(
            &m,
            &format!("redis_cache_hit_ratio{{target=\"{t}\",window=\"{WINDOW}\"}}"),
        )
    };
    let current = ratio("small");
    let mut report = format!("{kind}, 8 MiB: real {current:.4}\n");
    let mut failures = Vec::new();
    let mut real_at = vec![(8 * MIB, current)];
    for ((name, bytes, _), memory) in larger.iter().zip(["1.5x", "2x", "4x"]) {
        let real = ratio(name);
        real_at.push((*bytes, real));
        let predicted = series(
            &m,
            "redis_cache_predicted_hit_ratio",
            "small",
            &format!("memory=\"{memory}\""),
        );
        report.push_str(&format!(
            "{memory} ({} MiB): real {real:.4}, predicted {predicted:?}\n",
            bytes / MIB
        ));
        match predicted {
            Some(p) if (p - real).abs() <= 0.03 => {}
            other => failures.push(format!("{memory}: predicted {other:?}, real {real:.4}")),
        }
    }
    let needed = series(
        &m,
        "redis_cache_memory_needed_bytes",
        "small",
        "hit_ratio=\"0.9\"",
    );
    report.push_str(&format!("memory needed for 0.9: {needed:?} bytes\n"));
    eprint!("{report}");
    assert!(failures.is_empty(), "{}\n{report}", failures.join("\n"));

    // The sizes tried bracket 0.9; the answer lies between them, within 15 %.
    let below = real_at
        .iter()
        .filter(|(_, r)| *r < 0.9)
        .map(|(b, _)| *b)
        .max();
    let above = real_at
        .iter()
        .filter(|(_, r)| *r >= 0.9)
        .map(|(b, _)| *b)
        .min();
    let (Some(below), Some(above)) = (below, above) else {
        panic!("the workload no longer brackets 0.9 between 8 and 32 MiB:\n{report}");
    };
    let needed = needed.unwrap_or_else(|| panic!("no memory_needed for 0.9:\n{report}"));
    assert!(
        needed >= below as f64 * 0.85 && needed <= above as f64 * 1.15,
        "memory needed {needed} outside {below}..{above} (15 %):\n{report}"
    );

    // Under allkeys-random: the model runs (its own figures exported), nothing is predicted.
    let evicted = value(&m, "redis_evicted_keys_total{target=\"random\"}");
    assert!(evicted > 0.0, "the random server evicted nothing");
    assert!(
        sample(&m, "redis_exporter_ghost_sampling_ratio{target=\"random\"}").is_some(),
        "the model's figures are exported under any policy"
    );
    support::assert_no_prediction(&m, "random");
}
