//! The metric reference as a Markdown table, generated from the metric table (docs/metrics.md
//! is checked against it).

use super::table::{Emit, Kind, TABLE};

/// The metric reference as a Markdown table (docs/metrics.md is checked against it).
pub fn reference() -> String {
    let mut s = String::from("| metric | type | labels | meaning |\n|---|---|---|---|\n");
    for def in TABLE {
        let mut labels: Vec<&str> = Vec::new();
        if matches!(def.emit, Emit::PerTarget(_)) {
            labels.push("target");
        }
        labels.extend(def.labels);
        let kind = match def.kind {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
        };
        s.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            def.name,
            kind,
            labels
                .iter()
                .map(|l| format!("`{l}`"))
                .collect::<Vec<_>>()
                .join(", "),
            def.help.replace('|', "\\|")
        ));
    }
    s
}
