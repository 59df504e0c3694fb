//! Micro-benchmarks of the pure core: parsing a real Redis 7.0 `INFO everything` capture,
//! deriving windows from a full 15-minute history, and rendering /metrics for 1 000 and 10 000
//! targets (with the per-target lines cached, as between polls, and rendered afresh; the first
//! scrape after a poll of every target, gzipped or not, as Prometheus scraping at the poll
//! interval has it), and classifying keyspace events in miss attribution's core (a
//! remembered set at its bound).
//!
//! Run with `cargo bench --bench core`; BENCHMARKS.md quotes the results.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use std::io::Write as _;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use redis_cache_exporter::core::attribution::{Attribution, Event};
use redis_cache_exporter::core::derive::Derived;
use redis_cache_exporter::core::derive::History;
use redis_cache_exporter::core::info::{self, Sample};
use redis_cache_exporter::http::ExporterCollector;
use redis_cache_exporter::metrics;
use redis_cache_exporter::state::{Outcome, Shared, TargetMeta};

/// A real `INFO everything` reply of Redis 7.0.15 with eviction going on.
const INFO_7_0: &str = include_str!("../tests/fixtures/info/redis-7.0-evicting.txt");

/// The poll interval the derivation benchmarks assume (the default).
const INTERVAL: Duration = Duration::from_secs(15);

/// Polls in the longest (15-minute) window at the default interval.
const POLLS_15M: u64 = 900 / 15;

/// Targets rendered per scrape in the rendering benchmarks.
const TARGETS: usize = 1_000;

fn sample() -> Sample {
    info::parse(INFO_7_0).expect("the fixture parses")
}

/// The sample of poll `n`: counters grow between polls as on a busy cache.
fn sample_at(base: &Sample, n: u64) -> Sample {
    let mut s = base.clone();
    let grow = |v: Option<u64>, by: u64| v.map(|v| v + by * n);
    s.keyspace_hits = grow(s.keyspace_hits, 900);
    s.keyspace_misses = grow(s.keyspace_misses, 100);
    s.evicted_keys = grow(s.evicted_keys, 7);
    s.expired_keys = grow(s.expired_keys, 3);
    s.uptime_in_seconds = grow(s.uptime_in_seconds, 15);
    s
}

/// A history holding a full 15-minute window of polls at the default interval.
fn full_history(base: &Sample) -> (History, u64) {
    let mut h = History::new(INTERVAL / 2);
    let polls = POLLS_15M + 2;
    for n in 0..polls {
        h.observe(INTERVAL * n as u32, &sample_at(base, n));
    }
    (h, polls)
}

/// Shared state with `n` targets, each holding a parsed sample and its derivation from a full
/// history, as after 15 minutes of polling.
fn shared_with_targets(n: usize) -> (Shared, Vec<Poll>) {
    let base = sample();
    let (mut history, polls) = full_history(&base);
    let shared = Shared::new();
    let mut done = Vec::with_capacity(n);
    for i in 0..n {
        let name = format!("cache-{i:05}");
        let mut labels = BTreeMap::new();
        labels.insert("team".to_string(), format!("team-{}", i % 10));
        shared.add(TargetMeta {
            name: name.clone(),
            labels,
            cache: true,
            // Never stale while the benchmark runs.
            stale_after: Duration::from_secs(24 * 3600),
        });
        let s = sample_at(&base, polls + i as u64);
        let derived = history.observe(INTERVAL * (polls as u32 + i as u32), &s);
        let poll = (name, Arc::new(s), Arc::new(derived));
        record(&shared, &poll);
        done.push(poll);
    }
    (shared, done)
}

/// A target's last successful poll, to be recorded again.
type Poll = (String, Arc<Sample>, Arc<Derived>);

/// Records `poll` as a new successful poll: the target's snapshot, and the lines kept with it,
/// are replaced.
fn record(shared: &Shared, (name, sample, derived): &Poll) {
    shared.record(
        name,
        Outcome::Success {
            sample: sample.clone(),
            derived: derived.clone(),
        },
        Duration::from_micros(350),
        Duration::ZERO,
        1.8e9,
    );
}

fn parse(c: &mut Criterion) {
    c.bench_function("info_parse_redis_7_0_everything", |b| {
        b.iter(|| info::parse(black_box(INFO_7_0)));
    });
}

fn derive(c: &mut Criterion) {
    let base = sample();
    let (mut h, mut n) = full_history(&base);
    // Samples prepared up front so only `observe` is timed; the ring keeps its 15-minute size.
    let samples: Vec<Sample> = (0..64).map(|i| sample_at(&base, n + i)).collect();
    c.bench_function("derive_observe_full_15m_history", |b| {
        b.iter(|| {
            let s = &samples[(n % 64) as usize];
            n += 1;
            black_box(h.observe(INTERVAL * n as u32, s))
        });
    });
}

fn render(c: &mut Criterion) {
    for n in [TARGETS, 10 * TARGETS] {
        let (shared, polls) = shared_with_targets(n);
        let collector = ExporterCollector::new(shared.clone(), tokio::time::Instant::now());
        let text = collector.render();
        let samples = text.lines().filter(|l| !l.starts_with('#')).count();
        println!(
            "render: {n} targets, {samples} samples, {} bytes",
            text.len()
        );
        let now = Duration::from_secs(1);
        let mut g = c.benchmark_group(format!("render_{n}_targets"));
        g.sample_size(if n > TARGETS { 10 } else { 30 });
        if n == TARGETS {
            g.bench_function("families", |b| {
                b.iter(|| metrics::families(&shared.snapshots(), &shared.globals(), now));
            });
        }
        // Every line rendered afresh (what /metrics did before per-target caching).
        g.bench_function("render_text_uncached", |b| {
            b.iter(|| {
                let mut out = String::new();
                metrics::render_text_uncached(
                    &shared.snapshots(),
                    &shared.globals(),
                    now,
                    &mut out,
                );
                out
            });
        });
        // Every target's lines already kept (from a snapshot's second scrape on), into one String.
        g.bench_function("render_text", |b| b.iter(|| collector.render()));
        // The same lines as /metrics sends them: 128 KiB pieces, each dropped once sent.
        g.bench_function("render_chunks", |b| {
            b.iter(|| {
                collector.render_chunks(128 * 1024, &mut |piece, _| {
                    black_box(piece);
                    true
                });
            });
        });
        // The first scrape after every target was polled (Prometheus scraping at the poll
        // interval: nothing kept), as /metrics sends it, then gzipped as the response is.
        let repoll = || polls.iter().for_each(|p| record(&shared, p));
        g.bench_function("first_scrape_chunks", |b| {
            b.iter_batched(
                repoll,
                |()| first_scrape(&collector, false),
                BatchSize::PerIteration,
            );
        });
        g.bench_function("first_scrape_chunks_gzip", |b| {
            b.iter_batched(
                repoll,
                |()| first_scrape(&collector, true),
                BatchSize::PerIteration,
            );
        });
        // The same first scrape as /metrics gzips it: rendered and deflated in blocks of
        // targets, on one thread (its CPU) and on two (its wall time on two cores).
        for threads in [1, 2] {
            g.bench_function(format!("first_scrape_gzip_{threads}_threads"), |b| {
                b.iter_batched(
                    repoll,
                    |()| {
                        let mut wire = 0;
                        let done = collector.render_gzip_on(threads, 256 * 1024, &mut |p, _| {
                            wire += p.len();
                            true
                        });
                        (done.is_ok(), wire)
                    },
                    BatchSize::PerIteration,
                );
            });
        }
        g.finish();
    }
}

/// One removal and one miss per iteration (two events) on a full 200 000-key memory, with
/// 50 prefixes: the pure part of the exporter's CPU per event.
fn attribution(c: &mut Criterion) {
    let mut a = Attribution::new(200_000, ":", 1, &[], 20);
    let keys: Vec<String> = (0..400_000)
        .map(|i| format!("p{}:{i:08}", i % 50))
        .collect();
    for k in &keys[..200_000] {
        a.on_event(Event::Evicted, k.as_bytes(), Duration::from_secs(1));
    }
    let mut i = 0usize;
    c.bench_function("attribution_removal_then_miss", |b| {
        b.iter(|| {
            let k = keys[i % keys.len()].as_bytes();
            i += 1;
            a.on_event(Event::Expired, black_box(k), Duration::from_secs(2));
            black_box(a.on_event(Event::Keymiss, black_box(k), Duration::from_secs(2)))
        });
    });
}

/// One /metrics scrape in 128 KiB pieces, gzipped at the fastest level when `gzip` (as the
/// response is); the size of what would be sent.
fn first_scrape(collector: &ExporterCollector, gzip: bool) -> usize {
    let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut plain = 0;
    collector.render_chunks(128 * 1024, &mut |piece, _| {
        plain += piece.len();
        if gzip {
            // Writing into a Vec cannot fail.
            let _ = z.write_all(piece.as_bytes());
        }
        true
    });
    if gzip {
        z.finish().map_or(0, |v| v.len())
    } else {
        plain
    }
}

criterion_group!(benches, parse, derive, render, attribution);
criterion_main!(benches);
