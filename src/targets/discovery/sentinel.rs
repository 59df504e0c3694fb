//! One discovery tick of a Sentinel entry: the current master and its replicas from the first
//! sentinel that answers.

use super::{Members, log_changes, member_target};
use crate::client::reply::query;
use crate::client::{Conn, Connector, Endpoint};
use crate::config::connection_info;
use crate::state::GroupNode;

/// One discovery tick of a Sentinel group: the current master and its replicas from the first
/// sentinel that answers (the one that answered last time first).
pub(super) async fn sentinel_step(
    members: &mut Members,
    kept: &mut Option<(usize, Conn)>,
    sentinels: &[String],
    master_name: &str,
) -> Result<(), String> {
    let start = kept.as_ref().map_or(0, |(i, _)| *i);
    let mut last_error = String::from("no sentinel");
    for i in (0..sentinels.len()).map(|k| (start + k) % sentinels.len()) {
        let redacted = crate::config::redact_url(&sentinels[i]);
        let mut conn = match kept.take() {
            Some((j, c)) if j == i => c,
            _ => {
                let Ok(info) = connection_info(&sentinels[i]) else {
                    continue;
                };
                // The sentinel's own URL (and password), with the group's TLS files and
                // timeout.
                let endpoint =
                    Endpoint::new(&info, members.group.tls.as_ref(), members.group.timeout);
                match Connector::new(endpoint).connect().await {
                    Ok(c) => c,
                    Err(e) => {
                        last_error = format!("{redacted}: {}", e.message);
                        continue;
                    }
                }
            }
        };
        match instances(&mut conn, master_name).await {
            Ok(found) => {
                *kept = Some((i, conn));
                let nodes = found
                    .into_iter()
                    .map(|(h, p, role)| group_node(members, h, p, role))
                    .collect();
                let changes = members.apply(nodes);
                log_changes(&members.group.name, changes);
                return Ok(());
            }
            Err(e) => last_error = format!("{redacted}: {e}"),
        }
    }
    Err(last_error)
}

/// The master and its live replicas as one sentinel sees them: `(host, port, role)`.
async fn instances(
    conn: &mut Conn,
    master_name: &str,
) -> Result<Vec<(String, u16, &'static str)>, String> {
    let master = query(conn, &["SENTINEL", "GET-MASTER-ADDR-BY-NAME", master_name])
        .await
        .map_err(|e| e.to_string())
        .and_then(|v| crate::core::sentinel::parse_master_addr(&v))?
        .ok_or_else(|| format!("the sentinel does not monitor {master_name:?}"))?;
    let replicas = match query(conn, &["SENTINEL", "REPLICAS", master_name]).await {
        // Sentinels before Redis 5 know only SLAVES.
        Err(e) if e.kind.is_reply() => query(conn, &["SENTINEL", "SLAVES", master_name]).await,
        r => r,
    }
    .map_err(|e| e.to_string())
    .and_then(|v| crate::core::sentinel::parse_replicas(&v))?;
    let mut nodes = vec![(master.0, master.1, "master")];
    nodes.extend(replicas.into_iter().map(|(h, p)| (h, p, "replica")));
    Ok(nodes)
}

/// An instance as the group lists it (its target name is set when it is applied).
fn group_node(members: &Members, host: String, port: u16, role: &str) -> (String, u16, GroupNode) {
    let name = member_target(&members.group, &host, port).name;
    let node = GroupNode {
        target: String::new(),
        addr: name[members.group.name.len() + 1..].to_string(),
        node_id: String::new(),
        role: role.to_string(),
        shard: String::new(),
    };
    (host, port, node)
}
