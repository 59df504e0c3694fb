//! `redis-cache-exporter check` against real redis-server processes in five situations: a
//! healthy cache, an evicting one, one with short TTLs, one without maxmemory, and one with keys
//! (and locks) without a TTL; plus an unreachable server. Each test drives traffic during the
//! check's `--duration` and asserts the verdicts, the named causes and the exit status.

mod support;

use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use support::RedisServer;

/// Runs `check URL --duration 3s --format json` while `traffic` runs against the server after
/// the check's first INFO; returns (exit status, report).
fn check_during(server: &RedisServer, extra: &[&str], traffic: impl FnOnce()) -> (i32, Value) {
    let url = server.url();
    let mut args = vec![
        "check".to_string(),
        url,
        "--duration".into(),
        "3s".into(),
        "--format".into(),
        "json".into(),
    ];
    args.extend(extra.iter().map(std::string::ToString::to_string));
    let child = std::thread::spawn(move || {
        Command::new(env!("CARGO_BIN_EXE_redis-cache-exporter"))
            .args(&args)
            .output()
            .expect("run check")
    });
    // Traffic starts once the check has read its first INFO (its connection's last command),
    // so all of it falls within the sampled period.
    support::wait_for("the check's first INFO", Duration::from_secs(10), || {
        server
            .cmd(&["CLIENT", "LIST"])
            .contains("cmd=info")
            .then_some(())
    });
    traffic();
    let out = child.join().expect("check thread");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "check printed no JSON ({e}): {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().expect("exit status"), report)
}

/// The finding of `check` (and `subject`, when given).
fn finding<'a>(report: &'a Value, check: &str, subject: Option<&str>) -> &'a Value {
    report["findings"]
        .as_array()
        .expect("findings array")
        .iter()
        .find(|f| f["check"] == check && subject.is_none_or(|s| f["subject"] == s))
        .unwrap_or_else(|| panic!("no {check} finding in {report:#}"))
}

fn verdict<'a>(report: &'a Value, check: &str) -> &'a str {
    finding(report, check, None)["verdict"]
        .as_str()
        .expect("verdict")
}

fn advice<'a>(report: &'a Value, check: &str) -> &'a str {
    finding(report, check, None)["advice"]
        .as_str()
        .expect("advice")
}

fn cmds(f: impl Fn(usize) -> Vec<String>, n: usize) -> Vec<Vec<String>> {
    (0..n).map(f).collect()
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(std::string::ToString::to_string).collect()
}

/// Keys with a TTL, read back: hits only.
fn fill_with_ttl(r: &RedisServer, n: usize) {
    let errors = r.pipeline(&cmds(
        |i| s(&["SET", &format!("item:{i}"), "value", "EX", "3600"]),
        n,
    ));
    assert_eq!(errors, 0);
}

fn read_back(r: &RedisServer, n: usize) {
    r.pipeline(&cmds(|i| s(&["GET", &format!("item:{i}")]), n));
}

fn all_verdicts_besides(report: &Value, except: &[&str]) -> Vec<String> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| !except.contains(&f["check"].as_str().unwrap()))
        .filter(|f| f["verdict"] != "ok")
        .map(std::string::ToString::to_string)
        .collect()
}

#[test]
fn healthy_cache_is_ok_and_exits_0() {
    let r = RedisServer::start(&["--maxmemory", "100mb", "--maxmemory-policy", "allkeys-lru"]);
    fill_with_ttl(&r, 500);
    let (code, report) = check_during(&r, &[], || {
        read_back(&r, 500);
        r.pipeline(&cmds(|i| s(&["GET", &format!("absent:{i}")]), 20));
    });
    assert_eq!(report["schema"], 1);
    assert_eq!(report["verdict"], "ok", "{report:#}");
    assert_eq!(code, 0);
    let hit = finding(&report, "hit_ratio", None);
    let ratio = hit["value"].as_f64().unwrap();
    assert!((ratio - 500.0 / 520.0).abs() < 1e-9, "{hit}");
    assert_eq!(report["exit_code"], 0);
    assert_eq!(
        finding(&report, "ttl_coverage", Some("db0"))["value"]
            .as_f64()
            .unwrap(),
        1.0
    );
    assert_eq!(verdict(&report, "locks_without_ttl"), "ok");
}

#[test]
fn evicting_cache_is_critical_with_evictions_as_the_cause() {
    let r = RedisServer::start(&["--maxmemory", "3mb", "--maxmemory-policy", "allkeys-lru"]);
    let value = "x".repeat(1000);
    let (code, report) = check_during(&r, &[], || {
        // 6 MB of values into 3 MB: about half are evicted before they are read back.
        r.pipeline(&cmds(
            |i| s(&["SET", &format!("item:{i}"), &value, "EX", "3600"]),
            6000,
        ));
        read_back(&r, 6000);
    });
    assert_eq!(code, 2, "{report:#}");
    assert_eq!(verdict(&report, "hit_ratio"), "critical");
    assert!(
        advice(&report, "hit_ratio").starts_with("Misses follow evictions"),
        "{report:#}"
    );
    assert_eq!(verdict(&report, "evictions"), "critical");
    assert!(
        finding(&report, "evictions", None)["value"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    assert_eq!(verdict(&report, "expirations"), "ok");
}

#[test]
fn short_ttls_are_critical_with_expirations_as_the_cause() {
    let r = RedisServer::start(&["--maxmemory", "100mb", "--maxmemory-policy", "allkeys-lru"]);
    let (code, report) = check_during(&r, &[], || {
        r.pipeline(&cmds(
            |i| s(&["SET", &format!("item:{i}"), "v", "PX", "100"]),
            2000,
        ));
        std::thread::sleep(Duration::from_millis(400));
        read_back(&r, 2000);
    });
    assert_eq!(code, 2, "{report:#}");
    assert_eq!(verdict(&report, "hit_ratio"), "critical");
    assert!(
        advice(&report, "hit_ratio").starts_with("Misses follow expirations"),
        "{report:#}"
    );
    assert_eq!(verdict(&report, "expirations"), "warn");
    assert_eq!(verdict(&report, "evictions"), "ok");
}

#[test]
fn no_maxmemory_is_a_warning_and_exits_1() {
    let r = RedisServer::start(&[]);
    fill_with_ttl(&r, 200);
    let (code, report) = check_during(&r, &[], || read_back(&r, 200));
    assert_eq!(verdict(&report, "memory"), "warn");
    assert!(advice(&report, "memory").contains("maxmemory"));
    assert!(
        all_verdicts_besides(&report, &["memory"]).is_empty(),
        "{report:#}"
    );
    assert_eq!((code, &report["verdict"]), (1, &Value::from("warn")));
}

#[test]
fn keys_without_ttl_locks_and_keys_command_are_named() {
    let r = RedisServer::start(&["--maxmemory", "100mb", "--maxmemory-policy", "allkeys-lru"]);
    fill_with_ttl(&r, 100);
    r.pipeline(&cmds(|i| s(&["SET", &format!("forever:{i}"), "v"]), 100));
    r.cmd(&["SET", "lock:order:42", "worker-1"]);
    r.cmd(&["SET", "lock:order:43", "worker-2", "PX", "600000"]);
    let (code, report) = check_during(&r, &[], || {
        read_back(&r, 100);
        r.cmd(&["KEYS", "forever:*"]);
    });
    let ttl = finding(&report, "ttl_coverage", Some("db0"));
    assert_eq!(ttl["verdict"], "warn", "{report:#}");
    assert!((ttl["value"].as_f64().unwrap() - 101.0 / 202.0).abs() < 1e-9);
    assert!(
        ttl["advice"]
            .as_str()
            .unwrap()
            .contains("101 keys have no TTL")
    );
    let locks = finding(&report, "locks_without_ttl", Some("lock:*"));
    assert_eq!(locks["verdict"], "warn");
    assert_eq!(locks["value"], 1.0);
    assert!(locks["advice"].as_str().unwrap().contains("lock:order:42"));
    assert_eq!(verdict(&report, "keys_command"), "warn");
    assert_eq!(code, 1);

    // The same server without KEYS and with the lock fixed: only the TTL coverage remains.
    r.cmd(&["PEXPIRE", "lock:order:42", "600000"]);
    let (code, report) = check_during(&r, &[], || read_back(&r, 100));
    assert_eq!(verdict(&report, "keys_command"), "ok");
    assert_eq!(verdict(&report, "locks_without_ttl"), "ok");
    assert_eq!(
        all_verdicts_besides(&report, &["ttl_coverage"]),
        Vec::<String>::new()
    );
    assert_eq!(code, 1);
}

#[test]
fn unreachable_server_is_unknown_and_exits_3_in_text_too() {
    let port = support::free_port();
    let out = Command::new(env!("CARGO_BIN_EXE_redis-cache-exporter"))
        .args([
            "check",
            &format!("redis://127.0.0.1:{port}"),
            "--duration",
            "1s",
        ])
        .output()
        .expect("run check");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(
        text.contains("UNKNOWN") && text.contains("connection"),
        "{text}"
    );
}

#[test]
fn text_report_names_each_finding_with_its_verdict() {
    let r = RedisServer::start(&["--maxmemory", "100mb", "--maxmemory-policy", "noeviction"]);
    let out = Command::new(env!("CARGO_BIN_EXE_redis-cache-exporter"))
        .args(["check", &r.url(), "--duration", "1s"])
        .output()
        .expect("run check");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.starts_with(&format!("{}: WARN over ", r.url())),
        "{text}"
    );
    for check in ["hit_ratio", "evictions", "memory", "policy", "keys_command"] {
        assert!(text.contains(check), "{check} missing:\n{text}");
    }
    assert!(
        text.lines()
            .any(|l| l.starts_with("WARN") && l.contains("policy") && l.contains("noeviction")),
        "{text}"
    );
}
