//! HTTP tests on the router itself (`http::app`), driven with `tower::ServiceExt::oneshot`: no
//! socket, no Redis. Shared state is filled by hand with the same calls the pollers make.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use axum::response::Response;
use http_body_util::BodyExt;
use redis_cache_exporter::core::derive::History;
use redis_cache_exporter::core::error_kind::ErrorKind;
use redis_cache_exporter::core::info;
use redis_cache_exporter::http::{ExporterCollector, app};
use redis_cache_exporter::state::{Outcome, Shared, TargetMeta};
use tokio::time::Instant;
use tower::ServiceExt;

fn meta(name: &str, stale_after: Duration) -> TargetMeta {
    TargetMeta {
        name: name.into(),
        labels: BTreeMap::new(),
        cache: true,
        stale_after,
    }
}

/// One successful poll of `name` at offset zero, from a small INFO reply.
fn succeed(shared: &Shared, name: &str) {
    let sample = info::parse(
        "# Server\r\nredis_version:7.0.15\r\nuptime_in_seconds:10\r\n\r\n# Stats\r\n\
         keyspace_hits:90\r\nkeyspace_misses:10\r\n\r\n# Keyspace\r\n\
         db0:keys=5,expires=1,avg_ttl=100\r\n",
    )
    .expect("parse INFO");
    let derived = History::new(Duration::from_secs(7)).observe(Duration::ZERO, &sample);
    shared.record(
        name,
        Outcome::Success {
            sample: Arc::new(sample),
            derived: Arc::new(derived),
        },
        Duration::from_millis(2),
        Duration::ZERO,
        1_700_000_000.0,
    );
}

/// Targets: `fresh` (up), `<script>` (down, never answered), `stale` (answered once, then
/// failed, and its last success is older than its zero `stale_after`).
fn state() -> Shared {
    let shared = Shared::new();
    shared.add(meta("fresh", Duration::from_secs(3600)));
    succeed(&shared, "fresh");
    shared.add(meta("<script>", Duration::from_secs(3600)));
    shared.record(
        "<script>",
        Outcome::Failure(ErrorKind::Connect),
        Duration::from_millis(1),
        Duration::ZERO,
        1_700_000_000.0,
    );
    shared.add(meta("stale", Duration::ZERO));
    succeed(&shared, "stale");
    shared.record(
        "stale",
        Outcome::Failure(ErrorKind::Timeout),
        Duration::from_millis(500),
        Duration::ZERO,
        1_700_000_001.0,
    );
    shared
}

async fn router() -> axum::Router {
    let router = app(ExporterCollector::new(state(), Instant::now()));
    // Let the monotonic clock move past offset zero, so `stale` (stale_after 0) is stale.
    tokio::time::sleep(Duration::from_millis(5)).await;
    router
}

async fn request(method: Method, path: &str, gzip: bool) -> Response {
    let mut req = Request::builder().method(method).uri(path);
    if gzip {
        req = req.header(header::ACCEPT_ENCODING, "gzip");
    }
    router()
        .await
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .expect("router never fails")
}

async fn body(resp: Response) -> Vec<u8> {
    resp.into_body()
        .collect()
        .await
        .expect("read body")
        .to_bytes()
        .to_vec()
}

async fn get_text(path: &str) -> (StatusCode, String) {
    let resp = request(Method::GET, path, false).await;
    let status = resp.status();
    (
        status,
        String::from_utf8(body(resp).await).expect("UTF-8 body"),
    )
}

#[tokio::test]
async fn metrics_is_prometheus_text() {
    let resp = request(Method::GET, "/metrics", false).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.headers()[header::CONTENT_TYPE],
        "text/plain; version=0.0.4"
    );
    assert!(resp.headers().get(header::CONTENT_ENCODING).is_none());
    let text = String::from_utf8(body(resp).await).unwrap();
    assert!(text.contains("redis_up{target=\"fresh\"} 1\n"), "{text}");
    assert!(text.contains("# TYPE redis_keyspace_hits_total counter\n"));
}

#[tokio::test]
async fn metrics_gzip_when_asked_decodes_to_the_plain_body() {
    let (_, plain) = get_text("/metrics").await;
    let resp = request(Method::GET, "/metrics", true).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()[header::CONTENT_ENCODING], "gzip");
    assert_eq!(
        resp.headers()[header::CONTENT_TYPE],
        "text/plain; version=0.0.4"
    );
    let compressed = body(resp).await;
    assert!(compressed.len() < plain.len(), "gzip makes it smaller");
    let mut decoded = String::new();
    flate2::read::GzDecoder::new(&compressed[..])
        .read_to_string(&mut decoded)
        .expect("valid gzip");
    assert_eq!(decoded, plain);
}

#[tokio::test]
async fn healthz_is_ok() {
    let (status, text) = get_text("/healthz").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(text, "ok\n");
}

#[tokio::test]
async fn status_page_lists_targets_and_escapes_names() {
    let resp = request(Method::GET, "/", false).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html"),
    );
    let html = String::from_utf8(body(resp).await).unwrap();
    assert!(
        html.contains("<td><a href=\"/target/fresh\">fresh</a></td><td class=\"up\">up</td>"),
        "{html}"
    );
    assert!(
        html.contains(
            "<td><a href=\"/target/%3Cscript%3E\">&lt;script&gt;</a></td><td \
             class=\"down\">down</td>"
        ),
        "{html}"
    );
    assert!(
        html.contains("<td><a href=\"/target/stale\">stale</a></td><td class=\"down\">down</td>"),
        "{html}"
    );
    assert!(
        !html.contains("<script>"),
        "target name not escaped: {html}"
    );
}

#[tokio::test]
async fn a_target_page_escapes_its_name_and_says_attribution_off() {
    let (status, html) = get_text("/target/fresh").await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("<h1>fresh</h1>"), "{html}");
    // The three sections of miss attribution, and memory sizing, which learns from its events.
    assert_eq!(
        html.matches("class=\"attribution-off\"").count(),
        4,
        "{html}"
    );
    let (status, html) = get_text("/target/%3Cscript%3E").await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("<h1>&lt;script&gt;</h1>"), "{html}");
    assert!(
        !html.contains("<script>"),
        "target name not escaped: {html}"
    );
    assert!(html.contains("class=\"down\">down<"), "{html}");
}

#[tokio::test]
async fn an_unknown_target_page_is_404_with_the_name_escaped() {
    for (path, shown) in [
        ("/target/nope", "nope"),
        ("/target/%3Cimg%20src%3Dx%3E", "&lt;img src=x&gt;"),
        ("/target/fresh/more", "fresh/more"),
    ] {
        let (status, html) = get_text(path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {html}");
        assert!(
            html.contains(&format!("No target named “{shown}”")),
            "{path}: {html}"
        );
        assert!(!html.contains("<img"), "{path}: {html}");
    }
}

/// Discovered targets are named `<entry>/<host:port>`: the link encodes the slash and the
/// colon, and the route finds the target from the link.
#[tokio::test]
async fn a_discovered_target_name_with_a_slash_links_to_its_page() {
    let shared = Shared::new();
    shared.add(meta("shard/127.0.0.1:7000", Duration::from_secs(3600)));
    succeed(&shared, "shard/127.0.0.1:7000");
    let get = |path: &str| {
        let router = app(ExporterCollector::new(shared.clone(), Instant::now()));
        let req = Request::builder().uri(path).body(Body::empty()).unwrap();
        async move {
            let resp = router.oneshot(req).await.expect("router never fails");
            (resp.status(), String::from_utf8(body(resp).await).unwrap())
        }
    };
    let (_, index) = get("/").await;
    let href = "/target/shard%2F127.0.0.1%3A7000";
    assert!(index.contains(&format!("<a href=\"{href}\">")), "{index}");
    let (status, html) = get(href).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("<h1>shard/127.0.0.1:7000</h1>"), "{html}");
}

#[tokio::test]
async fn unknown_paths_are_404_and_other_methods_405() {
    for path in ["/nope", "/metrics/x", "/favicon.ico"] {
        let (status, _) = get_text(path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    let resp = request(Method::POST, "/metrics", false).await;
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn stale_target_keeps_up_and_self_metrics_but_no_values() {
    let (_, text) = get_text("/metrics").await;
    let series = |target: &str| -> Vec<String> {
        text.lines()
            .filter(|l| !l.starts_with('#') && l.contains(&format!("target=\"{target}\"")))
            .map(|l| l.split(['{', ' ']).next().unwrap().to_string())
            .collect()
    };
    let stale = series("stale");
    assert!(text.contains("redis_up{target=\"stale\"} 0\n"), "{text}");
    assert!(text.contains("redis_target_info{target=\"stale\",cache=\"true\"} 1\n"));
    assert!(
        text.contains("redis_exporter_poll_errors_total{target=\"stale\",kind=\"timeout\"} 1\n")
    );
    assert!(text.contains(
        "redis_exporter_last_poll_success_timestamp_seconds{target=\"stale\"} 1700000000\n"
    ));
    let values: Vec<&String> = stale
        .iter()
        .filter(|n| {
            !(n.starts_with("redis_exporter_") || *n == "redis_up" || *n == "redis_target_info")
        })
        .collect();
    assert!(values.is_empty(), "stale value series: {values:?}");
    // The same inputs while fresh do give value series.
    let fresh = series("fresh");
    for name in [
        "redis_keyspace_hits_total",
        "redis_db_keys",
        "redis_instance_info",
        "redis_uptime_in_seconds",
    ] {
        assert!(
            fresh.iter().any(|n| n == name),
            "fresh lacks {name}: {fresh:?}"
        );
    }
}

#[tokio::test]
async fn a_small_exposition_has_a_length_a_large_one_is_streamed_whole() {
    let resp = request(Method::GET, "/metrics", false).await;
    let length = resp.headers()[header::CONTENT_LENGTH].to_str().unwrap();
    assert_eq!(length.parse::<usize>().unwrap(), body(resp).await.len());

    // 2 000 targets: several MB of text, more than one 128 KiB piece.
    let shared = Shared::new();
    for i in 0..2000 {
        let name = format!("target-{i:04}");
        shared.add(meta(&name, Duration::from_secs(3600)));
        succeed(&shared, &name);
    }
    let collector = ExporterCollector::new(shared, Instant::now());
    let expected = collector.render();
    let resp = app(collector)
        .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers().get(header::CONTENT_LENGTH).is_none());
    let mut body = resp.into_body();
    let (mut text, mut frames) = (Vec::new(), 0);
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.expect("no error in the stream").into_data() {
            frames += 1;
            text.extend_from_slice(&data);
        }
    }
    assert!(expected.len() > 1 << 20, "{} bytes", expected.len());
    assert!(frames > 5, "{frames} frames for {} bytes", text.len());
    assert_eq!(String::from_utf8(text).unwrap(), expected);
}
