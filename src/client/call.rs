//! Failed Redis calls and INFO-like replies: [`CallError`], the one error type of every Redis
//! call the exporter makes, classified once where the failure is known (an IO error, an elapsed
//! timeout, the framer or parser, the error code of a server's reply); the text of an INFO
//! reply; the pairs of a `CONFIG GET` reply.

use std::time::Duration;

use redis::Value;

use crate::core::error_kind::ErrorKind;

/// What went wrong in a call: a small closed set, decided where the failure is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallKind {
    /// TCP/unix connect or TLS handshake failed, or the connection broke.
    Connect,
    /// The call exceeded the endpoint's timeout.
    Timeout,
    /// Credentials refused (`-NOAUTH`, `-WRONGPASS`, or any error reply during the handshake).
    Auth,
    /// The reply broke the protocol: framing, parsing, an unexpected type or shape.
    Protocol,
    /// The server answered `-ERR …` (a syntax error, an unknown or renamed command …).
    Command,
    /// The server answered with another error code (`-NOPERM`, `-LOADING`, `-BUSY` …).
    Refused,
}

impl CallKind {
    /// The kind exported in `redis_exporter_poll_errors_total{kind}` (both kinds of error reply
    /// count as `command` there, as they always have).
    pub fn error_kind(self) -> ErrorKind {
        match self {
            CallKind::Connect => ErrorKind::Connect,
            CallKind::Timeout => ErrorKind::Timeout,
            CallKind::Auth => ErrorKind::Auth,
            CallKind::Protocol => ErrorKind::Protocol,
            CallKind::Command | CallKind::Refused => ErrorKind::Command,
        }
    }

    /// Whether the server answered with an error reply (the connection itself is fine).
    pub fn is_reply(self) -> bool {
        matches!(self, CallKind::Command | CallKind::Refused)
    }
}

/// One failed Redis call, classified.
#[derive(Debug, Clone)]
pub struct CallError {
    pub kind: CallKind,
    pub message: String,
    /// Whether the connection must be dropped and re-established.
    pub reconnect: bool,
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.kind.error_kind().label(), self.message)
    }
}

impl std::error::Error for CallError {}

impl CallError {
    /// A failure of `kind`; the connection goes unless the server merely answered an error.
    pub(crate) fn new(kind: CallKind, message: impl Into<String>) -> CallError {
        CallError {
            kind,
            message: one_line(&message.into()),
            reconnect: !kind.is_reply(),
        }
    }

    /// The socket or TLS failed during `what`.
    pub(crate) fn io(what: &str, e: &std::io::Error) -> CallError {
        CallError::new(CallKind::Connect, format!("{what}: {e}"))
    }

    /// `what` took longer than `after`.
    pub(crate) fn timeout(what: &str, after: Duration) -> CallError {
        CallError::new(
            CallKind::Timeout,
            format!(
                "{what} took longer than {}",
                humantime::format_duration(after)
            ),
        )
    }

    /// The reply to `what` broke the protocol.
    pub(crate) fn protocol(what: &str, detail: impl std::fmt::Display) -> CallError {
        CallError::new(CallKind::Protocol, format!("{what}: {detail}"))
    }

    /// The server's error reply to `what`, classified by its code (the reply's first word,
    /// which RESP defines as the error's kind), never by its text.
    pub(crate) fn server(what: &str, e: &redis::ServerError) -> CallError {
        let code = e.code();
        let kind = match code {
            "NOAUTH" | "WRONGPASS" => CallKind::Auth,
            "ERR" => CallKind::Command,
            _ => CallKind::Refused,
        };
        let text = match e.details() {
            Some(d) => format!("{what}: {code} {d}"),
            None => format!("{what}: {code}"),
        };
        let mut err = CallError::new(kind, text);
        // Credentials the server no longer accepts: a new connection authenticates again.
        err.reconnect = kind == CallKind::Auth;
        err
    }

    /// This error as it counts in the metrics.
    pub fn error_kind(&self) -> ErrorKind {
        self.kind.error_kind()
    }
}

/// Error texts can span lines; a log line must not.
pub(crate) fn one_line(s: &str) -> String {
    if !s.contains(['\n', '\r']) {
        return s.to_string();
    }
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A reply converted by the redis crate to what the caller expects, or a protocol error.
pub(crate) fn typed<T: redis::FromRedisValue>(what: &str, v: Value) -> Result<T, CallError> {
    T::from_redis_value(v).map_err(|e| CallError::protocol(what, e))
}

/// The text of an INFO reply, or a protocol error.
pub fn reply_text(v: Value) -> Result<String, CallError> {
    match v {
        // Valid UTF-8 (always, in practice) is taken as is, without a copy.
        Value::BulkString(b) => Ok(String::from_utf8(b)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())),
        Value::VerbatimString { text, .. } => Ok(text),
        Value::SimpleString(s) => Ok(s),
        other => Err(CallError::protocol(
            "INFO",
            format!("unexpected reply type: {}", short(&other)),
        )),
    }
}

fn short(v: &Value) -> String {
    let s = format!("{v:?}");
    s.chars().take(80).collect()
}

/// `CONFIG GET maxmemory*` as (name, value) pairs.
pub fn config_pairs(v: Value) -> Vec<(String, String)> {
    let text = |v: &Value| match v {
        Value::BulkString(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Value::SimpleString(s) => Some(s.clone()),
        _ => None,
    };
    match v {
        Value::Array(items) => items
            .chunks(2)
            .filter_map(|kv| Some((text(kv.first()?)?, text(kv.get(1)?)?)))
            .collect(),
        Value::Map(items) => items
            .iter()
            .filter_map(|(k, v)| Some((text(k)?, text(v)?)))
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unexpected_reply_types_are_protocol_errors() {
        assert_eq!(
            reply_text(Value::Int(3)).unwrap_err().kind,
            CallKind::Protocol
        );
        assert_eq!(
            reply_text(Value::BulkString(b"# Server".to_vec())).unwrap(),
            "# Server"
        );
    }

    fn server_error(reply: &[u8]) -> CallError {
        match redis::parse_redis_value(reply).unwrap() {
            Value::ServerError(e) => CallError::server("X", &e),
            other => panic!("not an error reply: {other:?}"),
        }
    }

    #[test]
    fn error_replies_are_classified_by_their_code() {
        let cases: [(&[u8], CallKind, bool); 6] = [
            (
                b"-WRONGPASS invalid username-password pair\r\n",
                CallKind::Auth,
                true,
            ),
            (
                b"-NOAUTH Authentication required.\r\n",
                CallKind::Auth,
                true,
            ),
            (b"-ERR syntax error\r\n", CallKind::Command, false),
            (
                b"-ERR unknown command 'CONFIG'\r\n",
                CallKind::Command,
                false,
            ),
            (
                b"-NOPERM this user has no permissions\r\n",
                CallKind::Refused,
                false,
            ),
            (
                b"-LOADING Redis is loading the dataset\r\n",
                CallKind::Refused,
                false,
            ),
        ];
        for (reply, kind, reconnect) in cases {
            let e = server_error(reply);
            assert_eq!((e.kind, e.reconnect), (kind, reconnect), "{e}");
        }
        let e = server_error(b"-LOADING Redis is loading the dataset in memory\r\n");
        assert_eq!(e.error_kind(), ErrorKind::Command);
        assert_eq!(
            e.to_string(),
            "command: X: LOADING Redis is loading the dataset in memory"
        );
    }
}
