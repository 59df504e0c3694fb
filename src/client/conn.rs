//! Every connection to Redis: [`Connector`] (made from one [`Endpoint`]) opens a [`Conn`] over
//! TCP, a unix socket or TLS, authenticates and selects the database, all within the
//! endpoint's timeout. The poller, the sampler, Cluster and Sentinel discovery, `check` and
//! `/scrape` all connect through it.
//!
//! A [`Conn`] owns the socket and one read buffer, and nothing else: no multiplexer, driver
//! task or channel. Callers send one command ([`Conn::call`]), a pipeline ([`Conn::pipeline`])
//! or write and read pushed replies themselves ([`Conn::send`], [`Conn::next_reply`]). The
//! buffer is released between polls (an INFO reply is a few KiB; idle targets hold no buffer
//! at all): with 10 000 targets that is what keeps the exporter's memory small.
//!
//! Commands are encoded by the redis crate; replies are framed by [`super::resp`] (which bounds
//! what a peer may announce) and parsed by the redis crate. Every failure is a [`CallError`],
//! classified here, where it is known.

use std::sync::Arc;
use std::time::SystemTime;

use nix::{setsockopt_impl, sockopt_impl};
use redis::Value;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::call::{CallError, CallKind};
use super::endpoint::{Addr, Endpoint};
use super::resp::{Frame, Parsed, frame_len, parse_one};

/// The read buffer's first size, enough for a typical INFO reply in one read.
const FIRST_READ: usize = 8 << 10;

/// The most one reply in progress may take in the buffer: the framer bounds each bulk and
/// each aggregate's count, this bounds their sum (a subscription's stream stays bounded too).
const MAX_BUFFERED: usize = 2 * super::resp::MAX_BULK;

/// The TLS half of a connector: the rustls configuration and the name the certificate is
/// verified against and sent as SNI (the URL's host, or the `tls_server_name` override).
#[derive(Clone)]
struct Tls {
    config: Arc<rustls::ClientConfig>,
    name: ServerName<'static>,
}

/// Makes connections to one endpoint. Cheap to clone (the TLS configuration is shared).
#[derive(Clone)]
pub struct Connector {
    /// Shared with the poller's settings: one copy of the address and credentials a target.
    endpoint: Arc<Endpoint>,
    /// The TLS configuration of a `rediss://` endpoint, or why its files are not usable.
    tls: Result<Option<Tls>, CallError>,
    /// Modification times of the TLS files the configuration was built from.
    stamp: Vec<Option<SystemTime>>,
}

impl Connector {
    /// A connector for `endpoint`; TLS files are read now. Files that cannot be used make
    /// every [`Connector::connect`] fail with the error naming them (see [`Connector::problem`])
    /// until [`Connector::refresh`] finds them changed.
    pub fn new(endpoint: impl Into<Arc<Endpoint>>) -> Connector {
        let endpoint = endpoint.into();
        let stamp = endpoint
            .tls
            .as_deref()
            .map(super::super::config::tls::TlsFiles::stamp)
            .unwrap_or_default();
        let tls = build_tls(&endpoint);
        Connector {
            endpoint,
            tls,
            stamp,
        }
    }

    /// Why no connection can be made until the TLS files change, if so.
    pub fn problem(&self) -> Option<&CallError> {
        self.tls.as_ref().err()
    }

    /// The endpoint this connector connects to.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The database the connection selects (keyspace events are per database).
    pub(crate) fn db(&self) -> i64 {
        self.endpoint.db
    }

    /// Re-reads the TLS files when their modification times changed; `true` if it did.
    pub fn refresh(&mut self) -> bool {
        let Some(files) = &self.endpoint.tls else {
            return false;
        };
        let stamp = files.stamp();
        if stamp == self.stamp {
            return false;
        }
        self.stamp = stamp;
        self.tls = build_tls(&self.endpoint);
        true
    }

    /// Connects, completes TLS, authenticates and selects the database, within the endpoint's
    /// timeout. An error reply during the handshake is an [`CallKind::Auth`] error: it is
    /// about credentials or permissions.
    pub async fn connect(&self) -> Result<Conn, CallError> {
        let timeout = self.endpoint.timeout;
        tokio::time::timeout(timeout, self.handshake())
            .await
            .map_err(|_| CallError::timeout("connect", timeout))?
    }

    async fn handshake(&self) -> Result<Conn, CallError> {
        let tls = self.tls.clone()?;
        let e = &self.endpoint;
        let stream: Box<dyn Io> = match (&e.addr, tls) {
            (Addr::Tcp(host, port), tls) => {
                let what = format!("connect to {}", e.address());
                let tcp = TcpStream::connect((host.as_str(), *port))
                    .await
                    .map_err(|err| CallError::io(&what, &err))?;
                tcp.set_nodelay(true)
                    .map_err(|err| CallError::io(&what, &err))?;
                match tls {
                    None => Box::new(tcp),
                    Some(t) => {
                        let connector = tokio_rustls::TlsConnector::from(t.config);
                        let stream =
                            connector
                                .connect(t.name.clone(), tcp)
                                .await
                                .map_err(|err| {
                                    CallError::io(
                                        &format!("TLS handshake with {}", e.address()),
                                        &err,
                                    )
                                })?;
                        Box::new(stream)
                    }
                }
            }
            (Addr::Unix(path), _) => {
                Box::new(tokio::net::UnixStream::connect(path).await.map_err(|err| {
                    CallError::io(&format!("connect to {}", path.display()), &err)
                })?)
            }
        };
        let mut conn = Conn {
            stream,
            buf: Vec::new(),
            pos: 0,
            timeout: e.timeout,
        };
        if let Some(password) = &e.password {
            conn.auth(e.username.as_deref(), password).await?;
        }
        if e.db != 0 {
            let db = e.db.to_string();
            conn.call(&[b"SELECT", db.as_bytes()])
                .await
                .map_err(handshake_refusal)?;
        }
        conn.release();
        Ok(conn)
    }
}

/// An error reply during the handshake is about credentials or permissions.
fn handshake_refusal(e: CallError) -> CallError {
    if e.kind.is_reply() || e.kind == CallKind::Auth {
        CallError {
            kind: CallKind::Auth,
            reconnect: true,
            ..e
        }
    } else {
        e
    }
}

fn build_tls(endpoint: &Endpoint) -> Result<Option<Tls>, CallError> {
    let (Some(files), Addr::Tcp(host, _)) = (&endpoint.tls, &endpoint.addr) else {
        return Ok(None);
    };
    let unusable = |m: String| CallError {
        reconnect: false,
        ..CallError::new(CallKind::Connect, m)
    };
    let config = super::tls::client_config(files, files.insecure).map_err(unusable)?;
    let name = files.server_name.clone().unwrap_or_else(|| host.clone());
    let name = ServerName::try_from(name.clone())
        .map_err(|e| unusable(format!("TLS server name {name:?} not usable: {e}")))?;
    Ok(Some(Tls {
        config: Arc::new(config),
        name,
    }))
}

/// What the connection runs over.
trait Io: AsyncRead + AsyncWrite + Unpin + Send + Sync {
    /// The TCP socket under the stream (plain or TLS), for its options; `None` over a Unix
    /// socket.
    fn tcp(&self) -> Option<&TcpStream>;
}

impl Io for TcpStream {
    fn tcp(&self) -> Option<&TcpStream> {
        Some(self)
    }
}

impl Io for tokio_rustls::client::TlsStream<TcpStream> {
    fn tcp(&self) -> Option<&TcpStream> {
        Some(self.get_ref().0)
    }
}

impl Io for tokio::net::UnixStream {
    fn tcp(&self) -> Option<&TcpStream> {
        None
    }
}

// `SO_RCVLOWAT` as a nix socket option: neither std, socket2, rustix nor nix has one, and
// `sockopt_impl!` is nix's way to add an option. It expands to the setsockopt call, `unsafe`
// block included, that each of nix's own options uses (`SO_RCVBUF` the same way, `usize` passed
// as the C int socket(7) asks for); this side names only the level, the option and the type.
sockopt_impl!(
    RcvLowat,
    SetOnly,
    libc::SOL_SOCKET,
    libc::SO_RCVLOWAT,
    usize
);

/// An open, authenticated connection.
pub struct Conn {
    stream: Box<dyn Io>,
    /// Bytes read and not yet parsed start at `pos`.
    buf: Vec<u8>,
    pos: usize,
    timeout: std::time::Duration,
}

/// The command's name, for messages.
fn name_of(args: &[&[u8]]) -> String {
    args.first()
        .map(|a| String::from_utf8_lossy(a).to_ascii_uppercase())
        .unwrap_or_default()
}

fn encode(out: &mut Vec<u8>, args: &[&[u8]]) {
    let mut cmd = redis::Cmd::new();
    for a in args {
        cmd.arg(*a);
    }
    cmd.write_packed_command(out);
}

/// A reply as a result: an error reply is an `Err`, classified by its code.
fn checked(what: &str, v: Value) -> Result<Value, CallError> {
    match v {
        Value::ServerError(e) => Err(CallError::server(what, &e)),
        v => Ok(v),
    }
}

impl Conn {
    /// `AUTH [username] password`, retried without the username on servers before 6.0, which
    /// answer `-ERR` to two arguments (as the redis client does). A refusal is an
    /// authentication error.
    async fn auth(&mut self, username: Option<&str>, password: &str) -> Result<(), CallError> {
        let mut args: Vec<&[u8]> = vec![b"AUTH"];
        args.extend(username.map(str::as_bytes));
        args.push(password.as_bytes());
        match self.call(&args).await {
            Ok(_) => Ok(()),
            Err(e) if username.is_some() && e.kind == CallKind::Command => {
                Box::pin(self.auth(None, password)).await
            }
            Err(e) => Err(handshake_refusal(e)),
        }
    }

    /// Sends one command and reads its reply, within the endpoint's timeout. An error reply
    /// is an `Err` (the connection stays usable).
    pub async fn call(&mut self, args: &[&[u8]]) -> Result<Value, CallError> {
        let what = name_of(args);
        let timeout = self.timeout;
        let v = tokio::time::timeout(timeout, async {
            self.write(std::iter::once(args), &what).await?;
            self.read_value(&what).await
        })
        .await
        .map_err(|_| CallError::timeout(&what, timeout))??;
        self.no_more(&what)?;
        checked(&what, v)
    }

    /// Sends all `commands` at once and reads one reply per command, within one timeout. The
    /// outer `Err` is a failure of the connection; an error reply is that command's `Err`.
    pub async fn pipeline(
        &mut self,
        commands: &[Vec<&[u8]>],
    ) -> Result<Vec<Result<Value, CallError>>, CallError> {
        let what = commands.first().map(|c| name_of(c)).unwrap_or_default();
        let timeout = self.timeout;
        let replies = tokio::time::timeout(timeout, async {
            self.write(commands.iter().map(Vec::as_slice), &what)
                .await?;
            let mut replies = Vec::with_capacity(commands.len());
            for _ in commands {
                replies.push(self.read_value(&what).await?);
            }
            Ok::<_, CallError>(replies)
        })
        .await
        .map_err(|_| CallError::timeout(&what, timeout))??;
        self.no_more(&what)?;
        Ok(replies.into_iter().map(|v| checked(&what, v)).collect())
    }

    /// Writes one command without waiting for its reply (within the endpoint's timeout).
    pub async fn send(&mut self, args: &[&[u8]]) -> Result<(), CallError> {
        let what = name_of(args);
        let timeout = self.timeout;
        tokio::time::timeout(timeout, self.write(std::iter::once(args), &what))
            .await
            .map_err(|_| CallError::timeout(&what, timeout))?
    }

    /// Reads the next reply (a pushed message of a subscription, or the reply to a
    /// [`Conn::send`]). Waits as long as it takes: a subscriber bounds the wait itself. The
    /// buffer holds at most one reply in progress, and a reply announcing more than
    /// [`super::resp::MAX_BULK`] fails at once.
    pub async fn next_reply(&mut self) -> Result<Value, CallError> {
        let v = self.read_value("reply").await?;
        if self.pos == self.buf.len() {
            self.release();
        }
        checked("reply", v)
    }

    /// Where the next complete reply already received lies in the buffer (see
    /// [`Conn::bytes`]), without waiting: a subscriber reads its messages this way, without
    /// building values. Valid until the next read.
    pub(crate) fn buffered_reply(&mut self) -> Result<Option<std::ops::Range<usize>>, CallError> {
        if self.pos == self.buf.len() && self.pos > 0 {
            self.buf.clear();
            self.pos = 0;
        }
        match frame_len(&self.buf[self.pos..], super::resp::MAX_BULK)
            .map_err(|e| CallError::protocol("message", e))?
        {
            Frame::Complete(n) => {
                let start = self.pos;
                self.pos += n;
                Ok(Some(start..start + n))
            }
            Frame::Incomplete(_) => Ok(None),
        }
    }

    /// Asks the kernel to wake a reader only once `bytes` have arrived (`SO_RCVLOWAT`; 1 is the
    /// default), so a subscriber can let a stream of small writes gather. Over a Unix socket,
    /// or where the option is refused, nothing changes: the reader wakes for every write.
    pub(crate) fn wake_after(&self, bytes: u16) {
        let Some(tcp) = self.stream.tcp() else { return };
        // A failure (EINVAL, ENOPROTOOPT) leaves the socket as it was.
        let _ = nix::sys::socket::setsockopt(tcp, RcvLowat, &usize::from(bytes.max(1)));
    }

    /// The bytes of a reply [`Conn::buffered_reply`] found.
    pub(crate) fn bytes(&self, r: std::ops::Range<usize>) -> &[u8] {
        &self.buf[r]
    }

    /// Reads once more from the socket, keeping the unread bytes; unbounded in time (the
    /// caller bounds the wait) and cancel-safe. A reply in progress larger than the buffer's
    /// bound fails. True when the read filled all the room it had, so more may be waiting.
    pub(crate) async fn fill(&mut self) -> Result<bool, CallError> {
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        if self.buf.len() >= MAX_BUFFERED {
            return Err(CallError::protocol(
                "message",
                format!("reply larger than {MAX_BUFFERED} bytes"),
            ));
        }
        self.buf.reserve(FIRST_READ);
        let room = self.buf.capacity() - self.buf.len();
        let n = self
            .stream
            .read_buf(&mut self.buf)
            .await
            .map_err(|e| CallError::io("reading messages", &e))?;
        if n == 0 {
            return Err(CallError::new(
                CallKind::Connect,
                "messages: connection closed by the server",
            ));
        }
        Ok(n == room)
    }

    /// Drops the read buffer (between polls an idle connection holds only its socket).
    pub fn release(&mut self) {
        if self.pos == self.buf.len() {
            self.buf = Vec::new();
            self.pos = 0;
        }
    }

    async fn write<'a>(
        &mut self,
        commands: impl Iterator<Item = &'a [&'a [u8]]>,
        what: &str,
    ) -> Result<(), CallError> {
        let mut out = Vec::new();
        for args in commands {
            encode(&mut out, args);
        }
        let io = |e: std::io::Error| CallError::io(&format!("sending {what}"), &e);
        self.stream.write_all(&out).await.map_err(io)?;
        self.stream.flush().await.map_err(io)
    }

    /// A reply that stands alone: bytes after it (nothing was asked for them) break the
    /// protocol.
    fn no_more(&mut self, what: &str) -> Result<(), CallError> {
        if self.pos != self.buf.len() {
            return Err(CallError::protocol(what, "unexpected data after the reply"));
        }
        if self.buf.capacity() > 4 * FIRST_READ {
            self.release();
        }
        Ok(())
    }

    /// The next complete reply from the buffer, reading as much as it needs.
    async fn read_value(&mut self, what: &str) -> Result<Value, CallError> {
        let mut want = FIRST_READ;
        loop {
            if self.pos < self.buf.len() {
                match parse_one(&self.buf[self.pos..]).map_err(|e| CallError::protocol(what, e))? {
                    Parsed::Value(v, n) => {
                        self.pos += n;
                        if self.pos == self.buf.len() {
                            self.buf.clear();
                            self.pos = 0;
                        }
                        return Ok(v);
                    }
                    Parsed::Incomplete(at_least) => want = want.max(at_least),
                }
            }
            if self.pos > 0 {
                // Keep only the reply in progress, so the buffer never grows past it.
                self.buf.drain(..self.pos);
                self.pos = 0;
            }
            if self.buf.len() >= MAX_BUFFERED {
                return Err(CallError::protocol(
                    what,
                    format!("reply larger than {MAX_BUFFERED} bytes"),
                ));
            }
            let spare = want.saturating_sub(self.buf.len()).max(FIRST_READ / 2);
            self.buf.reserve(spare);
            let n = self
                .stream
                .read_buf(&mut self.buf)
                .await
                .map_err(|e| CallError::io(&format!("reading the reply to {what}"), &e))?;
            if n == 0 {
                return Err(CallError::new(
                    CallKind::Connect,
                    format!("{what}: connection closed by the server"),
                ));
            }
        }
    }
}
