//! The model's tests: literal event sequences with their exact distances, and the property that
//! on an LRU cache of C keys the model predicts exactly the hits of one of C + k keys.

use std::time::Duration;

use proptest::prelude::*;

use super::curve::{Curve, Lookups, Sizing};
use super::lru::Lru;
use super::*;

fn at(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn model() -> Ghost {
    Ghost::new(Settings::default())
}

#[test]
fn a_miss_on_an_evicted_key_has_the_distance_of_the_evictions_after_it() {
    let mut g = model();
    for k in [1, 2, 3] {
        g.on_evicted(k, at(0));
    }
    assert_eq!(g.on_miss(1, at(1)), Some(2));
    // 1 left the list when it was missed (cache-aside wrote it back).
    assert_eq!(g.on_miss(3, at(1)), Some(0));
    assert_eq!(g.on_miss(2, at(1)), Some(0));
    assert_eq!(
        g.on_miss(2, at(1)),
        None,
        "missed again before being evicted again"
    );
    assert_eq!(g.on_miss(9, at(1)), None, "never evicted: cold");
    let d = g.distances(at(0));
    assert_eq!(d.misses, 5.0);
    assert_eq!(d.found(), 3.0);
    assert_eq!(d.below(1.0), 2.0);
    assert_eq!(d.below(3.0), 3.0);
}

#[test]
fn written_or_deleted_keys_leave_the_list() {
    let mut g = model();
    for k in [1, 2, 3] {
        g.on_evicted(k, at(0));
    }
    g.on_removed(2);
    assert_eq!(g.on_miss(2, at(0)), None);
    assert_eq!(
        g.on_miss(1, at(0)),
        Some(1),
        "2 no longer counts between 1 and the top"
    );
}

#[test]
fn a_key_evicted_twice_counts_once_at_its_latest_eviction() {
    let mut g = model();
    for k in [1, 2, 1, 3] {
        g.on_evicted(k, at(0));
    }
    assert_eq!(g.on_miss(2, at(0)), Some(2));
    assert_eq!(g.on_miss(1, at(0)), Some(1));
}

#[test]
fn windows_sum_their_buckets() {
    let mut g = model();
    g.on_evicted(1, at(0));
    g.on_evicted(2, at(0));
    g.on_miss(1, at(5));
    g.on_miss(2, at(65));
    g.on_miss(7, at(65));
    assert_eq!(g.distances(at(0)).misses, 3.0);
    assert_eq!(g.distances(at(60)).misses, 2.0);
    assert_eq!(g.distances(at(60)).found(), 1.0);
    // Past the 15-minute retention the first bucket is gone.
    g.on_miss(8, at(1_000));
    assert_eq!(g.distances(at(0)).misses, 1.0);
}

#[test]
fn the_span_counts_keys_and_seconds() {
    let mut g = model();
    assert_eq!(
        g.span(at(5)),
        Span {
            keys: 0.0,
            seconds: 0.0,
            complete: true
        }
    );
    g.on_evicted(1, at(10));
    g.on_evicted(2, at(20));
    g.on_miss(1, at(30));
    let s = g.span(at(50));
    assert_eq!((s.keys, s.seconds, s.complete), (1.0, 30.0, true));
}

/// A deterministic stream of Zipf-distributed keys over `n` keys (inverse CDF on a table; the
/// model's own tests stay free of the suite's generator).
fn zipf_stream(seed: u64, n: usize, alpha: f64, len: usize) -> Vec<u64> {
    let mut cdf: Vec<f64> = (1..=n).map(|r| (r as f64).powf(-alpha)).collect();
    let mut sum = 0.0;
    for c in &mut cdf {
        sum += *c;
        *c = sum;
    }
    let mut state = seed;
    (0..len)
        .map(|_| {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let u = (mix(state) >> 11) as f64 / (1u64 << 53) as f64 * sum;
            cdf.partition_point(|&c| c < u) as u64
        })
        .collect()
}

/// When the measured part of a stream is seen (the warm-up is at time 0).
const MEASURED_AT: u64 = 120;

/// What a stream did from its measured part on.
struct Run {
    hits: u64,
    misses: u64,
    /// The distances the model reported.
    distances: Vec<u64>,
}

/// Runs `stream` cache-aside through an LRU of `capacity` keys, feeding `ghost` when given;
/// counts from `measure_from` on.
fn run(stream: &[u64], capacity: usize, measure_from: usize, mut ghost: Option<&mut Ghost>) -> Run {
    let mut cache = Lru::new(capacity);
    let mut r = Run {
        hits: 0,
        misses: 0,
        distances: Vec::new(),
    };
    for (i, &key) in stream.iter().enumerate() {
        let measured = i >= measure_from;
        let now = at(if measured { MEASURED_AT } else { 0 });
        if cache.get(key) {
            r.hits += u64::from(measured);
            continue;
        }
        r.misses += u64::from(measured);
        let Some(g) = ghost.as_deref_mut() else {
            cache.insert(key);
            continue;
        };
        if let Some(d) = g.on_miss(key, now) {
            r.distances.push(d);
        }
        if let Some(evicted) = cache.insert(key) {
            g.on_evicted(evicted, now);
        }
    }
    r
}

/// Settings with 1-minute buckets and room for at least `entries` in the list.
fn room_for(entries: usize) -> Settings {
    let settings = Settings {
        budget_bytes: 0,
        bucket: Duration::from_secs(60),
        retention: Duration::from_secs(60),
    };
    Settings {
        budget_bytes: histogram_allowance(&settings) + list::GhostList::budget_for(entries),
        ..settings
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// The LRU stack property: the distances the model reports on a cache of C keys say exactly
    /// which misses a cache of C + k keys would have hit; the curve, read from binned
    /// distances, is within one bin's width of it.
    #[test]
    fn the_model_predicts_a_larger_lru_cache_exactly(
        seed in any::<u64>(),
        n in 300usize..3_000,
        alpha in 0.5f64..1.3,
        capacity in 5usize..300,
    ) {
        let stream = zipf_stream(seed, n, alpha, 20_000);
        let mut ghost = model();
        let Run { hits, misses, distances: exact } = run(&stream, capacity, 0, Some(&mut ghost));
        let sizing = Sizing::from_key_bytes(capacity as u64, 1.0).unwrap();
        let lookups = Lookups { hits: hits as f64, misses: misses as f64, unfixable_misses: 0.0 };
        let span = ghost.span(at(MEASURED_AT));
        let curve = Curve::new(lookups, ghost.distances(at(0)), span, sizing).unwrap();
        let below = |k: f64| exact.iter().filter(|&&d| (d as f64) < k).count() as f64;
        for k in [1usize, 3, 10, 40, 64, 100, 333, 1_000] {
            let bigger_hits = run(&stream, capacity + k, 0, None).hits;
            prop_assert_eq!(bigger_hits as f64, hits as f64 + below(k as f64), "k = {}", k);
            let predicted = curve.with_extra_keys(k as f64).unwrap() * stream.len() as f64;
            let slack = below(k as f64 * 33.0 / 32.0 + 1.0) - below(k as f64 * 31.0 / 32.0);
            prop_assert!(
                (predicted - bigger_hits as f64).abs() <= slack + 1e-6,
                "k = {}: predicted {} hits, real {}", k, predicted, bigger_hits
            );
        }
    }
}

#[test]
fn above_the_budget_keys_are_sampled_and_the_prediction_stays_close() {
    // 60 000 keys into a cache of 2 000: the ghost list would reach ~58 000 entries; 4 000 fit.
    let settings = room_for(4_000);
    let stream = zipf_stream(7, 60_000, 0.8, 400_000);
    let (capacity, warm_up) = (2_000, 100_000);
    let mut ghost = Ghost::new(settings);
    ghost.set_keys_held(capacity as u64);
    let Run { hits, misses, .. } = run(&stream, capacity, warm_up, Some(&mut ghost));
    assert!(
        ghost.sampling_rate() < 0.5,
        "rate {}",
        ghost.sampling_rate()
    );
    assert!(
        ghost.heap_bytes() <= settings.budget_bytes,
        "{} bytes held, budget {}",
        ghost.heap_bytes(),
        settings.budget_bytes
    );
    let sizing = Sizing::from_key_bytes(capacity as u64, 1.0).unwrap();
    let lookups = Lookups {
        hits: hits as f64,
        misses: misses as f64,
        unfixable_misses: 0.0,
    };
    let curve = ghost
        .curve(at(MEASURED_AT), at(MEASURED_AT), lookups, sizing)
        .unwrap();
    for multiple in [1.5, 2.0, 4.0] {
        // The real hit ratio of the measured part, with the same warm-up.
        let size = (capacity as f64 * multiple) as usize;
        let real = run(&stream, size, warm_up, None).hits as f64 / (hits + misses) as f64;
        let predicted = curve.at_multiple(multiple).unwrap();
        assert!(
            (predicted - real).abs() < 0.02,
            "{multiple}x: predicted {predicted:.4}, real {real:.4}, rate {}",
            ghost.sampling_rate()
        );
    }
}

#[test]
fn past_the_useful_span_the_oldest_entries_go_and_the_span_becomes_a_limit() {
    let mut g = Ghost::new(room_for(100));
    let room = g.list.capacity() as u64;
    assert!((100..200).contains(&room), "{room}");
    // 10 keys held: entries beyond 80 keys are of no use, and the list is full before.
    g.set_keys_held(10);
    for k in 0..room + 50 {
        g.on_evicted(k, at(k));
    }
    assert_eq!(g.sampling_rate(), 1.0);
    let s = g.span(at(room + 50));
    assert_eq!((s.keys, s.complete), (room as f64, false));
    assert_eq!(s.seconds, room as f64);
    assert_eq!(g.on_miss(10, at(room + 50)), None, "dropped");
    assert_eq!(g.on_miss(room + 49, at(room + 50)), Some(0));
}
