//! The closed set of reasons a poll fails: every failed call is classified into one of them,
//! so `redis_exporter_poll_errors_total{kind}` stays bounded.

/// Why a poll failed. A small closed set, so `redis_exporter_poll_errors_total{kind}` stays
/// bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// TCP/unix connect or TLS handshake failed, or the connection dropped.
    Connect,
    /// A call exceeded the configured timeout.
    Timeout,
    /// Authentication was refused (WRONGPASS, NOAUTH, NOPERM on AUTH).
    Auth,
    /// The server's reply was not what the protocol or INFO format promises.
    Protocol,
    /// The server answered INFO with an error (LOADING, BUSY, NOPERM …).
    Command,
}

impl ErrorKind {
    pub(crate) const ALL: [ErrorKind; 5] = [
        ErrorKind::Connect,
        ErrorKind::Timeout,
        ErrorKind::Auth,
        ErrorKind::Protocol,
        ErrorKind::Command,
    ];

    pub fn label(self) -> &'static str {
        match self {
            ErrorKind::Connect => "connect",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Auth => "auth",
            ErrorKind::Protocol => "protocol",
            ErrorKind::Command => "command",
        }
    }

    /// Position in [`ErrorKind::ALL`], for per-kind counters.
    pub(crate) fn index(self) -> usize {
        self as usize
    }
}
