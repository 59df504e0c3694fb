//! `/sd/cluster` and `/sd/sentinel`: the instances Cluster and Sentinel entries discovered, as
//! Prometheus `http_sd` JSON, so Prometheus can scrape them directly.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use serde::Serialize;

use super::ExporterCollector;

/// The instances of every group of `kind` as Prometheus `http_sd` target groups: one per
/// instance, `targets: ["host:port"]`, labels the entry's static labels, `cluster` or
/// `sentinel` (the entry's name), and `__meta_redis_role`, `__meta_redis_node_id`,
/// `__meta_redis_shard`, `__meta_redis_target` for relabeling (a role is not a target label by
/// default: it changes at each failover).
pub(crate) fn http_sd(globals: &crate::state::Globals, kind: crate::state::GroupKind) -> String {
    let mut groups = Vec::new();
    for g in globals.groups.values().filter(|g| g.kind == kind) {
        for n in &g.nodes {
            // A BTreeMap: each name once, static labels never override ours.
            let mut labels: BTreeMap<&str, &str> = g
                .meta
                .labels
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            labels.insert(kind.label(), &g.meta.name);
            labels.insert("__meta_redis_role", &n.role);
            labels.insert("__meta_redis_target", &n.target);
            if !n.node_id.is_empty() {
                labels.insert("__meta_redis_node_id", &n.node_id);
                labels.insert("__meta_redis_shard", &n.shard);
            }
            groups.push(TargetGroup {
                targets: [&n.addr],
                labels,
            });
        }
    }
    // Serializing strings cannot fail.
    serde_json::to_string(&groups).unwrap_or_else(|_| "[]".to_string())
}

/// One `http_sd` target group.
#[derive(Serialize)]
struct TargetGroup<'a> {
    targets: [&'a str; 1],
    labels: BTreeMap<&'a str, &'a str>,
}

fn response(c: &ExporterCollector, kind: crate::state::GroupKind) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        http_sd(&c.shared.globals(), kind),
    )
        .into_response()
}

pub(super) async fn cluster(State(c): State<ExporterCollector>) -> Response {
    response(&c, crate::state::GroupKind::Cluster)
}

pub(super) async fn sentinel(State(c): State<ExporterCollector>) -> Response {
    response(&c, crate::state::GroupKind::Sentinel)
}
