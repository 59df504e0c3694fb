//! The supervisor: runs one poller task per configured target (and, for targets with a
//! key-prefix sampler, the sampler's task beside it) and applies a new configuration
//! (hot reload) by difference: added targets start, removed ones stop and disappear from
//! /metrics, changed ones restart, unchanged ones keep their connection and history.
//!
//! IO shell: owns the tasks; what one instance runs is in [`super::instance`], the poll logic
//! in [`crate::poll::poller`].

use std::collections::BTreeMap;
use std::hash::{BuildHasher, RandomState};
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::info;

use super::{discovery, instance};
use crate::config::sampler::SamplerConfig;
use crate::config::{Config, TargetConfig};
use crate::state::{Shared, TargetMeta};

/// Everything that, when changed, requires a new poller. Hashed, not kept: at 10 000 targets
/// a copy of each would be about 10 MiB held only to be compared at the next reload.
#[derive(Hash)]
struct Fingerprint<'a> {
    meta: TargetMeta,
    url: &'a str,
    connection: String,
    interval: Duration,
    timeout: Duration,
    keysizes: bool,
    config_command: Option<&'a str>,
    tls: Option<&'a crate::config::tls::TlsFiles>,
    sampler: Option<&'a SamplerConfig>,
    miss_attribution: Option<&'a crate::config::miss_attribution::MissAttributionConfig>,
    discovery: Option<&'a crate::config::Discovery>,
}

fn fingerprint(t: &TargetConfig) -> Fingerprint<'_> {
    let redis = t.connection.redis_settings();
    Fingerprint {
        meta: instance::meta(t),
        url: &t.url,
        // The resolved credentials too: a changed password file means a new connection.
        connection: format!(
            "{}|{}|{:?}|{:?}",
            t.connection.addr(),
            redis.db(),
            redis.username(),
            redis.password()
        ),
        interval: t.poll_interval,
        timeout: t.timeout,
        keysizes: t.keysizes,
        config_command: t.config_command.as_deref(),
        tls: t.tls.as_ref(),
        sampler: t.sampler.as_ref(),
        miss_attribution: t.miss_attribution.as_ref(),
        discovery: t.discovery.as_ref(),
    }
}

/// A [`Fingerprint`]'s 128 bits: two SipHashes with the supervisor's random keys. Equal
/// fingerprints give equal digests; different ones collide by a chance of about 2^-128, and the
/// keys being random, no configuration can be written to collide.
#[derive(Default)]
struct Digester([RandomState; 2]);

impl Digester {
    fn digest(&self, fp: &Fingerprint<'_>) -> u128 {
        let [a, b] = &self.0;
        (u128::from(a.hash_one(fp)) << 64) | u128::from(b.hash_one(fp))
    }
}

/// One configured entry's running tasks (poller, sampler, attribution; or its discovery).
struct Running {
    digest: u128,
    tasks: Box<[JoinHandle<()>]>,
}

/// What an `apply` changed, for the log and for tests.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Changes {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub restarted: Vec<String>,
    pub unchanged: usize,
}

/// The running pollers.
pub(crate) struct Supervisor {
    shared: Shared,
    origin: Instant,
    digester: Digester,
    running: BTreeMap<Box<str>, Running>,
}

impl Supervisor {
    pub(crate) fn new(shared: Shared, origin: Instant) -> Supervisor {
        Supervisor {
            shared,
            origin,
            digester: Digester::default(),
            running: BTreeMap::new(),
        }
    }

    /// Makes the running pollers match `config`'s targets.
    pub(crate) async fn apply(&mut self, config: &Config) -> Changes {
        let mut changes = Changes::default();
        let wanted: BTreeMap<&str, &TargetConfig> = config
            .targets
            .iter()
            .map(|t| (t.name.as_str(), t))
            .collect();
        let gone: Vec<String> = self
            .running
            .keys()
            .filter(|name| !wanted.contains_key(&name[..]))
            .map(ToString::to_string)
            .collect();
        for name in gone {
            self.stop(&name).await;
            changes.removed.push(name);
        }
        for (name, t) in wanted {
            let fp = fingerprint(t);
            let digest = self.digester.digest(&fp);
            match self.running.get(name) {
                Some(old) if old.digest == digest => {
                    changes.unchanged += 1;
                    continue;
                }
                Some(_) => {
                    self.stop(name).await;
                    changes.restarted.push(name.to_string());
                }
                None => changes.added.push(name.to_string()),
            }
            if t.discovery.is_none() {
                // A group's instances are registered by its discovery task.
                self.shared.add(fp.meta);
            }
            let tasks = match &t.discovery {
                Some(_) => vec![tokio::spawn(discovery::run(
                    t.clone(),
                    self.shared.clone(),
                    self.origin,
                ))],
                None => instance::spawn(t, &self.shared, self.origin),
            };
            let tasks = tasks.into_boxed_slice();
            self.running.insert(name.into(), Running { digest, tasks });
        }
        if !changes.added.is_empty() || !changes.removed.is_empty() || !changes.restarted.is_empty()
        {
            info!(
                added = ?changes.added,
                removed = ?changes.removed,
                restarted = ?changes.restarted,
                unchanged = changes.unchanged,
                "Targets updated."
            );
        }
        changes
    }

    /// Stops a poller (and its sampler) and waits until they are gone, so they cannot record
    /// into a successor's snapshot, then forgets the target.
    async fn stop(&mut self, name: &str) {
        if let Some(Running { tasks, .. }) = self.running.remove(name) {
            for task in &tasks {
                task.abort();
            }
            for task in tasks {
                let _ = task.await;
            }
        }
        self.shared.remove(name);
    }

    /// Stops every poller (at shutdown).
    pub(crate) fn stop_all(&mut self) {
        for (_, Running { tasks, .. }) in std::mem::take(&mut self.running) {
            for task in tasks {
                task.abort();
            }
        }
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        self.stop_all();
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::Flags;

    const BASE: &str = "name = \"a\"\nurl = \"redis://h:6379\"\n";

    /// The digest of one `[[targets]]` entry, with `PW` in the environment set to `password`.
    fn digest(d: &Digester, target: &str, password: &str) -> u128 {
        let toml = format!("[[targets]]\n{target}");
        let env = |k: &str| (k == "PW").then(|| password.to_string());
        let config = crate::config::build(&Flags::default(), &env, Some((Path::new("t"), &toml)))
            .unwrap_or_else(|e| panic!("{toml}: {e}"));
        d.digest(&fingerprint(&config.targets[0]))
    }

    #[test]
    fn an_unchanged_target_keeps_its_digest() {
        let d = Digester::default();
        let with_all = "name = \"a\"\nurl = \"rediss://h:6379/2\"\npassword_env = \"PW\"\n\
                        labels = { team = \"x\" }\ntls_server_name = \"n\"\n\
                        [targets.sampler]\nenabled = true\n\
                        [targets.miss_attribution]\nenabled = true\n";
        for target in [BASE, with_all] {
            assert_eq!(digest(&d, target, "p"), digest(&d, target, "p"), "{target}");
        }
    }

    /// A change of any one field of the fingerprint restarts the target.
    #[test]
    fn each_field_of_the_fingerprint_changes_the_digest() {
        let d = Digester::default();
        let tls = "name = \"a\"\nurl = \"rediss://h:6379\"\n";
        let cases = [
            (
                "labels",
                BASE,
                format!("{BASE}labels = {{ team = \"x\" }}\n"),
            ),
            ("cache", BASE, format!("{BASE}cache = false\n")),
            (
                "url",
                BASE,
                "name = \"a\"\nurl = \"redis://h:6380\"\n".into(),
            ),
            ("interval", BASE, format!("{BASE}poll_interval = \"7s\"\n")),
            ("timeout", BASE, format!("{BASE}timeout = \"2s\"\n")),
            ("keysizes", BASE, format!("{BASE}keysizes = true\n")),
            (
                "config_command",
                BASE,
                format!("{BASE}config_command = \"CFG\"\n"),
            ),
            ("tls", tls, format!("{tls}tls_server_name = \"n\"\n")),
            (
                "sampler",
                BASE,
                format!("{BASE}[targets.sampler]\nenabled = true\n"),
            ),
            (
                "miss_attribution",
                BASE,
                format!("{BASE}[targets.miss_attribution]\nenabled = true\n"),
            ),
            ("discovery", BASE, format!("{BASE}cluster = true\n")),
        ];
        for (field, base, changed) in cases {
            assert_ne!(digest(&d, base, "p"), digest(&d, &changed, "p"), "{field}");
        }
        // The connection: the password resolved from the environment, the URL unchanged.
        let pw = format!("{BASE}password_env = \"PW\"\n");
        assert_ne!(digest(&d, &pw, "one"), digest(&d, &pw, "two"), "connection");
    }
}
