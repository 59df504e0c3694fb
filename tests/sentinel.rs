//! Sentinel discovery end to end: a master, a replica and one sentinel (`redis-server
//! sentinel.conf --sentinel`) on loopback; the exporter is given the sentinel and the master
//! name, polls both instances with their roles, and follows `SENTINEL FAILOVER`.

mod support;

use std::process::Command;
use std::time::Duration;

use support::{Exporter, Proc, RedisServer, free_port, http_get, require_binary, sample, wait_for};

/// `redis-cli -p port args…` output (plain text, one value per line).
fn cli(port: u16, args: &[&str]) -> String {
    let out = Command::new(require_binary("redis-cli", "redis-tools"))
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .output()
        .expect("run redis-cli");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The `role` label of `redis_instance_info` for `target`.
fn instance_role(m: &str, target: &str) -> Option<String> {
    let head = format!("redis_instance_info{{target=\"{target}\"");
    let line = m.lines().find(|l| l.starts_with(&head))?;
    let start = line.find("role=\"")? + 6;
    Some(line[start..start + line[start..].find('"')?].to_string())
}

#[test]
fn sentinel_group_followed_through_a_failover() {
    let master = RedisServer::start(&[]);
    let replica = RedisServer::start(&["--replicaof", "127.0.0.1", &master.port.to_string()]);
    wait_for("replica in sync", Duration::from_secs(10), || {
        (replica.info_field("master_link_status") == "up").then_some(())
    });

    let dir = tempfile::tempdir().unwrap();
    let sport = free_port();
    let conf = dir.path().join("sentinel.conf");
    std::fs::write(
        &conf,
        format!(
            "port {sport}\nbind 127.0.0.1\ndir {}\n\
             sentinel monitor mymaster 127.0.0.1 {} 1\n\
             sentinel down-after-milliseconds mymaster 1000\n\
             sentinel failover-timeout mymaster 3000\n",
            dir.path().display(),
            master.port
        ),
    )
    .unwrap();
    let mut cmd = Command::new(require_binary("redis-server", "redis-server"));
    cmd.arg(&conf)
        .arg("--sentinel")
        .stdout(std::process::Stdio::null());
    let _sentinel = Proc::spawn("redis-sentinel", &mut cmd);
    wait_for(
        "the sentinel to know the replica",
        Duration::from_secs(15),
        || {
            cli(sport, &["SENTINEL", "REPLICAS", "mymaster"])
                .contains(&replica.port.to_string())
                .then_some(())
        },
    );

    let exporter = Exporter::start(&format!(
        r#"poll_interval = "1s"
timeout = "500ms"

[[targets]]
name = "sessions"
sentinel = ["redis://127.0.0.1:{sport}"]
master_name = "mymaster"
labels = {{ team = "web" }}
"#
    ));
    let mt = format!("sessions/127.0.0.1:{}", master.port);
    let rt = format!("sessions/127.0.0.1:{}", replica.port);
    let m = wait_for("both instances up", Duration::from_secs(15), || {
        let m = exporter.metrics();
        [&mt, &rt]
            .iter()
            .all(|t| sample(&m, &format!("redis_up{{target=\"{t}\",team=\"web\"}}")) == Some(1.0))
            .then_some(m)
    });
    assert_eq!(instance_role(&m, &mt).as_deref(), Some("master"), "{m}");
    assert_eq!(instance_role(&m, &rt).as_deref(), Some("slave"), "{m}");
    assert_eq!(
        sample(
            &m,
            "redis_exporter_discovery_up{target=\"sessions\",kind=\"sentinel\",team=\"web\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(&m, "redis_up{target=\"sessions\",team=\"web\"}"),
        None
    );
    let (_, sd) = http_get(exporter.port, "/sd/sentinel").unwrap();
    let sd: serde_json::Value = serde_json::from_str(&sd).expect("http_sd JSON");
    assert_eq!(sd.as_array().unwrap().len(), 2, "{sd}");
    let master_group = sd
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["labels"]["__meta_redis_role"] == "master")
        .expect("a master in /sd/sentinel");
    assert_eq!(
        master_group["targets"][0],
        format!("127.0.0.1:{}", master.port).as_str()
    );
    assert_eq!(master_group["labels"]["sentinel"], "sessions");

    // A failover: the replica becomes master; the exporter reports it so within a few polls.
    assert!(cli(sport, &["SENTINEL", "FAILOVER", "mymaster"]).starts_with("OK"));
    wait_for(
        "the sentinel to switch masters",
        Duration::from_secs(20),
        || {
            cli(sport, &["SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster"])
                .contains(&replica.port.to_string())
                .then_some(())
        },
    );
    let m = wait_for(
        "the exporter to follow the failover",
        Duration::from_secs(15),
        || {
            let m = exporter.metrics();
            (instance_role(&m, &rt).as_deref() == Some("master")
                && instance_role(&m, &mt).as_deref() == Some("slave"))
            .then_some(m)
        },
    );
    assert_eq!(
        sample(&m, &format!("redis_up{{target=\"{rt}\",team=\"web\"}}")),
        Some(1.0)
    );
    let (_, sd) = http_get(exporter.port, "/sd/sentinel").unwrap();
    let sd: serde_json::Value = serde_json::from_str(&sd).unwrap();
    let master_group = sd
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["labels"]["__meta_redis_role"] == "master")
        .expect("a master in /sd/sentinel");
    assert_eq!(
        master_group["targets"][0],
        format!("127.0.0.1:{}", replica.port).as_str()
    );
}
