//! What a poller has learned its target accepts: INFO by sections or `INFO all` (servers before
//! 7.0 take one section only), whether CONFIG is refused (renamed, blocked by ACL or a managed
//! service: then it is never sent again), and the `CONFIG GET maxmemory*` values of the current
//! connection, which fill what INFO does not report.

use tracing::{debug, info};

use super::wire::Wire;
use crate::client::call::{config_pairs, reply_text};
use crate::client::{CallError, CallKind};
use crate::core::info::Sample;

/// What CONFIG GET asks for, once per connection and in one call where the server takes
/// several patterns: the memory limit and policy, and how many databases there are
/// (`redis_db_keys` covers each, 0 when empty; INFO does not say).
const CONFIG_PATTERNS: [&str; 2] = ["maxmemory*", "databases"];

/// The CONFIG values `Sample::merge_config` reads.
const KEPT: [&str; 4] = ["maxmemory", "maxmemory-policy", "databases", "maxclients"];

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
    /// CONFIG GET takes one pattern per call (servers before 7.0).
    config_one_pattern: bool,
}

impl Capabilities {
    /// Nothing learned yet; CONFIG counts as refused when the target never sends it.
    pub(super) fn new(config_command: Option<&str>) -> Capabilities {
        Capabilities {
            info_mode: InfoMode::Sections,
            config_refused: config_command.is_none(),
            config: Vec::new(),
            config_fresh: false,
            config_one_pattern: false,
        }
    }

    /// A new connection: CONFIG GET is asked again at its first poll.
    pub(super) fn new_connection(&mut self) {
        self.config_fresh = false;
    }

    /// The text of INFO; by `sections`, or `INFO all` from the first refusal of several on.
    pub(super) async fn info(
        &mut self,
        conn: &mut impl Wire,
        sections: &[&str],
        name: &str,
    ) -> Result<String, CallError> {
        match info(conn, self.info_mode, sections).await {
            // Servers before 7.0 accept one section only and answer `-ERR syntax error`;
            // a refusal with another code (NOPERM, LOADING) is not about the sections.
            Err(e) if self.info_mode == InfoMode::Sections && e.kind == CallKind::Command => {
                debug!(
                    target_name = %name,
                    error = %e,
                    "Server refuses several INFO sections; using INFO all.",
                );
                self.info_mode = InfoMode::All;
                // The same servers take one CONFIG GET pattern per call: asking for several
                // would only add an error reply to their counters.
                self.config_one_pattern = true;
                info(conn, InfoMode::All, sections).await
            }
            r => r,
        }
    }

    /// Fills maxmemory and the policy from `CONFIG GET maxmemory*` where INFO did not report
    /// them, asking once per connection (or every poll for servers whose INFO lacks them) as
    /// long as CONFIG is not refused.
    pub(super) async fn complete(
        &mut self,
        conn: &mut impl Wire,
        sample: &mut Sample,
        command: Option<&str>,
        name: &str,
    ) -> Result<(), CallError> {
        let need_config =
            !self.config_fresh || sample.maxmemory.is_none() || sample.maxmemory_policy.is_none();
        if need_config && !self.config_refused {
            // INFO clients has reported maxclients since Redis 5; older servers are asked.
            let maxclients = sample.maxclients.is_none().then_some("maxclients");
            let patterns: Vec<&str> = CONFIG_PATTERNS.into_iter().chain(maxclients).collect();
            self.fetch_config(conn, &patterns, command, name).await?;
        }
        sample.merge_config(&self.config);
        Ok(())
    }

    async fn fetch_config(
        &mut self,
        conn: &mut impl Wire,
        patterns: &[&str],
        command: Option<&str>,
        name: &str,
    ) -> Result<(), CallError> {
        let Some(command) = command else {
            return Ok(());
        };
        // All patterns in one call (Redis 7+); one per call for servers that take one (those
        // that refuse several INFO sections, see `info`): a refusal is then about CONFIG itself.
        let mut config = Vec::new();
        let mut start = 0;
        while start < patterns.len() {
            let end = if self.config_one_pattern {
                start + 1
            } else {
                patterns.len()
            };
            let mut args: Vec<&[u8]> = vec![command.as_bytes(), b"GET"];
            args.extend(patterns[start..end].iter().map(|p| p.as_bytes()));
            match conn.call(&args).await {
                Ok(v) => {
                    // Only the values Sample::merge_config reads are kept (`maxmemory*` has five or
                    // more pairs): with 10 000 targets the rest is megabytes.
                    config.extend(
                        config_pairs(v)
                            .into_iter()
                            .filter(|(k, _)| KEPT.contains(&k.as_str())),
                    );
                    start = end;
                }
                // Renamed, disabled or denied: INFO memory supplies maxmemory and the policy.
                Err(e) if e.kind.is_reply() => {
                    info!(
                        target_name = %name,
                        command = %command,
                        error = %e,
                        "CONFIG refused; using INFO memory only, not sending it again.",
                    );
                    self.config_refused = true;
                    return Ok(());
                }
                Err(e) => return Err(e),
            }
        }
        self.config = config;
        self.config_fresh = true;
        Ok(())
    }
}

/// `INFO` in `mode`, as text.
async fn info(
    conn: &mut impl Wire,
    mode: InfoMode,
    sections: &[&str],
) -> Result<String, CallError> {
    let mut args: Vec<&[u8]> = vec![b"INFO"];
    match mode {
        InfoMode::Sections => args.extend(sections.iter().map(|s| s.as_bytes())),
        InfoMode::All => args.push(b"all"),
    }
    reply_text(conn.call(&args).await?)
}

#[cfg(test)]
mod tests {
    use crate::client::Value;

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
        s.merge_config(&pairs);
        assert_eq!(s.maxmemory, Some(7));
        assert_eq!(s.maxmemory_policy.as_deref(), Some("allkeys-lru"));
    }
}
