//! Checks of the shipped alerting files with the real tools: `promtool check rules` and
//! `promtool test rules` on every file, the annotations every alert must carry (read back from
//! a real Prometheus that loaded the rules), the metric names the rules may use, the
//! Alertmanager config (`amtool check-config`, routing, and RedisDown inhibition in a real
//! Alertmanager), and the time-compressed copy used by the end-to-end test and the demo.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use support::markdown::anchors;
use support::prometheus::{
    Alertmanager, Prometheus, PrometheusOptions, WebhookReceiver, fast_copy,
};
use support::{PINNED_METRICS, http_request, require_binary, wait_for};

/// The alert names the rules must define, exactly: the ones pinned in the design notes, and
/// RedisCacheMissesDominatedByCause and RedisEvictionNotKeepingUp (warnings that say why).
const PINNED_ALERTS: [&str; 10] = [
    "RedisDown",
    "RedisCacheHitRateLow",
    "RedisCacheMissesDominatedByCause",
    "RedisCacheEvictions",
    "RedisMemoryPressureHigh",
    "RedisMaxmemoryNotSet",
    "RedisNoEvictionPolicy",
    "RedisKeysCommandUsed",
    "RedisExporterPollFailing",
    "RedisEvictionNotKeepingUp",
];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Files in `dir` whose name ends with `suffix`, sorted; panics if there are none.
fn files_ending(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no *{suffix} files in {}", dir.display());
    files
}

fn rule_files() -> Vec<PathBuf> {
    files_ending(&repo().join("alerts"), ".rules.yml")
}

fn unit_test_files() -> Vec<PathBuf> {
    files_ending(&repo().join("alerts/tests"), ".test.yml")
}

/// Runs a command; returns (success, stdout and stderr together).
fn run(cmd: &mut Command) -> (bool, String) {
    let out = cmd.output().unwrap_or_else(|e| panic!("run {cmd:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The rule groups of every rule file, as loaded and reported by a real Prometheus.
fn loaded_rules() -> Vec<serde_json::Value> {
    let prometheus = Prometheus::start(&PrometheusOptions {
        rule_files: rule_files(),
        ..Default::default()
    });
    let v = prometheus.api("/api/v1/rules");
    let rules: Vec<serde_json::Value> = v["data"]["groups"]
        .as_array()
        .expect("rule groups")
        .iter()
        .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
        .collect();
    assert!(!rules.is_empty(), "prometheus loaded no rules: {v}");
    rules
}

fn alerting_rules(rules: &[serde_json::Value]) -> Vec<&serde_json::Value> {
    rules.iter().filter(|r| r["type"] == "alerting").collect()
}

#[test]
fn promtool_check_rules_passes_on_every_rule_file() {
    let promtool = require_binary("promtool", "prometheus");
    for file in rule_files() {
        let (ok, text) = run(Command::new(&promtool).arg("check").arg("rules").arg(&file));
        assert!(ok, "promtool check rules {}:\n{text}", file.display());
        assert!(text.contains("SUCCESS"), "{text}");
    }
}

#[test]
fn promtool_unit_tests_pass() {
    let promtool = require_binary("promtool", "prometheus");
    for file in unit_test_files() {
        let (ok, text) = run(Command::new(&promtool).arg("test").arg("rules").arg(&file));
        assert!(ok, "promtool test rules {}:\n{text}", file.display());
    }
}

/// Each alert needs a case where it fires (non-empty `exp_alerts`) and one where it must not.
#[test]
fn every_alert_has_a_firing_and_a_silent_unit_test() {
    let mut cases: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for file in unit_test_files() {
        let text = std::fs::read_to_string(&file).expect("read unit test file");
        let mut current: Option<String> = None;
        for line in text.lines() {
            let line = line.trim();
            if let Some(name) = line.strip_prefix("alertname:") {
                current = Some(name.trim().to_string());
            } else if let Some(rest) = line.strip_prefix("exp_alerts:") {
                let name = current
                    .take()
                    .unwrap_or_else(|| panic!("{}: exp_alerts without alertname", file.display()));
                let entry = cases.entry(name).or_default();
                if rest.trim() == "[]" {
                    entry.1 += 1;
                } else {
                    entry.0 += 1;
                }
            }
        }
    }
    for alert in PINNED_ALERTS {
        let (firing, silent) = cases.get(alert).copied().unwrap_or_default();
        assert!(firing > 0, "{alert}: no unit test case where it fires");
        assert!(
            silent > 0,
            "{alert}: no unit test case where it stays silent"
        );
    }
    for name in cases.keys() {
        assert!(
            PINNED_ALERTS.contains(&name.as_str()),
            "unit tests name an unknown alert {name}"
        );
    }
}

#[test]
fn alerts_carry_severity_summary_description_and_runbook() {
    let runbooks =
        std::fs::read_to_string(repo().join("docs/runbooks.md")).expect("read docs/runbooks.md");
    let anchors = anchors(&runbooks);
    let rules = loaded_rules();
    let alerts = alerting_rules(&rules);
    let mut names: Vec<&str> = alerts.iter().filter_map(|a| a["name"].as_str()).collect();
    names.sort_unstable();
    let mut pinned = PINNED_ALERTS.to_vec();
    pinned.sort_unstable();
    assert_eq!(
        names, pinned,
        "the rules must define exactly the pinned alerts"
    );

    for alert in alerts {
        let name = alert["name"].as_str().unwrap_or_default();
        let severity = alert["labels"]["severity"].as_str().unwrap_or_default();
        assert!(
            ["critical", "warning", "info"].contains(&severity),
            "{name}: severity must be critical, warning or info, got {severity:?}"
        );
        let a = &alert["annotations"];
        let summary = a["summary"].as_str().unwrap_or_default();
        assert!(
            summary.ends_with('.') && !summary.contains("{{"),
            "{name}: summary must be static text ending with a period: {summary:?}"
        );
        let description = a["description"].as_str().unwrap_or_default();
        assert!(
            description.contains("{{ $labels.target }}") && description.contains("$value"),
            "{name}: description must name the target and the value: {description:?}"
        );
        let runbook = a["runbook_url"].as_str().unwrap_or_default();
        let anchor = runbook
            .strip_prefix("docs/runbooks.md#")
            .unwrap_or_else(|| panic!("{name}: runbook_url must point into docs/runbooks.md"));
        assert!(
            anchors.iter().any(|a| a == anchor),
            "{name}: docs/runbooks.md has no heading for #{anchor}"
        );
    }
}

#[test]
fn rules_use_pinned_metrics_and_level_metric_operations_names() {
    let rules = loaded_rules();
    let recorded: Vec<String> = rules
        .iter()
        .filter(|r| r["type"] == "recording")
        .map(|r| r["name"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(!recorded.is_empty(), "no recording rules");
    for name in &recorded {
        let parts: Vec<&str> = name.split(':').collect();
        assert!(
            parts.len() == 3 && parts.iter().all(|p| !p.is_empty()),
            "recording rule {name} is not named level:metric:operations"
        );
    }
    for rule in &rules {
        let query = rule["query"].as_str().unwrap_or_default();
        // Every identifier in the query that starts with `redis_` is a metric name.
        let mut rest = query;
        while let Some(i) = rest.find("redis_") {
            let before = rest[..i].chars().last();
            let tail = &rest[i..];
            let len = tail
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(tail.len());
            let ident = &tail[..len];
            let part_of_other_name =
                before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
            if !part_of_other_name && !ident.contains(':') {
                assert!(
                    PINNED_METRICS.contains(&ident),
                    "rule {} uses {ident}, which is not a pinned exporter metric",
                    rule["name"]
                );
            }
            rest = &tail[len..];
        }
    }
}

#[test]
fn alertmanager_config_passes_amtool_and_routes_by_severity() {
    let amtool = require_binary("amtool", "prometheus-alertmanager");
    let config = repo().join("alerts/alertmanager.yml");
    let (ok, text) = run(Command::new(&amtool).arg("check-config").arg(&config));
    assert!(ok, "amtool check-config alerts/alertmanager.yml:\n{text}");
    let rules = loaded_rules();
    let alerts = alerting_rules(&rules);
    assert_eq!(alerts.len(), PINNED_ALERTS.len(), "alerting rules to route");
    for alert in alerts {
        let name = alert["name"].as_str().unwrap_or_default();
        let severity = alert["labels"]["severity"].as_str().unwrap_or_default();
        let expected = if severity == "critical" {
            "cache-pager"
        } else {
            "cache-tickets"
        };
        let out = Command::new(&amtool)
            .args(["config", "routes", "test"])
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("alertname={name}"))
            .arg(format!("severity={severity}"))
            .arg("target=shop")
            .output()
            .expect("run amtool config routes test");
        let receiver = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert_eq!(receiver, expected, "{name} (severity {severity}) routes to");
    }
}

/// The shipped Alertmanager config with its webhook receivers pointed at `hook` and its
/// timings compressed by `alerts/fast.sed`.
fn alertmanager_config_for(hook: &WebhookReceiver) -> String {
    let fast = fast_copy(&repo().join("alerts/alertmanager.yml"));
    assert!(fast.contains("http://127.0.0.1:5001/"), "receiver URLs");
    fast.replace("http://127.0.0.1:5001", &hook.base_url())
}

#[test]
fn redis_down_inhibits_cache_health_alerts_of_the_same_target() {
    let hook = WebhookReceiver::start();
    let am = Alertmanager::start(&alertmanager_config_for(&hook));
    let alert = |name: &str, target: &str, severity: &str| {
        format!(
            r#"{{"labels":{{"alertname":"{name}","target":"{target}","severity":"{severity}"}}}}"#
        )
    };
    let body = format!(
        "[{},{},{},{},{}]",
        alert("RedisDown", "shop", "critical"),
        alert("RedisCacheHitRateLow", "shop", "critical"),
        alert("RedisExporterPollFailing", "shop", "warning"),
        alert("RedisCacheHitRateLow", "other", "critical"),
        alert("RedisCacheEvictions", "other", "warning"),
    );
    let (status, text) =
        http_request(am.port, "POST", "/api/v2/alerts", &body).expect("POST /api/v2/alerts");
    assert_eq!(status, 200, "POST /api/v2/alerts: {text}");

    let delivered = |path: &str, name: &str, target: &str| {
        hook.received()
            .iter()
            .filter(|n| n.path == path)
            .flat_map(support::prometheus::Notification::alerts)
            .any(|(a, t, _)| a == name && t == target)
    };
    wait_for(
        "notifications for RedisDown, and for the other target's alerts",
        Duration::from_secs(20),
        || {
            (delivered("/pager", "RedisDown", "shop")
                && delivered("/pager", "RedisCacheHitRateLow", "other")
                && delivered("/tickets", "RedisCacheEvictions", "other"))
            .then_some(())
        },
    );
    // Give a wrongly routed or uninhibited notification the time to arrive too.
    std::thread::sleep(Duration::from_secs(2));
    for path in ["/pager", "/tickets"] {
        for name in ["RedisCacheHitRateLow", "RedisExporterPollFailing"] {
            assert!(
                !delivered(path, name, "shop"),
                "{name} for a target that is down was sent to {path}: {:?}",
                hook.received()
            );
        }
    }
    let inhibited: Vec<(String, String)> = am
        .alerts()
        .iter()
        .filter(|a| {
            a["status"]["inhibitedBy"]
                .as_array()
                .is_some_and(|v| !v.is_empty())
        })
        .map(|a| {
            (
                a["labels"]["alertname"].as_str().unwrap_or("").to_string(),
                a["labels"]["target"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let mut inhibited = inhibited;
    inhibited.sort();
    assert_eq!(
        inhibited,
        vec![
            ("RedisCacheHitRateLow".to_string(), "shop".to_string()),
            ("RedisExporterPollFailing".to_string(), "shop".to_string()),
        ],
        "alertmanager log:\n{}",
        am.log()
    );
}

/// `line` with every duration unit (`5m`, `5s`) and the warm-up constant made neutral, so a
/// line and its fast copy compare equal when only time changed.
fn without_time_units(line: &str) -> String {
    let line = line
        .replace(
            "redis_uptime_in_seconds > 600",
            "redis_uptime_in_seconds > WARMUP",
        )
        .replace(
            "redis_uptime_in_seconds > 10",
            "redis_uptime_in_seconds > WARMUP",
        );
    let chars: Vec<char> = line.chars().collect();
    let mut out = String::new();
    for (i, c) in chars.iter().enumerate() {
        let after_digit = i > 0 && chars[i - 1].is_ascii_digit();
        let ends_word = chars.get(i + 1).is_none_or(|n| !n.is_ascii_alphanumeric());
        if after_digit && ends_word && (*c == 'm' || *c == 's') {
            out.push('T');
        } else {
            out.push(*c);
        }
    }
    out
}

/// The fast copy changes durations only: same lines, same expressions up to time units,
/// no minutes left, and it still passes promtool and amtool.
#[test]
fn fast_copy_only_shortens_time() {
    let promtool = require_binary("promtool", "prometheus");
    let amtool = require_binary("amtool", "prometheus-alertmanager");
    let dir = tempfile::tempdir().expect("temp dir");
    for file in rule_files() {
        let original = std::fs::read_to_string(&file).expect("read rules");
        let fast = fast_copy(&file);
        assert_ne!(
            fast,
            original,
            "fast.sed changed nothing in {}",
            file.display()
        );
        assert_eq!(original.lines().count(), fast.lines().count());
        for (a, b) in original.lines().zip(fast.lines()) {
            assert_eq!(
                without_time_units(a),
                without_time_units(b),
                "fast.sed changed more than time"
            );
            if !a.trim_start().starts_with('#') {
                assert!(
                    !b.contains("m]") && !b.contains("> 600") && !b.contains("offset 5m"),
                    "minutes left in the fast copy: {b}"
                );
                if b.trim_start().starts_with("for: ") {
                    assert!(b.ends_with('s'), "minutes left in the fast copy: {b}");
                }
            }
        }
        let path = dir.path().join("fast.rules.yml");
        std::fs::write(&path, &fast).expect("write fast rules");
        let (ok, text) = run(Command::new(&promtool).arg("check").arg("rules").arg(&path));
        assert!(ok, "promtool check rules on the fast copy:\n{text}");
    }
    let fast_am = fast_copy(&repo().join("alerts/alertmanager.yml"));
    assert!(fast_am.contains("group_wait: 1s") && fast_am.contains("group_interval: 5s"));
    let path = dir.path().join("alertmanager.yml");
    std::fs::write(&path, &fast_am).expect("write fast alertmanager.yml");
    let (ok, text) = run(Command::new(&amtool).arg("check-config").arg(&path));
    assert!(ok, "amtool check-config on the fast copy:\n{text}");
}

/// The demo (`scripts/demo-alerting.sh`) is run by hand; here it must at least parse, and use
/// the same time compression as the end-to-end test.
#[test]
fn demo_script_parses_and_uses_the_fast_copy() {
    let script = repo().join("scripts/demo-alerting.sh");
    let (ok, text) = run(Command::new("bash").arg("-n").arg(&script));
    assert!(ok, "bash -n scripts/demo-alerting.sh:\n{text}");
    let body = std::fs::read_to_string(&script).expect("read demo script");
    for needed in [
        "sed -E -f alerts/fast.sed alerts/redis-cache-health.rules.yml",
        "sed -E -f alerts/fast.sed alerts/alertmanager.yml",
        "--cluster.listen-address=",
    ] {
        assert!(body.contains(needed), "demo script lacks `{needed}`");
    }
}
