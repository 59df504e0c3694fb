//! Hot reload with real redis-server processes: SIGHUP and `POST /-/reload` re-read the config;
//! added targets start, removed ones disappear, unchanged ones keep their connection and
//! history; an invalid config is refused and the old one keeps running.

mod support;

use std::process::Command;
use std::time::Duration;

use support::{Exporter, RedisServer, http_request, sample, wait_for, wait_polls, wait_up};

fn targets(list: &[(&str, &RedisServer)]) -> String {
    let mut c = String::from("poll_interval = \"1s\"\ntimeout = \"500ms\"\n");
    for (name, r) in list {
        c.push_str(&format!(
            "[[targets]]\nname = \"{name}\"\nurl = \"{}\"\n",
            r.url()
        ));
    }
    c
}

fn rewrite(e: &Exporter, body: &str) {
    std::fs::write(
        e.dir.path().join("config.toml"),
        format!("listen = \"127.0.0.1:{}\"\n{body}", e.port),
    )
    .unwrap();
}

#[test]
fn sighup_and_post_reload_apply_the_difference() {
    let a = RedisServer::start(&[]);
    let b = RedisServer::start(&[]);
    let c = RedisServer::start(&[]);
    let e = Exporter::start(&targets(&[("a", &a), ("b", &b)]));
    wait_up(&e, "a", 1.0);
    wait_up(&e, "b", 1.0);
    wait_polls(&e, "a", 2.0);
    let conns_a: u64 = a.info_field("total_connections_received").parse().unwrap();
    let m = e.metrics();
    let covered_before = sample(
        &m,
        "redis_cache_window_seconds{target=\"a\",window=\"15m\"}",
    )
    .unwrap();
    assert_eq!(
        sample(&m, "redis_exporter_config_last_reload_successful"),
        Some(1.0)
    );

    // SIGHUP: b removed, c added, a unchanged.
    rewrite(&e, &targets(&[("a", &a), ("c", &c)]));
    let ok = Command::new("kill")
        .args(["-HUP", &e.proc.pid().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    wait_up(&e, "c", 1.0);
    let m = wait_polls(&e, "a", 2.0);
    assert!(!m.contains("target=\"b\""), "removed target gone:\n{m}");
    let covered_after = sample(
        &m,
        "redis_cache_window_seconds{target=\"a\",window=\"15m\"}",
    )
    .unwrap();
    assert!(
        covered_after >= covered_before + 1.5,
        "history kept: {covered_before} -> {covered_after}"
    );
    let conns_a_after: u64 = a.info_field("total_connections_received").parse().unwrap();
    assert_eq!(
        conns_a_after,
        conns_a + 1,
        "a kept its connection (the +1 is this test's INFO)"
    );

    // An invalid config is refused; the old one keeps running.
    rewrite(
        &e,
        "poll_interval = \"soon\"\n[[targets]]\nname = \"a\"\nurl = \"redis://127.0.0.1:1\"\n",
    );
    let (status, body) = http_request(e.port, "POST", "/-/reload", "").unwrap();
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("poll_interval"), "{body}");
    let m = wait_polls(&e, "c", 1.0);
    assert_eq!(
        sample(&m, "redis_exporter_config_last_reload_successful"),
        Some(0.0)
    );
    assert_eq!(sample(&m, "redis_up{target=\"a\"}"), Some(1.0));
    assert_eq!(sample(&m, "redis_up{target=\"c\"}"), Some(1.0));

    // A changed target restarts (new URL), and success is reported again.
    rewrite(&e, &targets(&[("a", &b), ("c", &c)]));
    let (status, body) = http_request(e.port, "POST", "/-/reload", "").unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("1 restarted") && body.contains("1 unchanged"),
        "{body}"
    );
    let m = wait_for("a polled at its new URL", Duration::from_secs(20), || {
        let m = e.metrics();
        (sample(&m, "redis_exporter_polls_total{target=\"a\"}").is_some_and(|p| p >= 1.0)
            && sample(&m, "redis_up{target=\"a\"}") == Some(1.0))
        .then_some(m)
    });
    assert_eq!(
        sample(&m, "redis_exporter_config_last_reload_successful"),
        Some(1.0)
    );
    let (status, _) = http_request(e.port, "GET", "/-/reload", "").unwrap();
    assert_eq!(status, 405);
}
