//! Discovery of the instances of a Redis Cluster or Sentinel entry: one task per entry that
//! asks the cluster (or the sentinels) which instances exist, runs one ordinary poller per
//! instance as target `<entry>/<host:port>`, and applies topology changes by difference: new
//! instances start, gone ones stop and their series disappear, known ones keep their connection
//! and history.
//!
//! IO shell: the steps are in [`cluster`] and [`sentinel`], the replies parsed by
//! [`crate::core::cluster`] and [`crate::core::sentinel`]. What was
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

use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};
use tracing::{debug, info, warn};

use cluster::{ClusterState, cluster_step};
use sentinel::sentinel_step;

use crate::client::Conn;
use crate::config::{Discovery, TargetConfig, is_tls, with_addr};
use crate::core::cluster::Role;
use crate::state::{GroupKind, GroupNode, GroupStatus, Shared};

mod cluster;
mod sentinel;

/// The topology is asked for at least every this many poll intervals.
pub(crate) const REFRESH_POLLS: u32 = 5;

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
pub(super) struct Members {
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
pub(crate) fn member_target(group: &TargetConfig, host: &str, port: u16) -> TargetConfig {
    let addr = with_addr(&group.connection, host, port);
    let scheme = if is_tls(&addr) { "rediss" } else { "redis" };
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
            let info_role = snap.last.as_ref().and_then(|l| l.sample.role.clone());
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
pub(crate) async fn run(group: TargetConfig, shared: Shared, origin: Instant) {
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
    let mut sentinel_conn: Option<(usize, Conn)> = None;
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
                info!(
                    target_name = %name,
                    kind = kind.label(),
                    nodes = members.by_addr.len(),
                    "Discovery up.",
                );
            }
            Err(e) if was_up != Some(false) => {
                warn!(target_name = %name, kind = kind.label(), error = %e, "Discovery failed.");
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

/// Logs the addresses a step added and removed, if any.
fn log_changes(name: &str, (added, removed): (Vec<String>, Vec<String>)) {
    if !added.is_empty() || !removed.is_empty() {
        info!(
            target_name = %name,
            added = ?added,
            removed = ?removed,
            "Discovered instances changed.",
        );
    }
}
