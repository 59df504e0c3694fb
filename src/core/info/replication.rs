//! The `replication` section of INFO: the replica's view of its master (host, port, last I/O,
//! sync, offset) and the master's view of each replica (`slaveN:ip=…,port=…,state=…,offset=…,
//! lag=…`). Pure, like the rest of `core::info`.

use super::{flag_value, pairs};

/// One `slaveN` line of a master.
#[derive(Debug, Clone, PartialEq)]
pub struct Replica {
    pub ip: String,
    pub port: String,
    /// `online`, `wait_bgsave`, `send_bulk`… as Redis reports it.
    pub state: String,
    /// Replication offset the replica acknowledged.
    pub offset: u64,
    /// Seconds since the replica's last acknowledgement; absent before Redis 3.0.
    pub lag: Option<u64>,
}

/// What INFO replication says beyond `role`, `connected_slaves` and `master_link_status`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Replication {
    /// On a replica: its master's address as configured (`master_host`, `master_port`).
    pub master_host: Option<String>,
    pub master_port: Option<String>,
    /// On a replica: seconds since the last interaction with the master; -1 before the first.
    pub master_last_io_seconds_ago: Option<i64>,
    pub master_sync_in_progress: Option<bool>,
    /// On a replica: the offset it has processed.
    pub slave_repl_offset: Option<u64>,
    pub slave_read_only: Option<bool>,
    /// The server's own replication offset (master and replica alike).
    pub master_repl_offset: Option<u64>,
    pub replicas: Vec<Replica>,
}

impl Replication {
    /// Stores one replication field; `None` when the key is not one of this section's, else
    /// whether its value parsed.
    pub(super) fn field(&mut self, key: &str, value: &str) -> Option<bool> {
        let value = value.trim();
        let ok = match key {
            "master_host" => set(&mut self.master_host, Some(value.to_string())),
            "master_port" => set(&mut self.master_port, Some(value.to_string())),
            "master_last_io_seconds_ago" => {
                set(&mut self.master_last_io_seconds_ago, value.parse().ok())
            }
            "master_sync_in_progress" => set(&mut self.master_sync_in_progress, flag_value(value)),
            "slave_repl_offset" => set(&mut self.slave_repl_offset, value.parse().ok()),
            "slave_read_only" => set(&mut self.slave_read_only, flag_value(value)),
            "master_repl_offset" => set(&mut self.master_repl_offset, value.parse().ok()),
            _ => {
                let n = key.strip_prefix("slave")?;
                if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                self.replica(value)
            }
        };
        Some(ok)
    }

    /// `ip=10.0.0.2,port=6379,state=online,offset=1751844676,lag=0`
    fn replica(&mut self, value: &str) -> bool {
        let (mut ip, mut port, mut state, mut offset, mut lag) = (None, None, None, None, None);
        for (k, v) in pairs(value) {
            match k {
                "ip" => ip = Some(v),
                "port" => port = Some(v),
                "state" => state = Some(v),
                "offset" => offset = v.parse().ok(),
                "lag" => lag = v.parse().ok(),
                _ => {}
            }
        }
        let (Some(ip), Some(port), Some(offset)) = (ip, port, offset) else {
            return false;
        };
        self.replicas.push(Replica {
            ip: ip.to_string(),
            port: port.to_string(),
            state: state.unwrap_or_default().to_string(),
            offset,
            lag,
        });
        true
    }
}

/// Stores `v` and says whether there was one to store.
pub(super) fn set<T>(slot: &mut Option<T>, v: Option<T>) -> bool {
    let ok = v.is_some();
    *slot = v;
    ok
}

#[cfg(test)]
mod tests {
    use super::super::parse;

    #[test]
    fn a_replica_reports_its_master_and_offset() {
        let s = parse(
            "# Replication\r\nrole:slave\r\nmaster_host:10.0.0.1\r\nmaster_port:6380\r\n\
             master_link_status:down\r\nmaster_last_io_seconds_ago:-1\r\n\
             master_sync_in_progress:1\r\nslave_repl_offset:0\r\nslave_read_only:1\r\n\
             master_repl_offset:0\r\n",
        )
        .unwrap();
        let r = &s.replication;
        assert_eq!(r.master_host.as_deref(), Some("10.0.0.1"));
        assert_eq!(r.master_port.as_deref(), Some("6380"));
        assert_eq!(r.master_last_io_seconds_ago, Some(-1));
        assert_eq!(r.master_sync_in_progress, Some(true));
        assert_eq!(
            (r.slave_repl_offset, r.master_repl_offset),
            (Some(0), Some(0))
        );
        assert_eq!(r.slave_read_only, Some(true));
        assert!(r.replicas.is_empty());
        assert!(s.skipped.is_empty());
    }

    #[test]
    fn a_master_lists_each_replica_and_skips_a_broken_line() {
        let s = parse(
            "# Replication\r\nrole:master\r\nconnected_slaves:3\r\n\
             slave0:ip=10.0.0.2,port=6379,state=online,offset=1751844676,lag=0\r\n\
             slave1:ip=10.0.0.3,port=6379,state=wait_bgsave,offset=0,lag=12\r\n\
             slave2:ip=10.0.0.4,state=online\r\n\
             master_repl_offset:1751844676\r\n",
        )
        .unwrap();
        let r = &s.replication;
        assert_eq!(r.replicas.len(), 2);
        assert_eq!(r.replicas[0].offset, 1_751_844_676);
        assert_eq!(r.replicas[1].state, "wait_bgsave");
        assert_eq!(r.replicas[1].lag, Some(12));
        assert_eq!(r.master_repl_offset, Some(1_751_844_676));
        assert_eq!(s.skipped, vec!["slave2"]);
    }

    #[test]
    fn slave_fields_that_are_not_replica_lines_are_not_replicas() {
        let s = parse(
            "# Replication\r\nslave_priority:100\r\nslave_expires_tracked_keys:0\r\n\
             slave_read_repl_offset:5\r\n",
        )
        .unwrap();
        assert!(s.replication.replicas.is_empty());
        assert!(s.skipped.is_empty());
    }
}
