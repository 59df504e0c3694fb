//! Logging: `tracing` lines on stderr, as text or JSON, filtered by `log_level`.

use std::io::IsTerminal;

use crate::config::{Config, LogFormat};

/// Installs the process-wide subscriber for `config`'s format and filter.
pub fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log_level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match config.log_format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
