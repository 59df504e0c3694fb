//! End-to-end tests of the exporter binary against real `redis-server` processes: exact hit
//! ratios, evictions that match Redis's own counter, memory pressure from INFO's figures, counter
//! resets, targets going down and coming back, CONFIG blocked or renamed, one connection per
//! target, and `promtool check metrics` on the real output.

mod support;

use std::time::Duration;

use support::{
    Exporter, RedisServer, assert_900_hits_100_misses, require_binary, sample, value, wait_for,
    wait_polls, wait_up,
};

fn args(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// One target per server, polled every second.
fn config(targets: &[(&str, &RedisServer)]) -> String {
    let mut c = String::from("poll_interval = \"1s\"\ntimeout = \"500ms\"\n");
    for (name, r) in targets {
        c.push_str(&format!(
            "[[targets]]\nname = \"{name}\"\nurl = \"{}\"\n",
            r.url()
        ));
    }
    c
}

#[test]
fn hit_ratio_of_900_hits_and_100_misses_is_exactly_0_9() {
    let r = RedisServer::start(&[]);
    let e = Exporter::start(&config(&[("cache", &r)]));
    wait_up(&e, "cache", 1.0);
    wait_polls(&e, "cache", 1.0);

    assert_eq!(r.pipeline(&support::hits_and_misses(900, 100)), 0);

    let m = wait_polls(&e, "cache", 1.0);
    assert_900_hits_100_misses(&m, "cache");
    assert!(
        value(
            &m,
            "redis_cache_lookups_per_second{target=\"cache\",window=\"1m\"}"
        ) > 0.0
    );
    assert_eq!(
        value(&m, "redis_commands_total{target=\"cache\",cmd=\"get\"}"),
        1000.0
    );
}

#[test]
fn idle_cache_has_no_hit_ratio() {
    let r = RedisServer::start(&[]);
    let e = Exporter::start(&config(&[("idle", &r)]));
    wait_up(&e, "idle", 1.0);
    let m = wait_polls(&e, "idle", 2.0);
    assert!(m.contains("redis_cache_lookups_per_second{target=\"idle\",window=\"1m\"} 0"));
    assert!(!m.contains("redis_cache_hit_ratio{target=\"idle\""), "{m}");
}

#[test]
fn evictions_match_redis_counter_and_pressure_matches_info() {
    let r = RedisServer::start(&["--maxmemory", "2mb", "--maxmemory-policy", "allkeys-lru"]);
    let e = Exporter::start(&config(&[("lru", &r)]));
    wait_up(&e, "lru", 1.0);
    let before = wait_polls(&e, "lru", 1.0);
    let evicted_before = value(&before, "redis_evicted_keys_total{target=\"lru\"}");

    let value_1k = "x".repeat(1024);
    let cmds: Vec<Vec<String>> = (0..6000)
        .map(|i| args(&["SET", &format!("key:{i}"), &value_1k]))
        .collect();
    assert_eq!(r.pipeline(&cmds), 0);
    let evicted_now: f64 = r.info_field("evicted_keys").parse().unwrap();
    assert!(
        evicted_now > 1000.0,
        "the workload must evict (evicted {evicted_now})"
    );

    let m = wait_polls(&e, "lru", 1.0);
    assert_eq!(
        value(&m, "redis_evicted_keys_total{target=\"lru\"}"),
        evicted_now
    );
    for w in ["1m", "5m", "15m"] {
        let delta = value(
            &m,
            &format!("redis_cache_evictions{{target=\"lru\",window=\"{w}\"}}"),
        );
        assert_eq!(delta, evicted_now - evicted_before, "window {w}");
    }

    // Pressure from the same scrape's raw figures, and from INFO read now.
    let used = value(&m, "redis_memory_used_bytes{target=\"lru\"}");
    let not_counted = value(
        &m,
        "redis_mem_not_counted_for_eviction_bytes{target=\"lru\"}",
    );
    let max = value(&m, "redis_memory_max_bytes{target=\"lru\"}");
    assert_eq!(max, 2.0 * 1024.0 * 1024.0);
    let pressure = value(
        &m,
        "redis_memory_pressure_ratio{target=\"lru\",limit=\"maxmemory\"}",
    );
    assert!((pressure - (used - not_counted) / max).abs() < 1e-12);
    let info_used: f64 = r.info_field("used_memory").parse().unwrap();
    let info_nc: f64 = r.info_field("mem_not_counted_for_evict").parse().unwrap();
    let info_pressure = (info_used - info_nc) / max;
    assert!(
        (pressure - info_pressure).abs() < 0.05,
        "exporter {pressure} vs INFO {info_pressure}"
    );
    assert!(m.contains("redis_maxmemory_policy_info{target=\"lru\",policy=\"allkeys-lru\"} 1"));
}

#[test]
fn maxmemory_0_measures_pressure_against_system_memory() {
    let r = RedisServer::start(&[]);
    let e = Exporter::start(&config(&[("nolimit", &r)]));
    let m = wait_up(&e, "nolimit", 1.0);
    assert_eq!(value(&m, "redis_memory_max_bytes{target=\"nolimit\"}"), 0.0);
    let total = value(&m, "redis_total_system_memory_bytes{target=\"nolimit\"}");
    let used = value(&m, "redis_memory_used_bytes{target=\"nolimit\"}");
    let p = value(
        &m,
        "redis_memory_pressure_ratio{target=\"nolimit\",limit=\"system\"}",
    );
    assert!((p - used / total).abs() < 1e-9);
    assert!(!m.contains("limit=\"maxmemory\""));
}

/// Windows must stay within their physical bounds: ratio in [0, 1], counts and rates >= 0 and
/// no larger than what the test itself did. Every window has seen lookups, so each has a ratio.
fn assert_sane(m: &str, target: &str, max_lookups: f64, max_evictions: f64) {
    for w in ["1m", "5m", "15m"] {
        let r = value(
            m,
            &format!("redis_cache_hit_ratio{{target=\"{target}\",window=\"{w}\"}}"),
        );
        assert!((0.0..=1.0).contains(&r), "{w} ratio {r}");
        let lps = value(
            m,
            &format!("redis_cache_lookups_per_second{{target=\"{target}\",window=\"{w}\"}}"),
        );
        let covered = value(
            m,
            &format!("redis_cache_window_seconds{{target=\"{target}\",window=\"{w}\"}}"),
        );
        assert!(
            lps >= 0.0 && lps * covered <= max_lookups + 0.5,
            "{w}: {lps}/s over {covered}s"
        );
        let ev = value(
            m,
            &format!("redis_cache_evictions{{target=\"{target}\",window=\"{w}\"}}"),
        );
        assert!((0.0..=max_evictions).contains(&ev), "{w} evictions {ev}");
    }
}

#[test]
fn resetstat_and_restart_never_give_negative_or_huge_values() {
    let mut r = RedisServer::start(&[]);
    let e = Exporter::start(&config(&[("c", &r)]));
    wait_up(&e, "c", 1.0);
    let load = |r: &RedisServer, hits: usize| {
        let mut cmds = vec![args(&["SET", "k", "v"])];
        cmds.extend((0..hits).map(|_| args(&["GET", "k"])));
        cmds.extend((0..10).map(|_| args(&["GET", "nope"])));
        assert_eq!(r.pipeline(&cmds), 0);
    };
    load(&r, 5000);
    wait_polls(&e, "c", 1.0);

    // CONFIG RESETSTAT: counters drop to zero while the server keeps running.
    r.cmd(&["CONFIG", "RESETSTAT"]);
    load(&r, 90);
    let m = wait_polls(&e, "c", 1.0);
    assert_sane(&m, "c", 5000.0 + 10.0 + 100.0, 0.0);
    assert_eq!(
        value(&m, "redis_exporter_resets_detected_total{target=\"c\"}"),
        1.0
    );
    assert_eq!(value(&m, "redis_keyspace_hits_total{target=\"c\"}"), 90.0);

    // Restart on the same port: new run_id, counters from zero.
    r.restart();
    load(&r, 20);
    let m = wait_for(
        "a poll of the restarted server",
        Duration::from_secs(20),
        || {
            let m = e.metrics();
            (sample(&m, "redis_keyspace_hits_total{target=\"c\"}") == Some(20.0)).then_some(m)
        },
    );
    assert_sane(&m, "c", 5000.0 + 90.0 + 20.0 + 30.0, 0.0);
    assert_eq!(
        value(&m, "redis_exporter_resets_detected_total{target=\"c\"}"),
        2.0
    );
    // The 1m window spans both resets and counts what happened on every side of them.
    let hits_1m = value(&m, "redis_cache_hit_ratio{target=\"c\",window=\"1m\"}");
    assert!(hits_1m > 0.99, "{hits_1m}");
}

#[test]
fn stopped_target_goes_down_alone_and_recovers() {
    let mut a = RedisServer::start(&[]);
    let b = RedisServer::start(&[]);
    let e = Exporter::start(&config(&[("a", &a), ("b", &b)]));
    wait_up(&e, "a", 1.0);
    wait_up(&e, "b", 1.0);

    a.proc.kill();
    let m = wait_up(&e, "a", 0.0);
    assert_eq!(value(&m, "redis_up{target=\"b\"}"), 1.0);
    assert!(
        value(
            &m,
            "redis_exporter_poll_errors_total{target=\"a\",kind=\"connect\"}"
        ) >= 1.0
    );

    // After a few missed polls the value series of `a` disappear; `b` keeps its own.
    let m = wait_for(
        "stale series of a to disappear",
        Duration::from_secs(20),
        || {
            let m = e.metrics();
            (!m.contains("redis_keyspace_hits_total{target=\"a\"}")).then_some(m)
        },
    );
    assert!(m.contains("redis_keyspace_hits_total{target=\"b\"}"));
    assert!(m.contains("redis_up{target=\"a\"} 0"));

    a.restart();
    let m = wait_up(&e, "a", 1.0);
    assert!(m.contains("redis_keyspace_hits_total{target=\"a\"}"));
    assert_eq!(value(&m, "redis_up{target=\"b\"}"), 1.0);
}

#[test]
fn one_persistent_connection_and_a_cheap_poll() {
    let r = RedisServer::start(&[]);
    let e = Exporter::start(&config(&[("c", &r)]));
    wait_up(&e, "c", 1.0);
    wait_polls(&e, "c", 1.0);
    let conns_before: u64 = r.info_field("total_connections_received").parse().unwrap();
    wait_polls(&e, "c", 3.0);
    let conns_after: u64 = r.info_field("total_connections_received").parse().unwrap();
    // The only new connection is the one this test used to read INFO the second time.
    assert_eq!(conns_after - conns_before, 1);
    let stats = r.cmd(&["INFO", "commandstats"]);
    // CONFIG GET is sent once per connection (INFO memory has maxmemory and the policy).
    let config_calls = stats
        .lines()
        .find_map(|l| l.strip_prefix("cmdstat_config|get:calls="))
        .and_then(|v| v.split(',').next())
        .unwrap_or("0");
    assert_eq!(config_calls, "1", "{stats}");
}

#[test]
fn blocked_or_renamed_config_degrades_to_info() {
    let renamed = RedisServer::start(&["--rename-command", "CONFIG", "SECRETCONFIG"]);
    let blocked = RedisServer::start(&["--rename-command", "CONFIG", "", "--maxmemory", "3mb"]);
    let body = format!(
        "poll_interval = \"1s\"\ntimeout = \"500ms\"\n\
         [[targets]]\nname = \"renamed\"\nurl = \"{}\"\nconfig_command = \"SECRETCONFIG\"\n\
         [[targets]]\nname = \"blocked\"\nurl = \"{}\"\n",
        renamed.url(),
        blocked.url()
    );
    let e = Exporter::start(&body);
    wait_up(&e, "renamed", 1.0);
    wait_up(&e, "blocked", 1.0);
    let errors_before: u64 = blocked.info_field("total_error_replies").parse().unwrap();
    let m = wait_polls(&e, "blocked", 3.0);
    let errors_after: u64 = blocked.info_field("total_error_replies").parse().unwrap();
    assert!(
        errors_after - errors_before <= 1,
        "CONFIG is not re-sent every poll"
    );
    assert_eq!(value(&m, "redis_up{target=\"blocked\"}"), 1.0);
    assert_eq!(
        value(&m, "redis_memory_max_bytes{target=\"blocked\"}"),
        3.0 * 1024.0 * 1024.0
    );
    assert!(m.contains("redis_maxmemory_policy_info{target=\"blocked\",policy=\"noeviction\"} 1"));
    let stats = renamed.cmd(&["INFO", "commandstats"]);
    assert!(
        stats.contains("cmdstat_config|get:calls=1,"),
        "renamed CONFIG used: {stats}"
    );
    assert_eq!(value(&m, "redis_up{target=\"renamed\"}"), 1.0);
}

#[test]
fn static_labels_cache_flag_and_instance_info() {
    let r = RedisServer::start(&[]);
    let body = format!(
        "poll_interval = \"1s\"\ntimeout = \"500ms\"\n\
         [[targets]]\nname = \"store\"\nurl = \"{}\"\ncache = false\nlabels = {{ team = \"checkout\", env = \"prod\" }}\n",
        r.url()
    );
    let e = Exporter::start(&body);
    let m = wait_for("store up", Duration::from_secs(20), || {
        let m = e.metrics();
        m.contains("redis_up{target=\"store\",env=\"prod\",team=\"checkout\"} 1")
            .then_some(m)
    });
    assert!(
        m.contains(
            "redis_target_info{target=\"store\",cache=\"false\",env=\"prod\",team=\"checkout\"} 1"
        ),
        "{m}"
    );
    assert!(m.contains("redis_up{target=\"store\",env=\"prod\",team=\"checkout\"} 1"));
    let info = m
        .lines()
        .find(|l| l.starts_with("redis_instance_info{"))
        .expect("instance info");
    assert!(
        info.contains("redis_version=\"7.")
            && info.contains("role=\"master\"")
            && info.contains("server=\"redis\""),
        "{info}"
    );
    // Every series but the exporter-wide ones (build info, reload status) carries the target.
    for line in m.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
        assert!(
            line.contains("target=\"store\"")
                || line.starts_with("redis_exporter_build_info")
                || line.starts_with("redis_exporter_config_last_reload"),
            "{line}"
        );
    }
}

#[test]
fn promtool_accepts_real_output() {
    let promtool = require_binary("promtool", "prometheus");
    let r = RedisServer::start(&["--maxmemory", "8mb", "--maxmemory-policy", "allkeys-lru"]);
    let down = RedisServer::start(&[]);
    let e = Exporter::start(&config(&[("live", &r), ("down", &down)]));
    let cmds: Vec<Vec<String>> = (0..50).map(|i| args(&["GET", &format!("k{i}")])).collect();
    r.pipeline(&cmds);
    drop(down);
    wait_up(&e, "down", 0.0);
    let m = wait_polls(&e, "live", 2.0);
    let out = std::process::Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(m.as_bytes())?;
            c.wait_with_output()
        })
        .expect("run promtool");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && report.trim().is_empty(),
        "promtool check metrics:\n{report}"
    );
}

#[test]
fn gzip_when_asked_and_health_and_status_page() {
    use std::io::{Read, Write};
    let r = RedisServer::start(&[]);
    let e = Exporter::start(&config(&[("c", &r)]));
    wait_up(&e, "c", 1.0);
    let mut s = std::net::TcpStream::connect(("127.0.0.1", e.port)).unwrap();
    s.write_all(
        b"GET /metrics HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    assert!(head.contains("content-encoding: gzip"), "{head}");
    let (status, body) = support::http_get(e.port, "/").unwrap();
    assert_eq!(status, 200);
    assert!(
        body.contains("<td>c</td>") && body.contains(">up<"),
        "{body}"
    );
    let (status, _) = support::http_get(e.port, "/healthz").unwrap();
    assert_eq!(status, 200);
}
