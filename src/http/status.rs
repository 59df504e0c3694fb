//! The status page at `/`: one table row per target with its state, hit ratio and an inline SVG
//! sparkline of the last 15 minutes, memory pressure, evictions, eviction policy and the
//! verdicts of [`crate::core::verdict`] on the latest sample (over the 5-minute window).
//!
//! Pure: HTML text from snapshots; no external assets (styles and SVG inline), so the page
//! works where the exporter has no way out to the internet.

use std::fmt::Write as _;
use std::time::Duration;

use crate::core::derive::Window;
use crate::core::verdict::{self, Input, Period, Verdict};
use crate::state::Snapshot;

/// Sparkline size in CSS pixels.
const SPARK_W: f32 = 120.0;
const SPARK_H: f32 = 28.0;

/// HTML-escapes text for element content and attribute values.
pub(crate) fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// An inline SVG sparkline of hit ratios (0–1, oldest first); gaps (`None`) break the line.
/// A dashed line marks the 90 % guidance. Empty string for fewer than two points.
pub(crate) fn sparkline(points: &[Option<f32>]) -> String {
    if points.len() < 2 {
        return String::new();
    }
    let step = SPARK_W / (points.len() - 1) as f32;
    let y = |r: f32| (1.0 - r.clamp(0.0, 1.0)) * (SPARK_H - 2.0) + 1.0;
    let mut lines = Vec::new();
    let mut current = String::new();
    let mut dots = String::new();
    for (i, p) in points.iter().enumerate() {
        match p {
            Some(r) => {
                let _ = write!(current, "{:.1},{:.1} ", i as f32 * step, y(*r));
            }
            None if !current.is_empty() => lines.push(std::mem::take(&mut current)),
            None => {}
        }
    }
    if !current.is_empty() {
        lines.push(current);
    }
    let mut svg = format!(
        "<svg class=\"spark\" role=\"img\" aria-label=\"hit ratio, last 15 minutes\" width=\"{SPARK_W}\" height=\"{SPARK_H}\" viewBox=\"0 0 {SPARK_W} {SPARK_H}\">\
<line x1=\"0\" x2=\"{SPARK_W}\" y1=\"{g:.1}\" y2=\"{g:.1}\" stroke=\"#8c959f\" stroke-dasharray=\"2 2\" stroke-width=\"0.8\"/>",
        g = y(0.9)
    );
    for l in &lines {
        let pts = l.trim_end();
        if pts.contains(' ') {
            let _ = write!(
                svg,
                "<polyline points=\"{pts}\" fill=\"none\" stroke=\"#0969da\" stroke-width=\"1.5\"/>"
            );
        } else {
            // A lone point between gaps.
            let (x, yy) = pts.split_once(',').unwrap_or(("0", "0"));
            let _ = write!(
                dots,
                "<circle cx=\"{x}\" cy=\"{yy}\" r=\"1.5\" fill=\"#0969da\"/>"
            );
        }
    }
    svg.push_str(&dots);
    svg.push_str("</svg>");
    svg
}

fn verdict_cell(snap: &Snapshot, now: Duration) -> String {
    let Some((sample, derived)) = snap.fresh(now) else {
        return if snap.up {
            "<td>–</td>".into()
        } else {
            "<td><span class=\"v unknown\">unknown</span></td>".into()
        };
    };
    let period = derived
        .windows
        .iter()
        .find(|w| w.window == Window::M5)
        .map(Period::from_window);
    let findings = verdict::evaluate(&Input {
        sample,
        period,
        locks: &[],
    });
    let worst = verdict::worst(&findings);
    let mut cell = format!("<td><span class=\"v {l}\">{l}</span>", l = worst.label());
    let notable: Vec<_> = findings
        .iter()
        .filter(|f| f.verdict != Verdict::Ok)
        .collect();
    if !notable.is_empty() {
        cell.push_str("<ul>");
        for f in notable {
            let name = match &f.subject {
                Some(s) => format!("{} {s}", f.check),
                None => f.check.to_string(),
            };
            let _ = write!(
                cell,
                "<li title=\"{}\"><span class=\"v {l}\">{l}</span> {}: {}</li>",
                escape(&f.advice),
                escape(&name),
                escape(&f.summary),
                l = f.verdict.label()
            );
        }
        cell.push_str("</ul>");
    }
    cell.push_str("</td>");
    cell
}

/// The whole page for these snapshots at monotonic offset `now`.
pub(crate) fn page(snaps: &[Snapshot], now: Duration) -> String {
    let mut rows = String::new();
    for snap in snaps {
        let fresh = snap.fresh(now);
        let m5 = fresh.and_then(|(_, d)| d.windows.iter().find(|w| w.window == Window::M5));
        let hit = m5
            .and_then(|w| w.hit_ratio)
            .map_or("–".to_string(), |r| format!("{:.1} %", r * 100.0));
        let spark = fresh.map_or(String::new(), |(_, d)| sparkline(&d.hit_ratio_trend));
        let pressure = fresh
            .and_then(|(_, d)| d.pressure)
            .map_or("–".to_string(), |p| {
                format!("{:.1} % of {}", p.ratio * 100.0, p.limit.label())
            });
        let evictions = m5
            .and_then(|w| w.evictions)
            .map_or("–".to_string(), |n| n.to_string());
        let policy = fresh
            .and_then(|(s, _)| s.maxmemory_policy.clone())
            .unwrap_or_else(|| "–".into());
        let last = snap.last.as_ref().map_or("never".to_string(), |l| {
            format!("{:.0} s ago", now.saturating_sub(l.at).as_secs_f64())
        });
        let state = if snap.up { "up" } else { "down" };
        let _ = writeln!(
            rows,
            "<tr><td>{}</td><td class=\"{state}\">{state}</td><td>{last}</td><td class=\"hit\"><span>{hit}</span>{spark}</td><td>{}</td><td>{evictions}</td><td>{}</td>{}</tr>",
            escape(&snap.meta.name),
            escape(&pressure),
            escape(&policy),
            verdict_cell(snap, now),
        );
    }
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>redis-cache-exporter</title>\
<style>\
body{{font-family:system-ui,sans-serif;margin:1.5em 2em;color:#1f2328}}\
table{{border-collapse:collapse}}td,th{{padding:.4em .6em;text-align:left;vertical-align:top;border-bottom:1px solid #d0d7de}}\
th{{font-weight:600;background:#f6f8fa}}\
.up{{color:#1a7f37}}.down{{color:#cf222e;font-weight:bold}}\
.hit span{{display:inline-block;min-width:4.5em}}.spark{{vertical-align:middle;background:#f6f8fa;margin-left:.4em}}\
td{{white-space:nowrap}}td:last-child{{white-space:normal;min-width:12em}}\
.v{{display:inline-block;padding:0 .4em;border-radius:.6em;font-size:.85em;font-weight:600}}\
.v.ok{{background:#dafbe1;color:#1a7f37}}.v.warn{{background:#fff8c5;color:#9a6700}}\
.v.critical{{background:#ffebe9;color:#cf222e}}.v.unknown{{background:#eaeef2;color:#57606a}}\
ul{{margin:.3em 0 0;padding-left:0;list-style:none;font-size:.9em}}li{{margin:.15em 0}}\
</style></head>\
<body><h1>redis-cache-exporter</h1><p><a href=\"/metrics\">/metrics</a> · <a href=\"/healthz\">/healthz</a> · \
hit ratio, evictions and verdicts over the last 5 minutes; sparkline: last 15 minutes, dashed line at 90 %</p>\
<table><thead><tr><th>target</th><th>status</th><th>last successful poll</th><th>hit ratio (5m)</th><th>memory pressure</th><th>evictions (5m)</th><th>policy</th><th>verdicts</th></tr></thead>\
<tbody>\n{rows}</tbody></table></body></html>\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparkline_breaks_at_gaps_and_draws_lone_points() {
        let svg = sparkline(&[Some(1.0), Some(0.5), None, Some(0.0), None]);
        assert_eq!(svg.matches("<polyline").count(), 1, "{svg}");
        assert_eq!(svg.matches("<circle").count(), 1, "{svg}");
        assert!(svg.contains("points=\"0.0,1.0 30.0,14.0\""), "{svg}");
        assert_eq!(sparkline(&[Some(1.0)]), "");
    }
}
