//! Property tests (proptest) of the pure parts on generated input: the INFO parser, the reply
//! framer and parser pair every connection reads with (`client::resp::parse_one`: any valid RESP
//! value, split at any byte, frames to exactly its length and parses back to itself; garbage is an
//! error, never a panic) and the reply handling behind it, the derivation over arbitrary histories
//! (resets, restarts, time steps) and the configuration loader. None may panic; outputs stay
//! bounded by their input; derived values are never negative, ratios stay in [0, 1], and a window
//! never counts more than the raw counters could have added.

use std::io::Write;
use std::time::Duration;

use proptest::prelude::*;
use redis::Value;
use redis_cache_exporter::cli::Cli;
use redis_cache_exporter::client::call;
use redis_cache_exporter::client::resp::{Parsed, parse_one};
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
        "# [A-Za-z]{0,12}".prop_map(|s| s.clone()),
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

/// Arbitrary text, alone or around one line the parser knows: arbitrary text alone is never
/// INFO, and the bounds below would go unchecked.
fn arbitrary_text() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,400}",
        (".{0,200}", prop::sample::select(KEYS), value(), ".{0,200}")
            .prop_map(|(before, k, v, after)| format!("{before}\n{k}:{v}\n{after}")),
    ]
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

/// A well-framed array (`kind` 0), map (1) or run of bulk strings (2) of arbitrary content.
fn framed(items: &[Vec<u8>], kind: u8) -> Vec<u8> {
    let mut b = Vec::new();
    match kind {
        0 => b.extend_from_slice(format!("*{}\r\n", items.len()).as_bytes()),
        1 => b.extend_from_slice(format!("%{}\r\n", items.len() / 2).as_bytes()),
        _ => {}
    }
    for it in items {
        b.extend_from_slice(format!("${}\r\n", it.len()).as_bytes());
        b.extend_from_slice(it);
        b.extend_from_slice(b"\r\n");
    }
    b
}

/// Random bytes, or a well-framed reply with some bytes overwritten and its end cut at a random
/// place: random bytes alone never parse as RESP, so what follows a successful parse would go
/// unchecked.
fn resp_bytes() -> impl Strategy<Value = Vec<u8>> {
    let damaged = (
        prop::collection::vec(prop::collection::vec(any::<u8>(), 0..30), 0..8),
        0..3u8,
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..3),
        prop::option::of(any::<prop::sample::Index>()),
    )
        .prop_map(|(items, kind, writes, cut)| {
            let mut b = framed(&items, kind);
            if b.is_empty() {
                return b;
            }
            for (at, byte) in writes {
                let i = at.index(b.len());
                b[i] = byte;
            }
            if let Some(cut) = cut {
                b.truncate(cut.index(b.len()));
            }
            b
        });
    prop_oneof![prop::collection::vec(any::<u8>(), 0..200), damaged]
}

/// The reply a connection would read from `bytes`: framed, then parsed.
fn reply(bytes: &[u8]) -> Option<Value> {
    match parse_one(bytes) {
        Ok(Parsed::Value(v, n)) => {
            assert!(n <= bytes.len());
            Some(v)
        }
        _ => None,
    }
}

/// Any RESP2 or RESP3 value the parser turns into a `Value` of the same shape. `+OK` is the
/// crate's `Value::Okay`, so simple strings are never `OK`.
fn resp_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Nil),
        Just(Value::Okay),
        any::<i64>().prop_map(Value::Int),
        prop::collection::vec(any::<u8>(), 0..40).prop_map(Value::BulkString),
        "[a-zA-Z0-9 :_-]{0,20}"
            .prop_filter("+OK is Okay", |s| s != "OK")
            .prop_map(Value::SimpleString),
        any::<bool>().prop_map(Value::Boolean),
        (-1e9f64..1e9).prop_map(Value::Double),
    ];
    leaf.prop_recursive(3, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Set),
            prop::collection::vec((inner.clone(), inner), 0..4).prop_map(Value::Map),
        ]
    })
}

/// `v` on the wire, as a server writes it.
fn encode(v: &Value, out: &mut Vec<u8>) {
    let aggregate = |out: &mut Vec<u8>, kind: char, n: usize| {
        out.extend_from_slice(format!("{kind}{n}\r\n").as_bytes());
    };
    match v {
        Value::Nil => out.extend_from_slice(b"_\r\n"),
        Value::Okay => out.extend_from_slice(b"+OK\r\n"),
        Value::Int(i) => out.extend_from_slice(format!(":{i}\r\n").as_bytes()),
        Value::BulkString(b) => {
            out.extend_from_slice(format!("${}\r\n", b.len()).as_bytes());
            out.extend_from_slice(b);
            out.extend_from_slice(b"\r\n");
        }
        Value::SimpleString(s) => out.extend_from_slice(format!("+{s}\r\n").as_bytes()),
        Value::Boolean(b) => out.extend_from_slice(if *b { b"#t\r\n" } else { b"#f\r\n" }),
        Value::Double(d) => out.extend_from_slice(format!(",{d}\r\n").as_bytes()),
        Value::Array(items) | Value::Set(items) => {
            aggregate(
                out,
                if matches!(v, Value::Array(_)) {
                    '*'
                } else {
                    '~'
                },
                items.len(),
            );
            for i in items {
                encode(i, out);
            }
        }
        Value::Map(pairs) => {
            aggregate(out, '%', pairs.len());
            for (k, v) in pairs {
                encode(k, out);
                encode(v, out);
            }
        }
        other => unreachable!("not generated: {other:?}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_value_split_anywhere_frames_to_its_length_and_parses_back(
        v in resp_value(),
        trailing in prop::collection::vec(any::<u8>(), 0..8),
    ) {
        let mut wire = Vec::new();
        encode(&v, &mut wire);
        // Every prefix a read could leave in the buffer is incomplete: never an error, never
        // a shorter reply, and it asks for more than it has.
        for cut in 0..wire.len() {
            match parse_one(&wire[..cut]) {
                Ok(Parsed::Incomplete(at_least)) => prop_assert!(at_least > cut),
                other => prop_assert!(false, "prefix of {cut} bytes: {other:?}"),
            }
        }
        // Whole, with whatever follows it (the next pipelined reply): exactly its length.
        let len = wire.len();
        wire.extend_from_slice(&trailing);
        prop_assert_eq!(parse_one(&wire), Ok(Parsed::Value(v, len)));
    }

    #[test]
    fn garbage_is_an_error_or_incomplete_never_a_panic(bytes in resp_bytes()) {
        match parse_one(&bytes) {
            Ok(Parsed::Value(_, n)) => prop_assert!(n <= bytes.len()),
            Ok(Parsed::Incomplete(at_least)) => prop_assert!(at_least > 0),
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }

    #[test]
    fn info_parser_never_panics_on_arbitrary_text(text in arbitrary_text()) {
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
    fn resp_replies_never_panic(bytes in resp_bytes()) {
        if let Some(v) = reply(&bytes) {
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
        let b = framed(&items, kind);
        if let Some(v) = reply(&b) {
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

/// The time and the sample of each observation of `h`: the clock starts at 1000 s (a step back
/// stops at 0), a restart gives a new run_id and uptime 0.
fn observations(h: &[Obs]) -> Vec<(Duration, Sample)> {
    let (mut at_ms, mut run, mut uptime) = (1_000_000i64, 0u32, 1u64);
    h.iter()
        .map(|o| {
            at_ms = (at_ms + o.step_ms).max(0);
            if o.restart {
                run += 1;
                uptime = 0;
            }
            uptime += (o.step_ms.max(0) / 1000) as u64;
            let s = Sample {
                run_id: Some(format!("run{run}")),
                uptime_in_seconds: Some(uptime),
                keyspace_hits: Some(o.hits),
                keyspace_misses: Some(o.misses),
                evicted_keys: Some(o.evicted),
                expired_keys: Some(o.expired),
                ..Sample::default()
            };
            (Duration::from_millis(at_ms as u64), s)
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn derived_windows_are_never_negative_and_bounded_by_raw_increases(h in history()) {
        let tolerance = Duration::from_millis(500);
        let mut hist = History::new(tolerance);
        // Upper bound of what the counters can have added: positive increments, plus the whole
        // value after a reset or restart.
        let mut bound = [0u64; 4];
        let mut prev: Option<[u64; 4]> = None;
        // The times of the points so far, as the history keeps them: a clock that goes back
        // counts as no time passing.
        let mut times: Vec<Duration> = Vec::new();
        for (o, (at, s)) in h.iter().zip(observations(&h)) {
            let now = times.last().map_or(at, |t| (*t).max(at));
            let cur = [o.hits, o.misses, o.evicted, o.expired];
            if let Some(p) = prev {
                for i in 0..4 {
                    let grown = if o.restart || cur[i] < p[i] { cur[i] } else { cur[i] - p[i] };
                    bound[i] = bound[i].saturating_add(grown);
                }
            }
            prev = Some(cur);
            let d = hist.observe(at, &s);
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
            // A window is there exactly when an earlier point lies within it (plus the
            // tolerance): so the 15m window exists once the history reaches back 15 minutes,
            // and none exists with a single point or only points at the same instant.
            for w in Window::ALL {
                let start = now.saturating_sub(w.duration() + tolerance);
                let earlier = times.iter().any(|t| *t >= start && *t < now);
                let present = d.windows.iter().any(|x| x.window == w);
                prop_assert_eq!(present, earlier, "{:?} at {:?} after {:?}", w, now, times);
            }
            times.push(now);
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
        4 => (prop::sample::select(CONFIG_KEYS), toml_value()).prop_map(|(k, v)| format!("{k} = \
            {v}")),
        1 => Just("[[targets]]".to_string()),
        1 => Just("[targets]".to_string()),
        1 => "[ -~]{0,30}",
    ]
}

/// A quoted humantime duration: round values, zero, and any number of milliseconds.
fn duration_value() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec!["15s", "1s", "0s", "2m"]).prop_map(|d| format!("\"{d}\"")),
        (1..120_000u64).prop_map(|ms| format!("\"{ms}ms\"")),
    ]
}

/// A configuration shaped as the loader expects (global and per-target intervals and timeouts,
/// some of them contradicting each other): random lines almost never make one, so the checks
/// on a loaded configuration would go unchecked.
fn config_text() -> impl Strategy<Value = String> {
    let url = prop::sample::select(vec![
        "redis://127.0.0.1:6379",
        "redis://:p@[::1]:1/0",
        "rediss://u:p@h:6380",
        "unix:///tmp/r.sock",
    ]);
    let target = (
        url,
        prop::option::of(duration_value()),
        prop::option::of(duration_value()),
    );
    (
        prop::option::of(duration_value()),
        prop::option::of(duration_value()),
        prop::collection::vec(target, 0..4),
    )
        .prop_map(|(interval, timeout, targets)| {
            let timing = |interval: &Option<String>, timeout: &Option<String>| {
                [("poll_interval", interval), ("timeout", timeout)]
                    .into_iter()
                    .filter_map(|(key, value)| Some(format!("{key} = {}\n", value.as_ref()?)))
                    .collect::<String>()
            };
            let mut text = timing(&interval, &timeout);
            for (i, (url, interval, timeout)) in targets.iter().enumerate() {
                text.push_str(&format!("[[targets]]\nname = \"t{i}\"\nurl = \"{url}\"\n"));
                text.push_str(&timing(interval, timeout));
            }
            text
        })
}

/// What the configuration file holds: random TOML-like lines, a configuration of the expected
/// shape, or raw bytes.
fn config_input() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(toml_line(), 0..16).prop_map(|lines| lines.join("\n").into_bytes()),
        config_text().prop_map(String::into_bytes),
        prop::collection::vec(any::<u8>(), 0..64),
    ]
}

/// Loads `input` as the configuration file, without environment variables.
fn load_config(input: &[u8]) -> Result<redis_cache_exporter::config::Config, String> {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(input).unwrap();
    let cli = Cli {
        config: Some(f.path().to_path_buf()),
        ..Cli::default()
    };
    cli.load_with_env(&|_| None).map_err(|e| e.to_string())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn config_loader_never_panics_on_toml_like_input(input in config_input()) {
        match load_config(&input) {
            Ok(c) => {
                prop_assert!(!c.targets.is_empty());
                for t in &c.targets {
                    prop_assert!(t.timeout < t.poll_interval);
                }
            }
            Err(e) => prop_assert!(!e.is_empty()),
        }
    }
}

/// `n` values of `strategy`, the same on every run.
fn draws<S: Strategy>(strategy: S, n: usize) -> Vec<S::Value> {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    (0..n)
        .map(|_| strategy.new_tree(&mut runner).expect("generate").current())
        .collect()
}

/// The generators above reach what the properties check: a property guarded by `if let Ok` or
/// a loop over windows would otherwise hold for want of a single case.
#[test]
fn generators_reach_every_branch_the_properties_check() {
    assert!(call::reply_text(Value::BulkString(b"# Server\r\nrun_id:x\r\n".to_vec())).is_ok());
    assert!(call::reply_text(Value::Nil).is_err());
    let count = |n: usize, what: &str| {
        eprintln!("{what}: {n}, from 512 generated cases");
        assert!(n > 0, "no generated case reaches {what}");
    };

    let texts = draws(arbitrary_text(), 512);
    count(
        texts.iter().filter(|t| info::parse(t).is_ok()).count(),
        "INFO from arbitrary text",
    );
    count(
        texts.iter().filter(|t| info::parse(t).is_err()).count(),
        "arbitrary text refused",
    );
    let texts = draws(info_text(), 512);
    let parsed: Vec<Sample> = texts.iter().filter_map(|t| info::parse(t).ok()).collect();
    count(parsed.len(), "INFO from INFO-like text");
    count(
        parsed
            .iter()
            .filter(|s| s.mem_fragmentation_ratio.is_some())
            .count(),
        "a fragmentation ratio",
    );

    let replies: Vec<Value> = draws(resp_bytes(), 512)
        .iter()
        .filter_map(|b| reply(b))
        .collect();
    count(replies.len(), "a RESP reply from damaged bytes");
    count(
        replies
            .iter()
            .filter(|v| !call::config_pairs((*v).clone()).is_empty())
            .count(),
        "CONFIG pairs from damaged bytes",
    );
    count(
        replies
            .iter()
            .filter(|v| call::reply_text((*v).clone()).is_ok())
            .count(),
        "INFO text from damaged bytes",
    );

    let histories = draws(history(), 512);
    let mut windows = 0;
    let mut ratios = 0;
    for h in &histories {
        let mut hist = History::new(Duration::from_millis(500));
        for (at, s) in observations(h) {
            let d = hist.observe(at, &s);
            windows += d.windows.len();
            ratios += d.windows.iter().filter(|w| w.hit_ratio.is_some()).count();
        }
    }
    count(windows, "derived windows");
    count(ratios, "a hit ratio in a window");
    let m15 = histories
        .iter()
        .filter(|h| {
            let mut hist = History::new(Duration::from_millis(500));
            observations(h).iter().any(|(at, s)| {
                hist.observe(*at, s)
                    .windows
                    .iter()
                    .any(|w| w.window == Window::M15 && w.covered > Window::M5.duration())
            })
        })
        .count();
    count(m15, "a 15m window reaching past 5 minutes");

    let configs: Vec<_> = draws(config_input(), 512)
        .iter()
        .map(|c| load_config(c))
        .collect();
    count(
        configs
            .iter()
            .filter(|c| c.as_ref().is_ok_and(|c| c.targets.len() > 1))
            .count(),
        "a loaded configuration with several targets",
    );
    count(
        configs.iter().filter(|c| c.is_err()).count(),
        "a refused configuration",
    );
}
