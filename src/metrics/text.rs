//! The text exposition (format 0.0.4) written straight from the snapshots, family by family,
//! in pieces for a streamed body: the same bytes `prometheus::TextEncoder` makes of
//! [`super::families`], in a fraction of the time.
//!
//! Label order on every series: `target`, then the metric's own labels, then the target's static
//! labels (sorted by name).
//!
//! A target's lines are kept only when they are read twice by plain scrapes (a gzip scrape, `gzip`,
//! reads kept lines but keeps none): the first scrape of a snapshot writes them straight into the
//! output and marks its [`LineCache`](crate::state::LineCache); the second renders them into it and
//! later scrapes copy them. The cache lives in the snapshot (every change of the snapshot replaces
//! it); the decision when to fill and read it is made here.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::table::{Emit, Kind, MetricDef, Out, TABLE, View};
use crate::state::{Globals, GroupStatus, Rendered, Snapshot};

/// Appends `v` escaped as the text format wants it: backslash and newline always, the double
/// quote too inside label values (as `prometheus::TextEncoder` does).
fn push_escaped(out: &mut String, v: &str, quote: bool) {
    if !v
        .bytes()
        .any(|b| b == b'\\' || b == b'\n' || (quote && b == b'"'))
    {
        out.push_str(v);
        return;
    }
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if quote => out.push_str("\\\""),
            c => out.push(c),
        }
    }
}

/// Appends one `name{labels} value` line; `head` is `{target="…"` (empty for exporter-wide
/// series) and `tail` the target's static labels, both escaped once per scrape.
fn push_sample(
    out: &mut String,
    name: &str,
    head: &str,
    own: &[&str],
    values: &[&str],
    tail: &str,
    value: f64,
) {
    out.push_str(name);
    out.push_str(head);
    let mut open = !head.is_empty();
    for (n, v) in own.iter().zip(values) {
        out.push(if open { ',' } else { '{' });
        open = true;
        out.push_str(n);
        out.push_str("=\"");
        push_escaped(out, v, true);
        out.push('"');
    }
    out.push_str(tail);
    if open {
        out.push('}');
    }
    out.push(' ');
    push_value(out, value);
    out.push('\n');
}

/// Appends `v` exactly as `Display` for f64 writes it (what the text encoder uses: "1", "0.9",
/// "0.0000001", "NaN", "inf"), without going through `core::fmt`: integral values (most of a
/// scrape: counters, bytes, flags) as the integer's digits, others from `zmij`'s shortest digits
/// laid out in plain decimal. Both print the shortest digits that read back as `v`.
fn push_value(out: &mut String, v: f64) {
    // Below 2^53 every integral f64 is an exact integer; -0.0 prints as "-0" and takes the
    // float path.
    let i = v as i64;
    if i as f64 == v && i.unsigned_abs() < 1 << 53 && !(i == 0 && v.is_sign_negative()) {
        out.push_str(itoa::Buffer::new().format(i));
    } else if short_exact(v) {
        // Where `v` lies exactly halfway between two shortest candidates, `Display` rounds
        // half up and the shortest-digit formatters half to even; such values have a short
        // exact expansion, and are rare in a scrape.
        use std::fmt::Write as _;
        let _ = write!(out, "{v}");
    } else if v.is_finite() {
        push_plain_decimal(out, zmij::Buffer::new().format_finite(v));
    } else if v.is_nan() {
        out.push_str("NaN");
    } else {
        out.push_str(if v > 0.0 { "inf" } else { "-inf" });
    }
}

/// Whether the exact decimal expansion of finite `v` has at most 18 significant digits: the
/// only values whose shortest digits can end on a tie.
fn short_exact(v: f64) -> bool {
    const LIMIT: u128 = 1_000_000_000_000_000_000;
    let bits = v.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i32;
    if biased == 0x7ff {
        return false;
    }
    let frac = bits & ((1 << 52) - 1);
    // v = ±m · 2^e, m odd.
    let (mut m, mut e) = if biased == 0 {
        (frac, -1074)
    } else {
        (frac | 1 << 52, biased - 1075)
    };
    if m == 0 {
        return true;
    }
    e += m.trailing_zeros() as i32;
    m >>= m.trailing_zeros();
    if e < 0 {
        // m · 5^-e, odd, so without trailing zeros; past 5^25 it has 19 digits or more.
        return -e <= 25 && u128::from(m) * 5u128.pow((-e) as u32) < LIMIT;
    }
    // Each factor 5 of m pairs with a factor 2 into a trailing zero.
    while e > 0 && m % 5 == 0 {
        m /= 5;
        e -= 1;
    }
    if e > 63 {
        return false;
    }
    let mut exact = u128::from(m) << e;
    while exact % 10 == 0 {
        exact /= 10;
    }
    exact < LIMIT
}

/// Appends the shortest-digit formatter's `[-]digits[.digits][e[-]exp]` as `Display` writes the
/// same digits: no exponent, no trailing ".0", leading "0." for magnitudes below one.
fn push_plain_decimal(out: &mut String, short: &str) {
    let (sign, rest) = match short.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", short),
    };
    let (mantissa, exp) = match rest.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.parse::<i32>().unwrap_or(0)),
        None => (rest, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    // The significant digits, and where the decimal point falls among them.
    let mut digits = [0u8; 40];
    let mut n = 0;
    for b in int.bytes().chain(frac.bytes()) {
        if n < digits.len() {
            digits[n] = b;
            n += 1;
        }
    }
    let mut point = int.len() as i32 + exp;
    let lead = digits[..n].iter().take_while(|&&d| d == b'0').count();
    let trail = digits[lead..n]
        .iter()
        .rev()
        .take_while(|&&d| d == b'0')
        .count();
    let sig = &digits[lead..n - trail];
    point -= lead as i32;
    // The formatter writes ASCII digits only.
    let sig = std::str::from_utf8(sig).unwrap_or("0");
    out.push_str(sign);
    let len = sig.len() as i32;
    if sig.is_empty() {
        out.push('0');
    } else if point <= 0 {
        out.push_str("0.");
        push_zeros(out, -point);
        out.push_str(sig);
    } else if point >= len {
        out.push_str(sig);
        push_zeros(out, point - len);
    } else {
        let (a, b) = sig.split_at(point as usize);
        out.push_str(a);
        out.push('.');
        out.push_str(b);
    }
}

fn push_zeros(out: &mut String, n: i32) {
    out.extend(std::iter::repeat_n('0', n.max(0) as usize));
}

/// The label prefix (`{target="…"`) and suffix (`,team="…"`) of a target's series, escaped.
fn head_tail(snap: &Snapshot) -> (String, String) {
    let mut head = String::from("{target=\"");
    push_escaped(&mut head, &snap.meta.name, true);
    head.push('"');
    (head, label_suffix(&snap.meta.labels))
}

/// Static labels as they follow a series' own labels: `,name="value"` each, escaped.
fn label_suffix(labels: &BTreeMap<String, String>) -> String {
    let mut tail = String::new();
    for (n, v) in labels {
        tail.push(',');
        tail.push_str(n);
        tail.push_str("=\"");
        push_escaped(&mut tail, v, true);
        tail.push('"');
    }
    tail
}

/// Appends a family's `# HELP` and `# TYPE` lines.
pub(super) fn push_header(out: &mut String, def: &MetricDef) {
    out.push_str("# HELP ");
    out.push_str(def.name);
    out.push(' ');
    push_escaped(out, def.help, false);
    out.push_str("\n# TYPE ");
    out.push_str(def.name);
    out.push_str(match def.kind {
        Kind::Counter => " counter\n",
        Kind::Gauge => " gauge\n",
    });
}

/// Appends the series of a per-group family (rendered on every scrape: a handful of groups).
fn push_groups(
    out: &mut String,
    def: &MetricDef,
    globals: &Globals,
    emit: fn(&GroupStatus, &mut Out),
) {
    for g in globals.groups.values() {
        let tail = label_suffix(&g.meta.labels);
        emit(g, &mut |values: &[&str], value: f64| {
            push_sample(out, def.name, "", def.labels, values, &tail, value);
        });
    }
}

/// Renders every per-target family of one target, in table order.
fn render_target(view: &View) -> Rendered {
    let (head, tail) = head_tail(view.snap);
    let mut text = String::new();
    let mut ends = Vec::with_capacity(TABLE.len());
    for def in TABLE {
        if let Emit::PerTarget(emit) = def.emit {
            emit(view, &mut |values: &[&str], value: f64| {
                push_sample(&mut text, def.name, &head, def.labels, values, &tail, value);
            });
        }
        ends.push(text.len() as u32);
    }
    text.shrink_to_fit();
    Rendered { text, ends }
}

/// How a scrape gets one target's lines: kept from an earlier scrape of the same snapshot, or
/// rendered into the output as it goes (with the target's label prefix and suffix escaped once).
pub(super) enum Lines<'a> {
    Kept(&'a Rendered),
    Fresh {
        view: View<'a>,
        head: String,
        tail: String,
    },
}

/// A target's lines for a scrape at `now`. With `keep`, the second scrape of a snapshot's form
/// renders its lines into the snapshot's [`LineCache`](crate::state::LineCache) and later scrapes
/// copy them.
fn lines_of(snap: &Snapshot, now: Duration, keep: bool) -> Lines<'_> {
    let fresh = snap.fresh(now);
    let form = usize::from(fresh.is_some());
    let view = View { snap, fresh };
    let cache = &snap.rendered;
    if let Some(r) = cache.lines[form].get() {
        return Lines::Kept(r);
    }
    if keep && cache.scraped[form].swap(true, Ordering::Relaxed) {
        return Lines::Kept(cache.lines[form].get_or_init(|| render_target(&view)));
    }
    let (head, tail) = head_tail(snap);
    Lines::Fresh { view, head, tail }
}

/// Writes the text exposition (format 0.0.4) of every family into `out`: the same bytes as
/// `prometheus::TextEncoder` produces from [`super::families`], without building the intermediate
/// protobuf structures. Lines of snapshots scraped before come from their
/// [`LineCache`](crate::state::LineCache).
pub(crate) fn render_text(snaps: &[Snapshot], globals: &Globals, now: Duration, out: &mut String) {
    render(snaps, globals, now, true, out, usize::MAX, &mut |_| true);
}

/// `render_text` without the per-snapshot cache: every line rendered afresh, nothing kept.
/// The reference the cached path is tested against.
pub fn render_text_uncached(
    snaps: &[Snapshot],
    globals: &Globals,
    now: Duration,
    out: &mut String,
) {
    render(snaps, globals, now, false, out, usize::MAX, &mut |_| true);
}

/// [`render_text`] handed to `sink` in pieces of about `chunk` bytes (cut only between series
/// lines), so a large exposition is never held whole; `sink`'s flag is true for the last piece
/// (an exposition that fits in one piece comes whole, flagged last). Stops early when `sink`
/// returns false (the client went away).
pub(crate) fn render_chunks(
    snaps: &[Snapshot],
    globals: &Globals,
    now: Duration,
    chunk: usize,
    sink: &mut dyn FnMut(String, bool) -> bool,
) {
    // A piece grows to about `chunk`; a small exposition (about 6 KiB per target) gets less.
    let room = chunk.saturating_add(16 * 1024);
    let mut out = String::with_capacity(room.min(4096 + snaps.len() * 6 * 1024));
    // One piece is held back until the next, so the last one can be flagged.
    let mut held: Option<String> = None;
    let finished = render(snaps, globals, now, true, &mut out, chunk, &mut |out| {
        let piece = std::mem::replace(out, String::with_capacity(room));
        held.replace(piece)
            .is_none_or(|previous| sink(previous, false))
    });
    if finished {
        let last = match held {
            Some(previous) if out.is_empty() => previous,
            Some(previous) => {
                if !sink(previous, false) {
                    return;
                }
                out
            }
            None => out,
        };
        sink(last, true);
    }
}

/// The rendering behind [`render_text`] and [`render_chunks`]: calls `flush` whenever `out`
/// holds `chunk` bytes or more at the end of a target's lines; returns false when `flush` did.
fn render(
    snaps: &[Snapshot],
    globals: &Globals,
    now: Duration,
    keep: bool,
    out: &mut String,
    chunk: usize,
    flush: &mut dyn FnMut(&mut String) -> bool,
) -> bool {
    let lines = prepare(snaps, now, keep);
    (0..TABLE.len()).all(|i| render_family(i, &lines, globals, out, chunk, flush))
}

/// Appends one target's series of per-target family `i` (`def`, emitted by `emit`).
pub(super) fn push_target_series(
    i: usize,
    def: &MetricDef,
    emit: fn(&View, &mut Out),
    l: &Lines,
    out: &mut String,
) {
    match l {
        Lines::Kept(r) => {
            let from = if i == 0 { 0 } else { r.ends[i - 1] as usize };
            out.push_str(&r.text[from..r.ends[i] as usize]);
        }
        Lines::Fresh { view, head, tail } => {
            emit(view, &mut |values: &[&str], value: f64| {
                push_sample(out, def.name, head, def.labels, values, tail, value);
            });
        }
    }
}

/// Each target's lines for a scrape at `now` (see [`lines_of`]), decided once per scrape: a
/// scrape rendered in parts shares them.
pub(super) fn prepare(snaps: &[Snapshot], now: Duration, keep: bool) -> Vec<Lines<'_>> {
    snaps.iter().map(|s| lines_of(s, now, keep)).collect()
}

/// Appends family `i` of the table (its header and every series; nothing for a family without
/// series, as `families` leaves it out), calling `flush` whenever `out` holds `chunk` bytes or
/// more at the end of a target's lines; returns false when `flush` did.
pub(super) fn render_family(
    i: usize,
    lines: &[Lines],
    globals: &Globals,
    out: &mut String,
    chunk: usize,
    flush: &mut dyn FnMut(&mut String) -> bool,
) -> bool {
    let def = &TABLE[i];
    let start = out.len();
    push_header(out, def);
    let header = out.len();
    // Once part of a family has been handed on, it has series and cannot be taken back.
    let mut handed = false;
    match def.emit {
        Emit::PerTarget(emit) => {
            for l in lines {
                push_target_series(i, def, emit, l, out);
                if out.len() >= chunk && (handed || out.len() > header) {
                    if !flush(out) {
                        return false;
                    }
                    handed = true;
                }
            }
        }
        Emit::Global(emit) => emit(globals, &mut |values: &[&str], value: f64| {
            push_sample(out, def.name, "", def.labels, values, "", value);
        }),
        Emit::PerGroup(emit) => push_groups(out, def, globals, emit),
    }
    if !handed && out.len() == header {
        out.truncate(start);
    }
    out.len() < chunk || flush(out)
}

#[cfg(test)]
pub(super) mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use prometheus::{Encoder, TextEncoder};

    use super::*;
    use crate::core::derive::History;
    use crate::core::error_kind::ErrorKind;
    use crate::metrics::families;
    use crate::state::{Outcome, Shared, TargetMeta};

    const INFO: &str = include_str!("../../tests/fixtures/info/redis-7.0-evicting.txt");

    fn encoded(shared: &Shared, now: Duration) -> String {
        let families = families(&shared.snapshots(), &shared.globals(), now);
        let mut buf = Vec::new();
        TextEncoder::new().encode(&families, &mut buf).unwrap();
        String::from_utf8(buf).unwrap()
    }

    fn rendered(shared: &Shared, now: Duration) -> String {
        let mut out = String::new();
        render_text(&shared.snapshots(), &shared.globals(), now, &mut out);
        out
    }

    /// What a streamed /metrics body adds up to, with pieces of about `chunk` bytes (each
    /// piece checked to end at a line's end).
    fn chunked(shared: &Shared, now: Duration, chunk: usize) -> String {
        let mut out = String::new();
        let mut done = false;
        render_chunks(
            &shared.snapshots(),
            &shared.globals(),
            now,
            chunk,
            &mut |piece, last| {
                assert!(
                    piece.ends_with('\n'),
                    "a piece cut inside a line: {piece:?}"
                );
                assert!(!done, "a piece after the last");
                done = last;
                out.push_str(&piece);
                true
            },
        );
        assert!(done, "no piece flagged last");
        out
    }

    pub(in crate::metrics) fn add(shared: &Shared, name: &str, labels: &[(&str, &str)]) {
        shared.add(TargetMeta {
            name: name.into(),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
            cache: true,
            stale_after: Duration::from_secs(45),
        });
    }

    #[test]
    fn values_print_as_display_does() {
        for v in [
            0.0,
            -0.0,
            1.0,
            -1.0,
            0.9,
            1e-7,
            123_456_789.0,
            -42.0,
            1e15,
            9_007_199_254_740_991.0,
            9_007_199_254_740_992.0,
            1e20,
            f64::MAX,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            1_700_000_000.25,
            // 2 067 776 186 925 270.25 exactly, halfway between ….2 and ….3 at 17 digits:
            // `Display` writes ….3.
            f64::from_bits(0x431d_6286_a463_0359),
            -f64::from_bits(0x431d_6286_a463_0359),
            5e-324,
        ] {
            let mut out = String::new();
            push_value(&mut out, v);
            assert_eq!(out, format!("{v}"), "{v:?}");
        }
    }

    /// `zmij`'s digits laid out by `push_plain_decimal` against `Display`, over random bit
    /// patterns (every exponent, subnormals) and the kinds of values /metrics carries: ratios,
    /// rates, seconds with fractions, near powers of ten.
    #[test]
    fn values_print_as_display_does_over_many_values() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            // xorshift64*: deterministic, so a failure repeats.
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            x.wrapping_mul(0x2545_F491_4F6C_DD1D)
        };
        let mut out = String::new();
        for k in 0..300_000u64 {
            let r = next();
            let v = match k % 4 {
                0 => f64::from_bits(r),
                1 => (r % 1_000_003) as f64 / (1 + r % 997) as f64,
                2 => (r % 10_000_000_000) as f64 / 1000.0 - 5e6,
                _ => 10f64.powi((r % 40) as i32 - 20) * (1.0 + (r % 7) as f64 / 8.0),
            };
            out.clear();
            push_value(&mut out, v);
            assert_eq!(out, format!("{v}"), "{v:?} ({:#x})", v.to_bits());
        }
    }

    pub(in crate::metrics) fn uncached(shared: &Shared, now: Duration) -> String {
        let mut out = String::new();
        render_text_uncached(&shared.snapshots(), &shared.globals(), now, &mut out);
        out
    }

    /// One successful poll of `name` at `t` (seconds), its counters grown by `i`.
    pub(in crate::metrics) fn poll(shared: &Shared, h: &mut History, name: &str, t: u64, i: u64) {
        let mut s = crate::core::info::parse(INFO).unwrap();
        s.keyspace_hits = s.keyspace_hits.map(|v| v + 9 * i);
        s.keyspace_misses = s.keyspace_misses.map(|v| v + i);
        let t = Duration::from_secs(t);
        let d = h.observe(t, &s);
        shared.record(
            name,
            Outcome::Success {
                sample: Arc::new(s),
                derived: Arc::new(d),
            },
            Duration::from_micros(1234),
            t,
            1.7e9 + t.as_secs_f64(),
        );
    }

    #[test]
    fn a_streamed_rendering_comes_in_pieces_and_stops_when_the_client_goes_away() {
        let shared = Shared::new();
        let mut hs = Vec::new();
        for name in ["a", "b", "c"] {
            add(&shared, name, &[]);
            let mut h = History::new(Duration::from_secs(7));
            poll(&shared, &mut h, name, 60, 0);
            hs.push(h);
        }
        let now = Duration::from_secs(61);
        let whole = rendered(&shared, now);
        let (mut sizes, mut lasts) = (Vec::new(), Vec::new());
        render_chunks(
            &shared.snapshots(),
            &shared.globals(),
            now,
            1000,
            &mut |piece, last| {
                sizes.push(piece.len());
                lasts.push(last);
                true
            },
        );
        assert_eq!(lasts.iter().filter(|l| **l).count(), 1);
        assert_eq!(lasts.last(), Some(&true));
        assert_eq!(sizes.iter().sum::<usize>(), whole.len());
        assert!(sizes.len() > 5, "{sizes:?}");
        let (last, full) = sizes.split_last().unwrap();
        assert!(*last > 0);
        assert!(full.iter().all(|s| (1000..3000).contains(s)), "{sizes:?}");
        let mut pieces = 0;
        render_chunks(
            &shared.snapshots(),
            &shared.globals(),
            now,
            1000,
            &mut |_, _| {
                pieces += 1;
                false
            },
        );
        assert_eq!(
            pieces, 1,
            "rendering went on after the sink refused a piece"
        );
        // What fits in one piece comes whole, flagged last.
        let mut whole_pieces = Vec::new();
        render_chunks(
            &shared.snapshots(),
            &shared.globals(),
            now,
            1 << 20,
            &mut |piece, last| {
                whole_pieces.push((piece, last));
                true
            },
        );
        assert_eq!(whole_pieces, [(whole, true)]);
    }

    #[test]
    fn cached_rendering_follows_changing_snapshots() {
        let shared = Shared::new();
        shared.set_reload(true, 1_700_000_000.25);
        add(&shared, "a", &[("team", "x\"y")]);
        add(&shared, "b", &[]);
        let (mut ha, mut hb) = (
            History::new(Duration::from_secs(7)),
            History::new(Duration::from_secs(7)),
        );
        poll(&shared, &mut ha, "a", 60, 0);
        poll(&shared, &mut hb, "b", 70, 0);
        let check = |now: u64, what: &str| {
            let now = Duration::from_secs(now);
            let cached = rendered(&shared, now);
            assert_eq!(cached, uncached(&shared, now), "{what}");
            // A second scrape of unchanged snapshots keeps their lines, a third copies them.
            assert_eq!(rendered(&shared, now), cached, "{what}, again");
            assert_eq!(rendered(&shared, now), cached, "{what}, from the cache");
            assert_eq!(cached, encoded(&shared, now), "{what}, text encoder");
            assert_eq!(chunked(&shared, now, 100), cached, "{what}, in pieces");
            cached
        };
        let kept = |i: usize| shared.snapshots()[i].rendered.lines[1].get().is_some();
        // One scrape per snapshot keeps nothing.
        rendered(&shared, Duration::from_secs(75));
        assert!(!kept(0) && !kept(1), "kept after one scrape");
        let first = check(75, "both fresh");
        assert!(
            kept(0) && kept(1),
            "fresh forms kept from the second scrape"
        );
        // A poll of one target replaces its lines only.
        poll(&shared, &mut ha, "a", 75, 1);
        assert!(!kept(0));
        assert!(kept(1));
        let second = check(76, "after a poll of a");
        assert_ne!(first, second);
        // A failed poll: up=0, the error counted, values still fresh.
        shared.record(
            "b",
            Outcome::Failure(ErrorKind::Timeout),
            Duration::from_millis(500),
            Duration::from_secs(85),
            1.7e9 + 85.0,
        );
        let third = check(86, "after b failed");
        assert!(third.contains("redis_up{target=\"b\"} 0\n"));
        assert!(third.contains("redis_uptime_in_seconds{target=\"b\"}"));
        // b goes stale between scrapes without a new poll (last success at 70 s, stale after
        // 45 s): its values disappear, a stays.
        let stale = check(116, "b stale");
        assert!(!stale.contains("redis_uptime_in_seconds{target=\"b\"}"));
        assert!(stale.contains("redis_uptime_in_seconds{target=\"a\",team=\"x\\\"y\"}"));
        // And both forms stay consistent when scrapes go back and forth.
        assert_eq!(check(86, "b fresh again at an earlier now"), third);
        check(200, "both stale");
        poll(&shared, &mut hb, "b", 201, 1);
        check(202, "b polled again");
    }

    #[test]
    fn render_text_is_byte_for_byte_what_the_text_encoder_makes() {
        let shared = Shared::new();
        shared.set_reload(true, 1_700_000_000.25);
        let base = crate::core::info::parse(INFO).unwrap();
        // Label values that need escaping, in target names and static labels.
        add(
            &shared,
            "a \"quoted\" \\ name\nwith newline",
            &[("team", "x\"y")],
        );
        add(&shared, "plain", &[("env", "prod"), ("team", "b\\c")]);
        add(&shared, "stale", &[]);
        add(&shared, "down", &[]);
        for (name, at) in [
            ("a \"quoted\" \\ name\nwith newline", 100),
            ("plain", 100),
            ("stale", 40),
        ] {
            let mut h = History::new(Duration::from_secs(7));
            for i in 0..3u64 {
                let mut s = base.clone();
                s.keyspace_hits = s.keyspace_hits.map(|v| v + 9 * i);
                s.keyspace_misses = s.keyspace_misses.map(|v| v + i);
                let t = Duration::from_secs(at - 30 + 15 * i);
                let d = h.observe(t, &s);
                shared.record(
                    name,
                    Outcome::Success {
                        sample: Arc::new(s),
                        derived: Arc::new(d),
                    },
                    Duration::from_micros(1234),
                    t,
                    1.7e9 + t.as_secs_f64(),
                );
            }
        }
        shared.record(
            "down",
            Outcome::Failure(ErrorKind::Timeout),
            Duration::from_millis(500),
            Duration::from_secs(99),
            1.7e9,
        );
        shared.set_group(crate::state::GroupStatus {
            meta: Arc::new(TargetMeta {
                name: "cl\"x".into(),
                labels: [("team".to_string(), "q\\z".to_string())].into(),
                cache: true,
                stale_after: Duration::from_secs(45),
            }),
            kind: crate::state::GroupKind::Cluster,
            up: true,
            nodes: vec![crate::state::GroupNode {
                target: "cl\"x/127.0.0.1:7000".into(),
                addr: "127.0.0.1:7000".into(),
                node_id: "abc".into(),
                role: "master".into(),
                shard: "abc".into(),
            }],
            health: Some(crate::core::cluster::Health {
                state_ok: true,
                slots_assigned: 16384,
                ..Default::default()
            }),
        });
        let now = Duration::from_secs(101);
        let text = rendered(&shared, now);
        assert_eq!(text, encoded(&shared, now));
        assert_eq!(text, uncached(&shared, now));
        assert!(
            text.contains(
                "redis_cluster_node_info{target=\"cl\\\"x/127.0.0.1:7000\",cluster=\"cl\\\"x\",\
                 node_id=\"abc\",role=\"master\",shard=\"abc\",team=\"q\\\\z\"} 1\n"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "redis_cluster_slots_assigned{target=\"cl\\\"x\",team=\"q\\\\z\"} 16384\n"
            )
        );
        assert!(text.contains("target=\"a \\\"quoted\\\" \\\\ name\\nwith newline\""));
        assert!(text.contains("redis_exporter_build_info{version=\""));
        assert!(text.contains("\nredis_exporter_config_last_reload_successful 1\n"));
        // No targets at all: only the exporter-wide families.
        let empty = Shared::new();
        assert_eq!(rendered(&empty, now), encoded(&empty, now));
    }
}
