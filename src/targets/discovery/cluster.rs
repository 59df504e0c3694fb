//! One discovery tick of a Redis Cluster entry: `CLUSTER INFO` of one node every poll
//! interval, and the topology (`CLUSTER SHARDS`, or `CLUSTER NODES` where SHARDS is refused)
//! when due.

use super::{Members, REFRESH_POLLS, log_changes, member_target};
use crate::client::reply::query;
use crate::client::{Conn, Connector, Endpoint};
use crate::config::is_tls;
use crate::core::cluster;
use crate::state::GroupNode;
use tracing::debug;

/// The cluster discovery's memory between ticks.
#[derive(Default)]
pub(super) struct ClusterState {
    conn: Option<(String, Conn)>,
    polls_since_refresh: Option<u32>,
    /// SHARDS refused once (before 7.0, or by ACL): NODES from then on.
    shards_refused: bool,
    pub(super) health: Option<cluster::Health>,
}

/// A node that answered `CLUSTER INFO`: its address, the connection, what it said.
type Answer = (String, Conn, cluster::Health);

/// One discovery tick of a cluster: CLUSTER INFO, and the topology when due.
pub(super) async fn cluster_step(
    members: &mut Members,
    state: &mut ClusterState,
    seeds: &[(String, u16)],
) -> Result<(), String> {
    let candidates = candidates(members, state, seeds);
    let kept = state.conn.take();
    let (key, mut conn, health) = match ask_one(members, kept, candidates).await {
        Ok(answer) => answer,
        Err(e) => {
            state.health = None;
            return Err(e);
        }
    };
    let due = state
        .polls_since_refresh
        .is_none_or(|n| n + 1 >= REFRESH_POLLS)
        || members.disagrees()
        || health.known_nodes != members.by_addr.len() as u64;
    state.health = Some(health);
    if !due {
        state.conn = Some((key, conn));
        state.polls_since_refresh = state.polls_since_refresh.map(|n| n + 1);
        return Ok(());
    }
    let tls = is_tls(&members.group.connection);
    // On an error the connection is dropped: the next tick connects again.
    let nodes = topology(&mut conn, state, tls)
        .await
        .map_err(|e| format!("{key}: {e}"))?;
    state.conn = Some((key, conn));
    state.polls_since_refresh = Some(0);
    let changes = members.apply(nodes.into_iter().map(group_node).collect());
    log_changes(&members.group.name, changes);
    Ok(())
}

/// The nodes to ask, in order: the one asked last time, the known nodes, the seeds.
fn candidates(
    members: &Members,
    state: &ClusterState,
    seeds: &[(String, u16)],
) -> Vec<(String, u16)> {
    let mut candidates: Vec<(String, u16)> = Vec::new();
    if let Some((addr, _)) = &state.conn {
        candidates.extend(split_addr(addr));
    }
    for m in members.by_addr.values() {
        candidates.extend(split_addr(&m.node.addr));
    }
    candidates.extend(seeds.iter().cloned());
    candidates
}

/// `CLUSTER INFO` of the first candidate that answers (on the `kept` connection when it is
/// that node's). A node that answers but serves no slot (one reset out of the cluster by
/// `redis-cli --cluster del-node`, or not yet joined) is only used when no other answers: its
/// view of the cluster is its own.
async fn ask_one(
    members: &Members,
    mut kept: Option<(String, Conn)>,
    candidates: Vec<(String, u16)>,
) -> Result<Answer, String> {
    let mut last_error = String::from("no seed");
    let mut tried = std::collections::HashSet::new();
    let mut outside: Option<Answer> = None;
    for (host, port) in candidates {
        if !tried.insert((host.clone(), port)) {
            continue;
        }
        let key = format!("{host}:{port}");
        let reuse = kept.as_ref().is_some_and(|(a, _)| *a == key);
        let mut conn = if let Some((_, c)) = kept.take().filter(|_| reuse) {
            c
        } else {
            let endpoint = Endpoint::of_target(&member_target(&members.group, &host, port));
            match Connector::new(endpoint).connect().await {
                Ok(c) => c,
                Err(e) => {
                    last_error = format!("{key}: {}", e.message);
                    continue;
                }
            }
        };
        let health = query(&mut conn, &["CLUSTER", "INFO"])
            .await
            .map_err(|e| e.to_string())
            .and_then(|v| cluster::parse_info(&v.text().ok_or("CLUSTER INFO reply is not text")?));
        match health {
            Ok(h) if h.slots_assigned == 0 => {
                if outside.is_none() {
                    outside = Some((key, conn, h));
                }
            }
            Ok(h) => return Ok((key, conn, h)),
            Err(e) => last_error = format!("{key}: {e}"),
        }
    }
    outside.ok_or(last_error)
}

/// A node of the topology as the group lists it (its target name is set when it is applied).
fn group_node(n: cluster::Node) -> (String, u16, GroupNode) {
    let node = GroupNode {
        target: String::new(),
        addr: n.addr(),
        node_id: n.id.clone(),
        role: n.role.label().to_string(),
        shard: n.shard.clone(),
    };
    (n.host, n.port, node)
}

/// The cluster's nodes from CLUSTER SHARDS, or CLUSTER NODES where SHARDS is refused.
async fn topology(
    conn: &mut Conn,
    state: &mut ClusterState,
    tls: bool,
) -> Result<Vec<cluster::Node>, String> {
    if !state.shards_refused {
        match query(conn, &["CLUSTER", "SHARDS"]).await {
            Ok(v) => return cluster::parse_shards(&v, tls),
            Err(e) if e.kind.is_reply() => {
                debug!(error = %e, "CLUSTER SHARDS refused; using CLUSTER NODES.");
                state.shards_refused = true;
            }
            Err(e) => return Err(e.to_string()),
        }
    }
    let v = query(conn, &["CLUSTER", "NODES"])
        .await
        .map_err(|e| e.to_string())?;
    cluster::parse_nodes(&v.text().ok_or("CLUSTER NODES reply is not text")?)
}

/// `(host, port)` of `host:port` or `[v6]:port`.
fn split_addr(addr: &str) -> Option<(String, u16)> {
    let (h, p) = addr.rsplit_once(':')?;
    Some((h.trim_matches(['[', ']']).to_string(), p.parse().ok()?))
}
