//! No leaks under reconnect churn: the exporter is reloaded from one quiet target to 400 failing
//! ones (a refused port, a peer that accepts and closes at once, and a peer that answers one poll
//! and then closes, so its target reconnects without growing backoff), polled every 50 ms, and
//! back again, twice. Measured from outside through /proc: open file descriptors and threads
//! return to the quiet baseline after each round, and resident memory does not grow from the
//! first round to the second.

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use support::{Exporter, free_port, sample, wait_for};

/// Accepts connections and closes them at once; counts them.
fn closing_peer(accepted: Arc<AtomicU64>) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming() {
            accepted.fetch_add(1, Ordering::Relaxed);
            drop(s);
        }
    });
    port
}

/// Answers INFO and CONFIG GET once per connection, then closes it; counts connections.
fn one_poll_peer(accepted: Arc<AtomicU64>) -> u16 {
    const INFO: &str = "# Server\r\nredis_version:7.0.15\r\nrun_id:leak\r\nuptime_in_seconds:5\r\n\
                        # Memory\r\nused_memory:1000\r\nmaxmemory:0\r\n\
                        maxmemory_policy:noeviction\r\n";
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            accepted.fetch_add(1, Ordering::Relaxed);
            std::thread::spawn(move || {
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                let mut seen = Vec::new();
                let mut buf = [0u8; 4096];
                let mut answered_info = false;
                while let Ok(n) = s.read(&mut buf) {
                    if n == 0 {
                        return;
                    }
                    seen.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&seen).to_ascii_uppercase();
                    if !answered_info && text.contains("INFO") {
                        answered_info = true;
                        let reply = format!("${}\r\n{INFO}\r\n", INFO.len());
                        if s.write_all(reply.as_bytes()).is_err() {
                            return;
                        }
                    }
                    if text.contains("CONFIG") {
                        let _ = s.write_all(b"*0\r\n");
                        return;
                    }
                }
            });
        }
    });
    port
}

fn fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("read /proc/<pid>/fd")
        .count()
}

/// A `kB` or count field of /proc/<pid>/status, e.g. `VmRSS` or `Threads`.
fn status(pid: u32, field: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

fn reload(e: &Exporter, body: &str) {
    std::fs::write(
        e.dir.path().join("config.toml"),
        format!("listen = \"127.0.0.1:{}\"\n{body}", e.port),
    )
    .unwrap();
    assert!(
        Command::new("kill")
            .args(["-HUP", &e.proc.pid().to_string()])
            .status()
            .unwrap()
            .success()
    );
}

#[derive(Debug, Clone, Copy)]
struct Usage {
    fds: usize,
    threads: u64,
    rss_kb: u64,
}

fn usage(pid: u32) -> Usage {
    Usage {
        fds: fds(pid),
        threads: status(pid, "Threads"),
        rss_kb: status(pid, "VmRSS"),
    }
}

/// Reconnects each churn round makes: enough for a leak per reconnect to show in /proc.
const CYCLES: u64 = 3000;

#[test]
fn reconnect_churn_leaks_no_fds_threads_or_memory() {
    let refused = free_port();
    let accepted = Arc::new(AtomicU64::new(0));
    let closing = closing_peer(accepted.clone());
    let one_poll = one_poll_peer(accepted.clone());
    let quiet = format!(
        "poll_interval = \"50ms\"\ntimeout = \"25ms\"\n[[targets]]\nname = \"quiet\"\n\
         url = \"redis://127.0.0.1:{refused}\"\n"
    );
    let mut churn = quiet.clone();
    for i in 0..150 {
        churn.push_str(&format!(
            "[[targets]]\nname = \"close{i}\"\nurl = \"redis://127.0.0.1:{closing}\"\n\
             [[targets]]\nname = \"once{i}\"\nurl = \"redis://127.0.0.1:{one_poll}\"\n"
        ));
    }
    for i in 0..100 {
        churn.push_str(&format!(
            "[[targets]]\nname = \"refused{i}\"\nurl = \"redis://127.0.0.1:{refused}\"\n"
        ));
    }
    let e = Exporter::start(&quiet);
    let pid = e.proc.pid();
    // Warm up the HTTP side and the allocator with the scrapes the test itself makes.
    for _ in 0..20 {
        e.metrics();
    }
    std::thread::sleep(Duration::from_millis(500));
    let base = usage(pid);
    eprintln!("baseline: {base:?}");

    let mut after = Vec::new();
    for round in 1..=2 {
        let accepted_before = accepted.load(Ordering::Relaxed);
        reload(&e, &churn);
        wait_for("400 targets", Duration::from_secs(10), || {
            let m = e.metrics();
            sample(&m, "redis_exporter_polls_total{target=\"refused99\"}").map(|_| ())
        });
        // Each round churns until it has made the same number of reconnects (about 8 s here),
        // so the two rounds compare; the deadline only stops a stalled exporter.
        let started = Instant::now();
        let mut peak = base;
        while accepted.load(Ordering::Relaxed) - accepted_before < CYCLES {
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "round {round}: only {} of {CYCLES} reconnects after {:?}",
                accepted.load(Ordering::Relaxed) - accepted_before,
                started.elapsed()
            );
            let u = usage(pid);
            peak.fds = peak.fds.max(u.fds);
            peak.rss_kb = peak.rss_kb.max(u.rss_kb);
            let m = e.metrics();
            assert!(m.contains("target=\"once149\""));
            std::thread::sleep(Duration::from_millis(200));
        }
        let (cycles, took) = (
            accepted.load(Ordering::Relaxed) - accepted_before,
            started.elapsed(),
        );
        reload(&e, &quiet);
        wait_for("churn targets removed", Duration::from_secs(10), || {
            (!e.metrics().contains("target=\"once0\"")).then_some(())
        });
        let settled = wait_for(
            "fds and threads back to baseline",
            Duration::from_secs(10),
            || {
                let u = usage(pid);
                (u.fds <= base.fds + 1 && u.threads <= base.threads).then_some(u)
            },
        );
        eprintln!(
            "round {round}: {cycles} accepted reconnects in {took:?}, peak {peak:?}, settled \
             {settled:?}"
        );
        after.push(settled);
    }
    // Memory: what the first round left may stay allocated, but a second identical round must
    // not add to it (4 MiB or 10% for allocator noise).
    let (r1, r2) = (after[0].rss_kb, after[1].rss_kb);
    assert!(
        r2 <= r1 + (r1 / 10).max(4096),
        "RSS grew from {r1} kB after round 1 to {r2} kB after round 2 (baseline {} kB)",
        base.rss_kb
    );
}
