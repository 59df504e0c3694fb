//! A Redis Cluster on loopback for the tests that need one: `n` nodes of Debian's
//! redis-server with `replicas` replicas per primary, made with `redis-cli --cluster create`,
//! returned once every node reports `cluster_state:ok`.

use std::net::TcpListener;
use std::process::Command;
use std::time::Duration;

use super::{RedisServer, free_port, require_binary, wait_for};

/// A port below 55000 whose cluster bus port (port + 10000) is free too.
fn cluster_port(taken: &[u16]) -> u16 {
    wait_for("a free port pair", Duration::from_secs(5), || {
        let p = free_port();
        (p < 55_000 && !taken.contains(&p) && TcpListener::bind(("127.0.0.1", p + 10_000)).is_ok())
            .then_some(p)
    })
}

/// Starts `n` cluster nodes (with `extra` arguments) and joins them, `replicas` per primary.
pub(crate) fn start_cluster(n: usize, replicas: usize, extra: &[&str]) -> Vec<RedisServer> {
    let cli = require_binary("redis-cli", "redis-tools");
    let mut args = vec![
        "--cluster-enabled",
        "yes",
        "--cluster-config-file",
        "nodes.conf",
    ];
    args.extend_from_slice(extra);
    let mut ports = Vec::new();
    let mut nodes = Vec::new();
    for _ in 0..n {
        let p = cluster_port(&ports);
        ports.push(p);
        nodes.push(RedisServer::start_on(p, &args));
    }
    let out = Command::new(cli)
        .arg("--cluster")
        .arg("create")
        .args(ports.iter().map(|p| format!("127.0.0.1:{p}")))
        .args(["--cluster-replicas", &replicas.to_string(), "--cluster-yes"])
        .output()
        .expect("run redis-cli --cluster create");
    assert!(
        out.status.success(),
        "redis-cli --cluster create failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    wait_for(
        "cluster_state:ok on every node",
        Duration::from_secs(20),
        || {
            nodes
                .iter()
                .all(|n| n.cmd(&["CLUSTER", "INFO"]).contains("cluster_state:ok"))
                .then_some(())
        },
    );
    nodes
}
