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
use prometheus::{Encoder, TextEncoder};
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

    /// The exposition text of one scrape.
    pub fn render(&self) -> String {
        let families = self.collect();
        let mut buf = Vec::with_capacity(64 * 1024);
        // Encoding our own families cannot fail: names and labels come from the table.
        let _ = TextEncoder::new().encode(&families, &mut buf);
        String::from_utf8(buf).unwrap_or_default()
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
    (
        [(header::CONTENT_TYPE, prometheus::TEXT_FORMAT)],
        c.render(),
    )
        .into_response()
}

async fn index(State(c): State<ExporterCollector>) -> Response {
    let now = Instant::now().duration_since(c.origin);
    let page = crate::status::page(&c.shared.snapshots(), now);
    (StatusCode::OK, Html(page)).into_response()
}
