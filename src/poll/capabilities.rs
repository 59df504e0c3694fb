//! What a poller has learned its target accepts: INFO by sections or `INFO all` (servers before
//! 7.0 take one section only), whether CONFIG is refused (renamed, blocked by ACL or a managed
//! service: then it is never sent again), and the `CONFIG GET maxmemory*` values of the current
//! connection, which fill what INFO does not report.

use std::time::Duration;

use tracing::{debug, info};

use crate::client::call::{PollError, classify, config_pairs, reply_text, timeout_error};
use crate::client::conn::Conn;
use crate::core::error_kind::ErrorKind;
use crate::core::info::Sample;

/// The INFO sections the exporter reads, asked for by name where the server allows several
/// sections in one call (Redis 7+), which skips the costly ones (latencystats, errorstats).
const INFO_SECTIONS: [&str; 7] = [
    "server",
    "clients",
    "memory",
    "stats",
    "replication",
    "commandstats",
    "keyspace",
];

/// How INFO is asked for; falls back once if the server refuses several sections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InfoMode {
    Sections,
    All,
}

/// One target's capabilities, as learned so far.
pub(super) struct Capabilities {
    info_mode: InfoMode,
    /// CONFIG was refused (renamed, blocked by ACL or a managed service): never sent again.
    config_refused: bool,
    /// CONFIG GET values from the current connection.
    config: Vec<(String, String)>,
    config_fresh: bool,
}

impl Capabilities {
    /// Nothing learned yet; CONFIG counts as refused when the target never sends it.
    pub(super) fn new(config_command: Option<&str>) -> Capabilities {
        Capabilities {
            info_mode: InfoMode::Sections,
            config_refused: config_command.is_none(),
            config: Vec::new(),
            config_fresh: false,
        }
    }

    /// A new connection: CONFIG GET is asked again at its first poll.
    pub(super) fn new_connection(&mut self) {
        self.config_fresh = false;
    }

    /// The text of INFO; by sections, or `INFO all` from the first refusal of several on.
    pub(super) async fn info(
        &mut self,
        conn: &mut Conn,
        timeout: Duration,
        name: &str,
    ) -> Result<String, PollError> {
        match info(conn, self.info_mode, timeout).await {
            Err(e)
                if self.info_mode == InfoMode::Sections
                    && e.kind == ErrorKind::Command
                    && e.message.contains("syntax") =>
            {
                // Servers before 7.0 accept one section only.
                debug!(target_name = %name, "Server refuses several INFO sections; using INFO all.");
                self.info_mode = InfoMode::All;
                info(conn, InfoMode::All, timeout).await
            }
            r => r,
        }
    }

    /// Fills maxmemory and the policy from `CONFIG GET maxmemory*` where INFO did not report
    /// them, asking once per connection (or every poll for servers whose INFO lacks them) as
    /// long as CONFIG is not refused.
    pub(super) async fn complete(
        &mut self,
        conn: &mut Conn,
        sample: &mut Sample,
        command: Option<&str>,
        timeout: Duration,
        name: &str,
    ) -> Result<(), PollError> {
        let need_config =
            !self.config_fresh || sample.maxmemory.is_none() || sample.maxmemory_policy.is_none();
        if need_config && !self.config_refused {
            self.fetch_config(conn, command, timeout, name).await?;
        }
        merge_config(sample, &self.config);
        Ok(())
    }

    async fn fetch_config(
        &mut self,
        conn: &mut Conn,
        command: Option<&str>,
        timeout: Duration,
        name: &str,
    ) -> Result<(), PollError> {
        let Some(command) = command else {
            return Ok(());
        };
        let args: [&[u8]; 3] = [command.as_bytes(), b"GET", b"maxmemory*"];
        let reply = tokio::time::timeout(timeout, conn.call(&args))
            .await
            .map_err(|_| timeout_error("CONFIG GET", timeout))?;
        match reply {
            Ok(v) => {
                // Only the two values merge_config reads are kept (the reply has five or
                // more pairs): with 10 000 targets the rest is megabytes.
                self.config = config_pairs(v)
                    .into_iter()
                    .filter(|(k, _)| k == "maxmemory" || k == "maxmemory-policy")
                    .collect();
                self.config_fresh = true;
            }
            Err(e) => {
                let pe = classify(&e);
                if pe.kind != ErrorKind::Command {
                    return Err(pe);
                }
                // Renamed, disabled or denied: INFO memory supplies maxmemory and the policy.
                info!(target_name = %name, command = %command, error = %e, "CONFIG refused; using INFO memory only, not sending it again.");
                self.config_refused = true;
            }
        }
        Ok(())
    }
}

/// `INFO` in `mode`, as text.
async fn info(conn: &mut Conn, mode: InfoMode, timeout: Duration) -> Result<String, PollError> {
    let mut args: Vec<&[u8]> = vec![b"INFO"];
    match mode {
        InfoMode::Sections => args.extend(INFO_SECTIONS.iter().map(|s| s.as_bytes())),
        InfoMode::All => args.push(b"all"),
    }
    let v = tokio::time::timeout(timeout, conn.call(&args))
        .await
        .map_err(|_| timeout_error("INFO", timeout))?
        .map_err(|e| classify(&e))?;
    reply_text(v)
}

/// Fills maxmemory and the policy from CONFIG where INFO did not report them.
fn merge_config(s: &mut Sample, config: &[(String, String)]) {
    for (k, v) in config {
        match k.as_str() {
            "maxmemory" if s.maxmemory.is_none() => s.maxmemory = v.parse().ok(),
            "maxmemory-policy" if s.maxmemory_policy.is_none() => {
                s.maxmemory_policy = Some(v.clone())
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use redis::Value;

    use super::*;

    #[test]
    fn config_reply_fills_only_what_info_lacks() {
        let v = Value::Array(vec![
            Value::BulkString(b"maxmemory".to_vec()),
            Value::BulkString(b"1048576".to_vec()),
            Value::BulkString(b"maxmemory-policy".to_vec()),
            Value::BulkString(b"allkeys-lru".to_vec()),
            Value::BulkString(b"maxmemory-samples".to_vec()),
        ]);
        let pairs = config_pairs(v);
        assert_eq!(pairs.len(), 2);
        let mut s = Sample {
            maxmemory: Some(7),
            ..Sample::default()
        };
        merge_config(&mut s, &pairs);
        assert_eq!(s.maxmemory, Some(7));
        assert_eq!(s.maxmemory_policy.as_deref(), Some("allkeys-lru"));
    }
}
