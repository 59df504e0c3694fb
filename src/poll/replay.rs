//! The poller's state machine under paused tokio time, over an in-memory link that replays
//! captured INFO text (`tests/fixtures/info`): backoff growth and cap, missed ticks skipped
//! rather than bunched, a silent target's series going stale, and a CONFIG refused once never
//! sent again while maxmemory comes from INFO. No sockets: the real-server tests cover the
//! wire; these cover the decisions, at any virtual time.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::poller::Poller;
use super::settings::PollerSettings;
use super::wire::{Dial, Wire};
use crate::client::{CallError, CallKind, Endpoint, Value};
use crate::core::error_kind::ErrorKind;
use crate::state::{Shared, TargetMeta};

const INFO_7_0: &str = include_str!("../../tests/fixtures/info/redis-7.0-evicting.txt");

/// What the in-memory target does, and what it was asked.
struct Script {
    info: &'static str,
    /// Connection attempts succeed.
    accept: bool,
    /// CONFIG is answered with `-ERR unknown command` (renamed away).
    config_renamed: bool,
    /// The next INFO takes this long.
    slow_info: Option<Duration>,
    /// The next call fails as a broken connection would.
    break_next: bool,
    /// Times of connection attempts, and of each command by name, from the test's start.
    connects: Vec<Duration>,
    calls: Vec<(Duration, String)>,
    start: Instant,
}

#[derive(Clone)]
struct Replay(Arc<Mutex<Script>>);

struct ReplayConn(Arc<Mutex<Script>>);

impl Replay {
    fn new(info: &'static str) -> Replay {
        Replay(Arc::new(Mutex::new(Script {
            info,
            accept: true,
            config_renamed: false,
            slow_info: None,
            break_next: false,
            connects: Vec::new(),
            calls: Vec::new(),
            start: Instant::now(),
        })))
    }

    fn with<T>(&self, f: impl FnOnce(&mut Script) -> T) -> T {
        f(&mut self.0.lock().unwrap())
    }

    fn calls_of(&self, name: &str) -> Vec<Duration> {
        self.with(|s| {
            s.calls
                .iter()
                .filter(|(_, n)| n == name)
                .map(|(t, _)| *t)
                .collect()
        })
    }
}

impl Dial for Replay {
    type Conn = ReplayConn;

    fn connect(&self) -> impl Future<Output = Result<ReplayConn, CallError>> + Send {
        let script = self.0.clone();
        async move {
            let mut s = script.lock().unwrap();
            let at = s.start.elapsed();
            s.connects.push(at);
            if s.accept {
                Ok(ReplayConn(script.clone()))
            } else {
                Err(CallError::new(CallKind::Connect, "connection refused"))
            }
        }
    }

    fn refresh(&mut self) -> bool {
        false
    }

    fn problem(&self) -> Option<&CallError> {
        None
    }
}

impl Wire for ReplayConn {
    fn call<'a>(
        &'a mut self,
        args: &'a [&'a [u8]],
    ) -> impl Future<Output = Result<Value, CallError>> + Send + 'a {
        let name = String::from_utf8_lossy(args[0]).to_ascii_uppercase();
        let script = self.0.clone();
        async move {
            let (delay, reply) = {
                let mut s = script.lock().unwrap();
                let at = s.start.elapsed();
                s.calls.push((at, name.clone()));
                if std::mem::take(&mut s.break_next) {
                    return Err(CallError::new(CallKind::Connect, "connection reset"));
                }
                match name.as_str() {
                    "INFO" => (
                        s.slow_info.take(),
                        Ok(Value::BulkString(s.info.as_bytes().to_vec())),
                    ),
                    "CONFIG" if s.config_renamed => (
                        None,
                        Err(CallError::new(
                            CallKind::Command,
                            "CONFIG: ERR unknown command",
                        )),
                    ),
                    "CONFIG" => (None, Ok(Value::Array(Vec::new()))),
                    other => panic!("unexpected command {other}"),
                }
            };
            if let Some(d) = delay {
                tokio::time::sleep(d).await;
            }
            reply
        }
    }

    fn release(&mut self) {}
}

const INTERVAL: Duration = Duration::from_secs(1);

fn settings() -> PollerSettings {
    let info = crate::config::connection_info("redis://replay:6379").unwrap();
    PollerSettings {
        name: "t".into(),
        redacted_url: "redis://replay:6379".into(),
        endpoint: Arc::new(Endpoint::new(&info, None, Duration::from_secs(5))),
        interval: INTERVAL,
        config_command: Some("CONFIG".into()),
        keysizes: false,
        lookup_gate: None,
        attribution: None,
        ghost: None,
    }
}

/// Starts the poll loop over `replay`, first poll now; returns the shared state and origin.
fn start(replay: &Replay, stale_after: Duration) -> (Shared, Instant) {
    let shared = Shared::new();
    shared.add(TargetMeta {
        name: "t".into(),
        labels: std::collections::BTreeMap::default(),
        cache: true,
        stale_after,
    });
    let origin = Instant::now();
    let poller = Poller::new(settings(), replay.clone(), shared.clone(), origin);
    tokio::spawn(poller.run(Instant::now()));
    (shared, origin)
}

fn secs(v: &[Duration]) -> Vec<f64> {
    v.iter().map(std::time::Duration::as_secs_f64).collect()
}

#[tokio::test(start_paused = true)]
async fn backoff_doubles_from_half_a_second_to_its_cap() {
    let replay = Replay::new(INFO_7_0);
    replay.with(|s| s.accept = false);
    let (shared, _) = start(&replay, Duration::from_secs(60));
    tokio::time::sleep(Duration::from_millis(182_500)).await;
    let connects = secs(&replay.with(|s| s.connects.clone()));
    // Polls every second; an attempt only once the backoff (0.5 s, 1, 2 … 30 s) has passed.
    assert_eq!(
        connects,
        [
            0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 62.0, 92.0, 122.0, 152.0, 182.0
        ]
    );
    // Every poll counts, the skipped ones under the kind that started the backoff.
    let snap = shared.snapshot("t").unwrap();
    assert_eq!(snap.polls_total, 183);
    assert_eq!(snap.errors(ErrorKind::Connect), 183);
    assert!(!snap.up);
}

#[tokio::test(start_paused = true)]
async fn a_slow_poll_skips_the_ticks_it_missed_instead_of_bunching_them() {
    let replay = Replay::new(INFO_7_0);
    replay.with(|s| s.slow_info = Some(Duration::from_millis(3_500)));
    let (shared, _) = start(&replay, Duration::from_secs(60));
    tokio::time::sleep(Duration::from_millis(7_500)).await;
    // The first INFO took 3.5 intervals: the ticks at 1, 2 and 3 s collapse into one poll as
    // soon as it ends, then polls are back on the grid at 4 s (bunched, three polls would
    // have run at 3.5 s; delayed, the grid would have moved to 4.5, 5.5 …).
    assert_eq!(
        secs(&replay.calls_of("INFO")),
        [0.0, 3.5, 4.0, 5.0, 6.0, 7.0]
    );
    assert_eq!(shared.snapshot("t").unwrap().polls_total, 6);
}

#[tokio::test(start_paused = true)]
async fn a_target_that_stops_answering_goes_down_at_once_and_stale_later() {
    let replay = Replay::new(INFO_7_0);
    let stale_after = INTERVAL * 3 + Duration::from_millis(500);
    let (shared, origin) = start(&replay, stale_after);
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let now = || Instant::now().duration_since(origin);
    let snap = shared.snapshot("t").unwrap();
    assert!(snap.up && snap.fresh(now()).is_some());
    // From the poll at 3 s on, the connection breaks and no new one is accepted.
    replay.with(|s| {
        s.break_next = true;
        s.accept = false;
    });
    tokio::time::sleep(Duration::from_secs(1)).await;
    let snap = shared.snapshot("t").unwrap();
    assert!(!snap.up, "down at the first failed poll");
    assert!(
        snap.fresh(now()).is_some(),
        "values kept while not yet stale"
    );
    // The last success was at 2 s: stale after 2 + 3.5 s.
    tokio::time::sleep(Duration::from_millis(1_900)).await;
    assert!(
        shared.snapshot("t").unwrap().fresh(now()).is_some(),
        "at 5.4 s"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        shared.snapshot("t").unwrap().fresh(now()).is_none(),
        "at 5.6 s"
    );
    assert_eq!(
        shared.snapshot("t").unwrap().errors(ErrorKind::Connect),
        3,
        "polls at 3, 4 and 5 s failed"
    );
}

#[tokio::test(start_paused = true)]
async fn config_refused_once_is_never_sent_again_and_maxmemory_comes_from_info() {
    let replay = Replay::new(INFO_7_0);
    replay.with(|s| s.config_renamed = true);
    let (shared, origin) = start(&replay, Duration::from_secs(60));
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    // A new connection would ask CONFIG again, unless it was refused.
    replay.with(|s| s.break_next = true);
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(replay.with(|s| s.connects.len()), 2, "reconnected once");
    assert_eq!(replay.calls_of("CONFIG").len(), 1, "CONFIG sent once");
    assert!(replay.calls_of("INFO").len() >= 6);
    let snap = shared.snapshot("t").unwrap();
    assert!(snap.up);
    let (sample, _) = snap.fresh(Instant::now().duration_since(origin)).unwrap();
    assert_eq!(sample.maxmemory, Some(4_194_304));
    assert_eq!(sample.maxmemory_policy.as_deref(), Some("allkeys-lru"));
    // A CONFIG refusal is a degraded target, not a failed poll.
    assert_eq!(snap.errors(ErrorKind::Command), 0);
}
