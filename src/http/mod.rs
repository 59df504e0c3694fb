//! HTTP: `/metrics` (Prometheus text, gzip when asked), `/healthz`, `/` and
//! `/target/<name>` (the status pages, `status`), `/sd/cluster` and `/sd/sentinel` (`sd`),
//! `POST /-/reload`; `/scrape` (`scrape`) and the listener's security (`https`,
//! `basic_auth`) beside them.
//!
//! IO shell: the router only reads the shared state. `/metrics` is built fresh on every scrape by
//! [`ExporterCollector`] from the latest snapshots; it never waits on Redis, so its latency does
//! not depend on how targets behave.
//!
//! Imports `metrics`, `state`, `core`, `config` (the `[web]` table) and, of `targets`, only
//! `targets::on_demand` (the `/scrape` registry).

pub(crate) mod basic_auth;
pub(crate) mod https;
pub(crate) mod scrape;
pub(crate) mod sd;
pub(crate) mod status;

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use tokio::time::Instant;
use tower_http::compression::CompressionLayer;

use crate::metrics::{self, GzipError, table::Emit};
use crate::state::Shared;

/// A `prometheus` collector over the shared state: families are built from the snapshots on each
/// `collect()`, never kept between scrapes.
#[derive(Clone)]
pub struct ExporterCollector {
    shared: Shared,
    /// The monotonic origin the pollers measure time from (freshness is judged against it).
    origin: Instant,
    /// Shared: the collector is cloned for every request (axum state).
    descs: Arc<[Desc]>,
}

impl ExporterCollector {
    pub fn new(shared: Shared, origin: Instant) -> ExporterCollector {
        // Descriptions list `target` and each metric's own labels; static labels differ per
        // target and are not part of the description.
        let descs = metrics::TABLE
            .iter()
            .filter_map(|def| {
                let mut labels: Vec<String> = Vec::new();
                if matches!(def.emit, Emit::PerTarget(_)) {
                    labels.push("target".into());
                }
                labels.extend(def.labels.iter().map(std::string::ToString::to_string));
                Desc::new(
                    def.name.into(),
                    def.help.into(),
                    labels,
                    std::collections::HashMap::default(),
                )
                .ok()
            })
            .collect();
        ExporterCollector {
            shared,
            origin,
            descs,
        }
    }

    /// The exposition text of one scrape, written straight from the snapshots (the same bytes
    /// `TextEncoder` makes of [`Collector::collect`]'s families, in a fraction of the time).
    pub fn render(&self) -> String {
        let now = Instant::now().duration_since(self.origin);
        let snaps = self.shared.snapshots();
        // About 5 KiB per target with a typical commandstats section.
        let mut out = String::with_capacity(4096 + snaps.len() * 6 * 1024);
        metrics::render_text(&snaps, &self.shared.globals(), now, &mut out);
        out
    }

    /// [`ExporterCollector::render`] in pieces of about `chunk` bytes, handed to `sink` as they
    /// are ready with a flag for the last one; stops when `sink` returns false.
    pub fn render_chunks(&self, chunk: usize, sink: &mut dyn FnMut(String, bool) -> bool) {
        let now = Instant::now().duration_since(self.origin);
        let snaps = self.shared.snapshots();
        metrics::render_chunks(&snaps, &self.shared.globals(), now, chunk, sink);
    }

    /// [`ExporterCollector::render`] as a gzip body, rendered and deflated on one thread per
    /// core (up to four), handed to `sink` in pieces of about `piece` bytes in order (see
    /// [`metrics::gzip::render_gzip`]).
    pub(crate) fn render_gzip(
        &self,
        piece: usize,
        sink: &mut dyn FnMut(Vec<u8>, bool) -> bool,
    ) -> Result<(), GzipError> {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
        self.render_gzip_on(threads, piece, sink)
    }

    /// [`ExporterCollector::render_gzip`] on `threads` threads (the benchmarks measure the CPU
    /// of one).
    pub fn render_gzip_on(
        &self,
        threads: usize,
        piece: usize,
        sink: &mut dyn FnMut(Vec<u8>, bool) -> bool,
    ) -> Result<(), GzipError> {
        let now = Instant::now().duration_since(self.origin);
        let snaps = self.shared.snapshots();
        metrics::gzip::render_gzip(&snaps, &self.shared.globals(), now, threads, piece, sink)
    }
}

impl Collector for ExporterCollector {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let now = Instant::now().duration_since(self.origin);
        metrics::families(&self.shared.snapshots(), &self.shared.globals(), now)
    }
}

/// The router: `/metrics`, `/healthz`, `/`, `/target/<name>`, `/sd/*`.
pub fn app(collector: ExporterCollector) -> Router {
    Router::new()
        .route("/metrics", get(metrics_handler))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/", get(index))
        .route("/target/{*name}", get(target_page))
        .route("/sd/cluster", get(sd::cluster))
        .route("/sd/sentinel", get(sd::sentinel))
        .layer(compression())
        .with_state(collector)
}

/// gzip when the client asks for it (Prometheus does), at the fastest level: a /metrics body of
/// 10 000 targets is tens of megabytes. Measured on 2 000 targets (4.6 MB of text): 15–38 ms
/// per gzip scrape instead of 90 ms at the default level, for a body a third larger.
/// `/metrics` gzips its own body (on several threads) and this layer leaves it as it is.
pub(crate) fn compression() -> CompressionLayer {
    CompressionLayer::new()
        .gzip(true)
        .quality(tower_http::CompressionLevel::Fastest)
}

/// Asks the main loop to reload the configuration; the reply says whether it worked.
pub(crate) type ReloadRequest = tokio::sync::oneshot::Sender<Result<String, String>>;

/// `POST /-/reload` (as Prometheus and Alertmanager have it): re-reads the configuration.
/// 200 with a summary, 500 with the error when the new configuration is refused (the old one
/// keeps running).
pub(crate) fn reload_routes(requests: tokio::sync::mpsc::Sender<ReloadRequest>) -> Router {
    Router::new()
        .route("/-/reload", axum::routing::post(reload_handler))
        .with_state(requests)
}

async fn reload_handler(
    State(requests): State<tokio::sync::mpsc::Sender<ReloadRequest>>,
) -> Response {
    let (tx, rx) = tokio::sync::oneshot::channel();
    if requests.send(tx).await.is_err() {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response();
    }
    match rx.await {
        Ok(Ok(summary)) => (StatusCode::OK, format!("{summary}\n")).into_response(),
        Ok(Err(error)) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{error}\n")).into_response(),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response(),
    }
}

/// Bytes of exposition text per piece of a streamed /metrics body.
const CHUNK: usize = 128 * 1024;

/// Bytes of a gzip /metrics body per piece (about ten times as much text).
const GZIP_PIECE: usize = 64 * 1024;

/// A piece of a /metrics body, and whether it is the last.
type Piece = Result<(Bytes, bool), std::io::Error>;

/// Whether an `Accept-Encoding` header value takes gzip: listed (or `*`) without `q=0`.
fn accepts_gzip(value: &str) -> bool {
    value.split(',').any(|item| {
        let mut parts = item.split(';');
        let coding = parts.next().unwrap_or_default().trim();
        let refused = parts.any(|p| {
            p.trim()
                .strip_prefix("q=")
                .and_then(|q| q.trim().parse::<f32>().ok())
                .is_some_and(|q| q <= 0.0)
        });
        (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
    })
}

/// `/metrics`: an exposition that fits in one piece (up to hundreds of targets) is sent whole,
/// with its length; a larger one is streamed as it is rendered, so a scrape of thousands of
/// targets never holds the whole text (tens of megabytes). Gzip, when asked for, is made here
/// on one thread per core rather than by the compression layer on one async worker.
async fn metrics_handler(
    State(c): State<ExporterCollector>,
    request: axum::http::HeaderMap,
) -> Response {
    let gzip = request
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(accepts_gzip);
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Piece>(4);
    // Rendering thousands of targets takes milliseconds of CPU: done off the async workers so
    // pollers keep their slots while a scrape is served.
    tokio::task::spawn_blocking(move || {
        let rendered = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let send = |piece: Bytes, last| tx.blocking_send(Ok((piece, last))).is_ok();
            if gzip {
                c.render_gzip(GZIP_PIECE, &mut |piece, last| {
                    send(Bytes::from(piece), last)
                })
                .is_ok()
            } else {
                c.render_chunks(CHUNK, &mut |piece, last| send(Bytes::from(piece), last));
                true
            }
        }));
        if !matches!(rendered, Ok(true)) {
            // An error ends the body without its last chunk: the scrape fails rather than
            // passing for a complete exposition with series missing.
            let _ = tx.blocking_send(Err(std::io::Error::other("rendering /metrics failed")));
        }
        drop(tx);
    });
    let mut headers = axum::http::HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(prometheus::TEXT_FORMAT),
    );
    headers.insert(
        header::VARY,
        header::HeaderValue::from_static("accept-encoding"),
    );
    if gzip {
        headers.insert(
            header::CONTENT_ENCODING,
            header::HeaderValue::from_static("gzip"),
        );
    }
    let mut first = match rx.recv().await {
        Some(Ok((whole, true))) => return (headers, whole).into_response(),
        Some(Ok((piece, false))) => Some(piece),
        Some(Err(_)) | None => {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                "rendering /metrics failed\n",
            )
                .into_response();
        }
    };
    // Polled again after its end by hyper: `poll_recv` answers that with `None`.
    let rest = futures_util::stream::poll_fn(move |cx| match first.take() {
        Some(piece) => std::task::Poll::Ready(Some(Ok(piece))),
        None => rx
            .poll_recv(cx)
            .map(|p| p.map(|r| r.map(|(piece, _)| piece))),
    });
    (headers, Body::from_stream(rest)).into_response()
}

async fn index(State(c): State<ExporterCollector>) -> Response {
    let now = Instant::now().duration_since(c.origin);
    let page = crate::http::status::page(&c.shared.snapshots(), now);
    (StatusCode::OK, Html(page)).into_response()
}

/// `/target/<name>`: one target's page; 404 for a name no target has. The name arrives
/// percent-decoded, and may hold `/` (discovered targets are named `<entry>/<host:port>`).
async fn target_page(
    State(c): State<ExporterCollector>,
    axum::extract::Path(name): axum::extract::Path<String>,
) -> Response {
    let now = Instant::now().duration_since(c.origin);
    let snaps = c.shared.snapshots();
    match snaps.iter().find(|s| s.meta.name == name) {
        Some(snap) => (StatusCode::OK, Html(status::target_page(snap, now))).into_response(),
        None => (StatusCode::NOT_FOUND, Html(status::not_found(&name))).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::accepts_gzip;

    #[test]
    fn accept_encoding_takes_gzip_unless_refused() {
        for yes in [
            "gzip",
            "GZip",
            "deflate, gzip",
            "br;q=1.0, gzip;q=0.5",
            "*",
            "gzip;q=0.001",
        ] {
            assert!(accepts_gzip(yes), "{yes}");
        }
        for no in [
            "",
            "identity",
            "deflate, br",
            "gzip;q=0",
            "gzip; q=0.0",
            "x-gzip2",
        ] {
            assert!(!accepts_gzip(no), "{no}");
        }
    }
}
