//! The keys of Redis Cluster and Sentinel entries (`cluster`, `seeds`, `sentinel`,
//! `master_name`): which instances an entry finds, and the URL its connection template comes
//! from.

use toml::Spanned;

use super::Discovery;
use super::origin::{ConfigError, FileCtx, Origin, invalid};
use super::raw::RawTarget;
use super::redis_url;

/// The URL an entry's connection template is parsed from, and how its instances are found.
type Found = (Spanned<String>, Option<Discovery>);

/// The `cluster`, `seeds`, `sentinel` and `master_name` keys of an entry: its discovery, and the
/// URL its connection template is parsed from (`url`, else the first seed, else the first
/// sentinel without its credentials).
pub(super) fn discovery(
    t: &RawTarget,
    ctx: &FileCtx,
    tn: Option<&str>,
) -> Result<Found, ConfigError> {
    let e = Entry { t, ctx, tn };
    let cluster = t.cluster.as_ref().is_some_and(|c| *c.get_ref());
    e.keys_fit(cluster)?;
    if cluster {
        return e.cluster();
    }
    if let Some(list) = &t.sentinel {
        return e.sentinel(list);
    }
    match &t.url {
        Some(u) => Ok((u.clone(), None)),
        None => Err(e.err(
            ctx.origin(&t.name),
            "url",
            "missing: every target needs `url` (or `cluster = true` with `seeds`, or `sentinel` \
             with `master_name`)",
        )),
    }
}

/// One entry's discovery keys under validation.
struct Entry<'a> {
    t: &'a RawTarget,
    ctx: &'a FileCtx<'a>,
    tn: Option<&'a str>,
}

impl Entry<'_> {
    fn err(&self, origin: Origin, key: &str, message: &str) -> ConfigError {
        invalid(origin, self.tn, key, message)
    }

    /// `seeds` only with `cluster`, `master_name` only with `sentinel`, not both kinds.
    fn keys_fit(&self, cluster: bool) -> Result<(), ConfigError> {
        let (t, ctx) = (self.t, self.ctx);
        if let (Some(s), false) = (&t.seeds, cluster) {
            return Err(self.err(
                ctx.origin(s),
                "seeds",
                "seeds are for Redis Cluster entries: add `cluster = true`",
            ));
        }
        if let (Some(m), None) = (&t.master_name, &t.sentinel) {
            return Err(self.err(
                ctx.origin(m),
                "master_name",
                "master_name needs `sentinel = [\"redis://sentinel:26379\"]`",
            ));
        }
        if let (Some(s), true) = (&t.sentinel, cluster) {
            return Err(self.err(
                ctx.origin(s),
                "sentinel",
                "an entry is either a Redis Cluster (`cluster = true`) or Sentinel-managed, not \
                 both",
            ));
        }
        Ok(())
    }

    /// `(host, port)` of a seed or sentinel URL, which must be TCP.
    fn host_port(&self, u: &Spanned<String>, key: &str) -> Result<(String, u16), ConfigError> {
        let origin = || self.ctx.origin(u);
        let parsed = redis_url::parse(u.get_ref()).map_err(|m| self.err(origin(), key, &m))?;
        redis_url::host_port(&parsed.info).ok_or_else(|| {
            self.err(
                origin(),
                key,
                "discovery needs a TCP address (redis:// or rediss://), not a unix socket",
            )
        })
    }

    /// A Redis Cluster entry: its seeds are `url` and `seeds`, at least one.
    fn cluster(&self) -> Result<Found, ConfigError> {
        let t = self.t;
        let mut urls: Vec<(&Spanned<String>, &str)> = Vec::new();
        if let Some(u) = &t.url {
            urls.push((u, "url"));
        }
        for s in t.seeds.iter().flat_map(toml::Spanned::get_ref) {
            urls.push((s, "seeds"));
        }
        let Some((first, _)) = urls.first() else {
            return Err(self.err(
                self.ctx.origin(&t.name),
                "url",
                "a Redis Cluster entry needs a seed: `url` or `seeds = [...]`",
            ));
        };
        let first = (*first).clone();
        let seeds = urls
            .into_iter()
            .map(|(u, key)| self.host_port(u, key))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((first, Some(Discovery::Cluster { seeds })))
    }

    /// A Sentinel entry: the sentinels' URLs and a `master_name`.
    fn sentinel(&self, list: &Spanned<Vec<Spanned<String>>>) -> Result<Found, ConfigError> {
        let (t, ctx) = (self.t, self.ctx);
        let Some(master_name) = &t.master_name else {
            return Err(self.err(
                ctx.origin(list),
                "master_name",
                "a Sentinel entry needs `master_name` (the name in `sentinel monitor <name> ...`)",
            ));
        };
        if master_name.get_ref().is_empty() {
            return Err(self.err(ctx.origin(master_name), "master_name", "is empty"));
        }
        let Some(first) = list.get_ref().first() else {
            return Err(self.err(ctx.origin(list), "sentinel", "no sentinel URL given"));
        };
        for u in list.get_ref() {
            self.host_port(u, "sentinel")?;
        }
        let template = if let Some(u) = &t.url {
            u.clone()
        } else {
            // The data nodes get the entry's credentials, not the sentinel's.
            let mut u = url::Url::parse(first.get_ref())
                .map_err(|e| self.err(ctx.origin(first), "sentinel", &e.to_string()))?;
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.set_path("");
            Spanned::new(first.span(), u.to_string())
        };
        let discovery = Discovery::Sentinel {
            sentinels: list.get_ref().iter().map(|u| u.get_ref().clone()).collect(),
            master_name: master_name.get_ref().clone(),
        };
        Ok((template, Some(discovery)))
    }
}
