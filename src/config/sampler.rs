//! A target's `[targets.sampler]` table: [`SamplerConfig`], its defaults and its validation;
//! every refusal names the file, the line and the key (`sampler.<key>`).

use std::time::Duration;

use toml::Spanned;

use super::origin::{ConfigError, FileCtx, Origin, invalid};
use super::parse_duration;
use super::raw::RawSampler;
use crate::core::sampler::{MAX_PREFIX_CHARS, NONE, OTHER};

/// Defaults of the `[targets.sampler]` keys.
pub(crate) const DEFAULT_SEPARATOR: &str = ":";
pub(crate) const DEFAULT_DEPTH: usize = 1;
pub(crate) const DEFAULT_KEYS_PER_CYCLE: u64 = 10_000;
pub(crate) const DEFAULT_BATCH_SIZE: u64 = 500;
pub(crate) const DEFAULT_MAX_TIME_PER_CYCLE: Duration = Duration::from_secs(1);
pub(crate) const DEFAULT_PAUSE_BETWEEN_BATCHES: Duration = Duration::from_millis(10);
pub(crate) const DEFAULT_INTERVAL: Duration = Duration::from_secs(300);
pub(crate) const DEFAULT_TOP_K: usize = 20;
pub(crate) const DEFAULT_MEMORY_SAMPLES: usize = 5;

/// The validated `[targets.sampler]` section of an enabled sampler.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SamplerConfig {
    /// Separates the segments of a key name, e.g. `:` in `user:42:profile`.
    pub separator: String,
    /// How many segments make a prefix (1: `user:*`, 2: `user:42:*`).
    pub depth: usize,
    /// Explicit glob patterns (`*` any run of bytes, `?` one byte), tried in order before the
    /// separator rule; the first match names the key's group.
    pub patterns: Vec<String>,
    /// Most keys one cycle examines.
    pub keys_per_cycle: u64,
    /// `SCAN ... COUNT` per batch.
    pub batch_size: u64,
    /// A cycle stops once it has run this long (pauses included).
    pub max_time_per_cycle: Duration,
    /// Sleep between two batches of a cycle.
    pub pause_between_batches: Duration,
    /// Time from the start of one cycle to the start of the next.
    pub interval: Duration,
    /// Prefixes exported by name; the rest are summed as `(other)`.
    pub top_k: usize,
    /// Keys per prefix and cycle whose size is asked with `MEMORY USAGE` (0: none).
    pub memory_samples: usize,
}

impl Default for SamplerConfig {
    fn default() -> SamplerConfig {
        SamplerConfig {
            separator: DEFAULT_SEPARATOR.to_string(),
            depth: DEFAULT_DEPTH,
            patterns: Vec::new(),
            keys_per_cycle: DEFAULT_KEYS_PER_CYCLE,
            batch_size: DEFAULT_BATCH_SIZE,
            max_time_per_cycle: DEFAULT_MAX_TIME_PER_CYCLE,
            pause_between_batches: DEFAULT_PAUSE_BETWEEN_BATCHES,
            interval: DEFAULT_INTERVAL,
            top_k: DEFAULT_TOP_K,
            memory_samples: DEFAULT_MEMORY_SAMPLES,
        }
    }
}

/// Most `patterns` a sampler accepts.
pub(crate) const MAX_PATTERNS: usize = 100;
/// Largest `top_k`: the `prefix` label has at most this many values plus `(other)`.
pub(crate) const MAX_TOP_K: i64 = 200;

/// The sampler's settings, or `None` when it is not enabled (`enabled` defaults to false). The
/// other keys are checked either way, so a typo never waits for the day the sampler is enabled.
pub(super) fn validate(
    raw: &RawSampler,
    ctx: &FileCtx,
    target: &str,
) -> Result<Option<SamplerConfig>, ConfigError> {
    let config = settings(raw, ctx, target)?;
    let enabled = raw.enabled.as_ref().is_some_and(|e| *e.get_ref());
    Ok(enabled.then_some(config))
}

/// Every key of the table checked, enabled or not: miss attribution groups keys by the same
/// prefix rules whether or not the sampler runs.
pub(super) fn settings(
    raw: &RawSampler,
    ctx: &FileCtx,
    target: &str,
) -> Result<SamplerConfig, ConfigError> {
    let t = Table { ctx, target };
    let d = SamplerConfig::default();
    let config = SamplerConfig {
        separator: t.separator(&raw.separator)?,
        patterns: t.patterns(&raw.patterns)?,
        depth: t.int(&raw.depth, "sampler.depth", 1, 16, d.depth as i64)? as usize,
        keys_per_cycle: t.int(
            &raw.keys_per_cycle,
            "sampler.keys_per_cycle",
            1,
            10_000_000,
            d.keys_per_cycle as i64,
        )? as u64,
        batch_size: t.int(
            &raw.batch_size,
            "sampler.batch_size",
            1,
            100_000,
            d.batch_size as i64,
        )? as u64,
        max_time_per_cycle: t.duration(
            &raw.max_time_per_cycle,
            "sampler.max_time_per_cycle",
            d.max_time_per_cycle,
        )?,
        pause_between_batches: t.duration(
            &raw.pause_between_batches,
            "sampler.pause_between_batches",
            d.pause_between_batches,
        )?,
        interval: t.duration(&raw.interval, "sampler.interval", d.interval)?,
        top_k: t.int(&raw.top_k, "sampler.top_k", 1, MAX_TOP_K, d.top_k as i64)? as usize,
        memory_samples: t.int(
            &raw.memory_samples,
            "sampler.memory_samples",
            0,
            1000,
            d.memory_samples as i64,
        )? as usize,
    };
    t.cycle_within_interval(raw, &config)?;
    Ok(config)
}

/// One target's `[targets.sampler]` table under validation.
struct Table<'a> {
    ctx: &'a FileCtx<'a>,
    target: &'a str,
}

impl Table<'_> {
    fn err(&self, origin: Origin, key: &str, message: String) -> ConfigError {
        invalid(origin, Some(self.target), key, message)
    }

    /// An integer key within `min..=max`, or `default`.
    fn int(
        &self,
        v: &Option<Spanned<i64>>,
        key: &str,
        min: i64,
        max: i64,
        default: i64,
    ) -> Result<i64, ConfigError> {
        let Some(s) = v else {
            return Ok(default);
        };
        let n = *s.get_ref();
        if (min..=max).contains(&n) {
            return Ok(n);
        }
        Err(self.err(
            self.ctx.origin(s),
            key,
            format!("{n} is out of range: expected {min} to {max}"),
        ))
    }

    /// A duration key, or `default`.
    fn duration(
        &self,
        v: &Option<Spanned<String>>,
        key: &str,
        default: Duration,
    ) -> Result<Duration, ConfigError> {
        match v {
            None => Ok(default),
            Some(s) => {
                parse_duration(s.get_ref()).map_err(|m| self.err(self.ctx.origin(s), key, m))
            }
        }
    }

    /// `separator`: not empty.
    fn separator(&self, v: &Option<Spanned<String>>) -> Result<String, ConfigError> {
        match v {
            None => Ok(DEFAULT_SEPARATOR.to_string()),
            Some(s) if s.get_ref().is_empty() => Err(self.err(
                self.ctx.origin(s),
                "sampler.separator",
                "the separator is empty".into(),
            )),
            Some(s) => Ok(s.get_ref().clone()),
        }
    }

    /// `patterns`: at most [`MAX_PATTERNS`], none empty, twice, too long or a built-in label.
    fn patterns(
        &self,
        v: &Option<Spanned<Vec<Spanned<String>>>>,
    ) -> Result<Vec<String>, ConfigError> {
        let mut patterns: Vec<String> = Vec::new();
        let Some(list) = v else {
            return Ok(patterns);
        };
        if list.get_ref().len() > MAX_PATTERNS {
            return Err(self.err(
                self.ctx.origin(list),
                "sampler.patterns",
                format!("at most {MAX_PATTERNS} patterns"),
            ));
        }
        for p in list.get_ref() {
            let text = p.get_ref();
            let problem = if text.is_empty() {
                Some("a pattern is empty".to_string())
            } else if text == OTHER || text == NONE {
                Some(format!("{text:?} is the label of a built-in group"))
            } else if text.chars().count() > MAX_PREFIX_CHARS {
                Some(format!("pattern longer than {MAX_PREFIX_CHARS} characters"))
            } else if patterns.contains(text) {
                Some(format!("pattern {text:?} is given twice"))
            } else {
                None
            };
            if let Some(m) = problem {
                return Err(self.err(self.ctx.origin(p), "sampler.patterns", m));
            }
            patterns.push(text.clone());
        }
        Ok(patterns)
    }

    /// A cycle must end before the next one is due.
    fn cycle_within_interval(
        &self,
        raw: &RawSampler,
        config: &SamplerConfig,
    ) -> Result<(), ConfigError> {
        if config.max_time_per_cycle < config.interval {
            return Ok(());
        }
        let origin = raw
            .max_time_per_cycle
            .as_ref()
            .map(|s| self.ctx.origin(s))
            .or_else(|| raw.interval.as_ref().map(|s| self.ctx.origin(s)))
            .unwrap_or(Origin::Default);
        Err(self.err(
            origin,
            "sampler.max_time_per_cycle",
            format!(
                "max_time_per_cycle {} must be shorter than the sampler interval {}",
                humantime::format_duration(config.max_time_per_cycle),
                humantime::format_duration(config.interval)
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::{Config, ConfigError, Flags, build};
    use super::SamplerConfig;

    fn load(sampler: &str) -> Result<Config, ConfigError> {
        let toml = format!(
            "[[targets]]\nname = \"a\"\nurl = \"redis://127.0.0.1:6379\"\n[targets.sampler]\n\
             {sampler}"
        );
        build(
            &Flags::default(),
            &|_| None,
            Some((Path::new("t.toml"), &toml)),
        )
    }

    #[track_caller]
    fn refused(sampler: &str, parts: &[&str]) {
        let msg = load(sampler).expect_err("expected a refusal").to_string();
        for p in parts {
            assert!(msg.contains(p), "{msg:?} does not contain {p:?}");
        }
    }

    #[test]
    fn disabled_by_default_and_defaults_when_enabled() {
        let c = load("depth = 2\n").unwrap();
        assert_eq!(c.targets[0].sampler, None);
        let c = load("enabled = true\n").unwrap();
        assert_eq!(c.targets[0].sampler, Some(SamplerConfig::default()));
        let none = build(
            &Flags::default(),
            &|_| None,
            Some((
                Path::new("t.toml"),
                "[[targets]]\nname = \"a\"\nurl = \"redis://127.0.0.1:6379\"\n",
            )),
        )
        .unwrap();
        assert_eq!(none.targets[0].sampler, None);
    }

    #[test]
    fn every_key_is_read() {
        let c = load(
            "enabled = true\nseparator = \"::\"\ndepth = 2\npatterns = [\"user:*\", \"lock:*\"]\n\
             keys_per_cycle = 5000\nbatch_size = 100\nmax_time_per_cycle = \"2s\"\n\
             pause_between_batches = \"5ms\"\ninterval = \"1m\"\ntop_k = 3\nmemory_samples = 0\n",
        )
        .unwrap();
        let s = c.targets[0].sampler.clone().unwrap();
        assert_eq!(
            s,
            SamplerConfig {
                separator: "::".into(),
                depth: 2,
                patterns: vec!["user:*".into(), "lock:*".into()],
                keys_per_cycle: 5000,
                batch_size: 100,
                max_time_per_cycle: std::time::Duration::from_secs(2),
                pause_between_batches: std::time::Duration::from_millis(5),
                interval: std::time::Duration::from_secs(60),
                top_k: 3,
                memory_samples: 0,
            }
        );
    }

    #[test]
    fn refusals_name_the_key_and_the_line() {
        refused(
            "enabled = true\ndepth = 0\n",
            &["t.toml, line 6", "`sampler.depth`", "0 is out of range"],
        );
        refused("top_k = 1000\n", &["line 5", "`sampler.top_k`"]);
        refused(
            "separator = \"\"\n",
            &["line 5", "`sampler.separator`", "empty"],
        );
        refused(
            "patterns = [\"a:*\",\n  \"(other)\"]\n",
            &["line 6", "`sampler.patterns`", "built-in group"],
        );
        refused(
            "patterns = [\"a:*\", \"a:*\"]\n",
            &["`sampler.patterns`", "twice"],
        );
        refused(
            "interval = \"soon\"\n",
            &["line 5", "`sampler.interval`", "invalid duration"],
        );
        refused(
            "interval = \"1s\"\nmax_time_per_cycle = \"2s\"\n",
            &[
                "line 6",
                "`sampler.max_time_per_cycle`",
                "shorter than the sampler interval",
            ],
        );
        refused("keys_per_cycle = 0\n", &["`sampler.keys_per_cycle`"]);
        refused("batch_size = -1\n", &["`sampler.batch_size`"]);
        refused("memory_samples = 5000\n", &["`sampler.memory_samples`"]);
        // Unknown keys are refused like everywhere else, with the line.
        refused(
            "enabled = true\nkeys_per_cylce = 10\n",
            &["line 6", "keys_per_cylce"],
        );
    }

    #[test]
    fn the_example_documents_every_sampler_key() {
        let text = include_str!("../../examples/config.toml");
        let section = text
            .split("[targets.sampler]")
            .nth(1)
            .expect("examples/config.toml has a [targets.sampler] table");
        for key in [
            "enabled",
            "separator",
            "depth",
            "patterns",
            "keys_per_cycle",
            "batch_size",
            "max_time_per_cycle",
            "pause_between_batches",
            "interval",
            "top_k",
            "memory_samples",
        ] {
            assert!(
                section.lines().any(|l| l.starts_with(&format!("{key} ="))),
                "examples/config.toml does not show sampler key `{key}`"
            );
        }
    }
}
