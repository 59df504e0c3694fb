//! The Grafana dashboards in `dashboards/`: their conventions (fixed uids, variables, a data
//! source, unit, description and query on every panel, pinned metric names only, rates over
//! `$__rate_interval`, hit ratios as sums), their provisioning files and docs, that the committed
//! JSON is what `dashboards/generate.py` writes, and that every panel query, with its variables
//! substituted, returns data from a real Prometheus scraping the exporter while it polls real
//! redis-server instances under load (one healthy, one evicting with miss attribution and a
//! workload of every miss cause, one unreachable).

mod support;

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use support::prometheus::{Prometheus, PrometheusOptions, scrape_job, url_encode};
use support::{Exporter, PINNED_METRICS, RedisServer, free_port, http_get};

const OVERVIEW: &str = "redis-cache-health-overview.json";
const INSTANCE: &str = "redis-cache-health-instance.json";
const DASHBOARDS: [&str; 2] = [OVERVIEW, INSTANCE];

/// Label names that start like a metric name (they appear in `by (...)` clauses).
const REDIS_PREFIXED_LABELS: &[&str] = &["redis_version"];

const UNITS: &[&str] = &["percentunit", "bytes", "ops", "s", "short", "none"];

fn repo_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(repo_path(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
}

fn load(name: &str) -> Value {
    let text = read(&format!("dashboards/{name}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name} is not valid JSON: {e}"))
}

/// Every panel of a dashboard, rows included, with the panels nested in collapsed rows.
fn all_panels(dash: &Value) -> Vec<&Value> {
    fn walk<'a>(list: &'a Value, out: &mut Vec<&'a Value>) {
        for p in list.as_array().into_iter().flatten() {
            out.push(p);
            if let Some(nested) = p.get("panels") {
                walk(nested, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(&dash["panels"], &mut out);
    out
}

/// Panels that show data (everything except rows).
fn data_panels(dash: &Value) -> Vec<&Value> {
    all_panels(dash)
        .into_iter()
        .filter(|p| p["type"] != "row")
        .collect()
}

fn title(p: &Value) -> &str {
    p["title"].as_str().unwrap_or("<untitled>")
}

fn exprs(p: &Value) -> Vec<(&str, &str)> {
    p["targets"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            (
                t["refId"].as_str().unwrap_or(""),
                t["expr"].as_str().unwrap_or(""),
            )
        })
        .collect()
}

fn panel<'a>(dash: &'a Value, name: &str) -> &'a Value {
    data_panels(dash)
        .into_iter()
        .find(|p| title(p) == name)
        .unwrap_or_else(|| panic!("no panel titled {name:?}"))
}

fn variable<'a>(dash: &'a Value, name: &str) -> &'a Value {
    dash["templating"]["list"]
        .as_array()
        .expect("templating.list")
        .iter()
        .find(|v| v["name"] == name)
        .unwrap_or_else(|| panic!("{}: no variable {name}", dash["uid"]))
}

/// Threshold step values of a thresholds object.
fn steps(thresholds: &Value) -> Vec<f64> {
    thresholds["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["value"].as_f64())
        .collect()
}

fn is_hit_ratio(expr: &str) -> bool {
    expr.contains("redis_keyspace_hits_total") && expr.contains('/')
}

/// The unit an expression's result must be shown in, where that follows from the metric.
fn expected_unit(expr: &str) -> Option<&'static str> {
    if expr.contains("== bool") {
        None // a 0/1 flag, shown through value mappings
    } else if is_hit_ratio(expr)
        || expr.contains("redis_memory_pressure_ratio")
        || (expr.contains("redis_db_keys_expiring") && expr.contains('/'))
    {
        Some("percentunit")
    } else if expr.contains("_bytes{") {
        Some("bytes")
    } else if expr.contains("_seconds{") || expr.contains("_seconds_total{") {
        Some("s")
    } else if expr.contains("rate(") {
        Some("ops")
    } else {
        None
    }
}

/// A token of a PromQL expression that matters for the lint below.
#[derive(Debug, PartialEq)]
enum Tok<'a> {
    /// An identifier and the next non-blank character after it.
    Ident(&'a str, Option<char>),
    /// The text between `{` and `}`.
    Selector(&'a str),
    /// The text between `[` and `]`.
    Range(&'a str),
}

/// Splits just enough PromQL to find metric names, label selectors and range durations;
/// string literals are skipped so label values are never taken for names.
fn tokens(expr: &str) -> Vec<Tok<'_>> {
    let b = expr.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i] as char;
        if c == '"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
        } else if c == '{' || c == '[' {
            let close = if c == '{' { '}' } else { ']' };
            let end = expr[i..]
                .find(close)
                .map_or_else(|| panic!("unclosed {c} in {expr}"), |e| e + i);
            let inner = &expr[i + 1..end];
            out.push(if c == '{' {
                Tok::Selector(inner)
            } else {
                Tok::Range(inner)
            });
            i = end + 1;
        } else if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b':') {
                i += 1;
            }
            let next = expr[i..].chars().find(|c| !c.is_whitespace());
            out.push(Tok::Ident(&expr[start..i], next));
        } else {
            i += 1;
        }
    }
    out
}

/// Problems with one panel query, as readable strings (empty when it is fine).
fn lint_expr(expr: &str) -> Vec<String> {
    let mut bad = Vec::new();
    let toks = tokens(expr);
    for (i, t) in toks.iter().enumerate() {
        match t {
            Tok::Ident(name, Some('{')) => {
                // Prometheus's own ALERTS series feeds the firing-alerts panel.
                if !PINNED_METRICS.contains(name) && *name != "ALERTS" {
                    bad.push(format!("{name} is not a pinned metric"));
                }
                let Some(Tok::Selector(matchers)) = toks.get(i + 1) else {
                    bad.push(format!("{name} has no selector"));
                    continue;
                };
                if !matchers.contains(r#"target=~"$target""#) {
                    bad.push(format!("{name}{{{matchers}}} is not filtered by $target"));
                }
                if *name != "ALERTS" && !matchers.contains(r#"job=~"$job""#) {
                    bad.push(format!("{name}{{{matchers}}} is not filtered by $job"));
                }
            }
            Tok::Ident(name, _)
                if name.starts_with("redis_") && !REDIS_PREFIXED_LABELS.contains(name) =>
            {
                bad.push(format!("{name} is selected without a label filter"));
            }
            Tok::Range(r) if *r != "$__rate_interval" => {
                bad.push(format!("range [{r}] is not [$__rate_interval]"));
            }
            _ => {}
        }
    }
    if toks
        .iter()
        .any(|t| matches!(t, Tok::Ident("avg" | "avg_over_time", _)))
    {
        bad.push("averages ratios; sum counts before dividing".into());
    }
    bad
}

#[test]
fn promql_lint_catches_what_it_is_meant_to() {
    let clean = concat!(
        r#"sum(rate(redis_keyspace_hits_total{job=~"$job", target=~"$target"}"#,
        "[$__rate_interval]))"
    );
    assert!(lint_expr(clean).is_empty());
    let problems = |e: &str| lint_expr(e).join("; ");
    assert!(
        problems(r#"redis_hits_total{job=~"$job", target=~"$target"}"#)
            .contains("not a pinned metric")
    );
    assert!(problems(r#"redis_up{job=~"$job"}"#).contains("$target"));
    assert!(problems(r#"redis_up{target=~"$target"}"#).contains("$job"));
    assert!(problems("redis_up").contains("without a label filter"));
    assert!(
        problems(r#"rate(redis_evicted_keys_total{job=~"$job", target=~"$target"}[5m])"#)
            .contains("[5m]")
    );
    assert!(
        problems(r#"avg(redis_cache_hit_ratio{job=~"$job", target=~"$target", window="5m"})"#)
            .contains("sum counts")
    );
    assert!(
        lint_expr(r#"max(redis_db_avg_ttl_seconds{job=~"$job", target=~"$target"})"#).is_empty()
    );
    // Label values and `by` labels are not metric names.
    let by_labels = concat!(
        "max by (target, redis_version) ",
        r#"(redis_instance_info{job=~"$job", target=~"$target", role="redis_x"})"#
    );
    assert!(lint_expr(by_labels).is_empty());
    assert!(lint_expr(r#"ALERTS{alertname=~"Redis.*", target=~"$target"}"#).is_empty());
}

#[test]
fn committed_json_is_what_the_generator_writes() {
    let out = Command::new("python3")
        .arg(repo_path("dashboards/generate.py"))
        .arg("--check")
        .output()
        .unwrap_or_else(|e| panic!("run python3 (apt-get install python3): {e}"));
    assert!(
        out.status.success(),
        "dashboards/*.json differ from dashboards/generate.py's output: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn dashboards_follow_the_grafana_conventions() {
    let mut uids = BTreeSet::new();
    for name in DASHBOARDS {
        let text = read(&format!("dashboards/{name}"));
        let d = load(name);
        let uid = d["uid"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: no uid"));
        assert!(!uid.is_empty() && uid.len() <= 40, "{name}: uid {uid:?}");
        assert!(uids.insert(uid.to_string()), "{name}: uid {uid} used twice");
        assert!(
            d["schemaVersion"].as_u64().unwrap_or(0) >= 39,
            "{name}: schemaVersion"
        );
        assert_eq!(d["editable"], false, "{name}: must not be editable");
        assert!(
            d.get("__inputs").is_none() && !text.contains("${DS_"),
            "{name}: import-only data source inputs break file provisioning"
        );
        assert!(d["title"].as_str().is_some_and(|t| !t.is_empty()));

        let ds = variable(&d, "datasource");
        assert_eq!(ds["type"], "datasource", "{name}: datasource variable");
        assert_eq!(ds["query"], "prometheus", "{name}: datasource variable");
        for (var, def) in [
            ("job", "label_values(redis_up, job)"),
            ("target", r#"label_values(redis_up{job=~"$job"}, target)"#),
        ] {
            let v = variable(&d, var);
            assert_eq!(v["type"], "query", "{name}: ${var}");
            assert_eq!(v["datasource"]["uid"], "${datasource}", "{name}: ${var}");
            assert_eq!(v["definition"], def, "{name}: ${var}");
            assert_eq!(v["query"]["query"], def, "{name}: ${var}");
            assert_eq!(v["multi"], true, "{name}: ${var} multi-value");
            assert_eq!(v["includeAll"], true, "{name}: ${var} All");
        }

        let mut ids = BTreeSet::new();
        let panels = all_panels(&d);
        assert!(!panels.is_empty(), "{name}: no panels");
        for p in panels {
            let t = title(p);
            assert!(
                ids.insert(p["id"].as_u64().expect("panel id")),
                "{name}: {t}: id"
            );
            let g = &p["gridPos"];
            let (x, w) = (g["x"].as_u64().unwrap(), g["w"].as_u64().unwrap());
            assert!(
                x + w <= 24 && g["h"].as_u64().unwrap() > 0,
                "{name}: {t}: gridPos"
            );
        }
    }
}

#[test]
fn every_panel_has_a_datasource_unit_description_and_query() {
    for name in DASHBOARDS {
        let d = load(name);
        let panels = data_panels(&d);
        assert!(panels.len() >= 8, "{name}: only {} panels", panels.len());
        // The unit and 90 % checks below only apply to some queries: each must meet some.
        let (mut units_checked, mut hit_ratio_panels) = (0, 0);
        for p in panels {
            let t = title(p);
            let at = format!("{name}: panel {t:?}");
            assert_eq!(p["datasource"]["type"], "prometheus", "{at}: datasource");
            assert_eq!(p["datasource"]["uid"], "${datasource}", "{at}: datasource");
            let unit = p["fieldConfig"]["defaults"]["unit"].as_str().unwrap_or("");
            assert!(UNITS.contains(&unit), "{at}: unit {unit:?}");
            let desc = p["description"].as_str().unwrap_or("");
            assert!(
                desc.len() >= 80,
                "{at}: description too short to say what to do"
            );
            let targets = p["targets"].as_array().expect("targets");
            assert!(!targets.is_empty(), "{at}: no query");
            for q in targets {
                assert_eq!(
                    q["datasource"]["uid"], "${datasource}",
                    "{at}: query datasource"
                );
                let expr = q["expr"].as_str().unwrap_or("");
                assert!(!expr.trim().is_empty(), "{at}: empty expr");
                let bad = lint_expr(expr);
                assert!(bad.is_empty(), "{at}: {}\n{expr}", bad.join("; "));
            }
            if p["type"] != "table" {
                for (r, e) in exprs(p) {
                    if let Some(want) = expected_unit(e) {
                        assert_eq!(unit, want, "{at}: query {r} needs unit {want}");
                        units_checked += 1;
                    }
                }
            }
            // The 90 % hit-rate goal is drawn wherever a hit ratio is shown.
            if p["type"] != "table" && exprs(p).iter().any(|(_, e)| is_hit_ratio(e)) {
                hit_ratio_panels += 1;
                let defaults = &p["fieldConfig"]["defaults"];
                assert!(
                    steps(&defaults["thresholds"]).contains(&0.9),
                    "{at}: 0.90 step"
                );
                if p["type"] == "timeseries" {
                    let mode = &defaults["custom"]["thresholdsStyle"]["mode"];
                    assert_ne!(mode, "off", "{at}: threshold line");
                }
            }
        }
        assert!(
            units_checked > 0,
            "{name}: no query with a unit that follows from it"
        );
        assert!(hit_ratio_panels > 0, "{name}: no panel shows a hit ratio");
    }
}

/// The field override properties of a table column, by its display name.
fn column<'a>(p: &'a Value, name: &str) -> BTreeMap<&'a str, &'a Value> {
    p["fieldConfig"]["overrides"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|o| o["matcher"]["id"] == "byName" && o["matcher"]["options"] == name)
        .flat_map(|o| o["properties"].as_array().into_iter().flatten())
        .map(|prop| (prop["id"].as_str().unwrap(), &prop["value"]))
        .collect()
}

#[test]
fn overview_has_the_target_table_alerts_and_fleet_ratio() {
    let d = load(OVERVIEW);
    let instance_uid = load(INSTANCE)["uid"].as_str().unwrap().to_string();

    let table = panel(&d, "Targets, worst hit ratio first");
    assert_eq!(table["type"], "table");
    let queries = table["targets"].as_array().unwrap();
    assert!(!queries.is_empty(), "table: no query");
    for q in queries {
        assert_eq!(q["instant"], true, "table queries are instant");
        assert_eq!(q["format"], "table", "table queries use table format");
    }
    let transforms = table["transformations"].as_array().unwrap();
    let by_id = |id: &str| {
        transforms
            .iter()
            .find(|t| t["id"] == id)
            .unwrap_or_else(|| panic!("table: no {id} transformation"))
    };
    by_id("merge");
    let rename = by_id("organize")["options"]["renameByName"]
        .as_object()
        .unwrap();
    let columns: BTreeSet<&str> = rename.values().filter_map(|v| v.as_str()).collect();
    for want in [
        "Target",
        "Hit ratio",
        "Lookups/s",
        "Evictions/s",
        "Memory pressure",
        "Maxmemory policy",
        "No maxmemory",
        "noeviction on cache",
        "Up",
    ] {
        assert!(columns.contains(want), "table: no column {want}");
    }
    // Each renamed value column shows its query's unit.
    let mut with_unit = Vec::new();
    for (r, e) in exprs(table) {
        if let (Some(want), Some(col)) = (
            expected_unit(e),
            rename.get(&format!("Value #{r}")).and_then(|v| v.as_str()),
        ) {
            assert_eq!(
                column(table, col).get("unit"),
                Some(&&Value::from(want)),
                "{col}"
            );
            with_unit.push(col);
        }
    }
    with_unit.sort_unstable();
    assert_eq!(
        with_unit,
        ["Evictions/s", "Hit ratio", "Lookups/s", "Memory pressure"],
        "the columns whose unit follows from their query"
    );
    let sort = &by_id("sortBy")["options"]["sort"][0];
    assert_eq!(sort["field"], "Hit ratio");
    assert_eq!(sort["desc"], false, "worst hit ratio first");
    assert_eq!(table["options"]["sortBy"][0]["displayName"], "Hit ratio");
    assert_eq!(table["options"]["sortBy"][0]["desc"], false);

    let hit = column(table, "Hit ratio");
    assert!(
        steps(hit["thresholds"]).contains(&0.9),
        "hit ratio coloured vs 0.90"
    );
    assert_eq!(hit["custom.cellOptions"]["type"], "color-background");

    let links = column(table, "Target")["links"].as_array().unwrap();
    let url = links[0]["url"].as_str().unwrap();
    assert!(url.starts_with(&format!("/d/{instance_uid}/")), "{url}");
    assert!(url.contains("var-target=${__value.raw}"), "{url}");
    assert!(url.contains("${job:queryparam}") && url.contains("${datasource:queryparam}"));

    let alerts = panel(&d, "Firing alerts");
    assert!(
        exprs(alerts)[0]
            .1
            .starts_with(r#"ALERTS{alertname=~"Redis.*""#)
    );

    let fleet = exprs(panel(&d, "Fleet hit ratio"))[0].1;
    assert!(
        fleet.starts_with("sum((sum by (target) (rate(redis_keyspace_hits_total")
            && fleet.contains("sum((sum by (target) (rate(redis_keyspace_misses_total")
            && fleet.contains("rate(redis_sampler_keyspace_hits_total")
            && fleet.contains("rate(redis_sampler_keyspace_misses_total"),
        "fleet ratio must be sum(hits) / (sum(hits) + sum(misses)), the sampler's lookups \
         subtracted per target: {fleet}"
    );

    let dash_links = d["links"].as_array().unwrap();
    assert!(dash_links.iter().any(|l| {
        l["url"]
            .as_str()
            .is_some_and(|u| u.starts_with(&format!("/d/{instance_uid}/")))
    }));
}

#[test]
fn instance_dashboard_covers_every_question() {
    let d = load(INSTANCE);
    let overview_uid = load(OVERVIEW)["uid"].as_str().unwrap().to_string();
    let all: Vec<String> = data_panels(&d)
        .iter()
        .flat_map(|p| exprs(p))
        .map(|(_, e)| e.to_string())
        .collect();
    let uses = |m: &str| all.iter().any(|e| e.contains(&format!("{m}{{")));
    for m in [
        "redis_keyspace_hits_total",
        "redis_keyspace_misses_total",
        "redis_evicted_keys_total",
        "redis_expired_keys_total",
        "redis_memory_used_bytes",
        "redis_memory_max_bytes",
        "redis_memory_pressure_ratio",
        "redis_mem_fragmentation_ratio",
        "redis_connected_clients",
        "redis_commands_total",
        "redis_commands_duration_seconds_total",
        "redis_db_keys",
        "redis_db_keys_expiring",
        "redis_up",
        "redis_exporter_last_poll_duration_seconds",
        "redis_exporter_poll_errors_total",
        "redis_cache_predicted_hit_ratio",
        "redis_cache_memory_needed_bytes",
    ] {
        assert!(uses(m), "instance dashboard does not show {m}");
    }
    // Memory sizing: the three predicted sizes beside the current hit ratio, against the 90 %
    // line, and the memory needed for 90 %.
    let curve = panel(&d, "Predicted hit ratio against memory");
    let curve_exprs = exprs(curve);
    assert!(curve_exprs.iter().any(|(_, e)| is_hit_ratio(e)));
    assert!(
        curve_exprs
            .iter()
            .any(|(_, e)| e.contains("by (target, memory)"))
    );
    assert_eq!(
        steps(&curve["fieldConfig"]["defaults"]["thresholds"]),
        [0.9],
        "the 90 % line"
    );
    let needed = exprs(panel(&d, "Memory needed for 90 %"))[0].1;
    assert!(needed.contains(r#"hit_ratio="0.9""#), "{needed}");
    assert!(
        all.iter().any(|e| e.contains(r#"cmd="keys""#)),
        "KEYS is not singled out"
    );
    let ttl = exprs(panel(&d, "TTL coverage per db"))[0].1;
    assert!(ttl.find("redis_db_keys_expiring{") < ttl.find('/') && ttl.contains("redis_db_keys{"));
    let evx = exprs(panel(&d, "Evicted vs expired keys /s"));
    assert!(
        evx.iter()
            .any(|(_, e)| e.contains("redis_evicted_keys_total"))
    );
    assert!(
        evx.iter()
            .any(|(_, e)| e.contains("redis_expired_keys_total"))
    );
    let mem = exprs(panel(&d, "Memory used vs maxmemory"));
    assert!(
        mem.iter()
            .any(|(_, e)| e.contains("redis_memory_max_bytes"))
    );
    assert!(
        all_panels(&d)
            .iter()
            .any(|p| p["type"] == "row" && p["collapsed"] == true),
        "a collapsed row keeps its panels nested; the checks above must see them"
    );
    assert!(d["links"].as_array().unwrap().iter().any(|l| {
        l["url"]
            .as_str()
            .is_some_and(|u| u.starts_with(&format!("/d/{overview_uid}/")))
    }));
}

#[test]
fn provisioning_files_and_docs_match_the_dashboards() {
    let provider = read("dashboards/provisioning/dashboards.yaml");
    assert!(provider.contains("apiVersion: 1") && provider.contains("providers:"));
    assert!(provider.contains("type: file") && provider.contains("path: "));
    let ds = read("dashboards/provisioning/datasource.example.yaml");
    assert!(ds.contains("apiVersion: 1") && ds.contains("type: prometheus"));
    assert!(
        ds.contains("url: http://127.0.0.1:"),
        "example points at loopback"
    );
    assert!(
        ds.contains("timeInterval:"),
        "$__rate_interval needs the scrape interval"
    );

    let docs = read("docs/dashboards.md");
    for name in DASHBOARDS {
        let d = load(name);
        assert!(
            docs.contains(name),
            "docs/dashboards.md does not name {name}"
        );
        assert!(docs.contains(d["uid"].as_str().unwrap()));
        let panels = data_panels(&d);
        assert!(!panels.is_empty(), "{name}: no panels");
        for p in panels {
            assert!(
                docs.contains(&format!("| {} |", title(p))),
                "docs/dashboards.md does not list panel {:?} of {name}",
                title(p)
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Live: every query against a real Prometheus scraping the exporter.
// ---------------------------------------------------------------------------------------------

const JOB: &str = "redis-cache-exporter";
const LOAD_FOR: Duration = Duration::from_secs(25);

/// Values substituted for Grafana's variables, longest names first.
fn substitute(expr: &str, targets: &str) -> String {
    let subs = [
        ("${datasource}", "prometheus"),
        ("$datasource", "prometheus"),
        ("${__rate_interval}", "20s"),
        ("$__rate_interval", "20s"),
        ("${__interval_ms}", "5000"),
        ("$__interval_ms", "5000"),
        ("${__interval}", "5s"),
        ("$__interval", "5s"),
        ("${__range}", "1m"),
        ("$__range", "1m"),
        ("${job}", JOB),
        ("$job", JOB),
        ("${target}", targets),
        ("$target", targets),
    ];
    let mut out = expr.to_string();
    for (var, value) in subs {
        out = out.replace(var, value);
    }
    assert!(!out.contains('$'), "unsubstituted variable in {out}");
    out
}

/// Queries that return nothing in this setup, by (dashboard, panel title, refId), with why.
const EXPECTED_EMPTY: &[(&str, &str, &str, &str)] = &[
    (
        OVERVIEW,
        "Firing alerts",
        "A",
        "no rule files are loaded into this Prometheus, so ALERTS has no series",
    ),
    (
        INSTANCE,
        "Error replies/s by kind",
        "A",
        "no server here replies with an error, so errorstats has no line",
    ),
    (
        INSTANCE,
        "Replication lag",
        "A",
        "no server here has a replica",
    ),
    (
        INSTANCE,
        "Replication lag",
        "B",
        "no server here is a replica",
    ),
];

/// Queries on measured miss causes, by (dashboard, panel title, refId): their series come only
/// from targets with keyspace-event miss attribution. The live test below gives the evicting
/// cache attribution and a workload of every cause, so each must return data there like any
/// other query; the panels say "attribution off" instead of drawing nothing for targets
/// without it (checked by `attribution_panels_say_attribution_off`).
const NEEDS_ATTRIBUTION: &[(&str, &str, &str)] = &[
    (OVERVIEW, "Misses/s by cause (fleet)", "A"),
    (
        OVERVIEW,
        "Worst caches: dominant miss cause and ceiling",
        "B",
    ),
    (
        OVERVIEW,
        "Worst caches: dominant miss cause and ceiling",
        "C",
    ),
    (INSTANCE, "Misses/s by cause", "A"),
    (INSTANCE, "Hit ratio and its ceilings", "B"),
    (INSTANCE, "Hit ratio and its ceilings", "C"),
    (INSTANCE, "Hit ratio and its ceilings", "D"),
    (INSTANCE, "Top prefixes by misses", "A"),
    (INSTANCE, "Attribution coverage", "A"),
];

/// Queries on memory sizing's predictions: like [`NEEDS_ATTRIBUTION`]'s, and also empty under a
/// policy the prediction was not shown to hold for; each must return data once /metrics
/// carries `redis_cache_predicted_hit_ratio`.
const NEEDS_SIZING: &[(&str, &str, &str)] = &[
    (INSTANCE, "Predicted hit ratio against memory", "B"),
    (INSTANCE, "Memory needed for 90 %", "A"),
];

fn listed(list: &[(&str, &str, &str)], dashboard: &str, panel: &str, r: &str) -> bool {
    list.iter()
        .any(|(d, t, id)| *d == dashboard && *t == panel && *id == r)
}

fn needs_attribution(dashboard: &str, panel: &str, r: &str) -> bool {
    listed(NEEDS_ATTRIBUTION, dashboard, panel, r)
}

/// A panel whose every query needs attribution shows "attribution off" as its no-value text;
/// the stat and the table column that read `redis_exporter_miss_attribution_active` map 0 to
/// "attribution off". Every listed query exists.
#[test]
fn attribution_panels_say_attribution_off() {
    let mut found = 0;
    for name in DASHBOARDS {
        let d = load(name);
        for p in data_panels(&d) {
            let refs = exprs(p);
            found += refs
                .iter()
                .filter(|(r, _)| needs_attribution(name, title(p), r))
                .count();
            if !refs.is_empty()
                && refs
                    .iter()
                    .all(|(r, _)| needs_attribution(name, title(p), r))
            {
                let no_value = p["fieldConfig"]["defaults"]["noValue"]
                    .as_str()
                    .unwrap_or("");
                assert!(
                    no_value.starts_with("attribution off"),
                    "{name}: {:?} draws nothing without attribution: noValue {no_value:?}",
                    title(p)
                );
            }
            for (_, e) in &refs {
                if e.contains("redis_exporter_miss_attribution_active") {
                    let mappings = match p["type"].as_str() {
                        Some("table") => column(p, "Attribution")
                            .get("mappings")
                            .copied()
                            .cloned()
                            .unwrap_or_default(),
                        _ => p["fieldConfig"]["defaults"]["mappings"].clone(),
                    };
                    assert_eq!(
                        mappings[0]["options"]["0"]["text"],
                        "attribution off",
                        "{name}: {:?} maps 0 to: {mappings}",
                        title(p)
                    );
                    assert!(
                        e.contains("redis_up{") && e.contains("* 0"),
                        "{name}: {:?}: targets without the flag count as off: {e}",
                        title(p)
                    );
                }
            }
        }
    }
    assert_eq!(
        found,
        NEEDS_ATTRIBUTION.len(),
        "NEEDS_ATTRIBUTION names a missing query"
    );
}

/// The query `r` of panel `panel_title` in dashboard `name`.
fn expr_of(name: &str, panel_title: &str, r: &str) -> String {
    let d = load(name);
    let p = panel(&d, panel_title);
    exprs(p).into_iter().find(|(id, _)| *id == r).map_or_else(
        || panic!("{name}: {panel_title:?} has no query {r}"),
        |(_, e)| e.to_string(),
    )
}

/// Expected samples of an instant query: labels (as promtool writes them, without braces) and
/// value.
type Samples = Vec<(String, f64)>;

/// The attribution queries on the series the exporter exports for one target with miss
/// attribution (`shop`: 4200 hits and 1800 misses a minute, of which 1440 evicted, 270 expired,
/// 90 deleted) and one without (`plain`, whose estimate is evictions), evaluated by
/// Prometheus's engine in `promtool test rules`: causes per second, the dominant cause and its
/// share, the ceiling without it, the prefixes, coverage, and "attribution off" for `plain`.
/// (The live test above runs them against the exporter, whose evicting cache has attribution.)
#[test]
fn attribution_queries_compute_causes_shares_and_ceilings() {
    let promtool = support::require_binary("promtool", "prometheus");
    let series = |name: &str, labels: &str, values: &str| {
        format!(
            "      - series: '{name}{{job=\"{JOB}\",target={labels}}}'\n        values: \
             '{values}'\n"
        )
    };
    let mut input = String::new();
    for (t, hits, misses) in [("shop", 4200, 1800), ("plain", 900, 100)] {
        let t = format!("\"{t}\"");
        input += &series("redis_up", &t, "1x20");
        input += &series("redis_keyspace_hits_total", &t, &format!("0+{hits}x20"));
        input += &series("redis_keyspace_misses_total", &t, &format!("0+{misses}x20"));
    }
    input += &series("redis_exporter_miss_attribution_active", "\"shop\"", "1x20");
    for (cause, per_minute) in [
        ("evicted", 1440),
        ("expired", 270),
        ("deleted", 90),
        ("cold", 0),
    ] {
        let labels = format!("\"shop\",cause=\"{cause}\"");
        input += &series(
            "redis_cache_misses_attributed_total",
            &labels,
            &format!("0+{per_minute}x20"),
        );
    }
    for (without, v) in [
        ("evictions", 0.94),
        ("expirations", 0.745),
        ("deletions", 0.715),
    ] {
        let labels = format!("\"shop\",window=\"5m\",without=\"{without}\"");
        input += &series("redis_cache_hit_ratio_ceiling", &labels, &format!("{v}x20"));
    }
    for (prefix, cause, per_minute) in [("user:", "evicted", 1200), ("cart:", "expired", 240)] {
        let labels = format!("\"shop\",prefix=\"{prefix}\",cause=\"{cause}\"");
        input += &series(
            "redis_cache_prefix_misses_total",
            &labels,
            &format!("0+{per_minute}x20"),
        );
    }
    let labels = "\"shop\",window=\"5m\"";
    input += &series(
        "redis_cache_miss_attribution_coverage_ratio",
        labels,
        "0.95x20",
    );
    for (cause, v) in [("evictions", 1), ("expirations", 0), ("neither", 0)] {
        let labels = format!("\"plain\",window=\"5m\",cause=\"{cause}\"");
        input += &series("redis_cache_miss_cause", &labels, &format!("{v}x20"));
    }

    let worst = "Worst caches: dominant miss cause and ceiling";
    let ceilings = "Hit ratio and its ceilings";
    let shop = |more: &str| format!("target=\"shop\"{more}");
    let by_cause = |prefix: &str| -> Samples {
        [
            ("evicted", 24.0),
            ("expired", 4.5),
            ("deleted", 1.5),
            ("cold", 0.0),
        ]
        .iter()
        .map(|(c, v)| (format!("{prefix}cause=\"{c}\""), *v))
        .collect()
    };
    let off = vec![(shop(""), 1.0), ("target=\"plain\"".to_string(), 0.0)];
    let cases: Vec<(&str, &str, &str, Samples)> = vec![
        (OVERVIEW, "Misses/s by cause (fleet)", "A", by_cause("")),
        (
            OVERVIEW,
            worst,
            "B",
            vec![(shop(",cause=\"evicted\""), 0.8)],
        ),
        (OVERVIEW, worst, "C", vec![(shop(""), 0.94)]),
        (OVERVIEW, worst, "D", off.clone()),
        (
            OVERVIEW,
            worst,
            "E",
            vec![(
                "target=\"plain\",estimated_cause=\"evictions\"".to_string(),
                1.0,
            )],
        ),
        (INSTANCE, "Miss attribution", "A", off),
        (
            INSTANCE,
            "Misses/s by cause",
            "A",
            by_cause("target=\"shop\","),
        ),
        (INSTANCE, ceilings, "B", vec![(shop(""), 0.94)]),
        (INSTANCE, ceilings, "C", vec![(shop(""), 0.745)]),
        (INSTANCE, ceilings, "D", vec![(shop(""), 0.715)]),
        (
            INSTANCE,
            "Top prefixes by misses",
            "A",
            vec![
                (shop(",prefix=\"user:\",cause=\"evicted\""), 20.0),
                (shop(",prefix=\"cart:\",cause=\"expired\""), 4.0),
            ],
        ),
        (
            INSTANCE,
            "Attribution coverage",
            "A",
            vec![(shop(""), 0.95)],
        ),
    ];
    let mut tests = String::new();
    for (name, panel_title, r, samples) in &cases {
        // 1-minute samples: a rate needs a range of several.
        let expr = substitute(&expr_of(name, panel_title, r), ".*").replace("[20s]", "[5m]");
        tests += "      - expr: |\n";
        for line in expr.lines() {
            tests += &format!("          {line}\n");
        }
        tests += "        eval_time: 10m\n        exp_samples:\n";
        for (labels, value) in samples {
            tests += &format!("          - labels: '{{{labels}}}'\n            value: {value}\n");
        }
    }
    let yaml = format!(
        "rule_files: []\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n\
         {input}    promql_expr_test:\n{tests}"
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("attribution-queries.test.yml");
    std::fs::write(&file, &yaml).expect("write promtool test");
    let out = Command::new(promtool)
        .args(["test", "rules"])
        .arg(&file)
        .output()
        .expect("run promtool test rules");
    assert!(
        out.status.success(),
        "the attribution queries compute something else:\n{}{}\n{yaml}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Instant query against `prom` at time `at` (Unix seconds); the result list, or Prometheus's error
/// (the shared `Prometheus::query` panics on the first bad query; this test reports them all at
/// once).
fn try_query(prom: &Prometheus, expr: &str, at: f64) -> Result<Vec<Value>, String> {
    let path = format!("/api/v1/query?query={}&time={at:.3}", url_encode(expr));
    let (status, body) = http_get(prom.port, &path).map_err(|e| e.to_string())?;
    let v: Value = serde_json::from_str(&body).map_err(|e| format!("HTTP {status}: {e}"))?;
    if v["status"] != "success" {
        return Err(format!("HTTP {status}: {}: {}", v["errorType"], v["error"]));
    }
    match &v["data"]["result"] {
        Value::Array(a) => Ok(a.clone()),
        other => Err(format!("not a vector: {other}")),
    }
}

/// The value of a vector sample whose `target` label is `target`.
fn value_of(result: &[Value], target: &str) -> Option<f64> {
    result
        .iter()
        .find(|s| s["metric"]["target"] == target)
        .and_then(|s| s["value"][1].as_str())
        .and_then(|v| v.parse().ok())
}

/// A small deterministic xorshift so the load needs no extra crate.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn connect(server: &RedisServer) -> redis::Connection {
    redis::Client::open(server.url())
        .and_then(|c| c.get_connection())
        .unwrap_or_else(|e| panic!("connect to {}: {e}", server.url()))
}

#[test]
#[allow(
    clippy::too_many_lines,
    reason = "one live scenario, step by step: the workload, the scrape, every query"
)]
fn every_panel_query_returns_data_from_a_real_prometheus() {
    // A healthy cache: everything fits, almost every read hits, half the keys carry a TTL.
    let healthy = RedisServer::start(&["--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru"]);
    // An undersized cache: 3 MB for a stream of 2 KB values, so it evicts and reads miss.
    let evicting = RedisServer::start(&["--maxmemory", "3mb", "--maxmemory-policy", "allkeys-lru"]);
    let unreachable = free_port();
    // A store nobody reads: every lookup on it is the exporter's key-prefix sampler's PTTL.
    let sampled = RedisServer::start(&[]);

    let mut h = connect(&healthy);
    let mut e = connect(&evicting);
    let mut pipe = redis::pipe();
    for i in 0..2000 {
        pipe.cmd("SET").arg(format!("h:{i}")).arg("x".repeat(100));
        if i % 2 == 0 {
            pipe.arg("EX").arg(3600);
        }
        pipe.ignore();
    }
    pipe.exec(&mut h).expect("preload healthy");
    let mut pipe = redis::pipe();
    for i in 0..1000 {
        pipe.cmd("SET").arg(format!("s:{i}")).arg(1).ignore();
    }
    pipe.exec(&mut connect(&sampled)).expect("preload sampled");

    let exporter = Exporter::start(&format!(
        "poll_interval = \"1s\"\n\
         [[targets]]\nname = \"healthy\"\nurl = \"{}\"\ncache = true\n\
         [[targets]]\nname = \"evicting\"\nurl = \"{}\"\ncache = true\n\
         [targets.miss_attribution]\nenabled = true\nmanage_notifications = true\n\
         [[targets]]\nname = \"unreachable\"\nurl = \"redis://127.0.0.1:{unreachable}\"\n\
         cache = true\n\
         [[targets]]\nname = \"sampled\"\nurl = \"{}\"\ncache = false\n\
         [targets.sampler]\nenabled = true\nkeys_per_cycle = 1000\nbatch_size = 500\n\
         interval = \"1s\"\nmax_time_per_cycle = \"500ms\"\n",
        healthy.url(),
        evicting.url(),
        sampled.url()
    ));
    let prom = Prometheus::start(&PrometheusOptions {
        scrape_configs: scrape_job(JOB, exporter.port),
        ..PrometheusOptions::default()
    });
    prom.wait_targets_up(Duration::from_secs(15));
    support::wait_for(
        "miss attribution of evicting active",
        Duration::from_secs(20),
        || {
            let sel = "redis_exporter_miss_attribution_active{target=\"evicting\"}";
            (support::sample(&exporter.metrics(), sel) == Some(1.0)).then_some(())
        },
    );

    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut written = 0u64;
    let value = "v".repeat(2048);
    let load_until = Instant::now() + LOAD_FOR;
    while Instant::now() < load_until {
        let mut p = redis::pipe();
        for _ in 0..200 {
            p.cmd("GET").arg(format!("h:{}", rng.below(2000))).ignore();
        }
        for i in 0..5 {
            p.cmd("GET").arg(format!("missing:{i}")).ignore();
            p.cmd("SET")
                .arg(format!("short:{}", rng.below(1_000_000)))
                .arg(1);
            p.arg("PX").arg(300).ignore();
        }
        p.cmd("KEYS").arg("h:1*").ignore();
        p.exec(&mut h).expect("load on healthy");

        let mut p = redis::pipe();
        for _ in 0..100 {
            p.cmd("SET")
                .arg(format!("e:{written}"))
                .arg(&value)
                .ignore();
            written += 1;
        }
        for _ in 0..100 {
            p.cmd("GET")
                .arg(format!("e:{}", rng.below(written)))
                .ignore();
        }
        // Every other cause, for miss attribution: keys never stored, a key read after its
        // TTL (set in the previous round, 50 ms TTL), a key deleted before it is read.
        p.cmd("GET").arg(format!("never:{written}")).ignore();
        p.cmd("GET").arg(format!("ttl:{}", written - 100)).ignore();
        p.cmd("SET")
            .arg(format!("ttl:{written}"))
            .arg(1)
            .arg("PX")
            .arg(50)
            .ignore();
        p.cmd("SET").arg(format!("del:{written}")).arg(1).ignore();
        p.cmd("DEL").arg(format!("del:{written}")).ignore();
        p.cmd("GET").arg(format!("del:{written}")).ignore();
        p.exec(&mut e).expect("load on evicting");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_ne!(
        evicting.info_field("evicted_keys"),
        "0",
        "the evicting server never evicted: the load is too small for its maxmemory"
    );

    // One evaluation time for every query, a scrape behind now, so results can be compared.
    let at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        - 1.0;
    let targets = "healthy|evicting|unreachable|sampled";
    let m = exporter.metrics();
    for cause in ["evicted", "expired", "deleted", "cold"] {
        let sel =
            format!("redis_cache_misses_attributed_total{{target=\"evicting\",cause=\"{cause}\"}}");
        assert!(
            support::sample(&m, &sel).is_some_and(|n| n > 0.0),
            "the workload made no {cause} miss: {sel}"
        );
    }
    // Until the exporter predicts sizes (the ghost list needs evictions under a policy where the
    // prediction holds), the queries on them may be empty.
    let sizing_exported = m.contains("redis_cache_predicted_hit_ratio{");
    // memory_needed is absent, by design, where memory alone cannot reach the ratio within what
    // the ghost list covers, even while the predictions are exported.
    let needed_exported = m.contains("redis_cache_memory_needed_bytes{");
    let mut failures = Vec::new();
    let mut results: BTreeMap<(String, String), Vec<Value>> = BTreeMap::new();
    let mut empties_used = BTreeSet::new();
    let mut count = 0;
    for name in DASHBOARDS {
        let d = load(name);
        for var in ["job", "target"] {
            let def = variable(&d, var)["definition"]
                .as_str()
                .unwrap()
                .to_string();
            let inner = def
                .strip_prefix("label_values(")
                .and_then(|s| s.strip_suffix(')'))
                .expect("label_values(selector, label)");
            let (selector, label) = inner.rsplit_once(',').unwrap();
            let selector = substitute(selector.trim(), ".*");
            let values = &prom.api(&format!(
                "/api/v1/label/{}/values?match[]={}",
                label.trim(),
                url_encode(&selector)
            ))["data"];
            let want: &[&str] = if var == "job" {
                &[JOB]
            } else {
                &["healthy", "evicting"]
            };
            for w in want {
                assert!(
                    values.as_array().unwrap().iter().any(|v| v == w),
                    "{name}: ${var} ({def}) does not offer {w}: {values}"
                );
            }
        }
        for p in data_panels(&d) {
            for (r, expr) in exprs(p) {
                count += 1;
                let q = substitute(expr, targets);
                let key = (title(p).to_string(), r.to_string());
                let allowed_empty = EXPECTED_EMPTY
                    .iter()
                    .find(|(f, t, id, _)| *f == name && *t == title(p) && *id == r);
                match try_query(&prom, &q, at) {
                    Err(err) => failures.push(format!("{name}: {:?} {r}: {err}\n  {q}", title(p))),
                    Ok(res)
                        if res.is_empty()
                            && !(if q.contains("redis_cache_memory_needed_bytes") {
                                needed_exported
                            } else {
                                sizing_exported
                            })
                            && listed(NEEDS_SIZING, name, title(p), r) => {}
                    Ok(res) if res.is_empty() && allowed_empty.is_none() => {
                        failures.push(format!("{name}: {:?} {r}: no data\n  {q}", title(p)));
                    }
                    Ok(res) => {
                        if allowed_empty.is_some() {
                            empties_used.insert((name, title(p).to_string(), r.to_string()));
                        }
                        results.insert(key, res);
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {count} panel queries failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(
        empties_used.len(),
        EXPECTED_EMPTY.len(),
        "EXPECTED_EMPTY names a query that no longer exists"
    );

    // The numbers mean what the panels say.
    let get = |t: &str, r: &str| &results[&(t.to_string(), r.to_string())];
    let table = |r: &str| get("Targets, worst hit ratio first", r);
    let healthy_ratio = value_of(table("A"), "healthy").expect("hit ratio of healthy");
    let evicting_ratio = value_of(table("A"), "evicting").expect("hit ratio of evicting");
    assert!(healthy_ratio >= 0.9, "healthy hit ratio {healthy_ratio}");
    assert!(evicting_ratio < 0.9, "evicting hit ratio {evicting_ratio}");
    assert!(
        value_of(table("C"), "evicting").unwrap() > 0.0,
        "evictions/s"
    );
    for t in ["healthy", "evicting"] {
        assert_eq!(value_of(table("F"), t), Some(0.0), "{t}: maxmemory is set");
        assert_eq!(value_of(table("G"), t), Some(0.0), "{t}: policy evicts");
        assert_eq!(value_of(table("H"), t), Some(1.0), "{t}: up");
    }
    assert_eq!(
        value_of(table("H"), "unreachable"),
        Some(0.0),
        "unreachable: down"
    );
    let fleet: f64 = get("Fleet hit ratio", "A")[0]["value"][1]
        .as_str()
        .and_then(|v| v.parse().ok())
        .expect("fleet hit ratio");
    // sum(hits) / sum(lookups) is the lookup-weighted mean of the per-target ratios; the
    // healthy server gets twice the lookups, so an average of ratios would differ clearly.
    let lookups_h = value_of(table("B"), "healthy").expect("lookups/s of healthy");
    let lookups_e = value_of(table("B"), "evicting").expect("lookups/s of evicting");
    assert!(
        lookups_h > 1.5 * lookups_e,
        "lookups {lookups_h} vs {lookups_e}"
    );
    let weighted =
        (healthy_ratio * lookups_h + evicting_ratio * lookups_e) / (lookups_h + lookups_e);
    assert!(
        (fleet - weighted).abs() < 1e-6,
        "fleet ratio {fleet} is not sum(hits)/sum(lookups) = {weighted}"
    );
    // The sampler's PTTLs are Redis lookups but not the application's: the panels leave them out.
    let raw = try_query(
        &prom,
        &substitute(
            "sum by (target) \
             (rate(redis_keyspace_hits_total{target=\"sampled\"}[$__rate_interval]) \
             + rate(redis_keyspace_misses_total{target=\"sampled\"}[$__rate_interval]))",
            targets,
        ),
        at,
    )
    .unwrap();
    let raw = value_of(&raw, "sampled").expect("raw lookups/s of sampled");
    let shown = value_of(table("B"), "sampled").expect("lookups/s of sampled");
    eprintln!("sampled: {shown} application lookups/s of {raw} raw");
    assert!(raw > 100.0, "the sampler made {raw} lookups/s");
    assert!(
        shown.abs() < 0.01 * raw,
        "the dashboards count the sampler's lookups as the application's: {shown} of {raw}/s"
    );
    // The healthy cache has no attribution and says so; the evicting one measures its causes:
    // evictions dominate, the ceiling without them is above its hit ratio, and no estimate is
    // shown for it.
    let worst = |r: &str| get("Worst caches: dominant miss cause and ceiling", r);
    for (t, on) in [("healthy", 0.0), ("evicting", 1.0)] {
        assert_eq!(
            value_of(get("Miss attribution", "A"), t),
            Some(on),
            "{t}: attribution {on}"
        );
        assert_eq!(value_of(worst("D"), t), Some(on), "{t}: attribution {on}");
    }
    assert!(
        worst("B")
            .iter()
            .any(|s| s["metric"]["target"] == "evicting" && s["metric"]["cause"] == "evicted"),
        "the evicting cache's dominant measured cause: {:?}",
        worst("B")
    );
    let ceiling = value_of(worst("C"), "evicting").expect("ceiling of evicting");
    assert!(
        ceiling > evicting_ratio,
        "ceiling without evictions {ceiling} vs hit ratio {evicting_ratio}"
    );
    let ceilings = |r: &str| get("Hit ratio and its ceilings", r);
    assert_eq!(value_of(ceilings("B"), "evicting"), Some(ceiling));
    assert!(
        !worst("E")
            .iter()
            .any(|s| s["metric"]["target"] == "evicting"),
        "an estimate shown beside the measured cause: {:?}",
        worst("E")
    );
    let prefixes = get("Top prefixes by misses", "A");
    for prefix in ["e:*", "never:*", "ttl:*", "del:*"] {
        assert!(
            prefixes.iter().any(|s| s["metric"]["prefix"] == prefix),
            "no {prefix} among the top prefixes: {prefixes:?}"
        );
    }
    assert!(value_of(get("KEYS calls/s", "A"), "healthy").unwrap() > 0.0);
    assert!(
        get("Poll errors/s by kind", "A")
            .iter()
            .any(|s| s["metric"]["target"] == "unreachable" && s["metric"]["kind"].is_string()),
        "no poll error series with a kind for the unreachable target"
    );
}
