//! The keyspace-event subscriber's socket: reading and (when asked) completing
//! `notify-keyspace-events`, exact subscriptions to the four `__keyevent@<db>__:` channels,
//! and the pushed messages read one by one, with a PING when the connection has been quiet so
//! a dead peer is noticed. On the same [`Conn`] as the poller's (TLS, ACL user, database).
//!
//! In RESP2 a subscribed connection accepts only (P)SUBSCRIBE, UNSUBSCRIBE and PING, so the
//! flags are read and set before subscribing.

use std::io;
use std::time::Duration;

use redis::{RedisError, Value};
use tokio::time::Instant;

use super::call::config_pairs;
use super::conn::Conn;
use crate::core::attribution::Event;

/// The `notify-keyspace-events` value through CONFIG (`command`, possibly renamed).
pub(crate) async fn notify_flags(conn: &mut Conn, command: &str) -> Result<String, RedisError> {
    let v = conn
        .call(&[command.as_bytes(), b"GET", b"notify-keyspace-events"])
        .await?;
    Ok(config_pairs(v)
        .into_iter()
        .find(|(k, _)| k == "notify-keyspace-events")
        .map(|(_, v)| v)
        .unwrap_or_default())
}

/// Sets `notify-keyspace-events` to `value`.
pub(crate) async fn set_notify_flags(
    conn: &mut Conn,
    command: &str,
    value: &str,
) -> Result<(), RedisError> {
    conn.call(&[
        command.as_bytes(),
        b"SET",
        b"notify-keyspace-events",
        value.as_bytes(),
    ])
    .await
    .map(|_| ())
}

/// A subscribed connection.
pub(crate) struct Subscriber {
    conn: Conn,
    last_read: Instant,
    ping_sent: Option<Instant>,
}

/// After this long without a byte, a PING checks the connection.
const QUIET: Duration = Duration::from_secs(10);

fn timed_out(what: &str) -> RedisError {
    io::Error::new(io::ErrorKind::TimedOut, what.to_string()).into()
}

impl Subscriber {
    /// Subscribes `conn` to the four event channels of database `db` and waits (at most
    /// `timeout`) for the confirmations.
    pub(crate) async fn subscribe(
        mut conn: Conn,
        db: i64,
        timeout: Duration,
    ) -> Result<Subscriber, RedisError> {
        let channels: Vec<String> = Event::ALL.iter().map(|e| e.channel(db)).collect();
        let mut args: Vec<&[u8]> = vec![b"SUBSCRIBE"];
        args.extend(channels.iter().map(|c| c.as_bytes()));
        let confirm = async {
            conn.send(&args).await?;
            for _ in 0..channels.len() {
                match conn.next_reply().await? {
                    Value::Array(items) | Value::Push { data: items, .. } if matches!(items.first(), Some(Value::BulkString(k)) if k == b"subscribe") =>
                        {}
                    other => {
                        return Err(RedisError::from((
                            redis::ErrorKind::Parse,
                            "unexpected reply to SUBSCRIBE",
                            format!("{other:?}").chars().take(80).collect::<String>(),
                        )));
                    }
                }
            }
            Ok::<(), RedisError>(())
        };
        tokio::time::timeout(timeout, confirm)
            .await
            .map_err(|_| timed_out("SUBSCRIBE not confirmed in time"))??;
        Ok(Subscriber {
            conn,
            last_read: Instant::now(),
            ping_sent: None,
        })
    }

    /// The next event (its kind and key), or `None` once `deadline` passes first.
    pub(crate) async fn next_until(
        &mut self,
        deadline: Instant,
    ) -> Result<Option<(Event, Vec<u8>)>, RedisError> {
        loop {
            let reply = match tokio::time::timeout_at(deadline, self.conn.next_reply()).await {
                Err(_) => return Ok(None),
                Ok(r) => r?,
            };
            self.last_read = Instant::now();
            self.ping_sent = None;
            let items = match reply {
                Value::Array(items) | Value::Push { data: items, .. } => items,
                _ => continue,
            };
            let mut it = items.into_iter();
            let (Some(Value::BulkString(kind)), Some(Value::BulkString(channel))) =
                (it.next(), it.next())
            else {
                continue;
            };
            if kind != b"message" {
                continue;
            }
            let (Some(event), Some(Value::BulkString(key))) =
                (Event::of_channel(&channel), it.next())
            else {
                continue;
            };
            return Ok(Some((event, key)));
        }
    }

    /// Checks a quiet connection: a PING after [`QUIET`], an error when its answer has not come
    /// within `timeout`.
    pub(crate) async fn keepalive(&mut self, timeout: Duration) -> Result<(), RedisError> {
        let now = Instant::now();
        match self.ping_sent {
            Some(at) if now.duration_since(at) > timeout => {
                Err(timed_out("no answer to PING on the subscriber connection"))
            }
            Some(_) => Ok(()),
            None if now.duration_since(self.last_read) >= QUIET => {
                self.ping_sent = Some(now);
                self.conn.send(&[b"PING"]).await
            }
            None => Ok(()),
        }
    }
}
