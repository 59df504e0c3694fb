//! The history ring's storage: one compact point per poll (its time, the increase of each
//! tracked counter since the previous point), read back as running totals.
//!
//! Pure: no IO, no tokio, no redis imports. A target holds 15 minutes of points, so with
//! 10 000 targets every byte of a point is 10 000 × 61 bytes: a point is 24 bytes (a time
//! stamp and four 32-bit increases) instead of the 48 of a time and four 64-bit totals. An
//! increase that does not fit in 32 bits is kept exactly in a side queue, so values never
//! wrap or saturate.
//!
//! Totals read back are the increases summed from the oldest point held, so they differ from
//! the totals pushed by a constant per counter: derivation only takes differences of totals
//! (of two points that have the counter), which are the same either way.

use std::collections::VecDeque;
use std::time::Duration;

/// Counters per point.
pub(crate) const COUNTERS: usize = 4;

/// Bits of [`Point::stamp`] holding the time in nanoseconds (36 years); the top bits say
/// which counters are present.
const TIME_BITS: u32 = 60;
const TIME_MASK: u64 = (1 << TIME_BITS) - 1;

/// An increase too large for a point's 32 bits: the exact value is in [`Ring::wide`].
const WIDE: u32 = u32::MAX;

/// One poll: when, which counters it had, and how much each grew since the previous point.
#[derive(Debug, Clone, Copy)]
struct Point {
    /// Nanoseconds since the monotonic origin (low 60 bits); bit `60 + i` set when counter `i`
    /// was present.
    stamp: u64,
    inc: [u32; COUNTERS],
}

impl Point {
    fn at(&self) -> Duration {
        Duration::from_nanos(self.stamp & TIME_MASK)
    }

    fn present(&self, i: usize) -> bool {
        self.stamp & (1 << (TIME_BITS as usize + i)) != 0
    }
}

/// A point as read back: its time and the running total of each counter it had.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Entry {
    pub at: Duration,
    pub total: [Option<u64>; COUNTERS],
}

/// Points oldest first. Totals pushed must not decrease (they are reset-adjusted).
#[derive(Debug, Clone, Default)]
pub(crate) struct Ring {
    points: VecDeque<Point>,
    /// Increases marked [`WIDE`], in point and counter order.
    wide: VecDeque<u64>,
    /// The last total pushed for each counter (where it was present).
    last: [u64; COUNTERS],
    /// The newest point's totals: the increases since the oldest point.
    newest: [u64; COUNTERS],
}

impl Ring {
    /// Room for `n` points at once, so a ring that fills up never reallocates (nor ends at
    /// twice the room it needs).
    pub(crate) fn reserve(&mut self, n: usize) {
        self.points
            .reserve_exact(n.saturating_sub(self.points.len()));
    }

    pub(crate) fn len(&self) -> usize {
        self.points.len()
    }

    #[cfg(test)]
    pub(crate) fn capacity(&self) -> usize {
        self.points.capacity()
    }

    /// Time of the newest point.
    pub(crate) fn newest_at(&self) -> Option<Duration> {
        self.points.back().map(Point::at)
    }

    /// Time of the oldest point.
    pub(crate) fn oldest_at(&self) -> Option<Duration> {
        self.points.front().map(Point::at)
    }

    /// Appends a point at `at` with the running totals `total` (absent counters `None`).
    pub(crate) fn push(&mut self, at: Duration, total: [Option<u64>; COUNTERS]) {
        let nanos = u64::try_from(at.as_nanos()).map_or(TIME_MASK, |n| n.min(TIME_MASK));
        let mut p = Point {
            stamp: nanos,
            inc: [0; COUNTERS],
        };
        let first = self.points.is_empty();
        for (i, t) in total.iter().enumerate() {
            let Some(t) = *t else { continue };
            p.stamp |= 1 << (TIME_BITS as usize + i);
            // The oldest point is the base: its own increase is never read.
            let inc = if first {
                0
            } else {
                t.saturating_sub(self.last[i])
            };
            self.last[i] = t;
            if !first {
                self.newest[i] += inc;
            }
            p.inc[i] = match u32::try_from(inc) {
                Ok(small) if small != WIDE => small,
                _ => {
                    self.wide.push_back(inc);
                    WIDE
                }
            };
        }
        self.points.push_back(p);
    }

    /// Drops the oldest point; the next one becomes the base of the totals.
    pub(crate) fn pop_oldest(&mut self) {
        let Some(old) = self.points.pop_front() else {
            return;
        };
        for inc in old.inc {
            if inc == WIDE {
                self.wide.pop_front();
            }
        }
        let Some(base) = self.points.front() else {
            self.newest = [0; COUNTERS];
            return;
        };
        // The new base's increase no longer lies between the oldest and newest points.
        let mut wide = self.wide.iter();
        for i in 0..COUNTERS {
            let inc = match base.inc[i] {
                WIDE => wide.next().copied().unwrap_or(0),
                small => u64::from(small),
            };
            self.newest[i] -= inc;
        }
    }

    /// The newest point.
    pub(crate) fn newest(&self) -> Option<Entry> {
        let p = self.points.back()?;
        let mut total = [None; COUNTERS];
        for (i, t) in total.iter_mut().enumerate() {
            *t = p.present(i).then_some(self.newest[i]);
        }
        Some(Entry { at: p.at(), total })
    }

    /// Every point, oldest first, with totals summed from the oldest.
    pub(crate) fn iter(&self) -> impl DoubleEndedIterator<Item = Entry> + '_ {
        // Totals run forward from the oldest point; walking back, they come from the newest.
        let entries: Vec<Entry> = {
            let mut wide = self.wide.iter();
            let mut sum = [0u64; COUNTERS];
            self.points
                .iter()
                .enumerate()
                .map(|(k, p)| {
                    let mut total = [None; COUNTERS];
                    for i in 0..COUNTERS {
                        let inc = match p.inc[i] {
                            WIDE => wide.next().copied().unwrap_or(0),
                            small => u64::from(small),
                        };
                        if k > 0 {
                            sum[i] += inc;
                        }
                        total[i] = p.present(i).then_some(sum[i]);
                    }
                    Entry { at: p.at(), total }
                })
                .collect()
        };
        entries.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn a_point_is_24_bytes() {
        assert_eq!(std::mem::size_of::<Point>(), 24);
    }

    #[test]
    fn totals_read_back_keep_their_differences_and_absent_counters_apart_from_zero() {
        let mut r = Ring::default();
        r.push(secs(1), [Some(10), None, Some(0), Some(5)]);
        r.push(secs(2), [Some(17), Some(3), Some(0), None]);
        r.push(secs(3), [Some(20), Some(4), Some(2), Some(9)]);
        let all: Vec<Entry> = r.iter().collect();
        assert_eq!(
            all.iter().map(|e| e.total).collect::<Vec<_>>(),
            [
                [Some(0), None, Some(0), Some(0)],
                // Counter 1 first seen here: its total counts from 0, as before it was seen.
                [Some(7), Some(3), Some(0), None],
                [Some(10), Some(4), Some(2), Some(4)],
            ]
        );
        assert_eq!(r.newest(), all.last().copied());
        assert_eq!(all[1].at, secs(2));
        r.pop_oldest();
        let all: Vec<Entry> = r.iter().collect();
        assert_eq!(all[0].total, [Some(0), Some(0), Some(0), None]);
        assert_eq!(all[1].total, [Some(3), Some(1), Some(2), Some(4)]);
        assert_eq!(r.newest(), all.last().copied());
    }

    #[test]
    fn increases_beyond_32_bits_stay_exact_as_points_come_and_go() {
        let big = 5u64 << 32;
        let mut r = Ring::default();
        r.push(secs(0), [Some(0), Some(0), Some(0), Some(0)]);
        r.push(
            secs(1),
            [Some(big), Some(1), Some(u64::from(WIDE)), Some(0)],
        );
        r.push(
            secs(2),
            [Some(big + 1), Some(big + 1), Some(u64::from(WIDE)), Some(0)],
        );
        assert_eq!(
            r.newest().unwrap().total,
            [Some(big + 1), Some(big + 1), Some(u64::from(WIDE)), Some(0)]
        );
        assert_eq!(r.wide.len(), 3);
        r.pop_oldest();
        assert_eq!(
            r.newest().unwrap().total,
            [Some(1), Some(big), Some(0), Some(0)]
        );
        assert_eq!(r.iter().last().unwrap().total, r.newest().unwrap().total);
        r.pop_oldest();
        assert_eq!(r.wide.len(), 1);
        assert_eq!(r.newest().unwrap().total, [Some(0); COUNTERS]);
        r.pop_oldest();
        assert!(r.newest().is_none());
        assert!(r.wide.is_empty());
    }

    #[test]
    fn reserved_room_is_exact() {
        let mut r = Ring::default();
        r.reserve(62);
        assert!(r.capacity() >= 62 && r.capacity() < 64, "{}", r.capacity());
    }
}
