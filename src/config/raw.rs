//! The configuration file exactly as written: serde structs that mirror the TOML keys, every
//! value wrapped in `toml::Spanned` so that validation errors can point at the line. Nothing
//! here is checked beyond TOML syntax, unknown keys and value types; the other files of
//! `config` validate.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;
use toml::Spanned;

use super::origin::{ConfigError, line_of};

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
    pub scrape: Option<RawScrape>,
    pub web: Option<RawWeb>,
}

/// The `[web]` table: HTTPS and basic auth on our own listener. Its `Debug` is never printed.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWeb {
    pub tls_cert_file: Option<Spanned<PathBuf>>,
    pub tls_key_file: Option<Spanned<PathBuf>>,
    pub tls_client_ca_file: Option<Spanned<PathBuf>>,
    pub basic_auth_users: Option<BTreeMap<Spanned<String>, Spanned<String>>>,
}

/// The `[scrape]` table: the multi-target endpoint `/scrape?target=URL`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawScrape {
    pub enabled: Option<bool>,
    pub allow: Option<Vec<Spanned<String>>>,
    pub idle_timeout: Option<Spanned<String>>,
    pub credentials: Option<Vec<RawCredential>>,
}

/// One `[[scrape.credentials]]` entry: who to log in as on targets matching `pattern`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCredential {
    pub pattern: Spanned<String>,
    pub username: Option<Spanned<String>>,
    pub password_file: Option<Spanned<PathBuf>>,
    pub password_env: Option<Spanned<String>>,
}

/// One `[[targets]]` entry. Its `Debug` is never printed: it may hold a password in `url`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTarget {
    pub name: Spanned<String>,
    /// Required, except for Cluster entries given `seeds` and Sentinel entries.
    pub url: Option<Spanned<String>>,
    pub username: Option<Spanned<String>>,
    pub password_file: Option<Spanned<PathBuf>>,
    pub password_env: Option<Spanned<String>>,
    pub poll_interval: Option<Spanned<String>>,
    pub timeout: Option<Spanned<String>>,
    pub cache: Option<bool>,
    pub keysizes: Option<bool>,
    pub labels: Option<BTreeMap<Spanned<String>, Spanned<String>>>,
    pub config_command: Option<Spanned<String>>,
    pub tls_ca_file: Option<Spanned<PathBuf>>,
    pub tls_cert_file: Option<Spanned<PathBuf>>,
    pub tls_key_file: Option<Spanned<PathBuf>>,
    pub tls_server_name: Option<Spanned<String>>,
    pub tls_insecure: Option<Spanned<bool>>,
    pub sampler: Option<RawSampler>,
    pub miss_attribution: Option<RawMissAttribution>,
    /// Redis Cluster: discover every node from `url` and/or `seeds`.
    pub cluster: Option<Spanned<bool>>,
    pub seeds: Option<Spanned<Vec<Spanned<String>>>>,
    /// Sentinel: the sentinels' URLs and the name of the monitored master.
    pub sentinel: Option<Spanned<Vec<Spanned<String>>>>,
    pub master_name: Option<Spanned<String>>,
}

/// A `[targets.sampler]` table.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSampler {
    pub enabled: Option<Spanned<bool>>,
    pub separator: Option<Spanned<String>>,
    pub depth: Option<Spanned<i64>>,
    pub patterns: Option<Spanned<Vec<Spanned<String>>>>,
    pub keys_per_cycle: Option<Spanned<i64>>,
    pub batch_size: Option<Spanned<i64>>,
    pub max_time_per_cycle: Option<Spanned<String>>,
    pub pause_between_batches: Option<Spanned<String>>,
    pub interval: Option<Spanned<String>>,
    pub top_k: Option<Spanned<i64>>,
    pub memory_samples: Option<Spanned<i64>>,
}

/// A `[targets.miss_attribution]` table.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMissAttribution {
    pub enabled: Option<Spanned<bool>>,
    pub manage_notifications: Option<Spanned<bool>>,
    pub remembered_keys: Option<Spanned<i64>>,
}

/// The file's text as [`RawFile`]: TOML syntax, unknown keys and value types checked.
pub(super) fn parse(path: &std::path::Path, text: &str) -> Result<RawFile, ConfigError> {
    toml::from_str::<RawFile>(text).map_err(|e| ConfigError::Syntax {
        path: path.to_path_buf(),
        line: e.span().map(|s| line_of(text, s.start)),
        message: syntax_message(text, &e),
    })
}

/// The parser's message, prefixed with the key when the parser did not name it.
fn syntax_message(text: &str, e: &toml::de::Error) -> String {
    let message = e.message().trim();
    match e.span().and_then(|s| key_before(text, s.start)) {
        Some(key) if !message.starts_with("unknown field") => {
            format!("`{key}`: {message}")
        }
        _ => message.to_string(),
    }
}

/// The key whose value starts at byte `offset`, for errors the TOML parser reports without one
/// (a value of the wrong type). Only the key is returned, never the value: values may be secret.
pub(super) fn key_before(text: &str, offset: usize) -> Option<&str> {
    let before = text.get(..offset.min(text.len()))?;
    let line = &before[before.rfind('\n').map_or(0, |i| i + 1)..];
    let (lhs, _) = line.rsplit_once('=')?;
    let key = lhs
        .trim_end()
        .rsplit(|c: char| c == '{' || c == ',' || c.is_whitespace())
        .next()?
        .trim_matches(['"', '\'']);
    let bare = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.';
    (!key.is_empty() && key.chars().all(bare)).then_some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_before_a_value() {
        let t = "poll_interval = 15\nlabels = { team = 1, \"env\" = 2 }\n";
        assert_eq!(key_before(t, t.find("15").unwrap()), Some("poll_interval"));
        assert_eq!(key_before(t, t.find("1,").unwrap()), Some("team"));
        assert_eq!(key_before(t, t.find("2 }").unwrap()), Some("env"));
        assert_eq!(key_before(t, 0), None);
        assert_eq!(key_before("[[targets]\n", 3), None);
    }
}
