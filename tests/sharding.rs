//! A sharded fleet end to end, with real processes: 200 Redis targets in one file_sd list, two
//! Prometheus shards that keep their `hashmod` share and scrape it through their own
//! scrape-only exporter's `/scrape`, the shipped rules on every shard, a global Prometheus
//! federating the shards' recording rules, and a reshard from two shards to three.
//!
//! The configurations are those `docs/scaling.md` shows, read from the page with addresses,
//! intervals, credentials and shard numbers filled in, so the page shows what runs here.
//!
//! Targets: nine redis-servers. Eight serve 25 (one 24) targets each, one per database
//! (`redis://127.0.0.1:PORT/DB`); the ninth is a cache at 70 % hits and one target. INFO
//! counters are server-wide, so every target of a server reports that server's hits and
//! misses; the exporter still counts each URL as a target of its own (its own poller,
//! connection and series). Redis itself says who polls what: each shard's exporter logs in as
//! its own ACL user, so CLIENT LIST tells which exporter holds each connection and which
//! database it selected, and MONITOR counts the INFO calls of each connection.
//!
//! Time is compressed as in `tests/alerting_e2e.rs` (`alerts/fast.sed`: a minute becomes a
//! second). Polls, scrapes and evaluations are 2 s apart: at 1 s, a debug-built exporter on a
//! busy 2-core machine missed its 0.5 s first-poll budget often enough to page `RedisDown`
//! (`for: 1m` becomes 1 s). Every wait is on a condition.

mod support;

#[path = "../examples/workload.rs"]
#[allow(dead_code)]
mod workload;

#[path = "support/traffic.rs"]
mod traffic;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use support::prometheus::{Prometheus, PrometheusOptions, fast_copy, url_encode};
use support::{Exporter, RedisServer, wait_for};
use traffic::Traffic;

/// Lookups per second, hit ratio and number of databases used as targets of each healthy
/// server. The busiest hits least, so the fleet ratio (sum of hits over sum of lookups) lies
/// well below the average of the per-target ratios. Healthy caches stay at 97 % or more: in the
/// fast rules' 5 s windows of a few samples, a scrape committed between the evaluation of two
/// rules of the group moves a ratio by several points (a 92 % cache showed 85 % once).
const HEALTHY: [(u32, &str, u32); 8] = [
    (400, "0.97", 25),
    (5, "1.0", 25),
    (5, "1.0", 25),
    (5, "1.0", 25),
    (5, "1.0", 25),
    (5, "1.0", 25),
    (5, "1.0", 25),
    (5, "1.0", 24),
];
/// The cache that should page: lookups per second and hit ratio, one target.
const BAD: (u32, &str) = (100, "0.70");
const TARGETS: usize = 200;
/// The exporters' poll interval, equal to the scrape and evaluation interval.
const POLL: Duration = Duration::from_secs(2);
/// `scrape.idle_timeout` of every exporter.
const IDLE: Duration = Duration::from_secs(6);
const PASSWORD: &str = "shard-secret";
const ALERT: &str = "RedisCacheHitRateLow";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// `text` with `from` replaced by `to`; panics when `from` is absent, so a changed page fails
/// loudly instead of running another configuration than it shows.
fn subst(text: &str, from: &str, to: &str) -> String {
    assert!(
        text.contains(from),
        "docs/scaling.md no longer contains {from:?}:\n{text}"
    );
    text.replace(from, to)
}

/// The body of the first fenced code block after the line `heading` in docs/scaling.md.
fn doc_block(heading: &str) -> String {
    let doc = std::fs::read_to_string(repo().join("docs/scaling.md")).expect("docs/scaling.md");
    let start = doc
        .lines()
        .position(|l| l == heading)
        .unwrap_or_else(|| panic!("docs/scaling.md has no line {heading:?}"));
    let mut lines = doc
        .lines()
        .skip(start + 1)
        .skip_while(|l| !l.starts_with("```"));
    lines.next();
    let body: Vec<&str> = lines.take_while(|l| !l.starts_with("```")).collect();
    assert!(!body.is_empty(), "no code block after {heading:?}");
    body.join("\n") + "\n"
}

/// The canonical URL of database `db` on `port`, as the exporter labels it.
fn url_of(port: u16, db: u32) -> String {
    match db {
        0 => format!("redis://127.0.0.1:{port}"),
        db => format!("redis://127.0.0.1:{port}/{db}"),
    }
}

/// MD5 (RFC 1321), which Prometheus's `hashmod` relabelling uses.
fn md5(data: &[u8]) -> [u8; 16] {
    const SHIFT: [u32; 16] = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];
    // K[i] = floor(|sin(i + 1)| * 2^32), exact in f64.
    let k: Vec<u32> = (0..64)
        .map(|i| ((f64::from(i) + 1.0).sin().abs() * 4_294_967_296.0) as u32)
        .collect();
    let mut msg = data.to_vec();
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&((data.len() as u64).wrapping_mul(8)).to_le_bytes());
    let mut state: [u32; 4] = [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476];
    for block in msg.chunks(64) {
        let m: Vec<u32> = block
            .chunks(4)
            .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
            .collect();
        let [mut a, mut b, mut c, mut d] = state;
        for i in 0..64 {
            let (f, g) = match i / 16 {
                0 => ((b & c) | (!b & d), i),
                1 => ((d & b) | (!d & c), (5 * i + 1) % 16),
                2 => (b ^ c ^ d, (3 * i + 5) % 16),
                _ => (c ^ (b | !d), (7 * i) % 16),
            };
            let f = f.wrapping_add(a).wrapping_add(k[i]).wrapping_add(m[g]);
            a = d;
            d = c;
            c = b;
            b = b.wrapping_add(f.rotate_left(SHIFT[(i / 16) * 4 + i % 4]));
        }
        for (s, v) in state.iter_mut().zip([a, b, c, d]) {
            *s = s.wrapping_add(v);
        }
    }
    let mut out = [0u8; 16];
    for (chunk, s) in out.chunks_mut(4).zip(state) {
        chunk.copy_from_slice(&s.to_le_bytes());
    }
    out
}

/// The shard `hashmod` puts `value` on: the last 8 bytes of its MD5, big-endian, modulo
/// `modulus` (Prometheus's `relabel.Hashmod`).
fn hashmod(value: &str, modulus: usize) -> usize {
    let h = md5(value.as_bytes());
    let tail = u64::from_be_bytes([h[8], h[9], h[10], h[11], h[12], h[13], h[14], h[15]]);
    (tail % modulus as u64) as usize
}

#[test]
fn md5_and_hashmod_match_the_reference() {
    let hex = |b: [u8; 16]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    assert_eq!(hex(md5(b"")), "d41d8cd98f00b204e9800998ecf8427e");
    assert_eq!(hex(md5(b"abc")), "900150983cd24fb0d6963f7d28e17f72");
    assert_eq!(
        hex(md5(
            b"12345678901234567890123456789012345678901234567890123456789012345678901234567890"
        )),
        "57edf4a22be3c955ac49da2e2107b67a"
    );
    // The last 8 bytes of md5("abc"), d6963f7d28e17f72, taken as a big-endian number.
    assert_eq!(hashmod("abc", 1 << 20), 0xd696_3f7d_28e1_7f72 % (1 << 20));
}

/// A redis-server, its targets and the traffic driving it.
struct Server {
    redis: RedisServer,
    dbs: u32,
    bad: bool,
}

impl Server {
    fn targets(&self) -> impl Iterator<Item = String> + '_ {
        (0..self.dbs).map(|db| url_of(self.redis.port, db))
    }
}

/// `INFO stats commandstats` of a server: (keyspace_hits, keyspace_misses, INFO calls).
fn counters(server: &RedisServer) -> (f64, f64, f64) {
    let info = server.cmd(&["INFO", "stats", "commandstats"]);
    let field = |name: &str| -> f64 {
        info.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split(',').next())
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0.0)
    };
    (
        field("keyspace_hits:"),
        field("keyspace_misses:"),
        field("cmdstat_info:calls="),
    )
}

/// One connection an exporter holds on a server: its address, selected database and user.
#[derive(Debug)]
struct Conn {
    addr: String,
    db: u32,
    user: String,
}

/// The connections of the shards' ACL users on `server`, from CLIENT LIST.
fn exporter_connections(server: &RedisServer) -> Vec<Conn> {
    server
        .cmd(&["CLIENT", "LIST"])
        .lines()
        .filter_map(|line| {
            let field = |k: &str| {
                line.split(' ')
                    .find_map(|f| f.strip_prefix(k)?.strip_prefix('='))
                    .map(str::to_string)
            };
            let user = field("user")?;
            user.starts_with("shard").then_some(())?;
            Some(Conn {
                addr: field("addr")?,
                db: field("db")?.parse().ok()?,
                user,
            })
        })
        .collect()
}

/// For every target, the ACL users of the exporter connections that poll it.
fn pollers(servers: &[Server]) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for s in servers {
        for c in exporter_connections(&s.redis) {
            out.entry(url_of(s.redis.port, c.db))
                .or_default()
                .push(c.user);
        }
    }
    out
}

/// INFO calls per client address that MONITOR shows on `port` with a time stamp in
/// `[from, to)` (Unix seconds), with the database the client had selected. Reads until the
/// wall clock passes `to`.
fn monitor_info_calls(port: u16, from: f64, to: f64) -> HashMap<String, (u32, u64)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect for MONITOR");
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    s.write_all(b"*1\r\n$7\r\nMONITOR\r\n")
        .expect("send MONITOR");
    let mut counts = HashMap::new();
    let mut pending: Vec<u8> = Vec::new();
    let mut chunk = [0u8; 65536];
    while unix_now() < to + 0.3 {
        match s.read(&mut chunk) {
            Ok(0) => panic!("redis on port {port} closed the MONITOR connection"),
            Ok(n) => pending.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                continue;
            }
            Err(e) => panic!("MONITOR on port {port}: {e}"),
        }
        while let Some(end) = pending.windows(2).position(|w| w == b"\r\n") {
            let line = String::from_utf8_lossy(&pending[..end]).into_owned();
            pending.drain(..end + 2);
            // +1733080000.123456 [5 127.0.0.1:40000] "info" "server" …
            let Some((stamp, rest)) = line.trim_start_matches('+').split_once(" [") else {
                continue;
            };
            let Some(((db, addr), command)) = rest
                .split_once("] ")
                .and_then(|(client, command)| Some((client.split_once(' ')?, command)))
            else {
                continue;
            };
            let at: f64 = stamp.parse().unwrap_or(0.0);
            let name = command.split(' ').next().unwrap_or("").trim_matches('"');
            if at >= from && at < to && name.eq_ignore_ascii_case("info") {
                let db = db.parse().unwrap_or(u32::MAX);
                counts.entry(addr.to_string()).or_insert((db, 0)).1 += 1;
            }
        }
    }
    counts
}

/// Per target, `(ACL user, INFO calls)` of every connection that sent INFO in a window of
/// `seconds` starting half a second from now. The user comes from CLIENT LIST before or after
/// the window; a connection in neither (opened and closed within it) counts as `(unknown)`.
fn info_calls_per_target(servers: &[Server], seconds: f64) -> BTreeMap<String, Vec<(String, u64)>> {
    let from = unix_now() + 0.5;
    let to = from + seconds;
    let mut users: Vec<HashMap<String, String>> = servers
        .iter()
        .map(|s| {
            exporter_connections(&s.redis)
                .into_iter()
                .map(|c| (c.addr, c.user))
                .collect()
        })
        .collect();
    let seen: Vec<HashMap<String, (u32, u64)>> = std::thread::scope(|scope| {
        let watchers: Vec<_> = servers
            .iter()
            .map(|s| {
                let port = s.redis.port;
                scope.spawn(move || monitor_info_calls(port, from, to))
            })
            .collect();
        watchers
            .into_iter()
            .map(|w| w.join().expect("MONITOR thread"))
            .collect()
    });
    let mut out: BTreeMap<String, Vec<(String, u64)>> = BTreeMap::new();
    for ((s, calls), users) in servers.iter().zip(seen).zip(&mut users) {
        users.extend(
            exporter_connections(&s.redis)
                .into_iter()
                .map(|c| (c.addr, c.user)),
        );
        for (addr, (db, n)) in calls {
            let user = users.get(&addr).map_or("(unknown)", String::as_str);
            out.entry(url_of(s.redis.port, db))
                .or_default()
                .push((format!("{user} {addr}"), n));
        }
    }
    out
}

/// Checks that every target was polled by one connection of the exporter `owner` names, once
/// per poll interval over a window of `seconds`; returns the mean INFO calls per target and
/// interval.
fn assert_one_poller_each(
    servers: &[Server],
    owner: &BTreeMap<String, usize>,
    seconds: f64,
) -> f64 {
    let calls = info_calls_per_target(servers, seconds);
    let intervals = seconds / POLL.as_secs_f64();
    let mut total = 0;
    for s in servers {
        for t in s.targets() {
            let want = format!("shard{}", owner[&t]);
            let got = calls.get(&t).cloned().unwrap_or_default();
            assert!(
                got.len() == 1 && got[0].0.starts_with(&format!("{want} ")),
                "{t}: INFO from {got:?}, expected one connection of {want}"
            );
            let n = got[0].1;
            // A window of W intervals holds W ± 1 ticks of a poller; two pollers would double it.
            assert!(
                (n as f64 - intervals).abs() <= 1.5,
                "{t}: {n} INFO calls in {intervals} poll intervals"
            );
            total += n;
        }
    }
    assert_eq!(calls.len(), TARGETS, "INFO from unknown targets: {calls:?}");
    total as f64 / (TARGETS as f64 * intervals)
}

/// What one measured window showed.
struct Window {
    /// INFO calls per target and poll interval, from MONITOR.
    polls: f64,
    /// INFO calls per target and poll interval of each server, from its cmdstat_info.
    cmdstat: Vec<f64>,
    /// The fleet hit ratio from the servers' own counters: hits over lookups, summed over
    /// targets (every target of a server reports that server's counters).
    truth: f64,
    /// The average of the per-target hit ratios, which a fleet ratio must not be.
    average_of_ratios: f64,
}

/// Checks that every target is polled by one connection of the exporter `owner` names, once
/// per interval, over `seconds`; with the servers' counters read around the window.
fn measure(servers: &[Server], owner: &BTreeMap<String, usize>, seconds: f64) -> Window {
    let before: Vec<(f64, f64, f64)> = servers.iter().map(|s| counters(&s.redis)).collect();
    let started = Instant::now();
    let polls = assert_one_poller_each(servers, owner, seconds);
    let after: Vec<(f64, f64, f64)> = servers.iter().map(|s| counters(&s.redis)).collect();
    let intervals = started.elapsed().as_secs_f64() / POLL.as_secs_f64();
    let (mut hits, mut lookups, mut ratios, mut cmdstat) = (0.0, 0.0, 0.0, Vec::new());
    for (s, (b, a)) in servers.iter().zip(before.iter().zip(&after)) {
        let n = f64::from(s.dbs);
        // The exporters' INFO calls, plus the first of our two; each poller makes one per
        // tick, and a window holds its length in intervals ± 1 ticks.
        let per_target = (a.2 - b.2 - 1.0) / (n * intervals);
        assert!(
            (per_target - 1.0).abs() <= 1.5 / intervals,
            "port {}: {per_target} INFO calls per target and interval over {intervals} intervals",
            s.redis.port
        );
        cmdstat.push(per_target);
        let (h, m) = (a.0 - b.0, a.1 - b.1);
        hits += n * h;
        lookups += n * (h + m);
        ratios += n * h / (h + m);
    }
    Window {
        polls,
        cmdstat,
        truth: hits / lookups,
        average_of_ratios: ratios / TARGETS as f64,
    }
}

/// Waits until the global holds every target's recording rules exactly once (a moved
/// target's copy from its old shard gone).
fn wait_federated_once(global: &Prometheus, all: &BTreeSet<String>, timeout: Duration) {
    wait_for(
        "the global holding each target's recording rules once",
        timeout,
        || {
            let mut seen: Vec<String> = by_target(global, "target:redis_keyspace_lookups:rate5m")
                .into_iter()
                .map(|(t, _)| t)
                .collect();
            seen.sort();
            (seen.len() == all.len() && seen.iter().eq(all.iter())).then_some(())
        },
    );
}

/// The value of `expr` on `p` at a moment when `p` holds the hit and lookup rates of `n`
/// targets, so that a failed scrape leaving one out cannot skew a sum.
fn complete(p: &Prometheus, expr: &str, n: usize) -> f64 {
    let guarded = format!(
        "({expr}) and on() (count(target:redis_keyspace_hits:rate5m) == {n}) \
         and on() (count(target:redis_keyspace_lookups:rate5m) == {n})"
    );
    wait_for(
        &format!("{expr} over {n} targets"),
        Duration::from_secs(20),
        || p.query(&guarded).first().map(|r| r.1),
    )
}

/// The fleet hit ratio on `p` over `n` targets (a ratio of sums) and the average of the
/// per-target ratios.
fn fleet_ratio(p: &Prometheus, n: usize) -> (f64, f64) {
    (
        complete(
            p,
            "sum(target:redis_keyspace_hits:rate5m) / sum(target:redis_keyspace_lookups:rate5m)",
            n,
        ),
        complete(
            p,
            "avg(target:redis_keyspace_hits_per_lookups:ratio_rate5m)",
            n,
        ),
    )
}

/// What docs/scaling.md shows, ready to run here.
struct Recipe {
    dir: tempfile::TempDir,
    exporter_toml: String,
    shard_jobs: String,
    global_jobs: String,
    rules: PathBuf,
    global_rules: PathBuf,
}

impl Recipe {
    fn new(servers: &[Server]) -> Recipe {
        let dir = tempfile::tempdir().expect("temp dir");
        let password = dir.path().join("password");
        std::fs::write(&password, PASSWORD).unwrap();
        let exporter_toml = doc_block("### The exporter of each shard");
        let exporter_toml = subst(&exporter_toml, "listen = \"0.0.0.0:9122\"\n", "");
        let exporter_toml = subst(
            &exporter_toml,
            "poll_interval = \"15s\"",
            // Compressed time leaves a poll little room: 90 % of the interval (5 s of 15 s by
            // default) keeps a loaded machine's slow poll from counting as a failure.
            &format!(
                "poll_interval = \"{}ms\"\ntimeout = \"{}ms\"",
                POLL.as_millis(),
                POLL.as_millis() * 9 / 10
            ),
        );
        let exporter_toml = subst(
            &exporter_toml,
            "idle_timeout = \"1m\"",
            &format!("idle_timeout = \"{}ms\"", IDLE.as_millis()),
        );
        let exporter_toml = subst(
            &exporter_toml,
            "redis://*.cache.internal:*",
            "redis://127.0.0.1:*",
        );
        let exporter_toml = subst(
            &exporter_toml,
            "/run/secrets/redis-exporter-password",
            &password.display().to_string(),
        );

        let shard = doc_block("### Each Prometheus shard");
        assert!(
            shard.contains("external_labels:\n    shard: \"0\"\n"),
            "{shard}"
        );
        assert!(shard.contains("redis-cache-health.rules.yml"), "{shard}");
        let (_, jobs) = shard
            .split_once("scrape_configs:\n")
            .expect("scrape_configs");
        let sd = dir.path().join("redis.json");
        let shard_jobs = subst(
            jobs,
            "/etc/prometheus/redis/*.json",
            &sd.display().to_string(),
        );

        let global = doc_block("### The global Prometheus");
        let (_, global_jobs) = global
            .split_once("scrape_configs:\n")
            .expect("scrape_configs");

        let rules = dir.path().join("redis-cache-health.rules.yml");
        let fast = fast_copy(&repo().join("alerts/redis-cache-health.rules.yml"));
        std::fs::write(&rules, &fast).unwrap();
        let global_rules = dir.path().join("redis-cache-federated-alerts.rules.yml");
        std::fs::write(&global_rules, federated_alerts(&fast, global_jobs)).unwrap();

        let urls: Vec<String> = servers.iter().flat_map(Server::targets).collect();
        assert_eq!(urls.len(), TARGETS);
        std::fs::write(&sd, serde_json::json!([{ "targets": urls }]).to_string()).unwrap();
        Recipe {
            dir,
            exporter_toml,
            shard_jobs,
            global_jobs: global_jobs.to_string(),
            rules,
            global_rules,
        }
    }

    /// The configuration of shard `k`'s exporter (its own ACL user).
    fn exporter(&self, k: usize) -> String {
        subst(
            &self.exporter_toml,
            "username = \"exporter\"",
            &format!("username = \"shard{k}\""),
        )
    }

    fn shard(&self, k: usize, modulus: usize, exporter_port: u16) -> PrometheusOptions {
        let jobs = subst(
            &self.shard_jobs,
            "modulus: 2 ",
            &format!("modulus: {modulus} "),
        );
        let jobs = subst(&jobs, "regex: \"0\" ", &format!("regex: \"{k}\" "));
        let jobs = subst(
            &jobs,
            "redis-cache-exporter-0:9122",
            &format!("127.0.0.1:{exporter_port}"),
        );
        PrometheusOptions {
            scrape_configs: jobs,
            rule_files: vec![self.rules.clone()],
            external_labels: vec![("shard".to_string(), k.to_string())],
            interval: format!("{}ms", POLL.as_millis()),
            ..Default::default()
        }
    }

    fn global(&self, shards: &[&Shard]) -> PrometheusOptions {
        let list: Vec<String> = shards
            .iter()
            .map(|s| format!("127.0.0.1:{}", s.prometheus.port))
            .collect();
        PrometheusOptions {
            scrape_configs: subst(
                &self.global_jobs,
                "[prometheus-shard-0:9090, prometheus-shard-1:9090]",
                &format!("[{}]", list.join(", ")),
            ),
            rule_files: vec![self.global_rules.clone()],
            interval: format!("{}ms", POLL.as_millis()),
            ..Default::default()
        }
    }
}

/// The alerts of the shipped (fast) rules built on recording rules, as one group, as the
/// page's `yq` command selects them; checks that the global federates every raw series they
/// join on.
fn federated_alerts(rules: &str, global_jobs: &str) -> String {
    let doc: serde_yaml::Value = serde_yaml::from_str(rules).expect("rules YAML");
    let alerts: Vec<serde_yaml::Value> = doc["groups"]
        .as_sequence()
        .expect("groups")
        .iter()
        .filter(|g| g["name"] == "redis-cache-health.alerts")
        .flat_map(|g| g["rules"].as_sequence().cloned().unwrap_or_default())
        .filter(|r| r["expr"].as_str().is_some_and(|e| e.contains("target:")))
        .collect();
    let names: Vec<&str> = alerts.iter().filter_map(|r| r["alert"].as_str()).collect();
    assert_eq!(
        names,
        [
            "RedisCacheHitRateLow",
            "RedisCacheMissesDominatedByCause",
            "RedisCacheEvictions"
        ]
    );
    for r in &alerts {
        let expr = r["expr"].as_str().unwrap_or_default();
        for word in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':')) {
            if word.starts_with("redis_") {
                assert!(
                    global_jobs.contains(word),
                    "{} joins on {word}, which the global does not federate",
                    r["alert"].as_str().unwrap_or_default()
                );
            }
        }
    }
    serde_yaml::to_string(&serde_json::json!({
        "groups": [{"name": "redis-cache-health.federated-alerts", "rules": alerts}]
    }))
    .expect("YAML")
}

/// A Prometheus shard and its exporter.
struct Shard {
    k: usize,
    exporter: Exporter,
    prometheus: Prometheus,
}

impl Shard {
    fn start(recipe: &Recipe, k: usize, modulus: usize) -> Shard {
        let config = recipe.exporter(k);
        check_config(recipe, &config);
        let exporter = Exporter::start(&config);
        let prometheus = Prometheus::start(&recipe.shard(k, modulus, exporter.port));
        Shard {
            k,
            exporter,
            prometheus,
        }
    }
}

/// `--check-config` accepts the scrape-only configuration and says so.
fn check_config(recipe: &Recipe, config: &str) {
    let path = recipe.dir.path().join("check.toml");
    std::fs::write(&path, config).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_redis-cache-exporter"))
        .arg("--config")
        .arg(&path)
        .arg("--check-config")
        .output()
        .expect("run the exporter");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("0 target(s) (/scrape only, 1 allow pattern(s))"),
        "--check-config on the shard's configuration: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The `target` label of every series of an instant query, with its value.
fn by_target(p: &Prometheus, promql: &str) -> Vec<(String, f64)> {
    p.query(promql)
        .into_iter()
        .map(|(labels, v)| (labels["target"].as_str().unwrap_or_default().to_string(), v))
        .collect()
}

/// For every target up on a shard, the shards it is up on.
fn placement(shards: &[&Shard]) -> BTreeMap<String, Vec<usize>> {
    let mut out: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for s in shards {
        for (t, _) in by_target(&s.prometheus, "redis_up{job=\"redis\"} == 1") {
            out.entry(t).or_default().push(s.k);
        }
    }
    out
}

/// Where `hashmod` with `modulus` puts every target.
fn expected_placement(all: &BTreeSet<String>, modulus: usize) -> BTreeMap<String, usize> {
    all.iter()
        .map(|t| (t.clone(), hashmod(t, modulus)))
        .collect()
}

/// Waits until every target is up on the one shard `want` names and on no other.
fn wait_placed(shards: &[&Shard], want: &BTreeMap<String, usize>, timeout: Duration) {
    let want: BTreeMap<String, Vec<usize>> =
        want.iter().map(|(t, k)| (t.clone(), vec![*k])).collect();
    let mut last = BTreeMap::new();
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        last = placement(shards);
        if last == want {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let wrong: Vec<_> = want
        .iter()
        .filter(|(t, k)| last.get(*t) != Some(k))
        .map(|(t, k)| (t, k, last.get(t)))
        .collect();
    panic!(
        "after {timeout:?}, targets not up on their hashmod shard alone (target, want, up on): \
         {wrong:?}"
    );
}

/// Waits until every target's series are on exactly one shard (a failed scrape can hide a
/// target's series for a moment); returns the series count of every target.
fn wait_series_partitioned(shards: &[&Shard], all: &BTreeSet<String>) -> Vec<f64> {
    let mut last = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let mut seen: BTreeMap<String, Vec<(usize, f64)>> = BTreeMap::new();
        for s in shards {
            let per_target = by_target(
                &s.prometheus,
                "count by (target) ({job=\"redis\", target!=\"\"})",
            );
            for (t, n) in per_target {
                seen.entry(t).or_default().push((s.k, n));
            }
        }
        if seen.keys().eq(all.iter()) && seen.values().all(|v| v.len() == 1) {
            return seen.values().map(|v| v[0].1).collect();
        }
        last = seen;
        std::thread::sleep(Duration::from_millis(100));
    }
    let missing: Vec<&String> = all.iter().filter(|t| !last.contains_key(*t)).collect();
    let shared: Vec<_> = last.iter().filter(|(_, v)| v.len() > 1).collect();
    panic!("series not on exactly one shard: missing {missing:?}, on two shards {shared:?}");
}

/// Targets of the alerts named `alert` in state `state` on `p`.
fn alerting(p: &Prometheus, alert: &str, state: &str) -> BTreeSet<String> {
    by_target(
        p,
        &format!("ALERTS{{alertname=\"{alert}\", alertstate=\"{state}\"}}"),
    )
    .into_iter()
    .map(|(t, _)| t)
    .collect()
}

/// Waits until `ALERT` fires for `target` on `p` (the Prometheus named `on`). The alert needs
/// every evaluation of its pending time to see the 5 s windows filled, so a loaded machine
/// can take several pending spells; on a timeout the message shows, second by second, which of
/// the alert's conditions held, so the failure says why.
fn wait_firing(p: &Prometheus, on: &str, target: &str) {
    let timeout = Duration::from_secs(120);
    let (start, deadline) = (unix_now(), Instant::now() + timeout);
    while !alerting(p, ALERT, "firing").contains(target) {
        if Instant::now() > deadline {
            let t = format!("{{target=\"{target}\"}}");
            let conditions = [
                format!(
                    "ALERTS{{alertname=\"{ALERT}\", alertstate=\"pending\", \
                     target=\"{target}\"}}"
                ),
                format!("target:redis_keyspace_hits_per_lookups:ratio_rate5m{t} < 0.90"),
                format!("target:redis_keyspace_lookups:rate5m{t} >= 1"),
                format!("redis_uptime_in_seconds{t} > 10"),
                format!("redis_target_info{t}"),
            ];
            let held: Vec<String> = conditions
                .iter()
                .map(|q| format!("{q}: {}", presence(p, q, start, unix_now())))
                .collect();
            panic!(
                "timed out after {timeout:?} waiting for {ALERT} firing for {target} on {on}; \
                 each condition over the wait, a 1 s step ('+' held, '.' absent):\n{}",
                held.join("\n")
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `promql` on `p` over `[from, to]` (Unix) at a 1 s step: '+' where it had a value, '.'
/// where not.
fn presence(p: &Prometheus, promql: &str, from: f64, to: f64) -> String {
    let v = p.api(&format!(
        "/api/v1/query_range?query={}&start={from:.3}&end={to:.3}&step=1",
        url_encode(promql)
    ));
    let at: BTreeSet<i64> = v["data"]["result"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| s["values"].as_array().cloned().unwrap_or_default())
        .filter_map(|x| x[0].as_f64())
        .map(|x| (x - from).round() as i64)
        .collect();
    (0..=((to - from) as i64))
        .map(|k| if at.contains(&k) { '+' } else { '.' })
        .collect()
}

/// Every alert series `p` has held since `since`: (alertname, target, alertstate).
fn alerts_since(p: &Prometheus, since: Instant) -> BTreeSet<(String, String, String)> {
    let range = since.elapsed().as_secs() + 2;
    p.query(&format!("last_over_time(ALERTS[{range}s])"))
        .into_iter()
        .map(|(l, _)| {
            let s = |k: &str| {
                l.get(k)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_string()
            };
            (s("alertname"), s("target"), s("alertstate"))
        })
        .collect()
}

/// Seconds in `[from, to]` (Unix) at which `promql` had no value on `p`, at a 1 s step.
fn seconds_absent(p: &Prometheus, promql: &str, from: f64, to: f64) -> usize {
    presence(p, promql, from, to).matches('.').count()
}

/// For each of `targets`, the widest gap (seconds) between two consecutive scrapes of it by
/// any of `shards` within `[from, to]` (Unix), from the time stamps of its `up` series.
fn scrape_gaps(shards: &[&Shard], targets: &[&String], from: f64, to: f64) -> Vec<f64> {
    let mut times: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for s in shards {
        let v = s.prometheus.api(&format!(
            "/api/v1/query_range?query={}&start={from:.3}&end={to:.3}&step=0.25",
            url_encode("timestamp(up{job=\"redis\"})")
        ));
        for series in v["data"]["result"].as_array().cloned().unwrap_or_default() {
            let t = series["metric"]["instance"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let at = series["values"].as_array().cloned().unwrap_or_default();
            times.entry(t).or_default().extend(
                at.iter()
                    .filter_map(|p| p[1].as_str()?.parse::<f64>().ok())
                    .filter(|x| *x >= from),
            );
        }
    }
    targets
        .iter()
        .map(|t| {
            let mut at = times.get(*t).cloned().unwrap_or_default();
            at.sort_by(f64::total_cmp);
            at.dedup();
            assert!(
                at.len() >= 2,
                "{t}: scraped {} times during the move",
                at.len()
            );
            at.windows(2).map(|w| w[1] - w[0]).fold(0.0, f64::max)
        })
        .collect()
}

/// The nine servers, one after the other (a port is taken as free a moment before the
/// process binds it, so concurrent starts could pick the same one), each with the ACL users
/// of three shards' exporters.
fn start_servers() -> Vec<Server> {
    let args = [
        "--maxmemory",
        "64mb",
        "--maxmemory-policy",
        "allkeys-lru",
        "--databases",
        "25",
    ];
    let servers: Vec<Server> = HEALTHY
        .iter()
        .map(|&(_, _, dbs)| (dbs, false))
        .chain([(1, true)])
        .map(|(dbs, bad)| Server {
            redis: RedisServer::start(&args),
            dbs,
            bad,
        })
        .collect();
    for s in &servers {
        for k in 0..3 {
            let (user, pass) = (format!("shard{k}"), format!(">{PASSWORD}"));
            let reply = s.redis.cmd(&[
                "ACL",
                "SETUSER",
                &user,
                "reset",
                "on",
                &pass,
                "-@all",
                "+info",
                "+config|get",
                "+select",
            ]);
            assert!(reply.starts_with("+OK"), "ACL SETUSER: {reply}");
        }
    }
    servers
}

/// The workload generator against every server, at its rate and hit ratio.
fn start_traffic(servers: &[Server]) -> Vec<Traffic> {
    let plan = HEALTHY.iter().map(|&(rate, ratio, _)| (rate, ratio));
    servers
        .iter()
        .zip(plan.chain([BAD]))
        .map(|(s, (rate, ratio))| {
            let rate = rate.to_string();
            let args = [
                "--hit-ratio",
                ratio,
                "--rate",
                &rate,
                "--keys",
                "2000",
                "--ttl",
                "10m",
            ];
            Traffic::start(&s.redis.url(), &args)
        })
        .collect()
}

#[test]
#[allow(
    clippy::too_many_lines,
    reason = "one end-to-end scenario, step by step: shards, federation, resharding"
)]
fn a_sharded_fleet_polls_each_target_once_federates_and_reshards() {
    let t0 = Instant::now();
    let servers = start_servers();
    let all: BTreeSet<String> = servers.iter().flat_map(Server::targets).collect();
    assert_eq!(all.len(), TARGETS, "distinct target URLs");
    let bad = servers.iter().find(|s| s.bad).unwrap().redis.url();
    let traffic = start_traffic(&servers);

    let recipe = Recipe::new(&servers);
    let shard0 = Shard::start(&recipe, 0, 2);
    let shard1 = Shard::start(&recipe, 1, 2);
    let global = Prometheus::start(&recipe.global(&[&shard0, &shard1]));
    let started = t0.elapsed();

    // Every target on exactly one shard, its series too, each polled by that shard's exporter
    // alone, once per interval.
    let two = [&shard0, &shard1];
    let owner2 = expected_placement(&all, 2);
    wait_placed(&two, &owner2, Duration::from_secs(30));
    let placed2 = t0.elapsed();
    let series = wait_series_partitioned(&two, &all);
    let per_shard: Vec<usize> = (0..2)
        .map(|k| owner2.values().filter(|&&s| s == k).count())
        .collect();
    let owners = wait_for(
        "one exporter connection per target",
        Duration::from_secs(10),
        || {
            let p = pollers(&servers);
            (p.len() == TARGETS && p.values().all(|u| u.len() == 1)).then_some(p)
        },
    );
    for (t, users) in &owners {
        assert_eq!(users, &[format!("shard{}", owner2[t])], "{t}");
    }
    let first = measure(&servers, &owner2, 5.0 * POLL.as_secs_f64());

    // The fleet hit ratio on the global: a ratio of sums over targets, as the servers counted.
    wait_federated_once(&global, &all, Duration::from_secs(20));
    let (global_ratio, global_average) = fleet_ratio(&global, TARGETS);
    let sum_on = |q: &str| -> f64 {
        two.iter()
            .map(|s| complete(&s.prometheus, q, per_shard[s.k]))
            .sum()
    };
    let shards_ratio = sum_on("sum(target:redis_keyspace_hits:rate5m)")
        / sum_on("sum(target:redis_keyspace_lookups:rate5m)");
    let (truth, average_of_ratios) = (first.truth, first.average_of_ratios);
    assert!(
        (average_of_ratios - truth).abs() > 0.02,
        "the workload cannot tell a ratio of sums from an average of ratios: {truth} vs \
         {average_of_ratios}"
    );
    assert!(
        (global_ratio - truth).abs() < 0.01,
        "fleet hit ratio on the global {global_ratio}, servers' counters {truth}"
    );
    assert!(
        (global_ratio - shards_ratio).abs() < 0.01,
        "global {global_ratio}, shards {shards_ratio}"
    );
    assert!(
        (global_average - average_of_ratios).abs() < 0.01,
        "{global_average} vs {average_of_ratios}"
    );

    // The 70 % cache pages on its shard and on the global, and nothing else does.
    let bad_shard = two[owner2[&bad]];
    wait_firing(&bad_shard.prometheus, "the bad target's shard", &bad);
    let fired_shard = t0.elapsed();
    wait_firing(&global, "the global", &bad);
    let fired_global = t0.elapsed();
    let only_bad = BTreeSet::from([bad.clone()]);
    for s in two {
        let want = if s.k == bad_shard.k {
            only_bad.clone()
        } else {
            BTreeSet::new()
        };
        assert_eq!(
            alerting(&s.prometheus, ALERT, "firing"),
            want,
            "shard {}",
            s.k
        );
    }
    assert_eq!(alerting(&global, ALERT, "firing"), only_bad, "global");
    let global_alert = global.query(&format!(
        "ALERTS{{alertname=\"{ALERT}\", alertstate=\"firing\"}}"
    ));
    assert_eq!(
        global_alert[0].0["shard"],
        bad_shard.k.to_string(),
        "{global_alert:?}"
    );
    assert_eq!(global_alert[0].0["severity"], "critical");

    // Reshard 2 → 3: the new shard first, scraping its share beside the old owners, then the
    // global, then modulus 3 on the old shards.
    let move_started = Instant::now();
    let move_unix = unix_now();
    let owner3 = expected_placement(&all, 3);
    let moved: Vec<&String> = all.iter().filter(|t| owner2[*t] != owner3[*t]).collect();
    let shard2 = Shard::start(&recipe, 2, 3);
    let share2: BTreeSet<String> = owner3
        .iter()
        .filter(|(_, k)| **k == 2)
        .map(|(t, _)| t.clone())
        .collect();
    wait_for(
        "the new shard scraping its share",
        Duration::from_secs(30),
        || {
            let up: BTreeSet<String> =
                by_target(&shard2.prometheus, "redis_up{job=\"redis\"} == 1")
                    .into_iter()
                    .map(|(t, _)| t)
                    .collect();
            (up == share2).then_some(())
        },
    );
    let new_shard_scraping = move_started.elapsed();
    let three = [&shard0, &shard1, &shard2];
    global.reload(&recipe.global(&three));
    let reloaded = Instant::now();
    for s in two {
        s.prometheus.reload(&recipe.shard(s.k, 3, s.exporter.port));
    }
    wait_placed(&three, &owner3, Duration::from_secs(30));
    let placed3 = reloaded.elapsed();
    let settled = wait_for(
        "one exporter connection per target after the move",
        Duration::from_secs(30),
        || {
            let p = pollers(&servers);
            let done =
                p.len() == TARGETS && p.iter().all(|(t, u)| u == &[format!("shard{}", owner3[t])]);
            done.then(|| reloaded.elapsed())
        },
    );
    let series3 = wait_series_partitioned(&three, &all);
    wait_federated_once(&global, &all, Duration::from_secs(30));
    let federated_once = reloaded.elapsed();
    let third = measure(&servers, &owner3, 4.0 * POLL.as_secs_f64());
    let (global_ratio3, _) = fleet_ratio(&global, TARGETS);
    assert!(
        (global_ratio3 - third.truth).abs() < 0.01,
        "fleet hit ratio on the global after the move {global_ratio3}, servers' counters {}",
        third.truth
    );
    let gaps = scrape_gaps(&three, &moved, move_unix, unix_now());
    let bad_moved = owner2[&bad] != owner3[&bad];
    let firing_on = |p: &Prometheus, shard: usize| {
        p.query(&format!(
            "ALERTS{{alertname=\"{ALERT}\", alertstate=\"firing\", target=\"{bad}\", \
             shard=\"{shard}\"}}"
        ))
        .len()
            == 1
    };
    let bad_home = three[owner3[&bad]];
    wait_for(
        "RedisCacheHitRateLow firing on the bad target's shard and the global after the move",
        Duration::from_secs(120),
        || {
            let on_shard = alerting(&bad_home.prometheus, ALERT, "firing").contains(&bad);
            (on_shard && firing_on(&global, bad_home.k)).then_some(())
        },
    );
    let firing =
        format!("count(ALERTS{{alertname=\"{ALERT}\", alertstate=\"firing\", target=\"{bad}\"}})");
    let now = unix_now();
    let gap_shard = seconds_absent(&bad_home.prometheus, &firing, move_unix, now);
    let gap_global = seconds_absent(&global, &firing, move_unix, now);
    // Over the whole run, on every Prometheus: no alert fires but the 70 % cache's. Pending
    // ones (a condition true at one evaluation) are counted for the report.
    let mut pending = Vec::new();
    for (name, p) in [
        ("shard 0", &shard0.prometheus),
        ("shard 1", &shard1.prometheus),
        ("shard 2", &shard2.prometheus),
        ("global", &global),
    ] {
        let (fired, held): (Vec<_>, Vec<_>) = alerts_since(p, t0)
            .into_iter()
            .filter(|(alert, target, _)| alert != ALERT || *target != bad)
            .partition(|(_, _, state)| state == "firing");
        assert!(
            fired.is_empty(),
            "{name}: alerts fired besides {ALERT} for {bad}: {fired:?}"
        );
        pending.extend(held.into_iter().map(|(a, t, _)| format!("{name}: {a} {t}")));
    }

    let mut sorted = series.clone();
    sorted.sort_by(f64::total_cmp);
    let widest = gaps.iter().copied().fold(0.0, f64::max);
    let skipped = gaps
        .iter()
        .filter(|g| **g > 1.5 * POLL.as_secs_f64())
        .count();
    eprintln!(
        "sharding: {TARGETS} targets on {} servers, shards started in {started:.1?}, every target \
         on its hashmod shard at {placed2:.1?} ({} + {}); series per target min/median/max \
         {}/{}/{}; INFO per target per interval {:.3} (MONITOR, 5 intervals), \
         cmdstat_info per target and interval by server {:.3?}; fleet hit ratio: global \
         {global_ratio:.4}, shards summed {shards_ratio:.4}, servers' counters {truth:.4}, \
         average of the per-target ratios {average_of_ratios:.4} (on the global \
         {global_average:.4}); {ALERT} for the 70 % cache firing on shard {} at \
         {fired_shard:.1?}, on the global at {fired_global:.1?}",
        servers.len(),
        per_shard[0],
        per_shard[1],
        sorted[0],
        sorted[sorted.len() / 2],
        sorted[sorted.len() - 1],
        first.polls,
        first.cmdstat,
        bad_shard.k,
    );
    eprintln!(
        "sharding: reshard 2 -> 3: {} of {TARGETS} targets moved; the new shard scraped its {} \
         {new_shard_scraping:.1?} after its start began; after the reloads, every target on its \
         shard alone in {placed3:.1?}, one exporter connection each in {settled:.1?} \
         (idle_timeout {IDLE:?}), each target's recording rules once on the global in \
         {federated_once:.1?}; INFO per target per interval then {:.3} (4 intervals), cmdstat_info \
         {:.3?}; fleet hit ratio on the global {global_ratio3:.4}, servers' counters {:.4}; \
         series on one shard each ({} targets); widest scrape gap of a moved target {widest:.2} s, \
         {skipped} moved targets with a gap over 1.5 intervals; the 70 % cache moved: \
         {bad_moved}, its {ALERT} not firing on its shard {} for {gap_shard} s and on the \
         global for {gap_global} s after the move began; pending, never firing, besides it: \
         {pending:?}; wall time {:.1?}",
        moved.len(),
        share2.len(),
        third.polls,
        third.cmdstat,
        third.truth,
        series3.len(),
        owner3[&bad],
        t0.elapsed(),
    );
    for t in traffic {
        let report = t.stop();
        assert!(report.lookups > 0, "{report:?}");
    }
}
