//! A target's `[targets.miss_attribution]` table: [`MissAttributionConfig`], its defaults and
//! its validation; every refusal names the file, the line and the key
//! (`miss_attribution.<key>`). The prefix rules are the `[targets.sampler]` table's, read
//! whether or not the sampler is enabled.

use super::origin::{ConfigError, FileCtx, invalid};
use super::raw::RawMissAttribution;
use super::sampler::SamplerConfig;

/// Default `remembered_keys`: about 7.6 MB, 38 bytes per key (see docs/miss-attribution.md).
pub(crate) const DEFAULT_REMEMBERED_KEYS: usize = 200_000;
/// Largest `remembered_keys` (about 320 MiB).
pub(crate) const MAX_REMEMBERED_KEYS: i64 = 10_000_000;

/// The validated `[targets.miss_attribution]` table of an enabled attribution.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MissAttributionConfig {
    /// Add the missing `notify-keyspace-events` flags with CONFIG SET (never removing any);
    /// when false the server is never changed.
    pub manage_notifications: bool,
    /// Removed keys remembered (the ring's capacity).
    pub remembered_keys: usize,
    /// Prefix rules (separator, depth, patterns, top_k) from `[targets.sampler]` or its
    /// defaults.
    pub prefixes: SamplerConfig,
}

/// The attribution's settings, or `None` when not enabled (`enabled` defaults to false); the
/// other keys are checked either way.
pub(super) fn validate(
    raw: &RawMissAttribution,
    prefixes: SamplerConfig,
    ctx: &FileCtx,
    target: &str,
) -> Result<Option<MissAttributionConfig>, ConfigError> {
    let remembered_keys = match &raw.remembered_keys {
        None => DEFAULT_REMEMBERED_KEYS,
        Some(n) if (1..=MAX_REMEMBERED_KEYS).contains(n.get_ref()) => *n.get_ref() as usize,
        Some(n) => {
            return Err(invalid(
                ctx.origin(n),
                Some(target),
                "miss_attribution.remembered_keys",
                format!(
                    "{} is out of range: expected 1 to {MAX_REMEMBERED_KEYS}",
                    n.get_ref()
                ),
            ));
        }
    };
    let config = MissAttributionConfig {
        manage_notifications: raw
            .manage_notifications
            .as_ref()
            .is_some_and(|m| *m.get_ref()),
        remembered_keys,
        prefixes,
    };
    let enabled = raw.enabled.as_ref().is_some_and(|e| *e.get_ref());
    Ok(enabled.then_some(config))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::{Config, ConfigError, Flags, build};
    use super::*;

    fn load(tables: &str) -> Result<Config, ConfigError> {
        let toml = format!("[[targets]]\nname = \"a\"\nurl = \"redis://127.0.0.1:6379\"\n{tables}");
        build(
            &Flags::default(),
            &|_| None,
            Some((Path::new("t.toml"), &toml)),
        )
    }

    #[test]
    fn off_by_default_then_defaults_with_the_samplers_rules() {
        assert_eq!(load("").unwrap().targets[0].miss_attribution, None);
        let c = load("[targets.miss_attribution]\nremembered_keys = 5\n").unwrap();
        assert_eq!(c.targets[0].miss_attribution, None);
        let c = load("[targets.miss_attribution]\nenabled = true\n").unwrap();
        assert_eq!(
            c.targets[0].miss_attribution,
            Some(MissAttributionConfig {
                manage_notifications: false,
                remembered_keys: DEFAULT_REMEMBERED_KEYS,
                prefixes: SamplerConfig::default(),
            })
        );
        // The sampler's prefix rules apply though the sampler itself is off.
        let c = load(
            "[targets.sampler]\nseparator = \"/\"\ntop_k = 3\n\
             [targets.miss_attribution]\nenabled = true\nmanage_notifications = true\n\
             remembered_keys = 1000\n",
        )
        .unwrap();
        let a = c.targets[0].miss_attribution.clone().unwrap();
        assert!(c.targets[0].sampler.is_none());
        assert!(a.manage_notifications);
        assert_eq!(a.remembered_keys, 1000);
        assert_eq!((a.prefixes.separator.as_str(), a.prefixes.top_k), ("/", 3));
    }

    #[test]
    fn refusals_name_the_key_and_the_line() {
        let msg = load("[targets.miss_attribution]\nenabled = true\nremembered_keys = 0\n")
            .unwrap_err()
            .to_string();
        for p in [
            "t.toml, line 6",
            "`miss_attribution.remembered_keys`",
            "out of range",
        ] {
            assert!(msg.contains(p), "{msg}");
        }
        let msg = load("[targets.miss_attribution]\nenable = true\n")
            .unwrap_err()
            .to_string();
        assert!(msg.contains("line 5") && msg.contains("enable"), "{msg}");
        let msg = load("[targets.miss_attribution]\nenabled = \"yes\"\n")
            .unwrap_err()
            .to_string();
        assert!(msg.contains("enabled"), "{msg}");
    }
}
