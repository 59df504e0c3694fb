//! Validation of a target's `[targets.sampler]` table into a [`SamplerConfig`]; every refusal
//! names the file, the line and the key (`sampler.<key>`).

use toml::Spanned;

use super::raw::RawSampler;
use super::{ConfigError, FileCtx, invalid, parse_duration};
use crate::sampler::{NONE, OTHER, SamplerConfig};

/// Most `patterns` a sampler accepts.
pub const MAX_PATTERNS: usize = 100;
/// Largest `top_k`: the `prefix` label has at most this many values plus `(other)`.
pub const MAX_TOP_K: i64 = 200;

/// The sampler's settings, or `None` when it is not enabled (`enabled` defaults to false). The
/// other keys are checked either way, so a typo never waits for the day the sampler is enabled.
pub(super) fn validate(
    raw: &RawSampler,
    ctx: &FileCtx,
    target: &str,
) -> Result<Option<SamplerConfig>, ConfigError> {
    let err = |origin, key: &str, m: String| invalid(origin, Some(target), key, m);
    let int = |v: &Option<Spanned<i64>>, key: &str, min: i64, max: i64, default: i64| match v {
        None => Ok(default),
        Some(s) => {
            let n = *s.get_ref();
            if (min..=max).contains(&n) {
                Ok(n)
            } else {
                Err(err(
                    ctx.origin(s),
                    key,
                    format!("{n} is out of range: expected {min} to {max}"),
                ))
            }
        }
    };
    let duration = |v: &Option<Spanned<String>>, key: &str, default| match v {
        None => Ok(default),
        Some(s) => parse_duration(s.get_ref()).map_err(|m| err(ctx.origin(s), key, m)),
    };
    let d = SamplerConfig::default();
    let separator = match &raw.separator {
        None => d.separator.clone(),
        Some(s) if s.get_ref().is_empty() => {
            return Err(err(
                ctx.origin(s),
                "sampler.separator",
                "the separator is empty".into(),
            ));
        }
        Some(s) => s.get_ref().clone(),
    };
    let mut patterns: Vec<String> = Vec::new();
    if let Some(list) = &raw.patterns {
        if list.get_ref().len() > MAX_PATTERNS {
            return Err(err(
                ctx.origin(list),
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
            } else if text.chars().count() > crate::sampler::MAX_PREFIX_CHARS {
                Some(format!(
                    "pattern longer than {} characters",
                    crate::sampler::MAX_PREFIX_CHARS
                ))
            } else if patterns.contains(text) {
                Some(format!("pattern {text:?} is given twice"))
            } else {
                None
            };
            if let Some(m) = problem {
                return Err(err(ctx.origin(p), "sampler.patterns", m));
            }
            patterns.push(text.clone());
        }
    }
    let config = SamplerConfig {
        separator,
        depth: int(&raw.depth, "sampler.depth", 1, 16, d.depth as i64)? as usize,
        patterns,
        keys_per_cycle: int(
            &raw.keys_per_cycle,
            "sampler.keys_per_cycle",
            1,
            10_000_000,
            d.keys_per_cycle as i64,
        )? as u64,
        batch_size: int(
            &raw.batch_size,
            "sampler.batch_size",
            1,
            100_000,
            d.batch_size as i64,
        )? as u64,
        max_time_per_cycle: duration(
            &raw.max_time_per_cycle,
            "sampler.max_time_per_cycle",
            d.max_time_per_cycle,
        )?,
        pause_between_batches: duration(
            &raw.pause_between_batches,
            "sampler.pause_between_batches",
            d.pause_between_batches,
        )?,
        interval: duration(&raw.interval, "sampler.interval", d.interval)?,
        top_k: int(&raw.top_k, "sampler.top_k", 1, MAX_TOP_K, d.top_k as i64)? as usize,
        memory_samples: int(
            &raw.memory_samples,
            "sampler.memory_samples",
            0,
            1000,
            d.memory_samples as i64,
        )? as usize,
    };
    if config.max_time_per_cycle >= config.interval {
        let origin = raw
            .max_time_per_cycle
            .as_ref()
            .map(|s| ctx.origin(s))
            .or_else(|| raw.interval.as_ref().map(|s| ctx.origin(s)))
            .unwrap_or(super::Origin::Default);
        return Err(err(
            origin,
            "sampler.max_time_per_cycle",
            format!(
                "max_time_per_cycle {} must be shorter than the sampler interval {}",
                humantime::format_duration(config.max_time_per_cycle),
                humantime::format_duration(config.interval)
            ),
        ));
    }
    let enabled = raw.enabled.as_ref().is_some_and(|e| *e.get_ref());
    Ok(enabled.then_some(config))
}
