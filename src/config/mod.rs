//! Configuration: command-line flags, `REDIS_CACHE_EXPORTER_*` environment variables and the
//! TOML file, merged into one validated [`Config`].
//!
//! Precedence for the global settings is command line > environment > file > built-in default.
//! Per-target settings (`poll_interval`, `timeout`) exist only in the file and, being more
//! specific, win over the global ones for their target.
//!
//! Targets: the file's `[[targets]]` plus every `--redis URL` (or `REDIS_CACHE_EXPORTER_REDIS`,
//! comma separated; the flag replaces the variable). With neither a file nor `--redis`, the one
//! target is `redis://127.0.0.1:6379`. A file without targets and no `--redis` is an error.
//!
//! Every refusal names where the value came from (file and line, environment variable or flag)
//! and the key. Secrets never appear in errors or `Debug` output: URLs are shown redacted and
//! passwords as `***`.
//!
//! Environment variables are read through a lookup function ([`load`]) so tests never depend
//! on, or change, the process environment.

mod raw;
mod redis_url;
mod sampler;
#[cfg(test)]
mod tests;
pub mod web;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Spanned;

use raw::{RawFile, RawTarget, line_of};

/// Prefix of every environment variable the exporter reads.
pub const ENV_PREFIX: &str = "REDIS_CACHE_EXPORTER_";
/// Default HTTP listen address. Not 9121, so it can run beside `redis_exporter`.
pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::V4(std::net::SocketAddrV4::new(
    std::net::Ipv4Addr::UNSPECIFIED,
    9122,
));
/// Default interval between two polls of a target.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(15);
/// Upper bound of the default per-call timeout; see [`default_timeout`].
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// The target polled when neither a file nor `--redis` names one.
pub const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";
/// The CONFIG command name used unless a target renames or disables it.
pub const DEFAULT_CONFIG_COMMAND: &str = "CONFIG";
/// Default `log_level` (an `EnvFilter` directive).
pub const DEFAULT_LOG_LEVEL: &str = "info";

/// Label names a target's static `labels` may not use: Prometheus owns `instance` and `job`,
/// `target` is ours, and the rest are labels of our own metrics.
pub const RESERVED_LABELS: &[&str] = &[
    "target",
    "instance",
    "job",
    "db",
    "cmd",
    "window",
    "limit",
    "kind",
    "policy",
    "cache",
    "role",
    "redis_version",
    "redis_mode",
    "server",
    "version",
    "cause",
    "prefix",
    "bucket",
];

/// What the command line sets: the file to read and the global settings it overrides. The
/// environment variables are applied by [`load`], so these hold the command line only.
#[derive(Clone, Default)]
pub struct Flags {
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
pub fn target_connection(url: &str) -> Result<(redis::ConnectionInfo, String), String> {
    redis_url::parse(url).map(|p| (p.info, redis_url::redact(url)))
}

/// `url` with any password replaced by `***`.
pub fn redact_url(url: &str) -> String {
    redis_url::redact(url)
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
/// credentials. Patterns are matched by [`crate::targets::on_demand`].
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
    /// The URL as configured. May contain a password: show [`TargetConfig::redacted_url`].
    pub url: String,
    /// Interval between polls of this target.
    pub poll_interval: Duration,
    /// Timeout of each Redis call to this target; always below `poll_interval`.
    pub timeout: Duration,
    /// Static labels added to every series of this target.
    pub labels: BTreeMap<String, String>,
    /// Whether the instance is used as a cache (`redis_target_info{cache}`).
    pub cache: bool,
    /// Name of the CONFIG command; `None` means never send it.
    pub config_command: Option<String>,
    /// Where and how to connect, with the resolved user name and password.
    pub connection: redis::ConnectionInfo,
    /// TLS files and options of a `rediss://` target (`tls_*` keys); `None` for the defaults
    /// (system CA certificates, no client certificate).
    pub tls: Option<crate::client::tls::TlsFiles>,
    /// The key-prefix sampler's settings when `[targets.sampler]` enables it.
    pub sampler: Option<crate::core::sampler::SamplerConfig>,
    /// For Redis Cluster and Sentinel entries: how the instances are found. `connection` is
    /// then the template each discovered instance's connection is made from (its address
    /// replaced; credentials and TLS kept).
    pub discovery: Option<Discovery>,
}

/// How the instances of a Cluster or Sentinel entry are found.
#[derive(Clone, PartialEq)]
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
    pub fn redacted_url(&self) -> String {
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
            .field("config_command", &self.config_command)
            .field("tls", &self.tls)
            .field("sampler", &self.sampler)
            .finish()
    }
}

/// Where a setting came from; every error names one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A line of the configuration file.
    File {
        /// The file as given on the command line.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
    },
    /// An environment variable.
    Env(String),
    /// A command-line flag, e.g. `--timeout`.
    Flag(String),
    /// The built-in default.
    Default,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File { path, line } => write!(f, "{}, line {line}", path.display()),
            Self::Env(name) => write!(f, "environment variable {name}"),
            Self::Flag(flag) => write!(f, "command-line flag {flag}"),
            Self::Default => f.write_str("built-in default"),
        }
    }
}

/// Why a configuration was refused. The text names the file (or variable, or flag), the line and
/// the key, and never contains a secret.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The configuration file could not be read.
    #[error("cannot read config file {}: {source}", path.display())]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// The reason.
        source: std::io::Error,
    },
    /// Broken TOML, an unknown key or a value of the wrong type.
    #[error("{}{}: {message}", path.display(), line.map(|l| format!(", line {l}")).unwrap_or_default())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line, when the parser knows it.
        line: Option<usize>,
        /// The parser's message (which names an unknown key).
        message: String,
    },
    /// A value that parses but is not acceptable.
    #[error("{origin}: {}`{key}`: {message}", target_prefix(.target))]
    Invalid {
        /// Where the value came from.
        origin: Origin,
        /// The target it belongs to, if any.
        target: Option<String>,
        /// The key (file) whose value is refused.
        key: String,
        /// What is wrong with it.
        message: String,
    },
    /// Two targets share a name.
    #[error("duplicate target name {name:?}: first at {first}, again at {second}")]
    DuplicateTarget {
        /// The name.
        name: String,
        /// Where it was first used.
        first: Origin,
        /// Where it was used again.
        second: Origin,
    },
    /// The file defines no target and no `--redis` was given.
    #[error("{}{}: `targets`: no targets defined: add a [[targets]] section or pass --redis", path.display(), line.map(|l| format!(", line {l}")).unwrap_or_default())]
    NoTargets {
        /// The file.
        path: PathBuf,
        /// Line of an explicit empty `targets = []`.
        line: Option<usize>,
    },
}

fn target_prefix(target: &Option<String>) -> String {
    target
        .as_ref()
        .map(|t| format!("target {t:?}: "))
        .unwrap_or_default()
}

/// Configuration and secret files are small; a larger one (or `/dev/zero`) is a mistake, not
/// something to read until memory runs out.
pub const MAX_FILE_BYTES: u64 = 1 << 20;

/// Reads a UTF-8 file of at most [`MAX_FILE_BYTES`].
pub fn read_small_file(path: &std::path::Path) -> std::io::Result<String> {
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

/// Parses a humantime duration ("15s", "1m30s", "500ms"), refusing zero.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s.trim())
        .map_err(|e| format!("invalid duration {s:?} ({e}); examples: 15s, 1m30s, 500ms"))?;
    if d.is_zero() {
        return Err(format!("invalid duration {s:?}: must be greater than zero"));
    }
    Ok(d)
}

/// The timeout used when none is configured: 5 s, but at most half the poll interval, so a
/// timed-out call always leaves time before the next poll.
pub fn default_timeout(poll_interval: Duration) -> Duration {
    DEFAULT_TIMEOUT.min(poll_interval / 2)
}

/// Builds the configuration from the `--config` file (or the one `REDIS_CACHE_EXPORTER_CONFIG`
/// names), the environment and the flags, with environment variables (including those named by
/// `password_env`) read through `env`. An empty variable counts as unset for the
/// `REDIS_CACHE_EXPORTER_*` settings.
pub fn load(flags: &Flags, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
    let path = match &flags.config {
        Some(p) => Some(p.clone()),
        None => env_setting(env, "CONFIG").map(|(v, _)| PathBuf::from(v)),
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

/// `REDIS_CACHE_EXPORTER_<name>` if set and not empty, with its origin.
fn env_setting(env: &dyn Fn(&str) -> Option<String>, name: &str) -> Option<(String, Origin)> {
    let var = format!("{ENV_PREFIX}{name}");
    env(&var)
        .filter(|v| !v.trim().is_empty())
        .map(|v| (v, Origin::Env(var)))
}

/// A merged value and where it came from.
struct Setting<T> {
    value: T,
    origin: Origin,
}

/// Everything the validation of one file needs to point at a line.
struct FileCtx<'a> {
    path: &'a Path,
    text: &'a str,
}

impl FileCtx<'_> {
    fn origin<T>(&self, s: &Spanned<T>) -> Origin {
        Origin::File {
            path: self.path.to_path_buf(),
            line: line_of(self.text, s.span().start),
        }
    }
}

fn invalid(
    origin: Origin,
    target: Option<&str>,
    key: &str,
    message: impl Into<String>,
) -> ConfigError {
    ConfigError::Invalid {
        origin,
        target: target.map(str::to_string),
        key: key.to_string(),
        message: message.into(),
    }
}

/// Picks a global setting by precedence (flag > env > file), parsing env and file text with
/// `parse`. `None` when no source sets it.
fn pick<T>(
    key: &str,
    flag: (&str, Option<T>),
    env: Option<(String, Origin)>,
    file: Option<(&Spanned<String>, &FileCtx)>,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Option<Setting<T>>, ConfigError> {
    if let Some(value) = flag.1 {
        return Ok(Some(Setting {
            value,
            origin: Origin::Flag(flag.0.to_string()),
        }));
    }
    let (text, origin) = match (env, file) {
        (Some((text, origin)), _) => (text, origin),
        (None, Some((spanned, ctx))) => (spanned.get_ref().clone(), ctx.origin(spanned)),
        (None, None) => return Ok(None),
    };
    match parse(&text) {
        Ok(value) => Ok(Some(Setting { value, origin })),
        Err(message) => Err(invalid(origin, None, key, message)),
    }
}

fn parse_listen(s: &str) -> Result<SocketAddr, String> {
    s.trim()
        .parse()
        .map_err(|_| format!("invalid listen address {s:?}: expected IP:PORT, e.g. 0.0.0.0:9122"))
}

fn check_log_level(s: &str) -> Result<String, String> {
    tracing_subscriber::EnvFilter::try_new(s)
        .map(|_| s.to_string())
        .map_err(|e| format!("invalid log filter {s:?} ({e}); examples: info, debug, warn,redis_cache_exporter=debug"))
}

/// Refuses a global timeout that is not below the global poll interval.
fn check_timeout_below(
    timeout: &Setting<Duration>,
    poll: &Setting<Duration>,
) -> Result<(), ConfigError> {
    if timeout.value < poll.value {
        return Ok(());
    }
    Err(invalid(
        timeout.origin.clone(),
        None,
        "timeout",
        format!(
            "timeout {} must be shorter than the poll interval {} (poll interval from {})",
            humantime::format_duration(timeout.value),
            humantime::format_duration(poll.value),
            poll.origin
        ),
    ))
}

/// The parser's message, prefixed with the key when the parser did not name it.
fn syntax_message(text: &str, e: &toml::de::Error) -> String {
    let message = e.message().trim();
    match e.span().and_then(|s| raw::key_before(text, s.start)) {
        Some(key) if !message.starts_with("unknown field") => {
            format!("`{key}`: {message}")
        }
        _ => message.to_string(),
    }
}

/// Merges flags, environment and file text into a validated [`Config`].
fn build(
    flags: &Flags,
    env: &dyn Fn(&str) -> Option<String>,
    file: Option<(&Path, &str)>,
) -> Result<Config, ConfigError> {
    let parsed = match file {
        Some((path, text)) => Some((
            FileCtx { path, text },
            toml::from_str::<RawFile>(text).map_err(|e| ConfigError::Syntax {
                path: path.to_path_buf(),
                line: e.span().map(|s| line_of(text, s.start)),
                message: syntax_message(text, &e),
            })?,
        )),
        None => None,
    };
    let ctx = parsed.as_ref().map(|(c, _)| c);
    let raw = parsed.as_ref().map(|(_, r)| r);
    let file_key =
        |get: fn(&RawFile) -> &Option<Spanned<String>>| raw.and_then(|r| get(r).as_ref()).zip(ctx);

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
    let global_timeout = pick(
        "timeout",
        ("--timeout", flags.timeout),
        env_setting(env, "TIMEOUT"),
        file_key(|r| &r.timeout),
        parse_duration,
    )?;
    if let Some(t) = &global_timeout {
        check_timeout_below(t, &poll_interval)?;
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

    let globals = Globals {
        poll_interval: &poll_interval,
        timeout: global_timeout.as_ref(),
    };
    let mut targets: Vec<(TargetConfig, Origin)> = Vec::new();
    if let (Some(ctx), Some(raw)) = (ctx, raw) {
        for t in raw.targets.iter().flat_map(|t| t.get_ref()) {
            targets.push((file_target(t, ctx, env, &globals)?, ctx.origin(&t.name)));
        }
    }
    let (urls, url_origin): (Vec<String>, Origin) = if !flags.redis.is_empty() {
        (flags.redis.clone(), Origin::Flag("--redis".to_string()))
    } else if let Some((list, origin)) = env_setting(env, "REDIS") {
        let urls = list
            .split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(str::to_string)
            .collect();
        (urls, origin)
    } else {
        (Vec::new(), Origin::Default)
    };
    for url in &urls {
        targets.push((url_target(url, &url_origin, &globals)?, url_origin.clone()));
    }
    if targets.is_empty() {
        if let (Some(ctx), Some(raw)) = (ctx, raw) {
            return Err(ConfigError::NoTargets {
                path: ctx.path.to_path_buf(),
                line: raw
                    .targets
                    .as_ref()
                    .map(|t| line_of(ctx.text, t.span().start)),
            });
        }
        let t = url_target(DEFAULT_REDIS_URL, &Origin::Default, &globals)?;
        targets.push((t, Origin::Default));
    }
    let mut seen: HashMap<&str, &Origin> = HashMap::new();
    for (t, origin) in &targets {
        if let Some(first) = seen.insert(&t.name, origin) {
            return Err(ConfigError::DuplicateTarget {
                name: t.name.clone(),
                first: first.clone(),
                second: origin.clone(),
            });
        }
    }

    Ok(Config {
        listen,
        timeout: global_timeout
            .as_ref()
            .map_or(default_timeout(poll_interval.value), |t| t.value),
        poll_interval: poll_interval.value,
        log_format,
        log_level,
        targets: targets.into_iter().map(|(t, _)| t).collect(),
        scrape: scrape_config(flags, raw.and_then(|r| r.scrape.as_ref()), ctx, env)?,
        web: match (raw.and_then(|r| r.web.as_ref()), ctx) {
            (Some(w), Some(ctx)) => web::validate(w, ctx)?,
            _ => web::WebConfig::default(),
        },
    })
}

/// The `[scrape]` table, validated, with passwords resolved.
fn scrape_config(
    flags: &Flags,
    raw: Option<&raw::RawScrape>,
    ctx: Option<&FileCtx>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<ScrapeConfig, ConfigError> {
    let mut out = ScrapeConfig {
        enabled: !flags.no_scrape_endpoint,
        ..ScrapeConfig::default()
    };
    let (Some(raw), Some(ctx)) = (raw, ctx) else {
        return Ok(out);
    };
    out.enabled &= raw.enabled.unwrap_or(true);
    let check_pattern = |p: &Spanned<String>, key: &str| -> Result<String, ConfigError> {
        let v = p.get_ref().trim();
        let (scheme, rest) = v.split_once("://").unwrap_or(("", ""));
        if scheme.is_empty() || rest.is_empty() || rest.contains('@') {
            return Err(invalid(
                ctx.origin(p),
                None,
                key,
                format!(
                    "{v:?} is not a URL pattern: expected e.g. \"redis://*.cache.internal:*\", without credentials"
                ),
            ));
        }
        Ok(v.to_string())
    };
    if let Some(allow) = &raw.allow {
        let patterns = allow
            .iter()
            .map(|p| check_pattern(p, "scrape.allow"))
            .collect::<Result<_, _>>()?;
        out.allow = Some(patterns);
    }
    if let Some(t) = &raw.idle_timeout {
        out.idle_timeout = Some(
            parse_duration(t.get_ref())
                .map_err(|m| invalid(ctx.origin(t), None, "scrape.idle_timeout", m))?,
        );
    }
    for c in raw.credentials.iter().flatten() {
        let pattern = check_pattern(&c.pattern, "scrape.credentials.pattern")?;
        let err = |s: &dyn Fn() -> Origin, key: &str, m: String| {
            invalid(s(), None, &format!("scrape.credentials.{key}"), m)
        };
        let username = match &c.username {
            Some(u) if u.get_ref().is_empty() => {
                return Err(err(
                    &|| ctx.origin(u),
                    "username",
                    "the user name is empty".into(),
                ));
            }
            u => u.as_ref().map(|u| u.get_ref().clone()),
        };
        let password = match (&c.password_file, &c.password_env) {
            (Some(_), Some(e)) => {
                return Err(err(
                    &|| ctx.origin(e),
                    "password_env",
                    "more than one password source (password_file, password_env); use only one"
                        .into(),
                ));
            }
            (Some(f), None) => {
                let path = f.get_ref();
                let text = read_small_file(path).map_err(|e| {
                    err(
                        &|| ctx.origin(f),
                        "password_file",
                        format!("cannot read password file {}: {e}", path.display()),
                    )
                })?;
                let pw = text.trim_end_matches(['\n', '\r']).to_string();
                if pw.is_empty() {
                    return Err(err(
                        &|| ctx.origin(f),
                        "password_file",
                        format!("password file {} is empty", path.display()),
                    ));
                }
                Some(pw)
            }
            (None, Some(e)) => match env(e.get_ref()).filter(|v| !v.is_empty()) {
                Some(v) => Some(v),
                None => {
                    return Err(err(
                        &|| ctx.origin(e),
                        "password_env",
                        format!("environment variable {} is not set or empty", e.get_ref()),
                    ));
                }
            },
            (None, None) => None,
        };
        out.credentials.push(Credential {
            pattern,
            username,
            password,
        });
    }
    Ok(out)
}

/// The global settings a target inherits.
struct Globals<'a> {
    poll_interval: &'a Setting<Duration>,
    /// `None` when no source sets it; each target then gets [`default_timeout`] of its own
    /// poll interval.
    timeout: Option<&'a Setting<Duration>>,
}

/// A target given as a bare URL (`--redis`, its variable, or the default).
fn url_target(url: &str, origin: &Origin, globals: &Globals) -> Result<TargetConfig, ConfigError> {
    let parsed = redis_url::parse(url).map_err(|m| invalid(origin.clone(), None, "url", m))?;
    let poll_interval = globals.poll_interval.value;
    Ok(TargetConfig {
        name: redis_url::display_name(&parsed.info),
        url: url.to_string(),
        poll_interval,
        timeout: globals
            .timeout
            .map_or(default_timeout(poll_interval), |t| t.value),
        labels: BTreeMap::new(),
        cache: true,
        config_command: Some(DEFAULT_CONFIG_COMMAND.to_string()),
        connection: parsed.info,
        tls: None,
        sampler: None,
        discovery: None,
    })
}

/// A `[[targets]]` entry, validated and with its password resolved.
fn file_target(
    t: &RawTarget,
    ctx: &FileCtx,
    env: &dyn Fn(&str) -> Option<String>,
    globals: &Globals,
) -> Result<TargetConfig, ConfigError> {
    let name = t.name.get_ref().trim().to_string();
    if name.is_empty() {
        return Err(invalid(
            ctx.origin(&t.name),
            None,
            "name",
            "the target name is empty",
        ));
    }
    let tn = Some(name.as_str());
    let err = |s: Origin, key: &str, m: String| invalid(s, tn, key, m);

    let (url, discovery) = discovery(t, ctx, tn)?;
    let parsed = redis_url::parse(url.get_ref()).map_err(|m| err(ctx.origin(&url), "url", m))?;
    let mut settings = parsed.info.redis_settings().clone();

    if let Some(user) = &t.username {
        if parsed.has_username {
            return Err(err(
                ctx.origin(user),
                "username",
                "the url already contains a user name; give it in one place only".to_string(),
            ));
        }
        if user.get_ref().is_empty() {
            return Err(err(
                ctx.origin(user),
                "username",
                "the user name is empty".to_string(),
            ));
        }
        settings = settings.set_username(user.get_ref());
    }

    let mut sources: Vec<&str> = Vec::new();
    if parsed.has_password {
        sources.push("url");
    }
    if t.password_file.is_some() {
        sources.push("password_file");
    }
    if t.password_env.is_some() {
        sources.push("password_env");
    }
    if sources.len() > 1 {
        // Point at the later of the two keys the user wrote.
        let origin = match (&t.password_file, &t.password_env) {
            (_, Some(e)) => ctx.origin(e),
            (Some(f), None) => ctx.origin(f),
            (None, None) => ctx.origin(&url),
        };
        let key = if t.password_env.is_some() {
            "password_env"
        } else {
            "password_file"
        };
        return Err(err(
            origin,
            key,
            format!(
                "more than one password source ({}); use only one",
                sources.join(", ")
            ),
        ));
    }
    if let Some(pf) = &t.password_file {
        let path = pf.get_ref();
        let content = read_small_file(path).map_err(|e| {
            err(
                ctx.origin(pf),
                "password_file",
                format!("cannot read password file {}: {e}", path.display()),
            )
        })?;
        let password = content.trim_end_matches(['\n', '\r']);
        if password.is_empty() {
            return Err(err(
                ctx.origin(pf),
                "password_file",
                format!("password file {} is empty", path.display()),
            ));
        }
        settings = settings.set_password(password);
    }
    if let Some(pe) = &t.password_env {
        let var = pe.get_ref();
        match env(var) {
            None => {
                return Err(err(
                    ctx.origin(pe),
                    "password_env",
                    format!("environment variable {var} is not set"),
                ));
            }
            Some(v) if v.is_empty() => {
                return Err(err(
                    ctx.origin(pe),
                    "password_env",
                    format!("environment variable {var} is empty"),
                ));
            }
            Some(v) => settings = settings.set_password(v),
        }
    }

    let poll_interval = match &t.poll_interval {
        Some(p) => Setting {
            value: parse_duration(p.get_ref())
                .map_err(|m| err(ctx.origin(p), "poll_interval", m))?,
            origin: ctx.origin(p),
        },
        None => Setting {
            value: globals.poll_interval.value,
            origin: globals.poll_interval.origin.clone(),
        },
    };
    let timeout = match (&t.timeout, globals.timeout) {
        (Some(s), _) => {
            let timeout = Setting {
                value: parse_duration(s.get_ref()).map_err(|m| err(ctx.origin(s), "timeout", m))?,
                origin: ctx.origin(s),
            };
            if timeout.value >= poll_interval.value {
                return Err(err(
                    timeout.origin,
                    "timeout",
                    format!(
                        "timeout {} must be shorter than the poll interval {} (poll interval from {})",
                        humantime::format_duration(timeout.value),
                        humantime::format_duration(poll_interval.value),
                        poll_interval.origin
                    ),
                ));
            }
            timeout.value
        }
        (None, Some(global)) => {
            if global.value >= poll_interval.value {
                return Err(err(
                    poll_interval.origin.clone(),
                    "poll_interval",
                    format!(
                        "poll interval {} must be longer than the timeout {} (timeout from {})",
                        humantime::format_duration(poll_interval.value),
                        humantime::format_duration(global.value),
                        global.origin
                    ),
                ));
            }
            global.value
        }
        (None, None) => default_timeout(poll_interval.value),
    };

    let mut labels = BTreeMap::new();
    for (k, v) in t.labels.iter().flatten() {
        check_label_name(k.get_ref()).map_err(|m| err(ctx.origin(k), "labels", m))?;
        if v.get_ref().is_empty() {
            return Err(err(
                ctx.origin(v),
                "labels",
                format!("label {:?} has an empty value", k.get_ref()),
            ));
        }
        labels.insert(k.get_ref().clone(), v.get_ref().clone());
    }

    let config_command = match &t.config_command {
        None => Some(DEFAULT_CONFIG_COMMAND.to_string()),
        Some(c) if c.get_ref().is_empty() => None,
        Some(c) => {
            let cmd = c.get_ref();
            if cmd.chars().any(|ch| ch.is_whitespace() || ch.is_control()) {
                return Err(err(
                    ctx.origin(c),
                    "config_command",
                    format!(
                        "{cmd:?} is not a command name (no spaces allowed; \"\" disables CONFIG)"
                    ),
                ));
            }
            Some(cmd.clone())
        }
    };

    let tls = tls_files(t, ctx, &parsed.info).map_err(|(o, k, m)| err(o, k, m))?;
    let sampler = match &t.sampler {
        Some(raw) => sampler::validate(raw, ctx, &name)?,
        None => None,
    };

    Ok(TargetConfig {
        name,
        url: url.get_ref().clone(),
        poll_interval: poll_interval.value,
        timeout,
        labels,
        cache: t.cache.unwrap_or(true),
        config_command,
        tls,
        connection: parsed.info.set_redis_settings(settings),
        sampler,
        discovery,
    })
}

/// The `cluster`, `seeds`, `sentinel` and `master_name` keys of an entry: its discovery, and the
/// URL its connection template is parsed from (`url`, else the first seed, else the first
/// sentinel without its credentials).
fn discovery(
    t: &RawTarget,
    ctx: &FileCtx,
    tn: Option<&str>,
) -> Result<(Spanned<String>, Option<Discovery>), ConfigError> {
    let err = |s: Origin, key: &str, m: &str| invalid(s, tn, key, m);
    let cluster = t.cluster.as_ref().is_some_and(|c| *c.get_ref());
    if let (Some(s), false) = (&t.seeds, cluster) {
        return Err(err(
            ctx.origin(s),
            "seeds",
            "seeds are for Redis Cluster entries: add `cluster = true`",
        ));
    }
    if let (Some(m), None) = (&t.master_name, &t.sentinel) {
        return Err(err(
            ctx.origin(m),
            "master_name",
            "master_name needs `sentinel = [\"redis://sentinel:26379\"]`",
        ));
    }
    if let (Some(s), true) = (&t.sentinel, cluster) {
        return Err(err(
            ctx.origin(s),
            "sentinel",
            "an entry is either a Redis Cluster (`cluster = true`) or Sentinel-managed, not both",
        ));
    }
    let host_port = |u: &Spanned<String>, key: &str| -> Result<(String, u16), ConfigError> {
        let parsed = redis_url::parse(u.get_ref()).map_err(|m| err(ctx.origin(u), key, &m))?;
        match parsed.info.addr() {
            redis::ConnectionAddr::Tcp(h, p)
            | redis::ConnectionAddr::TcpTls {
                host: h, port: p, ..
            } => Ok((h.clone(), *p)),
            _ => Err(err(
                ctx.origin(u),
                key,
                "discovery needs a TCP address (redis:// or rediss://), not a unix socket",
            )),
        }
    };
    if cluster {
        let mut urls: Vec<(&Spanned<String>, &str)> = Vec::new();
        if let Some(u) = &t.url {
            urls.push((u, "url"));
        }
        for s in t.seeds.iter().flat_map(|s| s.get_ref()) {
            urls.push((s, "seeds"));
        }
        let Some((first, _)) = urls.first() else {
            return Err(err(
                ctx.origin(&t.name),
                "url",
                "a Redis Cluster entry needs a seed: `url` or `seeds = [...]`",
            ));
        };
        let first = (*first).clone();
        let seeds = urls
            .into_iter()
            .map(|(u, key)| host_port(u, key))
            .collect::<Result<Vec<_>, _>>()?;
        return Ok((first, Some(Discovery::Cluster { seeds })));
    }
    if let Some(list) = &t.sentinel {
        let Some(master_name) = &t.master_name else {
            return Err(err(
                ctx.origin(list),
                "master_name",
                "a Sentinel entry needs `master_name` (the name in `sentinel monitor <name> ...`)",
            ));
        };
        if master_name.get_ref().is_empty() {
            return Err(err(ctx.origin(master_name), "master_name", "is empty"));
        }
        let Some(first) = list.get_ref().first() else {
            return Err(err(ctx.origin(list), "sentinel", "no sentinel URL given"));
        };
        for u in list.get_ref() {
            host_port(u, "sentinel")?;
        }
        let template = match &t.url {
            Some(u) => u.clone(),
            None => {
                // The data nodes get the entry's credentials, not the sentinel's.
                let mut u = url::Url::parse(first.get_ref())
                    .map_err(|e| err(ctx.origin(first), "sentinel", &e.to_string()))?;
                let _ = u.set_username("");
                let _ = u.set_password(None);
                u.set_path("");
                Spanned::new(first.span(), u.to_string())
            }
        };
        return Ok((
            template,
            Some(Discovery::Sentinel {
                sentinels: list.get_ref().iter().map(|u| u.get_ref().clone()).collect(),
                master_name: master_name.get_ref().clone(),
            }),
        ));
    }
    match &t.url {
        Some(u) => Ok((u.clone(), None)),
        None => Err(err(
            ctx.origin(&t.name),
            "url",
            "missing: every target needs `url` (or `cluster = true` with `seeds`, or `sentinel` with `master_name`)",
        )),
    }
}

/// The `tls_*` keys of a target: only for `rediss://`, certificate and key together, files
/// readable (they are read again at every connect, so a rotation needs no reload).
fn tls_files(
    t: &RawTarget,
    ctx: &FileCtx,
    info: &redis::ConnectionInfo,
) -> Result<Option<crate::client::tls::TlsFiles>, (Origin, &'static str, String)> {
    let files = [
        ("tls_ca_file", &t.tls_ca_file),
        ("tls_cert_file", &t.tls_cert_file),
        ("tls_key_file", &t.tls_key_file),
    ];
    let first = files
        .iter()
        .find_map(|(k, v)| v.as_ref().map(|v| (*k, ctx.origin(v))))
        .or_else(|| {
            t.tls_server_name
                .as_ref()
                .map(|v| ("tls_server_name", ctx.origin(v)))
        })
        .or_else(|| {
            t.tls_insecure
                .as_ref()
                .map(|v| ("tls_insecure", ctx.origin(v)))
        });
    let Some((key, origin)) = first else {
        return Ok(None);
    };
    if !matches!(info.addr(), redis::ConnectionAddr::TcpTls { .. }) {
        return Err((origin, key, "TLS settings need a rediss:// url".to_string()));
    }
    for (key, v) in files {
        if let Some(p) = v
            && let Err(e) = std::fs::File::open(p.get_ref())
        {
            return Err((
                ctx.origin(p),
                key,
                format!("cannot read {}: {e}", p.get_ref().display()),
            ));
        }
    }
    match (&t.tls_cert_file, &t.tls_key_file) {
        (Some(c), None) => {
            return Err((
                ctx.origin(c),
                "tls_key_file",
                "tls_cert_file needs tls_key_file".into(),
            ));
        }
        (None, Some(k)) => {
            return Err((
                ctx.origin(k),
                "tls_cert_file",
                "tls_key_file needs tls_cert_file".into(),
            ));
        }
        _ => {}
    }
    if let Some(n) = &t.tls_server_name
        && (n.get_ref().is_empty() || n.get_ref().contains(char::is_whitespace))
    {
        return Err((
            ctx.origin(n),
            "tls_server_name",
            format!("{:?} is not a host name", n.get_ref()),
        ));
    }
    Ok(Some(crate::client::tls::TlsFiles {
        ca_file: t.tls_ca_file.as_ref().map(|p| p.get_ref().clone()),
        cert_file: t.tls_cert_file.as_ref().map(|p| p.get_ref().clone()),
        key_file: t.tls_key_file.as_ref().map(|p| p.get_ref().clone()),
        server_name: t.tls_server_name.as_ref().map(|n| n.get_ref().clone()),
        insecure: t.tls_insecure.as_ref().is_some_and(|b| *b.get_ref()),
    }))
}

/// Checks a static label name against Prometheus's rules and our reserved names.
fn check_label_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let valid = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(format!(
            "invalid label name {name:?}: use letters, digits and _, not starting with a digit"
        ));
    }
    if name.starts_with("__") {
        return Err(format!(
            "invalid label name {name:?}: names starting with __ are reserved by Prometheus"
        ));
    }
    if RESERVED_LABELS.contains(&name) {
        return Err(format!(
            "label name {name:?} is reserved (used by Prometheus or by the exporter's own metrics)"
        ));
    }
    Ok(())
}
