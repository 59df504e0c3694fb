//! The verdicts of `check` and of the status page: one function per finding (hit ratio,
//! evictions, expirations, memory, policy, fragmentation, TTL coverage, KEYS, lock keys), each a
//! verdict (ok, warn, critical) with one sentence of likely cause and action, from a [`Sample`]
//! (the gauges), an optional [`Period`] (counter increases over the check, or over a window of
//! the exporter's history) and optional [`LockScan`] results.
//!
//! Pure. Thresholds follow the project's guidance: a cache should hit more than 90 % of lookups.

use super::derive::{MissCause, WindowStats, miss_cause, ttl_coverage};
use super::info::Sample;

/// Hit ratio below this is a warning.
pub(crate) const HIT_RATIO_WARN: f64 = 0.9;
/// Hit ratio below this is critical.
pub(crate) const HIT_RATIO_CRITICAL: f64 = 0.8;
/// Fewer lookups than this in the period are too few to judge a hit ratio.
pub(crate) const MIN_LOOKUPS: u64 = 10;
/// Memory pressure at or above this with a policy that cannot evict is critical.
pub(crate) const PRESSURE_FULL: f64 = 0.9;
/// TTL coverage below this on a database is a warning.
pub(crate) const TTL_COVERAGE_WARN: f64 = 0.95;
/// Fragmentation (rss / used) above this is a warning …
pub(crate) const FRAGMENTATION_WARN: f64 = 1.5;
/// … but only once Redis uses this much memory (small heaps have meaningless ratios).
pub(crate) const FRAGMENTATION_MIN_USED: u64 = 100 * 1024 * 1024;
/// Evictions per lookup above this are critical (one key evicted for every ten lookups).
pub(crate) const EVICTIONS_PER_LOOKUP_CRITICAL: f64 = 0.1;

/// A finding's verdict. Ordered: the worst verdict decides the exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Verdict {
    Ok,
    Warn,
    Critical,
    /// The instance could not be checked (connection or INFO failed).
    Unknown,
}

impl Verdict {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Warn => "warn",
            Verdict::Critical => "critical",
            Verdict::Unknown => "unknown",
        }
    }

    /// The process exit status for this verdict (Nagios plugin convention).
    pub(crate) fn exit_code(self) -> u8 {
        match self {
            Verdict::Ok => 0,
            Verdict::Warn => 1,
            Verdict::Critical => 2,
            Verdict::Unknown => 3,
        }
    }
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Finding {
    /// Stable identifier: `connection`, `hit_ratio`, `evictions`, `expirations`, `memory`,
    /// `policy`, `fragmentation`, `ttl_coverage`, `keys_command`, `locks_without_ttl`.
    pub check: &'static str,
    /// What the finding is about when a check has several (a database such as `db0`, a pattern).
    pub subject: Option<String>,
    pub verdict: Verdict,
    /// The main number (a ratio 0–1, a rate per second, a count), when there is one.
    pub value: Option<f64>,
    /// The measurement in words, e.g. `42.0 % of 1200 lookups (40.0/s)`.
    pub summary: String,
    /// One sentence: the likely cause and what to do.
    pub advice: String,
}

/// Counter increases over a period (the check's duration, or a window of history).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct Period {
    pub seconds: f64,
    pub hits: u64,
    pub misses: u64,
    pub evictions: u64,
    pub expirations: u64,
    /// Calls of `KEYS` (INFO commandstats), when known.
    pub keys_calls: Option<u64>,
}

impl Period {
    /// Increases between two samples of the same server `seconds` apart. A counter that went
    /// down (restart, `CONFIG RESETSTAT`) is taken to have restarted from zero, as Prometheus's
    /// `rate()` does.
    pub(crate) fn between(start: &Sample, end: &Sample, seconds: f64) -> Period {
        let restarted = matches!((&start.run_id, &end.run_id), (Some(a), Some(b)) if a != b);
        let inc = |a: Option<u64>, b: Option<u64>| match (a, b) {
            (_, None) => 0,
            (Some(a), Some(b)) if b >= a && !restarted => b - a,
            (_, Some(b)) => b,
        };
        let keys = |s: &Sample| {
            s.commands
                .iter()
                .find(|c| c.name == "keys")
                .map_or(0, |c| c.calls)
        };
        Period {
            seconds,
            hits: inc(start.keyspace_hits, end.keyspace_hits),
            misses: inc(start.keyspace_misses, end.keyspace_misses),
            evictions: inc(start.evicted_keys, end.evicted_keys),
            expirations: inc(start.expired_keys, end.expired_keys),
            keys_calls: Some(inc(Some(keys(start)), Some(keys(end)))),
        }
    }

    /// The increases of one window of the exporter's history (KEYS calls are not tracked there).
    pub(crate) fn from_window(w: &WindowStats) -> Period {
        Period {
            seconds: w.covered.as_secs_f64(),
            hits: w.hits.unwrap_or(0),
            misses: w.misses.unwrap_or(0),
            evictions: w.evictions.unwrap_or(0),
            expirations: w.expirations.unwrap_or(0),
            keys_calls: None,
        }
    }

    fn lookups(&self) -> u64 {
        self.hits + self.misses
    }

    fn rate(&self, n: u64) -> f64 {
        if self.seconds > 0.0 {
            n as f64 / self.seconds
        } else {
            0.0
        }
    }

    fn cause(&self) -> Option<MissCause> {
        if self.misses == 0 {
            return None;
        }
        let m = self.misses as f64;
        miss_cause(self.evictions as f64 / m, self.expirations as f64 / m)
    }
}

/// Keys matching a lock pattern (e.g. `lock:*`), found by `SCAN`, with how many have no TTL.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LockScan {
    pub pattern: String,
    pub matched: u64,
    pub without_ttl: u64,
    /// A few of the keys without TTL, for the report.
    pub examples: Vec<String>,
    /// The scan stopped at its budget before covering the whole key space.
    pub partial: bool,
}

/// Everything the verdicts are computed from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Input<'a> {
    /// The newest sample (gauges: memory, policy, keyspace, commandstats totals).
    pub sample: &'a Sample,
    /// Counter increases over the period judged; `None` before two samples exist.
    pub period: Option<Period>,
    pub locks: &'a [LockScan],
}

/// A ratio as the reports write it: one decimal, "92.5 %" (verdicts, `check`, the status
/// page).
pub(crate) fn percent(r: f64) -> String {
    format!("{:.1} %", r * 100.0)
}

fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

pub(crate) fn finding(
    check: &'static str,
    verdict: Verdict,
    value: Option<f64>,
    summary: String,
    advice: impl Into<String>,
) -> Finding {
    Finding {
        check,
        subject: None,
        verdict,
        value,
        summary,
        advice: advice.into(),
    }
}

/// Whether the policy can remove keys without a TTL when memory is full.
fn evicts_any_key(policy: Option<&str>) -> bool {
    policy.is_some_and(|p| p.starts_with("allkeys-"))
}

/// Computes every finding. Pure; the order of the result is the order of the report.
pub(crate) fn evaluate(input: &Input) -> Vec<Finding> {
    let s = input.sample;
    let mut out = Vec::new();
    if let Some(p) = &input.period {
        out.extend([hit_ratio(p), evictions(p), expirations(p)]);
    }
    out.push(memory(s));
    out.push(policy(s));
    out.extend(fragmentation(s));
    out.extend(ttl_coverage_per_db(s));
    out.push(keys_command(s, input.period));
    out.extend(input.locks.iter().map(lock_keys));
    out
}

/// The worst verdict of `findings` (`ok` when there are none).
pub(crate) fn worst(findings: &[Finding]) -> Verdict {
    findings
        .iter()
        .map(|f| f.verdict)
        .max()
        .unwrap_or(Verdict::Ok)
}

/// Hit ratio, with the likely cause of the misses.
fn hit_ratio(p: &Period) -> Finding {
    let lookups = p.lookups();
    let summary_rate = format!("{lookups} lookups ({:.1}/s)", p.rate(lookups));
    if lookups < MIN_LOOKUPS {
        return finding(
            "hit_ratio",
            Verdict::Ok,
            (lookups > 0).then(|| p.hits as f64 / lookups as f64),
            summary_rate,
            "Too few lookups during the period to judge the hit ratio; check again under normal \
             traffic or with a longer --duration.",
        );
    }
    let r = p.hits as f64 / lookups as f64;
    let verdict = if r >= HIT_RATIO_WARN {
        Verdict::Ok
    } else if r >= HIT_RATIO_CRITICAL {
        Verdict::Warn
    } else {
        Verdict::Critical
    };
    let m = p.misses.max(1) as f64;
    let advice = if verdict == Verdict::Ok {
        "The cache serves more than 90 % of lookups.".to_string()
    } else {
        match p.cause() {
            Some(MissCause::Evictions) => format!(
                "Misses follow evictions ({:.2} evicted keys per miss): memory is too small for \
                 the working set; raise maxmemory or cache fewer, smaller or shorter-lived values.",
                p.evictions as f64 / m
            ),
            Some(MissCause::Expirations) => format!(
                "Misses follow expirations ({:.2} expired keys per miss): TTLs are shorter than \
                 the time between reads; lengthen the TTLs of keys that are read again.",
                p.expirations as f64 / m
            ),
            _ => "Neither evictions nor expirations explain the misses: the keys read were never \
                  cached, the key space is too large or too unique, or the application deletes \
                  keys; check the key design and that misses are written back."
                .to_string(),
        }
    };
    finding(
        "hit_ratio",
        verdict,
        Some(r),
        format!("{} of {summary_rate}", percent(r)),
        advice,
    )
}

/// Evictions, judged per lookup.
fn evictions(p: &Period) -> Finding {
    let per_lookup = p.evictions as f64 / p.lookups().max(1) as f64;
    let (verdict, advice) = if p.evictions == 0 {
        (Verdict::Ok, "No keys were evicted.".to_string())
    } else if per_lookup > EVICTIONS_PER_LOOKUP_CRITICAL {
        (
            Verdict::Critical,
            format!(
                "Memory is full and {per_lookup:.2} keys are evicted per lookup: the cache throws \
                 data away faster than it serves it; raise maxmemory or shorten TTLs so cold keys \
                 leave first."
            ),
        )
    } else {
        (
            Verdict::Warn,
            "Memory is full and keys are being evicted: watch the hit ratio; raise maxmemory if it \
             drops, or shorten TTLs of cold keys.".to_string(),
        )
    };
    finding(
        "evictions",
        verdict,
        Some(p.rate(p.evictions)),
        format!("{:.1}/s ({} keys)", p.rate(p.evictions), p.evictions),
        advice,
    )
}

/// Expirations: normal for a cache, unless they explain a low hit ratio.
fn expirations(p: &Period) -> Finding {
    let lookups = p.lookups();
    let low_hit = lookups >= MIN_LOOKUPS && (p.hits as f64 / lookups as f64) < HIT_RATIO_WARN;
    let (verdict, advice) = if low_hit && p.cause() == Some(MissCause::Expirations) {
        (
            Verdict::Warn,
            "Keys expire before they are read again and cause most misses: lengthen the TTLs (or \
             refresh hot keys before they expire).",
        )
    } else {
        (Verdict::Ok, "Expirations do not explain a low hit ratio.")
    };
    finding(
        "expirations",
        verdict,
        Some(p.rate(p.expirations)),
        format!("{:.1}/s ({} keys)", p.rate(p.expirations), p.expirations),
        advice,
    )
}

/// Memory against maxmemory.
fn memory(s: &Sample) -> Finding {
    let maxmemory = s.maxmemory.unwrap_or(0);
    let used = s
        .used_memory
        .unwrap_or(0)
        .saturating_sub(s.mem_not_counted_for_evict.unwrap_or(0));
    if maxmemory == 0 {
        return finding(
            "memory",
            Verdict::Warn,
            None,
            format!("{} used, no maxmemory", bytes(used)),
            "Without maxmemory the cache grows until the host runs out of memory and Redis is \
             killed; set maxmemory (e.g. 75 % of the memory available to Redis) with an \
             allkeys-lru or allkeys-lfu policy.",
        );
    }
    let ratio = used as f64 / maxmemory as f64;
    let summary = format!(
        "{} of {} ({})",
        bytes(used),
        bytes(maxmemory),
        percent(ratio)
    );
    let evicting = s
        .maxmemory_policy
        .as_deref()
        .is_some_and(|p| p != "noeviction");
    let (verdict, advice) = if ratio >= PRESSURE_FULL && !evicting {
        (
            Verdict::Critical,
            "Memory is nearly full and the policy cannot evict: writes will fail with OOM errors; \
             raise maxmemory or use allkeys-lru.",
        )
    } else if ratio >= PRESSURE_FULL {
        (
            Verdict::Ok,
            "Memory is nearly full, which is normal for an evicting cache; the evictions and hit \
             ratio findings tell whether it is too small.",
        )
    } else {
        (Verdict::Ok, "Memory is below the limit.")
    };
    finding("memory", verdict, Some(ratio), summary, advice)
}

/// The eviction policy, against maxmemory and the keys' TTLs.
fn policy(s: &Sample) -> Finding {
    let policy = s.maxmemory_policy.as_deref();
    let p = policy.unwrap_or("unknown");
    let (verdict, advice) = if s.maxmemory.unwrap_or(0) == 0 {
        (
            Verdict::Ok,
            "The policy has no effect without maxmemory.".to_string(),
        )
    } else if p == "noeviction" {
        (
            Verdict::Warn,
            "noeviction makes writes fail with OOM errors when memory is full; a cache wants \
             allkeys-lru or allkeys-lfu."
                .to_string(),
        )
    } else if p.starts_with("volatile-") {
        let total: u64 = s.keyspace.iter().map(|d| d.keys).sum();
        let expires: u64 = s.keyspace.iter().map(|d| d.expires).sum();
        if total > 0 && (expires as f64) < total as f64 * 0.5 {
            (
                Verdict::Warn,
                format!(
                    "{p} evicts only keys with a TTL, but only {} of the keys have one: memory \
                     fills with keys that cannot be evicted; use allkeys-lru or set TTLs.",
                    percent(expires as f64 / total as f64)
                ),
            )
        } else {
            (
                Verdict::Ok,
                format!("{p} evicts keys with a TTL, and most keys have one."),
            )
        }
    } else if evicts_any_key(policy) {
        (
            Verdict::Ok,
            format!("{p} evicts any key when memory is full."),
        )
    } else {
        (
            Verdict::Ok,
            "The policy is not known to this check.".to_string(),
        )
    };
    finding("policy", verdict, None, p.to_string(), advice)
}

/// Fragmentation, when INFO reports it.
fn fragmentation(s: &Sample) -> Option<Finding> {
    let f = s.mem_fragmentation_ratio?;
    let (verdict, advice) = if s.used_memory.unwrap_or(0) < FRAGMENTATION_MIN_USED {
        (
            Verdict::Ok,
            "Too little memory in use for the ratio to matter.",
        )
    } else if f > FRAGMENTATION_WARN {
        (
            Verdict::Warn,
            "The process holds much more memory than its data (fragmentation); enable activedefrag \
             or restart the instance in a quiet hour.",
        )
    } else if f < 0.9 {
        (
            Verdict::Warn,
            "Resident memory is below used memory: part of Redis is swapped out, which makes it \
             slow; give the host more memory or lower maxmemory.",
        )
    } else {
        (Verdict::Ok, "Fragmentation is normal.")
    };
    Some(finding(
        "fragmentation",
        verdict,
        Some(f),
        format!("{f:.2} (rss / used)"),
        advice,
    ))
}

/// TTL coverage, one finding per database with keys (one `no keys` finding when all are empty).
fn ttl_coverage_per_db(s: &Sample) -> Vec<Finding> {
    let removable = s.maxmemory.unwrap_or(0) > 0 && evicts_any_key(s.maxmemory_policy.as_deref());
    let mut out = Vec::new();
    for d in &s.keyspace {
        let Some(cov) = ttl_coverage(d) else { continue };
        let without = d.keys - d.expires.min(d.keys);
        let (verdict, advice) = if cov >= TTL_COVERAGE_WARN {
            (Verdict::Ok, "Nearly every key has a TTL.".to_string())
        } else if removable {
            (
                Verdict::Warn,
                format!(
                    "{without} keys have no TTL: they stay until evicted and crowd out keys with \
                     one; set a TTL on every cache write (SET key value EX seconds)."
                ),
            )
        } else {
            (
                Verdict::Critical,
                format!(
                    "{without} keys have no TTL and nothing evicts them (no maxmemory, or a \
                     noeviction or volatile policy): the cache leaks memory; set a TTL on every \
                     cache write."
                ),
            )
        };
        out.push(Finding {
            subject: Some(format!("db{}", d.db)),
            ..finding(
                "ttl_coverage",
                verdict,
                Some(cov),
                format!("{} of {} keys have a TTL", percent(cov), d.keys),
                advice,
            )
        });
    }
    if s.keyspace.iter().all(|d| d.keys == 0) {
        out.push(finding(
            "ttl_coverage",
            Verdict::Ok,
            None,
            "no keys".to_string(),
            "The key space is empty.",
        ));
    }
    out
}

/// KEYS usage: since the server started, and during the period when known.
fn keys_command(s: &Sample, period: Option<Period>) -> Finding {
    let keys = s.commands.iter().find(|c| c.name == "keys");
    let total = keys.map_or(0, |c| c.calls);
    let during = period.and_then(|p| p.keys_calls);
    let avg_ms = keys
        .filter(|c| c.calls > 0)
        .map_or(0.0, |c| c.usec as f64 / c.calls as f64 / 1e3);
    let (verdict, summary, advice) = match during {
        Some(n) if n > 0 => (
            Verdict::Warn,
            format!("{n} calls during the check, {total} since start ({avg_ms:.1} ms each)"),
            "KEYS walks the whole key space and blocks every other client meanwhile; find the \
             caller (CLIENT LIST, MONITOR briefly) and replace it with SCAN."
                .to_string(),
        ),
        _ if total > 0 => (
            Verdict::Ok,
            format!(
                "{total} calls since start ({avg_ms:.1} ms each){}",
                if during.is_some() {
                    ", none during the check"
                } else {
                    ""
                }
            ),
            "KEYS was used since the server started but not during this period; if it comes back, \
             replace it with SCAN."
                .to_string(),
        ),
        _ => (
            Verdict::Ok,
            "never called".to_string(),
            "No client uses KEYS.".to_string(),
        ),
    };
    finding(
        "keys_command",
        verdict,
        Some(during.unwrap_or(total) as f64),
        summary,
        advice,
    )
}

/// Lock keys of one pattern without a TTL.
fn lock_keys(l: &LockScan) -> Finding {
    let (verdict, advice) = if l.without_ttl > 0 {
        (
            Verdict::Warn,
            format!(
                "{} {} keys have no TTL (e.g. {}): a holder that crashes keeps the lock forever; \
                 take locks with SET key token NX PX milliseconds.",
                l.without_ttl,
                l.pattern,
                l.examples.join(", ")
            ),
        )
    } else if l.matched == 0 {
        (Verdict::Ok, format!("No {} keys found.", l.pattern))
    } else {
        (Verdict::Ok, "Every lock key has a TTL.".to_string())
    };
    Finding {
        subject: Some(l.pattern.clone()),
        ..finding(
            "locks_without_ttl",
            verdict,
            Some(l.without_ttl as f64),
            format!(
                "{} of {} matching keys without TTL{}",
                l.without_ttl,
                l.matched,
                if l.partial { " (partial scan)" } else { "" }
            ),
            advice,
        )
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::core::info::{CommandStat, DbStat};

    pub(crate) fn cache(maxmemory: u64, policy: &str, keys: u64, expires: u64) -> Sample {
        Sample {
            used_memory: Some(50 << 20),
            maxmemory: Some(maxmemory),
            maxmemory_policy: Some(policy.into()),
            mem_fragmentation_ratio: Some(1.1),
            keyspace: vec![DbStat {
                db: 0,
                keys,
                expires,
                avg_ttl_ms: 1000,
            }],
            ..Sample::default()
        }
    }

    pub(crate) fn period(hits: u64, misses: u64, evictions: u64, expirations: u64) -> Period {
        Period {
            seconds: 10.0,
            hits,
            misses,
            evictions,
            expirations,
            keys_calls: Some(0),
        }
    }

    pub(crate) fn get<'a>(f: &'a [Finding], check: &str) -> &'a Finding {
        f.iter()
            .find(|x| x.check == check)
            .unwrap_or_else(|| panic!("no {check} finding in {f:#?}"))
    }

    pub(crate) fn eval(s: &Sample, p: Period) -> Vec<Finding> {
        evaluate(&Input {
            sample: s,
            period: Some(p),
            locks: &[],
        })
    }

    #[test]
    fn evictions_are_named_as_the_cause() {
        let s = cache(100 << 20, "allkeys-lru", 100, 100);
        let f = eval(&s, period(500, 500, 450, 0));
        let h = get(&f, "hit_ratio");
        assert_eq!(h.verdict, Verdict::Critical);
        assert!(
            h.advice.starts_with("Misses follow evictions"),
            "{}",
            h.advice
        );
        assert_eq!(get(&f, "evictions").verdict, Verdict::Critical);
        let f = eval(&s, period(880, 120, 10, 0));
        assert_eq!(get(&f, "hit_ratio").verdict, Verdict::Warn);
        assert_eq!(get(&f, "evictions").verdict, Verdict::Warn);
    }

    #[test]
    fn expirations_are_named_as_the_cause() {
        let s = cache(100 << 20, "allkeys-lru", 100, 100);
        let f = eval(&s, period(300, 700, 0, 650));
        assert!(
            get(&f, "hit_ratio")
                .advice
                .starts_with("Misses follow expirations")
        );
        assert_eq!(get(&f, "expirations").verdict, Verdict::Warn);
        assert_eq!(get(&f, "evictions").verdict, Verdict::Ok);
    }

    #[test]
    fn neither_cause_and_too_few_lookups() {
        let s = cache(100 << 20, "allkeys-lru", 100, 100);
        let f = eval(&s, period(100, 900, 0, 10));
        assert!(get(&f, "hit_ratio").advice.starts_with("Neither"));
        assert_eq!(get(&f, "expirations").verdict, Verdict::Ok);
        let f = eval(&s, period(1, 5, 0, 0));
        assert_eq!(get(&f, "hit_ratio").verdict, Verdict::Ok);
    }

    #[test]
    fn memory_and_policy() {
        let f = eval(&cache(0, "noeviction", 10, 10), period(0, 0, 0, 0));
        assert_eq!(get(&f, "memory").verdict, Verdict::Warn);
        assert!(get(&f, "memory").advice.contains("maxmemory"));
        assert_eq!(get(&f, "policy").verdict, Verdict::Ok);
        let mut s = cache(52 << 20, "noeviction", 10, 10);
        let f = eval(&s, period(0, 0, 0, 0));
        assert_eq!(get(&f, "memory").verdict, Verdict::Critical);
        assert_eq!(get(&f, "policy").verdict, Verdict::Warn);
        s.maxmemory_policy = Some("volatile-lru".into());
        s.keyspace[0].expires = 1;
        let f = eval(&s, period(0, 0, 0, 0));
        assert_eq!(get(&f, "policy").verdict, Verdict::Warn);
        assert_eq!(get(&f, "memory").verdict, Verdict::Ok);
    }

    #[test]
    fn ttl_coverage_and_keys_and_locks() {
        let mut s = cache(100 << 20, "allkeys-lru", 100, 40);
        s.commands.push(CommandStat {
            name: "keys".into(),
            calls: 3,
            usec: 3000,
            rejected_calls: None,
            failed_calls: None,
        });
        let locks = [LockScan {
            pattern: "lock:*".into(),
            matched: 4,
            without_ttl: 2,
            examples: vec!["lock:a".into()],
            partial: false,
        }];
        let f = evaluate(&Input {
            sample: &s,
            period: Some(Period {
                keys_calls: Some(2),
                ..period(10, 0, 0, 0)
            }),
            locks: &locks,
        });
        let t = get(&f, "ttl_coverage");
        assert_eq!(
            (t.verdict, t.subject.as_deref()),
            (Verdict::Warn, Some("db0"))
        );
        assert!(t.advice.contains("60 keys have no TTL"));
        assert_eq!(get(&f, "keys_command").verdict, Verdict::Warn);
        assert_eq!(get(&f, "locks_without_ttl").verdict, Verdict::Warn);
        // Without maxmemory nothing removes them: critical.
        let s = cache(0, "allkeys-lru", 100, 40);
        let f = eval(&s, period(10, 0, 0, 0));
        assert_eq!(get(&f, "ttl_coverage").verdict, Verdict::Critical);
        assert_eq!(get(&f, "keys_command").verdict, Verdict::Ok);
    }

    #[test]
    fn period_between_samples_is_reset_safe() {
        let a = Sample {
            run_id: Some("x".into()),
            keyspace_hits: Some(100),
            keyspace_misses: Some(10),
            ..Sample::default()
        };
        let b = Sample {
            keyspace_hits: Some(150),
            keyspace_misses: Some(5),
            ..a.clone()
        };
        let p = Period::between(&a, &b, 5.0);
        assert_eq!((p.hits, p.misses), (50, 5));
    }
}
