//! Miss attribution under faults, against a real Redis 7.0: the subscriber killed with
//! `CLIENT KILL TYPE pubsub`, disconnected by a tiny `client-output-buffer-limit pubsub`, and a
//! Redis restart. Each time polling goes on (the poll count keeps growing), the disconnect is
//! counted, the subscriber is back within the backoff, and the events lost meanwhile show as
//! coverage below 1 rather than as wrong causes. And 100 000 distinct missed keys leave the
//! remembered set at its bound and the prefix series at top K plus `(other)`.

mod support;

use std::time::Duration;

use support::{Exporter, RedisServer, sample, value, wait_for, wait_polls};

fn cmd(v: &[&str]) -> Vec<String> {
    v.iter().map(std::string::ToString::to_string).collect()
}

/// `n` GETs of keys never stored, named `<prefix>:<i>` from `from`.
fn cold_misses(r: &RedisServer, prefix: &str, from: usize, n: usize) {
    let reads: Vec<Vec<String>> = (from..from + n)
        .map(|i| cmd(&["GET", &format!("{prefix}:{i}")]))
        .collect();
    for chunk in reads.chunks(10_000) {
        assert_eq!(r.pipeline(chunk), 0);
    }
}

fn exporter(r: &RedisServer, extra: &str) -> Exporter {
    Exporter::start(&format!(
        "poll_interval = \"1s\"\ntimeout = \"500ms\"\n[[targets]]\nname = \"t\"\nurl = \"{}\"\n\
         [targets.miss_attribution]\nenabled = true\nmanage_notifications = true\n{extra}",
        r.url()
    ))
}

fn metric(m: &str, name: &str) -> f64 {
    value(m, &format!("{name}{{target=\"t\"}}"))
}

fn cold(m: &str) -> f64 {
    value(
        m,
        "redis_cache_misses_attributed_total{target=\"t\",cause=\"cold\"}",
    )
}

/// Waits until the subscriber is active with at least `disconnects` disconnects counted.
fn wait_resubscribed(e: &Exporter, disconnects: f64) -> String {
    wait_for(
        &format!("resubscribed after {disconnects} disconnects"),
        Duration::from_secs(30),
        || {
            let m = e.metrics();
            let d = sample(
                &m,
                "redis_exporter_keyspace_subscriber_disconnects_total{target=\"t\"}",
            )?;
            let active = sample(&m, "redis_exporter_miss_attribution_active{target=\"t\"}")?;
            (d >= disconnects && active == 1.0).then_some(m)
        },
    )
}

/// Misses sent while nobody listens are lost; those after resubscribing are attributed;
/// polling never paused, and the 1m coverage shows the loss.
fn after_a_fault(e: &Exporter, r: &RedisServer, polls_before: f64, lost: usize) {
    let m = wait_resubscribed(e, 1.0);
    let before = cold(&m);
    cold_misses(r, "after", 0, 1000);
    wait_for(
        "misses after resubscribing",
        Duration::from_secs(20),
        || (cold(&e.metrics()) >= before + 1000.0).then_some(()),
    );
    let m = wait_polls(e, "t", 2.0);
    let polls = metric(&m, "redis_exporter_polls_total");
    assert!(
        polls >= polls_before + 2.0,
        "polling went on: {polls_before} → {polls}"
    );
    let coverage = value(
        &m,
        "redis_cache_miss_attribution_coverage_ratio{target=\"t\",window=\"1m\"}",
    );
    assert!(
        coverage < 0.99,
        "{lost} misses were lost, coverage {coverage}"
    );
    assert!(coverage > 0.0, "coverage {coverage}");
    eprintln!(
        "after the fault: coverage {coverage}, disconnects {}, polls {polls_before} → {polls}",
        metric(&m, "redis_exporter_keyspace_subscriber_disconnects_total")
    );
}

#[test]
fn killed_subscriber_is_counted_and_resubscribed() {
    let r = RedisServer::start(&[]);
    let e = exporter(&r, "");
    let m = wait_resubscribed(&e, 0.0);
    cold_misses(&r, "before", 0, 1000);
    let polls_before = metric(&m, "redis_exporter_polls_total");
    let killed = r.cmd(&["CLIENT", "KILL", "TYPE", "pubsub"]);
    assert_eq!(killed, ":1\r\n", "one subscriber connection");
    // Sent before the first reconnect attempt (0.5 s later): nobody hears their keymiss.
    cold_misses(&r, "lost", 0, 2000);
    after_a_fault(&e, &r, polls_before, 2000);
}

#[test]
fn a_tiny_pubsub_output_buffer_limit_disconnects_and_shows_as_coverage() {
    let r = RedisServer::start(&[]);
    let e = exporter(&r, "");
    let m = wait_resubscribed(&e, 0.0);
    let polls_before = metric(&m, "redis_exporter_polls_total");
    assert!(
        r.cmd(&[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "pubsub 4096 0 0"
        ])
        .starts_with("+OK")
    );
    // One pipeline of 50 000 misses: the events outrun the subscriber's 4 KiB of output
    // buffer and Redis closes it.
    cold_misses(&r, "burst", 0, 50_000);
    wait_for("the disconnect counted", Duration::from_secs(20), || {
        (sample(
            &e.metrics(),
            "redis_exporter_keyspace_subscriber_disconnects_total{target=\"t\"}",
        )? >= 1.0)
            .then_some(())
    });
    // Back to a sane limit, so the next checks are not a race with the limit.
    assert!(
        r.cmd(&[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "pubsub 32mb 8mb 60"
        ])
        .starts_with("+OK")
    );
    after_a_fault(&e, &r, polls_before, 50_000);
}

#[test]
fn a_restart_is_followed_and_the_flags_set_again() {
    let mut r = RedisServer::start(&[]);
    let e = exporter(&r, "");
    let m = wait_resubscribed(&e, 0.0);
    cold_misses(&r, "before", 0, 1000);
    wait_polls(&e, "t", 1.0);
    let polls_before = metric(&m, "redis_exporter_polls_total");
    r.restart();
    // The new server starts without the flags; they are added again on resubscribing.
    let m = wait_resubscribed(&e, 1.0);
    assert!(
        r.cmd(&["CONFIG", "GET", "notify-keyspace-events"])
            .contains('m'),
        "flags set again on the new server"
    );
    let before = cold(&m);
    cold_misses(&r, "after", 0, 1000);
    let m = wait_for("misses after the restart", Duration::from_secs(20), || {
        let m = e.metrics();
        (cold(&m) >= before + 1000.0).then_some(m)
    });
    let polls = metric(&m, "redis_exporter_polls_total");
    assert!(
        polls > polls_before,
        "polling went on: {polls_before} → {polls}"
    );
    support::wait_up(&e, "t", 1.0);
}

/// Resident memory of a process, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("VmRSS in /proc/<pid>/status")
}

#[test]
fn a_hundred_thousand_distinct_missed_keys_stay_within_the_bound() {
    const N: usize = 100_000;
    let r = RedisServer::start(&[]);
    let e = exporter(&r, "remembered_keys = 1000\n");
    wait_resubscribed(&e, 0.0);
    let rss_before = rss_kib(e.proc.pid());
    // 100 000 distinct keys stored then deleted, then read: each is remembered (the ring keeps
    // the last 1 000) and missed; every key has a prefix of its own.
    let mut cmds = Vec::with_capacity(2 * N);
    for i in 0..N {
        cmds.push(cmd(&["SET", &format!("p{i}:k"), "v"]));
        cmds.push(cmd(&["DEL", &format!("p{i}:k")]));
    }
    for chunk in cmds.chunks(20_000) {
        assert_eq!(r.pipeline(chunk), 0);
    }
    let reads: Vec<Vec<String>> = (0..N).map(|i| cmd(&["GET", &format!("p{i}:k")])).collect();
    for chunk in reads.chunks(20_000) {
        assert_eq!(r.pipeline(chunk), 0);
    }
    let m = wait_for("every keymiss classified", Duration::from_secs(30), || {
        let m = e.metrics();
        (sample(
            &m,
            "redis_exporter_keyspace_events_total{target=\"t\",event=\"keymiss\"}",
        )? >= N as f64)
            .then_some(m)
    });
    assert_eq!(
        metric(&m, "redis_exporter_miss_attribution_remembered_keys"),
        1000.0
    );
    assert_eq!(
        metric(
            &m,
            "redis_exporter_miss_attribution_remembered_capacity_keys"
        ),
        1000.0
    );
    // Only the last 1 000 deleted keys are still remembered when read: the rest are cold,
    // honestly, beyond the horizon.
    let deleted = value(
        &m,
        "redis_cache_misses_attributed_total{target=\"t\",cause=\"deleted\"}",
    );
    assert!(deleted <= 1000.0, "{deleted}");
    let prefix_series = m
        .lines()
        .filter(|l| l.starts_with("redis_cache_prefix_misses_total{"))
        .count();
    assert!(
        prefix_series <= 21 * 4,
        "top 20 prefixes and (other), 4 causes each: {prefix_series} series"
    );
    let rss_after = rss_kib(e.proc.pid());
    eprintln!("RSS {rss_before} KiB → {rss_after} KiB over {N} distinct missed keys");
    assert!(
        rss_after < rss_before + 16 * 1024,
        "RSS grew from {rss_before} KiB to {rss_after} KiB"
    );
}
