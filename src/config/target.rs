//! The targets: each `[[targets]]` entry validated key group by key group, the bare URLs of
//! `--redis` (or its variable, or the built-in default), and the list of all of them with
//! unique names.

use std::collections::HashMap;
use std::time::Duration;

use super::globals::{Globals, check_timeout_below};
use super::origin::{ConfigError, FileCtx, Origin, Setting, env_setting, invalid, line_of};
use super::raw::{RawFile, RawTarget};
use super::redis_url::{self, ParsedUrl};
use super::secrets::{self, PasswordKeys};
use super::{
    DEFAULT_CONFIG_COMMAND, DEFAULT_REDIS_URL, Flags, ScrapeConfig, TargetConfig, default_timeout,
    discovery, labels, miss_attribution, parse_duration, sampler, tls,
};

/// Every target, in file order, then `--redis` order; the default one when neither names any.
/// A file without targets is refused unless `/scrape` alone has patterns to poll. Names are
/// unique.
pub(super) fn all(
    flags: &Flags,
    env: &dyn Fn(&str) -> Option<String>,
    file: Option<(&RawFile, &FileCtx)>,
    globals: &Globals,
    scrape: &ScrapeConfig,
) -> Result<Vec<TargetConfig>, ConfigError> {
    let mut targets: Vec<(TargetConfig, Origin)> = Vec::new();
    if let Some((raw, ctx)) = file {
        for t in raw.targets.iter().flat_map(toml::Spanned::get_ref) {
            targets.push((file_target(t, ctx, env, globals)?, ctx.origin(&t.name)));
        }
    }
    let (urls, url_origin) = redis_urls(flags, env);
    for url in &urls {
        targets.push((url_target(url, &url_origin, globals)?, url_origin.clone()));
    }
    if targets.is_empty() {
        if let Some((raw, ctx)) = file {
            if let Some(why) = scrape_only_refusal(scrape) {
                return Err(ConfigError::NoTargets {
                    path: ctx.path.to_path_buf(),
                    line: raw
                        .targets
                        .as_ref()
                        .map(|t| line_of(ctx.text, t.span().start)),
                    why,
                });
            }
        } else {
            let t = url_target(DEFAULT_REDIS_URL, &Origin::Default, globals)?;
            targets.push((t, Origin::Default));
        }
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
    Ok(targets.into_iter().map(|(t, _)| t).collect())
}

/// Why a file without targets is refused, or `None` when `/scrape` has patterns to poll: only
/// `scrape.allow` lets it poll anything besides the configured targets (credentials say how to
/// log in, not where).
fn scrape_only_refusal(scrape: &ScrapeConfig) -> Option<&'static str> {
    match &scrape.allow {
        _ if !scrape.enabled => Some(
            "/scrape is disabled (`scrape.enabled = false` or --no-scrape-endpoint), so nothing \
             would be polled",
        ),
        None if !scrape.credentials.is_empty() => Some(
            "`scrape.allow` is not set ([[scrape.credentials]] say how to log in, not which \
             targets /scrape may poll)",
        ),
        None => Some("`scrape.allow` is not set, so /scrape would refuse every target"),
        Some(patterns) if patterns.is_empty() => {
            Some("`scrape.allow` is empty, so /scrape would refuse every target")
        }
        Some(_) => None,
    }
}

/// The `--redis` URLs, or else those of `REDIS_CACHE_EXPORTER_REDIS` (comma separated).
fn redis_urls(flags: &Flags, env: &dyn Fn(&str) -> Option<String>) -> (Vec<String>, Origin) {
    if !flags.redis.is_empty() {
        return (flags.redis.clone(), Origin::Flag("--redis".to_string()));
    }
    match env_setting(env, "REDIS") {
        Some((list, origin)) => {
            let urls = list
                .split(',')
                .map(str::trim)
                .filter(|u| !u.is_empty())
                .map(str::to_string)
                .collect();
            (urls, origin)
        }
        None => (Vec::new(), Origin::Default),
    }
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
            .as_ref()
            .map_or(default_timeout(poll_interval), |t| t.value),
        labels: std::collections::BTreeMap::default(),
        label_origins: std::collections::BTreeMap::default(),
        cache: true,
        keysizes: false,
        config_command: Some(DEFAULT_CONFIG_COMMAND.to_string()),
        connection: parsed.info,
        tls: None,
        sampler: None,
        miss_attribution: None,
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
    let entry = Entry {
        t,
        ctx,
        name: &name,
    };
    let (url, discovery) = discovery::discovery(t, ctx, Some(&name))?;
    let parsed =
        redis_url::parse(url.get_ref()).map_err(|m| entry.err(ctx.origin(&url), "url", m))?;
    let username = entry.username(&parsed)?;
    let keys = PasswordKeys {
        file: t.password_file.as_ref(),
        env: t.password_env.as_ref(),
        in_url: parsed.has_password,
    };
    let password = secrets::password(&keys, ctx, env, &|o, k, m| entry.err(o, k, m))?;
    let (poll_interval, timeout) = entry.timing(globals)?;
    let (labels, label_origins) = labels::static_labels(t, ctx, &name)?;
    let config_command = entry.config_command()?;
    let tls = tls::tls_files(t, ctx, &parsed.info).map_err(|(o, k, m)| entry.err(o, k, m))?;
    let sampler = match &t.sampler {
        Some(raw) => sampler::validate(raw, ctx, &name)?,
        None => None,
    };
    let miss_attribution = match &t.miss_attribution {
        Some(raw) => {
            let rules = match &t.sampler {
                Some(s) => sampler::settings(s, ctx, &name)?,
                None => sampler::SamplerConfig::default(),
            };
            miss_attribution::validate(raw, rules, ctx, &name)?
        }
        None => None,
    };
    let connection =
        redis_url::with_credentials(parsed.info, username.as_deref(), password.as_deref());
    Ok(TargetConfig {
        name,
        url: url.get_ref().clone(),
        poll_interval,
        timeout,
        labels,
        label_origins,
        cache: t.cache.unwrap_or(true),
        keysizes: t.keysizes.unwrap_or(false),
        config_command,
        tls,
        connection,
        sampler,
        miss_attribution,
        discovery,
    })
}

/// One `[[targets]]` entry under validation: its keys, the file, and its name for errors.
struct Entry<'a> {
    t: &'a RawTarget,
    ctx: &'a FileCtx<'a>,
    name: &'a str,
}

impl Entry<'_> {
    fn err(&self, origin: Origin, key: &str, message: impl Into<String>) -> ConfigError {
        invalid(origin, Some(self.name), key, message)
    }

    /// `username`: not empty, and not given in the URL as well.
    fn username(&self, parsed: &ParsedUrl) -> Result<Option<String>, ConfigError> {
        let Some(user) = &self.t.username else {
            return Ok(None);
        };
        if parsed.has_username {
            return Err(self.err(
                self.ctx.origin(user),
                "username",
                "the url already contains a user name; give it in one place only",
            ));
        }
        if user.get_ref().is_empty() {
            return Err(self.err(self.ctx.origin(user), "username", "the user name is empty"));
        }
        Ok(Some(user.get_ref().clone()))
    }

    /// `poll_interval` and `timeout`, each inherited when not given; the timeout stays below
    /// the poll interval, and the error names where each of the two came from.
    fn timing(&self, globals: &Globals) -> Result<(Duration, Duration), ConfigError> {
        let ctx = self.ctx;
        let poll_interval = match &self.t.poll_interval {
            Some(p) => Setting {
                value: parse_duration(p.get_ref())
                    .map_err(|m| self.err(ctx.origin(p), "poll_interval", m))?,
                origin: ctx.origin(p),
            },
            None => Setting {
                value: globals.poll_interval.value,
                origin: globals.poll_interval.origin.clone(),
            },
        };
        let timeout = match (&self.t.timeout, &globals.timeout) {
            (Some(s), _) => {
                let timeout = Setting {
                    value: parse_duration(s.get_ref())
                        .map_err(|m| self.err(ctx.origin(s), "timeout", m))?,
                    origin: ctx.origin(s),
                };
                check_timeout_below(&timeout, &poll_interval, Some(self.name))?;
                timeout.value
            }
            (None, Some(global)) => {
                if global.value >= poll_interval.value {
                    return Err(self.err(
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
        Ok((poll_interval.value, timeout))
    }

    /// `config_command`: `CONFIG` when not given, `""` for never, else one word.
    fn config_command(&self) -> Result<Option<String>, ConfigError> {
        match &self.t.config_command {
            None => Ok(Some(DEFAULT_CONFIG_COMMAND.to_string())),
            Some(c) if c.get_ref().is_empty() => Ok(None),
            Some(c) => {
                let cmd = c.get_ref();
                if cmd.chars().any(|ch| ch.is_whitespace() || ch.is_control()) {
                    return Err(self.err(
                        self.ctx.origin(c),
                        "config_command",
                        format!(
                            "{cmd:?} is not a command name (no spaces allowed; \"\" disables \
                             CONFIG)"
                        ),
                    ));
                }
                Ok(Some(cmd.clone()))
            }
        }
    }
}
