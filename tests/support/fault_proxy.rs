//! The network fault proxy for tests: a TCP proxy on an ephemeral loopback port in front of a
//! real redis-server, applying a fault the test switches at run time (reply latency, a stall or
//! a drip-feed mid-reply, a reset with RST, a half-open connection that swallows everything).
//! These kernels have no `tc netem` qdiscs; this is its user-space stand-in, owned by the test.
//!
//! It counts connections accepted and closed and the fault cycles applied (requests that met a
//! fault), so tests wait on counters instead of sleeping. One thread per proxy runs a small
//! tokio runtime; dropping the proxy stops it and closes every connection through it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{ReadHalf, WriteHalf};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

/// A fault applied to the traffic through the proxy while it is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// Every reply held back this long: a latency line, each chunk leaving this long after it
    /// arrived from Redis.
    Delay(Duration),
    /// The first half of a reply forwarded, then nothing until the fault ends.
    Stall,
    /// Replies forwarded one byte per step while the fault lasts (the rest at once after).
    Drip(Duration),
    /// The request read, then the connection closed with a TCP RST (SO_LINGER 0); Redis never
    /// sees the request.
    ResetAfterRequest,
    /// The request forwarded, the first half of Redis's reply sent back, then a TCP RST.
    ResetMidReply,
    /// Everything the client sends read and discarded, never answered, the connection never
    /// closed by the proxy. Latched: a connection that met it swallows until the client leaves.
    HalfOpen,
}

/// What the proxy has seen so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Counters {
    pub accepted: u64,
    pub closed: u64,
    /// Connections open now (accepted − closed).
    pub open: u64,
    /// Requests (reads from a client) that arrived while a fault was set.
    pub cycles: u64,
}

/// A running proxy; dropping it stops it.
pub(crate) struct FaultProxy {
    port: u16,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

struct Shared {
    fault: watch::Sender<Option<Fault>>,
    accepted: AtomicU64,
    closed: AtomicU64,
    cycles: AtomicU64,
}

impl Shared {
    fn current(&self) -> Option<Fault> {
        *self.fault.borrow()
    }

    /// Returns once `fault` is no longer the one in force.
    async fn until_not(&self, fault: Fault) {
        let mut rx = self.fault.subscribe();
        // The sender lives as long as `self`, so this only returns when the fault changes.
        let _ = rx.wait_for(|now| *now != Some(fault)).await;
    }
}

impl FaultProxy {
    /// Starts a proxy to the redis-server on `127.0.0.1:upstream_port`, with no fault set.
    pub(crate) fn start(upstream_port: u16) -> Arc<FaultProxy> {
        let listener =
            std::net::TcpListener::bind("127.0.0.1:0").expect("bind the fault proxy on loopback");
        let port = listener.local_addr().expect("fault proxy address").port();
        listener
            .set_nonblocking(true)
            .expect("non-blocking proxy listener");
        let upstream = SocketAddr::from(([127, 0, 0, 1], upstream_port));
        let shared = Arc::new(Shared {
            fault: watch::Sender::new(None),
            accepted: AtomicU64::new(0),
            closed: AtomicU64::new(0),
            cycles: AtomicU64::new(0),
        });
        let (stop, stopped) = oneshot::channel();
        let for_thread = shared.clone();
        let thread = std::thread::Builder::new()
            .name(format!("fault-proxy-{port}"))
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("fault proxy runtime");
                rt.block_on(accept_loop(listener, upstream, for_thread, stopped));
                // Dropping the runtime drops every connection task, closing its sockets.
            })
            .expect("spawn the fault proxy thread");
        Arc::new(FaultProxy {
            port,
            shared,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// The URL a target uses to reach Redis through this proxy.
    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Sets the fault; it applies from the next request (and, for the reply faults, from the
    /// next chunk of a reply) on every connection, open or new.
    pub(crate) fn set(&self, fault: Fault) {
        self.shared.fault.send_replace(Some(fault));
    }

    /// Ends the fault: held replies are released, new traffic flows untouched.
    pub(crate) fn clear(&self) {
        self.shared.fault.send_replace(None);
    }

    pub(crate) fn counters(&self) -> Counters {
        let accepted = self.shared.accepted.load(Ordering::SeqCst);
        let closed = self.shared.closed.load(Ordering::SeqCst);
        Counters {
            accepted,
            closed,
            open: accepted.saturating_sub(closed),
            cycles: self.shared.cycles.load(Ordering::SeqCst),
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn accept_loop(
    listener: std::net::TcpListener,
    upstream: SocketAddr,
    shared: Arc<Shared>,
    mut stopped: oneshot::Receiver<()>,
) {
    let listener = tokio::net::TcpListener::from_std(listener).expect("tokio proxy listener");
    loop {
        tokio::select! {
            _ = &mut stopped => return,
            accepted = listener.accept() => {
                let Ok((client, _)) = accepted else { continue };
                shared.accepted.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(serve(client, upstream, shared.clone()));
            }
        }
    }
}

/// How a connection ended.
enum End {
    Closed,
    /// Close with a TCP RST.
    Reset,
}

/// Counts a connection closed however its task ends (including the runtime shutting down).
struct CloseCount(Arc<Shared>);

impl Drop for CloseCount {
    fn drop(&mut self) {
        self.0.closed.fetch_add(1, Ordering::SeqCst);
    }
}

async fn serve(mut client: TcpStream, upstream: SocketAddr, shared: Arc<Shared>) {
    let _count = CloseCount(shared.clone());
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let swallowing = AtomicBool::new(false);
    // Borrowed halves, not owned ones: dropping an owned write half sends a FIN, which would
    // come before the RST a reset is meant to be.
    let end = {
        let (from_client, to_client) = client.split();
        let (from_server, to_server) = server.split();
        tokio::select! {
            end = requests(from_client, to_server, &shared, &swallowing) => end,
            end = replies(from_server, to_client, &shared, &swallowing) => end,
        }
    };
    if let End::Reset = end {
        let _ = client.set_zero_linger();
    }
}

/// Client to Redis: counts the requests that meet a fault; resets or swallows as the fault says.
/// Ends when the client closes, so a connection held by a stalled reply still goes away.
async fn requests(
    mut from: ReadHalf<'_>,
    mut to: WriteHalf<'_>,
    shared: &Shared,
    swallowing: &AtomicBool,
) -> End {
    let mut buf = vec![0u8; 16 << 10];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return End::Closed,
            Ok(n) => n,
        };
        let fault = shared.current();
        if fault.is_some() {
            shared.cycles.fetch_add(1, Ordering::SeqCst);
        }
        match fault {
            Some(Fault::ResetAfterRequest) => return End::Reset,
            Some(Fault::HalfOpen) => swallowing.store(true, Ordering::SeqCst),
            _ => {}
        }
        if swallowing.load(Ordering::SeqCst) {
            continue;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return End::Closed;
        }
    }
}

/// Redis to client: a reader that keeps reading (stamping each chunk's arrival) while the
/// writer holds chunks back, so a delay counts from each chunk's own arrival, not from the
/// previous chunk's release.
async fn replies(
    mut from: ReadHalf<'_>,
    mut to: WriteHalf<'_>,
    shared: &Shared,
    swallowing: &AtomicBool,
) -> End {
    let (tx, mut rx) = mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let read = async move {
        let mut buf = vec![0u8; 16 << 10];
        while let Ok(n) = from.read(&mut buf).await {
            if n == 0 || tx.send((Instant::now(), buf[..n].to_vec())).is_err() {
                break;
            }
        }
    };
    let write = async {
        while let Some((arrived, chunk)) = rx.recv().await {
            if swallowing.load(Ordering::SeqCst) {
                continue;
            }
            if let Err(end) = forward(&mut to, arrived, &chunk, shared).await {
                return end;
            }
        }
        End::Closed
    };
    tokio::pin!(write);
    tokio::select! {
        end = &mut write => return end,
        () = read => {}
    }
    // Redis closed its side: what it sent before still goes out.
    write.await
}

/// Sends one chunk of a reply to the client under the fault in force.
async fn forward(
    to: &mut WriteHalf<'_>,
    arrived: Instant,
    chunk: &[u8],
    shared: &Shared,
) -> Result<(), End> {
    let half = chunk.len() / 2;
    match shared.current() {
        Some(Fault::Delay(d)) => {
            tokio::time::sleep_until(arrived + d).await;
            send(to, chunk).await
        }
        Some(Fault::Stall) => {
            send(to, &chunk[..half]).await?;
            shared.until_not(Fault::Stall).await;
            send(to, &chunk[half..]).await
        }
        Some(Fault::Drip(step)) => {
            let mut rest = chunk;
            while !rest.is_empty() && shared.current() == Some(Fault::Drip(step)) {
                send(to, &rest[..1]).await?;
                rest = &rest[1..];
                tokio::time::sleep(step).await;
            }
            send(to, rest).await
        }
        Some(Fault::ResetMidReply) => {
            send(to, &chunk[..half]).await?;
            // Closing with SO_LINGER 0 discards unsent data: let the first half reach the client.
            tokio::time::sleep(Duration::from_millis(20)).await;
            Err(End::Reset)
        }
        // The request-side faults (and none) leave replies alone.
        None | Some(Fault::ResetAfterRequest | Fault::HalfOpen) => send(to, chunk).await,
    }
}

async fn send(to: &mut WriteHalf<'_>, bytes: &[u8]) -> Result<(), End> {
    to.write_all(bytes).await.map_err(|_| End::Closed)
}
