//! Which INFO sections a poll asks for: the ones read every poll, and the slow ones
//! (persistence, errorstats, latencystats: they change slowly, and latencystats costs Redis
//! time per command it lists) at most once per [`SLOW_EVERY`]. Between two slow reads the
//! last slow part is carried into each sample, so their series do not blink.
//!
//! A server that takes one section only (`INFO all`, before Redis 7) returns the slow sections
//! every poll; they are then simply fresh every poll.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::core::info::{Sample, Slow};

/// Every section the exporter reads: those of every poll (the costly latencystats and
/// errorstats are not among them), then the slow ones.
const SECTIONS: [&str; 11] = [
    "server",
    "clients",
    "memory",
    "stats",
    "replication",
    "cpu",
    "commandstats",
    "keyspace",
    "persistence",
    "errorstats",
    "latencystats",
];

/// Sections read every poll.
const EVERY_POLL: &[&str] = SECTIONS.split_at(8).0;

/// Sections read when the slow ones are due.
const WITH_SLOW: &[&str] = &SECTIONS;

/// How often the slow sections are read at most.
pub(crate) const SLOW_EVERY: Duration = Duration::from_secs(60);

/// One target's slow-section cadence and the part carried between reads.
#[derive(Default)]
pub(super) struct Sections {
    /// When a reply last carried the slow sections.
    last_slow: Option<Instant>,
    /// That reply's slow part, and the run it came from (a restart drops it).
    kept: Option<(Arc<Slow>, Option<String>)>,
}

impl Sections {
    /// The sections this poll asks for at `now`.
    pub(super) fn ask(&self, now: Instant) -> &'static [&'static str] {
        match self.last_slow {
            Some(t) if now.duration_since(t) < SLOW_EVERY => EVERY_POLL,
            _ => WITH_SLOW,
        }
    }

    /// Keeps the slow part of a reply that has one; gives the kept one to a reply without it,
    /// unless the server restarted since (new `run_id`): then the next poll reads them again.
    pub(super) fn carry(&mut self, sample: &mut Sample, now: Instant) {
        if let Some(slow) = &sample.slow {
            self.kept = Some((slow.clone(), sample.run_id.clone()));
            self.last_slow = Some(now);
            return;
        }
        match &self.kept {
            Some((slow, run)) if *run == sample.run_id => sample.slow = Some(slow.clone()),
            Some(_) => *self = Sections::default(),
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(run: &str, slow: Option<Slow>) -> Sample {
        Sample {
            run_id: Some(run.into()),
            slow: slow.map(Arc::new),
            ..Sample::default()
        }
    }

    fn errors(n: u64) -> Slow {
        Slow {
            errors: vec![crate::core::info::ErrorStat {
                err: "OOM".into(),
                count: n,
            }],
            ..Slow::default()
        }
    }

    #[test]
    fn slow_sections_are_asked_once_per_minute_and_carried_between() {
        let t0 = Instant::now();
        let mut s = Sections::default();
        assert_eq!(s.ask(t0), WITH_SLOW, "the first poll reads them");
        let mut first = sample("a", Some(errors(1)));
        s.carry(&mut first, t0);
        let t15 = t0 + Duration::from_secs(15);
        assert_eq!(s.ask(t15), EVERY_POLL);
        let mut next = sample("a", None);
        s.carry(&mut next, t15);
        assert_eq!(next.slow.as_deref(), Some(&errors(1)), "carried");
        let t60 = t0 + SLOW_EVERY;
        assert_eq!(s.ask(t60), WITH_SLOW, "due again after a minute");
        let mut fresh = sample("a", Some(errors(5)));
        s.carry(&mut fresh, t60);
        let mut after = sample("a", None);
        s.carry(&mut after, t60 + Duration::from_secs(1));
        assert_eq!(after.slow.as_deref(), Some(&errors(5)), "the newest kept");
    }

    #[test]
    fn a_restart_drops_what_was_kept_and_asks_again() {
        let t0 = Instant::now();
        let mut s = Sections::default();
        s.carry(&mut sample("a", Some(errors(7))), t0);
        let t1 = t0 + Duration::from_secs(1);
        let mut restarted = sample("b", None);
        s.carry(&mut restarted, t1);
        assert!(restarted.slow.is_none(), "no errors of the previous run");
        assert_eq!(s.ask(t1), WITH_SLOW);
    }
}
