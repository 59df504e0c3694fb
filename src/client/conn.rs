//! The poller's connection to Redis: one request, one reply, over TCP, a unix socket or TLS.
//!
//! A poller sends one command at a time and waits for its reply, so it needs no multiplexer,
//! driver task or channel: [`Conn`] owns the socket and one read buffer, which is released
//! after each poll (an INFO reply is a few KiB; idle targets hold no buffer at all). With
//! 10 000 targets that is what keeps the exporter's memory small.
//!
//! Replies are framed by [`super::resp::frame_len`] (which also bounds bulk lengths so a peer
//! announcing a huge bulk fails at once) and parsed by the redis crate's parser, and every failure is a
//! [`RedisError`] of the same kind the redis client produces, so `poller::classify` applies
//! unchanged. Timeouts are the caller's (each call is wrapped in `tokio::time::timeout`).

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use redis::{ErrorKind, RedisError, Value};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::resp::{Frame, MAX_BULK, encode, frame_len};

/// The read buffer's first size, enough for a typical INFO reply in one read.
const FIRST_READ: usize = 8 << 10;

/// Where and how to connect: address, TLS, credentials and database.
#[derive(Clone)]
pub(crate) struct Connector {
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
    pub(crate) fn new(
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

    /// The database the connection selects (keyspace events are per database).
    pub(crate) fn db(&self) -> i64 {
        self.db
    }

    /// Connects, completes TLS, authenticates and selects the database. Unbounded: the
    /// caller applies its timeout.
    pub(crate) async fn connect(&self) -> Result<Conn, RedisError> {
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
            pos: 0,
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
pub(crate) struct Conn {
    stream: Box<dyn Io>,
    buf: Vec<u8>,
    /// Where the unread bytes of `buf` start: pushed replies ([`Conn::next_reply`]) arrive
    /// many to a read.
    pos: usize,
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
    pub(crate) async fn call(&mut self, args: &[&[u8]]) -> Result<Value, RedisError> {
        let mut out = Vec::with_capacity(16 + args.iter().map(|a| a.len() + 16).sum::<usize>());
        encode(&mut out, args);
        self.stream.write_all(&out).await?;
        self.stream.flush().await?;
        self.read_reply().await?.extract_error()
    }

    /// Writes one command without waiting for its reply (subscriptions, pings while
    /// subscribed).
    pub(crate) async fn send(&mut self, args: &[&[u8]]) -> Result<(), RedisError> {
        let mut out = Vec::with_capacity(16 + args.iter().map(|a| a.len() + 16).sum::<usize>());
        encode(&mut out, args);
        self.stream.write_all(&out).await?;
        self.stream.flush().await?;
        Ok(())
    }

    /// Reads the next reply, keeping what follows it in the buffer (pushed messages come many
    /// to a read). Cancel-safe: an interrupted call loses no bytes.
    pub(crate) async fn next_reply(&mut self) -> Result<Value, RedisError> {
        loop {
            if let Some(r) = self.buffered_reply()? {
                return redis::parse_redis_value(&self.buf[r]);
            }
            self.fill().await?;
        }
    }

    /// Where the next complete reply already received lies in the buffer (see
    /// [`Conn::bytes`]), without waiting: a subscriber reads its messages this way, without
    /// building values. Valid until the next read.
    pub(crate) fn buffered_reply(&mut self) -> Result<Option<std::ops::Range<usize>>, RedisError> {
        if self.pos == self.buf.len() && self.pos > 0 {
            self.buf.clear();
            self.pos = 0;
        }
        match frame_len(&self.buf[self.pos..], MAX_BULK)? {
            Frame::Complete(n) => {
                let start = self.pos;
                self.pos += n;
                Ok(Some(start..start + n))
            }
            Frame::Incomplete(_) => Ok(None),
        }
    }

    /// The bytes of a reply [`Conn::buffered_reply`] found.
    pub(crate) fn bytes(&self, r: std::ops::Range<usize>) -> &[u8] {
        &self.buf[r]
    }

    /// Reads once more from the socket (the unread bytes kept). Cancel-safe.
    pub(crate) async fn fill(&mut self) -> Result<(), RedisError> {
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.reserve(FIRST_READ);
        if self.stream.read_buf(&mut self.buf).await? == 0 {
            return Err(closed());
        }
        Ok(())
    }

    /// Drops the read buffer (between polls an idle connection holds only its socket).
    pub(crate) fn release(&mut self) {
        self.buf = Vec::new();
        self.pos = 0;
    }

    async fn read_reply(&mut self) -> Result<Value, RedisError> {
        self.buf.clear();
        self.pos = 0;
        let mut want = FIRST_READ;
        loop {
            match frame_len(&self.buf, MAX_BULK)? {
                Frame::Complete(n) if n == self.buf.len() => {
                    let v = redis::parse_redis_value(&self.buf)?;
                    // Consumed: a later `next_reply` must not read it again.
                    self.buf.clear();
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
                return Err(closed());
            }
        }
    }
}

fn closed() -> RedisError {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "connection closed by the server",
    )
    .into()
}
