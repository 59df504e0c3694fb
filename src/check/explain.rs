//! `check --explain-misses URL`: why the instance misses, measured. Owns the explanation's
//! IO (the flags read and, with `--enable-notifications`, completed and then restored, even on
//! Ctrl-C; INFO at the start and the end; the keyspace events of `--duration` through the
//! exporter's own subscriber, `crate::client::subscriber`, classified by the pure
//! `crate::core::attribution`, the same events fed to a memory-sizing model,
//! `crate::core::ghost`) and its report: misses by cause with one action each, top prefixes,
//! the hit-ratio ceilings, the hit ratio predicted at larger memory sizes and a verdict, as
//! text and as JSON (docs/check.md).

use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

use super::{JSON_SCHEMA_VERSION, progress};
use crate::client::call::{config_pairs, one_line, reply_text};
use crate::client::subscriber::{Subscriber, notify_flags, set_notify_flags};
use crate::client::{Conn, Connector, Endpoint};
use crate::config::miss_attribution::DEFAULT_REMEMBERED_KEYS;
use crate::config::sampler::SamplerConfig;
use crate::core::attribution::{
    Attribution, Cause, Event, NEEDED_FLAGS, Without, ceilings, missing_flags, with_flags,
};
use crate::core::derive::SizingWindow;
use crate::core::ghost::curve::{MEMORY_MULTIPLES, TARGET_RATIOS};
use crate::core::ghost::predict::{self, Unpredicted, goal_in_words, mib};
use crate::core::ghost::{Ghost, Settings as GhostSettings};
use crate::core::info::Sample;
use crate::core::verdict::{Finding, Input, Period, Verdict, evaluate, finding, percent, worst};

/// The `notify-keyspace-events` value before the check, what it added, and whether the
/// previous value is back.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Flags {
    pub(crate) before: String,
    pub(crate) added: String,
    pub(crate) restored: bool,
}

/// What the events of one period measured.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Measured {
    /// Keyspace hits and misses of the period (INFO).
    pub(crate) hits: u64,
    pub(crate) misses: u64,
    /// Misses classified, in [`Cause::ALL`] order.
    pub(crate) attributed: [u64; 4],
    /// The top prefixes and `(other)`, misses per cause in [`Cause::ALL`] order.
    pub(crate) prefixes: Vec<(String, [u64; 4])>,
    /// The hit ratio at larger memory sizes, from the same events.
    pub(crate) sizing: MemorySizing,
}

/// Memory sizing over the period: the server's limit and policy, the model's reach, and the
/// predicted curve or why there is none.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct MemorySizing {
    /// `maxmemory-policy` (INFO, or CONFIG where INFO lacks it).
    pub(crate) policy: Option<String>,
    /// `maxmemory` in bytes (INFO, or CONFIG where INFO lacks it).
    pub(crate) maxmemory: Option<u64>,
    /// Keys evicted in the period (INFO).
    pub(crate) evictions: u64,
    /// Evicted keys the ghost list stands for at the end, and the fraction it tracks.
    pub(crate) span_keys: f64,
    pub(crate) sampling_ratio: f64,
    pub(crate) outcome: Result<SizingWindow, Unpredicted>,
}

impl MemorySizing {
    /// The "about N MiB for 90 %" sentence, when there is a curve.
    fn summary(&self) -> Option<String> {
        self.outcome.as_ref().ok().map(|w| goal_in_words(w, 0))
    }
}

impl Measured {
    /// INFO's hit ratio over the period; `None` without lookups.
    fn hit_ratio(&self) -> Option<f64> {
        let lookups = self.hits + self.misses;
        (lookups > 0).then(|| self.hits as f64 / lookups as f64)
    }

    fn total(&self) -> u64 {
        self.attributed.iter().sum()
    }

    /// Attributed misses over INFO's misses; `None` without misses.
    fn coverage(&self) -> Option<f64> {
        (self.misses > 0).then(|| self.total() as f64 / self.misses as f64)
    }

    fn share(&self, i: usize) -> Option<f64> {
        let total = self.total();
        (total > 0).then(|| self.attributed[i] as f64 / total as f64)
    }

    /// The cause of most misses (the first of equals in [`Cause::ALL`] order).
    fn dominant(&self) -> Option<(usize, Cause)> {
        let (i, n) = self
            .attributed
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(&a.0)))?;
        (*n > 0).then(|| (i, Cause::ALL[i]))
    }
}

/// The explanation of one instance's misses.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Explanation {
    pub(crate) target: String,
    pub(crate) duration: Duration,
    pub(crate) server: Option<String>,
    /// Ctrl-C ended the sampling early.
    pub(crate) interrupted: bool,
    pub(crate) flags: Option<Flags>,
    pub(crate) measured: Option<Measured>,
    pub(crate) findings: Vec<Finding>,
}

/// One sentence per cause: what removes its misses (the alert descriptions' wording).
pub(crate) fn action(cause: Cause) -> &'static str {
    match cause {
        Cause::Evicted => {
            "Keys evicted earlier: give the cache memory (maxmemory) or an LFU policy \
             (allkeys-lfu)."
        }
        Cause::Expired => {
            "Keys read after their TTL ran out: lengthen the TTLs of the prefixes read most, or \
             refresh hot keys before they expire."
        }
        Cause::Deleted => {
            "Keys the application deleted: invalidate less eagerly (update in place, delete only \
             what changed)."
        }
        Cause::Cold => {
            "Keys never cached before (or removed before the check began): no memory or TTL \
             setting removes these; look for unique or ever-new key names, or warm the cache."
        }
    }
}

/// The findings of a measured period: the hit ratio as `check` judges it, then one per cause
/// with misses (its share; the dominant cause carries the hit ratio's verdict, since removing
/// it is the one change that would lift the ratio most), then coverage.
pub(crate) fn judge(hit_ratio: &Finding, m: &Measured) -> Vec<Finding> {
    let ceilings = ceilings(m.hits, m.misses, m.attributed);
    let dominant = m.dominant();
    let mut out = vec![hit_ratio.clone()];
    for (i, cause) in Cause::ALL.into_iter().enumerate() {
        let n = m.attributed[i];
        if n == 0 {
            continue;
        }
        let share = m.share(i);
        let ceiling = Without::ALL
            .iter()
            .position(|w| w.cause() == cause)
            .and_then(|w| ceilings[w]);
        let mut summary = format!(
            "{:.1} % of the measured misses ({n})",
            share.unwrap_or(0.0) * 100.0
        );
        if let Some(c) = ceiling {
            let _ = write!(
                summary,
                "; without them the hit ratio would reach {:.1} %",
                c * 100.0
            );
        }
        let verdict = if dominant.map(|d| d.0) == Some(i) {
            hit_ratio.verdict
        } else {
            Verdict::Ok
        };
        let mut f = finding("miss_cause", verdict, share, summary, action(cause));
        f.subject = Some(cause.label().to_string());
        out.push(f);
    }
    if let Some(c) = m.coverage() {
        let (verdict, advice) = if c >= 0.9 {
            (Verdict::Ok, "Nearly every miss was classified.")
        } else {
            (
                Verdict::Warn,
                "Some misses were not classified (events lost: a slow link or the pubsub output \
                 buffer limit); the shares above are of the classified ones.",
            )
        };
        out.push(finding(
            "coverage",
            verdict,
            Some(c),
            format!("{} of {} misses classified", m.total(), m.misses),
            advice,
        ));
    }
    out
}

impl Explanation {
    pub(crate) fn verdict(&self) -> Verdict {
        worst(&self.findings)
    }

    /// The report for humans: a header, misses by cause with their actions, ceilings, top
    /// prefixes, then the findings.
    pub(crate) fn text(&self) -> String {
        let mut s = super::header(
            &self.target,
            self.verdict(),
            self.duration,
            self.server.as_deref(),
        );
        s.push_str(if self.interrupted {
            " (interrupted)\n"
        } else {
            "\n"
        });
        if let Some(f) = &self.flags {
            if !f.added.is_empty() {
                let _ = writeln!(
                    s,
                    "notify-keyspace-events: {:?} + {:?} during the check, {}",
                    f.before,
                    f.added,
                    if f.restored {
                        "restored afterwards"
                    } else {
                        "NOT restored"
                    }
                );
            }
        }
        if let Some(m) = &self.measured {
            let _ = writeln!(
                s,
                "{} hits, {} misses; {} misses classified",
                m.hits,
                m.misses,
                m.total()
            );
            let _ = writeln!(s, "Misses by cause:");
            for (i, cause) in Cause::ALL.into_iter().enumerate() {
                let line = format!(
                    "  {:<8} {:>10} {:>7}  {}",
                    cause.label(),
                    m.attributed[i],
                    m.share(i)
                        .map_or_else(|| "–".into(), |r| format!("{:.1} %", r * 100.0)),
                    if m.attributed[i] > 0 {
                        action(cause)
                    } else {
                        ""
                    }
                );
                let _ = writeln!(s, "{}", line.trim_end());
            }
            let _ = writeln!(s, "Hit-ratio ceilings:");
            let c = ceilings(m.hits, m.misses, m.attributed);
            for (w, v) in Without::ALL.iter().zip(c) {
                let _ = writeln!(
                    s,
                    "  without {:<12} {}",
                    w.label(),
                    v.map_or_else(|| "–".into(), |r| format!("{:.1} %", r * 100.0))
                );
            }
            let _ = writeln!(s, "Top prefixes by misses:");
            for (prefix, counts) in &m.prefixes {
                let total: u64 = counts.iter().sum();
                let _ = writeln!(
                    s,
                    "  {:<24} {:>10}  mostly {}",
                    prefix,
                    total,
                    dominant_of(counts).label()
                );
            }
            sizing_text(&mut s, m);
        }
        super::write_findings(&mut s, &self.findings);
        s
    }

    /// The report as one JSON object (schema in docs/check.md, "Explaining misses").
    pub(crate) fn json(&self) -> String {
        let verdict = self.verdict();
        let m = self.measured.as_ref();
        let report = JsonExplanation {
            schema: JSON_SCHEMA_VERSION,
            mode: "explain_misses",
            target: &self.target,
            duration_seconds: self.duration.as_secs_f64(),
            server: self.server.as_deref(),
            verdict: verdict.label(),
            exit_code: verdict.exit_code(),
            interrupted: self.interrupted,
            notifications: self.flags.as_ref().map(|f| JsonFlags {
                before: &f.before,
                added: &f.added,
                restored: f.restored,
            }),
            hits: m.map(|m| m.hits),
            misses: m.map(|m| m.misses),
            coverage: m.and_then(Measured::coverage),
            misses_by_cause: m
                .map(|m| {
                    Cause::ALL
                        .into_iter()
                        .enumerate()
                        .map(|(i, c)| JsonCause {
                            cause: c.label(),
                            misses: m.attributed[i],
                            share: m.share(i),
                            action: action(c),
                        })
                        .collect()
                })
                .unwrap_or_default(),
            ceilings: m
                .map(|m| {
                    let c = ceilings(m.hits, m.misses, m.attributed);
                    Without::ALL
                        .iter()
                        .zip(c)
                        .map(|(w, v)| JsonCeiling {
                            without: w.label(),
                            hit_ratio: v,
                        })
                        .collect()
                })
                .unwrap_or_default(),
            top_prefixes: m
                .map(|m| {
                    m.prefixes
                        .iter()
                        .map(|(p, counts)| JsonPrefix {
                            prefix: p,
                            misses: counts.iter().sum(),
                            cause: dominant_of(counts).label(),
                            expired: counts[0],
                            evicted: counts[1],
                            deleted: counts[2],
                            cold: counts[3],
                        })
                        .collect()
                })
                .unwrap_or_default(),
            sizing: m.map(sizing_json),
            findings: super::json_findings(&self.findings),
        };
        let mut text = serde_json::to_string(&report).unwrap_or_default();
        text.push('\n');
        text
    }
}

/// The "Memory sizing" section: the limit and policy, the hit ratio now, the predicted ratio
/// at 1.5×, 2× and 4× maxmemory and the memory for 90 %, or why nothing is predicted.
fn sizing_text(s: &mut String, m: &Measured) {
    let z = &m.sizing;
    let maxmemory = match z.maxmemory {
        Some(0) => "maxmemory 0 (no limit)".to_string(),
        Some(b) => format!("maxmemory {} MiB", mib(b as f64)),
        None => "maxmemory unknown".to_string(),
    };
    let _ = writeln!(
        s,
        "Memory sizing ({}, {maxmemory}; {} keys evicted):",
        z.policy.as_deref().unwrap_or("policy unknown"),
        z.evictions
    );
    let now = m.hit_ratio().map_or_else(|| "–".into(), percent);
    let _ = writeln!(s, "  {:<22} {now:>7}", "hit ratio now");
    match &z.outcome {
        Ok(w) => {
            for (p, (multiple, label)) in w.predicted.iter().zip(MEMORY_MULTIPLES) {
                let at = format!("at {label} ({} MiB)", mib(multiple * w.maxmemory));
                let value = p.map_or_else(|| "not covered by the ghost list".into(), percent);
                let _ = writeln!(s, "  {at:<22} {value:>7}");
            }
            let _ = writeln!(s, "  {}", goal_in_words(w, 0));
        }
        Err(why) => {
            let _ = writeln!(s, "  {}", why.in_words());
        }
    }
}

/// The `sizing` object: every value the text shows, absent ones as null.
fn sizing_json(m: &Measured) -> JsonSizing<'_> {
    let z = &m.sizing;
    let w = z.outcome.as_ref().ok();
    JsonSizing {
        policy: z.policy.as_deref(),
        maxmemory_bytes: z.maxmemory,
        evictions: z.evictions,
        hit_ratio: w.map(|w| w.current).or_else(|| m.hit_ratio()),
        ceiling: w.map(|w| w.ceiling),
        unfixable_share: w.map(|w| w.unfixable_share),
        predicted: MEMORY_MULTIPLES
            .iter()
            .enumerate()
            .map(|(i, (multiple, label))| JsonPoint {
                memory: label,
                maxmemory_bytes: z
                    .maxmemory
                    .filter(|b| *b > 0)
                    .map(|b| (multiple * b as f64) as u64),
                hit_ratio: w.and_then(|w| w.predicted[i]),
            })
            .collect(),
        memory_needed: TARGET_RATIOS
            .iter()
            .enumerate()
            .map(|(i, (ratio, _))| JsonNeeded {
                hit_ratio: *ratio,
                bytes: w.and_then(|w| w.needed[i]).map(|b| b.round() as u64),
            })
            .collect(),
        summary: z.summary(),
        not_predicted: z.outcome.as_ref().err().map(|why| JsonUnpredicted {
            code: why.code(),
            reason: why.in_words(),
        }),
        span_keys: z.span_keys,
        sampling_ratio: z.sampling_ratio,
    }
}

/// The cause of most of a prefix's misses.
fn dominant_of(counts: &[u64; 4]) -> Cause {
    let i = (0..4).max_by_key(|&i| (counts[i], 4 - i)).unwrap_or(3);
    Cause::ALL[i]
}

#[derive(Serialize)]
struct JsonExplanation<'a> {
    schema: u32,
    mode: &'static str,
    target: &'a str,
    duration_seconds: f64,
    server: Option<&'a str>,
    verdict: &'static str,
    exit_code: u8,
    interrupted: bool,
    notifications: Option<JsonFlags<'a>>,
    hits: Option<u64>,
    misses: Option<u64>,
    coverage: Option<f64>,
    misses_by_cause: Vec<JsonCause>,
    ceilings: Vec<JsonCeiling>,
    top_prefixes: Vec<JsonPrefix<'a>>,
    sizing: Option<JsonSizing<'a>>,
    findings: Vec<super::JsonFinding<'a>>,
}

#[derive(Serialize)]
struct JsonSizing<'a> {
    policy: Option<&'a str>,
    maxmemory_bytes: Option<u64>,
    evictions: u64,
    hit_ratio: Option<f64>,
    ceiling: Option<f64>,
    unfixable_share: Option<f64>,
    predicted: Vec<JsonPoint>,
    memory_needed: Vec<JsonNeeded>,
    summary: Option<String>,
    not_predicted: Option<JsonUnpredicted>,
    span_keys: f64,
    sampling_ratio: f64,
}

#[derive(Serialize)]
struct JsonPoint {
    memory: &'static str,
    maxmemory_bytes: Option<u64>,
    hit_ratio: Option<f64>,
}

#[derive(Serialize)]
struct JsonNeeded {
    hit_ratio: f64,
    bytes: Option<u64>,
}

#[derive(Serialize)]
struct JsonUnpredicted {
    code: &'static str,
    reason: String,
}

#[derive(Serialize)]
struct JsonFlags<'a> {
    before: &'a str,
    added: &'a str,
    restored: bool,
}

#[derive(Serialize)]
struct JsonCause {
    cause: &'static str,
    misses: u64,
    share: Option<f64>,
    action: &'static str,
}

#[derive(Serialize)]
struct JsonCeiling {
    without: &'static str,
    hit_ratio: Option<f64>,
}

#[derive(Serialize)]
struct JsonPrefix<'a> {
    prefix: &'a str,
    misses: u64,
    cause: &'static str,
    expired: u64,
    evicted: u64,
    deleted: u64,
    cold: u64,
}

/// An explanation that could not be made: one finding with verdict unknown.
fn failed(
    target: String,
    duration: Duration,
    flags: Option<Flags>,
    check: &'static str,
    summary: String,
    advice: String,
) -> Explanation {
    Explanation {
        target,
        duration,
        server: None,
        interrupted: false,
        flags,
        measured: None,
        findings: vec![finding(check, Verdict::Unknown, None, summary, advice)],
    }
}

/// `INFO all` (accepted by every version) parsed into a sample.
async fn info(conn: &mut Conn, timeout: Duration) -> Result<Sample, String> {
    let v = tokio::time::timeout(timeout, conn.call(&[b"INFO", b"all"]))
        .await
        .map_err(|_| "INFO timed out".to_string())?
        .map_err(|e| format!("INFO failed: {}", one_line(&e.to_string())))?;
    let text = reply_text(v).map_err(|e| format!("INFO: {}", e.message))?;
    crate::core::info::parse(&text).map_err(|e| format!("INFO: {e}"))
}

async fn connect(connector: &Connector, timeout: Duration) -> Result<Conn, String> {
    match tokio::time::timeout(timeout, connector.connect()).await {
        Err(_) => Err("cannot connect: timed out".into()),
        Ok(Err(e)) => Err(format!("cannot connect: {}", one_line(&e.to_string()))),
        Ok(Ok(c)) => Ok(c),
    }
}

/// Explains the misses of `args.url` over `args.duration`.
pub(super) async fn run(args: &super::CheckArgs) -> Explanation {
    let d = args.duration;
    let unreachable = "The instance could not be checked: verify the URL, that the server is up \
                       and reachable, and the credentials."
        .to_string();
    let (connection, target) = match crate::config::target_connection(&args.url) {
        Ok(c) => c,
        Err(e) => {
            let t = crate::config::redact_url(&args.url);
            return failed(
                t,
                d,
                None,
                "connection",
                format!("invalid URL: {e}"),
                unreachable,
            );
        }
    };
    // The same connector as the plain check's (and the exporter's): TLS flags honoured.
    let connector = Connector::new(Endpoint::new(&connection, Some(&args.tls()), args.timeout));
    if let Some(e) = connector.problem() {
        return failed(target, d, None, "connection", e.to_string(), unreachable);
    }
    let mut control = match connect(&connector, args.timeout).await {
        Ok(c) => c,
        Err(e) => return failed(target, d, None, "connection", e, unreachable),
    };
    // Ctrl-C is caught from here on, before the server is changed, so it always restores.
    let mut interrupt = match Interrupt::new() {
        Ok(i) => i,
        Err(e) => {
            return failed(
                target,
                d,
                None,
                "connection",
                format!("cannot watch for Ctrl-C: {e}"),
                "The check would not be able to restore notify-keyspace-events when interrupted."
                    .into(),
            );
        }
    };
    let flags = match flags_for_check(&mut control, args, &target, &unreachable).await {
        Ok(f) => f,
        Err(e) => return e,
    };
    let mut flags = flags;
    let before = flags.before.clone();
    let outcome = sample(&connector, &mut control, args, &mut interrupt).await;
    if !flags.added.is_empty() {
        flags.restored = match restore(&mut control, &before, args.timeout).await {
            Ok(()) => true,
            Err(()) => {
                // The control connection may be what failed: a fresh one tries once more.
                match connect(&connector, args.timeout).await {
                    Ok(mut c) => restore(&mut c, &before, args.timeout).await.is_ok(),
                    Err(_) => false,
                }
            }
        };
    }
    let mut e = match outcome {
        Ok(s) => explained(target, s, Some(flags.clone()), d),
        Err(msg) => failed(
            target,
            d,
            Some(flags.clone()),
            "connection",
            msg,
            unreachable,
        ),
    };
    if !flags.restored {
        e.findings.push(finding(
            "notifications",
            Verdict::Critical,
            None,
            format!(
                "notify-keyspace-events could not be restored to {:?}",
                flags.before
            ),
            format!(
                "Restore it by hand: CONFIG SET notify-keyspace-events {:?}.",
                flags.before
            ),
        ));
    }
    e
}

/// Reads `notify-keyspace-events` and, when flags are missing and `--enable-notifications` was
/// given, adds them (the returned flags say what to restore); otherwise the explanation of why
/// the check cannot go on.
async fn flags_for_check(
    control: &mut Conn,
    args: &super::CheckArgs,
    target: &str,
    unreachable: &str,
) -> Result<Flags, Explanation> {
    let d = args.duration;
    let unreachable = unreachable.to_string();
    let before = match tokio::time::timeout(args.timeout, notify_flags(control, "CONFIG")).await {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => {
            return Err(failed(
                target.to_string(),
                d,
                None,
                "notifications",
                format!(
                    "CONFIG GET notify-keyspace-events failed: {}",
                    one_line(&e.to_string())
                ),
                format!(
                    "Misses are explained from keyspace events, which need the flags \
                     {NEEDED_FLAGS} of notify-keyspace-events; allow CONFIG GET for this user, or \
                     check the flags on the server."
                ),
            ));
        }
        Err(_) => {
            return Err(failed(
                target.to_string(),
                d,
                None,
                "connection",
                "CONFIG GET timed out".into(),
                unreachable.clone(),
            ));
        }
    };
    let missing = missing_flags(&before);
    let mut flags = Flags {
        before: before.clone(),
        added: String::new(),
        restored: true,
    };
    if !missing.is_empty() {
        if !args.enable_notifications {
            return Err(failed(
                target.to_string(),
                d,
                Some(flags),
                "notifications",
                format!(
                    "notify-keyspace-events is {before:?}: the flags {missing:?} are missing (of \
                     {NEEDED_FLAGS:?}: E keyevent channels, g del, x expired, e evicted, m keymiss)"
                ),
                format!(
                    "Run again with --enable-notifications (adds them for the check, then restores \
                     {before:?}), or set them yourself: CONFIG SET notify-keyspace-events {:?}.",
                    with_flags(&before, &missing)
                ),
            ));
        }
        let value = with_flags(&before, &missing);
        match tokio::time::timeout(args.timeout, set_notify_flags(control, "CONFIG", &value)).await
        {
            Ok(Ok(())) => {
                flags.added = missing.clone();
                flags.restored = false;
            }
            Ok(Err(e)) => {
                return Err(failed(
                    target.to_string(),
                    d,
                    Some(flags),
                    "notifications",
                    format!(
                        "CONFIG SET notify-keyspace-events {value:?} failed: {}",
                        one_line(&e.to_string())
                    ),
                    format!(
                        "The flags {missing:?} are missing and could not be added; allow CONFIG \
                         SET for this user, or set them yourself."
                    ),
                ));
            }
            Err(_) => {
                // Whether it was applied is unknown: put the previous value back all the same.
                let _ = restore(control, &before, args.timeout).await;
                return Err(failed(
                    target.to_string(),
                    d,
                    Some(flags),
                    "connection",
                    "CONFIG SET timed out".into(),
                    unreachable.clone(),
                ));
            }
        }
    }
    Ok(flags)
}

async fn restore(conn: &mut Conn, value: &str, timeout: Duration) -> Result<(), ()> {
    match tokio::time::timeout(timeout, set_notify_flags(conn, "CONFIG", value)).await {
        Ok(Ok(())) => Ok(()),
        _ => Err(()),
    }
}

/// SIGINT (Ctrl-C), watched from creation on.
struct Interrupt {
    #[cfg(unix)]
    signal: tokio::signal::unix::Signal,
}

impl Interrupt {
    fn new() -> std::io::Result<Interrupt> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Interrupt {
                signal: signal(SignalKind::interrupt())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Interrupt {})
    }

    async fn recv(&mut self) {
        #[cfg(unix)]
        {
            self.signal.recv().await;
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// What the sampling saw.
struct Sampled {
    start: Sample,
    /// The last INFO, maxmemory and the policy completed from CONFIG where it lacks them.
    end: Sample,
    elapsed: Duration,
    interrupted: bool,
    attributed: [u64; 4],
    prefixes: Vec<(String, [u64; 4])>,
    /// The memory-sizing model fed every event, and the time of the last one.
    ghost: Ghost,
    at: Duration,
}

/// One event to miss attribution, and as it classified it to the memory-sizing model (the
/// exporter's attribution task feeds both alike).
fn classify(a: &mut Attribution, ghost: &mut Ghost, event: Event, key: &[u8], at: Duration) {
    let c = a.on_event(event, key, at);
    ghost.on_classified(&c, at);
}

/// Fills maxmemory and the policy from `CONFIG GET` where INFO did not report them, as the
/// poller does. A refused, renamed or slow CONFIG leaves them unknown: sizing then says so.
async fn complete_memory(conn: &mut Conn, sample: &mut Sample, timeout: Duration) {
    // One pattern per call: a server whose INFO lacks these is old enough to take one only.
    for (name, missing) in [
        ("maxmemory", sample.maxmemory.is_none()),
        ("maxmemory-policy", sample.maxmemory_policy.is_none()),
    ] {
        if !missing {
            continue;
        }
        let args: [&[u8]; 3] = [b"CONFIG", b"GET", name.as_bytes()];
        let Ok(Ok(v)) = tokio::time::timeout(timeout, conn.call(&args)).await else {
            continue;
        };
        sample.merge_config(&config_pairs(v));
    }
}

/// Subscribes, reads INFO, classifies every event until `--duration` has passed (or Ctrl-C),
/// reads INFO again.
async fn sample(
    connector: &Connector,
    control: &mut Conn,
    args: &super::CheckArgs,
    interrupt: &mut Interrupt,
) -> Result<Sampled, String> {
    let p = SamplerConfig::default();
    let mut attribution = Attribution::new(
        DEFAULT_REMEMBERED_KEYS,
        &p.separator,
        p.depth,
        &p.patterns,
        p.top_k,
    );
    let mut ghost = Ghost::new(GhostSettings::default());
    let conn = connect(connector, args.timeout).await?;
    let mut sub = Subscriber::subscribe(conn, connector.db(), args.timeout)
        .await
        .map_err(|e| format!("SUBSCRIBE failed: {}", one_line(&e.to_string())))?;
    // Subscribed before the first INFO, so every miss INFO counts can have its event.
    let start = info(control, args.timeout).await?;
    let started = Instant::now();
    let deadline = started + args.duration;
    let origin = started;
    let read = async {
        loop {
            let step = (Instant::now() + Duration::from_secs(1)).min(deadline);
            let more = tokio::select! {
                r = sub.wait(step) => r.map_err(|e| {
                    format!("subscriber connection lost: {}", one_line(&e.to_string()))
                })?,
                () = interrupt.recv() => return Ok(true),
            };
            if more {
                let now = Instant::now().duration_since(origin);
                while let Some((event, key)) = sub
                    .next_buffered()
                    .map_err(|e| format!("subscriber: {}", one_line(&e.to_string())))?
                {
                    classify(&mut attribution, &mut ghost, event, key, now);
                }
            }
            if Instant::now() >= deadline {
                return Ok::<bool, String>(false);
            }
            sub.keepalive(args.timeout)
                .await
                .map_err(|e| format!("subscriber: {}", one_line(&e.to_string())))?;
        }
    };
    let interrupted = progress::during("sampling keyspace events", args.duration, read).await?;
    let mut end = info(control, args.timeout).await?;
    let elapsed = started.elapsed();
    complete_memory(control, &mut end, args.timeout).await;
    // Events of the last lookups may still be on their way: read what arrived until now.
    let now = Instant::now().duration_since(origin);
    while let Ok(true) = sub.wait(Instant::now() + Duration::from_millis(100)).await {
        match sub.next_buffered() {
            Ok(Some((event, key))) => {
                classify(&mut attribution, &mut ghost, event, key, now);
            }
            _ => break,
        }
    }
    Ok(Sampled {
        start,
        end,
        elapsed,
        interrupted,
        attributed: attribution.counts().attributed,
        prefixes: attribution.prefix_series(),
        ghost,
        at: now,
    })
}

fn explained(target: String, mut s: Sampled, flags: Option<Flags>, asked: Duration) -> Explanation {
    let period = Period::between(&s.start, &s.end, s.elapsed.as_secs_f64());
    let (status, outcome) = s.ghost.period_sizing(
        s.at,
        &s.end,
        &predict::Period {
            covered: s.elapsed,
            hits: period.hits,
            misses: period.misses,
            evictions: period.evictions,
            attributed: s.attributed,
        },
    );
    let sizing = MemorySizing {
        policy: s.end.maxmemory_policy.clone(),
        maxmemory: s.end.maxmemory,
        evictions: period.evictions,
        span_keys: status.span_keys,
        sampling_ratio: status.sampling_ratio,
        outcome,
    };
    let findings = evaluate(&Input {
        sample: &s.end,
        period: Some(period),
        locks: &[],
    });
    let measured = Measured {
        hits: period.hits,
        misses: period.misses,
        attributed: s.attributed,
        prefixes: s.prefixes,
        sizing,
    };
    let hit_ratio = findings
        .into_iter()
        .find(|f| f.check == "hit_ratio")
        .unwrap_or_else(|| finding("hit_ratio", Verdict::Ok, None, "no lookups".into(), ""));
    let mut findings = judge(&hit_ratio, &measured);
    if s.interrupted {
        findings.push(finding(
            "interrupted",
            Verdict::Unknown,
            Some(s.elapsed.as_secs_f64()),
            format!(
                "Ctrl-C after {:.1} s of {:.1} s",
                s.elapsed.as_secs_f64(),
                asked.as_secs_f64()
            ),
            "The figures cover only the time sampled.",
        ));
    }
    Explanation {
        target,
        duration: s.elapsed,
        server: super::server_of(&s.end),
        interrupted: s.interrupted,
        flags,
        measured: Some(measured),
        findings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: f64 = (1u64 << 20) as f64;

    /// A curve of 4 MiB at 30 %: 45 % at 1.5x, 60 % at 2x, 4x beyond the ghost list, 90 %
    /// at 9.5 MiB, ceiling 95 %.
    fn curve() -> SizingWindow {
        SizingWindow {
            window: crate::core::derive::Window::M1,
            current: 0.3,
            ceiling: 0.95,
            unfixable_share: 0.05 / 0.7,
            maxmemory: 4.0 * MIB,
            predicted: [Some(0.45), Some(0.6), None],
            needed: [Some(9.5 * MIB), None, None],
        }
    }

    fn measured(hits: u64, misses: u64, attributed: [u64; 4]) -> Measured {
        Measured {
            hits,
            misses,
            attributed,
            prefixes: vec![("page:*".into(), [0, attributed[1], 0, 0])],
            sizing: MemorySizing {
                policy: Some("allkeys-lru".into()),
                maxmemory: Some(4 << 20),
                evictions: 500,
                span_keys: 500.0,
                sampling_ratio: 1.0,
                outcome: Ok(curve()),
            },
        }
    }

    /// A critical hit ratio whose misses are mostly evictions.
    fn evicting() -> (Measured, Finding) {
        let m = measured(300, 700, [100, 500, 0, 100]);
        let hr = finding(
            "hit_ratio",
            Verdict::Critical,
            Some(0.3),
            "30 %".into(),
            "x",
        );
        (m, hr)
    }

    #[test]
    fn the_dominant_cause_carries_the_verdict_and_its_ceiling() {
        let (m, hr) = evicting();
        let f = judge(&hr, &m);
        let evicted = f
            .iter()
            .find(|f| f.subject.as_deref() == Some("evicted"))
            .unwrap();
        assert_eq!(evicted.verdict, Verdict::Critical);
        assert!((evicted.value.unwrap() - 500.0 / 700.0).abs() < 1e-9);
        assert!(
            evicted.summary.contains("would reach 80.0 %"),
            "{}",
            evicted.summary
        );
        assert!(evicted.advice.contains("LFU"));
        let expired = f
            .iter()
            .find(|f| f.subject.as_deref() == Some("expired"))
            .unwrap();
        assert_eq!(expired.verdict, Verdict::Ok);
        assert!(!f.iter().any(|f| f.subject.as_deref() == Some("deleted")));
        assert_eq!(worst(&f), Verdict::Critical);
    }

    #[test]
    fn text_and_json_carry_causes_ceilings_and_prefixes() {
        let (m, hr) = evicting();
        let e = Explanation {
            target: "redis://h:1".into(),
            duration: Duration::from_secs(3),
            server: None,
            interrupted: false,
            flags: Some(Flags {
                before: String::new(),
                added: "Egxem".into(),
                restored: true,
            }),
            findings: judge(&hr, &m),
            measured: Some(m),
        };
        let t = e.text();
        assert!(t.contains("restored afterwards"), "{t}");
        assert!(t.contains("without evictions    80.0 %"), "{t}");
        assert!(t.contains("page:*") && t.contains("mostly evicted"), "{t}");
        let j: serde_json::Value = serde_json::from_str(&e.json()).unwrap();
        assert_eq!(j["exit_code"], 2);
        assert_eq!(j["misses_by_cause"][1]["cause"], "evicted");
        assert_eq!(j["misses_by_cause"][1]["misses"], 500);
        assert_eq!(j["ceilings"][0]["without"], "evictions");
        assert_eq!(j["ceilings"][0]["hit_ratio"], 0.8);
        assert_eq!(j["top_prefixes"][0]["cause"], "evicted");
        assert_eq!(j["notifications"]["restored"], true);
    }

    fn explanation(m: Measured) -> Explanation {
        Explanation {
            target: "redis://h:1".into(),
            duration: Duration::from_secs(3),
            server: None,
            interrupted: false,
            flags: None,
            findings: vec![],
            measured: Some(m),
        }
    }

    #[test]
    fn the_curve_is_printed_with_the_memory_for_90_percent() {
        let (m, _) = evicting();
        let e = explanation(m);
        let t = e.text();
        for line in [
            "Memory sizing (allkeys-lru, maxmemory 4.0 MiB; 500 keys evicted):",
            "  hit ratio now           30.0 %",
            "  at 1.5x (6.0 MiB)       45.0 %",
            "  at 2x (8.0 MiB)         60.0 %",
            "  at 4x (16 MiB)         not covered by the ghost list",
            "  about 9.5 MiB for 90 % (maxmemory now 4.0 MiB)",
        ] {
            assert!(t.contains(&format!("{line}\n")), "{line:?} in\n{t}");
        }
        let j: serde_json::Value = serde_json::from_str(&e.json()).unwrap();
        let z = &j["sizing"];
        assert_eq!(z["policy"], "allkeys-lru");
        assert_eq!(z["maxmemory_bytes"], 4 << 20);
        assert_eq!(z["hit_ratio"], 0.3);
        assert_eq!(z["predicted"][0]["memory"], "1.5x");
        assert_eq!(z["predicted"][0]["maxmemory_bytes"], 6 << 20);
        assert_eq!(z["predicted"][1]["hit_ratio"], 0.6);
        assert!(z["predicted"][2]["hit_ratio"].is_null(), "{z}");
        assert_eq!(z["memory_needed"][0]["hit_ratio"], 0.9);
        assert_eq!(z["memory_needed"][0]["bytes"], (9.5 * MIB) as u64);
        assert!(z["memory_needed"][1]["bytes"].is_null());
        assert_eq!(
            z["summary"],
            "about 9.5 MiB for 90 % (maxmemory now 4.0 MiB)"
        );
        assert!(z["not_predicted"].is_null());
    }

    #[test]
    fn without_a_curve_the_reason_is_given_and_nothing_invented() {
        let (mut m, _) = evicting();
        m.sizing.policy = Some("allkeys-random".into());
        m.sizing.outcome = Err(Unpredicted::Policy {
            policy: Some("allkeys-random".into()),
            why: "random eviction keeps no recency order",
        });
        let e = explanation(m);
        let t = e.text();
        assert!(
            t.contains(
                "  not predicted under allkeys-random: random eviction keeps no recency order\n"
            ),
            "{t}"
        );
        assert!(!t.contains("at 2x"), "{t}");
        let j: serde_json::Value = serde_json::from_str(&e.json()).unwrap();
        let z = &j["sizing"];
        assert_eq!(z["hit_ratio"], 0.3, "INFO's ratio is known all the same");
        assert_eq!(z["not_predicted"]["code"], "policy");
        assert!(z["ceiling"].is_null() && z["summary"].is_null(), "{z}");
        for i in 0..3 {
            assert!(z["predicted"][i]["hit_ratio"].is_null(), "{z}");
            assert!(z["memory_needed"][i]["bytes"].is_null(), "{z}");
        }
    }
}
