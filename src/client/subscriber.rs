//! The keyspace-event subscriber's socket: reading and (when asked) completing
//! `notify-keyspace-events`, exact subscriptions to the four `__keyevent@<db>__:` channels,
//! and the pushed messages read one by one, with a PING when the connection has been quiet so
//! a dead peer is noticed. On the same [`Conn`] as the poller's (TLS, ACL user, database).
//!
//! In RESP2 a subscribed connection accepts only (P)SUBSCRIBE, UNSUBSCRIBE and PING, so the
//! flags are read and set before subscribing.

use std::time::Duration;

use redis::Value;
use tokio::time::Instant;

use super::call::{CallError, CallKind, config_pairs};
use super::conn::Conn;
use crate::core::attribution::Event;

/// The `notify-keyspace-events` value through CONFIG (`command`, possibly renamed).
pub(crate) async fn notify_flags(conn: &mut Conn, command: &str) -> Result<String, CallError> {
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
) -> Result<(), CallError> {
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
    /// Bytes arrived that `next_buffered` has not gone through yet.
    pending: bool,
    /// The last read found the socket emptied: what came is all there was.
    emptied: bool,
}

/// After this long without a byte, a PING checks the connection.
const QUIET: Duration = Duration::from_secs(10);

/// A RESP2 `message` push (`*3`, then bulks `message`, the channel, the payload) on one of our
/// channels: its event and where the key lies in `frame`. Anything else is `None`.
fn message(frame: &[u8]) -> Option<(Event, std::ops::Range<usize>)> {
    let mut at = 0;
    if !frame.starts_with(b"*3\r\n") {
        return None;
    }
    at += 4;
    if bulk(frame, &mut at)? != b"message" {
        return None;
    }
    let event = Event::of_channel(bulk(frame, &mut at)?)?;
    let start = at;
    bulk(frame, &mut at)?;
    let len = frame[start + 1..].iter().position(|&b| b == b'\r')?;
    let key_start = start + 1 + len + 2;
    Some((event, key_start..at - 2))
}

/// The bulk string at `*at` (`$<n>\r\n<bytes>\r\n`); moves `*at` past it.
fn bulk<'a>(frame: &'a [u8], at: &mut usize) -> Option<&'a [u8]> {
    let rest = frame.get(*at..)?;
    if rest.first() != Some(&b'$') {
        return None;
    }
    let eol = rest.iter().position(|&b| b == b'\r')?;
    let n: usize = std::str::from_utf8(&rest[1..eol]).ok()?.parse().ok()?;
    let start = eol + 2;
    let data = rest.get(start..start + n)?;
    *at += start + n + 2;
    Some(data)
}

/// Whether a reply's items are a SUBSCRIBE confirmation.
fn is_confirmation(items: &[Value]) -> bool {
    matches!(items.first(), Some(Value::BulkString(k)) if k == b"subscribe")
}

impl Subscriber {
    /// Subscribes `conn` to the four event channels of database `db` and waits (at most
    /// `timeout`) for the confirmations.
    pub(crate) async fn subscribe(
        mut conn: Conn,
        db: i64,
        timeout: Duration,
    ) -> Result<Subscriber, CallError> {
        let channels: Vec<String> = Event::ALL.iter().map(|e| e.channel(db)).collect();
        let mut args: Vec<&[u8]> = vec![b"SUBSCRIBE"];
        args.extend(channels.iter().map(std::string::String::as_bytes));
        let confirm = async {
            conn.send(&args).await?;
            for _ in 0..channels.len() {
                match conn.next_reply().await? {
                    Value::Array(items) | Value::Push { data: items, .. }
                        if is_confirmation(&items) => {}
                    other => {
                        return Err(CallError::protocol(
                            "SUBSCRIBE",
                            format!(
                                "unexpected reply {}",
                                format!("{other:?}").chars().take(80).collect::<String>()
                            ),
                        ));
                    }
                }
            }
            Ok::<(), CallError>(())
        };
        tokio::time::timeout(timeout, confirm)
            .await
            .map_err(|_| CallError::timeout("SUBSCRIBE confirmations", timeout))??;
        Ok(Subscriber {
            conn,
            last_read: Instant::now(),
            ping_sent: None,
            // Messages may have come with the confirmations.
            pending: true,
            emptied: false,
        })
    }

    /// Waits until more bytes arrive (`true`) or `deadline` passes (`false`); `true` at once
    /// when a complete message is already buffered.
    pub(crate) async fn wait(&mut self, deadline: Instant) -> Result<bool, CallError> {
        if self.pending {
            return Ok(true);
        }
        match tokio::time::timeout_at(deadline, self.conn.fill()).await {
            Err(_) => Ok(false),
            Ok(r) => {
                self.emptied = !r?;
                self.last_read = Instant::now();
                self.ping_sent = None;
                self.pending = true;
                Ok(true)
            }
        }
    }

    /// The next event already received (its kind and key), without waiting; `None` once the
    /// buffer holds no complete message. Other replies (PING's, confirmations) are skipped.
    pub(crate) fn next_buffered(&mut self) -> Result<Option<(Event, &[u8])>, CallError> {
        loop {
            let Some(r) = self.conn.buffered_reply()? else {
                self.pending = false;
                return Ok(None);
            };
            if let Some((event, key)) = message(self.conn.bytes(r.clone())) {
                return Ok(Some((event, &self.conn.bytes(r)[key])));
            }
        }
    }

    /// True when every message received has been read and the last read emptied the socket:
    /// the next message is yet to come.
    pub(crate) fn caught_up(&self) -> bool {
        !self.pending && self.emptied
    }

    /// Lets messages gather for `period` (or until `bytes` have come) before the next read: a
    /// busy server writes a few messages per turn of its event loop, and waking for each write
    /// costs more than reading what it carried.
    pub(crate) async fn gather(&mut self, period: Duration, bytes: u16) {
        self.conn.wake_after(bytes);
        tokio::time::sleep(period).await;
        // Back to waking at the first byte; if enough has come already, the socket reads as
        // ready at once.
        self.conn.wake_after(1);
    }

    /// Checks a quiet connection: a PING after [`QUIET`], an error when its answer has not come
    /// within `timeout`.
    pub(crate) async fn keepalive(&mut self, timeout: Duration) -> Result<(), CallError> {
        let now = Instant::now();
        match self.ping_sent {
            Some(at) if now.duration_since(at) > timeout => Err(CallError::new(
                CallKind::Timeout,
                "no answer to PING on the subscriber connection",
            )),
            Some(_) => Ok(()),
            None if now.duration_since(self.last_read) >= QUIET => {
                self.ping_sent = Some(now);
                self.conn.send(&[b"PING"]).await
            }
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_read_in_place() {
        let f = b"*3\r\n$7\r\nmessage\r\n$22\r\n__keyevent@0__:keymiss\r\n$6\r\nuser:1\r\n";
        let (event, key) = message(f).unwrap();
        assert_eq!((event, &f[key]), (Event::Keymiss, &b"user:1"[..]));
        // An empty key name, and a binary one with CR LF inside.
        let f = b"*3\r\n$7\r\nmessage\r\n$18\r\n__keyevent@3__:del\r\n$0\r\n\r\n";
        assert_eq!(message(f).map(|(e, k)| (e, k.len())), Some((Event::Del, 0)));
        let f = b"*3\r\n$7\r\nmessage\r\n$22\r\n__keyevent@0__:expired\r\n$4\r\na\r\nb\r\n";
        let (_, key) = message(f).unwrap();
        assert_eq!(&f[key], b"a\r\nb");
        // Not messages: a confirmation, PING's answer, another channel.
        assert!(message(b"*3\r\n$9\r\nsubscribe\r\n$3\r\nabc\r\n:1\r\n").is_none());
        assert!(message(b"*2\r\n$4\r\npong\r\n$0\r\n\r\n").is_none());
        assert!(message(b"*3\r\n$7\r\nmessage\r\n$3\r\nset\r\n$1\r\nk\r\n").is_none());
    }
}
