//! `check --explain-misses` against real redis-server processes: a workload of every cause
//! (tests/support/causes.rs) measured within 3 % per cause and per prefix, with the ceiling
//! without evictions, memory sizing saying memory alone will not reach 90 % (cold, expired and
//! deleted misses) and the flags restored; missing flags without `--enable-notifications`
//! named, the server untouched and exit 3; flags already set left alone (text report); Ctrl-C
//! (SIGINT to the child) mid-run restores the previous `notify-keyspace-events`. Memory sizing
//! on a cache-aside Zipf stream into a small `allkeys-lru` cache (checks ended by Ctrl-C once
//! the stream is in): the text's curve and memory for 90 % agree with the JSON and with the
//! exporter's `redis_cache_predicted_hit_ratio` and `redis_cache_memory_needed_bytes` over the
//! same events; under `allkeys-random` nothing is predicted, by the check nor by the exporter.

#[path = "support/cache_aside.rs"]
mod cache_aside;
mod support;
#[path = "support/zipf.rs"]
mod zipf;

use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;
use support::causes::{
    COLD, DELETED, EXPIRED, UNLINKED, cmd, evicting_workload, mixed_workload, within_3_percent,
};
use support::{Exporter, RedisServer, sample, wait_polls};

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

/// Ctrl-C (SIGINT) to a running check; its output once it has reported.
fn interrupt(child: Child) -> Output {
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("send SIGINT");
    assert!(kill.success());
    child.wait_with_output().expect("check output")
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

    // A third of the misses no memory fixes: the ceiling is below 90 %.
    let z = &report["sizing"];
    assert_eq!(z["policy"], "allkeys-lru", "{z:#}");
    assert_eq!(z["maxmemory_bytes"], 4 << 20, "4mb is 4 MiB");
    assert!(z["evictions"].as_f64().unwrap() >= evicted, "{z:#}");
    assert!(z["not_predicted"].is_null(), "{z:#}");
    let unfixable = (COLD + EXPIRED + DELETED + UNLINKED) as f64;
    let share = z["unfixable_share"].as_f64().unwrap();
    within_3_percent(share, unfixable / (unfixable + evicted), "unfixable share");
    let z_ceiling = z["ceiling"].as_f64().unwrap();
    within_3_percent(
        z_ceiling,
        1.0 - unfixable / (hits + total),
        "sizing ceiling",
    );
    assert_eq!(
        z["summary"].as_str().unwrap(),
        format!(
            "memory alone will not reach 90 %: {:.0} % of misses are cold / expired / deleted (at \
             most {:.1} % with any memory)",
            share * 100.0,
            z_ceiling * 100.0
        )
    );
    assert!(z["memory_needed"][0]["bytes"].is_null(), "{z:#}");
    for p in z["predicted"].as_array().unwrap() {
        if let Some(r) = p["hit_ratio"].as_f64() {
            assert!(r <= z_ceiling + 1e-12, "capped by the ceiling: {p}");
        }
    }
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
    // The default server: no maxmemory, noeviction.
    assert!(
        text.contains("Memory sizing (noeviction, maxmemory 0 (no limit); 0 keys evicted):\n"),
        "{text}"
    );
    assert!(
        text.contains("  not predicted under noeviction: noeviction evicts nothing"),
        "{text}"
    );
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
    let out = interrupt(child);
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

/// 25 000 keys of 400 bytes, Zipf 1.0, 300 000 lookups: a 4 MiB cache holds about a quarter
/// of the keys (hit ratio near 0.8) and 90 % lies within 4× its memory (the shape of
/// tests/memory_sizing.rs at half the size).
const STREAM: cache_aside::Stream = cache_aside::Stream {
    keys: 25_000,
    alpha: 1.0,
    lookups: 300_000,
    value_len: 400,
    seed: 17,
};
/// Longer than any stream: the checks are ended by Ctrl-C once the stream is in (their
/// reports then cover the time sampled), so no run depends on how fast the machine is.
const CHECK_SECONDS: &str = "600s";
const MIB: f64 = (1u64 << 20) as f64;

fn sizing_server(policy: &str) -> RedisServer {
    let r = RedisServer::start(&[
        "--maxmemory",
        "4mb",
        "--maxmemory-policy",
        policy,
        // Three subscribers (two checks and the exporter) must not be cut off mid-stream.
        "--client-output-buffer-limit",
        "pubsub 0 0 0",
    ]);
    // Set beforehand: checks that run side by side must not each restore the flags.
    r.cmd(&["CONFIG", "SET", "notify-keyspace-events", "Egxem"]);
    r
}

/// Waits until `n` checks have read their first INFO: nothing else on the server sends INFO
/// yet (the exporter starts after).
fn wait_checks_started(r: &RedisServer, n: usize) {
    support::wait_for("the checks' first INFO", Duration::from_secs(10), || {
        (r.cmd(&["CLIENT", "LIST"]).matches("cmd=info").count() >= n).then_some(())
    });
}

/// The number after `before` in `text`, up to the next space.
fn number_after(text: &str, before: &str) -> f64 {
    let at = text
        .find(before)
        .unwrap_or_else(|| panic!("no {before:?} in\n{text}"))
        + before.len();
    let rest = text[at..].trim_start();
    rest[..rest.find(' ').unwrap_or(rest.len())]
        .parse()
        .unwrap_or_else(|e| panic!("{before:?} not followed by a number ({e}) in\n{text}"))
}

#[test]
fn memory_sizing_agrees_with_the_exporter_and_a_random_policy_predicts_nothing() {
    let lru = sizing_server("allkeys-lru");
    let random = sizing_server("allkeys-random");
    let args = ["--duration", CHECK_SECONDS, "--format"];
    let json_lru = spawn(&lru, &[&args[..], &["json"]].concat());
    let text_lru = spawn(&lru, &[&args[..], &["text"]].concat());
    let json_random = spawn(&random, &[&args[..], &["json"]].concat());
    wait_checks_started(&lru, 2);
    wait_checks_started(&random, 1);

    let mut config = String::from("poll_interval = \"1s\"\n");
    for (name, r) in [("lru", &lru), ("random", &random)] {
        config.push_str(&format!(
            "[[targets]]\nname = \"{name}\"\nurl = \"{}\"\n\
             [targets.miss_attribution]\nenabled = true\nremembered_keys = 200000\n",
            r.url()
        ));
    }
    let e = Exporter::start(&config);
    for t in ["lru", "random"] {
        support::wait_attribution_active(&e, t);
        // The exporter's windows start before the stream, as the checks' period does.
        wait_polls(&e, t, 1.0);
    }
    std::thread::scope(|s| {
        s.spawn(|| cache_aside::run(lru.port, &STREAM));
        s.spawn(|| cache_aside::run(random.port, &STREAM));
    });
    // The exporter's last poll with every miss of the stream attributed; then the checks end.
    let m = support::wait_misses_attributed(&e, "lru");
    let report = json(&interrupt(json_lru));
    assert_eq!(report["interrupted"], true, "{report:#}");
    let text = String::from_utf8_lossy(&interrupt(text_lru).stdout).into_owned();
    let random_report = json(&interrupt(json_random));

    // The JSON: a curve, and the exporter's over the same events (its 5m window holds the
    // whole stream) within 0.01.
    let z = &report["sizing"];
    assert!(z["not_predicted"].is_null(), "{z:#}");
    assert_eq!(z["policy"], "allkeys-lru");
    let mut compared = String::new();
    for p in z["predicted"].as_array().unwrap() {
        let memory = p["memory"].as_str().unwrap();
        let exported = sample(
            &m,
            &format!(
                "redis_cache_predicted_hit_ratio{{target=\"lru\",window=\"5m\",\
                 memory=\"{memory}\"}}"
            ),
        );
        let check = p["hit_ratio"].as_f64();
        compared.push_str(&format!(
            "{memory}: check {check:?}, exporter {exported:?}\n"
        ));
        match (check, exported) {
            (Some(c), Some(x)) => assert!((c - x).abs() <= 0.01, "{compared}"),
            (None, None) => {}
            _ => panic!("one predicts, the other not:\n{compared}"),
        }
    }
    let needed = z["memory_needed"][0]["bytes"].as_f64();
    let exported = sample(
        &m,
        "redis_cache_memory_needed_bytes{target=\"lru\",window=\"5m\",hit_ratio=\"0.9\"}",
    );
    eprint!("{compared}0.9: check {needed:?} bytes, exporter {exported:?}\n{text}");
    let needed = needed.unwrap_or_else(|| panic!("90 % is within reach of this stream: {z:#}"));
    let exported = exported.expect("the exporter's memory needed for 0.9");
    assert!(
        (needed - exported).abs() <= 0.03 * exported,
        "memory needed: check {needed}, exporter {exported}"
    );
    assert!(needed > 4.0 * MIB && needed < 16.0 * MIB, "{needed}");

    // The text (a check over the same period): the curve and the memory for 90 % as the JSON.
    assert!(
        text.contains("Memory sizing (allkeys-lru, maxmemory 4.0 MiB; "),
        "{text}"
    );
    let now = number_after(&text, "hit ratio now");
    assert!(
        (now - 100.0 * z["hit_ratio"].as_f64().unwrap()).abs() <= 0.11,
        "{text}"
    );
    for (p, label) in z["predicted"]
        .as_array()
        .unwrap()
        .iter()
        .zip(["1.5x", "2x", "4x"])
    {
        let line = format!("at {label} (");
        let at = text
            .lines()
            .find(|l| l.trim_start().starts_with(&line))
            .unwrap_or_else(|| panic!("no {line:?} in\n{text}"));
        let shown = number_after(at, "MiB)");
        let json = 100.0 * p["hit_ratio"].as_f64().unwrap();
        assert!((shown - json).abs() <= 0.11, "{at} against {json}");
    }
    let shown = number_after(&text, "  about");
    assert!(
        text.contains(" MiB for 90 % (maxmemory now 4.0 MiB)\n"),
        "{text}"
    );
    assert!(
        (shown - needed / MIB).abs() <= 0.1 + 0.01 * needed / MIB,
        "text {shown} MiB, JSON {needed} bytes"
    );

    // allkeys-random: the check says why, and the exporter exports no prediction.
    let r = &random_report["sizing"];
    assert_eq!(r["not_predicted"]["code"], "policy", "{r:#}");
    let reason = r["not_predicted"]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with(
            "not predicted under allkeys-random: random eviction keeps no recency order"
        ),
        "{reason}"
    );
    assert!(r["evictions"].as_u64().unwrap() > 0, "{r:#}");
    for i in 0..3 {
        assert!(r["predicted"][i]["hit_ratio"].is_null(), "{r:#}");
        assert!(r["memory_needed"][i]["bytes"].is_null(), "{r:#}");
    }
    support::assert_no_prediction(&m, "random");
}
