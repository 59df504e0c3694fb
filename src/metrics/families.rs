//! The metric families as `prometheus` protobuf structures, built fresh from the snapshots on
//! every call: what the `prometheus` Collector hands out, and the oracle the text rendering is
//! tested against (the `TextEncoder` of these families gives the same bytes).

use std::time::Duration;

use prometheus::proto::{Counter, Gauge, LabelPair, Metric, MetricFamily, MetricType};

use super::table::{Emit, Kind, TABLE, View};
use crate::state::{Globals, Snapshot};

fn pair(name: &str, value: &str) -> LabelPair {
    let mut p = LabelPair::default();
    p.set_name(name.to_string());
    p.set_value(value.to_string());
    p
}

fn metric(kind: Kind, labels: Vec<LabelPair>, value: f64) -> Metric {
    let mut m = Metric::from_label(labels);
    match kind {
        Kind::Counter => {
            let mut c = Counter::default();
            c.set_value(value);
            m.set_counter(c);
        }
        Kind::Gauge => {
            let mut g = Gauge::default();
            g.set_value(value);
            m.set_gauge(g);
        }
    }
    m
}

/// Builds every metric family from the snapshots, fresh on each call. `now` is the monotonic
/// offset used to decide which samples are still fresh.
pub fn families(snaps: &[Snapshot], globals: &Globals, now: Duration) -> Vec<MetricFamily> {
    let views: Vec<View> = snaps
        .iter()
        .map(|snap| View {
            snap,
            fresh: snap.fresh(now),
        })
        .collect();
    let mut out = Vec::with_capacity(TABLE.len());
    for def in TABLE {
        let mut metrics = Vec::new();
        match def.emit {
            Emit::PerTarget(emit) => {
                for v in &views {
                    let meta = &v.snap.meta;
                    emit(v, &mut |values: &[&str], value: f64| {
                        let mut labels = Vec::with_capacity(1 + values.len() + meta.labels.len());
                        labels.push(pair("target", &meta.name));
                        for (n, val) in def.labels.iter().zip(values) {
                            labels.push(pair(n, val));
                        }
                        for (n, val) in &meta.labels {
                            labels.push(pair(n, val));
                        }
                        metrics.push(metric(def.kind, labels, value));
                    });
                }
            }
            Emit::Global(emit) => emit(globals, &mut |values: &[&str], value: f64| {
                let labels = def
                    .labels
                    .iter()
                    .zip(values)
                    .map(|(n, v)| pair(n, v))
                    .collect();
                metrics.push(metric(def.kind, labels, value));
            }),
            Emit::PerGroup(emit) => {
                for g in globals.groups.values() {
                    emit(g, &mut |values: &[&str], value: f64| {
                        let mut labels: Vec<LabelPair> = def
                            .labels
                            .iter()
                            .zip(values)
                            .map(|(n, v)| pair(n, v))
                            .collect();
                        for (n, val) in &g.meta.labels {
                            labels.push(pair(n, val));
                        }
                        metrics.push(metric(def.kind, labels, value));
                    });
                }
            }
        }
        if metrics.is_empty() {
            continue;
        }
        let mut mf = MetricFamily::default();
        mf.set_name(def.name.to_string());
        mf.set_help(def.help.to_string());
        mf.set_field_type(match def.kind {
            Kind::Counter => MetricType::COUNTER,
            Kind::Gauge => MetricType::GAUGE,
        });
        mf.set_metric(metrics);
        out.push(mf);
    }
    out
}
