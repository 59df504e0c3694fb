//! The redis crate's replies as the core's [`Reply`], for the Cluster and Sentinel parsers:
//! byte buffers and strings are moved, not copied; and [`query`], a command with text
//! arguments whose reply comes back that way.

use redis::Value;

use super::call::CallError;
use super::conn::Conn;
use crate::core::reply::Reply;

/// Sends `args` on `conn` and converts the reply (discovery's commands).
pub(crate) async fn query(conn: &mut Conn, args: &[&str]) -> Result<Reply, CallError> {
    let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    conn.call(&args).await.map(from_value)
}

/// `v` in the core's terms. Shapes no parser reads (sets, doubles, pushes, …) become
/// [`Reply::Other`].
pub(crate) fn from_value(v: Value) -> Reply {
    match v {
        Value::Nil => Reply::Nil,
        Value::Int(i) => Reply::Int(i),
        Value::BulkString(b) => Reply::BulkString(b),
        Value::SimpleString(s) => Reply::SimpleString(s),
        Value::VerbatimString { text, .. } => Reply::VerbatimString(text),
        Value::Array(items) => Reply::Array(items.into_iter().map(from_value).collect()),
        Value::Map(items) => Reply::Map(
            items
                .into_iter()
                .map(|(k, v)| (from_value(k), from_value(v)))
                .collect(),
        ),
        _ => Reply::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::cluster::tests::{NODES_FAILOVER, expected, sorted};
    use crate::core::cluster::{Role, parse_nodes, parse_shards};

    // Captured CLUSTER SHARDS replies, parsed by the client library as they arrive.
    const SHARDS: &[u8] = include_bytes!("../../tests/fixtures/cluster/shards-7.0.resp");
    const SHARDS_FAILOVER: &[u8] =
        include_bytes!("../../tests/fixtures/cluster/shards-7.0-failover.resp");

    #[test]
    fn every_shape_converts_and_others_are_other() {
        let v = Value::Array(vec![
            Value::Nil,
            Value::Int(-1),
            Value::BulkString(b"b".to_vec()),
            Value::SimpleString("s".into()),
            Value::Map(vec![(Value::SimpleString("k".into()), Value::Double(1.5))]),
            Value::Set(vec![]),
            Value::Okay,
        ]);
        assert_eq!(
            from_value(v),
            Reply::Array(vec![
                Reply::Nil,
                Reply::Int(-1),
                Reply::BulkString(b"b".to_vec()),
                Reply::SimpleString("s".into()),
                Reply::Map(vec![(Reply::SimpleString("k".into()), Reply::Other)]),
                Reply::Other,
                Reply::Other,
            ])
        );
    }

    #[test]
    fn shards_of_a_three_master_cluster_agree_with_nodes() {
        let v = from_value(redis::parse_redis_value(SHARDS).unwrap());
        let nodes = parse_shards(&v, false).unwrap();
        assert_eq!(nodes.len(), 6);
        assert!(nodes.iter().all(|n| n.id.len() == 40));
        assert_eq!(sorted(nodes), expected());
    }

    #[test]
    fn after_a_master_failed_its_replica_leads_the_shard() {
        // 30003 was killed; 30005 was promoted.
        let nodes = sorted(parse_nodes(NODES_FAILOVER).unwrap());
        assert!(nodes.contains(&("127.0.0.1:30005".into(), "master", "4ed490".into())));
        assert!(nodes.contains(&("127.0.0.1:30003".into(), "master", "13e573".into())));
        let v = from_value(redis::parse_redis_value(SHARDS_FAILOVER).unwrap());
        let shards = parse_shards(&v, false).unwrap();
        let n5 = shards.iter().find(|n| n.port == 30005).unwrap();
        assert_eq!(n5.role, Role::Master);
        assert_eq!(shards.len(), 6);
    }
}
