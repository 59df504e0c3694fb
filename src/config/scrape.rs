//! The `[scrape]` table (the multi-target endpoint `/scrape?target=URL`): whether it is served,
//! the allowlist, the idle timeout and `[[scrape.credentials]]` with their passwords resolved.
//! Patterns are matched by `crate::targets::on_demand::rules`.

use toml::Spanned;

use super::origin::{ConfigError, FileCtx, invalid};
use super::raw::{RawCredential, RawScrape};
use super::secrets::{self, PasswordKeys};
use super::{Credential, Flags, ScrapeConfig, parse_duration};

/// The `[scrape]` table, validated, with passwords resolved.
pub(super) fn build(
    flags: &Flags,
    table: Option<(&RawScrape, &FileCtx)>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<ScrapeConfig, ConfigError> {
    let mut out = ScrapeConfig {
        enabled: !flags.no_scrape_endpoint,
        ..ScrapeConfig::default()
    };
    let Some((raw, ctx)) = table else {
        return Ok(out);
    };
    out.enabled &= raw.enabled.unwrap_or(true);
    if let Some(allow) = &raw.allow {
        let patterns = allow
            .iter()
            .map(|p| pattern(p, ctx, "scrape.allow"))
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
        out.credentials.push(credential(c, ctx, env)?);
    }
    Ok(out)
}

/// A URL pattern of `allow` or of a credential: a scheme, something after it, no credentials.
fn pattern(p: &Spanned<String>, ctx: &FileCtx, key: &str) -> Result<String, ConfigError> {
    let v = p.get_ref().trim();
    let (scheme, rest) = v.split_once("://").unwrap_or(("", ""));
    if scheme.is_empty() || rest.is_empty() || rest.contains('@') {
        return Err(invalid(
            ctx.origin(p),
            None,
            key,
            format!(
                "{v:?} is not a URL pattern: expected e.g. \"redis://*.cache.internal:*\", without \
                 credentials"
            ),
        ));
    }
    Ok(v.to_string())
}

/// One `[[scrape.credentials]]` entry.
fn credential(
    c: &RawCredential,
    ctx: &FileCtx,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Credential, ConfigError> {
    let err = |origin, key: &str, m: String| {
        invalid(origin, None, &format!("scrape.credentials.{key}"), m)
    };
    let pattern = pattern(&c.pattern, ctx, "scrape.credentials.pattern")?;
    let username = match &c.username {
        Some(u) if u.get_ref().is_empty() => {
            return Err(err(
                ctx.origin(u),
                "username",
                "the user name is empty".into(),
            ));
        }
        u => u.as_ref().map(|u| u.get_ref().clone()),
    };
    let keys = PasswordKeys {
        file: c.password_file.as_ref(),
        env: c.password_env.as_ref(),
        in_url: false,
    };
    Ok(Credential {
        pattern,
        username,
        password: secrets::password(&keys, ctx, env, &err)?,
    })
}
