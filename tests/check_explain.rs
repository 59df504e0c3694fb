//! `check --explain-misses` against real redis-server processes: a workload of every cause
//! (tests/support/causes.rs) measured within 3 % per cause and per prefix, with the ceiling
//! without evictions and the flags restored; missing flags without `--enable-notifications`
//! named, the server untouched and exit 3; flags already set left alone (text report); Ctrl-C
//! (SIGINT to the child) mid-run restores the previous `notify-keyspace-events`.

mod support;

use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;
use support::RedisServer;
use support::causes::{
    COLD, DELETED, EXPIRED, UNLINKED, cmd, evicting_workload, mixed_workload, within_3_percent,
};

const EXE: &str = env!("CARGO_BIN_EXE_redis-cache-exporter");

fn spawn(r: &RedisServer, extra: &[&str]) -> Child {
    Command::new(EXE)
        .args(["check", "--explain-misses", &r.url()])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run check --explain-misses")
}

/// The server's `notify-keyspace-events`.
fn flags(r: &RedisServer) -> String {
    let reply = r.cmd(&["CONFIG", "GET", "notify-keyspace-events"]);
    // *2 $22 notify-keyspace-events $N value
    reply
        .split("\r\n")
        .nth(4)
        .unwrap_or_else(|| panic!("CONFIG GET reply {reply:?}"))
        .to_string()
}

/// Waits until the check has read its first INFO (its control connection's last command), so
/// the traffic after this falls within the sampled period.
fn wait_first_info(r: &RedisServer) {
    support::wait_for("the check's first INFO", Duration::from_secs(10), || {
        r.cmd(&["CLIENT", "LIST"])
            .contains("cmd=info")
            .then_some(())
    });
}

fn json(out: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON ({e}): {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn cause<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["misses_by_cause"]
        .as_array()
        .expect("misses_by_cause")
        .iter()
        .find(|c| c["cause"] == name)
        .unwrap_or_else(|| panic!("no cause {name} in {report:#}"))
}

#[test]
fn every_cause_is_measured_with_its_action_and_the_flags_are_restored() {
    let r = RedisServer::start(&["--maxmemory", "4mb", "--maxmemory-policy", "allkeys-lru"]);
    let before = flags(&r);
    assert_eq!(before, "", "a fresh server has no notifications");
    let child = spawn(
        &r,
        &[
            "--enable-notifications",
            "--duration",
            "10s",
            "--format",
            "json",
        ],
    );
    wait_first_info(&r);
    let during = flags(&r);
    assert!(
        "Egxem".chars().all(|c| during.contains(c)),
        "flags completed during the check: {during:?}"
    );
    mixed_workload(&r, "");
    let evicted = evicting_workload(&r);
    let out = child.wait_with_output().expect("check output");
    let report = json(&out);
    assert_eq!(flags(&r), before, "notify-keyspace-events restored");
    assert_eq!(report["notifications"]["before"], "");
    assert_eq!(report["notifications"]["added"], "Egxem");
    assert_eq!(report["notifications"]["restored"], true);

    let misses = |c: &str| cause(&report, c)["misses"].as_f64().unwrap();
    within_3_percent(misses("cold"), COLD as f64, "cold");
    within_3_percent(misses("expired"), EXPIRED as f64, "expired");
    within_3_percent(misses("deleted"), (DELETED + UNLINKED) as f64, "deleted");
    within_3_percent(misses("evicted"), evicted, "evicted");
    assert!(
        cause(&report, "evicted")["action"]
            .as_str()
            .unwrap()
            .contains("LFU")
    );
    assert!(
        cause(&report, "expired")["action"]
            .as_str()
            .unwrap()
            .contains("TTL")
    );
    let coverage = report["coverage"].as_f64().unwrap();
    assert!(coverage >= 0.98, "coverage {coverage}");

    // Evictions are most of the misses: the ceiling without them is far above the hit ratio.
    let ceiling = report["ceilings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["without"] == "evictions")
        .unwrap()["hit_ratio"]
        .as_f64()
        .unwrap();
    let total = (COLD + EXPIRED + DELETED + UNLINKED) as f64 + evicted;
    let hits = report["hits"].as_f64().unwrap();
    let expected = (hits + evicted) / (hits + total);
    assert!(
        (ceiling - expected).abs() < 0.03,
        "ceiling without evictions {ceiling}, expected {expected}"
    );

    let prefixes = report["top_prefixes"].as_array().unwrap();
    for (prefix, cause, n) in [
        ("never:*", "cold", COLD as f64),
        ("ttl:*", "expired", EXPIRED as f64),
        ("del:*", "deleted", DELETED as f64),
        ("unl:*", "deleted", UNLINKED as f64),
        ("page:*", "evicted", evicted),
    ] {
        let p = prefixes
            .iter()
            .find(|p| p["prefix"] == prefix)
            .unwrap_or_else(|| panic!("no prefix {prefix} in {prefixes:#?}"));
        assert_eq!(p["cause"], cause, "{p}");
        within_3_percent(p[cause].as_f64().unwrap(), n, prefix);
    }

    // The hit ratio is below 80 %: critical, and the dominant cause (evictions) carries it.
    assert_eq!(report["verdict"], "critical", "{report:#}");
    assert_eq!(out.status.code(), Some(2));
    let dominant = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["check"] == "miss_cause" && f["subject"] == "evicted")
        .unwrap();
    assert_eq!(dominant["verdict"], "critical", "{dominant}");
}

#[test]
fn missing_flags_are_named_and_the_server_is_left_alone() {
    let r = RedisServer::start(&[]);
    r.cmd(&["CONFIG", "SET", "notify-keyspace-events", "Ex"]);
    let before = flags(&r);
    for format in ["text", "json"] {
        let out = spawn(&r, &["--duration", "1s", "--format", format])
            .wait_with_output()
            .unwrap();
        assert_eq!(out.status.code(), Some(3), "unknown without the flags");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains("\\\"gem\\\"") || stdout.contains("\"gem\""),
            "the missing flags named: {stdout}"
        );
        assert!(stdout.contains("--enable-notifications"), "{stdout}");
        assert_eq!(flags(&r), before, "nothing changed");
    }
}

#[test]
fn flags_already_set_are_left_alone_and_the_text_report_names_the_cause() {
    let r = RedisServer::start(&[]);
    r.cmd(&["CONFIG", "SET", "notify-keyspace-events", "KEAm"]);
    let before = flags(&r);
    let child = spawn(&r, &["--duration", "3s"]);
    wait_first_info(&r);
    let reads: Vec<Vec<String>> = (0..500)
        .map(|i| cmd(&["GET", &format!("fresh:{i}")]))
        .collect();
    assert_eq!(r.pipeline(&reads), 0);
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(flags(&r), before);
    assert!(!text.contains("during the check"), "{text}");
    assert!(text.contains("Misses by cause:"), "{text}");
    assert!(
        text.contains("  cold            500 100.0 %  Keys never cached before"),
        "{text}"
    );
    assert!(text.contains("fresh:*"), "{text}");
    assert!(text.contains("mostly cold"), "{text}");
    // Every lookup missed: critical.
    assert_eq!(out.status.code(), Some(2), "{text}");
}

#[test]
fn ctrl_c_mid_run_restores_the_previous_flags() {
    let r = RedisServer::start(&[]);
    r.cmd(&["CONFIG", "SET", "notify-keyspace-events", "Kx"]);
    let before = flags(&r);
    let child = spawn(
        &r,
        &[
            "--enable-notifications",
            "--duration",
            "60s",
            "--format",
            "json",
        ],
    );
    wait_first_info(&r);
    assert_ne!(flags(&r), before, "flags added while the check runs");
    assert_eq!(r.pipeline(&[cmd(&["GET", "gone:1"])]), 0);
    let pid = child.id().to_string();
    let kill = Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("send SIGINT");
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        flags(&r),
        before,
        "notify-keyspace-events restored after Ctrl-C"
    );
    let report = json(&out);
    assert_eq!(report["interrupted"], true);
    assert_eq!(report["notifications"]["restored"], true);
    assert_eq!(cause(&report, "cold")["misses"], 1);
    assert_eq!(out.status.code(), Some(3), "unknown: interrupted");
    assert!(report["duration_seconds"].as_f64().unwrap() < 30.0);
}
