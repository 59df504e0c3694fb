//! The status page at `/`: one table row per target with its state, a link to its own page, hit
//! ratio and an inline SVG sparkline of the last 15 minutes, memory pressure, evictions, the
//! dominant miss cause (measured with miss attribution, an estimate without), eviction policy and
//! the verdicts of [`crate::core::verdict`] on the latest sample (over the 5-minute window). The
//! target page at `/target/<name>`: the same for one target over every window, and the misses by
//! measured cause, the hit-ratio ceilings and the top prefixes by misses, filled from the target's
//! attribution status and windows, which say "attribution off" while the target has none; and
//! memory sizing, the hit ratio predicted at 1.5×, 2× and 4× maxmemory and the memory for 90 %,
//! 95 % and 99 %, in words and in numbers, from the same poll's sizing (or why there is none).
//!
//! Pure: HTML text from snapshots; no external assets (styles and SVG inline), so the page
//! works where the exporter has no way out to the internet. Every number the pages show from
//! a metric carries its family, labels and exact value in `data-` attributes, and each
//! target's row or table its `data-polls` (`redis_exporter_polls_total`, which names the
//! snapshot), so a test can hold the page against the /metrics of the same snapshot.

use std::fmt::Write as _;
use std::time::Duration;

use crate::core::attribution::{AttributionStatus, Cause, Without};
use crate::core::derive::{AttributionWindow, SizingStatus, Window, WindowStats};
use crate::core::ghost::curve::{MEMORY_MULTIPLES, TARGET_RATIOS};
use crate::core::ghost::predict::{in_words, mib, why_unpredicted};
use crate::core::verdict::{self, Input, Period, Verdict, percent};
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

/// The path of a target's page. Names are user strings (and discovered ones hold `/` and
/// `:`): every byte but the unreserved ones of RFC 3986 is percent-encoded.
pub(crate) fn target_href(name: &str) -> String {
    let mut href = String::from("/target/");
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            href.push(char::from(b));
        } else {
            let _ = write!(href, "%{b:02X}");
        }
    }
    href
}

/// A number shown from a metric: `text` inside a span naming the family, its labels (besides
/// `target`) and the exact value; "–" when the metric is absent.
fn number(
    metric: &str,
    labels: &str,
    value: Option<f64>,
    text: impl FnOnce(f64) -> String,
) -> String {
    match value {
        Some(v) => format!(
            "<span class=\"n\" data-metric=\"{metric}\" data-labels=\"{}\" data-value=\"{v}\">\
             {}</span>",
            escape(labels),
            escape(&text(v))
        ),
        None => format!(
            "<span class=\"n\" data-metric=\"{metric}\" data-labels=\"{}\">–</span>",
            escape(labels)
        ),
    }
}

/// The likely cause of a window's misses, marked as the estimate it is (from INFO's evicted
/// and expired counters, not measured per miss); "–" without misses.
fn cause_estimate(w: Option<&WindowStats>) -> String {
    let Some((w, cause)) = w.and_then(|w| Some((w, w.miss_cause()?))) else {
        return "–".into();
    };
    let labels = format!(
        "window=\"{}\",cause=\"{}\"",
        w.window.label(),
        cause.label()
    );
    let shown = number("redis_cache_miss_cause", &labels, Some(1.0), |_| {
        cause.label().to_string()
    });
    format!("{shown} <span class=\"est\">(estimate)</span>")
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
        "<svg class=\"spark\" role=\"img\" aria-label=\"hit ratio, last 15 minutes\" \
         width=\"{SPARK_W}\" height=\"{SPARK_H}\" viewBox=\"0 0 {SPARK_W} {SPARK_H}\">\
         <line x1=\"0\" x2=\"{SPARK_W}\" y1=\"{g:.1}\" y2=\"{g:.1}\" stroke=\"#8c959f\" \
         stroke-dasharray=\"2 2\" stroke-width=\"0.8\"/>",
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

/// One window of a fresh snapshot.
fn window(snap: &Snapshot, now: Duration, window: Window) -> Option<&WindowStats> {
    snap.fresh(now)
        .and_then(|(_, d)| d.windows.iter().find(|w| w.window == window))
}

fn pressure(snap: &Snapshot, now: Duration) -> String {
    let p = snap.fresh(now).and_then(|(_, d)| d.pressure);
    match p {
        Some(p) => number(
            "redis_memory_pressure_ratio",
            &format!("limit=\"{}\"", p.limit.label()),
            Some(p.ratio),
            |r| format!("{} of {}", percent(r), p.limit.label()),
        ),
        None => "–".into(),
    }
}

fn policy(snap: &Snapshot, now: Duration) -> String {
    snap.fresh(now)
        .and_then(|(s, _)| s.maxmemory_policy.clone())
        .unwrap_or_else(|| "–".into())
}

fn last_success(snap: &Snapshot, now: Duration) -> String {
    snap.last.as_ref().map_or("never".to_string(), |l| {
        format!("{:.0} s ago", now.saturating_sub(l.at).as_secs_f64())
    })
}

fn state(snap: &Snapshot) -> &'static str {
    if snap.up { "up" } else { "down" }
}

fn hit_ratio(w: Option<&WindowStats>, label: &str) -> String {
    number(
        "redis_cache_hit_ratio",
        &format!("window=\"{label}\""),
        w.and_then(|w| w.hit_ratio),
        percent,
    )
}

fn count(metric: &str, label: &str, n: Option<u64>) -> String {
    number(
        metric,
        &format!("window=\"{label}\""),
        n.map(|n| n as f64),
        |v| format!("{v:.0}"),
    )
}

/// The whole page for these snapshots at monotonic offset `now`.
pub(crate) fn page(snaps: &[Snapshot], now: Duration) -> String {
    let mut rows = String::new();
    for snap in snaps {
        let m5 = window(snap, now, Window::M5);
        let spark = snap.fresh(now).map_or(String::new(), |(_, d)| {
            sparkline(&d.hit_ratio_trend.steps())
        });
        let state = state(snap);
        let _ = writeln!(
            rows,
            "<tr data-polls=\"{}\"><td><a href=\"{}\">{}</a></td>\
             <td class=\"{state}\">{state}</td><td>{}</td>\
             <td class=\"hit\"><span>{}</span>{spark}</td>\
             <td>{}</td><td>{}</td><td>{}</td><td>{}</td>{}</tr>",
            snap.polls_total,
            escape(&target_href(&snap.meta.name)),
            escape(&snap.meta.name),
            last_success(snap, now),
            hit_ratio(m5, "5m"),
            pressure(snap, now),
            count("redis_cache_evictions", "5m", m5.and_then(|w| w.evictions)),
            window_cause(snap, now, m5, Window::M5),
            escape(&policy(snap, now)),
            verdict_cell(snap, now),
        );
    }
    document(
        "redis-cache-exporter",
        &format!(
            "<h1>redis-cache-exporter</h1>\
             <p><a href=\"/metrics\">/metrics</a> · <a href=\"/healthz\">/healthz</a> · \
             hit ratio, evictions, miss cause and verdicts over the last 5 minutes; \
             sparkline: last 15 minutes, dashed line at 90 %; \
             a target's name opens its page</p>\
             <table><thead><tr><th>target</th><th>status</th><th>last successful poll</th>\
             <th>hit ratio (5m)</th><th>memory pressure</th><th>evictions (5m)</th>\
             <th>dominant miss cause (5m)</th><th>policy</th><th>verdicts</th></tr></thead>\
             <tbody>\n{rows}</tbody></table>"
        ),
    )
}

/// What a section that needs miss attribution says while the target has none.
const ATTRIBUTION_OFF: &str = "<p class=\"attribution-off\">attribution off: this target measures \
no miss causes yet (keyspace-event attribution, <code>[targets.miss_attribution]</code>). \
The likely cause above is an estimate from INFO's evicted and expired counters.</p>";

/// The page of one target at monotonic offset `now`.
pub(crate) fn target_page(snap: &Snapshot, now: Duration) -> String {
    let name = escape(&snap.meta.name);
    let state = state(snap);
    let spark = snap.fresh(now).map_or(String::new(), |(_, d)| {
        sparkline(&d.hit_ratio_trend.steps())
    });
    let mut windows = String::new();
    for w in Window::ALL {
        let stats = window(snap, now, w);
        let l = w.label();
        let covered = stats.map_or("–".to_string(), |s| {
            format!("{:.0} s", s.covered.as_secs_f64())
        });
        let _ = writeln!(
            windows,
            "<tr><th>{l}</th><td>{covered}</td>\
             <td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            hit_ratio(stats, l),
            number(
                "redis_cache_lookups_per_second",
                &format!("window=\"{l}\""),
                stats.and_then(|s| s.lookups_per_second),
                |v| format!("{v:.1}/s"),
            ),
            count("redis_cache_evictions", l, stats.and_then(|s| s.evictions)),
            count(
                "redis_cache_expirations",
                l,
                stats.and_then(|s| s.expirations)
            ),
            window_cause(snap, now, stats, w),
        );
    }
    document(
        &format!("{name} · redis-cache-exporter"),
        &format!(
            "<p><a href=\"/\">all targets</a> · <a href=\"/metrics\">/metrics</a></p>\
             <h1>{name}</h1>\
             <table class=\"facts\" data-polls=\"{polls}\"><tbody>\
             <tr><th>status</th><td class=\"{state}\">{state}</td></tr>\
             <tr><th>last successful poll</th><td>{}</td></tr>\
             <tr><th>hit ratio (5m), last 15 minutes</th>\
             <td class=\"hit\"><span>{}</span>{spark}</td></tr>\
             <tr><th>memory pressure</th><td>{}</td></tr>\
             <tr><th>policy</th><td>{}</td></tr>\
             <tr><th>verdicts</th>{}</tr>\
             </tbody></table>\
             <h2>Windows</h2>\
             <table class=\"windows\"><thead><tr><th>window</th><th>covered</th>\
             <th>hit ratio</th><th>lookups</th><th>evictions</th><th>expirations</th>\
             <th>likely miss cause</th></tr></thead>\
             <tbody>\n{windows}</tbody></table>\
             {}",
            last_success(snap, now),
            hit_ratio(window(snap, now, Window::M5), "5m"),
            pressure(snap, now),
            escape(&policy(snap, now)),
            verdict_cell(snap, now),
            attribution_sections(snap, now) + &memory_sizing(snap, now),
            polls = snap.polls_total,
        ),
    )
}

/// The attribution window of a fresh snapshot.
fn attribution_window(snap: &Snapshot, now: Duration, w: Window) -> Option<&AttributionWindow> {
    snap.fresh(now)
        .and_then(|(_, d)| d.attribution.iter().find(|a| a.window == w))
}

/// The cause with most misses in `counts` (in [`Cause::ALL`] order), `None` without misses.
fn dominant(counts: &[u64; 4]) -> Option<(Cause, u64)> {
    let (i, n) = (0..4)
        .map(|i| (i, counts[i]))
        .max_by_key(|&(i, n)| (n, 4 - i))?;
    (n > 0).then_some((Cause::ALL[i], n))
}

/// A window's dominant miss cause: measured for a target with attribution (which /metrics
/// then serves instead of the estimate), the estimate otherwise.
fn window_cause(
    snap: &Snapshot,
    now: Duration,
    stats: Option<&WindowStats>,
    window: Window,
) -> String {
    if snap.attribution.is_none() {
        return cause_estimate(stats);
    }
    let Some(w) = attribution_window(snap, now, window) else {
        return "–".into();
    };
    let total: u64 = w.attributed.iter().sum();
    match dominant(&w.attributed) {
        Some((cause, n)) => format!(
            "<span class=\"measured\" data-cause=\"{}\">{}</span> \
             <span class=\"meas\">(measured, {} of {} misses)</span>",
            cause.label(),
            cause.label(),
            percent(n as f64 / total as f64),
            w.window.label()
        ),
        None => "–".into(),
    }
}

/// The three sections that need miss attribution, or "attribution off" in each.
fn attribution_sections(snap: &Snapshot, now: Duration) -> String {
    let heads = [
        "<h2 id=\"misses-by-cause\">Misses by cause</h2>",
        "<h2 id=\"ceilings\">Hit-ratio ceilings</h2>",
        "<h2 id=\"top-prefixes\">Top prefixes by misses</h2>",
    ];
    let Some(a) = &snap.attribution else {
        return heads
            .iter()
            .map(|h| format!("{h}{ATTRIBUTION_OFF}"))
            .collect();
    };
    let state = if a.active {
        String::new()
    } else if a.missing_flags.is_empty() {
        "<p class=\"attribution-off\">attribution inactive: the subscriber is not connected; the \
         figures are those measured so far.</p>"
            .into()
    } else {
        format!(
            "<p class=\"attribution-off\">attribution inactive: notify-keyspace-events lacks the \
             flags {}; the figures are those measured so far.</p>",
            escape(&a.missing_flags)
        )
    };
    format!(
        "{}{state}{}{}{}{}",
        heads[0],
        misses_by_cause(snap, now, a),
        heads[1],
        ceilings(snap, now),
        heads[2].to_string() + &top_prefixes(a),
    )
}

/// Misses by cause since the exporter started (the counters) and over 5 minutes, and the
/// coverage per window.
fn misses_by_cause(snap: &Snapshot, now: Duration, a: &AttributionStatus) -> String {
    let m5 = attribution_window(snap, now, Window::M5);
    let m5_total: u64 = m5.map_or(0, |w| w.attributed.iter().sum());
    let mut rows = String::new();
    for (i, c) in Cause::ALL.into_iter().enumerate() {
        let n5 = m5.map(|w| w.attributed[i]);
        let share = n5
            .filter(|_| m5_total > 0)
            .map_or("–".into(), |n| percent(n as f64 / m5_total as f64));
        let _ = writeln!(
            rows,
            "<tr><th>{}</th><td>{}</td><td>{}</td><td>{share}</td><td>{}</td></tr>",
            c.label(),
            number(
                "redis_cache_misses_attributed_total",
                &format!("cause=\"{}\"", c.label()),
                Some(a.counts.attributed(c) as f64),
                |v| format!("{v:.0}"),
            ),
            n5.map_or("–".into(), |n| n.to_string()),
            escape(cause_action(c)),
        );
    }
    let mut coverage = String::new();
    for w in Window::ALL {
        let c = attribution_window(snap, now, w).and_then(|a| a.coverage);
        let _ = write!(
            coverage,
            " {}: {}",
            w.label(),
            number(
                "redis_cache_miss_attribution_coverage_ratio",
                &format!("window=\"{}\"", w.label()),
                c,
                percent
            )
        );
    }
    format!(
        "<table class=\"causes\"><thead><tr><th>cause</th><th>misses since start</th>\
         <th>misses (5m)</th><th>share (5m)</th><th>what removes them</th></tr></thead>\
         <tbody>\n{rows}</tbody></table><p>misses classified (coverage):{coverage}</p>"
    )
}

/// A label value as the exposition format writes it (backslash, quote and newline escaped).
fn label_value(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// What removes the misses of a cause (the alert descriptions' wording).
fn cause_action(c: Cause) -> &'static str {
    match c {
        Cause::Evicted => "give the cache memory or an LFU policy",
        Cause::Expired => "lengthen the TTLs of the keys read most",
        Cause::Deleted => "invalidate less eagerly (update in place, delete only what changed)",
        Cause::Cold => "no memory or TTL setting: look for unique or ever-new key names",
    }
}

/// The hit ratio each window would have had without one cause's misses, beside the actual one
/// and the 90 % guidance.
fn ceilings(snap: &Snapshot, now: Duration) -> String {
    let mut rows = String::new();
    for w in Window::ALL {
        let l = w.label();
        let a = attribution_window(snap, now, w);
        let _ = write!(
            rows,
            "<tr><th>{l}</th><td>{}</td>",
            hit_ratio(window(snap, now, w), l)
        );
        for (i, without) in Without::ALL.iter().enumerate() {
            let c = a.and_then(|a| a.ceilings[i]);
            let mark = if c.is_some_and(|c| c >= 0.9) {
                " class=\"above\""
            } else {
                ""
            };
            let _ = write!(
                rows,
                "<td{mark}>{}</td>",
                number(
                    "redis_cache_hit_ratio_ceiling",
                    &format!("window=\"{l}\",without=\"{}\"", without.label()),
                    c,
                    percent
                )
            );
        }
        rows.push_str("</tr>\n");
    }
    format!(
        "<table class=\"ceilings\"><thead><tr><th>window</th><th>hit ratio</th>\
         <th>without evictions</th><th>without expirations</th><th>without deletions</th>\
         </tr></thead>\
         <tbody>\n{rows}</tbody></table>\
         <p>a ceiling at or above the 90 % guidance (bold) says removing that cause alone would be \
         enough</p>"
    )
}

/// The top prefixes by misses since start, each cause's count and the dominant one.
fn top_prefixes(a: &AttributionStatus) -> String {
    if a.prefixes.is_empty() {
        return "<p>no miss measured yet</p>".into();
    }
    let mut prefixes: Vec<&(String, [u64; 4])> = a.prefixes.iter().collect();
    prefixes.sort_by_key(|(p, c)| (std::cmp::Reverse(c.iter().sum::<u64>()), p.clone()));
    let mut rows = String::new();
    for (prefix, counts) in prefixes {
        let _ = write!(rows, "<tr><th>{}</th>", escape(prefix));
        for (c, n) in Cause::ALL.iter().zip(counts) {
            let _ = write!(
                rows,
                "<td>{}</td>",
                number(
                    "redis_cache_prefix_misses_total",
                    &format!("prefix=\"{}\",cause=\"{}\"", label_value(prefix), c.label()),
                    Some(*n as f64),
                    |v| format!("{v:.0}"),
                )
            );
        }
        let _ = writeln!(
            rows,
            "<td>{}</td></tr>",
            dominant(counts).map_or("–", |(c, _)| c.label())
        );
    }
    format!(
        "<table class=\"prefixes\"><thead><tr><th>prefix</th><th>expired</th><th>evicted</th>\
         <th>deleted</th><th>cold</th><th>dominant cause</th></tr></thead>\
         <tbody>\n{rows}</tbody></table>"
    )
}

/// The window memory sizing is told in words for (as on the dashboard and in the runbooks).
const SIZING_WORDS: Window = Window::M5;

/// Memory sizing: the 5-minute prediction in words, then each window's hit ratio now, at
/// 1.5×, 2× and 4× maxmemory and the memory for 90 %, 95 % and 99 % (the numbers /metrics
/// serves, absent ones "–"), and the model's reach; or why nothing is predicted.
fn memory_sizing(snap: &Snapshot, now: Duration) -> String {
    let head = "<h2 id=\"memory-sizing\">Memory sizing</h2>";
    if snap.attribution.is_none() {
        return format!(
            "{head}<p class=\"attribution-off\">attribution off: memory sizing learns from the \
same keyspace events (evictions and misses) as miss attribution, so this target predicts \
nothing.</p>"
        );
    }
    let Some((sample, status)) = snap
        .fresh(now)
        .and_then(|(s, d)| Some((s, d.sizing.as_ref()?)))
    else {
        return format!("{head}<p class=\"not-predicted\">no fresh poll: nothing predicted.</p>");
    };
    let limit = format!(
        "maxmemory {}, {}",
        sample.maxmemory.filter(|b| *b > 0).map_or_else(
            || "0 (no limit)".into(),
            |b| format!("{} MiB", mib(b as f64))
        ),
        sample
            .maxmemory_policy
            .as_deref()
            .unwrap_or("policy unknown")
    );
    let words = match status.windows.iter().find(|w| w.window == SIZING_WORDS) {
        Some(w) => in_words(w, 0),
        None => why_unpredicted(status, sample, SIZING_WORDS)
            .map(|why| why.in_words())
            .unwrap_or_default(),
    };
    if status.refused.is_some() {
        // Under a refused policy no window has a prediction, and /metrics exports none.
        return format!(
            "{head}<p class=\"not-predicted\">{}</p><p>{}</p>",
            escape(&words),
            escape(&limit)
        );
    }
    format!(
        "{head}<p class=\"sizing-words\" data-window=\"{l}\">{l}: {}</p>{}\
         <p>{}; ghost list: {} evicted keys, {} of keys tracked</p>",
        escape(&words),
        sizing_table(snap, now, status),
        escape(&limit),
        number(
            "redis_exporter_ghost_span_keys",
            "",
            Some(status.span_keys),
            |v| format!("{v:.0}")
        ),
        number(
            "redis_exporter_ghost_sampling_ratio",
            "",
            Some(status.sampling_ratio),
            percent
        ),
        l = SIZING_WORDS.label(),
    )
}

/// Each window's hit ratio now and its predicted points, as /metrics has them.
fn sizing_table(snap: &Snapshot, now: Duration, status: &SizingStatus) -> String {
    let mut rows = String::new();
    for w in Window::ALL {
        let l = w.label();
        let sw = status.windows.iter().find(|s| s.window == w);
        let _ = write!(
            rows,
            "<tr><th>{l}</th><td>{}</td>",
            hit_ratio(window(snap, now, w), l)
        );
        let predicted = sw.map(|s| &s.predicted);
        sizing_cells(
            &mut rows,
            "redis_cache_predicted_hit_ratio",
            (l, "memory"),
            MEMORY_MULTIPLES,
            predicted,
            percent,
        );
        let needed = sw.map(|s| &s.needed);
        sizing_cells(
            &mut rows,
            "redis_cache_memory_needed_bytes",
            (l, "hit_ratio"),
            TARGET_RATIOS,
            needed,
            |b| format!("{} MiB", mib(b)),
        );
        rows.push_str("</tr>\n");
    }
    format!(
        "<table class=\"sizing\"><thead><tr><th>window</th><th>hit ratio now</th>\
         <th>at 1.5x</th><th>at 2x</th><th>at 4x</th>\
         <th>memory for 90 %</th><th>for 95 %</th><th>for 99 %</th></tr></thead>\
         <tbody>\n{rows}</tbody></table>\
         <p>–: not exported (beyond what the ghost list covers; for memory needed, also a hit \
         ratio memory alone does not reach)</p>"
    )
}

/// One cell per point of a window's curve, as `metric{window, label}` (the window's label and
/// the point's label name).
fn sizing_cells(
    rows: &mut String,
    metric: &str,
    (window, label): (&str, &str),
    points: [(f64, &str); 3],
    values: Option<&[Option<f64>; 3]>,
    text: fn(f64) -> String,
) {
    for (i, (_, p)) in points.iter().enumerate() {
        let _ = write!(
            rows,
            "<td>{}</td>",
            number(
                metric,
                &format!("window=\"{window}\",{label}=\"{p}\""),
                values.and_then(|v| v[i]),
                text
            )
        );
    }
}

/// The 404 page for a name no target has.
pub(crate) fn not_found(name: &str) -> String {
    document(
        "no such target · redis-cache-exporter",
        &format!(
            "<h1>No target named “{}”</h1><p><a href=\"/\">all targets</a></p>",
            escape(name)
        ),
    )
}

/// A page with the shared styles around `body`.
fn document(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\
         <style>\
         body{{font-family:system-ui,sans-serif;margin:1.5em 2em;color:#1f2328}}\
         table{{border-collapse:collapse}}\
         td,th{{padding:.4em .6em;text-align:left;vertical-align:top;\
         border-bottom:1px solid #d0d7de}}\
         th{{font-weight:600;background:#f6f8fa}}\
         .up{{color:#1a7f37}}.down{{color:#cf222e;font-weight:bold}}\
         .hit span{{display:inline-block;min-width:4.5em}}\
         .spark{{vertical-align:middle;background:#f6f8fa;margin-left:.4em}}\
         td{{white-space:nowrap}}td:last-child{{white-space:normal;min-width:12em}}\
         .v{{display:inline-block;padding:0 .4em;border-radius:.6em;\
         font-size:.85em;font-weight:600}}\
         .v.ok{{background:#dafbe1;color:#1a7f37}}.v.warn{{background:#fff8c5;color:#9a6700}}\
         .v.critical{{background:#ffebe9;color:#cf222e}}\
         .v.unknown{{background:#eaeef2;color:#57606a}}\
         ul{{margin:.3em 0 0;padding-left:0;list-style:none;font-size:.9em}}li{{margin:.15em 0}}\
         .est{{color:#57606a;font-size:.85em}}h2{{font-size:1.1em;margin-top:1.4em}}\
         td.above{{font-weight:bold}}.measured{{font-weight:600}}\
         .meas{{color:#57606a;font-size:.9em}}\
         .attribution-off,.not-predicted{{color:#57606a;background:#f6f8fa;\
         border-left:3px solid #d0d7de;padding:.4em .8em;max-width:48em}}\
         </style></head>\
         <body>{body}</body></html>\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_links_encode_everything_but_unreserved_bytes() {
        assert_eq!(target_href("cache-a_1.x~"), "/target/cache-a_1.x~");
        assert_eq!(
            target_href("shard/10.0.0.1:7000"),
            "/target/shard%2F10.0.0.1%3A7000"
        );
        assert_eq!(target_href("a b\"<é"), "/target/a%20b%22%3C%C3%A9");
    }

    #[test]
    fn numbers_carry_their_metric_and_escape_labels() {
        let n = number("m", "window=\"5m\"", Some(0.25), percent);
        assert_eq!(
            n,
            "<span class=\"n\" data-metric=\"m\" data-labels=\"window=&quot;5m&quot;\" \
             data-value=\"0.25\">25.0 %</span>"
        );
        assert!(number("m", "", None, percent).ends_with(">–</span>"));
    }

    #[test]
    fn sparkline_breaks_at_gaps_and_draws_lone_points() {
        let svg = sparkline(&[Some(1.0), Some(0.5), None, Some(0.0), None]);
        assert_eq!(svg.matches("<polyline").count(), 1, "{svg}");
        assert_eq!(svg.matches("<circle").count(), 1, "{svg}");
        assert!(svg.contains("points=\"0.0,1.0 30.0,14.0\""), "{svg}");
        assert_eq!(sparkline(&[Some(1.0)]), "");
    }
}
