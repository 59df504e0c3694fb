//! The command line: the flags (each also settable by its `REDIS_CACHE_EXPORTER_*` variable),
//! the `check` subcommand, and loading the configuration they name.
//!
//! Sits on top of `config`, `check` and the metric table, so none of them needs another: this
//! is where a loaded configuration meets the table, and a static label that repeats one of the
//! exporter's own labels is refused (at start, by `--check-config` and on reload alike).

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use crate::config::{self, Config, ConfigError, Flags, LogFormat, parse_duration};
use crate::metrics;

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
    /// Interval between polls, e.g. 15s, 1m30s
    /// [env: REDIS_CACHE_EXPORTER_POLL_INTERVAL] [default: 15s].
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
        with_our_labels_refused(config::load(&self.flags(), env)?)
    }

    /// The settings the configuration is merged from.
    pub(crate) fn flags(&self) -> Flags {
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

/// `config`, unless a target's static label repeats a label of the metric table.
pub(crate) fn with_our_labels_refused(config: Config) -> Result<Config, ConfigError> {
    config.refuse_labels(&metrics::table::reserved_labels())?;
    Ok(config)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use clap::CommandFactory;

    use super::*;
    use crate::metrics::table::Emit;

    /// `toml` loaded as `test.toml` and checked as at start; the refusal's text.
    #[track_caller]
    fn refused(toml: &str) -> String {
        let loaded = config::build(
            &Flags::default(),
            &|_| None,
            Some((Path::new("test.toml"), toml)),
        )
        .and_then(with_our_labels_refused);
        match loaded {
            Ok(_) => panic!("expected a refusal of {toml:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn refuses_labels_of_prometheus_and_of_our_metrics() {
        for (name, why) in [
            ("instance", "reserved"),
            ("job", "reserved"),
            ("target", "reserved"),
            ("db", "reserved"),
            ("window", "reserved"),
            ("cache", "reserved"),
            ("redis_version", "reserved"),
            ("version", "reserved"),
        ] {
            let msg = refused(&format!(
                "[[targets]]\nname = \"a\"\nurl = \"redis://h\"\n\
                 labels = {{ ok = \"1\",\n  {name} = \"x\" }}\n"
            ));
            for p in ["test.toml, line 5", "target \"a\"", "`labels`", why] {
                assert!(msg.contains(p), "{msg:?} does not contain {p:?}");
            }
        }
    }

    #[test]
    fn every_label_of_every_family_is_refused() {
        let mut checked = 0;
        for def in metrics::TABLE {
            let target = matches!(def.emit, Emit::PerTarget(_)).then_some("target");
            for label in target.into_iter().chain(def.labels.iter().copied()) {
                let msg = refused(&format!(
                    "[[targets]]\nname = \"t\"\nurl = \"redis://h\"\n\
                     labels = {{ {label} = \"x\" }}\n"
                ));
                for part in [
                    &format!("label name {label:?} is reserved"),
                    "target \"t\"",
                    "test.toml, line 4",
                ] {
                    assert!(
                        msg.contains(part),
                        "{}: {msg:?} does not contain {part:?}",
                        def.name
                    );
                }
                checked += 1;
            }
        }
        assert!(
            checked >= metrics::TABLE.len(),
            "only {checked} labels checked"
        );
        // Labels of no family stay allowed.
        let ok = config::build(
            &Flags::default(),
            &|_| None,
            Some((
                Path::new("test.toml"),
                "[[targets]]\nname = \"t\"\nurl = \"redis://h\"\n\
                 labels = { team = \"x\", env = \"y\" }\n",
            )),
        )
        .and_then(with_our_labels_refused);
        assert!(ok.is_ok(), "{ok:?}");
    }

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
