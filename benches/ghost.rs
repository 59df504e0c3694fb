//! The memory-sizing model at a size the test suite cannot run: a cache of 2 000 000 keys (LRU,
//! exact, in process) over a Zipf stream of 10 000 000 keys, with the model under its default
//! 32 MiB budget, so it samples. Compares the predicted hit ratio at 1.5×, 2× and 4× with exact
//! LRU caches of 3, 4 and 8 million keys fed the same stream, and measures the model's heap
//! with a counting allocator (peakmem-alloc: the peak of all bytes allocated while it runs,
//! beyond what the reference cache had allocated before it, which reserves its tables up
//! front).
//!
//! Run with `cargo bench --bench ghost` (Zipf 0.9) or `cargo bench --bench ghost -- 0.7 0.9
//! 1.1`; BENCHMARKS.md quotes the results.

#[path = "../tests/support/zipf.rs"]
mod zipf;

use std::alloc::System;
use std::time::{Duration, Instant};

use peakmem_alloc::{INSTRUMENTED_SYSTEM, PeakMemAlloc, PeakMemAllocTrait};
use redis_cache_exporter::core::ghost::curve::{Curve, Lookups, Sizing};
use redis_cache_exporter::core::ghost::lru::Lru;
use redis_cache_exporter::core::ghost::{DEFAULT_BUDGET_BYTES, Ghost, Settings};
use zipf::Zipf;

/// Every allocation counted, so the model's peak heap is known (a crate's allocator: this
/// bench writes no unsafe code).
#[global_allocator]
static ALLOCATOR: &PeakMemAlloc<System> = &INSTRUMENTED_SYSTEM;

const KEYS: u64 = 10_000_000;
const CACHE: usize = 2_000_000;
const WARM_UP: usize = 30_000_000;
const MEASURED: usize = 20_000_000;
const SEED: u64 = 2015;
const MULTIPLES: [f64; 3] = [1.5, 2.0, 4.0];
/// The model's clock: the warm-up in the first bucket, the measured part in a later one.
const MEASURED_AT: Duration = Duration::from_secs(1_000);

/// Hits of an LRU cache of `capacity` keys in the measured part of the stream.
fn real_hits(alpha: f64, capacity: usize) -> u64 {
    let mut z = Zipf::new(KEYS, alpha, SEED);
    let mut cache = Lru::new(capacity);
    let mut hits = 0;
    for i in 0..WARM_UP + MEASURED {
        let key = z.next_rank();
        if cache.get(key) {
            hits += u64::from(i >= WARM_UP);
        } else {
            cache.insert(key);
        }
    }
    hits
}

struct Modelled {
    curve: Curve,
    rate: f64,
    span_keys: f64,
    heap_self: usize,
    heap_peak: usize,
    hit_ratio: f64,
    seconds: f64,
}

fn model(alpha: f64) -> Modelled {
    let mut z = Zipf::new(KEYS, alpha, SEED);
    let mut cache = Lru::new(CACHE);
    // From here the peak counts only what the model and this loop allocate beyond the
    // reference cache, which reserved its tables up front.
    ALLOCATOR.reset_peak_memory();
    let started = Instant::now();
    let mut ghost = Ghost::new(Settings::default());
    ghost.set_keys_held(CACHE as u64);
    let (mut hits, mut misses) = (0u64, 0u64);
    for i in 0..WARM_UP + MEASURED {
        let measured = i >= WARM_UP;
        let at = if measured {
            MEASURED_AT
        } else {
            Duration::ZERO
        };
        let key = z.next_rank();
        // The model sees key hashes, not ranks.
        let hash = key.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        if cache.get(key) {
            hits += u64::from(measured);
            continue;
        }
        misses += u64::from(measured);
        ghost.on_miss(hash, at);
        if let Some(evicted) = cache.insert(key) {
            ghost.on_evicted(evicted.wrapping_mul(0x9e37_79b9_7f4a_7c15), at);
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let heap_peak = ALLOCATOR.get_peak_memory();
    let sizing = Sizing::from_key_bytes(CACHE as u64, 1.0).expect("a cache of keys");
    let lookups = Lookups {
        hits: hits as f64,
        misses: misses as f64,
        unfixable_misses: 0.0,
    };
    let span = ghost.span(MEASURED_AT);
    Modelled {
        curve: Curve::new(lookups, ghost.distances(MEASURED_AT), span, sizing)
            .expect("misses were seen"),
        rate: ghost.sampling_rate(),
        span_keys: span.keys,
        heap_self: ghost.heap_bytes(),
        heap_peak,
        hit_ratio: hits as f64 / (hits + misses) as f64,
        seconds,
    }
}

fn main() {
    let alphas: Vec<f64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let alphas = if alphas.is_empty() { vec![0.9] } else { alphas };
    let mib = |b: usize| b as f64 / f64::from(1 << 20);
    println!(
        "cache {CACHE} keys, stream over {KEYS} keys, {WARM_UP} lookups of warm-up, {MEASURED} \
         measured; budget {:.0} MiB",
        mib(DEFAULT_BUDGET_BYTES)
    );
    println!(
        "| Zipf | hit ratio | 1.5x pred / real | 2x pred / real | 4x pred / real | worst \
         | sampled % | span (keys) | heap (self-count) | heap (allocator peak) | model time |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for alpha in alphas {
        let m = model(alpha);
        let mut row = format!("| {alpha} | {:.4} |", m.hit_ratio);
        let mut worst = 0.0f64;
        for multiple in MULTIPLES {
            let real =
                real_hits(alpha, (CACHE as f64 * multiple) as usize) as f64 / MEASURED as f64;
            let predicted = m.curve.at_multiple(multiple).expect("within the span");
            worst = worst.max((predicted - real).abs());
            row.push_str(&format!(" {predicted:.4} / {real:.4} |"));
        }
        row.push_str(&format!(
            " {worst:.4} | {:.2} | {:.2e} | {:.1} MiB | {:.1} MiB | {:.1} s |",
            m.rate * 100.0,
            m.span_keys,
            mib(m.heap_self),
            mib(m.heap_peak),
            m.seconds
        ));
        println!("{row}");
    }
}
