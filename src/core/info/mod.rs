//! Typed INFO: parses the raw text of a Redis `INFO` reply into a [`Sample`].
//!
//! Pure: no IO, no tokio, no redis imports. The poller fetches INFO as a raw string and hands it
//! here, so tests parse exactly what production parses.
//!
//! The format is documented at <https://redis.io/docs/latest/commands/info/>: `# Section` headers,
//! `field:value` lines, CRLF line endings. Fields differ between versions and forks (Redis 6.x,
//! 7.x, Valkey), so every field is optional: a missing one yields a missing series, never a failed
//! poll. Unknown fields are ignored. Values that do not parse are skipped and named in
//! [`Sample::skipped`].
//!
//! The replication section's details are in `replication`; the slow sections (persistence,
//! errorstats, latencystats, keysizes), which the poller reads less often, in [`slow`] (keysizes
//! in `keysizes`).

use std::fmt;
use std::sync::Arc;

mod keysizes;
mod replication;
pub mod slow;

pub use keysizes::KeySizes;
pub use replication::{Replica, Replication};
pub use slow::{ErrorStat, LatencyStat, Persistence, Slow};

/// Per-command statistics from the `commandstats` section (`cmdstat_get:calls=…,usec=…`).
#[derive(Debug, Clone, PartialEq)]
pub struct CommandStat {
    /// Command name as Redis reports it, e.g. `get` or `config|get` (Redis 7 subcommands).
    pub name: String,
    pub calls: u64,
    /// Total CPU time spent in the command, microseconds.
    pub usec: u64,
    /// Calls rejected before execution (Redis 7+).
    pub rejected_calls: Option<u64>,
    /// Calls that failed during execution (Redis 7+).
    pub failed_calls: Option<u64>,
}

/// One line of the `keyspace` section (`db0:keys=…,expires=…,avg_ttl=…`).
#[derive(Debug, Clone, PartialEq)]
pub struct DbStat {
    /// Database index (`db0` → 0).
    pub db: u32,
    pub keys: u64,
    /// Keys with an expiry set.
    pub expires: u64,
    /// Average TTL of the keys with an expiry, milliseconds (an estimate computed by Redis).
    pub avg_ttl_ms: u64,
}

/// INFO cpu: CPU seconds the server used, system and user; the main thread's and the
/// background children's where the server reports them (Redis 6.2+ for the main thread).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cpu {
    pub sys: Option<f64>,
    pub user: Option<f64>,
    pub sys_children: Option<f64>,
    pub user_children: Option<f64>,
    pub sys_main_thread: Option<f64>,
    pub user_main_thread: Option<f64>,
}

/// Everything the exporter uses from one INFO reply. Every field is optional because servers
/// differ; see the module docs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sample {
    // server
    pub redis_version: Option<String>,
    /// `server_name` (Valkey sets it to `valkey`); absent on Redis.
    pub server_name: Option<String>,
    /// `valkey_version` (Valkey, which keeps `redis_version:7.2.4` for clients that check it).
    pub valkey_version: Option<String>,
    pub redis_mode: Option<String>,
    pub run_id: Option<String>,
    pub uptime_in_seconds: Option<u64>,
    // clients
    pub connected_clients: Option<u64>,
    pub blocked_clients: Option<u64>,
    /// `maxclients` (INFO clients on Redis 5+, else CONFIG GET maxclients).
    pub maxclients: Option<u64>,
    // memory
    pub used_memory: Option<u64>,
    pub used_memory_rss: Option<u64>,
    pub used_memory_peak: Option<u64>,
    pub total_system_memory: Option<u64>,
    pub maxmemory: Option<u64>,
    pub maxmemory_policy: Option<String>,
    pub mem_fragmentation_ratio: Option<f64>,
    pub mem_not_counted_for_evict: Option<u64>,
    /// `used_memory_startup`: what the server used before holding any key (memory sizing's
    /// cost per key leaves it out).
    pub used_memory_startup: Option<u64>,
    /// `mem_clients_normal`: normal clients' buffers (a pub/sub subscriber's among them),
    /// which count in `used_memory` but do not grow with the keys.
    pub mem_clients_normal: Option<u64>,
    // persistence
    pub loading: Option<bool>,
    // stats
    pub total_connections_received: Option<u64>,
    pub total_commands_processed: Option<u64>,
    pub total_net_input_bytes: Option<u64>,
    pub total_net_output_bytes: Option<u64>,
    pub rejected_connections: Option<u64>,
    pub expired_keys: Option<u64>,
    pub evicted_keys: Option<u64>,
    pub keyspace_hits: Option<u64>,
    pub keyspace_misses: Option<u64>,
    /// Clients evicted for `maxmemory-clients` (Redis 7+).
    pub evicted_clients: Option<u64>,
    /// Milliseconds used memory spent over maxmemory, in total and in the current spell
    /// (Redis 7+): eviction not keeping up with writes.
    pub total_eviction_exceeded_time_ms: Option<u64>,
    pub current_eviction_exceeded_time_ms: Option<u64>,
    // replication
    pub role: Option<String>,
    pub connected_slaves: Option<u64>,
    pub master_link_up: Option<bool>,
    pub replication: Replication,
    pub cpu: Cpu,
    /// Persistence, errorstats, latencystats and keysizes, when the reply had one of them.
    pub slow: Option<Arc<Slow>>,
    /// `databases` from CONFIG GET (not in INFO): how many databases `redis_db_keys` covers.
    pub databases: Option<u32>,
    // commandstats, keyspace
    pub commands: Vec<CommandStat>,
    pub keyspace: Vec<DbStat>,
    /// Fields that were present but whose value did not parse (for a debug log).
    pub skipped: Vec<String>,
}

/// Why a reply is not INFO at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InfoError {
    /// The reply was empty.
    Empty,
    /// No line of the reply looked like an INFO field (`field:value` under a `# Section`).
    NotInfo,
}

impl fmt::Display for InfoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InfoError::Empty => f.write_str("empty INFO reply"),
            InfoError::NotInfo => f.write_str("reply does not look like INFO output"),
        }
    }
}

impl std::error::Error for InfoError {}

impl TryFrom<&str> for Sample {
    type Error = InfoError;

    fn try_from(text: &str) -> Result<Self, Self::Error> {
        parse(text)
    }
}

/// Parses INFO text (any sections, CRLF or LF).
pub fn parse(text: &str) -> Result<Sample, InfoError> {
    if text.trim().is_empty() {
        return Err(InfoError::Empty);
    }
    let mut s = Sample::default();
    let mut slow = Slow::default();
    let mut slow_seen = false;
    let mut known = 0usize;
    for raw in text.split('\n') {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if let Some(header) = line.strip_prefix('#') {
            let header = header.trim();
            slow_seen |= slow::is_slow_section(header);
            slow.has_latencystats |= header.eq_ignore_ascii_case("latencystats");
            slow.has_keysizes |= header.eq_ignore_ascii_case("keysizes");
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        match slow.field(key, value) {
            Some(true) => known += 1,
            Some(false) => s.skipped.push(key.to_string()),
            None if s.field(key, value) => known += 1,
            None => {}
        }
    }
    // Headers alone (or lines that merely contain a colon) do not make a reply INFO.
    if known == 0 {
        return Err(InfoError::NotInfo);
    }
    if slow_seen {
        s.slow = Some(Arc::new(slow));
    }
    Ok(s)
}

impl Sample {
    /// Fills maxmemory, the policy and maxclients from CONFIG's `(name, value)` pairs where
    /// INFO did not report them, and the number of databases, which INFO never reports.
    pub fn merge_config(&mut self, config: &[(String, String)]) {
        for (k, v) in config {
            match k.as_str() {
                "databases" => self.databases = v.parse().ok(),
                "maxclients" if self.maxclients.is_none() => self.maxclients = v.parse().ok(),
                "maxmemory" if self.maxmemory.is_none() => self.maxmemory = v.parse().ok(),
                "maxmemory-policy" if self.maxmemory_policy.is_none() => {
                    self.maxmemory_policy = Some(v.clone());
                }
                _ => {}
            }
        }
    }

    /// Stores one `key:value`; returns whether the key is one we know.
    fn field(&mut self, key: &str, value: &str) -> bool {
        if let Some(name) = key.strip_prefix("cmdstat_") {
            return self.command(name, key, value);
        }
        if let Some(db) = key.strip_prefix("db").and_then(|n| n.parse::<u32>().ok()) {
            return self.db(db, key, value);
        }
        match key {
            "redis_version" => self.redis_version = Some(value.to_string()),
            "server_name" => self.server_name = Some(value.to_string()),
            "valkey_version" => self.valkey_version = Some(value.to_string()),
            // Valkey 8 renamed `redis_mode` to `server_mode`.
            "redis_mode" | "server_mode" => self.redis_mode = Some(value.to_string()),
            "run_id" => self.run_id = Some(value.to_string()),
            "uptime_in_seconds" => self.uptime_in_seconds = self.num(key, value),
            "connected_clients" => self.connected_clients = self.num(key, value),
            "blocked_clients" => self.blocked_clients = self.num(key, value),
            "maxclients" => self.maxclients = self.num(key, value),
            "used_memory" => self.used_memory = self.num(key, value),
            "used_memory_rss" => self.used_memory_rss = self.num(key, value),
            "used_memory_peak" => self.used_memory_peak = self.num(key, value),
            "total_system_memory" => self.total_system_memory = self.num(key, value),
            "maxmemory" => self.maxmemory = self.num(key, value),
            "maxmemory_policy" => self.maxmemory_policy = Some(value.to_string()),
            "mem_fragmentation_ratio" => self.mem_fragmentation_ratio = self.float(key, value),
            "mem_not_counted_for_evict" => self.mem_not_counted_for_evict = self.num(key, value),
            "used_memory_startup" => self.used_memory_startup = self.num(key, value),
            "mem_clients_normal" => self.mem_clients_normal = self.num(key, value),
            "loading" => self.loading = self.flag(key, value),
            "total_connections_received" => self.total_connections_received = self.num(key, value),
            "total_commands_processed" => self.total_commands_processed = self.num(key, value),
            "total_net_input_bytes" => self.total_net_input_bytes = self.num(key, value),
            "total_net_output_bytes" => self.total_net_output_bytes = self.num(key, value),
            "rejected_connections" => self.rejected_connections = self.num(key, value),
            "expired_keys" => self.expired_keys = self.num(key, value),
            "evicted_keys" => self.evicted_keys = self.num(key, value),
            "keyspace_hits" => self.keyspace_hits = self.num(key, value),
            "keyspace_misses" => self.keyspace_misses = self.num(key, value),
            "evicted_clients" => self.evicted_clients = self.num(key, value),
            "total_eviction_exceeded_time" => {
                self.total_eviction_exceeded_time_ms = self.num(key, value);
            }
            "current_eviction_exceeded_time" => {
                self.current_eviction_exceeded_time_ms = self.num(key, value);
            }
            "used_cpu_sys" => self.cpu.sys = self.float(key, value),
            "used_cpu_user" => self.cpu.user = self.float(key, value),
            "used_cpu_sys_children" => self.cpu.sys_children = self.float(key, value),
            "used_cpu_user_children" => self.cpu.user_children = self.float(key, value),
            "used_cpu_sys_main_thread" => self.cpu.sys_main_thread = self.float(key, value),
            "used_cpu_user_main_thread" => self.cpu.user_main_thread = self.float(key, value),
            "role" => self.role = Some(value.to_string()),
            "connected_slaves" => self.connected_slaves = self.num(key, value),
            "master_link_status" => self.master_link_up = Some(value == "up"),
            _ => {
                return match self.replication.field(key, value) {
                    Some(true) => true,
                    Some(false) => {
                        self.skipped.push(key.to_string());
                        false
                    }
                    // Fields we do not export are still INFO: they count towards "this is INFO".
                    None => looks_like_field(key),
                };
            }
        }
        true
    }

    fn num(&mut self, key: &str, value: &str) -> Option<u64> {
        let v = value.trim().parse::<u64>().ok();
        if v.is_none() {
            self.skipped.push(key.to_string());
        }
        v
    }

    fn float(&mut self, key: &str, value: &str) -> Option<f64> {
        let v = value.trim().parse::<f64>().ok().filter(|v| v.is_finite());
        if v.is_none() {
            self.skipped.push(key.to_string());
        }
        v
    }

    fn flag(&mut self, key: &str, value: &str) -> Option<bool> {
        let v = flag_value(value.trim());
        if v.is_none() {
            self.skipped.push(key.to_string());
        }
        v
    }

    /// `cmdstat_get:calls=10,usec=20,usec_per_call=2.00,rejected_calls=0,failed_calls=0`
    fn command(&mut self, name: &str, key: &str, value: &str) -> bool {
        let (mut calls, mut usec, mut rejected, mut failed) = (None, None, None, None);
        for (k, v) in pairs(value) {
            match k {
                "calls" => calls = v.parse().ok(),
                "usec" => usec = v.parse().ok(),
                "rejected_calls" => rejected = v.parse().ok(),
                "failed_calls" => failed = v.parse().ok(),
                _ => {}
            }
        }
        match (calls, usec) {
            (Some(calls), Some(usec)) if !name.is_empty() => {
                self.commands.push(CommandStat {
                    name: name.to_ascii_lowercase(),
                    calls,
                    usec,
                    rejected_calls: rejected,
                    failed_calls: failed,
                });
                true
            }
            _ => {
                self.skipped.push(key.to_string());
                false
            }
        }
    }

    /// `db0:keys=1,expires=0,avg_ttl=0` (Redis 7.4+ may append more fields).
    fn db(&mut self, db: u32, key: &str, value: &str) -> bool {
        let (mut keys, mut expires, mut avg_ttl) = (None, None, None);
        for (k, v) in pairs(value) {
            match k {
                "keys" => keys = v.parse().ok(),
                "expires" => expires = v.parse().ok(),
                "avg_ttl" => avg_ttl = v.parse().ok(),
                _ => {}
            }
        }
        if let (Some(keys), Some(expires)) = (keys, expires) {
            self.keyspace.push(DbStat {
                db,
                keys,
                expires,
                avg_ttl_ms: avg_ttl.unwrap_or(0),
            });
            true
        } else {
            self.skipped.push(key.to_string());
            false
        }
    }

    /// Keys evicted plus lookups are what a cache is judged by; `None` when the server did not
    /// report hits and misses (then no hit ratio can be derived).
    pub fn lookups(&self) -> Option<u64> {
        Some(self.keyspace_hits?.saturating_add(self.keyspace_misses?))
    }

    /// `server_name` when present (Valkey), else `redis`.
    pub fn server(&self) -> &str {
        self.server_name.as_deref().unwrap_or("redis")
    }
}

/// `0` or `1` as a flag.
fn flag_value(value: &str) -> Option<bool> {
    match value {
        "0" => Some(false),
        "1" => Some(true),
        _ => None,
    }
}

/// `a=1,b=2` → `[("a","1"), ("b","2")]`.
fn pairs(value: &str) -> impl Iterator<Item = (&str, &str)> {
    value.trim().split(',').filter_map(|kv| kv.split_once('='))
}

/// INFO field names are lowercase ASCII words with `_` (and digits); anything else is noise.
fn looks_like_field(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 64
        && key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: &str = "# Server\r\nredis_version:7.0.15\r\nredis_mode:standalone\r\n\
                         run_id:abc\r\nuptime_in_seconds:42\r\n\r\n# Stats\r\nkeyspace_hits:900\r\n\
                         keyspace_misses:100\r\nevicted_keys:3\r\n\r\n# Commandstats\r\n\
                         cmdstat_get:calls=1000,usec=2000,usec_per_call=2.00,rejected_calls=0,\
                         failed_calls=0\r\ncmdstat_config|get:calls=2,usec=30,usec_per_call=15.00,\
                         rejected_calls=0,failed_calls=1\r\n\r\n# Keyspace\r\n\
                         db0:keys=10,expires=4,avg_ttl=5000\r\ndb3:keys=1,expires=0,avg_ttl=0\r\n";

    #[test]
    fn parses_fields_commandstats_and_keyspace() {
        let s = Sample::try_from(SMALL).unwrap();
        assert_eq!(s.redis_version.as_deref(), Some("7.0.15"));
        assert_eq!(s.uptime_in_seconds, Some(42));
        assert_eq!((s.keyspace_hits, s.keyspace_misses), (Some(900), Some(100)));
        assert_eq!(s.lookups(), Some(1000));
        assert_eq!(s.evicted_keys, Some(3));
        assert_eq!(s.expired_keys, None);
        assert_eq!(s.commands.len(), 2);
        assert_eq!(s.commands[1].name, "config|get");
        assert_eq!(s.commands[1].failed_calls, Some(1));
        assert_eq!(
            s.keyspace,
            vec![
                DbStat {
                    db: 0,
                    keys: 10,
                    expires: 4,
                    avg_ttl_ms: 5000
                },
                DbStat {
                    db: 3,
                    keys: 1,
                    expires: 0,
                    avg_ttl_ms: 0
                },
            ]
        );
        assert_eq!(s.server(), "redis");
        assert!(s.skipped.is_empty());
    }

    #[test]
    fn lf_only_parses_the_same_as_crlf() {
        let lf = SMALL.replace("\r\n", "\n");
        assert_eq!(parse(&lf).unwrap(), parse(SMALL).unwrap());
    }

    #[test]
    fn bad_values_are_skipped_and_named() {
        let s = parse(
            "# Stats\r\nkeyspace_hits:12x\r\nkeyspace_misses:3\r\n\
             db0:keys=abc,expires=1\r\ncmdstat_get:calls=x\r\n",
        )
        .unwrap();
        assert_eq!(s.keyspace_hits, None);
        assert_eq!(s.keyspace_misses, Some(3));
        assert!(s.keyspace.is_empty());
        assert_eq!(s.lookups(), None);
        assert_eq!(s.skipped, vec!["keyspace_hits", "db0", "cmdstat_get"]);
    }

    #[test]
    fn garbage_and_empty_are_errors() {
        assert_eq!(parse(""), Err(InfoError::Empty));
        assert_eq!(parse("\r\n  \r\n"), Err(InfoError::Empty));
        assert_eq!(
            parse("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"),
            Err(InfoError::NotInfo)
        );
        assert_eq!(parse("+OK"), Err(InfoError::NotInfo));
        assert_eq!(parse("# Server\r\n"), Err(InfoError::NotInfo));
    }

    #[test]
    fn negative_and_huge_numbers_do_not_panic() {
        let s = parse(
            "# Stats\r\nkeyspace_hits:-1\r\nkeyspace_misses:99999999999999999999999\r\n\
             mem_fragmentation_ratio:inf\r\n",
        )
        .unwrap();
        assert_eq!(s.keyspace_hits, None);
        assert_eq!(s.keyspace_misses, None);
        assert_eq!(s.mem_fragmentation_ratio, None);
    }

    #[test]
    fn lookups_saturate() {
        let s = Sample {
            keyspace_hits: Some(u64::MAX),
            keyspace_misses: Some(5),
            ..Sample::default()
        };
        assert_eq!(s.lookups(), Some(u64::MAX));
    }
}
