//! The test harness's own guarantees that other tests rely on: `free_port` never hands out a
//! port twice in one process and stays outside the kernel's ephemeral range, and the Redis
//! starter refuses a port on which another server answers instead of returning that server.

mod support;

use std::collections::BTreeSet;
use support::{RedisServer, free_port};

fn ephemeral_range() -> (u16, u16) {
    let text = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .expect("read /proc/sys/net/ipv4/ip_local_port_range");
    let mut bounds = text.split_whitespace().map(|v| v.parse().unwrap());
    (bounds.next().unwrap(), bounds.next().unwrap())
}

#[test]
fn free_ports_are_distinct_and_outside_the_ephemeral_range() {
    let (low, high) = ephemeral_range();
    // From several threads at once, as the tests of one binary call it.
    let threads: Vec<_> = (0..4)
        .map(|_| std::thread::spawn(|| (0..50).map(|_| free_port()).collect::<Vec<u16>>()))
        .collect();
    let ports: Vec<u16> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    assert_eq!(ports.len(), 200);
    let distinct: BTreeSet<u16> = ports.iter().copied().collect();
    assert_eq!(distinct.len(), ports.len(), "a port was handed out twice");
    for p in &ports {
        assert!(
            !(low..=high).contains(p),
            "port {p} is in the ephemeral range {low}-{high}"
        );
    }
}

#[test]
fn starter_refuses_a_port_another_server_answers_on() {
    let first = RedisServer::start(&[]);
    let second = std::panic::catch_unwind(|| RedisServer::start_on(first.port, &[]));
    let message = match second {
        Ok(s) => panic!(
            "start_on({}) returned a server (pid {}) although pid {} holds the port",
            first.port,
            s.proc.pid(),
            first.proc.pid()
        ),
        Err(payload) => payload
            .downcast_ref::<String>()
            .cloned()
            .unwrap_or_default(),
    };
    assert!(
        message.contains("answered by another redis-server") || message.contains("exited"),
        "unexpected failure: {message}"
    );
    // The first server is untouched.
    assert!(first.cmd(&["PING"]).starts_with("+PONG"));
}
