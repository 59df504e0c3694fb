//! Discovery of the instances of a Redis Cluster or Sentinel entry: one task per entry that
//! asks the cluster (or the sentinels) which instances exist, runs one ordinary poller per
//! instance as target `<entry>/<host:port>`, and applies topology changes by difference: new
//! instances start, gone ones stop and their series disappear, known ones keep their connection
//! and history.
//!
//! IO shell: the replies are parsed by [`crate::core::cluster`] and [`crate::core::sentinel`]. What was
//! found is published with [`Shared::set_group`] for `/metrics` (`redis_cluster_*`) and the
//! http_sd endpoints (`/sd/cluster`, `/sd/sentinel`).
//!
//! Sentinel: `SENTINEL GET-MASTER-ADDR-BY-NAME` and `SENTINEL REPLICAS` every poll interval,
//! so a failover is followed within one interval.
//!
//! Cluster: `CLUSTER INFO` every poll interval on one node; the topology (`CLUSTER SHARDS`,
//! `CLUSTER NODES` on servers before 7.0 or where SHARDS is refused) every
//! [`REFRESH_POLLS`] polls, and at once when a node's poller reports it down or with another
//! role than the topology says (a failover), or when the cluster knows another number of nodes.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{ConnectionAddr, ConnectionInfo};
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};
use tracing::{debug, info, warn};

use crate::client::multiplexed::{connect, query};
use crate::config::{Discovery, TargetConfig};
use crate::core::cluster::{self, Role};
use crate::state::{GroupKind, GroupNode, GroupStatus, Shared};

/// The topology is asked for at least every this many poll intervals.
pub const REFRESH_POLLS: u32 = 5;

/// One discovered instance: its poller (and sampler) and what the topology said of it.
struct Member {
    name: String,
    node: GroupNode,
    tasks: Vec<JoinHandle<()>>,
    shared: Shared,
}

impl Drop for Member {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
        self.shared.remove(&self.name);
    }
}

/// The pollers of one group's instances, keyed by `host:port`. Dropping it (the task is
/// aborted when the entry is removed or changed) stops them all and forgets the group.
struct Members {
    group: TargetConfig,
    shared: Shared,
    origin: Instant,
    by_addr: BTreeMap<String, Member>,
}

impl Drop for Members {
    fn drop(&mut self) {
        self.by_addr.clear();
        self.shared.remove_group(&self.group.name);
    }
}

/// The target of one instance of `group`: the group's settings and static labels, named
/// `<group>/<host:port>`, connecting to `host:port` with the group's credentials and TLS.
pub fn member_target(group: &TargetConfig, host: &str, port: u16) -> TargetConfig {
    let addr = with_addr(&group.connection, host, port);
    let scheme = if matches!(addr.addr(), ConnectionAddr::TcpTls { .. }) {
        "rediss"
    } else {
        "redis"
    };
    let hostport = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    TargetConfig {
        name: format!("{}/{hostport}", group.name),
        url: format!("{scheme}://{hostport}"),
        connection: addr,
        discovery: None,
        ..group.clone()
    }
}

/// `info` with its address replaced (TLS settings kept).
fn with_addr(info: &ConnectionInfo, host: &str, port: u16) -> ConnectionInfo {
    let addr = match info.addr() {
        ConnectionAddr::TcpTls {
            insecure,
            tls_params,
            ..
        } => ConnectionAddr::TcpTls {
            host: host.to_string(),
            port,
            insecure: *insecure,
            tls_params: tls_params.clone(),
        },
        _ => ConnectionAddr::Tcp(host.to_string(), port),
    };
    info.clone().set_addr(addr)
}

impl Members {
    /// Makes the running pollers match `nodes`; returns the addresses added and removed.
    fn apply(&mut self, nodes: Vec<(String, u16, GroupNode)>) -> (Vec<String>, Vec<String>) {
        let wanted: BTreeMap<String, (String, u16, GroupNode)> = nodes
            .into_iter()
            .map(|(h, p, n)| (n.addr.clone(), (h, p, n)))
            .collect();
        let gone: Vec<String> = self
            .by_addr
            .keys()
            .filter(|a| !wanted.contains_key(*a))
            .cloned()
            .collect();
        for a in &gone {
            self.by_addr.remove(a);
        }
        let mut added = Vec::new();
        for (addr, (host, port, node)) in wanted {
            if let Some(m) = self.by_addr.get_mut(&addr) {
                m.node = GroupNode {
                    target: m.name.clone(),
                    ..node
                };
                continue;
            }
            let t = member_target(&self.group, &host, port);
            self.shared.add(super::instance::meta(&t));
            let tasks = super::instance::spawn(&t, &self.shared, self.origin);
            added.push(addr.clone());
            self.by_addr.insert(
                addr,
                Member {
                    name: t.name.clone(),
                    node: GroupNode {
                        target: t.name,
                        ..node
                    },
                    tasks,
                    shared: self.shared.clone(),
                },
            );
        }
        (added, gone)
    }

    /// Whether a poller's view disagrees with the topology: a node down, or one whose INFO
    /// role is not the one the topology gave it.
    fn disagrees(&self) -> bool {
        self.by_addr.values().any(|m| {
            let Some(snap) = self.shared.snapshot(&m.name) else {
                return false;
            };
            if snap.polls_total > 0 && !snap.up {
                return true;
            }
            let info_role = snap.last.as_ref().and_then(|(s, _, _)| s.role.clone());
            let role = if m.node.role == "master" {
                Role::Master
            } else {
                Role::Replica
            };
            info_role.is_some_and(|r| !role.matches_info(&r))
        })
    }

    fn nodes(&self) -> Vec<GroupNode> {
        self.by_addr.values().map(|m| m.node.clone()).collect()
    }
}

/// Runs the discovery of one Cluster or Sentinel entry until the task is aborted.
pub async fn run(group: TargetConfig, shared: Shared, origin: Instant) {
    let Some(discovery) = group.discovery.clone() else {
        return;
    };
    let kind = match discovery {
        Discovery::Cluster { .. } => GroupKind::Cluster,
        Discovery::Sentinel { .. } => GroupKind::Sentinel,
    };
    let meta = Arc::new(super::instance::meta(&group));
    let mut members = Members {
        group,
        shared: shared.clone(),
        origin,
        by_addr: BTreeMap::new(),
    };
    let mut ticker = tokio::time::interval(members.group.poll_interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut state = ClusterState::default();
    let mut sentinel_conn: Option<(usize, MultiplexedConnection)> = None;
    let mut was_up: Option<bool> = None;
    loop {
        ticker.tick().await;
        let result = match &discovery {
            Discovery::Cluster { seeds } => cluster_step(&mut members, &mut state, seeds).await,
            Discovery::Sentinel {
                sentinels,
                master_name,
            } => sentinel_step(&mut members, &mut sentinel_conn, sentinels, master_name).await,
        };
        let name = &members.group.name;
        match &result {
            Ok(()) if was_up != Some(true) => {
                info!(target_name = %name, kind = kind.label(), nodes = members.by_addr.len(), "Discovery up.")
            }
            Err(e) if was_up != Some(false) => {
                warn!(target_name = %name, kind = kind.label(), error = %e, "Discovery failed.")
            }
            Err(e) => debug!(target_name = %name, error = %e, "Discovery failed."),
            _ => {}
        }
        was_up = Some(result.is_ok());
        shared.set_group(GroupStatus {
            meta: meta.clone(),
            kind,
            up: result.is_ok(),
            nodes: members.nodes(),
            health: state.health.clone(),
        });
    }
}

fn log_changes(name: &str, (added, removed): (Vec<String>, Vec<String>)) {
    if !added.is_empty() || !removed.is_empty() {
        info!(target_name = %name, added = ?added, removed = ?removed, "Discovered instances changed.");
    }
}

/// The cluster discovery's memory between ticks.
#[derive(Default)]
struct ClusterState {
    conn: Option<(String, MultiplexedConnection)>,
    polls_since_refresh: Option<u32>,
    /// SHARDS refused once (before 7.0, or by ACL): NODES from then on.
    shards_refused: bool,
    health: Option<cluster::Health>,
}

/// One discovery tick of a cluster: CLUSTER INFO, and the topology when due.
///
/// The node asked is the one asked last time if it still answers, else a known node, else a
/// seed. A node that answers but serves no slot (one reset out of the cluster by
/// `redis-cli --cluster del-node`, or not yet joined) is only used when no other answers: its
/// view of the cluster is its own.
async fn cluster_step(
    members: &mut Members,
    state: &mut ClusterState,
    seeds: &[(String, u16)],
) -> Result<(), String> {
    let timeout = members.group.timeout;
    let tls = matches!(
        members.group.connection.addr(),
        ConnectionAddr::TcpTls { .. }
    );
    let mut candidates: Vec<(String, u16)> = Vec::new();
    if let Some((addr, _)) = &state.conn {
        candidates.extend(split_addr(addr));
    }
    for m in members.by_addr.values() {
        candidates.extend(split_addr(&m.node.addr));
    }
    candidates.extend(seeds.iter().cloned());
    let kept = state.conn.take();
    let mut last_error = String::from("no seed");
    let mut tried = std::collections::HashSet::new();
    let mut outside: Option<(String, MultiplexedConnection, cluster::Health)> = None;
    let mut chosen = None;
    for (host, port) in candidates {
        if !tried.insert((host.clone(), port)) {
            continue;
        }
        let key = format!("{host}:{port}");
        let mut conn = match &kept {
            Some((a, c)) if *a == key => c.clone(),
            _ => match connect(&member_target(&members.group, &host, port)).await {
                Ok(c) => c,
                Err(e) => {
                    last_error = format!("{key}: {e}");
                    continue;
                }
            },
        };
        let health = query(&mut conn, &["CLUSTER", "INFO"], timeout)
            .await
            .and_then(|v| cluster::parse_info(&v.text().ok_or("CLUSTER INFO reply is not text")?));
        match health {
            Ok(h) if h.slots_assigned == 0 => {
                if outside.is_none() {
                    outside = Some((key, conn, h));
                }
            }
            Ok(h) => {
                chosen = Some((key, conn, h));
                break;
            }
            Err(e) => last_error = format!("{key}: {e}"),
        }
    }
    let Some((key, mut conn, health)) = chosen.or(outside) else {
        state.health = None;
        return Err(last_error);
    };
    state.conn = Some((key.clone(), conn.clone()));
    let due = state
        .polls_since_refresh
        .is_none_or(|n| n + 1 >= REFRESH_POLLS)
        || members.disagrees()
        || health.known_nodes != members.by_addr.len() as u64;
    state.health = Some(health);
    if !due {
        state.polls_since_refresh = state.polls_since_refresh.map(|n| n + 1);
        return Ok(());
    }
    let nodes = topology(&mut conn, state, timeout, tls)
        .await
        .map_err(|e| {
            state.conn = None;
            format!("{key}: {e}")
        })?;
    state.polls_since_refresh = Some(0);
    let nodes = nodes
        .into_iter()
        .map(|n| {
            let node = GroupNode {
                target: String::new(),
                addr: n.addr(),
                node_id: n.id.clone(),
                role: n.role.label().to_string(),
                shard: n.shard.clone(),
            };
            (n.host, n.port, node)
        })
        .collect();
    let changes = members.apply(nodes);
    log_changes(&members.group.name, changes);
    Ok(())
}

/// One discovery tick of a Sentinel group: the current master and its replicas from the first
/// sentinel that answers (the one that answered last time first).
async fn sentinel_step(
    members: &mut Members,
    kept: &mut Option<(usize, MultiplexedConnection)>,
    sentinels: &[String],
    master_name: &str,
) -> Result<(), String> {
    let timeout = members.group.timeout;
    let start = kept.as_ref().map_or(0, |(i, _)| *i);
    let mut last_error = String::from("no sentinel");
    for i in (0..sentinels.len()).map(|k| (start + k) % sentinels.len()) {
        let redacted = crate::config::redact_url(&sentinels[i]);
        let mut conn = match kept.take() {
            Some((j, c)) if j == i => c,
            _ => {
                let Ok(info) =
                    redis::IntoConnectionInfo::into_connection_info(sentinels[i].as_str())
                else {
                    continue;
                };
                let t = TargetConfig {
                    connection: info,
                    ..members.group.clone()
                };
                match connect(&t).await {
                    Ok(c) => c,
                    Err(e) => {
                        last_error = format!("{redacted}: {e}");
                        continue;
                    }
                }
            }
        };
        let master = match query(
            &mut conn,
            &["SENTINEL", "GET-MASTER-ADDR-BY-NAME", master_name],
            timeout,
        )
        .await
        .and_then(|v| crate::core::sentinel::parse_master_addr(&v))
        {
            Ok(Some(m)) => m,
            Ok(None) => {
                last_error = format!("{redacted}: the sentinel does not monitor {master_name:?}");
                continue;
            }
            Err(e) => {
                last_error = format!("{redacted}: {e}");
                continue;
            }
        };
        let replicas =
            match query(&mut conn, &["SENTINEL", "REPLICAS", master_name], timeout).await {
                // Sentinels before Redis 5 know only SLAVES.
                Err(e) if e.starts_with("refused:") => {
                    query(&mut conn, &["SENTINEL", "SLAVES", master_name], timeout).await
                }
                r => r,
            }
            .and_then(|v| crate::core::sentinel::parse_replicas(&v));
        let replicas = match replicas {
            Ok(r) => r,
            Err(e) => {
                last_error = format!("{redacted}: {e}");
                continue;
            }
        };
        *kept = Some((i, conn));
        let mut nodes = vec![(master.0, master.1, "master")];
        nodes.extend(replicas.into_iter().map(|(h, p)| (h, p, "replica")));
        let nodes = nodes
            .into_iter()
            .map(|(h, p, role)| {
                let name = member_target(&members.group, &h, p).name;
                let node = GroupNode {
                    target: String::new(),
                    addr: name[members.group.name.len() + 1..].to_string(),
                    node_id: String::new(),
                    role: role.to_string(),
                    shard: String::new(),
                };
                (h, p, node)
            })
            .collect();
        let changes = members.apply(nodes);
        log_changes(&members.group.name, changes);
        return Ok(());
    }
    Err(last_error)
}

/// The cluster's nodes from CLUSTER SHARDS, or CLUSTER NODES where SHARDS is refused.
async fn topology(
    conn: &mut MultiplexedConnection,
    state: &mut ClusterState,
    timeout: Duration,
    tls: bool,
) -> Result<Vec<cluster::Node>, String> {
    if !state.shards_refused {
        match query(conn, &["CLUSTER", "SHARDS"], timeout).await {
            Ok(v) => return cluster::parse_shards(&v, tls),
            Err(e) if e.starts_with("refused:") => {
                debug!(error = %e, "CLUSTER SHARDS refused; using CLUSTER NODES.");
                state.shards_refused = true;
            }
            Err(e) => return Err(e),
        }
    }
    let v = query(conn, &["CLUSTER", "NODES"], timeout).await?;
    cluster::parse_nodes(&v.text().ok_or("CLUSTER NODES reply is not text")?)
}

fn split_addr(addr: &str) -> Option<(String, u16)> {
    let (h, p) = addr.rsplit_once(':')?;
    Some((h.trim_matches(['[', ']']).to_string(), p.parse().ok()?))
}
