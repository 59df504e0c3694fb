//! The command line: the flags (each also settable by its `REDIS_CACHE_EXPORTER_*` variable),
//! the `check` subcommand, and loading the configuration they name.
//!
//! Sits on top of `config` and `check`, so neither needs the other.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use crate::config::{self, Config, ConfigError, Flags, LogFormat, parse_duration};

/// Command-line flags. Each value flag can also be set by an environment variable
/// `REDIS_CACHE_EXPORTER_<FLAG>`; [`Cli::load`] applies them, so the fields here hold the
/// command line only.
#[derive(Parser, Clone, Default)]
#[command(name = "redis-cache-exporter", version, about)]
pub struct Cli {
    /// TOML configuration file [env: REDIS_CACHE_EXPORTER_CONFIG].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to serve /metrics on [env: REDIS_CACHE_EXPORTER_LISTEN] [default: 0.0.0.0:9122].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Interval between polls, e.g. 15s, 1m30s [env: REDIS_CACHE_EXPORTER_POLL_INTERVAL] [default: 15s].
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub poll_interval: Option<Duration>,
    /// Timeout of each Redis call, below the poll interval [env: REDIS_CACHE_EXPORTER_TIMEOUT]
    /// [default: 5s, at most half the poll interval].
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub timeout: Option<Duration>,
    /// Log line format [env: REDIS_CACHE_EXPORTER_LOG_FORMAT] [default: text].
    #[arg(long, value_name = "FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,
    /// Log filter, e.g. info or redis_cache_exporter=debug [env: REDIS_CACHE_EXPORTER_LOG_LEVEL]
    /// [default: info].
    #[arg(long, value_name = "LEVEL")]
    pub log_level: Option<String>,
    /// Redis URL to poll, repeatable; added to the file's targets
    /// [env: REDIS_CACHE_EXPORTER_REDIS, comma separated].
    #[arg(long = "redis", value_name = "URL")]
    pub redis: Vec<String>,
    /// Validate the configuration and exit: 0 when valid, 1 otherwise.
    #[arg(long)]
    pub check_config: bool,
    /// Disable the multi-target endpoint /scrape?target=URL (same as `scrape.enabled = false`).
    #[arg(long)]
    pub no_scrape_endpoint: bool,
    /// A subcommand instead of serving /metrics.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands of the binary.
#[derive(clap::Subcommand, Clone)]
pub enum Command {
    /// Samples one instance for --duration and prints a health report with a verdict per
    /// finding; exits 0 (ok), 1 (warn), 2 (critical) or 3 (unknown: cannot connect).
    Check(crate::check::CheckArgs),
}

impl fmt::Debug for Cli {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redis: Vec<String> = self.redis.iter().map(|u| config::redact_url(u)).collect();
        f.debug_struct("Cli")
            .field("config", &self.config)
            .field("listen", &self.listen)
            .field("poll_interval", &self.poll_interval)
            .field("timeout", &self.timeout)
            .field("log_format", &self.log_format)
            .field("log_level", &self.log_level)
            .field("redis", &redis)
            .field("check_config", &self.check_config)
            .field("no_scrape_endpoint", &self.no_scrape_endpoint)
            .finish()
    }
}

impl Cli {
    /// Builds the configuration from the `--config` file (if any), the process environment and
    /// the flags.
    pub fn load(&self) -> Result<Config, ConfigError> {
        self.load_with_env(&|name| std::env::var(name).ok())
    }

    /// Like [`Cli::load`], with environment variables (including those named by
    /// `password_env`) read through `env`.
    pub fn load_with_env(
        &self,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        config::load(&self.flags(), env)
    }

    /// The settings the configuration is merged from.
    pub fn flags(&self) -> Flags {
        Flags {
            config: self.config.clone(),
            listen: self.listen,
            poll_interval: self.poll_interval,
            timeout: self.timeout,
            log_format: self.log_format,
            log_level: self.log_level.clone(),
            redis: self.redis.clone(),
            no_scrape_endpoint: self.no_scrape_endpoint,
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    fn cli(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("redis-cache-exporter").chain(args.iter().copied()))
            .expect("flags parse")
    }

    #[test]
    fn cli_flags_parse() {
        Cli::command().debug_assert();
        let c = cli(&[
            "--check-config",
            "--log-format",
            "json",
            "--redis",
            "redis://a",
            "--redis",
            "redis://b",
            "--poll-interval",
            "1m30s",
        ]);
        assert!(c.check_config);
        assert_eq!(c.log_format, Some(LogFormat::Json));
        assert_eq!(c.redis, ["redis://a", "redis://b"]);
        assert_eq!(c.poll_interval, Some(Duration::from_secs(90)));
        assert!(!cli(&[]).check_config);
        for bad in [
            &["--poll-interval", "0s"][..],
            &["--timeout", "x"],
            &["--listen", "nope"],
            &["--log-format", "xml"],
            &["--unknown"],
        ] {
            let args = std::iter::once("redis-cache-exporter").chain(bad.iter().copied());
            assert!(Cli::try_parse_from(args).is_err(), "{bad:?} accepted");
        }
    }
}
