//! The metric families as `prometheus` protobuf structures, built fresh from the snapshots on
//! every call: what the `prometheus` Collector hands out, and the oracle the text rendering is
//! tested against (the `TextEncoder` of these families gives the same bytes).

use std::time::Duration;

use prometheus::proto::{Counter, Gauge, LabelPair, Metric, MetricFamily, MetricType};

use super::table::{Emit, Kind, MetricDef, Out, TABLE, View};
use crate::state::{Globals, GroupStatus, Snapshot};

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
    TABLE
        .iter()
        .filter_map(|def| {
            let metrics = match def.emit {
                Emit::PerTarget(emit) => per_target(def, emit, &views),
                Emit::Global(emit) => global(def, emit, globals),
                Emit::PerGroup(emit) => per_group(def, emit, globals),
            };
            (!metrics.is_empty()).then(|| family(def, metrics))
        })
        .collect()
}

/// The series of a per-target family: `target`, the family's labels, the static labels.
fn per_target(def: &MetricDef, emit: fn(&View, &mut Out), views: &[View]) -> Vec<Metric> {
    let mut metrics = Vec::new();
    for v in views {
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
    metrics
}

/// The series of an exporter-wide family: its own labels only.
fn global(def: &MetricDef, emit: fn(&Globals, &mut Out), globals: &Globals) -> Vec<Metric> {
    let mut metrics = Vec::new();
    emit(globals, &mut |values: &[&str], value: f64| {
        metrics.push(metric(def.kind, own_labels(def, values), value));
    });
    metrics
}

/// The series of a per-group family: its own labels, then the entry's static labels.
fn per_group(def: &MetricDef, emit: fn(&GroupStatus, &mut Out), globals: &Globals) -> Vec<Metric> {
    let mut metrics = Vec::new();
    for g in globals.groups.values() {
        emit(g, &mut |values: &[&str], value: f64| {
            let mut labels = own_labels(def, values);
            for (n, val) in &g.meta.labels {
                labels.push(pair(n, val));
            }
            metrics.push(metric(def.kind, labels, value));
        });
    }
    metrics
}

fn own_labels(def: &MetricDef, values: &[&str]) -> Vec<LabelPair> {
    def.labels
        .iter()
        .zip(values)
        .map(|(n, v)| pair(n, v))
        .collect()
}

fn family(def: &MetricDef, metrics: Vec<Metric>) -> MetricFamily {
    let mut mf = MetricFamily::default();
    mf.set_name(def.name.to_string());
    mf.set_help(def.help.to_string());
    mf.set_field_type(match def.kind {
        Kind::Counter => MetricType::COUNTER,
        Kind::Gauge => MetricType::GAUGE,
    });
    mf.set_metric(metrics);
    mf
}
