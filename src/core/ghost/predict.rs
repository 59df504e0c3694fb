//! One poll's memory sizing: the model's curve for each window the poll derived, from INFO's
//! lookups and memory figures and miss attribution's unfixable misses, reduced to what
//! /metrics and the status page show ([`SizingStatus`]); and that prediction in words, for
//! `check` and the status page ([`in_words`]).
//!
//! Pure: the poller calls [`Ghost::sizing`] with the sample and windows it just derived.

use std::time::Duration;

use super::Ghost;
use super::curve::{Lookups, MemoryFigures, Needed, Sizing, TARGET_RATIOS, policy_holds};
use crate::core::derive::{AttributionWindow, SizingStatus, SizingWindow, WindowStats};
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

const MIB: f64 = (1u64 << 20) as f64;

/// The prediction of one window in words, for a target ratio of `TARGET_RATIOS[target]`:
/// "about N MiB for 90 %", "memory alone will not reach 90 %: M % of misses are cold /
/// expired / deleted", or that the ghost list does not reach far enough; then the three
/// predicted points.
pub fn in_words(w: &SizingWindow, target: usize) -> String {
    let (ratio, _) = TARGET_RATIOS[target.min(TARGET_RATIOS.len() - 1)];
    let percent = ratio * 100.0;
    let goal = if w.current >= ratio {
        format!(
            "already at {:.1} % (target {percent:.0} %)",
            w.current * 100.0
        )
    } else if ratio > w.ceiling {
        format!(
            "memory alone will not reach {percent:.0} %: {:.0} % of misses are cold / expired / deleted (at most {:.1} % with any memory)",
            w.unfixable_share * 100.0,
            w.ceiling * 100.0
        )
    } else {
        match w.needed[target.min(2)] {
            Some(bytes) => format!(
                "about {:.0} MiB for {percent:.0} % (maxmemory now {:.0} MiB)",
                bytes / MIB,
                w.maxmemory / MIB
            ),
            None => format!(
                "{percent:.0} % needs more memory than the ghost list covers (more than {:.0} MiB)",
                w.predicted
                    .iter()
                    .zip(super::curve::MEMORY_MULTIPLES)
                    .filter(|(p, _)| p.is_some())
                    .map(|(_, (m, _))| m * w.maxmemory / MIB)
                    .fold(w.maxmemory / MIB, f64::max)
            ),
        }
    };
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
        "{goal}; hit ratio now {:.1} %, predicted {}",
        w.current * 100.0,
        points.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::derive::Window;

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
            "about 20 MiB for 90 % (maxmemory now 8 MiB); hit ratio now 70.0 %, predicted 1.5x 80.0 %, 2x 86.0 %, 4x not covered"
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
                "memory alone will not reach 90 %: 50 % of misses are cold / expired / deleted (at most 85.0 % with any memory)"
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
            "# Memory\r\nused_memory:9437184\r\nused_memory_startup:1048576\r\nmem_clients_normal:0\r\nmaxmemory:8388608\r\nmaxmemory_policy:{policy}\r\nmem_not_counted_for_evict:0\r\n# Keyspace\r\ndb0:keys=1000,expires=0,avg_ttl=0\r\n"
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

    #[test]
    fn a_refused_policy_keeps_the_model_figures_and_predicts_nothing() {
        let (w, a) = stats();
        let s = fed().sizing(Duration::from_secs(120), &sample("allkeys-random"), &w, &a);
        assert!(s.refused.is_some_and(|r| r.contains("random")));
        assert!(s.windows.is_empty());
        assert_eq!(s.span_keys, 0.0, "every evicted key was missed since");
    }
}
