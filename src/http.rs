//! HTTP: `/metrics` (Prometheus text, gzip when asked), `/healthz`, and `/` (a status page).
//!
//! IO shell: the router only reads the shared state. `/metrics` is built fresh on every scrape by
//! [`ExporterCollector`] from the latest snapshots; it never waits on Redis, so its latency does not
//! depend on how targets behave.

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use tokio::time::Instant;
use tower_http::compression::CompressionLayer;

use crate::metrics::{self, Emit};
use crate::state::Shared;

/// A `prometheus` collector over the shared state: families are built from the snapshots on each
/// `collect()`, never kept between scrapes.
#[derive(Clone)]
pub struct ExporterCollector {
    shared: Shared,
    /// The monotonic origin the pollers measure time from (freshness is judged against it).
    origin: Instant,
    descs: Vec<Desc>,
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
                labels.extend(def.labels.iter().map(|l| l.to_string()));
                Desc::new(def.name.into(), def.help.into(), labels, Default::default()).ok()
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

/// The router: `/metrics`, `/healthz`, `/`.
pub fn app(collector: ExporterCollector) -> Router {
    Router::new()
        .route("/metrics", get(metrics_handler))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/", get(index))
        .layer(CompressionLayer::new().gzip(true))
        .with_state(collector)
}

/// Asks the main loop to reload the configuration; the reply says whether it worked.
pub type ReloadRequest = tokio::sync::oneshot::Sender<Result<String, String>>;

/// `POST /-/reload` (as Prometheus and Alertmanager have it): re-reads the configuration.
/// 200 with a summary, 500 with the error when the new configuration is refused (the old one
/// keeps running).
pub fn reload_routes(requests: tokio::sync::mpsc::Sender<ReloadRequest>) -> Router {
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

async fn metrics_handler(State(c): State<ExporterCollector>) -> Response {
    // Rendering thousands of targets takes milliseconds of CPU: done off the async workers so
    // pollers keep their slots while a scrape is served.
    match tokio::task::spawn_blocking(move || c.render()).await {
        Ok(body) => ([(header::CONTENT_TYPE, prometheus::TEXT_FORMAT)], body).into_response(),
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "rendering /metrics failed\n",
        )
            .into_response(),
    }
}

async fn index(State(c): State<ExporterCollector>) -> Response {
    let now = Instant::now().duration_since(c.origin);
    let page = crate::status::page(&c.shared.snapshots(), now);
    (StatusCode::OK, Html(page)).into_response()
}
