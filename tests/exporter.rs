//! End-to-end tests of the exporter binary against real `redis-server` processes (Debian's
//! 7.0): idle caches, targets going down and coming back, one connection per target, static
//! labels, `promtool check metrics` on the real output, gzip (made of pieces deflated apart, read
//! whole by a real Prometheus) and the status page. The core
//! checks that run on every server (hit ratio, evictions, memory pressure, resets, CONFIG
//! blocked) are in `servers.rs`.

mod support;

use std::time::Duration;

use support::prometheus::{Prometheus, PrometheusOptions, scrape_job};
use support::{Exporter, RedisServer, require_binary, value, wait_for, wait_polls, wait_up};

fn args(v: &[&str]) -> Vec<String> {
    v.iter().map(std::string::ToString::to_string).collect()
}

/// One target per server, polled every second.
fn config(targets: &[(&str, &RedisServer)]) -> String {
    let mut c = String::from("poll_interval = \"1s\"\ntimeout = \"500ms\"\n");
    for (name, r) in targets {
        c.push_str(&format!(
            "[[targets]]\nname = \"{name}\"\nurl = \"{}\"\n",
            r.url()
        ));
    }
    c
}

#[test]
fn idle_cache_has_no_hit_ratio() {
    let r = RedisServer::start(&[]);
    let e = Exporter::start(&config(&[("idle", &r)]));
    wait_up(&e, "idle", 1.0);
    let m = wait_polls(&e, "idle", 2.0);
    assert!(m.contains("redis_cache_lookups_per_second{target=\"idle\",window=\"1m\"} 0"));
    assert!(!m.contains("redis_cache_hit_ratio{target=\"idle\""), "{m}");
}

#[test]
fn stopped_target_goes_down_alone_and_recovers() {
    let mut a = RedisServer::start(&[]);
    let b = RedisServer::start(&[]);
    let e = Exporter::start(&config(&[("a", &a), ("b", &b)]));
    wait_up(&e, "a", 1.0);
    wait_up(&e, "b", 1.0);

    a.proc.kill();
    let m = wait_up(&e, "a", 0.0);
    assert_eq!(value(&m, "redis_up{target=\"b\"}"), 1.0);
    assert!(
        value(
            &m,
            "redis_exporter_poll_errors_total{target=\"a\",kind=\"connect\"}"
        ) >= 1.0
    );

    // After a few missed polls the value series of `a` disappear; `b` keeps its own.
    let m = wait_for(
        "stale series of a to disappear",
        Duration::from_secs(20),
        || {
            let m = e.metrics();
            (!m.contains("redis_keyspace_hits_total{target=\"a\"}")).then_some(m)
        },
    );
    assert!(m.contains("redis_keyspace_hits_total{target=\"b\"}"));
    assert!(m.contains("redis_up{target=\"a\"} 0"));

    a.restart();
    let m = wait_up(&e, "a", 1.0);
    assert!(m.contains("redis_keyspace_hits_total{target=\"a\"}"));
    assert_eq!(value(&m, "redis_up{target=\"b\"}"), 1.0);
}

#[test]
fn one_persistent_connection_and_a_cheap_poll() {
    let r = RedisServer::start(&[]);
    let e = Exporter::start(&config(&[("c", &r)]));
    wait_up(&e, "c", 1.0);
    wait_polls(&e, "c", 1.0);
    let conns_before: u64 = r.info_field("total_connections_received").parse().unwrap();
    wait_polls(&e, "c", 3.0);
    let conns_after: u64 = r.info_field("total_connections_received").parse().unwrap();
    // The only new connection is the one this test used to read INFO the second time.
    assert_eq!(conns_after - conns_before, 1);
    let stats = r.cmd(&["INFO", "commandstats"]);
    // CONFIG GET `maxmemory*` `databases` is sent once per connection (INFO memory has
    // maxmemory and the policy, INFO clients maxclients).
    let config_calls = stats
        .lines()
        .find_map(|l| l.strip_prefix("cmdstat_config|get:calls="))
        .and_then(|v| v.split(',').next())
        .unwrap_or("0");
    assert_eq!(config_calls, "1", "{stats}");
}

#[test]
fn static_labels_cache_flag_and_instance_info() {
    let r = RedisServer::start(&[]);
    let body = format!(
        "poll_interval = \"1s\"\ntimeout = \"500ms\"\n\
         [[targets]]\nname = \"store\"\nurl = \"{}\"\ncache = false\n\
         labels = {{ team = \"checkout\", env = \"prod\" }}\n",
        r.url()
    );
    let e = Exporter::start(&body);
    let m = wait_for("store up", Duration::from_secs(20), || {
        let m = e.metrics();
        m.contains("redis_up{target=\"store\",env=\"prod\",team=\"checkout\"} 1")
            .then_some(m)
    });
    assert!(
        m.contains(
            "redis_target_info{target=\"store\",cache=\"false\",env=\"prod\",team=\"checkout\"} 1"
        ),
        "{m}"
    );
    assert!(m.contains("redis_up{target=\"store\",env=\"prod\",team=\"checkout\"} 1"));
    let info = m
        .lines()
        .find(|l| l.starts_with("redis_instance_info{"))
        .expect("instance info");
    assert!(
        info.contains("redis_version=\"7.")
            && info.contains("role=\"master\"")
            && info.contains("server=\"redis\""),
        "{info}"
    );
    // Every series but the exporter-wide ones (build info, reload status) carries the target.
    for line in m.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
        assert!(
            line.contains("target=\"store\"")
                || line.starts_with("redis_exporter_build_info")
                || line.starts_with("redis_exporter_config_last_reload"),
            "{line}"
        );
    }
}

#[test]
fn promtool_accepts_real_output() {
    let promtool = require_binary("promtool", "prometheus");
    let r = RedisServer::start(&["--maxmemory", "8mb", "--maxmemory-policy", "allkeys-lru"]);
    let down = RedisServer::start(&[]);
    let e = Exporter::start(&config(&[("live", &r), ("down", &down)]));
    let cmds: Vec<Vec<String>> = (0..50).map(|i| args(&["GET", &format!("k{i}")])).collect();
    r.pipeline(&cmds);
    drop(down);
    wait_up(&e, "down", 0.0);
    let m = wait_polls(&e, "live", 2.0);
    let out = std::process::Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(m.as_bytes())?;
            c.wait_with_output()
        })
        .expect("run promtool");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && report.trim().is_empty(),
        "promtool check metrics:\n{report}"
    );
}

#[test]
fn gzip_when_asked_and_health_and_status_page() {
    let r = RedisServer::start(&[]);
    let e = Exporter::start(&config(&[("c", &r)]));
    wait_up(&e, "c", 1.0);
    let body = gzip_body(e.port);
    assert_eq!(&body[..2], [0x1f, 0x8b], "a gzip body");
    let (status, body) = support::http_get(e.port, "/").unwrap();
    assert_eq!(status, 200);
    assert!(
        body.contains("<a href=\"/target/c\">c</a></td>") && body.contains(">up<"),
        "{body}"
    );
    let (status, _) = support::http_get(e.port, "/healthz").unwrap();
    assert_eq!(status, 200);
}

/// GET /metrics asking for gzip, on a connection of its own: the body as sent.
fn gzip_body(port: u16) -> Vec<u8> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    // HTTP/1.0: the body comes whole, not chunked, and ends with the connection.
    s.write_all(b"GET /metrics HTTP/1.0\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n")
        .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    assert!(head.contains("content-encoding: gzip"), "{head}");
    raw.split_off(split + 4)
}

/// Series lines in an exposition.
fn samples(text: &str) -> usize {
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .count()
}

#[test]
fn gzip_in_pieces_is_one_member_a_real_prometheus_reads_whole() {
    use std::io::Read;
    let r = RedisServer::start(&[]);
    // Enough targets that the families are deflated in several pieces.
    let mut c = String::from("poll_interval = \"1s\"\ntimeout = \"500ms\"\n");
    for i in 0..40 {
        c.push_str(&format!(
            "[[targets]]\nname = \"t{i:02}\"\nurl = \"{}\"\n",
            r.url()
        ));
    }
    let e = Exporter::start(&c);
    wait_up(&e, "t39", 1.0);
    let body = gzip_body(e.port);
    // Each piece ends on a sync flush: an empty stored block, 00 00 ff ff.
    let flushes = body.windows(4).filter(|w| *w == [0, 0, 0xff, 0xff]).count();
    assert!(flushes >= 2, "{flushes} pieces");
    let mut d = flate2::read::GzDecoder::new(&body[..]);
    let mut text = String::new();
    d.read_to_string(&mut text).expect("one valid gzip member");
    let mut rest = Vec::new();
    d.into_inner().read_to_end(&mut rest).unwrap();
    assert!(
        rest.is_empty(),
        "{} bytes after the gzip member",
        rest.len()
    );
    assert!(
        text.ends_with('\n') && text.contains("redis_up{target=\"t39\"} 1"),
        "{text}"
    );
    let prom = Prometheus::start(&PrometheusOptions {
        scrape_configs: scrape_job("redis", e.port),
        ..Default::default()
    });
    // Prometheus asks for gzip; every sample of a plain scrape at about the same time arrives.
    wait_for(
        "Prometheus scraping every sample of the gzip body",
        Duration::from_secs(30),
        || {
            let want = samples(&e.metrics());
            let got = prom.query("scrape_samples_scraped{job=\"redis\"}");
            let up = prom.query("count(redis_up{job=\"redis\"} == 1)");
            (got.first().map(|s| s.1) == Some(want as f64) && up.first().map(|s| s.1) == Some(40.0))
                .then_some(())
        },
    );
}
