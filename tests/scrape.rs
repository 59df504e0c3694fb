//! The multi-target endpoint `/scrape?target=URL` against real redis-servers: the first scrape
//! returns data, repeated scrapes reuse one connection and get windows, only the asked target's
//! series are served, statuses for bad, refused and disabled requests, credentials matched by
//! URL pattern, idle expiry, Prometheus's scrape timeout header against a silent peer, and a real
//! Prometheus with file_sd scraping three targets through the endpoint.

mod support;

use std::net::TcpListener;
use std::time::{Duration, Instant};

use support::prometheus::{Prometheus, PrometheusOptions, url_encode};
use support::{Exporter, RedisServer, http_exchange, http_get, sample, wait_for};

/// GET /scrape?target=… with optional extra headers; returns (status, body).
fn scrape_with(e: &Exporter, target: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let path = format!("/scrape?target={}", url_encode(target));
    http_exchange(e.port, "GET", &path, headers, "", Duration::from_secs(30)).expect("GET /scrape")
}

fn scrape(e: &Exporter, target: &str) -> (u16, String) {
    scrape_with(e, target, &[])
}

fn scrape_ok(e: &Exporter, target: &str) -> String {
    let (status, body) = scrape(e, target);
    assert_eq!(status, 200, "/scrape?target={target}: {body}");
    body
}

fn int_field(r: &RedisServer, field: &str) -> u64 {
    r.info_field(field)
        .parse()
        .unwrap_or_else(|_| panic!("{field} is not a number"))
}

/// Every distinct `target` label value in an exposition.
fn targets_in(body: &str) -> Vec<String> {
    let mut out: Vec<String> = body
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let start = l.find("target=\"")? + 8;
            let end = l[start..].find('"')? + start;
            Some(l[start..end].to_string())
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

#[test]
fn first_scrape_returns_data_later_scrapes_reuse_the_poller() {
    let configured = RedisServer::start(&[]);
    let other = RedisServer::start(&[]);
    let e = Exporter::start(&format!(
        "poll_interval = \"1s\"\n[scrape]\nallow = [\"redis://127.0.0.1:*\"]\n\
         [[targets]]\nname = \"configured\"\nurl = \"{}\"\nlabels = {{ team = \"web\" }}\n",
        configured.url()
    ));
    let target = format!("redis://127.0.0.1:{}", other.port);
    let before = int_field(&other, "total_connections_received");

    // The first scrape waits for the target's first poll (how long it takes is measured by
    // `bench/bench.py faults`), so it carries data.
    let first = scrape_ok(&e, &format!("127.0.0.1:{}", other.port));
    assert_eq!(
        sample(&first, &format!("redis_up{{target=\"{target}\"}}")),
        Some(1.0),
        "{first}"
    );
    assert!(
        sample(
            &first,
            &format!("redis_uptime_in_seconds{{target=\"{target}\"}}")
        )
        .is_some(),
        "{first}"
    );
    assert_eq!(
        targets_in(&first),
        vec![target.clone()],
        "only the asked target"
    );
    assert!(!first.contains("redis_exporter_build_info"), "{first}");

    // Repeated scrapes over a few polls: one connection, and the windows appear.
    let window = format!("redis_cache_lookups_per_second{{target=\"{target}\",window=\"1m\"}}");
    let later = wait_for("1m window in /scrape", Duration::from_secs(10), || {
        let b = scrape_ok(&e, &target);
        sample(&b, &window).map(|_| b)
    });
    let polls = sample(
        &later,
        &format!("redis_exporter_polls_total{{target=\"{target}\"}}"),
    )
    .unwrap();
    assert!(polls >= 2.0, "{later}");
    let after = int_field(&other, "total_connections_received");
    // The second INFO call of the test opened one connection; the exporter exactly one.
    let ours = 1;
    assert_eq!(
        after - before,
        1 + ours,
        "the exporter reuses its connection across scrapes"
    );

    // The configured target through /scrape: its name and static labels, served from its
    // own poller (no second connection, the same poll count as /metrics).
    let before = int_field(&configured, "total_connections_received");
    let c = scrape_ok(&e, &configured.url());
    assert_eq!(
        sample(&c, "redis_up{target=\"configured\",team=\"web\"}"),
        Some(1.0),
        "{c}"
    );
    assert_eq!(targets_in(&c), vec!["configured".to_string()]);
    let polls = "redis_exporter_polls_total{target=\"configured\",team=\"web\"}";
    wait_for(
        "the same poll in /scrape and /metrics",
        Duration::from_secs(5),
        || {
            let (s, m) = (scrape_ok(&e, &configured.url()), e.metrics());
            (sample(&s, polls).is_some() && sample(&s, polls) == sample(&m, polls)).then_some(())
        },
    );
    // Over two more polls, only the test's own INFO connection is new.
    let seen = sample(&e.metrics(), polls).expect("polls of the configured target");
    wait_for(
        "two more polls of the configured target",
        Duration::from_secs(20),
        || (sample(&e.metrics(), polls)? >= seen + 2.0).then_some(()),
    );
    scrape_ok(&e, &configured.url());
    assert_eq!(
        int_field(&configured, "total_connections_received") - before,
        1,
        "a configured target scraped through /scrape must not get a second connection"
    );
    // /metrics still serves configured targets only.
    assert_eq!(targets_in(&e.metrics()), vec!["configured".to_string()]);
}

#[test]
fn statuses_for_bad_refused_and_disabled_requests() {
    let r = RedisServer::start(&[]);
    // Default allowlist: the configured targets only.
    let e = Exporter::start(&format!(
        "poll_interval = \"1s\"\n[[targets]]\nname = \"a\"\nurl = \"{}\"\n",
        r.url()
    ));
    assert_eq!(scrape(&e, &r.url()).0, 200);
    assert_eq!(
        http_get(e.port, "/scrape").unwrap().0,
        400,
        "missing target"
    );
    assert_eq!(scrape(&e, "").0, 400, "empty target");
    assert_eq!(scrape(&e, "http://127.0.0.1:80").0, 400, "wrong scheme");
    assert_eq!(scrape(&e, "redis://127.0.0.1:99999").0, 400, "bad port");
    let (status, body) = scrape(&e, &format!("redis://:pw@127.0.0.1:{}", r.port));
    assert_eq!(status, 400, "credentials in the query string: {body}");
    assert!(body.contains("scrape.credentials"), "{body}");
    assert!(!body.contains("pw@"), "{body}");
    let (status, body) = scrape(&e, &format!("redis://127.0.0.1:{}", r.port + 1));
    assert_eq!(status, 403, "not in the default allowlist: {body}");
    assert_eq!(scrape(&e, "redis://10.0.0.1:6379").0, 403);

    let flag = Exporter::start_with(
        &format!("[[targets]]\nname = \"a\"\nurl = \"{}\"\n", r.url()),
        &["--no-scrape-endpoint"],
    );
    assert_eq!(scrape(&flag, &r.url()).0, 404, "--no-scrape-endpoint");
    let key = Exporter::start(&format!(
        "[scrape]\nenabled = false\n[[targets]]\nname = \"a\"\nurl = \"{}\"\n",
        r.url()
    ));
    assert_eq!(scrape(&key, &r.url()).0, 404, "scrape.enabled = false");
}

#[test]
fn credentials_matched_by_url_pattern() {
    let guarded = RedisServer::start(&["--requirepass", "s3cret"]);
    let unmatched = RedisServer::start(&["--requirepass", "other"]);
    let seed = RedisServer::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "s3cret\n").unwrap();
    let e = Exporter::start(&format!(
        "poll_interval = \"1s\"\n[scrape]\nallow = [\"redis://127.0.0.1:*\"]\n\
         [[scrape.credentials]]\npattern = \"redis://127.0.0.1:{}\"\npassword_file = \"{}\"\n\
         [[targets]]\nname = \"seed\"\nurl = \"{}\"\n",
        guarded.port,
        pw.display(),
        seed.url()
    ));
    let t = format!("redis://127.0.0.1:{}", guarded.port);
    let b = scrape_ok(&e, &t);
    assert_eq!(
        sample(&b, &format!("redis_up{{target=\"{t}\"}}")),
        Some(1.0),
        "{b}"
    );
    let u = format!("redis://127.0.0.1:{}", unmatched.port);
    let b = scrape_ok(&e, &u);
    assert_eq!(
        sample(&b, &format!("redis_up{{target=\"{u}\"}}")),
        Some(0.0),
        "{b}"
    );
    assert_eq!(
        sample(
            &b,
            &format!("redis_exporter_poll_errors_total{{target=\"{u}\",kind=\"auth\"}}")
        ),
        Some(1.0),
        "{b}"
    );
}

#[test]
fn idle_targets_expire() {
    let r = RedisServer::start(&[]);
    let seed = RedisServer::start(&[]);
    let e = Exporter::start(&format!(
        "poll_interval = \"500ms\"\n[scrape]\nallow = [\"redis://127.0.0.1:*\"]\n\
         idle_timeout = \"1s\"\n\
         [[targets]]\nname = \"seed\"\nurl = \"{}\"\n",
        seed.url()
    ));
    let t = format!("redis://127.0.0.1:{}", r.port);
    scrape_ok(&e, &t);
    // The test's own INFO connection is one client; the exporter's is the other.
    assert_eq!(int_field(&r, "connected_clients"), 2);
    let before = int_field(&r, "total_connections_received");
    wait_for(
        "the idle on-demand poller to close its connection",
        Duration::from_secs(5),
        || (int_field(&r, "connected_clients") == 1).then_some(()),
    );
    // Scraped again: a new poller, a new connection, a fresh history.
    let b = scrape_ok(&e, &t);
    assert_eq!(
        sample(&b, &format!("redis_exporter_polls_total{{target=\"{t}\"}}")),
        Some(1.0),
        "{b}"
    );
    let after = int_field(&r, "total_connections_received");
    assert!(
        after >= before + 2,
        "a new connection after expiry ({before} -> {after})"
    );
}

#[test]
fn scrape_timeout_header_bounds_the_first_scrape() {
    // A peer that accepts connections and never answers.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in silent.incoming().flatten() {
            held.push(s);
        }
    });
    let seed = RedisServer::start(&[]);
    let e = Exporter::start(&format!(
        "poll_interval = \"30s\"\ntimeout = \"10s\"\n[scrape]\nallow = [\"redis://127.0.0.1:*\"]\n\
         [[targets]]\nname = \"seed\"\nurl = \"{}\"\n",
        seed.url()
    ));
    let t = format!("redis://127.0.0.1:{port}");
    let started = Instant::now();
    let (status, body) = scrape_with(&e, &t, &[("X-Prometheus-Scrape-Timeout-Seconds", "1.5")]);
    let took = started.elapsed();
    assert_eq!(status, 200, "{body}");
    // Protocol bounds, not speed: the first poll is waited for until the header's 1.5 s minus
    // the exporter's 0.5 s margin (so not answered before about 1 s), and the answer must
    // arrive before Prometheus's own timeout (1.5 s), after which it would be thrown away. The
    // render after the wait takes milliseconds, far inside the margin.
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_millis(1500),
        "answered within the header's timeout minus the margin: {took:?}"
    );
    assert_eq!(
        sample(&body, &format!("redis_up{{target=\"{t}\"}}")),
        Some(0.0),
        "{body}"
    );
}

#[test]
fn prometheus_file_sd_scrapes_three_targets_through_the_endpoint() {
    let servers: Vec<RedisServer> = (0..3).map(|_| RedisServer::start(&[])).collect();
    let e = Exporter::start(&format!(
        "poll_interval = \"1s\"\n[scrape]\nallow = [\"redis://127.0.0.1:*\"]\n\
         [[targets]]\nname = \"seed\"\nurl = \"{}\"\n",
        servers[0].url()
    ));
    let sd_dir = tempfile::tempdir().unwrap();
    let sd = sd_dir.path().join("redis.json");
    let list: Vec<String> = servers
        .iter()
        .map(|s| format!("\"redis://127.0.0.1:{}\"", s.port))
        .collect();
    std::fs::write(
        &sd,
        format!(
            "[{{\"targets\": [{}], \"labels\": {{\"env\": \"test\"}}}}]",
            list.join(", ")
        ),
    )
    .unwrap();
    let job = format!(
        "  - job_name: redis\n    metrics_path: /scrape\n    file_sd_configs:\n      - files: \
         [\"{}\"]\n        refresh_interval: 1s\n    relabel_configs:\n      - source_labels: \
         [__address__]\n        target_label: __param_target\n      - source_labels: \
         [__param_target]\n        target_label: instance\n      - target_label: \
         __address__\n        replacement: 127.0.0.1:{}\n",
        sd.display(),
        e.port
    );
    let prom = Prometheus::start(&PrometheusOptions {
        scrape_configs: job,
        ..Default::default()
    });
    let rows = wait_for(
        "redis_up of three targets in Prometheus",
        Duration::from_secs(20),
        || {
            let rows = prom.query("redis_up{job=\"redis\"} == 1");
            (rows.len() == 3).then_some(rows)
        },
    );
    let mut seen: Vec<(String, String)> = rows
        .iter()
        .map(|(l, _)| {
            (
                l["instance"].as_str().unwrap_or_default().to_string(),
                l["target"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    seen.sort();
    let mut want: Vec<(String, String)> = servers
        .iter()
        .map(|s| {
            let name = if s.port == servers[0].port {
                "seed".to_string()
            } else {
                format!("redis://127.0.0.1:{}", s.port)
            };
            (format!("redis://127.0.0.1:{}", s.port), name)
        })
        .collect();
    want.sort();
    assert_eq!(seen, want, "{}", prom.log());
    // Each scrape carries only its own target: no series ends up under another instance.
    let mixed = prom.query("count by (instance) (redis_up{job=\"redis\"}) > 1");
    assert!(mixed.is_empty(), "{mixed:?}");
}
