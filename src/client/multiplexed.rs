//! The redis crate's multiplexed connection, as Cluster and Sentinel discovery uses it: connect
//! with a target's credentials and TLS, send one command, get a [`Reply`] or an error text.

use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Value};

/// A connection commands can be sent on; clones share it.
pub(crate) type Connection = MultiplexedConnection;

use super::call::classify;
use super::reply::from_value;
use super::tls::ClientFactory;
use super::without_lib_name;
use crate::config::TargetConfig;
use crate::core::error_kind::ErrorKind;
use crate::core::reply::Reply;

/// Connects to one instance with the group's credentials and TLS, bounded by its timeout.
pub(crate) async fn connect(t: &TargetConfig) -> Result<MultiplexedConnection, String> {
    let mut factory = ClientFactory::new(without_lib_name(&t.connection), t.tls.clone());
    let client = factory.client()?;
    let config = factory.connection_config(
        AsyncConnectionConfig::new()
            .set_connection_timeout(Some(t.timeout))
            .set_response_timeout(Some(t.timeout)),
    );
    tokio::time::timeout(
        t.timeout + t.timeout / 2,
        client.get_multiplexed_async_connection_with_config(&config),
    )
    .await
    .map_err(|_| "connect timed out".to_string())?
    .map_err(|e| classify(&e).message)
}

/// Sends one command; an error reply comes back as `refused: …` (the connection is fine).
pub(crate) async fn query(
    conn: &mut MultiplexedConnection,
    args: &[&str],
    timeout: Duration,
) -> Result<Reply, String> {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    match tokio::time::timeout(timeout, cmd.query_async::<Value>(conn)).await {
        Err(_) => Err(format!("{} timed out", args.join(" "))),
        Ok(Ok(v)) => Ok(from_value(v)),
        Ok(Err(e)) => {
            let pe = classify(&e);
            if pe.kind == ErrorKind::Command {
                Err(format!("refused: {}", pe.message))
            } else {
                Err(pe.message)
            }
        }
    }
}
