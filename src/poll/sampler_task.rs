//! The sampler's IO loop: one task per target with a sampler, on its own connection, started
//! and stopped by the supervisor together with the target's poller.
//!
//! Each cycle (every `interval`): `INFO commandstats`, then batches of `SCAN cursor COUNT
//! batch_size` (never `KEYS`, no `MATCH`: every key is examined), for each batch one pipeline of
//! `PTTL` per key and one of `MEMORY USAGE` on the first `memory_samples` keys per prefix, a
//! pause, and so on until `keys_per_cycle` keys or `max_time_per_cycle` (pauses included), or
//! the end of the pass; then `DBSIZE` and `INFO commandstats` again. The Redis-side cost of the
//! cycle is the difference of the two commandstats readings for `scan`, `pttl` and
//! `memory|usage` (`memory` before Redis 7), charged in proportion to the cycle's share of the
//! calls (see [`crate::core::sampler::redis_usec`]).
//!
//! The cursor continues across cycles: a cycle starts where the previous one stopped, so with
//! a budget smaller than the key space successive cycles walk all of it, and a cycle never
//! wraps past the end of a pass (no key is counted twice in one cycle). Keys `SCAN` returns
//! beyond the cycle's budget are dropped, not carried over.
//!
//! Keyspace hits and misses: Redis counts every `PTTL` as a lookup (`TTL`, `TYPE`, `EXISTS` and
//! `OBJECT` do too; only `SCAN` and `MEMORY USAGE` do not), and no command reads a TTL without
//! one. So the sampler counts its own lookups exactly (a hit for a reply ≥ -1, a miss for -2)
//! while holding the target's [`LookupGate`], which the poller holds around its `INFO`: every
//! INFO sees either all or none of a batch, and the derivation subtracts the sampler's lookups
//! from keyspace_hits and keyspace_misses exactly. `PTTL` and `MEMORY USAGE` do not touch the
//! keys' LRU/LFU data, so eviction order is unchanged.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::{Instant, MissedTickBehavior};
use tracing::{debug, info, warn};

use super::gate::LookupGate;
use crate::client::call::typed;
use crate::client::{CallError, CallKind, Conn, Connector, Endpoint, Value};
use crate::config::sampler::SamplerConfig;
use crate::core::sampler::{
    Cycle, CycleReport, Grouper, STALE_AFTER_FAILED_CYCLES, SamplerStatus, Stop, redis_usec,
    summarize,
};
use crate::state::Shared;

/// What a sampler task needs to know about its target.
#[derive(Clone)]
pub(crate) struct SamplerSettings {
    pub name: String,
    /// Where and how to connect; its timeout bounds each Redis call.
    pub endpoint: Endpoint,
    pub config: SamplerConfig,
}

struct Sampler {
    settings: SamplerSettings,
    grouper: Grouper,
    shared: Shared,
    gate: Arc<LookupGate>,
    connector: Connector,
    conn: Option<Conn>,
    cursor: u64,
    /// `MEMORY USAGE` was refused (ACL, renamed): not sent again on this connection.
    memory_refused: bool,
    status: SamplerStatus,
    failures: u32,
}

/// Runs the sampler of one target until the task is aborted.
pub(crate) async fn run(settings: SamplerSettings, shared: Shared, gate: Arc<LookupGate>) {
    let interval = settings.config.interval;
    // Spread a fleet's first cycles over (at most) a minute after start.
    let offset =
        super::schedule::start_offset(&settings.name, interval.min(Duration::from_secs(60)));
    let mut ticker = tokio::time::interval_at(Instant::now() + offset, interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut s = Sampler {
        grouper: Grouper::new(
            &settings.config.separator,
            settings.config.depth,
            &settings.config.patterns,
        ),
        connector: Connector::new(settings.endpoint.clone()),
        settings,
        shared,
        gate,
        conn: None,
        cursor: 0,
        memory_refused: false,
        status: SamplerStatus::default(),
        failures: 0,
    };
    loop {
        ticker.tick().await;
        s.cycle_once().await;
    }
}

/// Every reply of a pipeline, or its first error.
fn all_ok(replies: Vec<Result<Value, CallError>>) -> Result<Vec<Value>, CallError> {
    replies.into_iter().collect()
}

impl Sampler {
    async fn cycle_once(&mut self) {
        let name = self.settings.name.clone();
        match self.cycle().await {
            Ok(report) => {
                debug!(
                    target_name = %name,
                    keys = report.keys,
                    prefixes = report.prefixes.len(),
                    duration_ms = report.duration.as_millis() as u64,
                    redis_usec = ?report.redis_usec,
                    stop = ?report.stop,
                    "Sampler cycle done."
                );
                self.status.cycles_total += 1;
                self.status.last = Some(Arc::new(report));
                self.failures = 0;
            }
            Err(e) => {
                self.status.cycle_errors_total += 1;
                self.failures += 1;
                if self.failures >= STALE_AFTER_FAILED_CYCLES {
                    self.status.last = None;
                }
                if e.reconnect {
                    self.conn = None;
                }
                if self.failures == 1 {
                    warn!(target_name = %name, error = %e, "Sampler cycle failed.");
                } else {
                    debug!(target_name = %name, error = %e, "Sampler cycle failed.");
                }
            }
        }
        self.status.lookups = *self.gate.lock().await;
        self.publish();
    }

    fn publish(&self) {
        self.shared
            .record_sampler(&self.settings.name, Arc::new(self.status.clone()));
    }

    /// The open connection, or a new one (TLS files re-read when they changed).
    async fn connection(&mut self) -> Result<&mut Conn, CallError> {
        if self.conn.is_none() {
            if self.connector.refresh() {
                info!(
                    target_name = %self.settings.name,
                    "TLS files changed; using them from this connection on.",
                );
            }
            self.conn = Some(self.connector.connect().await?);
            self.memory_refused = false;
        }
        Ok(self.conn.as_mut().expect("set above"))
    }

    async fn commandstats(conn: &mut Conn) -> Option<Vec<crate::core::info::CommandStat>> {
        let v = conn.call(&[b"INFO", b"commandstats"]).await.ok()?;
        let text = crate::client::call::reply_text(v).ok()?;
        crate::core::info::parse(&text).ok().map(|s| s.commands)
    }

    async fn cycle(&mut self) -> Result<CycleReport, CallError> {
        self.connection().await?;
        let Some(mut conn) = self.conn.take() else {
            return Err(CallError::new(CallKind::Connect, "no connection"));
        };
        let result = self.cycle_on(&mut conn).await;
        conn.release();
        if !result.as_ref().is_err_and(|e| e.reconnect) {
            self.conn = Some(conn);
        }
        result
    }

    async fn cycle_on(&mut self, conn: &mut Conn) -> Result<CycleReport, CallError> {
        let cfg = self.settings.config.clone();
        let started = Instant::now();
        let before = Self::commandstats(conn).await;
        let mut cycle = Cycle::default();
        let (mut scans, mut pttls, mut memory_calls) = (0u64, 0u64, 0u64);
        let stop = loop {
            let remaining = cfg.keys_per_cycle.saturating_sub(cycle.examined);
            let (cursor, count) = (
                self.cursor.to_string(),
                cfg.batch_size.min(remaining).max(1).to_string(),
            );
            let reply = conn
                .call(&[b"SCAN", cursor.as_bytes(), b"COUNT", count.as_bytes()])
                .await?;
            let (next, mut keys): (u64, Vec<Vec<u8>>) = typed("SCAN", reply)?;
            scans += 1;
            self.cursor = next;
            // SCAN may return more than COUNT; the budget is a hard limit.
            keys.truncate(remaining.try_into().unwrap_or(usize::MAX));
            if !keys.is_empty() {
                pttls += keys.len() as u64;
                memory_calls += self.batch(conn, &keys, &mut cycle).await?;
            }
            if next == 0 {
                break Stop::EndOfPass;
            }
            if cycle.examined >= cfg.keys_per_cycle {
                break Stop::Keys;
            }
            if started.elapsed() >= cfg.max_time_per_cycle {
                break Stop::Time;
            }
            tokio::time::sleep(cfg.pause_between_batches).await;
            if started.elapsed() >= cfg.max_time_per_cycle {
                break Stop::Time;
            }
        };
        let dbsize: u64 = typed("DBSIZE", conn.call(&[b"DBSIZE"]).await?)?;
        let duration = started.elapsed();
        let after = Self::commandstats(conn).await;
        let memory_names: &[&str] = &["memory|usage", "memory"];
        let redis_usec = before.zip(after).and_then(|(b, a)| {
            redis_usec(
                &b,
                &a,
                &[
                    (&["scan"], scans),
                    (&["pttl"], pttls),
                    (memory_names, memory_calls),
                ],
            )
        });
        Ok(CycleReport {
            prefixes: summarize(&cycle, dbsize, cfg.top_k),
            keys: cycle.examined,
            duration,
            redis_usec,
            dbsize,
            stop,
        })
    }

    /// `PTTL` of every key (under the lookup gate), then `MEMORY USAGE` of the keys whose
    /// prefix still needs samples. Returns the number of `MEMORY USAGE` calls sent.
    async fn batch(
        &mut self,
        conn: &mut Conn,
        keys: &[Vec<u8>],
        cycle: &mut Cycle,
    ) -> Result<u64, CallError> {
        let groups: Vec<String> = keys.iter().map(|k| self.grouper.group(k)).collect();
        let pttls: Vec<Vec<&[u8]>> = keys.iter().map(|k| vec![&b"PTTL"[..], k]).collect();
        let ttls: Vec<i64> = {
            let mut lookups = self.gate.lock().await;
            let replies = all_ok(conn.pipeline(&pttls).await?)?;
            let ttls = replies
                .into_iter()
                .map(|v| typed("PTTL", v))
                .collect::<Result<Vec<i64>, _>>()?;
            for (t, k) in ttls.iter().zip(keys) {
                if *t == -2 {
                    lookups.misses += 1;
                    // Its `keymiss` is ours, not the application's (see `LookupGate`).
                    self.gate.missed(crate::core::attribution::key_hash(k));
                } else {
                    lookups.hits += 1;
                }
            }
            self.status.lookups = *lookups;
            ttls
        };
        // Publish the lookups at once, so the counters stay close to keyspace_hits.
        self.publish();
        for (g, t) in groups.iter().zip(&ttls) {
            cycle.add_key(g, *t);
        }

        let per_prefix = self.settings.config.memory_samples;
        if per_prefix == 0 || self.memory_refused {
            return Ok(0);
        }
        let wanted: Vec<usize> = (0..keys.len())
            .filter(|&i| ttls[i] != -2 && cycle.plan_memory(&groups[i], per_prefix))
            .collect();
        if wanted.is_empty() {
            return Ok(0);
        }
        let usages: Vec<Vec<&[u8]>> = wanted
            .iter()
            .map(|&i| vec![&b"MEMORY"[..], b"USAGE", &keys[i]])
            .collect();
        let sizes: Vec<Option<u64>> = match all_ok(conn.pipeline(&usages).await?) {
            Ok(values) => values
                .into_iter()
                .map(|v| typed::<u64>("MEMORY USAGE", v).ok())
                .collect(),
            Err(e) if e.kind.is_reply() => {
                info!(
                    target_name = %self.settings.name,
                    error = %e,
                    "MEMORY USAGE refused; sampling without memory sizes on this connection.",
                );
                self.memory_refused = true;
                return Ok(0);
            }
            Err(e) => return Err(e),
        };
        for (&i, size) in wanted.iter().zip(sizes) {
            cycle.add_memory(&groups[i], size);
        }
        Ok(wanted.len() as u64)
    }
}
