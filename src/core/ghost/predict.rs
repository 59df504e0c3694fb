//! One poll's memory sizing: the model's curve for each window the poll derived, from INFO's
//! lookups and memory figures and miss attribution's unfixable misses, reduced to what
//! /metrics and the status page show ([`SizingStatus`]); one measured period's, for `check
//! --explain-misses` ([`Ghost::period_sizing`]); why there is none ([`Unpredicted`]); and the
//! prediction in words, for `check` and the status page ([`in_words`]).
//!
//! Pure: the poller calls [`Ghost::sizing`] with the sample and windows it just derived.

use std::time::Duration;

use super::Ghost;
use super::curve::{Lookups, MemoryFigures, Needed, Sizing, TARGET_RATIOS, policy_holds};
use crate::core::derive::{AttributionWindow, SizingStatus, SizingWindow, Window, WindowStats};
use crate::core::info::Sample;

/// A key's cost from the sample's INFO memory and keyspace; `None` without maxmemory, used
/// memory or keys.
pub fn sizing_of(sample: &Sample) -> Option<Sizing> {
    Sizing::from_info(&MemoryFigures {
        maxmemory: sample.maxmemory?,
        used_memory: sample.used_memory?,
        not_counted_for_evict: sample.mem_not_counted_for_evict.unwrap_or(0),
        used_memory_startup: sample.used_memory_startup.unwrap_or(0),
        clients: sample.mem_clients_normal.unwrap_or(0),
        keys: keys_held(sample),
    })
}

fn keys_held(sample: &Sample) -> u64 {
    sample.keyspace.iter().map(|d| d.keys).sum()
}

/// Misses no memory fixes among a window's attributed ones: expired, deleted and cold (the
/// order of [`AttributionWindow::attributed`] is expired, evicted, deleted, cold).
fn unfixable(a: &AttributionWindow) -> u64 {
    a.attributed[0] + a.attributed[2] + a.attributed[3]
}

impl Ghost {
    /// The sizing of the poll at `now`: the model's sampling rate and span always; per window
    /// with lookups and attributed misses, the curve's points, unless the sample's
    /// `maxmemory-policy` is one under which the prediction was not shown to hold.
    pub fn sizing(
        &mut self,
        now: Duration,
        sample: &Sample,
        windows: &[WindowStats],
        attribution: &[AttributionWindow],
    ) -> SizingStatus {
        self.set_keys_held(keys_held(sample));
        let span = self.span(now);
        let refused = match sample.maxmemory_policy.as_deref() {
            Some(p) => policy_holds(p).err(),
            None => Some("maxmemory-policy unknown"),
        };
        let mut status = SizingStatus {
            sampling_ratio: self.sampling_rate(),
            span_keys: span.keys,
            span_seconds: span.seconds,
            refused,
            windows: Vec::new(),
        };
        let Some(sizing) = sizing_of(sample).filter(|_| refused.is_none()) else {
            return status;
        };
        for w in windows {
            let (Some(hits), Some(misses)) = (w.hits, w.misses) else {
                continue;
            };
            // Without the window's attributed misses the ceiling is unknown: no prediction.
            let Some(a) = attribution.iter().find(|a| a.window == w.window) else {
                continue;
            };
            let unfixable = unfixable(a).min(misses) as f64;
            let lookups = Lookups {
                hits: hits as f64,
                misses: misses as f64,
                unfixable_misses: unfixable,
            };
            let Some(curve) = self.curve(now, now.saturating_sub(w.covered), lookups, sizing)
            else {
                continue;
            };
            status.windows.push(SizingWindow {
                window: w.window,
                current: curve.current(),
                ceiling: curve.ceiling(),
                unfixable_share: if misses > 0 {
                    unfixable / misses as f64
                } else {
                    0.0
                },
                maxmemory: sizing.maxmemory,
                predicted: super::curve::MEMORY_MULTIPLES.map(|(m, _)| curve.at_multiple(m)),
                needed: TARGET_RATIOS.map(|(r, _)| match curve.memory_needed(r) {
                    Needed::Bytes(b) => Some(b),
                    Needed::BeyondSpan | Needed::NotByMemory { .. } => None,
                }),
            });
        }
        status
    }
}

/// Why a period or window has no predicted curve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unpredicted {
    /// The `maxmemory-policy` is one under which the prediction was not shown to hold (or is
    /// unknown): `why` is [`policy_holds`]'s reason.
    Policy {
        policy: Option<String>,
        why: &'static str,
    },
    /// `maxmemory` is 0 or unknown: there is no size to take multiples of.
    NoMaxmemory,
    /// Nothing was evicted in the period: more memory would not have changed its hit ratio.
    NoEvictions,
    /// No lookups, misses in INFO of which no keyspace event was seen, or no keys held to
    /// price a key by.
    NoCurve,
}

impl Unpredicted {
    /// A short code, as JSON carries it.
    pub fn code(&self) -> &'static str {
        match self {
            Unpredicted::Policy { .. } => "policy",
            Unpredicted::NoMaxmemory => "no_maxmemory",
            Unpredicted::NoEvictions => "no_evictions",
            Unpredicted::NoCurve => "no_curve",
        }
    }

    /// The reason in words ("not predicted under allkeys-random: random eviction keeps …").
    pub fn in_words(&self) -> String {
        match self {
            Unpredicted::Policy {
                policy: Some(p),
                why,
            } => format!("not predicted under {p}: {why}"),
            Unpredicted::Policy { policy: None, why } => format!("not predicted: {why}"),
            Unpredicted::NoMaxmemory => {
                "not predicted: no maxmemory (0 or unknown), so there is no size to take \
                 multiples of"
                    .into()
            }
            Unpredicted::NoEvictions => {
                "not predicted: no key was evicted, so more memory would not have changed the \
                 hit ratio"
                    .into()
            }
            Unpredicted::NoCurve => {
                "not predicted: no lookups, no miss seen as a keyspace event, or \
                 no keys held"
                    .into()
            }
        }
    }
}

/// Why `status` (of a poll of `sample`) holds no prediction for `window`; `None` when it does.
/// A window without evictions still has its (flat) curve, so [`Unpredicted::NoEvictions`] is
/// never the answer here.
pub fn why_unpredicted(
    status: &SizingStatus,
    sample: &Sample,
    window: Window,
) -> Option<Unpredicted> {
    if let Some(why) = status.refused {
        return Some(Unpredicted::Policy {
            policy: sample.maxmemory_policy.clone(),
            why,
        });
    }
    if status.windows.iter().any(|w| w.window == window) {
        return None;
    }
    if sample.maxmemory.unwrap_or(0) == 0 {
        return Some(Unpredicted::NoMaxmemory);
    }
    Some(Unpredicted::NoCurve)
}

/// One measured period's lookups and misses (INFO's increases) and its attributed misses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    /// How long it lasted (events were fed to the model from its start on).
    pub covered: Duration,
    pub hits: u64,
    pub misses: u64,
    /// Keys INFO counted as evicted in the period.
    pub evictions: u64,
    /// Misses attributed, in the order expired, evicted, deleted, cold.
    pub attributed: [u64; 4],
}

impl Ghost {
    /// The sizing of one period ending at `now` whose every event this model was fed, with
    /// `sample` the INFO at its end: the model's figures, and the prediction or why there is
    /// none. The same derivation as a poll's ([`Ghost::sizing`]), over one window as long as the
    /// period; but nothing is predicted without evictions (the model saw no eviction to learn
    /// from, and a flat curve would only restate the hit ratio).
    pub fn period_sizing(
        &mut self,
        now: Duration,
        sample: &Sample,
        period: &Period,
    ) -> (SizingStatus, Result<SizingWindow, Unpredicted>) {
        // The window label is not shown for a period; the shortest one that covers it.
        let window = Window::ALL
            .into_iter()
            .find(|w| w.duration() >= period.covered)
            .unwrap_or(Window::M15);
        let lookups = period.hits + period.misses;
        let stats = WindowStats {
            window,
            covered: period.covered,
            hit_ratio: (lookups > 0).then(|| period.hits as f64 / lookups as f64),
            lookups_per_second: None,
            evictions: Some(period.evictions),
            expirations: None,
            hits: Some(period.hits),
            misses: Some(period.misses),
        };
        let attribution = crate::core::attribution::window_values(&stats, period.attributed);
        let mut status = self.sizing(now, sample, &[stats], &[attribution]);
        let outcome = match why_unpredicted(&status, sample, window) {
            Some(why) => Err(why),
            None if period.evictions == 0 => Err(Unpredicted::NoEvictions),
            None => status.windows.pop().ok_or(Unpredicted::NoCurve),
        };
        status.windows.clear();
        (status, outcome)
    }
}

const MIB: f64 = (1u64 << 20) as f64;

/// Bytes in MiB as the words give them: whole MiB from 10 on, one decimal below (a cache of a
/// few MiB would otherwise read "about 5 MiB (maxmemory now 4 MiB)" for 4.6 and 4.4).
pub fn mib(bytes: f64) -> String {
    let m = bytes / MIB;
    if m >= 10.0 {
        format!("{m:.0}")
    } else {
        format!("{m:.1}")
    }
}

/// The prediction of one window in words, for a target ratio of `TARGET_RATIOS[target]`:
/// [`goal_in_words`], then the hit ratio now and the three predicted points.
pub fn in_words(w: &SizingWindow, target: usize) -> String {
    let points: Vec<String> = w
        .predicted
        .iter()
        .zip(super::curve::MEMORY_MULTIPLES)
        .map(|(p, (_, label))| match p {
            Some(p) => format!("{label} {:.1} %", p * 100.0),
            None => format!("{label} not covered"),
        })
        .collect();
    format!(
        "{}; hit ratio now {:.1} %, predicted {}",
        goal_in_words(w, target),
        w.current * 100.0,
        points.join(", ")
    )
}

/// How one window reaches `TARGET_RATIOS[target]`, in words: "about N MiB for 90 %",
/// "memory alone will not reach 90 %: M % of misses are cold / expired / deleted", that the
/// ghost list does not reach far enough, or that the ratio is reached already.
pub fn goal_in_words(w: &SizingWindow, target: usize) -> String {
    let (ratio, _) = TARGET_RATIOS[target.min(TARGET_RATIOS.len() - 1)];
    let percent = ratio * 100.0;
    if w.current >= ratio {
        format!(
            "already at {:.1} % (target {percent:.0} %)",
            w.current * 100.0
        )
    } else if ratio > w.ceiling {
        format!(
            "memory alone will not reach {percent:.0} %: {:.0} % of misses are cold / expired / \
             deleted (at most {:.1} % with any memory)",
            w.unfixable_share * 100.0,
            w.ceiling * 100.0
        )
    } else {
        match w.needed[target.min(2)] {
            Some(bytes) => format!(
                "about {} MiB for {percent:.0} % (maxmemory now {} MiB)",
                mib(bytes),
                mib(w.maxmemory)
            ),
            None => format!(
                "{percent:.0} % needs more memory than the ghost list covers (more than {} MiB)",
                mib(w
                    .predicted
                    .iter()
                    .zip(super::curve::MEMORY_MULTIPLES)
                    .filter(|(p, _)| p.is_some())
                    .map(|(_, (m, _))| m * w.maxmemory)
                    .fold(w.maxmemory, f64::max))
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(current: f64, ceiling: f64, needed: [Option<f64>; 3]) -> SizingWindow {
        SizingWindow {
            window: Window::M5,
            current,
            ceiling,
            unfixable_share: (1.0 - ceiling) / (1.0 - current),
            maxmemory: 8.0 * MIB,
            predicted: [Some(0.8), Some(0.86), None],
            needed,
        }
    }

    #[test]
    fn reachable_says_how_much() {
        let w = window(0.7, 0.97, [Some(20.0 * MIB), None, None]);
        assert_eq!(
            in_words(&w, 0),
            "about 20 MiB for 90 % (maxmemory now 8.0 MiB); hit ratio now 70.0 %, predicted 1.5x \
             80.0 %, 2x 86.0 %, 4x not covered"
        );
        assert!(
            in_words(&w, 1).starts_with(
                "95 % needs more memory than the ghost list covers (more than 16 MiB)"
            ),
            "{}",
            in_words(&w, 1)
        );
    }

    #[test]
    fn above_the_ceiling_names_the_unfixable_share() {
        let w = window(0.7, 0.85, [None, None, None]);
        assert!(
            in_words(&w, 0).starts_with(
                "memory alone will not reach 90 %: 50 % of misses are cold / expired / deleted (at \
                 most 85.0 % with any memory)"
            ),
            "{}",
            in_words(&w, 0)
        );
    }

    #[test]
    fn already_there() {
        let w = window(0.93, 0.99, [Some(8.0 * MIB), None, None]);
        assert!(in_words(&w, 0).starts_with("already at 93.0 % (target 90 %)"));
    }

    fn sample(policy: &str) -> Sample {
        let text = format!(
            "# Memory\r\nused_memory:9437184\r\nused_memory_startup:1048576\r\n\
             mem_clients_normal:0\r\nmaxmemory:8388608\r\nmaxmemory_policy:{policy}\r\n\
             mem_not_counted_for_evict:0\r\n# Keyspace\r\ndb0:keys=1000,expires=0,avg_ttl=0\r\n"
        );
        crate::core::info::parse(&text).unwrap()
    }

    fn stats() -> (Vec<WindowStats>, Vec<AttributionWindow>) {
        let w = WindowStats {
            window: Window::M1,
            covered: Duration::from_secs(60),
            hit_ratio: Some(0.5),
            lookups_per_second: None,
            evictions: None,
            expirations: None,
            hits: Some(4),
            misses: Some(4),
        };
        let a = crate::core::attribution::window_values(&w, [0, 3, 0, 1]);
        (vec![w], vec![a])
    }

    /// Four misses: three on evicted keys at distances 0, 1 and 2 (of 1 000 keys held, 8 KiB
    /// each: 8 MiB over 1 000 keys less the start-up MiB), one cold.
    fn fed() -> Ghost {
        let mut g = Ghost::new(super::super::Settings::default());
        for k in 1..=3 {
            g.on_evicted(k, Duration::from_secs(100));
        }
        for k in [3, 2, 1, 9] {
            g.on_miss(k, Duration::from_secs(110));
        }
        g
    }

    #[test]
    fn a_poll_gives_the_curve_of_each_window() {
        let (w, a) = stats();
        let s = fed().sizing(Duration::from_secs(120), &sample("allkeys-lru"), &w, &a);
        assert_eq!(s.refused, None);
        assert_eq!(s.sampling_ratio, 1.0);
        assert_eq!(s.windows.len(), 1);
        let p = &s.windows[0];
        assert_eq!(p.current, 0.5);
        assert_eq!(p.ceiling, 7.0 / 8.0);
        assert_eq!(p.unfixable_share, 0.25);
        // 1.5x is 4 MiB more: hundreds of keys, all three evicted keys' misses fixed.
        assert_eq!(p.predicted, [Some(7.0 / 8.0); 3]);
        // 0.9 is above the ceiling; so are 0.95 and 0.99.
        assert_eq!(p.needed, [None; 3]);
    }

    fn period(evictions: u64) -> Period {
        Period {
            covered: Duration::from_secs(20),
            hits: 4,
            misses: 4,
            evictions,
            attributed: [0, 3, 0, 1],
        }
    }

    #[test]
    fn a_period_gives_the_curve_of_a_poll_over_as_long() {
        let (w, a) = stats();
        let poll = fed().sizing(Duration::from_secs(120), &sample("allkeys-lru"), &w, &a);
        let (status, outcome) =
            fed().period_sizing(Duration::from_secs(120), &sample("allkeys-lru"), &period(3));
        let got = outcome.unwrap();
        assert_eq!(got.window, Window::M1, "the shortest window covering 20 s");
        assert_eq!(got, poll.windows[0]);
        assert!(status.windows.is_empty());
        assert_eq!(status.sampling_ratio, 1.0);
    }

    #[test]
    fn a_period_names_why_nothing_is_predicted() {
        let at = Duration::from_secs(120);
        let (_, o) = fed().period_sizing(at, &sample("allkeys-random"), &period(3));
        let why = o.unwrap_err();
        assert_eq!(why.code(), "policy");
        assert!(
            why.in_words()
                .starts_with("not predicted under allkeys-random: random eviction"),
            "{}",
            why.in_words()
        );
        let (_, o) = fed().period_sizing(at, &sample("allkeys-lru"), &period(0));
        assert_eq!(o.unwrap_err(), Unpredicted::NoEvictions);
        let mut no_limit = sample("allkeys-lru");
        no_limit.maxmemory = Some(0);
        let (_, o) = fed().period_sizing(at, &no_limit, &period(3));
        assert_eq!(o.unwrap_err(), Unpredicted::NoMaxmemory);
        let mut unknown = sample("allkeys-lru");
        unknown.maxmemory_policy = None;
        let (_, o) = fed().period_sizing(at, &unknown, &period(3));
        assert_eq!(
            o.unwrap_err().in_words(),
            "not predicted: maxmemory-policy unknown"
        );
        // Misses in INFO, none seen as events: nothing to scale from.
        let (_, o) = Ghost::new(super::super::Settings::default()).period_sizing(
            at,
            &sample("allkeys-lru"),
            &period(3),
        );
        assert_eq!(o.unwrap_err(), Unpredicted::NoCurve);
    }

    #[test]
    fn a_refused_policy_keeps_the_model_figures_and_predicts_nothing() {
        let (w, a) = stats();
        let s = fed().sizing(Duration::from_secs(120), &sample("allkeys-random"), &w, &a);
        assert!(s.refused.is_some_and(|r| r.contains("random")));
        assert!(s.windows.is_empty());
        assert_eq!(s.span_keys, 0.0, "every evicted key was missed since");
    }
}
