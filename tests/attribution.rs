//! Miss attribution against real servers (Redis 7.0, Redis 6.2, Valkey 9.1, and a Redis
//! Cluster of three primaries): a workload with known causes (keys never stored, read after
//! their TTL, deleted with DEL and with UNLINK, and on a small maxmemory evicted then read),
//! each cause's count within 3 % of the truth, coverage ≥ 0.98 and the ceiling without
//! evictions ≈ 1 on the evicting instance; the notify-keyspace-events flags left alone or
//! completed (renamed CONFIG honoured); the key-prefix sampler's own misses left out. Each
//! test starts its own servers.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use support::causes::{
    COLD, DELETED, EXPIRED, UNLINKED, cmd, evicting_workload, mixed_workload, within_3_percent,
};
use support::servers::ServerKind;
use support::{Exporter, RedisServer, sample, value, wait_for, wait_polls};

fn attribution_config(targets: &[(&str, String)], table: &str) -> String {
    let mut c = String::from("poll_interval = \"1s\"\n");
    for (name, url) in targets {
        c.push_str(&format!(
            "[[targets]]\nname = \"{name}\"\nurl = \"{url}\"\n[targets.miss_attribution]\n\
             enabled = true\n{table}"
        ));
    }
    c
}

fn attributed(m: &str, target: &str, cause: &str) -> f64 {
    value(
        m,
        &format!("redis_cache_misses_attributed_total{{target=\"{target}\",cause=\"{cause}\"}}"),
    )
}

fn wait_active(e: &Exporter, target: &str) {
    let sel = format!("redis_exporter_miss_attribution_active{{target=\"{target}\"}}");
    wait_for(
        &format!("attribution of {target} active"),
        Duration::from_secs(20),
        || (sample(&e.metrics(), &sel) == Some(1.0)).then_some(()),
    );
}

/// Waits until `target`'s attributed misses add up to `total`, then for two more polls (so the
/// windows include them); returns that scrape.
fn wait_attributed(e: &Exporter, target: &str, total: f64) -> String {
    wait_for(
        &format!("{total} attributed misses of {target}"),
        Duration::from_secs(30),
        || {
            let m = e.metrics();
            let sum: f64 = ["expired", "evicted", "deleted", "cold"]
                .iter()
                .map(|c| {
                    let name = format!(
                        "redis_cache_misses_attributed_total{{target=\"{target}\",\
                         cause=\"{c}\"}}"
                    );
                    sample(&m, &name).unwrap_or(0.0)
                })
                .sum();
            (sum >= total * 0.97).then_some(())
        },
    );
    wait_polls(e, target, 2.0)
}

fn known_causes_on(kind: ServerKind) {
    let mixed = RedisServer::start_kind(kind, &[]);
    let evicting = RedisServer::start_kind(
        kind,
        &["--maxmemory", "4mb", "--maxmemory-policy", "allkeys-lru"],
    );
    let e = Exporter::start(&attribution_config(
        &[("mixed", mixed.url()), ("evicting", evicting.url())],
        "manage_notifications = true\n",
    ));
    wait_active(&e, "mixed");
    wait_active(&e, "evicting");

    mixed_workload(&mixed, "");
    let total = (COLD + EXPIRED + DELETED + UNLINKED) as f64;
    let m = wait_attributed(&e, "mixed", total);
    within_3_percent(attributed(&m, "mixed", "cold"), COLD as f64, "cold");
    within_3_percent(
        attributed(&m, "mixed", "expired"),
        EXPIRED as f64,
        "expired",
    );
    within_3_percent(
        attributed(&m, "mixed", "deleted"),
        (DELETED + UNLINKED) as f64,
        "deleted (DEL and UNLINK)",
    );
    assert_eq!(attributed(&m, "mixed", "evicted"), 0.0);
    let coverage_mixed = value(
        &m,
        "redis_cache_miss_attribution_coverage_ratio{target=\"mixed\",window=\"1m\"}",
    );
    assert!(coverage_mixed >= 0.98, "{kind}: coverage {coverage_mixed}");
    // Per prefix, with the sampler's default rules (separator `:`, depth 1).
    for (prefix, cause, n) in [
        ("never:*", "cold", COLD),
        ("ttl:*", "expired", EXPIRED),
        ("del:*", "deleted", DELETED),
        ("unl:*", "deleted", UNLINKED),
    ] {
        let sel = format!(
            "redis_cache_prefix_misses_total{{target=\"mixed\",prefix=\"{prefix}\",\
             cause=\"{cause}\"}}"
        );
        within_3_percent(value(&m, &sel), n as f64, &sel);
    }
    let events = |ev: &str| {
        value(
            &m,
            &format!("redis_exporter_keyspace_events_total{{target=\"mixed\",event=\"{ev}\"}}"),
        )
    };
    assert_eq!(events("del"), (DELETED + UNLINKED) as f64);
    assert!(events("keymiss") >= total * 0.97);

    let m_mixed = m;
    let truth = evicting_workload(&evicting);
    let m = wait_attributed(&e, "evicting", truth);
    within_3_percent(attributed(&m, "evicting", "evicted"), truth, "evicted");
    let coverage = value(
        &m,
        "redis_cache_miss_attribution_coverage_ratio{target=\"evicting\",window=\"1m\"}",
    );
    assert!(coverage >= 0.98, "{kind}: evicting coverage {coverage}");
    let ceiling = value(
        &m,
        "redis_cache_hit_ratio_ceiling{target=\"evicting\",window=\"1m\",without=\"evictions\"}",
    );
    let hit_ratio = value(
        &m,
        "redis_cache_hit_ratio{target=\"evicting\",window=\"1m\"}",
    );
    assert!(
        ceiling >= 0.98 && hit_ratio < 0.5,
        "{kind}: ceiling without evictions {ceiling}, hit ratio {hit_ratio}"
    );
    let evicted_events = value(
        &m,
        "redis_exporter_keyspace_events_total{target=\"evicting\",event=\"evicted\"}",
    );
    let evicted_info: f64 = evicting.info_field("evicted_keys").parse().unwrap();
    within_3_percent(
        evicted_events,
        evicted_info,
        "evicted events vs INFO evicted_keys",
    );
    eprintln!(
        "{kind}: mixed cold {} expired {} deleted {} (truth {COLD}, {EXPIRED}, {}), coverage \
         {coverage_mixed}; evicting {} of {truth}, coverage {coverage}, ceiling {ceiling}, hit \
         ratio {hit_ratio}",
        attributed(&m_mixed, "mixed", "cold"),
        attributed(&m_mixed, "mixed", "expired"),
        attributed(&m_mixed, "mixed", "deleted"),
        DELETED + UNLINKED,
        attributed(&m, "evicting", "evicted"),
    );
    // The target with attribution has no estimate.
    assert!(!m.contains("redis_cache_miss_cause{target=\"evicting\""));
}

#[test]
fn known_causes_on_redis_7_0() {
    known_causes_on(ServerKind::Redis70);
}

#[test]
fn known_causes_on_redis_6_2() {
    known_causes_on(ServerKind::Redis62);
}

#[test]
fn known_causes_on_valkey_9_1() {
    known_causes_on(ServerKind::Valkey91);
}

/// The flags of a `CONFIG GET notify-keyspace-events` reply, as a set.
fn flags(r: &RedisServer, config: &str) -> BTreeSet<char> {
    let reply = r.cmd(&[config, "GET", "notify-keyspace-events"]);
    let value = reply.lines().nth(4).unwrap_or("").to_string();
    let mut set: BTreeSet<char> = value.chars().collect();
    if set.remove(&'A') {
        set.extend("g$lshzxetd".chars());
    }
    set
}

#[test]
fn missing_flags_unmanaged_change_nothing_and_say_which() {
    let r = RedisServer::start(&["--notify-keyspace-events", "Kx"]);
    let before = flags(&r, "CONFIG");
    let e = Exporter::start_logging(
        &attribution_config(&[("plain", r.url())], ""),
        &[],
        Some("exporter.log"),
    );
    let m = wait_polls(&e, "plain", 3.0);
    assert_eq!(
        value(
            &m,
            "redis_exporter_miss_attribution_active{target=\"plain\"}"
        ),
        0.0
    );
    assert_eq!(flags(&r, "CONFIG"), before, "the server is left unchanged");
    let log = std::fs::read_to_string(e.dir.path().join("exporter.log")).unwrap();
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("notify-keyspace-events lacks flags"))
        .collect();
    assert_eq!(lines.len(), 1, "one log line:\n{log}");
    assert!(
        lines[0].contains("\\\"Egem\\\"") || lines[0].contains("\"Egem\""),
        "the line names the missing flags E, g, e, m: {}",
        lines[0]
    );
    // Inactive: nothing subscribed, nothing attributed.
    assert_eq!(attributed(&m, "plain", "cold"), 0.0);
}

#[test]
fn managed_flags_add_only_the_missing_ones_through_a_renamed_config() {
    let r = RedisServer::start(&[
        "--notify-keyspace-events",
        "Kl",
        "--rename-command",
        "CONFIG",
        "ADMINCONFIG",
    ]);
    let before = flags(&r, "ADMINCONFIG");
    let e = Exporter::start(
        &attribution_config(&[("renamed", r.url())], "manage_notifications = true\n").replace(
            "[targets.miss_attribution]",
            "config_command = \"ADMINCONFIG\"\n[targets.miss_attribution]",
        ),
    );
    wait_active(&e, "renamed");
    let after = flags(&r, "ADMINCONFIG");
    let added: BTreeSet<char> = after.difference(&before).copied().collect();
    assert!(before.is_subset(&after), "{before:?} kept in {after:?}");
    assert_eq!(
        added,
        "Egxem".chars().collect(),
        "only the missing flags added"
    );
    // And events flow: a cold miss is attributed.
    assert_eq!(r.pipeline(&[cmd(&["GET", "nothing:1"])]), 0);
    wait_attributed(&e, "renamed", 1.0);
}

#[test]
fn the_samplers_own_misses_are_not_attributed() {
    let r = RedisServer::start(&["--notify-keyspace-events", "Egxem"]);
    let e = Exporter::start(&format!(
        "poll_interval = \"1s\"\n[[targets]]\nname = \"s\"\nurl = \"{}\"\n\
         [targets.sampler]\nenabled = true\nkeys_per_cycle = 100000\nbatch_size = 2000\n\
         pause_between_batches = \"1ms\"\ninterval = \"300ms\"\nmax_time_per_cycle = \"250ms\"\n\
         [targets.miss_attribution]\nenabled = true\n",
        r.url()
    ));
    // Subscribed before any key exists, so every miss of the sampler is heard.
    wait_active(&e, "s");
    // Keys expiring over three seconds while the sampler walks them: some expire between its
    // SCAN and its PTTL, and that PTTL raises a keymiss (and counts a keyspace miss).
    let load: Vec<Vec<String>> = (0..60_000)
        .map(|i| {
            cmd(&[
                "PSETEX",
                &format!("t:{i}"),
                &(200 + (i * 7919) % 3000).to_string(),
                "v",
            ])
        })
        .collect();
    for chunk in load.chunks(5000) {
        assert_eq!(r.pipeline(chunk), 0);
    }
    wait_for("the key space to expire", Duration::from_secs(20), || {
        (r.cmd(&["DBSIZE"]) == ":0\r\n").then_some(())
    });
    // The subscriber has heard every keymiss the sampler caused.
    wait_for("every keymiss heard", Duration::from_secs(20), || {
        let m = e.metrics();
        let heard = sample(
            &m,
            "redis_exporter_keyspace_events_total{target=\"s\",event=\"keymiss\"}",
        )?;
        (heard >= sample(&m, "redis_sampler_keyspace_misses_total{target=\"s\"}")?).then_some(())
    });
    let m = wait_polls(&e, "s", 2.0);
    let own = value(
        &m,
        "redis_exporter_miss_attribution_sampler_misses_total{target=\"s\"}",
    );
    let sampler_misses = value(&m, "redis_sampler_keyspace_misses_total{target=\"s\"}");
    assert!(
        own > 0.0,
        "the sampler missed no key (nothing to leave out):\n{m}"
    );
    assert_eq!(own, sampler_misses, "every sampler miss raised one keymiss");
    for cause in ["expired", "evicted", "deleted", "cold"] {
        assert_eq!(
            attributed(&m, "s", cause),
            0.0,
            "{cause}: the application missed nothing"
        );
    }
    let keymiss = value(
        &m,
        "redis_exporter_keyspace_events_total{target=\"s\",event=\"keymiss\"}",
    );
    assert_eq!(keymiss, own);
    eprintln!("sampler: {own} own misses left out, {keymiss} keymiss events, 0 attributed");
}

/// A hash tag whose slot `node` serves (found by asking: other nodes answer -MOVED).
fn own_tag(node: &RedisServer) -> String {
    (0..10_000)
        .map(|i| format!("{{t{i}}}"))
        .find(|tag| {
            !node
                .cmd(&["GET", &format!("probe{tag}")])
                .starts_with("-MOVED")
        })
        .expect("a hash tag of the node's slots")
}

#[test]
fn known_causes_on_a_cluster_of_three_primaries() {
    let nodes = support::cluster::start_cluster(3, 0, &[]);
    let ports: Vec<u16> = nodes.iter().map(|n| n.port).collect();
    let tags: Vec<String> = nodes.iter().map(own_tag).collect();
    let e = Exporter::start(&format!(
        "poll_interval = \"1s\"\n[[targets]]\nname = \"shop\"\nurl = \"{}\"\ncluster = true\n\
         [targets.miss_attribution]\nenabled = true\nmanage_notifications = true\n",
        nodes[0].url()
    ));
    let names: Vec<String> = ports
        .iter()
        .map(|p| format!("shop/127.0.0.1:{p}"))
        .collect();
    for n in &names {
        wait_active(&e, n);
    }
    for (node, tag) in nodes.iter().zip(&tags) {
        mixed_workload(node, tag);
    }
    let total = (COLD + EXPIRED + DELETED + UNLINKED) as f64;
    for n in &names {
        // One subscriber per node: each node's events are its own.
        let m = wait_attributed(&e, n, total);
        within_3_percent(attributed(&m, n, "cold"), COLD as f64, "cold");
        within_3_percent(attributed(&m, n, "expired"), EXPIRED as f64, "expired");
        within_3_percent(
            attributed(&m, n, "deleted"),
            (DELETED + UNLINKED) as f64,
            "deleted",
        );
        let coverage = value(
            &m,
            &format!("redis_cache_miss_attribution_coverage_ratio{{target=\"{n}\",window=\"1m\"}}"),
        );
        assert!(coverage >= 0.98, "{n}: coverage {coverage}");
        eprintln!("cluster node {n}: coverage {coverage}");
    }
}

/// The least-privilege user of docs/security.md, with the miss attribution's additions.
const ACL_USER: &[&str] = &[
    "ACL",
    "SETUSER",
    "exporter",
    "reset",
    "on",
    ">secret",
    "-@all",
    "+info",
    "+config|get",
    "+subscribe",
    "+ping",
    "&__keyevent@0__:keymiss",
    "&__keyevent@0__:expired",
    "&__keyevent@0__:evicted",
    "&__keyevent@0__:del",
];

#[test]
fn the_documented_acl_user_is_enough() {
    let r = RedisServer::start(&["--notify-keyspace-events", "Egxem"]);
    assert!(r.cmd(ACL_USER).starts_with("+OK"));
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/security.md")).unwrap();
    assert!(
        doc.contains(&ACL_USER[3..].join(" ").replace(">secret", ">CHANGE-ME")),
        "docs/security.md shows this user"
    );
    let url = format!("redis://exporter:secret@127.0.0.1:{}", r.port);
    let e = Exporter::start(&attribution_config(&[("acl", url)], ""));
    wait_active(&e, "acl");
    assert_eq!(r.pipeline(&[cmd(&["GET", "nothing:1"])]), 0);
    let m = wait_attributed(&e, "acl", 1.0);
    assert_eq!(attributed(&m, "acl", "cold"), 1.0);
    assert_eq!(r.cmd(&["ACL", "LOG"]), "*0\r\n", "nothing refused");
}
