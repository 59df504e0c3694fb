//! Failed calls and INFO-like replies: a redis client error classified into our closed set of
//! [`ErrorKind`]s (and whether the connection must go), a timeout, the text of an INFO reply,
//! the pairs of a `CONFIG GET` reply.

use std::time::Duration;

use redis::{RedisError, Value};

use crate::core::error_kind::ErrorKind;

/// One failed poll, classified.
#[derive(Debug)]
pub struct PollError {
    pub kind: ErrorKind,
    pub message: String,
    /// Whether the connection must be dropped and re-established.
    pub reconnect: bool,
}

impl std::fmt::Display for PollError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.kind.label(), self.message)
    }
}

/// Maps a redis client error to our closed set of kinds.
pub(crate) fn classify(e: &RedisError) -> PollError {
    use redis::ErrorKind as K;
    let code = e.code().unwrap_or("");
    let (kind, reconnect) = if e.is_timeout() {
        (ErrorKind::Timeout, true)
    } else if matches!(e.kind(), K::AuthenticationFailed) || matches!(code, "NOAUTH" | "WRONGPASS")
    {
        (ErrorKind::Auth, true)
    } else if e.is_io_error()
        || e.is_connection_refusal()
        || e.is_connection_dropped()
        || matches!(e.kind(), K::Io | K::InvalidClientConfig)
    {
        (ErrorKind::Connect, true)
    } else if matches!(e.kind(), K::Parse | K::UnexpectedReturnType | K::Client) {
        (ErrorKind::Protocol, true)
    } else {
        // The server answered with an error reply (LOADING, BUSY, NOPERM, …): the connection
        // itself is fine.
        (ErrorKind::Command, false)
    };
    PollError {
        kind,
        message: one_line(&e.to_string()),
        reconnect,
    }
}

/// Error texts from the client can span lines; a log line must not.
pub(crate) fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A call that took longer than `after`.
pub(crate) fn timeout_error(what: &str, after: Duration) -> PollError {
    PollError {
        kind: ErrorKind::Timeout,
        message: format!(
            "{what} took longer than {}",
            humantime::format_duration(after)
        ),
        reconnect: true,
    }
}

/// The text of an INFO reply, or a protocol error.
pub fn reply_text(v: Value) -> Result<String, PollError> {
    match v {
        // Valid UTF-8 (always, in practice) is taken as is, without a copy.
        Value::BulkString(b) => Ok(String::from_utf8(b)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())),
        Value::VerbatimString { text, .. } => Ok(text),
        Value::SimpleString(s) => Ok(s),
        other => Err(PollError {
            kind: ErrorKind::Protocol,
            message: format!(
                "INFO answered with an unexpected reply type: {:?}",
                short(&other)
            ),
            reconnect: true,
        }),
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
            ErrorKind::Protocol
        );
        assert_eq!(
            reply_text(Value::BulkString(b"# Server".to_vec())).unwrap(),
            "# Server"
        );
    }
}
