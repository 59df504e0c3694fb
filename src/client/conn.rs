//! The poller's connection to Redis: one request, one reply, over TCP, a unix socket or TLS.
//!
//! A poller sends one command at a time and waits for its reply, so it needs no multiplexer,
//! driver task or channel: [`Conn`] owns the socket and one read buffer, which is released
//! after each poll (an INFO reply is a few KiB; idle targets hold no buffer at all). With
//! 10 000 targets that is what keeps the exporter's memory small.
//!
//! Replies are framed here ([`frame_len`], which also bounds bulk lengths so a peer announcing
//! a huge bulk fails at once) and parsed by the redis crate's parser, and every failure is a
//! [`RedisError`] of the same kind the redis client produces, so `poller::classify` applies
//! unchanged. Timeouts are the caller's (each call is wrapped in `tokio::time::timeout`).

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use redis::{ErrorKind, RedisError, Value};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The largest bulk reply accepted (an INFO reply is a few KiB; CONFIG GET a few hundred bytes).
pub const MAX_BULK: usize = 64 << 20;

/// The read buffer's first size, enough for a typical INFO reply in one read.
const FIRST_READ: usize = 8 << 10;

/// Where and how to connect: address, TLS, credentials and database.
#[derive(Clone)]
pub struct Connector {
    addr: Addr,
    tls: Option<Tls>,
    username: Option<String>,
    password: Option<String>,
    db: i64,
}

#[derive(Clone)]
enum Addr {
    Tcp(String, u16),
    Unix(PathBuf),
}

#[derive(Clone)]
struct Tls {
    config: Arc<rustls::ClientConfig>,
    /// The name the certificate is verified against and sent as SNI (the URL's host, or the
    /// `tls_server_name` override).
    name: ServerName<'static>,
}

impl Connector {
    /// A plain connector for `info`'s address and credentials; `tls` for a `rediss://` address
    /// (the rustls configuration and the name to verify).
    pub fn new(
        info: &redis::ConnectionInfo,
        tls: Option<(Arc<rustls::ClientConfig>, String)>,
    ) -> Result<Connector, String> {
        let addr = match info.addr() {
            redis::ConnectionAddr::Tcp(h, p) => Addr::Tcp(h.clone(), *p),
            redis::ConnectionAddr::TcpTls { host, port, .. } => Addr::Tcp(host.clone(), *port),
            redis::ConnectionAddr::Unix(p) => Addr::Unix(p.clone()),
            other => return Err(format!("unsupported address {other:?}")),
        };
        let tls = match (info.addr(), tls) {
            (redis::ConnectionAddr::TcpTls { .. }, Some((config, name))) => Some(Tls {
                config,
                name: ServerName::try_from(name.clone())
                    .map_err(|e| format!("TLS server name {name:?} not usable: {e}"))?,
            }),
            (redis::ConnectionAddr::TcpTls { .. }, None) => {
                return Err("a rediss:// address needs a TLS configuration".into());
            }
            _ => None,
        };
        let r = info.redis_settings();
        Ok(Connector {
            addr,
            tls,
            username: r.username().map(str::to_string),
            password: r.password().map(str::to_string),
            db: r.db(),
        })
    }

    /// Connects, completes TLS, authenticates and selects the database. Unbounded: the
    /// caller applies its timeout.
    pub async fn connect(&self) -> Result<Conn, RedisError> {
        let stream: Box<dyn Io> = match (&self.addr, &self.tls) {
            (Addr::Tcp(host, port), tls) => {
                let tcp = tokio::net::TcpStream::connect((host.as_str(), *port)).await?;
                tcp.set_nodelay(true)?;
                match tls {
                    None => Box::new(tcp),
                    Some(t) => {
                        let connector = tokio_rustls::TlsConnector::from(t.config.clone());
                        Box::new(connector.connect(t.name.clone(), tcp).await?)
                    }
                }
            }
            (Addr::Unix(path), _) => Box::new(tokio::net::UnixStream::connect(path).await?),
        };
        let mut conn = Conn {
            stream,
            buf: Vec::new(),
        };
        if let Some(password) = &self.password {
            conn.auth(self.username.as_deref(), password).await?;
        }
        if self.db != 0 {
            let db = self.db.to_string();
            if let Err(e) = conn.call(&[b"SELECT", db.as_bytes()]).await {
                return Err(match e.detail() {
                    Some(d) => RedisError::from((
                        ErrorKind::Server(redis::ServerErrorKind::ResponseError),
                        "Redis server refused to switch database",
                        d.to_string(),
                    )),
                    None => e,
                });
            }
        }
        conn.release();
        Ok(conn)
    }
}

/// What the connection runs over.
trait Io: AsyncRead + AsyncWrite + Unpin + Send + Sync {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + Sync> Io for T {}

/// An open, authenticated connection: one command at a time.
pub struct Conn {
    stream: Box<dyn Io>,
    buf: Vec<u8>,
}

impl Conn {
    /// `AUTH [username] password`, retried without the username on servers before 6.0 (as the
    /// redis client does). A refusal is an authentication error.
    async fn auth(&mut self, username: Option<&str>, password: &str) -> Result<(), RedisError> {
        let mut args: Vec<&[u8]> = vec![b"AUTH"];
        args.extend(username.map(str::as_bytes));
        args.push(password.as_bytes());
        match self.call(&args).await {
            Ok(_) => Ok(()),
            Err(e) if e.code().is_none() => Err(e),
            Err(e)
                if username.is_some()
                    && e.detail().is_some_and(|d| {
                        d.contains("wrong number of arguments for 'auth' command")
                    }) =>
            {
                Box::pin(self.auth(None, password)).await
            }
            Err(_) => Err(RedisError::from((
                ErrorKind::AuthenticationFailed,
                "Password authentication failed",
            ))),
        }
    }

    /// Sends one command and reads its reply. An error reply is an `Err` with the server's code.
    pub async fn call(&mut self, args: &[&[u8]]) -> Result<Value, RedisError> {
        let mut out = Vec::with_capacity(16 + args.iter().map(|a| a.len() + 16).sum::<usize>());
        encode(&mut out, args);
        self.stream.write_all(&out).await?;
        self.stream.flush().await?;
        self.read_reply().await?.extract_error()
    }

    /// Drops the read buffer (between polls an idle connection holds only its socket).
    pub fn release(&mut self) {
        self.buf = Vec::new();
    }

    async fn read_reply(&mut self) -> Result<Value, RedisError> {
        self.buf.clear();
        let mut want = FIRST_READ;
        loop {
            match frame_len(&self.buf, MAX_BULK)? {
                Frame::Complete(n) if n == self.buf.len() => {
                    let v = redis::parse_redis_value(&self.buf)?;
                    if self.buf.capacity() > 4 * FIRST_READ {
                        self.release();
                    }
                    return Ok(v);
                }
                Frame::Complete(_) => {
                    return Err(RedisError::from((
                        ErrorKind::Parse,
                        "unexpected data after the reply",
                    )));
                }
                Frame::Incomplete(at_least) => want = want.max(at_least),
            }
            let spare = want.saturating_sub(self.buf.len()).max(FIRST_READ / 2);
            self.buf.reserve(spare);
            if self.stream.read_buf(&mut self.buf).await? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "connection closed by the server",
                )
                .into());
            }
        }
    }
}

/// A command as a RESP array of bulk strings.
fn encode(out: &mut Vec<u8>, args: &[&[u8]]) {
    out.push(b'*');
    out.extend_from_slice(args.len().to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
    for a in args {
        out.push(b'$');
        out.extend_from_slice(a.len().to_string().as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

/// How much of a buffer one reply takes.
#[derive(Debug, PartialEq, Eq)]
enum Frame {
    /// The first `n` bytes are one complete reply.
    Complete(usize),
    /// More bytes are needed: at least this many in total.
    Incomplete(usize),
}

fn parse_error(what: &'static str) -> RedisError {
    RedisError::from((ErrorKind::Parse, what))
}

/// Finds the end of the first reply in `buf` (RESP2 and RESP3), without parsing values.
/// Bulks longer than `max_bulk` and unknown type bytes are protocol errors.
fn frame_len(buf: &[u8], max_bulk: usize) -> Result<Frame, RedisError> {
    let mut pos = 0;
    // Values still to read at the current position (aggregates add their elements).
    let mut pending: usize = 1;
    while pending > 0 {
        pending -= 1;
        let Some(&kind) = buf.get(pos) else {
            return Ok(Frame::Incomplete(pos + 1));
        };
        let Some(eol) = buf[pos..].windows(2).position(|w| w == b"\r\n") else {
            if buf.len() - pos > 64 << 10 {
                return Err(parse_error("reply line too long"));
            }
            return Ok(Frame::Incomplete(buf.len() + 1));
        };
        let line = &buf[pos + 1..pos + eol];
        let next = pos + eol + 2;
        let count = || -> Result<i64, RedisError> {
            std::str::from_utf8(line)
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| parse_error("invalid length in reply"))
        };
        match kind {
            b'+' | b'-' | b':' | b'_' | b'#' | b',' | b'(' => pos = next,
            b'$' | b'=' | b'!' => {
                let n = count()?;
                if n < 0 {
                    pos = next;
                    continue;
                }
                let n = n as usize;
                if n > max_bulk {
                    return Err(RedisError::from((
                        ErrorKind::Parse,
                        "bulk reply too large",
                        format!("{n} bytes announced, at most {max_bulk} accepted"),
                    )));
                }
                let end = next + n + 2;
                if buf.len() < end {
                    return Ok(Frame::Incomplete(end));
                }
                pos = end;
            }
            b'*' | b'~' | b'>' | b'%' | b'|' => {
                let n = count()?;
                pos = next;
                if n < 0 {
                    continue;
                }
                let n = n as usize;
                if n > max_bulk {
                    return Err(parse_error("aggregate reply too large"));
                }
                pending += match kind {
                    b'%' => 2 * n,
                    // An attribute map precedes the value it annotates.
                    b'|' => 2 * n + 1,
                    _ => n,
                };
            }
            _ => return Err(parse_error("invalid reply type byte")),
        }
    }
    Ok(Frame::Complete(pos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_commands_as_bulk_arrays() {
        let mut out = Vec::new();
        encode(&mut out, &[b"INFO", b"server"]);
        assert_eq!(out, b"*2\r\n$4\r\nINFO\r\n$6\r\nserver\r\n");
    }

    #[test]
    fn frames_every_reply_type() {
        let cases: [&[u8]; 9] = [
            b"+OK\r\n",
            b"-ERR x\r\n",
            b":12\r\n",
            b"$5\r\nhello\r\n",
            b"$-1\r\n",
            b"*2\r\n$1\r\na\r\n:1\r\n",
            b"*-1\r\n",
            b"%1\r\n+k\r\n*1\r\n$0\r\n\r\n",
            b"*0\r\n",
        ];
        for c in cases {
            assert_eq!(
                frame_len(c, MAX_BULK).unwrap(),
                Frame::Complete(c.len()),
                "{c:?}"
            );
            // Every proper prefix is incomplete, never an error or a shorter frame.
            for cut in 0..c.len() {
                assert!(
                    matches!(frame_len(&c[..cut], MAX_BULK).unwrap(), Frame::Incomplete(n) if n > cut),
                    "{:?}",
                    &c[..cut]
                );
            }
        }
        assert_eq!(
            frame_len(b"+OK\r\n+extra", MAX_BULK).unwrap(),
            Frame::Complete(5)
        );
        assert_eq!(
            frame_len(b"$5800\r\n# Server", MAX_BULK).unwrap(),
            Frame::Incomplete(5800 + 9)
        );
    }

    #[test]
    fn huge_bulks_and_garbage_are_parse_errors() {
        for bad in [
            &b"$99999999999\r\nabc"[..],
            b"HTTP/1.1 400 Bad Request\r\n\r\n",
            b"$abc\r\n",
            b"*x\r\n",
        ] {
            let e = frame_len(bad, MAX_BULK).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Parse, "{bad:?}");
        }
    }
}
