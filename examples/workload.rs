//! Cache-aside workload generator: drives a Redis with the traffic of an application that
//! caches database rows, at a chosen hit ratio, so the exporter's hit-rate metrics and the
//! alerts in `alerts/` can be watched against known traffic.
//!
//! ```text
//! cargo run --example workload -- --url redis://127.0.0.1:6379 --hit-ratio 0.7 --rate 200
//! ```
//!
//! Each lookup is a `GET`. The generator decides beforehand whether a lookup should hit and
//! picks a key it knows to be cached (set, TTL not yet passed, not invalidated) or one it knows
//! is not; a miss is followed by a `SET … EX ttl`, as cache-aside code does after reading the
//! database. Hits and misses are interleaved evenly (not at random), so Redis's
//! `keyspace_hits / (keyspace_hits + keyspace_misses)` equals `--hit-ratio` over any window of
//! a few dozen lookups, unless Redis evicts keys (then a planned hit becomes a miss, as it
//! would for a real application). Optional extras: write-through updates (`SET` of a cached
//! key with a fresh TTL), invalidations (`DEL`, as on a change event), and a periodic `KEYS`
//! call, the anti-pattern `RedisKeysCommandUsed` warns about. Keys are
//! `PREFIX:RUN:N`, with a run id unique to each run, so keys left by an earlier run never
//! turn planned misses into hits.

use std::future::Future;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::Parser;
use redis::aio::MultiplexedConnection;

/// How long the generator waits for one reply before giving up.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// Command-line options.
#[derive(Parser, Debug, Clone)]
#[command(about = "Cache-aside traffic with TTLs against Redis, at a chosen hit ratio.")]
pub(crate) struct Args {
    /// Redis URL (`redis://`, `rediss://`, `unix://`).
    #[arg(long, default_value = "redis://127.0.0.1:6379")]
    pub url: String,
    /// Fraction of lookups that hit, from 0 to 1.
    #[arg(long, default_value_t = 0.95, value_parser = parse_fraction)]
    pub hit_ratio: f64,
    /// Number of distinct keys the application caches.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub keys: u64,
    /// Size of each cached value in bytes.
    #[arg(long, default_value_t = 256)]
    pub value_size: usize,
    /// TTL of cached keys (each key gets ±10 % jitter so keys set together expire apart).
    #[arg(long, default_value = "5m", value_parser = humantime::parse_duration)]
    pub ttl: Duration,
    /// Lookups per second.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..))]
    pub rate: u32,
    /// Write-through updates per lookup, from 0 to 1.
    #[arg(long, default_value_t = 0.0, value_parser = parse_fraction)]
    pub write_through: f64,
    /// Invalidations (`DEL` of a cached key) per lookup, from 0 to 1.
    #[arg(long, default_value_t = 0.0, value_parser = parse_fraction)]
    pub invalidate: f64,
    /// Run `KEYS PREFIX:RUN:*` once at start and then every this often (never by default).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub keys_every: Option<Duration>,
    /// Stop after this long (default: run until Ctrl-C).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub duration: Option<Duration>,
    /// Print the counters this often; `0s` prints only the final summary.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub report_every: Duration,
    /// First part of every key name.
    #[arg(long, default_value = "workload")]
    pub prefix: String,
    /// Seed of the key choice, for repeatable runs.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

fn parse_fraction(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|e| format!("{s:?}: {e}"))?;
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{v} is not between 0 and 1"))
    }
}

/// What the generator did, counted from Redis's replies.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Report {
    /// `GET`s sent.
    pub lookups: u64,
    /// `GET`s that returned a value.
    pub hits: u64,
    /// `GET`s that returned nil (each followed by a fill).
    pub misses: u64,
    /// Write-through `SET`s of cached keys.
    pub writes: u64,
    /// `DEL`s of cached keys.
    pub invalidations: u64,
    /// `KEYS` calls.
    pub keys_calls: u64,
}

impl Report {
    /// Hits over lookups, or None before the first lookup.
    pub(crate) fn hit_ratio(&self) -> Option<f64> {
        (self.lookups > 0).then(|| self.hits as f64 / self.lookups as f64)
    }

    fn line(&self, elapsed: Duration) -> String {
        format!(
            "{:>6.0}s lookups={} hits={} misses={} hit_ratio={} writes={} invalidations={} \
             keys_calls={}",
            elapsed.as_secs_f64(),
            self.lookups,
            self.hits,
            self.misses,
            self.hit_ratio()
                .map_or("-".to_string(), |r| format!("{r:.3}")),
            self.writes,
            self.invalidations,
            self.keys_calls
        )
    }
}

/// splitmix64: small, seedable, good enough to spread key choices.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// What the generator believes Redis holds: per key, when its TTL runs out.
struct Cache {
    expires: Vec<Option<Instant>>,
}

/// A key is taken as cached only this long before its TTL ends, and as gone only this long
/// after, so Redis's millisecond expiry never disagrees with the plan.
const MARGIN: Duration = Duration::from_millis(100);

impl Cache {
    fn cached(&self, i: usize, now: Instant) -> bool {
        self.expires[i].is_some_and(|t| t > now + MARGIN)
    }

    fn absent(&self, i: usize, now: Instant) -> bool {
        self.expires[i].is_none_or(|t| t + MARGIN < now)
    }

    /// A random key satisfying `want`: a few random probes, then a scan from a random start.
    fn pick(&self, rng: &mut Rng, want: impl Fn(usize) -> bool) -> Option<usize> {
        let n = self.expires.len() as u64;
        for _ in 0..32 {
            let i = rng.below(n) as usize;
            if want(i) {
                return Some(i);
            }
        }
        let start = rng.below(n) as usize;
        (0..self.expires.len())
            .map(|k| (start + k) % self.expires.len())
            .find(|&i| want(i))
    }
}

/// Runs the workload until `stop` completes or `args.duration` passes.
pub(crate) async fn run(args: &Args, stop: impl Future<Output = ()>) -> redis::RedisResult<Report> {
    let client = redis::Client::open(args.url.as_str())?;
    // A generator must keep generating on a busy machine, where a reply can take longer than
    // the client's default 500 ms response timeout.
    let config = redis::AsyncConnectionConfig::new().set_response_timeout(Some(REPLY_TIMEOUT));
    let mut con = client
        .get_multiplexed_async_connection_with_config(&config)
        .await?;
    let run_id = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
        ^ u64::from(std::process::id());
    let mut w = Worker {
        args,
        key_base: format!("{}:{run_id:x}", args.prefix),
        value: "v".repeat(args.value_size),
        cache: Cache {
            expires: vec![None; args.keys as usize],
        },
        rng: Rng(args.seed),
        report: Report::default(),
    };
    w.prefill(&mut con).await?;

    let deadline = args.duration.map(|d| tokio::time::Instant::now() + d);
    let stop = async move {
        match deadline {
            Some(d) => tokio::select! { () = stop => {}, () = tokio::time::sleep_until(d) => {} },
            None => stop.await,
        }
    };
    tokio::pin!(stop);
    let start = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut next_report = args.report_every;
    let mut next_keys = args.keys_every.map(|_| Duration::ZERO);
    let (mut hit_credit, mut write_credit, mut invalidate_credit) = (0.0, 0.0, 0.0);
    loop {
        tokio::select! {
            () = &mut stop => break,
            _ = tick.tick() => {}
        }
        let elapsed = start.elapsed();
        if let (Some(at), Some(every)) = (next_keys, args.keys_every) {
            if elapsed >= at {
                w.keys_call(&mut con).await?;
                next_keys = Some(at + every);
            }
        }
        let due = (elapsed.as_secs_f64() * f64::from(args.rate)) as u64;
        while w.report.lookups < due {
            // Error diffusion: over any run of lookups the share of hits stays within one
            // lookup of the requested ratio.
            hit_credit += args.hit_ratio;
            let want_hit = hit_credit >= 1.0;
            if want_hit {
                hit_credit -= 1.0;
            }
            w.lookup(&mut con, want_hit).await?;
            write_credit += args.write_through;
            while write_credit >= 1.0 {
                write_credit -= 1.0;
                w.write_through(&mut con).await?;
            }
            invalidate_credit += args.invalidate;
            while invalidate_credit >= 1.0 {
                invalidate_credit -= 1.0;
                w.invalidate(&mut con).await?;
            }
        }
        if !args.report_every.is_zero() && elapsed >= next_report {
            println!("{}", w.report.line(elapsed));
            next_report += args.report_every;
        }
    }
    Ok(w.report)
}

struct Worker<'a> {
    args: &'a Args,
    key_base: String,
    value: String,
    cache: Cache,
    rng: Rng,
    report: Report,
}

impl Worker<'_> {
    fn key(&self, i: usize) -> String {
        format!("{}:{i}", self.key_base)
    }

    /// A TTL with ±10 % jitter, in milliseconds.
    fn ttl_ms(&mut self) -> u64 {
        let base = self.args.ttl.as_millis().max(1) as u64;
        let spread = base / 5;
        base - base / 10
            + if spread > 0 {
                self.rng.below(spread)
            } else {
                0
            }
    }

    async fn set(&mut self, con: &mut MultiplexedConnection, i: usize) -> redis::RedisResult<()> {
        let ttl = self.ttl_ms();
        redis::cmd("SET")
            .arg(self.key(i))
            .arg(&self.value)
            .arg("PX")
            .arg(ttl)
            .query_async::<()>(con)
            .await?;
        self.cache.expires[i] = Some(Instant::now() + Duration::from_millis(ttl));
        Ok(())
    }

    /// Caches half the key space so planned hits have keys to hit from the start.
    async fn prefill(&mut self, con: &mut MultiplexedConnection) -> redis::RedisResult<()> {
        let n = (self.cache.expires.len() / 2).max(1);
        for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
            let mut pipe = redis::pipe();
            for &i in chunk {
                let ttl = self.ttl_ms();
                pipe.cmd("SET")
                    .arg(self.key(i))
                    .arg(&self.value)
                    .arg("PX")
                    .arg(ttl)
                    .ignore();
                self.cache.expires[i] = Some(Instant::now() + Duration::from_millis(ttl));
            }
            pipe.query_async::<()>(con).await?;
        }
        Ok(())
    }

    /// One `GET`; a planned hit reads a cached key, a planned miss a key that is not cached.
    /// A miss is filled with `SET … PX ttl`, as cache-aside code does after the database read.
    async fn lookup(
        &mut self,
        con: &mut MultiplexedConnection,
        want_hit: bool,
    ) -> redis::RedisResult<()> {
        let now = Instant::now();
        let cache = &self.cache;
        let pick = if want_hit {
            cache.pick(&mut self.rng, |i| cache.cached(i, now))
        } else {
            cache.pick(&mut self.rng, |i| cache.absent(i, now))
        };
        let i = match pick {
            Some(i) => i,
            // Every key is cached and a miss is due: invalidate one to make room, as a change
            // event would. (Or nothing is cached and a hit is due: that lookup will miss.)
            None if !want_hit => self.invalidate(con).await?.unwrap_or(0),
            None => self.rng.below(self.cache.expires.len() as u64) as usize,
        };
        let value: Option<Vec<u8>> = redis::cmd("GET").arg(self.key(i)).query_async(con).await?;
        self.report.lookups += 1;
        if value.is_some() {
            self.report.hits += 1;
        } else {
            self.report.misses += 1;
            self.set(con, i).await?;
        }
        Ok(())
    }

    /// Write-through: the application updated a row and rewrites its cached copy.
    async fn write_through(&mut self, con: &mut MultiplexedConnection) -> redis::RedisResult<()> {
        let now = Instant::now();
        let cache = &self.cache;
        if let Some(i) = cache.pick(&mut self.rng, |i| cache.cached(i, now)) {
            self.set(con, i).await?;
            self.report.writes += 1;
        }
        Ok(())
    }

    /// Invalidation: a change event deletes a cached key; returns which one.
    async fn invalidate(
        &mut self,
        con: &mut MultiplexedConnection,
    ) -> redis::RedisResult<Option<usize>> {
        let now = Instant::now();
        let cache = &self.cache;
        let Some(i) = cache.pick(&mut self.rng, |i| cache.cached(i, now)) else {
            return Ok(None);
        };
        redis::cmd("DEL")
            .arg(self.key(i))
            .query_async::<()>(con)
            .await?;
        self.cache.expires[i] = None;
        self.report.invalidations += 1;
        Ok(Some(i))
    }

    async fn keys_call(&mut self, con: &mut MultiplexedConnection) -> redis::RedisResult<()> {
        redis::cmd("KEYS")
            .arg(format!("{}:*", self.key_base))
            .query_async::<Vec<String>>(con)
            .await?;
        self.report.keys_calls += 1;
        Ok(())
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let start = Instant::now();
    let report = run(&args, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    println!("{}", report.line(start.elapsed()));
    Ok(())
}
