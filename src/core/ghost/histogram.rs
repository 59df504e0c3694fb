//! Histograms of stack distances: exact below 64, then 32 bins per power of two (a bin is at
//! most 1/32 of its distance wide), with weights rather than counts so sampled misses count
//! for the keys they stand for; and the ring of time buckets a window sums.

use std::collections::VecDeque;

/// Distances below this have a bin each.
const EXACT: u64 = 64;
/// Bins per power of two above [`EXACT`].
const PER_OCTAVE: u64 = 32;
/// log2(EXACT).
const EXACT_BITS: u32 = 6;

fn bin(distance: u64) -> usize {
    if distance < EXACT {
        return distance as usize;
    }
    let octave = distance.ilog2(); // ≥ EXACT_BITS
    let sub = (distance >> (octave - 5)) & (PER_OCTAVE - 1);
    (EXACT + u64::from(octave - EXACT_BITS) * PER_OCTAVE + sub) as usize
}

/// `[low, high)` of a bin.
fn bounds(bin: usize) -> (f64, f64) {
    let bin = bin as u64;
    if bin < EXACT {
        return (bin as f64, (bin + 1) as f64);
    }
    let octave = u64::from(EXACT_BITS) + (bin - EXACT) / PER_OCTAVE;
    let sub = (bin - EXACT) % PER_OCTAVE;
    let step = 1u64 << (octave - 5);
    (((32 + sub) * step) as f64, ((33 + sub) * step) as f64)
}

/// Weighted distances of the misses on keys found in the ghost list, and the weight of every
/// miss seen on a tracked key (found or not).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Distances {
    /// Weight per bin.
    bins: Vec<f64>,
    /// Misses on tracked keys, each weighted by the inverse of the sampling rate in force.
    pub misses: f64,
}

impl Distances {
    pub(crate) fn add(&mut self, distance: u64, weight: f64) {
        let b = bin(distance);
        if self.bins.len() <= b {
            self.bins.resize(b + 1, 0.0);
        }
        self.bins[b] += weight;
    }

    pub(crate) fn merge(&mut self, other: &Distances) {
        if self.bins.len() < other.bins.len() {
            self.bins.resize(other.bins.len(), 0.0);
        }
        for (a, b) in self.bins.iter_mut().zip(&other.bins) {
            *a += b;
        }
        self.misses += other.misses;
    }

    /// Weight of the misses found at a distance below `k` (within a bin, distances are taken to
    /// be spread evenly).
    pub fn below(&self, k: f64) -> f64 {
        let mut sum = 0.0;
        for (i, w) in self.bins.iter().enumerate() {
            let (low, high) = bounds(i);
            if k >= high {
                sum += w;
            } else {
                if k > low {
                    sum += w * (k - low) / (high - low);
                }
                break;
            }
        }
        sum
    }

    /// Weight of all misses found in the ghost list.
    pub fn found(&self) -> f64 {
        self.bins.iter().sum()
    }

    /// The smallest `k` with `below(k) >= weight`, or `None` when all found misses weigh less.
    pub fn smallest_reaching(&self, weight: f64) -> Option<f64> {
        if weight <= 0.0 {
            return Some(0.0);
        }
        let mut sum = 0.0;
        for (i, w) in self.bins.iter().enumerate() {
            if *w > 0.0 && sum + w >= weight {
                let (low, high) = bounds(i);
                return Some(low + (high - low) * (weight - sum) / w);
            }
            sum += w;
        }
        None
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.bins.capacity() * std::mem::size_of::<f64>()
    }
}

/// One time bucket: what was seen from `start` for one bucket width.
#[derive(Debug, Clone)]
struct Bucket {
    start: u64,
    distances: Distances,
}

/// A ring of time buckets, the oldest dropped past the retention.
#[derive(Debug, Clone)]
pub(crate) struct Buckets {
    ring: VecDeque<Bucket>,
    width: u64,
    retention: u64,
}

impl Buckets {
    /// Buckets of `width_secs` (at least 1) kept for `retention_secs`.
    pub(crate) fn new(width_secs: u64, retention_secs: u64) -> Buckets {
        Buckets {
            ring: VecDeque::new(),
            width: width_secs.max(1),
            retention: retention_secs,
        }
    }

    /// The bucket for time `at_secs`. A time before the newest bucket (the caller's clock is
    /// monotonic, so only by rounding) goes into the newest.
    pub(crate) fn at(&mut self, at_secs: u64) -> &mut Distances {
        let start = at_secs - at_secs % self.width;
        if self.ring.back().is_none_or(|b| b.start < start) {
            self.ring.push_back(Bucket {
                start,
                distances: Distances::default(),
            });
            while self
                .ring
                .front()
                .is_some_and(|b| b.start + self.width + self.retention <= start)
            {
                self.ring.pop_front();
            }
        }
        &mut self
            .ring
            .back_mut()
            .expect("a bucket was just ensured")
            .distances
    }

    /// The sum of the buckets that end after `since_secs`.
    pub(crate) fn since(&self, since_secs: u64) -> Distances {
        let mut sum = Distances::default();
        for b in self
            .ring
            .iter()
            .filter(|b| b.start + self.width > since_secs)
        {
            sum.merge(&b.distances);
        }
        sum
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.ring.capacity() * std::mem::size_of::<Bucket>()
            + self
                .ring
                .iter()
                .map(|b| b.distances.heap_bytes())
                .sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_are_exact_below_64_and_narrow_above() {
        for d in 0..64 {
            assert_eq!(bounds(bin(d)), (d as f64, d as f64 + 1.0));
        }
        for d in [64u64, 65, 100, 1_000, 123_456, 1 << 40] {
            let (low, high) = bounds(bin(d));
            assert!(
                low <= d as f64 && (d as f64) < high,
                "{d} in [{low}, {high})"
            );
            assert!((high - low) / low <= 1.0 / 32.0 + 1e-12);
        }
        // Consecutive bins tile the line.
        for b in 0..500 {
            assert_eq!(bounds(b).1, bounds(b + 1).0);
        }
    }

    #[test]
    fn below_and_its_inverse() {
        let mut d = Distances::default();
        d.add(0, 1.0);
        d.add(3, 2.0);
        d.add(64, 4.0); // bin [64, 66)
        assert_eq!(d.below(0.0), 0.0);
        assert_eq!(d.below(1.0), 1.0);
        assert_eq!(d.below(4.0), 3.0);
        assert_eq!(d.below(65.0), 5.0);
        assert_eq!(d.found(), 7.0);
        assert_eq!(d.smallest_reaching(3.0), Some(4.0));
        assert_eq!(d.smallest_reaching(5.0), Some(65.0));
        assert_eq!(d.smallest_reaching(7.5), None);
    }

    #[test]
    fn buckets_sum_what_the_window_covers_and_forget_past_retention() {
        let mut b = Buckets::new(10, 60);
        b.at(5).misses += 1.0;
        b.at(15).misses += 2.0;
        b.at(12).misses += 4.0;
        assert_eq!(b.since(0).misses, 7.0);
        assert_eq!(b.since(10).misses, 6.0);
        assert_eq!(b.since(20).misses, 0.0);
        b.at(75).misses += 8.0;
        // The bucket from 0 ended 60 s before the one from 70: past the 60 s retention.
        assert_eq!(b.since(0).misses, 14.0);
        b.at(200).misses += 16.0;
        assert_eq!(b.since(0).misses, 16.0);
    }
}
