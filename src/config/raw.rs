//! The configuration file exactly as written: serde structs that mirror the TOML keys, every
//! value wrapped in `toml::Spanned` so that validation errors can point at the line. Nothing
//! here is checked beyond TOML syntax, unknown keys and value types; `config.rs` validates.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;
use toml::Spanned;

/// The top level of the file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFile {
    pub listen: Option<Spanned<String>>,
    pub poll_interval: Option<Spanned<String>>,
    pub timeout: Option<Spanned<String>>,
    pub log_format: Option<Spanned<String>>,
    pub log_level: Option<Spanned<String>>,
    pub targets: Option<Spanned<Vec<RawTarget>>>,
}

/// One `[[targets]]` entry. Its `Debug` is never printed: it may hold a password in `url`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTarget {
    pub name: Spanned<String>,
    pub url: Spanned<String>,
    pub username: Option<Spanned<String>>,
    pub password_file: Option<Spanned<PathBuf>>,
    pub password_env: Option<Spanned<String>>,
    pub poll_interval: Option<Spanned<String>>,
    pub timeout: Option<Spanned<String>>,
    pub cache: Option<bool>,
    pub labels: Option<BTreeMap<Spanned<String>, Spanned<String>>>,
    pub config_command: Option<Spanned<String>>,
}

/// 1-based line number of a byte offset into `text`.
pub(super) fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}
