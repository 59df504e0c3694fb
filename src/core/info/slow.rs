//! The INFO sections that change slowly or cost Redis time to produce — `persistence`,
//! `errorstats`, `latencystats`, `keysizes` — parsed into one [`Slow`] part of a sample. The poller
//! asks for them less often than every poll and carries the last part between reads
//! (`poll::sections`), so they are kept apart from the fields read every poll. Pure, like the rest
//! of `core::info`.

use super::keysizes::KeySizes;
use super::pairs;
use super::replication::set;

/// The commands whose latency percentiles are exported: what a cache runs. Latencystats lists
/// every command the server has run; keeping these bounds the series per target.
pub const LATENCY_COMMANDS: &[&str] = &[
    "get",
    "set",
    "setex",
    "psetex",
    "setnx",
    "getex",
    "getdel",
    "mget",
    "mset",
    "del",
    "unlink",
    "exists",
    "expire",
    "pexpire",
    "ttl",
    "pttl",
    "incr",
    "incrby",
    "decr",
    "hget",
    "hset",
    "hmget",
    "hgetall",
    "hdel",
    "sadd",
    "smembers",
    "sismember",
    "zadd",
    "zrange",
    "zscore",
    "lpush",
    "rpush",
    "lrange",
    "eval",
    "evalsha",
];

/// INFO section headers whose fields land in [`Slow`] (compared in lowercase).
const SECTIONS: [&str; 4] = ["persistence", "errorstats", "latencystats", "keysizes"];

/// Whether `# Header` names one of the slow sections.
pub(super) fn is_slow_section(header: &str) -> bool {
    SECTIONS.iter().any(|s| header.eq_ignore_ascii_case(s))
}

/// `errorstat_<PREFIX>:count=N`: errors replied, by their first word (`OOM`, `ERR`, `NOAUTH`…).
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorStat {
    pub err: String,
    pub count: u64,
}

/// `latency_percentiles_usec_<cmd>:p50=…,p99=…,p99.9=…` for one of [`LATENCY_COMMANDS`].
#[derive(Debug, Clone, PartialEq)]
pub struct LatencyStat {
    pub cmd: String,
    /// `(quantile, microseconds)`: the quantile as Prometheus writes it (`p99.9` → `0.999`).
    pub quantiles: Vec<(String, f64)>,
}

/// INFO persistence: RDB and AOF state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Persistence {
    /// Unix time of the last successful RDB save (`rdb_last_save_time`).
    pub rdb_last_save_time: Option<u64>,
    pub rdb_changes_since_last_save: Option<u64>,
    pub rdb_bgsave_in_progress: Option<bool>,
    /// `rdb_last_bgsave_status` is `ok`.
    pub rdb_last_bgsave_ok: Option<bool>,
    /// Seconds the last RDB save took; -1 when there was none.
    pub rdb_last_bgsave_time_sec: Option<i64>,
    pub aof_enabled: Option<bool>,
    pub aof_rewrite_in_progress: Option<bool>,
    /// Seconds the last AOF rewrite took; -1 when there was none.
    pub aof_last_rewrite_time_sec: Option<i64>,
    pub aof_last_bgrewrite_ok: Option<bool>,
    pub aof_last_write_ok: Option<bool>,
}

/// The slow sections of one INFO reply.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Slow {
    pub persistence: Persistence,
    pub errors: Vec<ErrorStat>,
    pub latency: Vec<LatencyStat>,
    /// The reply had a `# Latencystats` section (asked for less often than the others).
    pub has_latencystats: bool,
    /// INFO keysizes, per database and type (Redis 8+).
    pub keysizes: Vec<KeySizes>,
    /// The reply had a `# Keysizes` section.
    pub has_keysizes: bool,
}

impl Slow {
    /// Stores one field of a slow section; `None` when the key is not one, else whether its
    /// value parsed.
    pub(super) fn field(&mut self, key: &str, value: &str) -> Option<bool> {
        if let Some(kept) = super::keysizes::field(&mut self.keysizes, key, value) {
            return Some(kept);
        }
        if let Some(err) = key.strip_prefix("errorstat_") {
            let count = pairs(value).find(|(k, _)| *k == "count");
            let count = count.and_then(|(_, v)| v.parse().ok());
            return Some(match count {
                Some(count) if !err.is_empty() => {
                    self.errors.push(ErrorStat {
                        err: err.to_string(),
                        count,
                    });
                    true
                }
                _ => false,
            });
        }
        if let Some(cmd) = key.strip_prefix("latency_percentiles_usec_") {
            return Some(self.latency(cmd, value));
        }
        if key.starts_with("rdb_") || key.starts_with("aof_") {
            return self.persistence.field(key, value.trim());
        }
        None
    }

    fn latency(&mut self, cmd: &str, value: &str) -> bool {
        let cmd = cmd.to_ascii_lowercase();
        if !LATENCY_COMMANDS.contains(&cmd.as_str()) {
            return true;
        }
        let mut quantiles = Vec::with_capacity(3);
        for (k, v) in pairs(value) {
            match (
                k.strip_prefix('p').and_then(quantile_label),
                v.parse::<f64>(),
            ) {
                (Some(q), Ok(v)) if v.is_finite() => quantiles.push((q, v)),
                _ => return false,
            }
        }
        if quantiles.is_empty() {
            return false;
        }
        self.latency.push(LatencyStat { cmd, quantiles });
        true
    }
}

impl Persistence {
    fn field(&mut self, key: &str, v: &str) -> Option<bool> {
        let status = |v: &str| match v {
            "ok" => Some(true),
            "err" | "fail" => Some(false),
            _ => None,
        };
        Some(match key {
            "rdb_last_save_time" => set(&mut self.rdb_last_save_time, v.parse().ok()),
            "rdb_changes_since_last_save" => {
                set(&mut self.rdb_changes_since_last_save, v.parse().ok())
            }
            "rdb_bgsave_in_progress" => set(&mut self.rdb_bgsave_in_progress, super::flag_value(v)),
            "rdb_last_bgsave_status" => set(&mut self.rdb_last_bgsave_ok, status(v)),
            "rdb_last_bgsave_time_sec" => set(&mut self.rdb_last_bgsave_time_sec, v.parse().ok()),
            "aof_enabled" => set(&mut self.aof_enabled, super::flag_value(v)),
            "aof_rewrite_in_progress" => {
                set(&mut self.aof_rewrite_in_progress, super::flag_value(v))
            }
            "aof_last_rewrite_time_sec" => set(&mut self.aof_last_rewrite_time_sec, v.parse().ok()),
            "aof_last_bgrewrite_status" => set(&mut self.aof_last_bgrewrite_ok, status(v)),
            "aof_last_write_status" => set(&mut self.aof_last_write_ok, status(v)),
            _ => return None,
        })
    }
}

/// A percentile as INFO writes it (`50`, `99.9`) → the quantile label (`0.5`, `0.999`), by
/// moving the decimal point in the text, so `99.9` does not become `0.9990000000000001`.
fn quantile_label(p: &str) -> Option<String> {
    let (int, frac) = p.split_once('.').unwrap_or((p, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() || int.len() > 3 || !digits(int) || !digits(frac) {
        return None;
    }
    if int == "100" {
        return frac.bytes().all(|b| b == b'0').then(|| "1".to_string());
    }
    let all = format!("{int:0>2}{frac}");
    let trimmed = all.trim_end_matches('0');
    Some(if trimmed.is_empty() {
        "0".to_string()
    } else {
        format!("0.{trimmed}")
    })
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use super::*;

    #[test]
    fn quantile_labels_move_the_decimal_point() {
        for (p, q) in [
            ("50", "0.5"),
            ("99", "0.99"),
            ("99.9", "0.999"),
            ("5", "0.05"),
            ("0", "0"),
            ("100", "1"),
            ("99.99", "0.9999"),
        ] {
            assert_eq!(quantile_label(p).as_deref(), Some(q), "p{p}");
        }
        for bad in ["", "x", "1000", "9.9.9", "-1", "100.5"] {
            assert_eq!(quantile_label(bad), None, "p{bad}");
        }
    }

    #[test]
    fn errorstats_count_every_prefix() {
        let s = parse(
            "# Errorstats\r\nerrorstat_OOM:count=108\r\nerrorstat_ERR:count=3\r\n\
             errorstat_BAD:count=x\r\n",
        )
        .unwrap();
        let slow = s.slow.as_deref().expect("errorstats seen");
        assert_eq!(
            slow.errors,
            vec![
                ErrorStat {
                    err: "OOM".into(),
                    count: 108
                },
                ErrorStat {
                    err: "ERR".into(),
                    count: 3
                },
            ]
        );
        assert_eq!(s.skipped, vec!["errorstat_BAD"]);
    }

    #[test]
    fn latencystats_keep_the_commands_of_a_cache_only() {
        let s = parse(
            "# Latencystats\r\n\
             latency_percentiles_usec_get:p50=1.003,p99=4.015,p99.9=4.015\r\n\
             latency_percentiles_usec_config|get:p50=8.031,p99=27.007,p99.9=27.007\r\n\
             latency_percentiles_usec_set:p50=x\r\n",
        )
        .unwrap();
        let slow = s.slow.as_deref().expect("latencystats seen");
        assert_eq!(slow.latency.len(), 1);
        assert_eq!(slow.latency[0].cmd, "get");
        assert_eq!(
            slow.latency[0].quantiles,
            vec![
                ("0.5".to_string(), 1.003),
                ("0.99".to_string(), 4.015),
                ("0.999".to_string(), 4.015)
            ]
        );
        assert_eq!(s.skipped, vec!["latency_percentiles_usec_set"]);
    }

    #[test]
    fn persistence_status_words_become_flags() {
        let s = parse(
            "# Persistence\r\nloading:0\r\nrdb_changes_since_last_save:75\r\n\
             rdb_bgsave_in_progress:0\r\nrdb_last_save_time:1796162302\r\n\
             rdb_last_bgsave_status:err\r\nrdb_last_bgsave_time_sec:-1\r\n\
             aof_enabled:1\r\naof_rewrite_in_progress:0\r\n\
             aof_last_rewrite_time_sec:2\r\naof_last_bgrewrite_status:ok\r\n\
             aof_last_write_status:ok\r\nrdb_saves:0\r\n",
        )
        .unwrap();
        let p = &s.slow.as_deref().expect("persistence seen").persistence;
        assert_eq!(p.rdb_last_save_time, Some(1_796_162_302));
        assert_eq!(p.rdb_changes_since_last_save, Some(75));
        assert_eq!(p.rdb_last_bgsave_ok, Some(false));
        assert_eq!(p.rdb_last_bgsave_time_sec, Some(-1));
        assert_eq!(p.aof_enabled, Some(true));
        assert_eq!(p.aof_last_rewrite_time_sec, Some(2));
        assert_eq!(
            (p.aof_last_bgrewrite_ok, p.aof_last_write_ok),
            (Some(true), Some(true))
        );
        assert!(s.skipped.is_empty());
        assert_eq!(s.loading, Some(false));
    }

    #[test]
    fn a_reply_without_slow_sections_has_no_slow_part() {
        let s = parse("# Stats\r\nkeyspace_hits:1\r\n").unwrap();
        assert!(s.slow.is_none());
        let s = parse("# Errorstats\r\n\r\n# Stats\r\nkeyspace_hits:1\r\n").unwrap();
        assert_eq!(s.slow.as_deref(), Some(&Slow::default()));
        let s = parse("# Latencystats\r\n\r\n# Stats\r\nkeyspace_hits:1\r\n").unwrap();
        assert!(s.slow.unwrap().has_latencystats);
    }
}
