//! Poll intervals hold under load: 50 targets at a 200 ms interval on two real redis-servers,
//! with /metrics scraped continuously. Each target's poll count over a measured span must match
//! the span divided by the interval (ratios, not absolute times, so a noisy machine does not make
//! the test flaky while a poller that falls behind, bunches or stalls still fails it).

mod support;

use std::time::{Duration, Instant};

use support::{Exporter, RedisServer, sample, wait_for};

const TARGETS: usize = 50;
const INTERVAL: Duration = Duration::from_millis(200);

fn polls(m: &str) -> Vec<f64> {
    (0..TARGETS)
        .map(|i| {
            sample(m, &format!("redis_exporter_polls_total{{target=\"t{i}\"}}"))
                .unwrap_or_else(|| panic!("no polls_total for t{i}"))
        })
        .collect()
}

#[test]
fn fifty_targets_keep_their_interval_under_scrape_load() {
    let servers = [RedisServer::start(&[]), RedisServer::start(&[])];
    let mut body = String::from("poll_interval = \"200ms\"\ntimeout = \"100ms\"\n");
    for i in 0..TARGETS {
        body.push_str(&format!(
            "[[targets]]\nname = \"t{i}\"\nurl = \"{}\"\n",
            servers[i % 2].url()
        ));
    }
    let e = Exporter::start(&body);
    wait_for("all targets up", Duration::from_secs(10), || {
        let m = e.metrics();
        (0..TARGETS)
            .all(|i| sample(&m, &format!("redis_up{{target=\"t{i}\"}}")) == Some(1.0))
            .then_some(())
    });
    // Load: a scraper hammering /metrics while the span is measured.
    let port = e.port;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let scraper = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut n = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let (status, _) = support::http_get(port, "/metrics").unwrap();
                assert_eq!(status, 200);
                n += 1;
            }
            n
        })
    };
    let t0 = Instant::now();
    let before_m = e.metrics();
    let before = polls(&before_m);
    std::thread::sleep(Duration::from_secs(5));
    let after_m = e.metrics();
    let span = t0.elapsed();
    let after = polls(&after_m);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let scrapes = scraper.join().unwrap();

    let expected = span.as_secs_f64() / INTERVAL.as_secs_f64();
    let ratios: Vec<f64> = before
        .iter()
        .zip(&after)
        .map(|(b, a)| (a - b) / expected)
        .collect();
    let total: f64 = ratios.iter().sum::<f64>() / TARGETS as f64;
    let (min, max) = ratios
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), r| (lo.min(*r), hi.max(*r)));
    eprintln!(
        "span {span:?}, {scrapes} scrapes, expected {expected:.1} polls per target: \
         fleet ratio {total:.3}, per target {min:.3}..{max:.3}"
    );
    // One poll more or less per target is the measuring edge; more means polls were skipped
    // (late) or bunched.
    let edge = 1.5 / expected;
    assert!(
        (0.95 - edge..=1.0 + edge).contains(&total),
        "fleet poll rate {total:.3} of the configured interval"
    );
    assert!(
        min >= 0.85 - edge && max <= 1.0 + edge,
        "per-target poll rate {min:.3}..{max:.3} of the configured interval"
    );
    let durations: Vec<f64> = (0..TARGETS)
        .filter_map(|i| {
            sample(
                &after_m,
                &format!("redis_exporter_last_poll_duration_seconds{{target=\"t{i}\"}}"),
            )
        })
        .collect();
    assert_eq!(durations.len(), TARGETS);
    eprintln!(
        "longest last poll: {:.1} ms",
        durations.iter().fold(0.0f64, |a, d| a.max(*d)) * 1e3
    );
    // Each poll ended before its timeout (half the interval), so none ran into the next tick:
    // no timeout was counted during the span and every target is still up. (How long polls
    // take is measured by the benchmarks in bench/.)
    assert_eq!(
        timeouts(&after_m),
        timeouts(&before_m),
        "polls timed out during the span"
    );
    for i in 0..TARGETS {
        assert_eq!(
            sample(&after_m, &format!("redis_up{{target=\"t{i}\"}}")),
            Some(1.0),
            "t{i}"
        );
    }
}

/// Timed-out polls of all targets so far.
fn timeouts(m: &str) -> f64 {
    (0..TARGETS)
        .map(|i| {
            sample(
                m,
                &format!("redis_exporter_poll_errors_total{{target=\"t{i}\",kind=\"timeout\"}}"),
            )
            .unwrap_or_else(|| panic!("no timeout counter for t{i}"))
        })
        .sum()
}
