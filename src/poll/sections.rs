//! Which INFO sections a poll asks for: the ones read every poll, and the slow ones that change
//! slowly: persistence and errorstats (and keysizes, where the target asks for them) at most
//! once per [`SLOW_EVERY`], latencystats (which
//! costs Redis more than all the others together: it computes percentiles per command) at most
//! once per [`LATENCY_EVERY`]. Between two reads the last values are carried into each sample,
//! so their series do not blink.
//!
//! A server that takes one section only (`INFO all`, before Redis 7) returns the slow sections
//! every poll; they are then simply fresh every poll.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::core::info::{Sample, Slow};

/// Sections read every poll (the costly latencystats and errorstats are not among them).
/// `INFO` and these are 9 arguments: Redis refuses more than 10 from a client that has not
/// authenticated yet, and the reply to such a client must be NOAUTH, an auth error.
const EVERY_POLL: &[&str] = &[
    "server",
    "clients",
    "memory",
    "stats",
    "replication",
    "cpu",
    "commandstats",
    "keyspace",
];

/// Sections read when persistence and errorstats are due: `default` is every section above
/// but commandstats, plus persistence, errorstats, modules and cluster (and keysizes on Redis
/// 8), in few arguments; it costs Redis 2 to 8 µs more than the list above, once a minute.
const WITH_SLOW: &[&str] = &["default", "commandstats"];

/// Sections read when latencystats are due (the others are read with them).
const WITH_LATENCY: &[&str] = &["default", "commandstats", "latencystats"];

/// The two above for a target that asked for INFO keysizes (Redis 8+; a server without the
/// section returns nothing for it). Redis 8's `default` has it already; naming it keeps the
/// ask right on a server whose `default` does not.
const WITH_SLOW_KEYSIZES: &[&str] = &["default", "commandstats", "keysizes"];
const WITH_LATENCY_KEYSIZES: &[&str] = &["default", "commandstats", "latencystats", "keysizes"];

/// How often persistence and errorstats are read at most.
pub(crate) const SLOW_EVERY: Duration = Duration::from_secs(60);

/// How often latencystats are read at most: percentiles since the last reset move slowly.
pub(crate) const LATENCY_EVERY: Duration = Duration::from_secs(300);

/// One target's slow-section cadence and the part carried between reads.
#[derive(Default)]
pub(super) struct Sections {
    /// When a reply last carried the slow sections, and latencystats.
    last_slow: Option<Instant>,
    last_latency: Option<Instant>,
    /// That reply's slow part, and the run it came from (a restart drops it).
    kept: Option<(Arc<Slow>, Option<String>)>,
}

fn due(last: Option<Instant>, now: Instant, every: Duration) -> bool {
    last.is_none_or(|t| now.duration_since(t) >= every)
}

impl Sections {
    /// The sections this poll asks for at `now`, with keysizes among the slow ones if asked.
    pub(super) fn ask(&self, now: Instant, keysizes: bool) -> &'static [&'static str] {
        match (
            due(self.last_latency, now, LATENCY_EVERY),
            due(self.last_slow, now, SLOW_EVERY),
            keysizes,
        ) {
            (true, _, false) => WITH_LATENCY,
            (true, _, true) => WITH_LATENCY_KEYSIZES,
            (false, true, false) => WITH_SLOW,
            (false, true, true) => WITH_SLOW_KEYSIZES,
            (false, false, _) => EVERY_POLL,
        }
    }

    /// Keeps the slow part of a reply that has one (with the kept latencystats when it has
    /// none); gives the kept part to a reply without it, unless the server restarted since (new
    /// `run_id`): then the next poll reads them all again.
    pub(super) fn carry(&mut self, sample: &mut Sample, now: Instant) {
        let same_run = |run: &Option<String>| *run == sample.run_id;
        match (&mut sample.slow, &self.kept) {
            (Some(slow), kept) => {
                if slow.has_latencystats {
                    self.last_latency = Some(now);
                } else if let Some((old, run)) = kept
                    && same_run(run)
                {
                    Arc::make_mut(slow).latency.clone_from(&old.latency);
                }
                self.kept = Some((slow.clone(), sample.run_id.clone()));
                self.last_slow = Some(now);
            }
            (None, Some((old, run))) if same_run(run) => sample.slow = Some(old.clone()),
            (None, Some(_)) => *self = Sections::default(),
            (None, None) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::info::{ErrorStat, LatencyStat};

    fn sample(run: &str, slow: Option<Slow>) -> Sample {
        Sample {
            run_id: Some(run.into()),
            slow: slow.map(Arc::new),
            ..Sample::default()
        }
    }

    fn errors(n: u64) -> Slow {
        Slow {
            errors: vec![ErrorStat {
                err: "OOM".into(),
                count: n,
            }],
            ..Slow::default()
        }
    }

    fn with_latency(mut s: Slow, usec: f64) -> Slow {
        s.has_latencystats = true;
        s.latency = vec![LatencyStat {
            cmd: "get".into(),
            quantiles: vec![("0.99".into(), usec)],
        }];
        s
    }

    fn at(t0: Instant, secs: u64) -> Instant {
        t0 + Duration::from_secs(secs)
    }

    #[test]
    fn slow_sections_once_a_minute_latencystats_every_five_and_carried_between() {
        let t0 = Instant::now();
        let mut s = Sections::default();
        assert_eq!(
            s.ask(t0, false),
            WITH_LATENCY,
            "the first poll reads them all"
        );
        s.carry(&mut sample("a", Some(with_latency(errors(1), 5.0))), t0);
        assert_eq!(s.ask(at(t0, 15), false), EVERY_POLL);
        let mut next = sample("a", None);
        s.carry(&mut next, at(t0, 15));
        assert_eq!(next.slow.as_deref(), Some(&with_latency(errors(1), 5.0)));

        assert_eq!(
            s.ask(at(t0, 60), false),
            WITH_SLOW,
            "errorstats due after a minute"
        );
        let mut minute = sample("a", Some(errors(5)));
        s.carry(&mut minute, at(t0, 60));
        let carried = Slow {
            has_latencystats: false,
            ..with_latency(errors(5), 5.0)
        };
        assert_eq!(
            minute.slow.as_deref(),
            Some(&carried),
            "new errors, kept latency"
        );
        let mut after = sample("a", None);
        s.carry(&mut after, at(t0, 61));
        assert_eq!(after.slow.as_deref(), Some(&carried));

        assert_eq!(s.ask(at(t0, 299), false), WITH_SLOW);
        assert_eq!(
            s.ask(at(t0, 300), false),
            WITH_LATENCY,
            "latencystats after five"
        );
        let mut five = sample("a", Some(with_latency(errors(6), 9.0)));
        s.carry(&mut five, at(t0, 300));
        assert_eq!(five.slow.as_deref(), Some(&with_latency(errors(6), 9.0)));
        assert_eq!(s.ask(at(t0, 315), false), EVERY_POLL);
    }

    #[test]
    fn every_ask_fits_in_the_arguments_redis_takes_before_auth() {
        for sections in [
            EVERY_POLL,
            WITH_SLOW,
            WITH_LATENCY,
            WITH_SLOW_KEYSIZES,
            WITH_LATENCY_KEYSIZES,
        ] {
            // INFO itself is the first argument.
            assert!(sections.len() < 10, "{sections:?}");
        }
    }

    #[test]
    fn keysizes_come_with_the_slow_sections_only_when_asked_for() {
        let t0 = Instant::now();
        let mut s = Sections::default();
        assert_eq!(s.ask(t0, true), WITH_LATENCY_KEYSIZES);
        s.carry(&mut sample("a", Some(with_latency(errors(1), 5.0))), t0);
        assert_eq!(s.ask(at(t0, 15), true), EVERY_POLL, "not every poll");
        assert_eq!(s.ask(at(t0, 60), true), WITH_SLOW_KEYSIZES);
        assert_eq!(s.ask(at(t0, 60), false), WITH_SLOW);
        for sections in [WITH_SLOW, WITH_LATENCY] {
            assert!(!sections.contains(&"keysizes"));
        }
    }

    #[test]
    fn a_restart_drops_what_was_kept_and_asks_again() {
        let t0 = Instant::now();
        let mut s = Sections::default();
        s.carry(&mut sample("a", Some(with_latency(errors(7), 1.0))), t0);
        let mut restarted = sample("b", None);
        s.carry(&mut restarted, at(t0, 1));
        assert!(restarted.slow.is_none(), "no errors of the previous run");
        assert_eq!(s.ask(at(t0, 1), false), WITH_LATENCY);
        // A minute read of the new run does not inherit the old run's latency.
        let mut s = Sections::default();
        s.carry(&mut sample("a", Some(with_latency(errors(7), 1.0))), t0);
        let mut minute = sample("b", Some(errors(0)));
        s.carry(&mut minute, at(t0, 60));
        assert!(minute.slow.unwrap().latency.is_empty());
    }
}
