//! A target's static `labels`: names valid for Prometheus, values not empty.

use std::collections::BTreeMap;

use super::RESERVED_LABELS;
use super::origin::{ConfigError, FileCtx, invalid};
use super::raw::RawTarget;

/// The `labels` of a `[[targets]]` entry named `target`.
pub(super) fn static_labels(
    t: &RawTarget,
    ctx: &FileCtx,
    target: &str,
) -> Result<BTreeMap<String, String>, ConfigError> {
    let mut labels = BTreeMap::new();
    for (k, v) in t.labels.iter().flatten() {
        check_label_name(k.get_ref())
            .map_err(|m| invalid(ctx.origin(k), Some(target), "labels", m))?;
        if v.get_ref().is_empty() {
            return Err(invalid(
                ctx.origin(v),
                Some(target),
                "labels",
                format!("label {:?} has an empty value", k.get_ref()),
            ));
        }
        labels.insert(k.get_ref().clone(), v.get_ref().clone());
    }
    Ok(labels)
}

/// Checks a static label name against Prometheus's rules and our reserved names.
fn check_label_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let valid = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(format!(
            "invalid label name {name:?}: use letters, digits and _, not starting with a digit"
        ));
    }
    if name.starts_with("__") {
        return Err(format!(
            "invalid label name {name:?}: names starting with __ are reserved by Prometheus"
        ));
    }
    if RESERVED_LABELS.contains(&name) {
        return Err(format!(
            "label name {name:?} is reserved (used by Prometheus or by the exporter's own metrics)"
        ));
    }
    Ok(())
}
