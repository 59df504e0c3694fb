//! The `/scrape?target=URL` route: the target parameter and Prometheus's scrape timeout header
//! in, the target's series out (only its per-target families: /metrics serves the
//! exporter-wide ones). Statuses: 400 for a missing or invalid target, 403 for one outside the
//! allowlist, 404 when the endpoint is disabled.

use std::collections::HashMap;
use std::time::Duration;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus::{Encoder, TextEncoder};

use crate::state::{Globals, Snapshot};
use crate::targets::on_demand::{Scraper, TargetError};

/// The Prometheus header carrying the scrape timeout in seconds.
pub(crate) const SCRAPE_TIMEOUT_HEADER: &str = "x-prometheus-scrape-timeout-seconds";

/// The `/scrape` route, to be merged into the main router when the endpoint is enabled.
pub(crate) fn routes(scraper: Scraper) -> Router {
    Router::new()
        .route("/scrape", get(handler))
        .layer(crate::http::compression())
        .with_state(scraper)
}

async fn handler(
    State(scraper): State<Scraper>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if !scraper.enabled() {
        return (StatusCode::NOT_FOUND, "the /scrape endpoint is disabled\n").into_response();
    }
    let Some(target) = query.get("target") else {
        return error_response(&TargetError::Missing);
    };
    let header = headers
        .get(SCRAPE_TIMEOUT_HEADER)
        .and_then(|v| v.to_str().ok());
    match scraper.scrape(target, header).await {
        Ok(scraped) => (
            [(header::CONTENT_TYPE, prometheus::TEXT_FORMAT)],
            render(&scraped.snapshots, scraped.now),
        )
            .into_response(),
        Err(e) => error_response(&e),
    }
}

fn error_response(e: &TargetError) -> Response {
    (status(e), format!("{e}\n")).into_response()
}

/// The HTTP status for a refused target.
pub(crate) fn status(e: &TargetError) -> StatusCode {
    match e {
        TargetError::NotAllowed => StatusCode::FORBIDDEN,
        _ => StatusCode::BAD_REQUEST,
    }
}

/// The families of one target: only its per-target series (no exporter-wide ones, which
/// /metrics serves).
fn render(snapshots: &[Snapshot], now: Duration) -> String {
    let mut families = crate::metrics::families(snapshots, &Globals::default(), now);
    families.retain(|f| {
        f.get_metric()
            .first()
            .is_some_and(|m| m.get_label().iter().any(|l| l.name() == "target"))
    });
    let mut buf = Vec::with_capacity(16 * 1024);
    // Encoding our own families cannot fail: names and labels come from the metric table.
    let _ = TextEncoder::new().encode(&families, &mut buf);
    String::from_utf8(buf).unwrap_or_default()
}
