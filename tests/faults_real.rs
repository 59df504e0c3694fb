//! Faults with real processes: Redis killed and restarted, paused (SIGSTOP) and resumed, blocked
//! by `DEBUG SLEEP` and by a busy script, still loading its dataset, an ACL user denied CONFIG, an
//! unresolvable host, and a connection reset in the middle of a reply (the fault proxy of
//! tests/support in front of a real Redis, since no real server resets mid-reply on demand).
//!
//! Each test runs the faulty target next to a healthy one and checks: the error kind, `redis_up`
//! of both targets on every scrape, that /metrics answers throughout, and that the target comes
//! back on its own once the fault ends. Only the expected kind may grow while a fault lasts.
//! That /metrics never waits for a poll is shown in `tests/faults.rs`; how fast it answers
//! while targets hang is measured by `bench/bench.py faults`.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use support::fault_proxy::{Fault, FaultProxy};
use support::{Exporter, Proc, RedisServer, free_port, sample, wait_for};

const KINDS: [&str; 5] = ["connect", "timeout", "auth", "protocol", "command"];

/// Poll fast so each fault shows within a second; the timeout is half the interval.
fn config(targets: &[(&str, String)]) -> String {
    let mut c = String::from("poll_interval = \"500ms\"\ntimeout = \"250ms\"\n");
    for (name, url) in targets {
        c.push_str(&format!(
            "[[targets]]\nname = \"{name}\"\nurl = \"{url}\"\n"
        ));
    }
    c
}

fn errors(m: &str, target: &str, kind: &str) -> f64 {
    sample(
        m,
        &format!("redis_exporter_poll_errors_total{{target=\"{target}\",kind=\"{kind}\"}}"),
    )
    .unwrap_or(0.0)
}

fn error_counts(m: &str, target: &str) -> [f64; 5] {
    KINDS.map(|k| errors(m, target, k))
}

fn up(m: &str, target: &str) -> Option<f64> {
    sample(m, &format!("redis_up{{target=\"{target}\"}}"))
}

/// One scrape, with the healthy target up.
fn scrape(e: &Exporter) -> String {
    let m = e.metrics();
    assert_eq!(
        up(&m, "healthy"),
        Some(1.0),
        "the healthy target stays up:\n{m}"
    );
    m
}

/// Waits (scraping every 50 ms) until `target` has `redis_up` = `want`.
fn wait_target(e: &Exporter, target: &str, want: f64, timeout: Duration) -> String {
    wait_for(&format!("redis_up of {target} = {want}"), timeout, || {
        let m = scrape(e);
        (up(&m, target) == Some(want)).then_some(m)
    })
}

/// Starts the exporter with the healthy target and `target`, and waits until both are up.
fn start(healthy: &RedisServer, target: &str, url: String) -> Exporter {
    let e = Exporter::start(&config(&[("healthy", healthy.url()), (target, url)]));
    wait_for("healthy up", Duration::from_secs(10), || {
        let m = e.metrics();
        (up(&m, "healthy") == Some(1.0)).then_some(())
    });
    e
}

/// Waits until `target` is down with errors of `kind`, then checks that kind alone grew since
/// `before` and keeps being the only one while the fault lasts (`hold`).
fn expect_fault(e: &Exporter, target: &str, kind: &str, before: [f64; 5], hold: Duration) {
    let i = KINDS.iter().position(|k| *k == kind).unwrap();
    wait_for(
        &format!("{target} down with kind {kind}"),
        Duration::from_secs(10),
        || {
            let m = scrape(e);
            (up(&m, target) == Some(0.0) && error_counts(&m, target)[i] > before[i]).then_some(())
        },
    );
    let until = Instant::now() + hold;
    while Instant::now() < until {
        let m = scrape(e);
        assert_eq!(
            up(&m, target),
            Some(0.0),
            "{target} stays down during the fault"
        );
        let now = error_counts(&m, target);
        for (j, k) in KINDS.iter().enumerate() {
            if j != i {
                assert_eq!(
                    now[j], before[j],
                    "{target}: only kind {kind} grows during the fault, but {k} went from {} to {}",
                    before[j], now[j]
                );
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Reconnecting backs off by doubling from 0.5 s up to 30 s (the cap for intervals under
/// 30 s): whatever a fault did to the backoff, the target is tried again within 30 s of the
/// fault's end and is up one poll (500 ms interval, 250 ms timeout) later. That is the protocol
/// bound; the targets here come back 0.01–2 s after faults of a few seconds.
const RECOVERY_BOUND: Duration = Duration::from_secs(32);

/// Time from `since` until `target` is up again, on its own, within [`RECOVERY_BOUND`].
fn recovery(e: &Exporter, target: &str, since: Instant) -> Duration {
    wait_target(e, target, 1.0, RECOVERY_BOUND);
    let took = since.elapsed();
    eprintln!("{target}: recovered {took:?} after the fault ended");
    assert!(took < RECOVERY_BOUND, "{target}: recovery took {took:?}");
    took
}

/// Sends one command on a fresh connection and returns its one-line reply (`+OK`, `-ERR …`).
fn cmd_on(port: u16, args: &[&str]) -> std::io::Result<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut req = format!("*{}\r\n", args.len());
    for a in args {
        req.push_str(&format!("${}\r\n{}\r\n", a.len(), a));
    }
    s.write_all(req.as_bytes())?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while !buf.ends_with(b"\r\n") {
        let n = s.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .expect("run kill")
        .success();
    assert!(ok, "kill {sig} {pid}");
}

#[test]
fn killed_and_restarted_redis_is_connect_then_recovers() {
    let healthy = RedisServer::start(&[]);
    let mut r = RedisServer::start(&[]);
    let e = start(&healthy, "victim", r.url());
    let m = wait_target(&e, "victim", 1.0, Duration::from_secs(10));
    let before = error_counts(&m, "victim");
    r.proc.kill();
    expect_fault(&e, "victim", "connect", before, Duration::from_secs(3));
    // After a few missed polls the last values are stale and no longer served as current.
    let m = scrape(&e);
    assert!(
        sample(&m, "redis_uptime_in_seconds{target=\"victim\"}").is_none(),
        "stale values still served:\n{m}"
    );
    assert!(
        sample(
            &m,
            "redis_exporter_last_poll_success_timestamp_seconds{target=\"victim\"}"
        )
        .is_some()
    );
    let back = Instant::now();
    r.restart();
    recovery(&e, "victim", back);
    // The restart is seen as a counter reset, not as negative increases.
    let m = scrape(&e);
    assert!(
        sample(
            &m,
            "redis_exporter_resets_detected_total{target=\"victim\"}"
        )
        .unwrap_or(0.0)
            >= 1.0,
        "{m}"
    );
}

#[test]
fn paused_redis_is_timeout_then_recovers_on_sigcont() {
    let healthy = RedisServer::start(&[]);
    let r = RedisServer::start(&[]);
    let e = start(&healthy, "paused", r.url());
    let m = wait_target(&e, "paused", 1.0, Duration::from_secs(10));
    let before = error_counts(&m, "paused");
    signal(r.proc.pid(), "-STOP");
    let fault = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        expect_fault(&e, "paused", "timeout", before, Duration::from_secs(3));
    }));
    signal(r.proc.pid(), "-CONT");
    if let Err(p) = fault {
        std::panic::resume_unwind(p);
    }
    recovery(&e, "paused", Instant::now());
}

#[test]
fn debug_sleep_longer_than_the_timeout_is_timeout_then_recovers() {
    let healthy = RedisServer::start(&[]);
    let r = RedisServer::start(&["--enable-debug-command", "yes"]);
    let e = start(&healthy, "sleepy", r.url());
    let m = wait_target(&e, "sleepy", 1.0, Duration::from_secs(10));
    let before = error_counts(&m, "sleepy");
    let port = r.port;
    let sleeper = std::thread::spawn(move || {
        let reply = cmd_on(port, &["DEBUG", "SLEEP", "3"]);
        (Instant::now(), reply)
    });
    expect_fault(&e, "sleepy", "timeout", before, Duration::from_millis(1500));
    let (woke, reply) = sleeper.join().unwrap();
    assert!(reply.unwrap().starts_with("+OK"));
    recovery(&e, "sleepy", woke);
}

#[test]
fn busy_script_is_command_and_keeps_the_connection() {
    let healthy = RedisServer::start(&[]);
    let r = RedisServer::start(&["--busy-reply-threshold", "100"]);
    let e = start(&healthy, "busy", r.url());
    let m = wait_target(&e, "busy", 1.0, Duration::from_secs(10));
    let before = error_counts(&m, "busy");
    let conns_before: u64 = r.info_field("total_connections_received").parse().unwrap();
    let port = r.port;
    let script = std::thread::spawn(move || cmd_on(port, &["EVAL", "while true do end", "0"]));
    let fault = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        expect_fault(&e, "busy", "command", before, Duration::from_secs(2));
    }));
    let killed = Instant::now();
    let kill = r.cmd(&["SCRIPT", "KILL"]);
    assert!(kill.starts_with("+OK"), "{kill}");
    if let Err(p) = fault {
        std::panic::resume_unwind(p);
    }
    assert!(
        script
            .join()
            .unwrap()
            .unwrap()
            .starts_with("-ERR Script killed")
    );
    // BUSY is an answer: no reconnect and no backoff, so the next poll (500 ms later) finds
    // the server free; 3 s is six intervals.
    let took = recovery(&e, "busy", killed);
    assert!(took < Duration::from_secs(3), "recovery took {took:?}");
    // BUSY is an answer: the exporter kept its connection (our own commands account for the rest:
    // EVAL, SCRIPT KILL and the second info_field).
    let conns_after: u64 = r.info_field("total_connections_received").parse().unwrap();
    assert_eq!(
        conns_after - conns_before,
        3,
        "the exporter did not reconnect"
    );
}

#[test]
fn loading_server_is_up_with_partial_keyspace_and_no_errors() {
    let healthy = RedisServer::start(&[]);
    // Write an RDB of 30k keys, then start a server that loads it slowly (100 µs per key, ~3 s)
    // and answers other clients while loading.
    let mut seed = RedisServer::start(&["--enable-debug-command", "yes"]);
    assert!(seed.cmd(&["DEBUG", "POPULATE", "30000"]).starts_with("+OK"));
    assert!(seed.cmd(&["SAVE"]).starts_with("+OK"));
    seed.proc.kill();
    let port = free_port();
    let bin = support::require_binary("redis-server", "redis-server");
    let mut cmd = Command::new(bin);
    cmd.args([
        "--port",
        &port.to_string(),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
    ])
    .arg("--dir")
    .arg(seed.dir.path())
    .args(["--key-load-delay", "100"])
    .args(["--loading-process-events-interval-bytes", "1024"])
    .stdout(std::process::Stdio::null());
    let _loading = Proc::spawn("redis-server", &mut cmd);
    let ping = || cmd_on(port, &["PING"]).unwrap_or_default();
    wait_for("LOADING replies", Duration::from_secs(5), || {
        ping().starts_with("-LOADING").then_some(())
    });
    let e = start(&healthy, "loading", format!("redis://127.0.0.1:{port}"));
    // INFO is allowed while loading: the target is up, with no error of any kind.
    let m = wait_target(&e, "loading", 1.0, Duration::from_secs(5));
    assert!(
        ping().starts_with("-LOADING"),
        "still loading when the exporter reported up"
    );
    assert_eq!(error_counts(&m, "loading"), [0.0; 5], "{m}");
    let partial = sample(&m, "redis_db_keys{target=\"loading\",db=\"db0\"}").unwrap_or(0.0);
    assert!(
        partial < 30000.0,
        "partial keyspace while loading: {partial}"
    );
    wait_for("loading done", Duration::from_secs(15), || {
        ping().starts_with("+PONG").then_some(())
    });
    let m = wait_for("all keys reported", Duration::from_secs(5), || {
        let m = scrape(&e);
        (sample(&m, "redis_db_keys{target=\"loading\",db=\"db0\"}") == Some(30000.0)).then_some(m)
    });
    assert_eq!(up(&m, "loading"), Some(1.0));
    assert_eq!(error_counts(&m, "loading"), [0.0; 5], "{m}");
}

#[test]
fn acl_user_denied_config_stays_up_and_config_is_sent_once() {
    let healthy = RedisServer::start(&[]);
    let r = RedisServer::start(&[]);
    let set = r.cmd(&["ACL", "SETUSER", "mon", "on", ">pw", "-@all", "+info"]);
    assert!(set.starts_with("+OK"), "{set}");
    let e = start(
        &healthy,
        "acl",
        format!("redis://mon:pw@127.0.0.1:{}", r.port),
    );
    let denied = || {
        let stats = r.info_field("cmdstat_config|get");
        stats
            .split(',')
            .find_map(|kv| kv.strip_prefix("rejected_calls="))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or_else(|| panic!("no rejected_calls in {stats}"))
    };
    wait_target(&e, "acl", 1.0, Duration::from_secs(10));
    support::wait_polls(&e, "acl", 4.0);
    let m = scrape(&e);
    assert_eq!(up(&m, "acl"), Some(1.0));
    assert_eq!(error_counts(&m, "acl"), [0.0; 5], "{m}");
    // INFO memory supplies what CONFIG would have.
    assert_eq!(
        sample(&m, "redis_memory_max_bytes{target=\"acl\"}"),
        Some(0.0)
    );
    assert_eq!(denied(), 1, "CONFIG GET sent once");
    // A new connection does not send it again either.
    assert!(r.cmd(&["CLIENT", "KILL", "USER", "mon"]).starts_with(':'));
    wait_target(&e, "acl", 0.0, Duration::from_secs(5));
    wait_target(&e, "acl", 1.0, Duration::from_secs(10));
    support::wait_polls(&e, "acl", 3.0);
    assert_eq!(denied(), 1, "CONFIG GET not sent again after reconnecting");
}

#[test]
fn unresolvable_host_is_connect_and_does_not_block_others() {
    let healthy = RedisServer::start(&[]);
    // Under the reserved `.invalid` TLD; the leading hyphen is not a valid host name label, so the
    // C library refuses it without asking any name server (no DNS traffic at all).
    let e = start(
        &healthy,
        "nowhere",
        "redis://-no-such-host-.invalid:6379".into(),
    );
    expect_fault(&e, "nowhere", "connect", [0.0; 5], Duration::from_secs(2));
}

#[test]
fn connection_reset_mid_reply_is_connect_then_recovers() {
    let healthy = RedisServer::start(&[]);
    let r = RedisServer::start(&[]);
    let proxy = FaultProxy::start(r.port);
    proxy.set(Fault::ResetMidReply);
    let e = start(&healthy, "reset", proxy.url());
    expect_fault(&e, "reset", "connect", [0.0; 5], Duration::from_secs(2));
    assert!(proxy.counters().cycles >= 1, "the proxy reset a connection");
    proxy.clear();
    recovery(&e, "reset", Instant::now());
}
