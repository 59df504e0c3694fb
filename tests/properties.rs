//! Property tests (proptest) of the pure parts on generated input: the INFO parser, the reply
//! handling behind it, the derivation over arbitrary histories (resets, restarts, time steps)
//! and the configuration loader. None may panic; outputs stay bounded by their input; derived
//! values are never negative, ratios stay in [0, 1], and a window never counts more than the
//! raw counters could have added.

use std::io::Write;
use std::time::Duration;

use proptest::prelude::*;
use redis::Value;
use redis_cache_exporter::cli::Cli;
use redis_cache_exporter::client::call;
use redis_cache_exporter::core::derive::{History, Window};
use redis_cache_exporter::core::info::{self, Sample};

/// Field names the parser knows, plus a few it must ignore, to steer generated lines towards
/// the interesting paths.
const KEYS: &[&str] = &[
    "redis_version",
    "run_id",
    "uptime_in_seconds",
    "keyspace_hits",
    "keyspace_misses",
    "evicted_keys",
    "expired_keys",
    "used_memory",
    "maxmemory",
    "maxmemory_policy",
    "total_system_memory",
    "mem_fragmentation_ratio",
    "mem_not_counted_for_evict",
    "loading",
    "role",
    "master_link_status",
    "cmdstat_get",
    "cmdstat_config|get",
    "cmdstat_",
    "db0",
    "db4294967295",
    "db99999999999",
    "unknown_field",
    "Not A Field",
    "",
];

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<u64>().prop_map(|v| v.to_string()),
        any::<i64>().prop_map(|v| v.to_string()),
        any::<f64>().prop_map(|v| v.to_string()),
        Just("calls=1,usec=2,usec_per_call=2.00,rejected_calls=0,failed_calls=0".to_string()),
        Just("keys=10,expires=2,avg_ttl=100".to_string()),
        "[a-z=,0-9.]{0,40}",
        ".{0,20}",
    ]
}

fn info_line() -> impl Strategy<Value = String> {
    prop_oneof![
        (prop::sample::select(KEYS), value()).prop_map(|(k, v)| format!("{k}:{v}")),
        "# [A-Za-z]{0,12}".prop_map(|s| s.to_string()),
        ".{0,60}",
    ]
}

fn info_text() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(info_line(), 0..40),
        prop::sample::select(vec!["\r\n", "\n", "\r"]),
    )
        .prop_map(|(lines, sep)| lines.join(sep))
}

/// Everything a sample holds is bounded by the text it came from.
fn assert_bounded(text: &str, s: &Sample) {
    let lines = text.split('\n').count();
    assert!(s.commands.len() + s.keyspace.len() <= lines);
    assert!(s.skipped.len() <= lines);
    for v in [&s.redis_version, &s.run_id, &s.role, &s.maxmemory_policy]
        .into_iter()
        .flatten()
    {
        assert!(v.len() <= text.len());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn info_parser_never_panics_on_arbitrary_text(text in ".{0,400}") {
        if let Ok(s) = info::parse(&text) {
            assert_bounded(&text, &s);
        }
    }

    #[test]
    fn info_parser_never_panics_on_info_like_text(text in info_text()) {
        if let Ok(s) = info::parse(&text) {
            assert_bounded(&text, &s);
            if let Some(r) = s.mem_fragmentation_ratio {
                prop_assert!(r.is_finite());
            }
        }
    }

    #[test]
    fn resp_replies_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(v) = redis::parse_redis_value(&bytes) {
            let pairs = call::config_pairs(v.clone());
            prop_assert!(pairs.len() <= bytes.len());
            if let Ok(text) = call::reply_text(v) {
                let _ = info::parse(&text);
            }
        }
    }

    #[test]
    fn resp_replies_with_valid_framing_never_panic(
        items in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..30), 0..8),
        kind in 0..3u8,
    ) {
        // Well-framed arrays, maps and bulk strings of arbitrary content.
        let mut b = Vec::new();
        match kind {
            0 => b.extend_from_slice(format!("*{}\r\n", items.len()).as_bytes()),
            1 => b.extend_from_slice(format!("%{}\r\n", items.len() / 2).as_bytes()),
            _ => {}
        }
        for it in &items {
            b.extend_from_slice(format!("${}\r\n", it.len()).as_bytes());
            b.extend_from_slice(it);
            b.extend_from_slice(b"\r\n");
        }
        if let Ok(v) = redis::parse_redis_value(&b) {
            prop_assert!(call::config_pairs(v.clone()).len() <= items.len());
            let _ = call::reply_text(v);
        }
    }
}

/// One generated observation: counter values, whether the server restarted, and the time step.
#[derive(Debug, Clone)]
struct Obs {
    hits: u64,
    misses: u64,
    evicted: u64,
    expired: u64,
    restart: bool,
    /// Milliseconds since the previous observation; negative steps model a clock going back.
    step_ms: i64,
}

/// Counter values span the whole u64 range: running totals and sums saturate instead of
/// overflowing.
const MAX_COUNTER: u64 = u64::MAX;

fn obs() -> impl Strategy<Value = Obs> {
    let counter = prop_oneof![0..1_000u64, 0..MAX_COUNTER];
    (
        counter.clone(),
        counter.clone(),
        counter.clone(),
        counter,
        prop::bool::weighted(0.1),
        prop_oneof![8 => 0..20_000i64, 1 => -5_000..0i64, 1 => 0..400_000i64],
    )
        .prop_map(|(hits, misses, evicted, expired, restart, step_ms)| Obs {
            hits,
            misses,
            evicted,
            expired,
            restart,
            step_ms,
        })
}

/// Mostly increasing counters with occasional resets: each step adds a small amount, or resets
/// to a random lower value, or restarts the server.
fn history() -> impl Strategy<Value = Vec<Obs>> {
    prop::collection::vec(obs(), 1..60).prop_map(|raw| {
        let mut out: Vec<Obs> = Vec::new();
        for (i, o) in raw.into_iter().enumerate() {
            let Some(prev) = out.last().cloned() else {
                out.push(o);
                continue;
            };
            // Two in three steps grow from the previous value; the rest take the raw value
            // (often lower: a reset).
            let grow = |p: u64, r: u64| {
                if i % 3 != 0 {
                    p.saturating_add(r % 1000)
                } else {
                    r
                }
            };
            out.push(Obs {
                hits: grow(prev.hits, o.hits),
                misses: grow(prev.misses, o.misses),
                evicted: grow(prev.evicted, o.evicted),
                expired: grow(prev.expired, o.expired),
                ..o
            });
        }
        out
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn derived_windows_are_never_negative_and_bounded_by_raw_increases(h in history()) {
        let tolerance = Duration::from_millis(500);
        let mut hist = History::new(tolerance);
        let mut at_ms: i64 = 1_000_000;
        let mut run = 0u32;
        let mut uptime = 1u64;
        // Upper bound of what the counters can have added: positive increments, plus the whole
        // value after a reset or restart.
        let mut bound = [0u64; 4];
        let mut prev: Option<[u64; 4]> = None;
        for o in &h {
            at_ms = (at_ms + o.step_ms).max(0);
            if o.restart {
                run += 1;
                uptime = 0;
            }
            uptime += (o.step_ms.max(0) / 1000) as u64;
            let cur = [o.hits, o.misses, o.evicted, o.expired];
            if let Some(p) = prev {
                for i in 0..4 {
                    bound[i] = bound[i].saturating_add(if o.restart || cur[i] < p[i] { cur[i] } else { cur[i] - p[i] });
                }
            }
            prev = Some(cur);
            let s = Sample {
                run_id: Some(format!("run{run}")),
                uptime_in_seconds: Some(uptime),
                keyspace_hits: Some(o.hits),
                keyspace_misses: Some(o.misses),
                evicted_keys: Some(o.evicted),
                expired_keys: Some(o.expired),
                ..Sample::default()
            };
            let d = hist.observe(Duration::from_millis(at_ms as u64), &s);
            for w in &d.windows {
                prop_assert!(w.covered <= w.window.duration() + tolerance, "{w:?}");
                prop_assert!(!w.covered.is_zero());
                if let Some(r) = w.hit_ratio {
                    prop_assert!((0.0..=1.0).contains(&r), "hit ratio {r}");
                }
                if let Some(l) = w.lookups_per_second {
                    prop_assert!(l.is_finite() && l >= 0.0, "lookups/s {l}");
                    let lookups = l * w.covered.as_secs_f64();
                    let most = bound[0].saturating_add(bound[1]);
                    prop_assert!(lookups <= most as f64 * (1.0 + 1e-9) + 1e-6,
                        "{lookups} lookups > bound {most}");
                }
                prop_assert!(w.evictions.unwrap() <= bound[2], "{w:?} > {}", bound[2]);
                prop_assert!(w.expirations.unwrap() <= bound[3], "{w:?} > {}", bound[3]);
            }
            // Once the first point is older than the longest window, the 15m window exists.
            if d.windows.is_empty() {
                prop_assert!(hist.len() == 1 || d.windows.iter().all(|w| w.window != Window::M15));
            }
        }
    }
}

/// Keys the loader knows (top level and per target), and some it must refuse.
const CONFIG_KEYS: &[&str] = &[
    "listen",
    "poll_interval",
    "timeout",
    "log_format",
    "log_level",
    "name",
    "url",
    "username",
    "password_env",
    "cache",
    "config_command",
    "labels",
    "poll_intervall",
    "x",
];

fn toml_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("\"15s\"".to_string()),
        Just("\"0s\"".to_string()),
        Just("\"500ms\"".to_string()),
        Just("\"127.0.0.1:0\"".to_string()),
        Just("\"redis://127.0.0.1:6379\"".to_string()),
        Just("\"redis://:p@[::1]:1/99\"".to_string()),
        Just("\"rediss://u:p@h:99999\"".to_string()),
        Just("\"unix:///tmp/r.sock\"".to_string()),
        Just("{ team = \"x\", \"bad label\" = \"y\" }".to_string()),
        Just("true".to_string()),
        any::<i64>().prop_map(|v| v.to_string()),
        "\"[ -~]{0,20}\"".prop_map(|s| s.replace('\\', "")),
        "[ -~]{0,20}",
    ]
}

fn toml_line() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (prop::sample::select(CONFIG_KEYS), toml_value()).prop_map(|(k, v)| format!("{k} = {v}")),
        1 => Just("[[targets]]".to_string()),
        1 => Just("[targets]".to_string()),
        1 => "[ -~]{0,30}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn config_loader_never_panics_on_toml_like_input(
        lines in prop::collection::vec(toml_line(), 0..16),
        bytes in prop::collection::vec(any::<u8>(), 0..64),
        raw in any::<bool>(),
    ) {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        if raw {
            f.write_all(&bytes).unwrap();
        } else {
            f.write_all(lines.join("\n").as_bytes()).unwrap();
        }
        let cli = Cli { config: Some(f.path().to_path_buf()), ..Cli::default() };
        match cli.load_with_env(&|_| None) {
            Ok(c) => {
                prop_assert!(!c.targets.is_empty());
                for t in &c.targets {
                    prop_assert!(t.timeout < t.poll_interval);
                }
            }
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }
}

#[test]
fn a_value_of_every_kind_passes_through_reply_handling() {
    // Sanity check that the generators above reach both branches.
    assert!(call::reply_text(Value::BulkString(b"# Server\r\nrun_id:x\r\n".to_vec())).is_ok());
    assert!(call::reply_text(Value::Nil).is_err());
}
