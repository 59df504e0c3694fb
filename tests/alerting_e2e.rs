//! End to end, with real processes: redis-server instances driven by the workload generator
//! (`examples/workload.rs`, compiled into this test), the exporter, Prometheus with the shipped
//! rules, Alertmanager with the shipped routing, and a webhook receiver in this test.
//!
//! Time is compressed: the rules and the Alertmanager config go through `alerts/fast.sed`,
//! which turns every minute into a second (5m windows become 5s, `for: 15m` becomes 15s, the
//! 600 s warm-up 10 s, Alertmanager's 30 s group wait 1 s) and changes nothing else, so the
//! expressions, thresholds and routing under test are the shipped ones. `tests/alerts_rules.rs`
//! checks that the transformation touches time only.
//!
//! The pages of an evicting cache and of a TTL-bound one name their cause: the estimate without
//! miss attribution; with it, the measured cause, its share and the ceiling without it.

mod support;

#[path = "../examples/workload.rs"]
#[allow(dead_code)]
mod workload;

#[path = "support/traffic.rs"]
mod traffic;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Parser;
use support::prometheus::{
    Alertmanager, Notification, Prometheus, PrometheusOptions, WebhookReceiver, fast_copy,
    scrape_job,
};
use support::{Exporter, RedisServer};
use traffic::Traffic;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// An integer field of INFO.
fn int_field(redis: &RedisServer, field: &str) -> u64 {
    redis
        .info_field(field)
        .parse()
        .unwrap_or_else(|e| panic!("INFO {field}: {e}"))
}

/// Redis's own hit ratio: keyspace_hits / (keyspace_hits + keyspace_misses).
fn redis_hit_ratio(redis: &RedisServer) -> f64 {
    let hits = int_field(redis, "keyspace_hits") as f64;
    let misses = int_field(redis, "keyspace_misses") as f64;
    hits / (hits + misses)
}

#[test]
fn workload_generator_drives_the_requested_hit_ratio() {
    let redis = RedisServer::start(&["--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru"]);
    let traffic = Traffic::start(
        &redis.url(),
        &[
            "--hit-ratio",
            "0.7",
            "--rate",
            "500",
            "--keys",
            "500",
            "--ttl",
            "2s",
            "--write-through",
            "0.1",
            "--invalidate",
            "0.05",
            "--keys-every",
            "1s",
        ],
    );
    // About 4 s of traffic, counted by Redis itself: 2000 lookups, a key expired (TTLs of
    // 2 s), and a KEYS call. One INFO every 200 ms or so, to add little load of its own.
    support::wait_for(
        "2000 lookups, an expired key and a KEYS call",
        Duration::from_secs(60),
        || {
            let info = redis.cmd(&["INFO", "everything"]);
            let field = |name: &str| -> u64 {
                info.lines()
                    .find_map(|l| l.strip_prefix(&format!("{name}:")))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or_else(|| panic!("INFO {name} in {info}"))
            };
            let done = field("keyspace_hits") + field("keyspace_misses") >= 2000
                && field("expired_keys") > 0
                && info.contains("cmdstat_keys:calls=");
            if !done {
                std::thread::sleep(Duration::from_millis(150));
            }
            done.then_some(())
        },
    );
    let report = traffic.stop();
    assert!(report.lookups >= 1000, "too few lookups: {report:?}");
    let ratio = redis_hit_ratio(&redis);
    assert!(
        (ratio - 0.7).abs() < 0.02,
        "Redis counted a hit ratio of {ratio}, not 0.7: {report:?}"
    );
    assert_eq!(report.hit_ratio().map(|r| (r * 100.0).round()), Some(70.0));
    assert!(report.writes > 0 && report.invalidations > 0, "{report:?}");
    // Keys were set with TTLs and expired during the run.
    let expired = int_field(&redis, "expired_keys");
    assert!(expired > 0, "no key expired: TTLs not set?");
    let keys_calls = redis.cmd(&["INFO", "commandstats"]);
    assert!(
        keys_calls.contains("cmdstat_keys:calls="),
        "no KEYS call counted: {keys_calls}"
    );

    assert!(workload::Args::try_parse_from(["workload", "--hit-ratio", "1.5"]).is_err());
    assert!(workload::Args::try_parse_from(["workload", "--rate", "0"]).is_err());
}

/// Labels of the RedisCacheHitRateLow alerts in `notifications`, as (path, target, status).
fn hit_rate_notifications(notifications: &[Notification]) -> Vec<(String, String, String)> {
    notifications
        .iter()
        .flat_map(|n| {
            n.alerts()
                .into_iter()
                .filter(|(name, _, _)| name == "RedisCacheHitRateLow")
                .map(|(_, target, status)| (n.path.clone(), target, status))
        })
        .collect()
}

/// Prometheus with the shipped rules (fast copy) scraping `exporter`, Alertmanager with the
/// shipped routing (fast copy), and the webhook receiver its receivers point at.
struct Stack {
    hook: WebhookReceiver,
    am: Alertmanager,
    prometheus: Prometheus,
    /// Holds the fast rules file while Prometheus runs.
    _rules: tempfile::TempDir,
}

impl Stack {
    fn start(exporter: &Exporter) -> Stack {
        let hook = WebhookReceiver::start();
        let am_config = fast_copy(&repo().join("alerts/alertmanager.yml"));
        assert!(am_config.contains("http://127.0.0.1:5001/pager"));
        let am = Alertmanager::start(&am_config.replace("http://127.0.0.1:5001", &hook.base_url()));
        let dir = tempfile::tempdir().expect("temp dir for rules");
        let rules = dir.path().join("redis-cache-health.rules.yml");
        std::fs::write(
            &rules,
            fast_copy(&repo().join("alerts/redis-cache-health.rules.yml")),
        )
        .expect("write fast rules");
        let prometheus = Prometheus::start(&PrometheusOptions {
            scrape_configs: scrape_job("redis-cache-exporter", exporter.port),
            rule_files: vec![rules],
            alertmanager: Some(am.address()),
            ..Default::default()
        });
        Stack {
            hook,
            am,
            prometheus,
            _rules: dir,
        }
    }
}

/// The descriptions of the pages of a cache too small for its keys (`evicting`) and of one
/// whose keys expire before they are read again (`ttl-bound`), each target configured with
/// `table` (empty, or its miss attribution).
fn pages_of_evicting_and_ttl_bound(table: &str) -> (String, String) {
    // 2 MB for 20 000 keys of 1 KB: most planned hits find the key evicted.
    let evicting = RedisServer::start(&["--maxmemory", "2mb", "--maxmemory-policy", "allkeys-lru"]);
    let ttl_bound =
        RedisServer::start(&["--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru"]);
    let exporter = Exporter::start(&format!(
        "poll_interval = \"1s\"\ntimeout = \"500ms\"\n\
         [[targets]]\nname = \"evicting\"\nurl = \"{}\"\n{table}\
         [[targets]]\nname = \"ttl-bound\"\nurl = \"{}\"\n{table}",
        evicting.url(),
        ttl_bound.url()
    ));
    let stack = Stack::start(&exporter);
    let traffic = [
        Traffic::start(
            &evicting.url(),
            &[
                "--hit-ratio",
                "0.95",
                "--rate",
                "300",
                "--keys",
                "20000",
                "--value-size",
                "1000",
                "--ttl",
                "10m",
            ],
        ),
        // Keys live 1 s: the misses are mostly reads of keys that just expired.
        Traffic::start(
            &ttl_bound.url(),
            &[
                "--hit-ratio",
                "0.5",
                "--rate",
                "300",
                "--keys",
                "300",
                "--ttl",
                "1s",
            ],
        ),
    ];
    stack.prometheus.wait_targets_up(Duration::from_secs(20));

    let started = Instant::now();
    let description = |target: &str| -> Option<String> {
        stack
            .hook
            .received()
            .iter()
            .filter(|n| n.path == "/pager")
            .flat_map(|n| n.body["alerts"].as_array().cloned().unwrap_or_default())
            .find(|a| {
                a["labels"]["alertname"] == "RedisCacheHitRateLow"
                    && a["labels"]["target"] == target
            })
            .and_then(|a| a["annotations"]["description"].as_str().map(str::to_string))
    };
    let (evicting_page, ttl_page) = loop {
        if let (Some(e), Some(t)) = (description("evicting"), description("ttl-bound")) {
            break (e, t);
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no page for both caches within 120 s.\nnotifications: {:?}\nalerts: {:?}\n\
             ratios: {:?}\nestimates: {:?}\nalertmanager log:\n{}",
            stack.hook.received(),
            stack.prometheus.alerts(),
            stack
                .prometheus
                .query("target:redis_keyspace_hits_per_lookups:ratio_rate5m"),
            stack
                .prometheus
                .query(r#"redis_cache_miss_cause{window="5m"} == 1"#),
            stack.am.log()
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    assert!(int_field(&evicting, "evicted_keys") > 0);
    assert!(int_field(&ttl_bound, "expired_keys") > 0);
    for t in traffic {
        t.stop();
    }
    (evicting_page, ttl_page)
}

/// Without miss attribution, the page's description says the cause is an estimate and names
/// it: evictions for a cache too small for its keys, expirations for one whose keys outlive
/// their TTL before they are read again.
#[test]
fn a_page_without_attribution_names_the_estimated_cause() {
    let (evicting_page, ttl_page) = pages_of_evicting_and_ttl_bound("");
    let estimate =
        "Attribution is off for this cache, so the cause is an estimate from INFO counters:";
    assert!(
        evicting_page.starts_with("Cache evicting hit ")
            && evicting_page.contains(estimate)
            && evicting_page.ends_with("evictions explain most misses (too little memory)."),
        "evicting: {evicting_page}"
    );
    assert!(
        ttl_page.starts_with("Cache ttl-bound hit ")
            && ttl_page.contains(estimate)
            && ttl_page.ends_with("expirations explain most misses (TTLs too short)."),
        "ttl-bound: {ttl_page}"
    );
}

/// With miss attribution, the page names the measured cause and its share: an evicting cache's
/// description names eviction and the ceiling without it, above 0.9 (its planned misses are 5 %);
/// a TTL-bound cache's names expiry.
#[test]
fn a_page_with_attribution_names_the_measured_cause_and_its_ceiling() {
    let (evicting_page, ttl_page) = pages_of_evicting_and_ttl_bound(
        "[targets.miss_attribution]\nenabled = true\nmanage_notifications = true\n",
    );
    assert!(
        evicting_page.starts_with("Cache evicting hit ")
            && !evicting_page.contains("estimate")
            && evicting_page.contains(
                "of the misses over 5 minutes are keys evicted earlier: give \
                 the cache memory or an LFU policy."
            ),
        "evicting: {evicting_page}"
    );
    let ceiling: f64 = evicting_page
        .split("Without them the hit ratio would reach ")
        .nth(1)
        .and_then(|rest| rest.split('%').next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no ceiling in: {evicting_page}"));
    eprintln!("evicting: {evicting_page}\nttl-bound: {ttl_page}");
    assert!(
        ceiling > 90.0,
        "ceiling without evictions {ceiling} %: {evicting_page}"
    );
    assert!(
        ttl_page.starts_with("Cache ttl-bound hit ")
            && !ttl_page.contains("estimate")
            && ttl_page.contains("keys read after their TTL ran out"),
        "ttl-bound: {ttl_page}"
    );
}

#[test]
fn a_cache_at_70_percent_pages_and_one_at_99_percent_does_not() {
    let t0 = Instant::now();
    let redis_args = ["--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru"];
    let low = RedisServer::start(&redis_args);
    let high = RedisServer::start(&redis_args);
    let store = RedisServer::start(&redis_args);
    let exporter = Exporter::start(&format!(
        r#"poll_interval = "1s"
timeout = "500ms"

[[targets]]
name = "low"
url = "{}"
cache = true

[[targets]]
name = "high"
url = "{}"
cache = true

[[targets]]
name = "store"
url = "{}"
cache = false
"#,
        low.url(),
        high.url(),
        store.url()
    ));

    let Stack {
        hook,
        am,
        prometheus,
        ..
    } = Stack::start(&exporter);

    let traffic: Vec<Traffic> = [(&low, "0.70"), (&high, "0.99"), (&store, "0.70")]
        .iter()
        .map(|(redis, ratio)| {
            Traffic::start(
                &redis.url(),
                &[
                    "--hit-ratio",
                    ratio,
                    "--rate",
                    "200",
                    "--keys",
                    "2000",
                    "--ttl",
                    "10m",
                ],
            )
        })
        .collect();
    prometheus.wait_targets_up(Duration::from_secs(20));

    // Fast rules: 10 s warm-up, 5 s window, 15 s pending, 1 s group wait. Allow for slack.
    let started = Instant::now();
    let mut wrongly_pending = Vec::new();
    let mut watch = |prometheus: &Prometheus| {
        for a in prometheus.alerts() {
            let target = a["labels"]["target"].as_str().unwrap_or("").to_string();
            if a["labels"]["alertname"] == "RedisCacheHitRateLow" && target != "low" {
                wrongly_pending.push(a.clone());
            }
        }
    };
    let paged = loop {
        watch(&prometheus);
        let pages: Vec<_> = hit_rate_notifications(&hook.received())
            .into_iter()
            .filter(|(path, target, status)| {
                path == "/pager" && target == "low" && status == "firing"
            })
            .collect();
        if !pages.is_empty() {
            break started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "no RedisCacheHitRateLow page for the 70% cache within 90 s.\n\
             notifications: {:?}\nprometheus alerts: {:?}\nratios: {:?}\n\
             prometheus log:\n{}\nalertmanager log:\n{}",
            hook.received(),
            prometheus.alerts(),
            prometheus.query("target:redis_keyspace_hits_per_lookups:ratio_rate5m"),
            prometheus.log(),
            am.log()
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    // Redis started after t0; the page needs uptime above 10 s and then 15 s pending.
    let since_t0 = t0.elapsed();
    assert!(
        since_t0 >= Duration::from_secs(25),
        "paged {since_t0:?} after start ({paged:?} after traffic): warm-up or pending not applied"
    );

    // Keep watching: the 99% cache and the data store meet every other condition of the
    // alert, so they had every chance to show up.
    let until = Instant::now() + Duration::from_secs(10);
    while Instant::now() < until {
        watch(&prometheus);
        std::thread::sleep(Duration::from_millis(500));
    }
    let value = |q: &str| -> f64 {
        let r = prometheus.query(q);
        assert_eq!(r.len(), 1, "{q}: {r:?}");
        r[0].1
    };
    let high_ratio = value(r#"target:redis_keyspace_hits_per_lookups:ratio_rate5m{target="high"}"#);
    let low_ratio = value(r#"target:redis_keyspace_hits_per_lookups:ratio_rate5m{target="low"}"#);
    let store_ratio =
        value(r#"target:redis_keyspace_hits_per_lookups:ratio_rate5m{target="store"}"#);
    assert!(high_ratio > 0.97, "the 99% cache shows {high_ratio}");
    assert!(
        (low_ratio - 0.70).abs() < 0.05,
        "the 70% cache shows {low_ratio}"
    );
    assert!(
        (store_ratio - 0.70).abs() < 0.05,
        "the 70% store shows {store_ratio}"
    );
    for target in ["high", "store"] {
        assert!(
            value(&format!(
                r#"target:redis_keyspace_lookups:rate5m{{target="{target}"}}"#
            )) >= 1.0
        );
        assert!(value(&format!(r#"redis_uptime_in_seconds{{target="{target}"}}"#)) > 10.0);
    }
    let wrong: Vec<_> = hit_rate_notifications(&hook.received())
        .into_iter()
        .filter(|(_, target, _)| target != "low")
        .collect();
    assert!(
        wrong.is_empty(),
        "paged for a healthy cache or a data store: {wrong:?}"
    );
    assert!(
        wrongly_pending.is_empty(),
        "RedisCacheHitRateLow pending or firing for a healthy cache or a data store: \
         {wrongly_pending:?}"
    );

    let notification = hook
        .received()
        .into_iter()
        .find(|n| n.path == "/pager")
        .expect("a page");
    let alert = &notification.body["alerts"][0];
    assert_eq!(alert["labels"]["severity"], "critical");
    let description = alert["annotations"]["description"].as_str().unwrap_or("");
    assert!(
        description.starts_with("Cache low hit ") && description.contains('%'),
        "description: {description}"
    );
    assert_eq!(
        alert["annotations"]["runbook_url"],
        "docs/runbooks.md#rediscachehitratelow"
    );

    for t in traffic {
        let report = t.stop();
        assert!(report.lookups > 1000, "{report:?}");
    }
}
