//! Redis Cluster discovery end to end: a 3-master, 3-replica cluster built with
//! `redis-cli --cluster create` on loopback; the exporter is given one seed and must find all
//! six nodes with their roles, report slot health, serve them as http_sd JSON, follow a
//! `CLUSTER FAILOVER` and drop a node removed with `redis-cli --cluster del-node`.

mod support;

use std::process::Command;
use std::time::Duration;

use support::{Exporter, RedisServer, http_get, require_binary, sample, wait_for};

/// INFO replication role of a node (`master` | `slave`).
fn role(s: &RedisServer) -> String {
    s.info_field("role")
}

struct Cluster {
    nodes: Vec<RedisServer>,
}

impl Cluster {
    fn start() -> Cluster {
        let nodes = support::cluster::start_cluster(6, 1, &["--cluster-node-timeout", "2000"]);
        let c = Cluster { nodes };
        // Replication links up, so a manual failover can proceed.
        wait_for("replicas in sync", Duration::from_secs(20), || {
            c.nodes
                .iter()
                .filter(|n| role(n) == "slave")
                .all(|n| n.info_field("master_link_status") == "up")
                .then_some(())
        });
        c
    }
}

fn node_info_lines(m: &str) -> Vec<String> {
    m.lines()
        .filter(|l| l.starts_with("redis_cluster_node_info{"))
        .map(str::to_string)
        .collect()
}

fn node_role_in_metrics(m: &str, port: u16) -> Option<String> {
    let target = format!("target=\"shop/127.0.0.1:{port}\"");
    node_info_lines(m)
        .into_iter()
        .find(|l| l.contains(&target))
        .and_then(|l| {
            let start = l.find("role=\"")? + 6;
            Some(l[start..start + l[start..].find('"')?].to_string())
        })
}

fn info_role(r: &str) -> &str {
    if r == "slave" { "replica" } else { r }
}

#[test]
fn cluster_nodes_discovered_failover_followed_slots_reported() {
    let cluster = Cluster::start();
    let seed = &cluster.nodes[2];
    let exporter = Exporter::start(&format!(
        r#"poll_interval = "1s"
timeout = "500ms"

[[targets]]
name = "shop"
cluster = true
url = "{}"
labels = {{ team = "checkout" }}
"#,
        seed.url()
    ));

    // All six nodes discovered from one seed, each polled, with the role the node reports.
    let m = wait_for("six nodes up", Duration::from_secs(15), || {
        let m = exporter.metrics();
        cluster
            .nodes
            .iter()
            .all(|n| {
                sample(
                    &m,
                    &format!(
                        "redis_up{{target=\"shop/127.0.0.1:{}\",team=\"checkout\"}}",
                        n.port
                    ),
                ) == Some(1.0)
            })
            .then_some(m)
    });
    assert_eq!(node_info_lines(&m).len(), 6, "{m}");
    for n in &cluster.nodes {
        assert_eq!(
            node_role_in_metrics(&m, n.port).as_deref(),
            Some(info_role(&role(n))),
            "role of {}",
            n.port
        );
    }
    let masters = node_info_lines(&m)
        .iter()
        .filter(|l| l.contains("role=\"master\""))
        .count();
    assert_eq!(masters, 3);
    // Every shard label is the node id of a master.
    for l in node_info_lines(&m) {
        assert!(
            l.contains("cluster=\"shop\"") && l.contains("team=\"checkout\""),
            "{l}"
        );
    }
    // The entry itself is not a polled target.
    assert_eq!(
        sample(&m, "redis_up{target=\"shop\",team=\"checkout\"}"),
        None
    );

    // Slot health from CLUSTER INFO.
    let g = |name: &str| sample(&m, &format!("{name}{{target=\"shop\",team=\"checkout\"}}"));
    assert_eq!(g("redis_cluster_state"), Some(1.0));
    assert_eq!(g("redis_cluster_slots_assigned"), Some(16384.0));
    assert_eq!(g("redis_cluster_slots_ok"), Some(16384.0));
    assert_eq!(g("redis_cluster_slots_pfail"), Some(0.0));
    assert_eq!(g("redis_cluster_slots_fail"), Some(0.0));
    assert_eq!(g("redis_cluster_known_nodes"), Some(6.0));
    assert_eq!(g("redis_cluster_size"), Some(3.0));
    assert_eq!(
        sample(
            &m,
            "redis_exporter_discovery_up{target=\"shop\",kind=\"cluster\",team=\"checkout\"}"
        ),
        Some(1.0)
    );

    // http_sd: one group per node.
    let (status, body) = http_get(exporter.port, "/sd/cluster").expect("GET /sd/cluster");
    assert_eq!(status, 200);
    let sd: serde_json::Value = serde_json::from_str(&body).expect("http_sd JSON");
    let groups = sd.as_array().expect("array");
    assert_eq!(groups.len(), 6, "{body}");
    for n in &cluster.nodes {
        let addr = format!("127.0.0.1:{}", n.port);
        let g = groups
            .iter()
            .find(|g| g["targets"][0] == addr.as_str())
            .unwrap_or_else(|| panic!("{addr} in {body}"));
        assert_eq!(g["labels"]["cluster"], "shop");
        assert_eq!(g["labels"]["team"], "checkout");
        assert_eq!(g["labels"]["__meta_redis_role"], info_role(&role(n)));
    }
    let (_, sentinel_sd) = http_get(exporter.port, "/sd/sentinel").unwrap();
    assert_eq!(sentinel_sd, "[]");

    // A manual failover on a replica: the exporter follows within a few polls.
    let replica = cluster
        .nodes
        .iter()
        .find(|n| role(n) == "slave")
        .expect("a replica");
    let old_master_port: u16 = replica.info_field("master_port").parse().unwrap();
    assert!(replica.cmd(&["CLUSTER", "FAILOVER"]).starts_with("+OK"));
    wait_for("the replica to take over", Duration::from_secs(15), || {
        (role(replica) == "master").then_some(())
    });
    let m = wait_for(
        "the exporter to report the failover",
        Duration::from_secs(10),
        || {
            let m = exporter.metrics();
            (node_role_in_metrics(&m, replica.port).as_deref() == Some("master")
                && node_role_in_metrics(&m, old_master_port).as_deref() == Some("replica"))
            .then_some(m)
        },
    );
    assert_eq!(node_info_lines(&m).len(), 6);
    let inst = format!(
        "redis_instance_info{{target=\"shop/127.0.0.1:{}\"",
        replica.port
    );
    let line = wait_for("INFO role master", Duration::from_secs(5), || {
        let m = exporter.metrics();
        m.lines()
            .find(|l| l.starts_with(&inst) && l.contains("role=\"master\""))
            .map(str::to_string)
    });
    assert!(line.contains("redis_mode=\"cluster\""), "{line}");

    // A replica removed from the cluster: its target disappears.
    let gone = cluster
        .nodes
        .iter()
        .find(|n| role(n) == "slave")
        .expect("a replica");
    let id = gone.cmd(&["CLUSTER", "MYID"]);
    let id = id
        .lines()
        .nth(1)
        .expect("MYID bulk reply")
        .trim()
        .to_string();
    let out = Command::new(require_binary("redis-cli", "redis-tools"))
        .args(["--cluster", "del-node"])
        .arg(format!(
            "127.0.0.1:{}",
            cluster
                .nodes
                .iter()
                .find(|n| n.port != gone.port)
                .unwrap()
                .port
        ))
        .arg(&id)
        .output()
        .expect("run redis-cli --cluster del-node");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let gone_target = format!("target=\"shop/127.0.0.1:{}\"", gone.port);
    let mut last = String::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let m = loop {
        let m = exporter.metrics();
        if !m.contains(&gone_target) {
            break m;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "removed node {} still reported: {}\n{}",
            gone.port,
            String::from_utf8_lossy(&out.stdout),
            last.lines()
                .filter(|l| l.contains("cluster") || l.starts_with("redis_up"))
                .collect::<Vec<_>>()
                .join("\n")
        );
        last = m;
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(node_info_lines(&m).len(), 5, "{m}");
    assert_eq!(
        sample(
            &m,
            "redis_cluster_known_nodes{target=\"shop\",team=\"checkout\"}"
        ),
        Some(5.0)
    );
}
