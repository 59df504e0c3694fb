//! Redis Cluster: the pure parsing of `CLUSTER SHARDS` (Redis 7), `CLUSTER NODES` (every
//! version, the fallback) and `CLUSTER INFO` replies into a topology and the cluster's health,
//! and the test of whether the topology a poll saw still matches the nodes' own view.
//!
//! Pure: replies in, typed values out; no IO. The discovery task that sends the commands and
//! runs a poller per node is `crate::targets::discovery`. Reply formats:
//! <https://redis.io/docs/latest/commands/cluster-shards/>,
//! <https://redis.io/docs/latest/commands/cluster-nodes/>,
//! <https://redis.io/docs/latest/commands/cluster-info/>.

use super::reply::Reply;

/// A node's role, as the cluster reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Master,
    Replica,
}

impl Role {
    /// The label value (`master` | `replica`, as `CLUSTER SHARDS` spells them).
    pub fn label(self) -> &'static str {
        match self {
            Role::Master => "master",
            Role::Replica => "replica",
        }
    }

    /// Whether INFO replication's `role` (`master` | `slave`) says the same.
    pub(crate) fn matches_info(self, info_role: &str) -> bool {
        match self {
            Role::Master => info_role == "master",
            Role::Replica => info_role == "slave" || info_role == "replica",
        }
    }
}

/// One node of the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// The 40-character node id.
    pub id: String,
    /// Host name or IP the node is reached at.
    pub host: String,
    pub port: u16,
    pub role: Role,
    /// The node id of the shard's master (the node's own id for a master): the `shard` label,
    /// stable while the shard keeps its master.
    pub shard: String,
}

impl Node {
    /// `host:port`, as targets are named and http_sd lists them.
    pub fn addr(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// The cluster's health from `CLUSTER INFO`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Health {
    /// `cluster_state:ok`.
    pub state_ok: bool,
    pub slots_assigned: u64,
    pub slots_ok: u64,
    pub slots_pfail: u64,
    pub slots_fail: u64,
    pub known_nodes: u64,
    /// Masters serving at least one slot.
    pub size: u64,
}

/// Parses `CLUSTER INFO` text; fields it does not know are ignored, missing numbers are 0.
pub fn parse_info(text: &str) -> Result<Health, String> {
    let mut h = Health::default();
    let mut state = None;
    for line in text.lines() {
        let Some((k, v)) = line.trim().split_once(':') else {
            continue;
        };
        let n = || v.trim().parse::<u64>().unwrap_or(0);
        match k {
            "cluster_state" => state = Some(v.trim() == "ok"),
            "cluster_slots_assigned" => h.slots_assigned = n(),
            "cluster_slots_ok" => h.slots_ok = n(),
            "cluster_slots_pfail" => h.slots_pfail = n(),
            "cluster_slots_fail" => h.slots_fail = n(),
            "cluster_known_nodes" => h.known_nodes = n(),
            "cluster_size" => h.size = n(),
            _ => {}
        }
    }
    h.state_ok = state.ok_or("CLUSTER INFO has no cluster_state")?;
    Ok(h)
}

/// Parses `CLUSTER NODES` text: one node per line, `<id> <ip:port@cport[,hostname]> <flags>
/// <master> …`. Nodes without an address yet (`noaddr`, `handshake`, port 0) are left out.
pub fn parse_nodes(text: &str) -> Result<Vec<Node>, String> {
    let mut nodes = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [id, addr, flags, master, ..] = fields[..] else {
            return Err(format!("CLUSTER NODES line with too few fields: {line:?}"));
        };
        let flags: Vec<&str> = flags.split(',').collect();
        if flags.iter().any(|f| matches!(*f, "noaddr" | "handshake")) {
            continue;
        }
        // ip:port@cport, or ip:port@cport,hostname (7.0+); IPv6 ips contain colons.
        let (hostpart, hostname) = match addr.split_once(',') {
            Some((a, h)) => (a, (!h.is_empty()).then_some(h)),
            None => (addr, None),
        };
        let hostport = hostpart.split('@').next().unwrap_or(hostpart);
        let (ip, port) = hostport
            .rsplit_once(':')
            .ok_or_else(|| format!("CLUSTER NODES address without a port: {addr:?}"))?;
        let port: u16 = port
            .parse()
            .map_err(|_| format!("CLUSTER NODES address with a bad port: {addr:?}"))?;
        if port == 0 || ip.is_empty() {
            continue;
        }
        let role = if flags.contains(&"master") {
            Role::Master
        } else if flags.contains(&"slave") || flags.contains(&"replica") {
            Role::Replica
        } else {
            continue;
        };
        let shard = match role {
            Role::Master => id.to_string(),
            Role::Replica => master.to_string(),
        };
        nodes.push(Node {
            id: id.to_string(),
            host: hostname.unwrap_or(ip).trim_matches(['[', ']']).to_string(),
            port,
            role,
            shard,
        });
    }
    Ok(nodes)
}

/// Parses a `CLUSTER SHARDS` reply (RESP2 or RESP3): shards of `slots` and `nodes`, each node
/// with `id`, `endpoint`, `ip`, `hostname`, `port`/`tls-port` and `role`. A node is reached at
/// its endpoint unless that is `?` or empty, then at its ip.
pub(crate) fn parse_shards(reply: &Reply, tls: bool) -> Result<Vec<Node>, String> {
    let Reply::Array(shards) = reply else {
        return Err("CLUSTER SHARDS reply is not an array".into());
    };
    let mut nodes = Vec::new();
    for shard in shards {
        let fields = shard.pairs().ok_or("CLUSTER SHARDS shard is not a map")?;
        let Some((_, Reply::Array(members))) = fields.iter().find(|(k, _)| k == "nodes") else {
            return Err("CLUSTER SHARDS shard without nodes".into());
        };
        let mut shard_nodes = Vec::new();
        for member in members {
            let f = member.pairs().ok_or("CLUSTER SHARDS node is not a map")?;
            let get = |key: &str| f.iter().find(|(k, _)| k == key).map(|(_, v)| *v);
            let id = get("id")
                .and_then(Reply::text)
                .ok_or("CLUSTER SHARDS node without id")?;
            let port = if tls {
                get("tls-port").or(get("port"))
            } else {
                get("port").or(get("tls-port"))
            }
            .and_then(Reply::int)
            .unwrap_or(0);
            let host = ["endpoint", "ip"]
                .iter()
                .filter_map(|k| get(k).and_then(Reply::text))
                .find(|h| !h.is_empty() && h != "?")
                .unwrap_or_default();
            let role = match get("role").and_then(Reply::text).as_deref() {
                Some("master") => Role::Master,
                Some("replica" | "slave") => Role::Replica,
                _ => continue,
            };
            if host.is_empty() || !(1..=65535).contains(&port) {
                continue;
            }
            shard_nodes.push(Node {
                id,
                host,
                port: port as u16,
                role,
                shard: String::new(),
            });
        }
        // A shard whose master failed and was not replaced lists it with role master still
        // (health `fail`); the first master listed names the shard.
        let master = shard_nodes
            .iter()
            .find(|n| n.role == Role::Master)
            .map(|n| n.id.clone())
            .unwrap_or_default();
        for mut n in shard_nodes {
            n.shard.clone_from(&master);
            nodes.push(n);
        }
    }
    Ok(nodes)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    const NODES: &str = include_str!("../../tests/fixtures/cluster/nodes-7.0.txt");
    pub(crate) const NODES_FAILOVER: &str =
        include_str!("../../tests/fixtures/cluster/nodes-7.0-failover.txt");
    const INFO: &str = include_str!("../../tests/fixtures/cluster/info-7.0.txt");
    const INFO_FAIL: &str = include_str!("../../tests/fixtures/cluster/info-7.0-pfail.txt");

    /// `(address, role, first characters of the shard)` per node, by port.
    pub(crate) fn sorted(mut nodes: Vec<Node>) -> Vec<(String, &'static str, String)> {
        nodes.sort_by_key(|n| n.port);
        nodes
            .into_iter()
            .map(|n| (n.addr(), n.role.label(), n.shard[..6].to_string()))
            .collect()
    }

    /// The three-master cluster of the fixtures.
    pub(crate) fn expected() -> Vec<(String, &'static str, String)> {
        [
            (30001, "master", "c0c7bc"),
            (30002, "master", "771c31"),
            (30003, "master", "13e573"),
            (30004, "replica", "771c31"),
            (30005, "replica", "13e573"),
            (30006, "replica", "c0c7bc"),
        ]
        .into_iter()
        .map(|(p, r, s)| (format!("127.0.0.1:{p}"), r, s.to_string()))
        .collect()
    }

    #[test]
    fn nodes_of_a_three_master_cluster() {
        let nodes = parse_nodes(NODES).unwrap();
        assert_eq!(sorted(nodes), expected());
    }

    #[test]
    fn nodes_without_address_and_hostnames() {
        let text = "\
a1 :0@0 master,noaddr - 0 0 1 disconnected
b2 10.0.0.2:6379@16379,cache-b.internal master - 0 0 2 connected 0-100
c3 10.0.0.3:6380@16380 myself,slave b2 0 0 2 connected
d4 [::1]:7000@17000 slave b2 0 0 2 connected
";
        let nodes = parse_nodes(text).unwrap();
        let addrs: Vec<String> = nodes.iter().map(Node::addr).collect();
        assert_eq!(
            addrs,
            ["cache-b.internal:6379", "10.0.0.3:6380", "[::1]:7000"]
        );
        assert_eq!(nodes[1].shard, "b2");
        assert!(parse_nodes("just-an-id\n").is_err());
    }

    #[test]
    fn shards_prefer_the_tls_port_over_tls() {
        let v = Reply::Array(vec![Reply::Array(vec![
            Reply::BulkString(b"nodes".to_vec()),
            Reply::Array(vec![Reply::Map(vec![
                (
                    Reply::SimpleString("id".into()),
                    Reply::SimpleString("x".into()),
                ),
                (
                    Reply::SimpleString("endpoint".into()),
                    Reply::SimpleString("?".into()),
                ),
                (
                    Reply::SimpleString("ip".into()),
                    Reply::SimpleString("10.1.1.1".into()),
                ),
                (Reply::SimpleString("port".into()), Reply::Int(6379)),
                (Reply::SimpleString("tls-port".into()), Reply::Int(6380)),
                (
                    Reply::SimpleString("role".into()),
                    Reply::SimpleString("master".into()),
                ),
            ])]),
        ])]);
        assert_eq!(parse_shards(&v, true).unwrap()[0].addr(), "10.1.1.1:6380");
        assert_eq!(parse_shards(&v, false).unwrap()[0].addr(), "10.1.1.1:6379");
        assert!(parse_shards(&Reply::Int(1), false).is_err());
    }

    #[test]
    fn info_health() {
        let h = parse_info(INFO).unwrap();
        assert_eq!(
            h,
            Health {
                state_ok: true,
                slots_assigned: 16384,
                slots_ok: 16384,
                slots_pfail: 0,
                slots_fail: 0,
                known_nodes: 6,
                size: 3,
            }
        );
        let f = parse_info(INFO_FAIL).unwrap();
        assert!(!f.state_ok);
        assert_eq!((f.slots_ok, f.slots_fail), (10923, 5461));
        assert!(parse_info("ERR This instance has cluster support disabled").is_err());
    }

    #[test]
    fn roles_match_info_spelling() {
        assert!(Role::Replica.matches_info("slave"));
        assert!(Role::Master.matches_info("master"));
        assert!(!Role::Master.matches_info("slave"));
    }
}
