//! Configuration: command-line flags, `REDIS_CACHE_EXPORTER_*` environment variables and the
//! TOML file, merged into one validated [`Config`]. One file per table or concern: `raw` (the
//! file as written), `origin` (where a value came from, the errors), `globals`, `target`,
//! `discovery`, `tls`, `secrets`, `labels`, `sampler`, `miss_attribution`, `scrape`, `web`,
//! `redis_url`.
//!
//! Imports only `core` (the sampler's built-in group labels); the label names the metric
//! table reserves are checked by the caller (`crate::cli`), where both meet.
//!
//! Precedence for the global settings is command line > environment > file > built-in default.
//! Per-target settings (`poll_interval`, `timeout`) exist only in the file and, being more
//! specific, win over the global ones for their target.
//!
//! Targets: the file's `[[targets]]` plus every `--redis URL` (or `REDIS_CACHE_EXPORTER_REDIS`,
//! comma separated; the flag replaces the variable). With neither a file nor `--redis`, the one
//! target is `redis://127.0.0.1:6379`. A file without targets and no `--redis` is an error,
//! unless it serves `/scrape` only: the endpoint enabled and `scrape.allow` naming at least one
//! pattern (the exporter of one Prometheus shard, whose targets come from service discovery).
//!
//! Every refusal names where the value came from (file and line, environment variable or flag)
//! and the key. Secrets never appear in errors or `Debug` output: URLs are shown redacted and
//! passwords as `***`.
//!
//! Environment variables are read through a lookup function (`load`) so tests never depend
//! on, or change, the process environment.

mod discovery;
mod globals;
mod labels;
pub(crate) mod miss_attribution;
mod origin;
mod raw;
mod redis_url;
pub mod sampler;
mod scrape;
mod secrets;
mod target;
#[cfg(test)]
mod tests;
pub mod tls;
pub mod web;

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use origin::FileCtx;
pub use origin::{ConfigError, Origin};
pub use redis_url::ConnectionInfo;
pub(crate) use redis_url::{
    connection_info, host_port, is_insecure, is_tls, redact as redact_url, unix_path, with_addr,
    with_credentials,
};

/// Prefix of every environment variable the exporter reads.
pub(crate) const ENV_PREFIX: &str = "REDIS_CACHE_EXPORTER_";
/// Default HTTP listen address. Not 9121, so it can run beside `redis_exporter`.
pub(crate) const DEFAULT_LISTEN: SocketAddr = SocketAddr::V4(std::net::SocketAddrV4::new(
    std::net::Ipv4Addr::UNSPECIFIED,
    9122,
));
/// Default interval between two polls of a target.
pub(crate) const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(15);
/// Upper bound of the default per-call timeout; see [`default_timeout`].
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// The target polled when neither a file nor `--redis` names one.
pub(crate) const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";
/// The CONFIG command name used unless a target renames or disables it.
pub(crate) const DEFAULT_CONFIG_COMMAND: &str = "CONFIG";
/// Default `log_level` (an `EnvFilter` directive).
pub(crate) const DEFAULT_LOG_LEVEL: &str = "info";

/// What the command line sets: the file to read and the global settings it overrides. The
/// environment variables are applied by [`load`], so these hold the command line only.
#[derive(Clone, Default)]
pub(crate) struct Flags {
    /// `--config`.
    pub config: Option<PathBuf>,
    /// `--listen`.
    pub listen: Option<SocketAddr>,
    /// `--poll-interval`.
    pub poll_interval: Option<Duration>,
    /// `--timeout`.
    pub timeout: Option<Duration>,
    /// `--log-format`.
    pub log_format: Option<LogFormat>,
    /// `--log-level`.
    pub log_level: Option<String>,
    /// Every `--redis`.
    pub redis: Vec<String>,
    /// `--no-scrape-endpoint`.
    pub no_scrape_endpoint: bool,
}

/// The connection settings and the redacted form of a target URL, checked as a `url` in the
/// file is (for one-shot commands such as `check`).
pub(crate) fn target_connection(url: &str) -> Result<(ConnectionInfo, String), String> {
    redis_url::parse(url).map(|p| (p.info, redis_url::redact(url)))
}

/// Format of log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            _ => Err(format!("unknown log format {s:?}: expected text or json")),
        }
    }
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address the HTTP server listens on.
    pub listen: SocketAddr,
    /// Global poll interval (targets may override it).
    pub poll_interval: Duration,
    /// Global timeout of each Redis call; always below `poll_interval`.
    pub timeout: Duration,
    /// Log line format.
    pub log_format: LogFormat,
    /// `tracing_subscriber::EnvFilter` directive; known to parse.
    pub log_level: String,
    /// The targets to poll, in file order, then `--redis` order. Never empty; names unique.
    pub targets: Vec<TargetConfig>,
    /// The multi-target endpoint `/scrape?target=URL`.
    pub scrape: ScrapeConfig,
    /// HTTPS and basic auth on our own listener (`[web]`).
    pub web: web::WebConfig,
}

/// The `[scrape]` table: which targets `/scrape?target=URL` may poll and with which
/// credentials. Patterns are matched by `crate::targets::on_demand`.
#[derive(Debug, Clone, Default)]
pub struct ScrapeConfig {
    /// Whether `/scrape` is served (`scrape.enabled`, `--no-scrape-endpoint`).
    pub enabled: bool,
    /// URL patterns a target must match; `None` means the configured targets' URLs only.
    pub allow: Option<Vec<String>>,
    /// How long an on-demand target is kept without a scrape; `None` means 10 poll intervals.
    pub idle_timeout: Option<Duration>,
    /// Credentials by URL pattern, first match wins.
    pub credentials: Vec<Credential>,
}

/// One `[[scrape.credentials]]` entry with its password resolved.
#[derive(Clone, PartialEq)]
pub struct Credential {
    /// URL pattern (`*` matches any run of characters), e.g. `redis://*.cache.internal:*`.
    pub pattern: String,
    /// ACL user name.
    pub username: Option<String>,
    /// The password, from `password_file` or `password_env`.
    pub password: Option<String>,
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("pattern", &self.pattern)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .finish()
    }
}

/// One Redis instance to poll.
#[derive(Clone)]
pub struct TargetConfig {
    /// Unique name; the value of the `target` label.
    pub name: String,
    /// The URL as configured. May contain a password: show `TargetConfig::redacted_url`.
    pub url: String,
    /// Interval between polls of this target.
    pub poll_interval: Duration,
    /// Timeout of each Redis call to this target; always below `poll_interval`.
    pub timeout: Duration,
    /// Static labels added to every series of this target.
    pub labels: BTreeMap<String, String>,
    /// Where each static label was set (for the error when one repeats a label of ours).
    pub label_origins: BTreeMap<String, Origin>,
    /// Whether the instance is used as a cache (`redis_target_info{cache}`).
    pub cache: bool,
    /// Whether INFO keysizes is read (Redis 8+, once a minute) and exported.
    pub keysizes: bool,
    /// Name of the CONFIG command; `None` means never send it.
    pub config_command: Option<String>,
    /// Where and how to connect, with the resolved user name and password.
    pub connection: ConnectionInfo,
    /// TLS files and options of a `rediss://` target (`tls_*` keys); `None` for the defaults
    /// (system CA certificates, no client certificate).
    pub tls: Option<tls::TlsFiles>,
    /// The key-prefix sampler's settings when `[targets.sampler]` enables it.
    pub sampler: Option<sampler::SamplerConfig>,
    /// Miss attribution by keyspace events when `[targets.miss_attribution]` enables it.
    pub miss_attribution: Option<miss_attribution::MissAttributionConfig>,
    /// For Redis Cluster and Sentinel entries: how the instances are found. `connection` is
    /// then the template each discovered instance's connection is made from (its address
    /// replaced; credentials and TLS kept).
    pub discovery: Option<Discovery>,
}

/// How the instances of a Cluster or Sentinel entry are found.
#[derive(Clone, PartialEq, Hash)]
pub enum Discovery {
    /// `cluster = true`: the seed nodes' addresses (`url` first, then `seeds`).
    Cluster {
        /// `(host, port)` of each seed.
        seeds: Vec<(String, u16)>,
    },
    /// `sentinel = [URLs]` and `master_name`.
    Sentinel {
        /// The sentinels' URLs as configured (they may carry the sentinels' own password).
        sentinels: Vec<String>,
        /// The name the sentinels monitor the master under.
        master_name: String,
    },
}

impl fmt::Debug for Discovery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Discovery::Cluster { seeds } => {
                f.debug_struct("Cluster").field("seeds", seeds).finish()
            }
            Discovery::Sentinel {
                sentinels,
                master_name,
            } => f
                .debug_struct("Sentinel")
                .field(
                    "sentinels",
                    &sentinels
                        .iter()
                        .map(|u| redis_url::redact(u))
                        .collect::<Vec<_>>(),
                )
                .field("master_name", master_name)
                .finish(),
        }
    }
}

impl TargetConfig {
    /// The URL with any password replaced by `***`, safe for logs.
    pub(crate) fn redacted_url(&self) -> String {
        redis_url::redact(&self.url)
    }
}

impl fmt::Debug for TargetConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let settings = self.connection.redis_settings();
        f.debug_struct("TargetConfig")
            .field("name", &self.name)
            .field("url", &self.redacted_url())
            .field("address", &self.connection.addr().to_string())
            .field("db", &settings.db())
            .field("username", &settings.username())
            .field("password", &settings.password().map(|_| "***"))
            .field("poll_interval", &self.poll_interval)
            .field("timeout", &self.timeout)
            .field("labels", &self.labels)
            .field("cache", &self.cache)
            .field("keysizes", &self.keysizes)
            .field("config_command", &self.config_command)
            .field("tls", &self.tls)
            .field("sampler", &self.sampler)
            .field("miss_attribution", &self.miss_attribution)
            .finish()
    }
}

/// Configuration and secret files are small; a larger one (or `/dev/zero`) is a mistake, not
/// something to read until memory runs out.
pub(crate) const MAX_FILE_BYTES: u64 = 1 << 20;

/// Reads a UTF-8 file of at most [`MAX_FILE_BYTES`].
pub(crate) fn read_small_file(path: &std::path::Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut text = String::new();
    std::fs::File::open(path)?
        .take(MAX_FILE_BYTES + 1)
        .read_to_string(&mut text)?;
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("larger than {MAX_FILE_BYTES} bytes"),
        ));
    }
    Ok(text)
}

/// The first of `files` (key and value as written) that cannot be opened: where it was set,
/// its key and why. The files are read later (at connect or when the listener starts).
fn first_unreadable(
    files: &[(&'static str, &Option<toml::Spanned<PathBuf>>)],
    ctx: &FileCtx,
) -> Option<(Origin, &'static str, String)> {
    files.iter().find_map(|(key, v)| {
        let p = v.as_ref()?;
        let e = std::fs::File::open(p.get_ref()).err()?;
        Some((
            ctx.origin(p),
            *key,
            format!("cannot read {}: {e}", p.get_ref().display()),
        ))
    })
}

/// Modification times of `paths` (`None` for a file that cannot be stat-ed), compared between
/// connections to notice rotated certificate files.
pub(crate) fn modified_times<'a>(
    paths: impl Iterator<Item = &'a PathBuf>,
) -> Vec<Option<std::time::SystemTime>> {
    paths
        .map(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
        .collect()
}

/// Parses a humantime duration ("15s", "1m30s", "500ms"), refusing zero.
pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s.trim())
        .map_err(|e| format!("invalid duration {s:?} ({e}); examples: 15s, 1m30s, 500ms"))?;
    if d.is_zero() {
        return Err(format!("invalid duration {s:?}: must be greater than zero"));
    }
    Ok(d)
}

/// The timeout used when none is configured: 5 s, but at most half the poll interval, so a
/// timed-out call always leaves time before the next poll.
pub(crate) fn default_timeout(poll_interval: Duration) -> Duration {
    DEFAULT_TIMEOUT.min(poll_interval / 2)
}

/// Builds the configuration from the `--config` file (or the one `REDIS_CACHE_EXPORTER_CONFIG`
/// names), the environment and the flags, with environment variables (including those named by
/// `password_env`) read through `env`. An empty variable counts as unset for the
/// `REDIS_CACHE_EXPORTER_*` settings.
pub(crate) fn load(
    flags: &Flags,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    let path = match &flags.config {
        Some(p) => Some(p.clone()),
        None => origin::env_setting(env, "CONFIG").map(|(v, _)| PathBuf::from(v)),
    };
    match path {
        Some(path) => {
            let text = read_small_file(&path).map_err(|source| ConfigError::ReadFile {
                path: path.clone(),
                source,
            })?;
            build(flags, env, Some((&path, &text)))
        }
        None => build(flags, env, None),
    }
}

/// Merges flags, environment and file text into a validated [`Config`].
pub(crate) fn build(
    flags: &Flags,
    env: &dyn Fn(&str) -> Option<String>,
    file: Option<(&Path, &str)>,
) -> Result<Config, ConfigError> {
    let parsed = match file {
        Some((path, text)) => Some((FileCtx { path, text }, raw::parse(path, text)?)),
        None => None,
    };
    let file = parsed.as_ref().map(|(ctx, raw)| (raw, ctx));
    let globals = globals::merge(flags, env, file)?;
    let scrape = file.and_then(|(raw, ctx)| raw.scrape.as_ref().map(|s| (s, ctx)));
    let scrape = scrape::build(flags, scrape, env)?;
    let targets = target::all(flags, env, file, &globals, &scrape)?;
    let web = match file.and_then(|(raw, ctx)| raw.web.as_ref().map(|w| (w, ctx))) {
        Some((w, ctx)) => web::validate(w, ctx)?,
        None => web::WebConfig::default(),
    };
    Ok(Config {
        listen: globals.listen,
        timeout: globals
            .timeout
            .as_ref()
            .map_or(default_timeout(globals.poll_interval.value), |t| t.value),
        poll_interval: globals.poll_interval.value,
        log_format: globals.log_format,
        log_level: globals.log_level,
        targets,
        scrape,
        web,
    })
}
