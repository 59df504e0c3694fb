//! Misbehaving targets next to a healthy one: a peer that accepts and never answers, a peer that
//! answers garbage, a refused port, a wrong password. Each gets `redis_up=0` with the right error
//! kind while the healthy target stays up. A poll that hangs holds up neither /metrics nor the
//! other targets' polls, nor the exit on SIGTERM; JSON logs. The fake peers are tiny TCP servers:
//! no real Redis can misbehave this way.

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use support::{Exporter, RedisServer, free_port, sample, wait_for};

/// A peer that accepts connections, reads what it is sent and never answers.
struct SilentPeer {
    port: u16,
    /// Connections on which a request arrived: each is a call the exporter is waiting on
    /// until its timeout.
    requests: Arc<AtomicUsize>,
}

impl SilentPeer {
    fn start() -> SilentPeer {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let requests = Arc::new(AtomicUsize::new(0));
        let counted = requests.clone();
        std::thread::spawn(move || {
            for mut s in l.incoming().flatten() {
                let counted = counted.clone();
                std::thread::spawn(move || {
                    let mut buf = [0u8; 4096];
                    if matches!(s.read(&mut buf), Ok(n) if n > 0) {
                        counted.fetch_add(1, Ordering::SeqCst);
                    }
                    // Held open, unanswered, until the exporter gives up on it.
                    while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
                });
            }
        });
        SilentPeer { port, requests }
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
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
    let silent = SilentPeer::start().port;
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
    // The healthy target keeps being polled although the others hang or fail.
    let m = support::wait_polls(&e, "healthy", 2.0);
    assert_eq!(sample(&m, "redis_up{target=\"healthy\"}"), Some(1.0));
    // The wrong password never shows up in the output.
    assert!(!m.contains("wrong@"));
}

/// While the first call to a peer that never answers is pending, the healthy target is polled
/// twice and /metrics answers without an outcome for the hung target: neither waited for the
/// call. No clock is read; the bound is the hung call's own timeout (9 s), against the two
/// seconds the two polls take.
#[test]
fn a_hung_poll_holds_up_neither_metrics_nor_other_targets() {
    let healthy = RedisServer::start(&[]);
    let hung = SilentPeer::start();
    let e = Exporter::start(&format!(
        "poll_interval = \"1s\"\n\
         [[targets]]\nname = \"healthy\"\nurl = \"{}\"\n\
         [[targets]]\nname = \"hung\"\nurl = \"redis://127.0.0.1:{}\"\n\
         poll_interval = \"10s\"\ntimeout = \"9s\"\n",
        healthy.url(),
        hung.port
    ));
    // The first poll of `hung` starts within its interval (a per-name offset).
    wait_for(
        "the first poll of hung to reach its peer",
        Duration::from_secs(20),
        || (hung.requests() > 0).then_some(()),
    );
    let hung_polls = "redis_exporter_polls_total{target=\"hung\"}";
    let m = support::wait_polls(&e, "healthy", 2.0);
    assert_eq!(sample(&m, "redis_up{target=\"healthy\"}"), Some(1.0), "{m}");
    assert_eq!(
        sample(&m, hung_polls).unwrap_or(0.0),
        0.0,
        "the hung call was over before its 9 s timeout, or /metrics waited for it:\n{m}"
    );
    assert_eq!(
        hung.requests(),
        1,
        "one call to the hung peer, still pending"
    );
    // Once its timeout passes, the hung poll is counted: the series checked above is the one
    // that would have shown it.
    wait_for(
        "the hung poll to time out and be counted",
        Duration::from_secs(20),
        || {
            let m = e.metrics();
            (sample(&m, hung_polls) == Some(1.0)
                && sample(
                    &m,
                    "redis_exporter_poll_errors_total{target=\"hung\",kind=\"timeout\"}",
                ) == Some(1.0))
            .then_some(())
        },
    );
}

#[test]
fn sigterm_exits_promptly_with_a_hung_target() {
    // `s` fails its polls after 1 s (and logs it); a call to `h` is pending when SIGTERM comes.
    let silent = SilentPeer::start();
    let hung = SilentPeer::start();
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(
        &path,
        format!(
            "listen = \"127.0.0.1:{port}\"\npoll_interval = \"2s\"\ntimeout = \"1s\"\n\
             [[targets]]\nname = \"s\"\nurl = \"redis://127.0.0.1:{}\"\n\
             [[targets]]\nname = \"h\"\nurl = \"redis://127.0.0.1:{}\"\n\
             poll_interval = \"10s\"\ntimeout = \"9s\"\n",
            silent.port, hung.port
        ),
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
    wait_for(
        "s down and a call to h pending",
        Duration::from_secs(20),
        || {
            let (_, m) = support::http_get(port, "/metrics").ok()?;
            (sample(&m, "redis_up{target=\"s\"}") == Some(0.0)
                && hung.requests() > 0
                && sample(&m, "redis_exporter_polls_total{target=\"h\"}").unwrap_or(0.0) == 0.0)
                .then_some(())
        },
    );
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
    // In-flight HTTP requests get at most the 4 s shutdown grace and pollers are stopped at
    // once, so the exit takes milliseconds; 5 s is that protocol bound (the grace plus a
    // second), far above what it takes.
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
    // The pending call to `h` was not waited for: its 9 s timeout never passed.
    let down = |target: &str| {
        lines.iter().any(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["fields"]["target_name"] == target && v["fields"]["message"] == "Target down."
        })
    };
    assert!(down("s"), "{logs}");
    assert!(
        !down("h"),
        "the exit waited for the hung call to h:\n{logs}"
    );
}

#[test]
fn invalid_config_is_refused_with_key_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "poll_interval = \"15s\"\n[[targets]]\nname = \"a\"\n\
         url = \"redis://x\"\npoll_intervall = \"1s\"\n",
    )
    .unwrap();
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
