//! Misbehaving targets next to a healthy one: a peer that accepts and never answers, a peer that
//! answers garbage, a refused port, a wrong password. Each gets `redis_up=0` with the right error
//! kind while the healthy target stays up and /metrics answers promptly. Also SIGTERM and JSON
//! logs. The fake peers are tiny TCP servers: no real Redis can misbehave this way.

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{Exporter, RedisServer, free_port, sample, wait_for};

/// Accepts connections and never answers (holds them open).
fn silent_peer() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in l.incoming().flatten() {
            held.push(s);
        }
    });
    port
}

/// Answers every read with `reply`.
fn scripted_peer(reply: &'static [u8]) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = s.read(&mut buf) {
                    if n == 0 || s.write_all(reply).is_err() {
                        break;
                    }
                }
            });
        }
    });
    port
}

fn errors(m: &str, target: &str, kind: &str) -> f64 {
    sample(
        m,
        &format!("redis_exporter_poll_errors_total{{target=\"{target}\",kind=\"{kind}\"}}"),
    )
    .unwrap_or(0.0)
}

#[test]
fn misbehaving_peers_are_classified_and_isolated() {
    let healthy = RedisServer::start(&[]);
    let auth = RedisServer::start(&["--requirepass", "right"]);
    let silent = silent_peer();
    let garbage = scripted_peer(b"HTTP/1.1 400 Bad Request\r\n\r\n");
    let huge = scripted_peer(b"$99999999999\r\nabc");
    let refused = free_port();
    let body = format!(
        "poll_interval = \"1s\"\ntimeout = \"300ms\"\n\
         [[targets]]\nname = \"healthy\"\nurl = \"{}\"\n\
         [[targets]]\nname = \"silent\"\nurl = \"redis://127.0.0.1:{silent}\"\n\
         [[targets]]\nname = \"garbage\"\nurl = \"redis://127.0.0.1:{garbage}\"\n\
         [[targets]]\nname = \"huge\"\nurl = \"redis://127.0.0.1:{huge}\"\n\
         [[targets]]\nname = \"refused\"\nurl = \"redis://127.0.0.1:{refused}\"\n\
         [[targets]]\nname = \"wrongpass\"\nurl = \"redis://:wrong@127.0.0.1:{}\"\n\
         [[targets]]\nname = \"nopass\"\nurl = \"{}\"\n",
        healthy.url(),
        auth.port,
        auth.url()
    );
    let e = Exporter::start(&body);
    let m = wait_for("every fault classified", Duration::from_secs(30), || {
        let m = e.metrics();
        let ok = sample(&m, "redis_up{target=\"healthy\"}") == Some(1.0)
            && errors(&m, "silent", "timeout") >= 1.0
            && errors(&m, "garbage", "protocol") + errors(&m, "garbage", "connect") >= 1.0
            && errors(&m, "huge", "timeout")
                + errors(&m, "huge", "protocol")
                + errors(&m, "huge", "connect")
                >= 1.0
            && errors(&m, "refused", "connect") >= 1.0
            && errors(&m, "wrongpass", "auth") >= 1.0
            && errors(&m, "nopass", "auth") >= 1.0;
        ok.then_some(m)
    });
    for t in [
        "silent",
        "garbage",
        "huge",
        "refused",
        "wrongpass",
        "nopass",
    ] {
        assert_eq!(
            sample(&m, &format!("redis_up{{target=\"{t}\"}}")),
            Some(0.0),
            "{t}"
        );
        assert!(
            !m.contains(&format!("redis_uptime_in_seconds{{target=\"{t}\"}}")),
            "{t} has no values"
        );
    }
    // The healthy target keeps being polled on time although the others hang or fail.
    let before = sample(&m, "redis_exporter_polls_total{target=\"healthy\"}").unwrap();
    std::thread::sleep(Duration::from_millis(3200));
    let started = Instant::now();
    let m = e.metrics();
    let scrape = started.elapsed();
    let after = sample(&m, "redis_exporter_polls_total{target=\"healthy\"}").unwrap();
    assert!(
        after - before >= 2.0,
        "healthy polls went from {before} to {after}"
    );
    assert_eq!(sample(&m, "redis_up{target=\"healthy\"}"), Some(1.0));
    assert!(scrape < Duration::from_secs(1), "/metrics took {scrape:?}");
    // The wrong password never shows up in the output.
    assert!(!m.contains("wrong@"));
}

#[test]
fn sigterm_exits_promptly_with_a_hung_target() {
    let silent = silent_peer();
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(
        &path,
        format!("listen = \"127.0.0.1:{port}\"\npoll_interval = \"2s\"\ntimeout = \"1s\"\n[[targets]]\nname = \"s\"\nurl = \"redis://127.0.0.1:{silent}\"\n"),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_redis-cache-exporter"))
        .arg("--config")
        .arg(&path)
        .args(["--log-format", "json"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for("exporter up", Duration::from_secs(10), || {
        support::http_get(port, "/healthz")
            .ok()
            .filter(|(s, _)| *s == 200)
    });
    std::thread::sleep(Duration::from_secs(3));
    let started = Instant::now();
    // SAFETY-free: send SIGTERM through the `kill` command.
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = wait_for(
        "exporter to exit after SIGTERM",
        Duration::from_secs(10),
        || child.try_wait().unwrap(),
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert!(exit.success(), "{exit:?}");
    let mut logs = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .unwrap();
    let lines: Vec<&str> = logs.lines().collect();
    assert!(!lines.is_empty());
    for l in &lines {
        let v: serde_json::Value =
            serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
        assert!(v.get("level").is_some() && v.get("fields").is_some(), "{l}");
    }
    assert!(logs.contains("Target down."), "{logs}");
    assert!(logs.contains("Shutting down."), "{logs}");
}

#[test]
fn invalid_config_is_refused_with_key_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "poll_interval = \"15s\"\n[[targets]]\nname = \"a\"\nurl = \"redis://x\"\npoll_intervall = \"1s\"\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_redis-cache-exporter"))
        .arg("--config")
        .arg(&path)
        .arg("--check-config")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("poll_intervall") && err.contains("line 5"),
        "{err}"
    );
    // An endless file is refused instead of read until memory runs out.
    let out = Command::new(env!("CARGO_BIN_EXE_redis-cache-exporter"))
        .args(["--check-config", "--config", "/dev/zero"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("/dev/zero") && err.contains("larger than"),
        "{err}"
    );
    let ok = Command::new(env!("CARGO_BIN_EXE_redis-cache-exporter"))
        .args([
            "--check-config",
            "--config",
            concat!(env!("CARGO_MANIFEST_DIR"), "/examples/config.toml"),
        ])
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
}
