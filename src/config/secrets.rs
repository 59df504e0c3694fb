//! The one password resolver, for targets and `[[scrape.credentials]]` entries alike: at most
//! one source (the URL, `password_file` or `password_env`), the file read and its trailing
//! newlines trimmed, the variable read through the caller's lookup. Errors name the key but
//! never the password.

use std::path::PathBuf;

use toml::Spanned;

use super::origin::{ConfigError, FileCtx, Origin};
use super::read_small_file;

/// Where an entry's password may come from.
pub(super) struct PasswordKeys<'a> {
    pub file: Option<&'a Spanned<PathBuf>>,
    pub env: Option<&'a Spanned<String>>,
    /// The entry's URL carries a password itself (targets only).
    pub in_url: bool,
}

/// The password from `password_file` or `password_env` (`None` when neither is given).
/// `err(origin, key, message)` makes the caller's error for a refused key (`key` is
/// `password_file` or `password_env`).
pub(super) fn password(
    keys: &PasswordKeys,
    ctx: &FileCtx,
    env: &dyn Fn(&str) -> Option<String>,
    err: &dyn Fn(Origin, &str, String) -> ConfigError,
) -> Result<Option<String>, ConfigError> {
    let sources: Vec<&str> = [
        (keys.in_url, "url"),
        (keys.file.is_some(), "password_file"),
        (keys.env.is_some(), "password_env"),
    ]
    .into_iter()
    .filter_map(|(given, name)| given.then_some(name))
    .collect();
    // Point at the later of the two keys the user wrote.
    let later = match (keys.file, keys.env) {
        (_, Some(e)) => Some((ctx.origin(e), "password_env")),
        (Some(f), None) => Some((ctx.origin(f), "password_file")),
        (None, None) => None,
    };
    if let (true, Some((origin, key))) = (sources.len() > 1, later) {
        return Err(err(
            origin,
            key,
            format!(
                "more than one password source ({}); use only one",
                sources.join(", ")
            ),
        ));
    }
    if let Some(f) = keys.file {
        return from_file(f, ctx, err).map(Some);
    }
    match keys.env {
        Some(e) => from_env(e, ctx, env, err).map(Some),
        None => Ok(None),
    }
}

/// The password in the file `f` names, without its trailing newlines; not empty.
fn from_file(
    f: &Spanned<PathBuf>,
    ctx: &FileCtx,
    err: &dyn Fn(Origin, &str, String) -> ConfigError,
) -> Result<String, ConfigError> {
    let path = f.get_ref();
    let text = read_small_file(path).map_err(|e| {
        err(
            ctx.origin(f),
            "password_file",
            format!("cannot read password file {}: {e}", path.display()),
        )
    })?;
    let password = text.trim_end_matches(['\n', '\r']);
    if password.is_empty() {
        return Err(err(
            ctx.origin(f),
            "password_file",
            format!("password file {} is empty", path.display()),
        ));
    }
    Ok(password.to_string())
}

/// The password in the variable `e` names; set and not empty.
fn from_env(
    e: &Spanned<String>,
    ctx: &FileCtx,
    env: &dyn Fn(&str) -> Option<String>,
    err: &dyn Fn(Origin, &str, String) -> ConfigError,
) -> Result<String, ConfigError> {
    let var = e.get_ref();
    match env(var) {
        None => Err(err(
            ctx.origin(e),
            "password_env",
            format!("environment variable {var} is not set"),
        )),
        Some(v) if v.is_empty() => Err(err(
            ctx.origin(e),
            "password_env",
            format!("environment variable {var} is empty"),
        )),
        Some(v) => Ok(v),
    }
}
