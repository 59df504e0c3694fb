//! Where a setting came from, and the errors that name it: [`Origin`] (file and line,
//! environment variable, flag, default), [`ConfigError`], and the helpers every table's
//! validation uses to point at a line ([`FileCtx`]) or pick a global setting by precedence
//! ([`pick`]).

use std::fmt;
use std::path::{Path, PathBuf};

use toml::Spanned;

use super::ENV_PREFIX;

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
    #[error("{}: {message}", file_line(.path, .line))]
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
    /// The file defines no target, no `--redis` was given, and `/scrape` could poll nothing.
    #[error(
        "{}: `targets`: no targets defined and {why}: add a [[targets]] section, pass --redis, \
         or list the URLs /scrape may poll in `scrape.allow`",
        file_line(.path, .line)
    )]
    NoTargets {
        /// The file.
        path: PathBuf,
        /// Line of an explicit empty `targets = []`.
        line: Option<usize>,
        /// Why `/scrape` cannot stand in for the targets.
        why: &'static str,
    },
}

/// `path` or `path, line N`.
fn file_line(path: &Path, line: &Option<usize>) -> String {
    match line {
        Some(l) => format!("{}, line {l}", path.display()),
        None => path.display().to_string(),
    }
}

fn target_prefix(target: &Option<String>) -> String {
    target
        .as_ref()
        .map(|t| format!("target {t:?}: "))
        .unwrap_or_default()
}

/// `REDIS_CACHE_EXPORTER_<name>` if set and not empty, with its origin.
pub(super) fn env_setting(
    env: &dyn Fn(&str) -> Option<String>,
    name: &str,
) -> Option<(String, Origin)> {
    let var = format!("{ENV_PREFIX}{name}");
    env(&var)
        .filter(|v| !v.trim().is_empty())
        .map(|v| (v, Origin::Env(var)))
}

/// A merged value and where it came from.
pub(super) struct Setting<T> {
    pub value: T,
    pub origin: Origin,
}

/// Everything the validation of one file needs to point at a line.
pub(super) struct FileCtx<'a> {
    pub path: &'a Path,
    pub text: &'a str,
}

impl FileCtx<'_> {
    pub(super) fn origin<T>(&self, s: &Spanned<T>) -> Origin {
        Origin::File {
            path: self.path.to_path_buf(),
            line: line_of(self.text, s.span().start),
        }
    }
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

/// A refused value: where it came from, its target (if any), its key and what is wrong.
pub(super) fn invalid(
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
pub(super) fn pick<T>(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_numbers_are_one_based() {
        let t = "a = 1\nb = 2\n";
        assert_eq!(line_of(t, 0), 1);
        assert_eq!(line_of(t, 6), 2);
        assert_eq!(line_of(t, 1000), 3);
    }
}
