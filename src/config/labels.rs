//! A target's static `labels`: names valid for Prometheus, values not empty, and none that
//! repeats a label of the exporter's own families. The configuration does not know those (the
//! metric table does): [`Config::refuse_labels`] is given them where the two meet.

use std::collections::{BTreeMap, BTreeSet};

use super::Config;
use super::origin::{ConfigError, FileCtx, Origin, invalid};
use super::raw::RawTarget;

/// A target's static labels, and where each was set.
pub(super) type Labels = (BTreeMap<String, String>, BTreeMap<String, Origin>);

/// The `labels` of a `[[targets]]` entry named `target`.
pub(super) fn static_labels(
    t: &RawTarget,
    ctx: &FileCtx,
    target: &str,
) -> Result<Labels, ConfigError> {
    let mut labels = BTreeMap::new();
    let mut origins = BTreeMap::new();
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
        origins.insert(k.get_ref().clone(), ctx.origin(k));
    }
    Ok((labels, origins))
}

impl Config {
    /// Refuses a static label named as one in `reserved` (the labels of every family the
    /// exporter serves, `instance` and `job`), naming the label, the target and where it was
    /// set.
    pub fn refuse_labels(&self, reserved: &BTreeSet<&str>) -> Result<(), ConfigError> {
        for t in &self.targets {
            let Some(name) = t.labels.keys().find(|n| reserved.contains(n.as_str())) else {
                continue;
            };
            let origin = t
                .label_origins
                .get(name)
                .cloned()
                .unwrap_or(Origin::Default);
            return Err(invalid(
                origin,
                Some(&t.name),
                "labels",
                format!(
                    "label name {name:?} is reserved (used by Prometheus or by the exporter's own \
                     metrics)"
                ),
            ));
        }
        Ok(())
    }
}

/// Checks a static label name against Prometheus's rules.
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
    Ok(())
}
