//! The global settings (`listen`, `poll_interval`, `timeout`, `log_format`, `log_level`),
//! merged by precedence: command line > environment > file > built-in default.

use std::net::SocketAddr;
use std::time::Duration;

use toml::Spanned;

use super::origin::{ConfigError, FileCtx, Origin, Setting, env_setting, invalid, pick};
use super::raw::RawFile;
use super::{
    DEFAULT_LISTEN, DEFAULT_LOG_LEVEL, DEFAULT_POLL_INTERVAL, Flags, LogFormat, parse_duration,
};

/// The merged global settings; targets inherit the poll interval and the timeout.
pub(super) struct Globals {
    pub listen: SocketAddr,
    pub poll_interval: Setting<Duration>,
    /// `None` when no source sets it; each target then gets [`super::default_timeout`] of its
    /// own poll interval.
    pub timeout: Option<Setting<Duration>>,
    pub log_format: LogFormat,
    pub log_level: String,
}

/// Merges the flags, the environment and the file's top-level keys.
pub(super) fn merge(
    flags: &Flags,
    env: &dyn Fn(&str) -> Option<String>,
    file: Option<(&RawFile, &FileCtx)>,
) -> Result<Globals, ConfigError> {
    let file_key = |get: fn(&RawFile) -> &Option<Spanned<String>>| {
        file.and_then(|(raw, ctx)| get(raw).as_ref().map(|v| (v, ctx)))
    };
    let listen = pick(
        "listen",
        ("--listen", flags.listen),
        env_setting(env, "LISTEN"),
        file_key(|r| &r.listen),
        parse_listen,
    )?
    .map_or(DEFAULT_LISTEN, |s| s.value);
    let poll_interval = pick(
        "poll_interval",
        ("--poll-interval", flags.poll_interval),
        env_setting(env, "POLL_INTERVAL"),
        file_key(|r| &r.poll_interval),
        parse_duration,
    )?
    .unwrap_or(Setting {
        value: DEFAULT_POLL_INTERVAL,
        origin: Origin::Default,
    });
    let timeout = pick(
        "timeout",
        ("--timeout", flags.timeout),
        env_setting(env, "TIMEOUT"),
        file_key(|r| &r.timeout),
        parse_duration,
    )?;
    if let Some(t) = &timeout {
        check_timeout_below(t, &poll_interval, None)?;
    }
    let log_format = pick(
        "log_format",
        ("--log-format", flags.log_format),
        env_setting(env, "LOG_FORMAT"),
        file_key(|r| &r.log_format),
        str::parse,
    )?
    .map_or(LogFormat::default(), |s| s.value);
    let log_level = match pick(
        "log_level",
        ("--log-level", flags.log_level.clone()),
        env_setting(env, "LOG_LEVEL"),
        file_key(|r| &r.log_level),
        check_log_level,
    )? {
        Some(Setting {
            value,
            origin: origin @ Origin::Flag(_),
        }) => check_log_level(&value).map_err(|m| invalid(origin, None, "log_level", m))?,
        Some(s) => s.value,
        None => DEFAULT_LOG_LEVEL.to_string(),
    };
    Ok(Globals {
        listen,
        poll_interval,
        timeout,
        log_format,
        log_level,
    })
}

fn parse_listen(s: &str) -> Result<SocketAddr, String> {
    s.trim()
        .parse()
        .map_err(|_| format!("invalid listen address {s:?}: expected IP:PORT, e.g. 0.0.0.0:9122"))
}

fn check_log_level(s: &str) -> Result<String, String> {
    tracing_subscriber::EnvFilter::try_new(s)
        .map(|_| s.to_string())
        .map_err(|e| {
            format!(
                "invalid log filter {s:?} ({e}); examples: info, debug, \
                 warn,redis_cache_exporter=debug"
            )
        })
}

/// Refuses a timeout that is not below the poll interval it goes with.
pub(super) fn check_timeout_below(
    timeout: &Setting<Duration>,
    poll: &Setting<Duration>,
    target: Option<&str>,
) -> Result<(), ConfigError> {
    if timeout.value < poll.value {
        return Ok(());
    }
    Err(invalid(
        timeout.origin.clone(),
        target,
        "timeout",
        format!(
            "timeout {} must be shorter than the poll interval {} (poll interval from {})",
            humantime::format_duration(timeout.value),
            humantime::format_duration(poll.value),
            poll.origin
        ),
    ))
}
