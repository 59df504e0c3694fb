//! Network faults made by the fault proxy (tests/support/fault_proxy.rs) in front of real
//! redis-servers: reply latency, a stall mid-reply, a drip-feed, a reset after the request (and
//! mid-reply) and a half-open connection.
//!
//! First the proxy itself, seen by a plain client: each fault does what the exporter tests rely
//! on.

mod support;

use std::time::{Duration, Instant};

use support::fault_proxy::{Fault, FaultProxy};
use support::{RedisServer, wait_for};

/// Sends one command over `s` as RESP.
fn send(s: &mut std::net::TcpStream, args: &[&str]) {
    use std::io::Write;
    let mut req = format!("*{}\r\n", args.len());
    for a in args {
        req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    s.write_all(req.as_bytes()).expect("write to the proxy");
}

/// Reads what arrives within `wait` (one read): the bytes, or the error.
fn read_within(s: &mut std::net::TcpStream, wait: Duration) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    s.set_read_timeout(Some(wait))?;
    let mut buf = vec![0u8; 64 << 10];
    let n = s.read(&mut buf)?;
    buf.truncate(n);
    Ok(buf)
}

/// Reads until `got` holds one whole bulk reply (`$N\r\n` and N bytes).
fn read_bulk(s: &mut std::net::TcpStream, got: &mut Vec<u8>) {
    let whole = |b: &[u8]| {
        let text = String::from_utf8_lossy(b);
        let (head, _) = text.split_once("\r\n")?;
        let n: usize = head.strip_prefix('$')?.parse().ok()?;
        Some(b.len() >= head.len() + 2 + n + 2)
    };
    while whole(got) != Some(true) {
        let more = read_within(s, Duration::from_secs(5)).expect("the rest of the reply");
        assert!(!more.is_empty(), "closed mid-reply");
        got.extend(more);
    }
}

fn timed_out(r: &std::io::Result<Vec<u8>>) -> bool {
    matches!(r, Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut))
}

fn reset(r: &std::io::Result<Vec<u8>>) -> bool {
    matches!(r, Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset)
}

/// The proxy itself, seen by a plain client in front of a real Redis: each fault does what
/// the exporter tests rely on.
#[test]
fn the_proxy_applies_each_fault_as_described() {
    let redis = RedisServer::start(&[]);
    let proxy = FaultProxy::start(redis.port);
    let connect = || std::net::TcpStream::connect(("127.0.0.1", proxy.port())).unwrap();
    let mut s = connect();
    send(&mut s, &["PING"]);
    assert_eq!(
        read_within(&mut s, Duration::from_secs(5)).unwrap(),
        b"+PONG\r\n"
    );
    assert_eq!(proxy.counters().cycles, 0, "no fault, no cycle");

    proxy.set(Fault::Delay(Duration::from_millis(300)));
    let sent = Instant::now();
    send(&mut s, &["PING"]);
    assert_eq!(
        read_within(&mut s, Duration::from_secs(5)).unwrap(),
        b"+PONG\r\n"
    );
    assert!(
        sent.elapsed() >= Duration::from_millis(300),
        "{:?}",
        sent.elapsed()
    );

    proxy.set(Fault::Stall);
    send(&mut s, &["INFO", "server"]);
    let mut got = read_within(&mut s, Duration::from_secs(5)).unwrap();
    assert!(got.starts_with(b"$"), "the first part of the reply");
    assert!(
        timed_out(&read_within(&mut s, Duration::from_millis(300))),
        "then nothing"
    );
    proxy.clear();
    read_bulk(&mut s, &mut got);

    let step = Duration::from_millis(50);
    proxy.set(Fault::Drip(step));
    let sent = Instant::now();
    send(&mut s, &["INFO", "server"]);
    std::thread::sleep(Duration::from_millis(500));
    let mut got = read_within(&mut s, Duration::from_secs(5)).unwrap();
    // One byte per step at most; at least two, even if a stall of the machine held the proxy
    // back for most of the half second.
    let most = (sent.elapsed().as_millis() / step.as_millis()) as usize + 1;
    assert!(
        (2..=most).contains(&got.len()),
        "{} bytes in {:?}",
        got.len(),
        sent.elapsed()
    );
    proxy.clear();
    read_bulk(&mut s, &mut got);

    proxy.set(Fault::ResetAfterRequest);
    send(&mut s, &["PING"]);
    let r = read_within(&mut s, Duration::from_secs(5));
    assert!(reset(&r), "RST with nothing before it: {r:?}");

    let mut s = connect();
    proxy.set(Fault::ResetMidReply);
    send(&mut s, &["INFO", "server"]);
    let part = read_within(&mut s, Duration::from_secs(5)).unwrap();
    assert!(part.starts_with(b"$") && part.len() > 10, "{part:?}");
    let r = read_within(&mut s, Duration::from_secs(5));
    assert!(reset(&r), "then RST: {r:?}");

    let mut s = connect();
    proxy.set(Fault::HalfOpen);
    send(&mut s, &["PING"]);
    assert!(
        timed_out(&read_within(&mut s, Duration::from_millis(300))),
        "never answers"
    );
    proxy.clear();
    send(&mut s, &["PING"]);
    assert!(
        timed_out(&read_within(&mut s, Duration::from_millis(300))),
        "a connection that met it keeps swallowing"
    );
    let c = proxy.counters();
    assert_eq!((c.accepted, c.open), (3, 1), "{c:?}");
    // Delay, stall, drip, the two resets and the half-open request (not the one after it).
    assert_eq!(c.cycles, 6, "{c:?}");
    drop(s);
    wait_for(
        "the proxy closes after its client",
        Duration::from_secs(5),
        || (proxy.counters().open == 0).then_some(()),
    );
}
