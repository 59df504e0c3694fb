//! The keys of Redis Cluster and Sentinel entries (`cluster`, `seeds`, `sentinel`,
//! `master_name`): which instances an entry finds, and the URL its connection template comes
//! from.

use toml::Spanned;

use super::Discovery;
use super::origin::{ConfigError, FileCtx, Origin, invalid};
use super::raw::RawTarget;
use super::redis_url;

/// The `cluster`, `seeds`, `sentinel` and `master_name` keys of an entry: its discovery, and the
/// URL its connection template is parsed from (`url`, else the first seed, else the first
/// sentinel without its credentials).
pub(super) fn discovery(
    t: &RawTarget,
    ctx: &FileCtx,
    tn: Option<&str>,
) -> Result<(Spanned<String>, Option<Discovery>), ConfigError> {
    let err = |s: Origin, key: &str, m: &str| invalid(s, tn, key, m);
    let cluster = t.cluster.as_ref().is_some_and(|c| *c.get_ref());
    if let (Some(s), false) = (&t.seeds, cluster) {
        return Err(err(
            ctx.origin(s),
            "seeds",
            "seeds are for Redis Cluster entries: add `cluster = true`",
        ));
    }
    if let (Some(m), None) = (&t.master_name, &t.sentinel) {
        return Err(err(
            ctx.origin(m),
            "master_name",
            "master_name needs `sentinel = [\"redis://sentinel:26379\"]`",
        ));
    }
    if let (Some(s), true) = (&t.sentinel, cluster) {
        return Err(err(
            ctx.origin(s),
            "sentinel",
            "an entry is either a Redis Cluster (`cluster = true`) or Sentinel-managed, not both",
        ));
    }
    let host_port = |u: &Spanned<String>, key: &str| -> Result<(String, u16), ConfigError> {
        let parsed = redis_url::parse(u.get_ref()).map_err(|m| err(ctx.origin(u), key, &m))?;
        redis_url::host_port(&parsed.info).ok_or_else(|| {
            err(
                ctx.origin(u),
                key,
                "discovery needs a TCP address (redis:// or rediss://), not a unix socket",
            )
        })
    };
    if cluster {
        let mut urls: Vec<(&Spanned<String>, &str)> = Vec::new();
        if let Some(u) = &t.url {
            urls.push((u, "url"));
        }
        for s in t.seeds.iter().flat_map(|s| s.get_ref()) {
            urls.push((s, "seeds"));
        }
        let Some((first, _)) = urls.first() else {
            return Err(err(
                ctx.origin(&t.name),
                "url",
                "a Redis Cluster entry needs a seed: `url` or `seeds = [...]`",
            ));
        };
        let first = (*first).clone();
        let seeds = urls
            .into_iter()
            .map(|(u, key)| host_port(u, key))
            .collect::<Result<Vec<_>, _>>()?;
        return Ok((first, Some(Discovery::Cluster { seeds })));
    }
    if let Some(list) = &t.sentinel {
        let Some(master_name) = &t.master_name else {
            return Err(err(
                ctx.origin(list),
                "master_name",
                "a Sentinel entry needs `master_name` (the name in `sentinel monitor <name> ...`)",
            ));
        };
        if master_name.get_ref().is_empty() {
            return Err(err(ctx.origin(master_name), "master_name", "is empty"));
        }
        let Some(first) = list.get_ref().first() else {
            return Err(err(ctx.origin(list), "sentinel", "no sentinel URL given"));
        };
        for u in list.get_ref() {
            host_port(u, "sentinel")?;
        }
        let template = match &t.url {
            Some(u) => u.clone(),
            None => {
                // The data nodes get the entry's credentials, not the sentinel's.
                let mut u = url::Url::parse(first.get_ref())
                    .map_err(|e| err(ctx.origin(first), "sentinel", &e.to_string()))?;
                let _ = u.set_username("");
                let _ = u.set_password(None);
                u.set_path("");
                Spanned::new(first.span(), u.to_string())
            }
        };
        return Ok((
            template,
            Some(Discovery::Sentinel {
                sentinels: list.get_ref().iter().map(|u| u.get_ref().clone()).collect(),
                master_name: master_name.get_ref().clone(),
            }),
        ));
    }
    match &t.url {
        Some(u) => Ok((u.clone(), None)),
        None => Err(err(
            ctx.origin(&t.name),
            "url",
            "missing: every target needs `url` (or `cluster = true` with `seeds`, or `sentinel` with `master_name`)",
        )),
    }
}
