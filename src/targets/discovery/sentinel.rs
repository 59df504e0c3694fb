//! One discovery tick of a Sentinel entry: the current master and its replicas from the first
//! sentinel that answers.

use super::{Members, log_changes, member_target};
use crate::client::multiplexed::{Connection, connect, query};
use crate::config::{TargetConfig, connection_info};
use crate::state::GroupNode;

/// One discovery tick of a Sentinel group: the current master and its replicas from the first
/// sentinel that answers (the one that answered last time first).
pub(super) async fn sentinel_step(
    members: &mut Members,
    kept: &mut Option<(usize, Connection)>,
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
                let Ok(info) = connection_info(&sentinels[i]) else {
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
