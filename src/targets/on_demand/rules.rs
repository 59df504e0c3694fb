//! What `/scrape?target=URL` may poll and how: the canonical form of a target URL, the
//! allowlist and credentials of `[scrape]`, the settings of the poller of a target, and how long
//! a first scrape waits. No IO; unit-tested below.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use url::Url;

use crate::client::Endpoint;
use crate::config::{
    Config, Credential, DEFAULT_CONFIG_COMMAND, TargetConfig, connection_info, with_credentials,
};
use crate::core::glob::url_pattern_match;
use crate::poll::settings::PollerSettings;
use crate::state::TargetMeta;
use crate::targets::instance::{self, STALE_AFTER_POLLS};

/// Subtracted from Prometheus's scrape timeout so the answer arrives before Prometheus gives up
/// (blackbox_exporter uses the same margin).
pub(crate) const TIMEOUT_MARGIN: Duration = Duration::from_millis(500);
/// The shortest wait for a first poll, whatever the header says.
const MIN_WAIT: Duration = Duration::from_millis(100);
/// On-demand targets expire after this many poll intervals without a scrape, by default.
pub(crate) const IDLE_POLLS: u32 = 10;

/// Why a `target` parameter is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum TargetError {
    /// No `target` parameter, or an empty one.
    #[error("missing ?target=URL parameter")]
    Missing,
    /// Not a usable Redis URL.
    #[error("invalid target: {0}")]
    Invalid(String),
    /// The URL carries a user or password; credentials come from the configuration.
    #[error(
        "invalid target: credentials are not accepted in the target URL; configure them in \
         [[scrape.credentials]]"
    )]
    Credentials,
    /// Not matched by `scrape.allow`.
    #[error("target not allowed by scrape.allow")]
    NotAllowed,
}

/// The canonical form of a TCP target URL: `scheme://host:port` plus `/db` when a database is
/// given; lowercase scheme and host, the default port 6379 made explicit, no credentials, query
/// or fragment. A bare `host:port` means `redis://host:port`. This is the registry key, the
/// `target` label of non-configured targets and what `scrape.allow` patterns are matched against.
pub(crate) fn canonical(raw: &str) -> Result<String, TargetError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(TargetError::Missing);
    }
    let with_scheme = if raw.contains("://") {
        raw.to_string()
    } else {
        format!("redis://{raw}")
    };
    let url = Url::parse(&with_scheme).map_err(|e| TargetError::Invalid(e.to_string()))?;
    let scheme = url.scheme();
    if !matches!(scheme, "redis" | "rediss" | "valkey" | "valkeys") {
        return Err(TargetError::Invalid(format!(
            "unsupported scheme `{scheme}://`: expected redis:// or rediss://"
        )));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(TargetError::Credentials);
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(TargetError::Invalid(
            "query and fragment are not accepted; options come from the configuration".into(),
        ));
    }
    let host = match url.host() {
        Some(url::Host::Domain(d)) if !d.is_empty() => d.to_ascii_lowercase(),
        Some(url::Host::Ipv4(a)) => a.to_string(),
        Some(url::Host::Ipv6(a)) => format!("[{a}]"),
        _ => return Err(TargetError::Invalid("the URL has no host".into())),
    };
    let port = url.port().unwrap_or(6379);
    let db = url.path().trim_matches('/');
    if !db.is_empty() && db.parse::<u32>().is_err() {
        return Err(TargetError::Invalid(format!(
            "path /{db} is not a database number"
        )));
    }
    let mut out = format!("{scheme}://{host}:{port}");
    if !db.is_empty() && db != "0" {
        out.push('/');
        out.push_str(db);
    }
    Ok(out)
}

/// A pattern as matched: patterns without `*` are canonicalized first, so
/// `redis://cache-1` allows `redis://cache-1:6379`.
fn normalize_pattern(pattern: &str) -> String {
    if pattern.contains('*') {
        pattern.to_string()
    } else {
        canonical(pattern).unwrap_or_else(|_| pattern.to_string())
    }
}

/// The canonical URL of a configured target, ignoring its credentials, query and fragment;
/// `None` for unix sockets.
fn configured_canonical(t: &TargetConfig) -> Option<String> {
    let mut url = Url::parse(&t.url).ok()?;
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.set_query(None);
    url.set_fragment(None);
    canonical(url.as_str()).ok()
}

/// What the configuration says about on-demand targets, prepared for lookups.
#[derive(Debug, Clone, Default)]
pub(crate) struct Rules {
    /// Whether the endpoint is served.
    pub enabled: bool,
    allow: Vec<String>,
    credentials: Vec<Credential>,
    configured: HashMap<String, TargetConfig>,
    idle_timeout: Option<Duration>,
    poll_interval: Duration,
    timeout: Duration,
}

/// Everything a poller of one on-demand target needs.
#[derive(Clone)]
pub(crate) struct Resolved {
    /// Registry key.
    pub key: String,
    /// The poller's settings (name = the `target` label).
    pub settings: PollerSettings,
    /// What the state knows about it.
    pub meta: TargetMeta,
    /// Idle time after which it is stopped.
    pub idle: Duration,
    /// A configured target: its own poller already runs.
    pub configured: bool,
}

impl Resolved {
    /// Changes that need a new poller when the configuration is reloaded.
    pub(super) fn fingerprint(&self) -> String {
        format!(
            "{:?}|{}|{:?}|{:?}",
            self.meta,
            self.settings.endpoint.fingerprint(),
            self.settings.interval,
            self.settings.config_command,
        )
    }
}

impl Rules {
    /// The rules of a (re)loaded configuration.
    pub(crate) fn new(config: &Config) -> Rules {
        let configured: HashMap<String, TargetConfig> = config
            .targets
            .iter()
            .filter_map(|t| Some((configured_canonical(t)?, t.clone())))
            .collect();
        let allow = match &config.scrape.allow {
            Some(patterns) => patterns.iter().map(|p| normalize_pattern(p)).collect(),
            None => configured.keys().cloned().collect(),
        };
        let credentials = config
            .scrape
            .credentials
            .iter()
            .map(|c| Credential {
                pattern: normalize_pattern(&c.pattern),
                ..c.clone()
            })
            .collect();
        Rules {
            enabled: config.scrape.enabled,
            allow,
            credentials,
            configured,
            idle_timeout: config.scrape.idle_timeout,
            poll_interval: config.poll_interval,
            timeout: config.timeout,
        }
    }

    /// How long an on-demand target at the global poll interval is kept without a scrape.
    pub(super) fn default_idle(&self) -> Duration {
        self.idle_timeout.unwrap_or(self.poll_interval * IDLE_POLLS)
    }

    /// Resolves a `target` parameter: canonical, allowed, with its credentials or the settings
    /// of the configured target it names.
    pub(crate) fn resolve(&self, raw: &str) -> Result<Resolved, TargetError> {
        let key = canonical(raw)?;
        if !self.allow.iter().any(|p| url_pattern_match(p, &key)) {
            return Err(TargetError::NotAllowed);
        }
        let configured = self.configured.get(&key);
        let (settings, meta) = if let Some(t) = configured {
            (instance::poller_settings(t), instance::meta(t))
        } else {
            let mut connection = connection_info(&key).map_err(TargetError::Invalid)?;
            if let Some(c) = self
                .credentials
                .iter()
                .find(|c| url_pattern_match(&c.pattern, &key))
            {
                connection =
                    with_credentials(connection, c.username.as_deref(), c.password.as_deref());
            }
            let settings = PollerSettings {
                name: key.clone(),
                redacted_url: key.clone(),
                endpoint: Arc::new(Endpoint::new(&connection, None, self.timeout)),
                interval: self.poll_interval,
                config_command: Some(DEFAULT_CONFIG_COMMAND.to_string()),
                keysizes: false,
                lookup_gate: None,
                attribution: None,
                ghost: None,
            };
            let meta = TargetMeta {
                name: key.clone(),
                labels: std::collections::BTreeMap::default(),
                cache: true,
                stale_after: self.poll_interval * STALE_AFTER_POLLS + self.timeout,
            };
            (settings, meta)
        };
        let idle = self.idle_timeout.unwrap_or(settings.interval * IDLE_POLLS);
        Ok(Resolved {
            key,
            settings,
            meta,
            idle,
            configured: configured.is_some(),
        })
    }
}

/// How long a first scrape waits for the first poll: Prometheus's scrape timeout minus
/// [`TIMEOUT_MARGIN`], or twice the target's call timeout without the header.
pub(crate) fn first_poll_wait(header: Option<&str>, target_timeout: Duration) -> Duration {
    header
        .and_then(|h| h.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .map_or(target_timeout * 2, |s| {
            Duration::from_secs_f64(s.min(86_400.0)).saturating_sub(TIMEOUT_MARGIN)
        })
        .max(MIN_WAIT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_forms() {
        assert_eq!(
            canonical("redis://Cache-1.Internal").unwrap(),
            "redis://cache-1.internal:6379"
        );
        assert_eq!(
            canonical("127.0.0.1:7000").unwrap(),
            "redis://127.0.0.1:7000"
        );
        assert_eq!(canonical("redis://h:1/0").unwrap(), "redis://h:1");
        assert_eq!(canonical("redis://h:1/3").unwrap(), "redis://h:1/3");
        assert_eq!(canonical("rediss://h:1/").unwrap(), "rediss://h:1");
        assert_eq!(canonical("redis://[::1]:7").unwrap(), "redis://[::1]:7");
        assert_eq!(canonical(" "), Err(TargetError::Missing));
        assert_eq!(canonical("redis://u:p@h:1"), Err(TargetError::Credentials));
        assert_eq!(canonical("redis://u@h:1"), Err(TargetError::Credentials));
        assert_eq!(canonical("redis://:p@h:1"), Err(TargetError::Credentials));
        for bad in [
            "http://h:1",
            "unix:///tmp/r.sock",
            "redis://h:1/x",
            "redis://h:1?pass=x",
            "redis://h:1#insecure",
            "redis://h:99999",
            "redis://",
        ] {
            assert!(
                matches!(canonical(bad), Err(TargetError::Invalid(_))),
                "{bad}: {:?}",
                canonical(bad)
            );
        }
    }

    #[test]
    fn scrape_timeout_header() {
        let t = Duration::from_secs(5);
        assert_eq!(first_poll_wait(Some("10"), t), Duration::from_millis(9500));
        assert_eq!(first_poll_wait(Some("1.5"), t), Duration::from_secs(1));
        assert_eq!(first_poll_wait(Some("0.2"), t), MIN_WAIT);
        assert_eq!(first_poll_wait(Some("junk"), t), Duration::from_secs(10));
        assert_eq!(first_poll_wait(Some("-3"), t), Duration::from_secs(10));
        assert_eq!(first_poll_wait(None, t), Duration::from_secs(10));
    }

    fn config(toml: &str) -> Config {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, toml).unwrap();
        let cli = crate::cli::Cli {
            config: Some(path),
            ..Default::default()
        };
        cli.load_with_env(&|v| (v == "PW").then(|| "s3cret".to_string()))
            .unwrap()
    }

    #[test]
    fn default_allowlist_is_the_configured_targets() {
        let c = config(
            "[[targets]]\nname = \"sessions\"\nurl = \"redis://:pw@Cache-1:6379/0\"\n\
             labels = { team = \"a\" }\n",
        );
        let rules = Rules::new(&c);
        let r = rules.resolve("redis://cache-1").unwrap();
        assert_eq!(r.key, "redis://cache-1:6379");
        assert_eq!(r.meta.name, "sessions");
        assert_eq!(r.meta.labels.get("team").map(String::as_str), Some("a"));
        assert_eq!(r.settings.endpoint.password.as_deref(), Some("pw"));
        assert_eq!(
            rules.resolve("cache-2:6379").err(),
            Some(TargetError::NotAllowed)
        );
        assert_eq!(
            rules.resolve("redis://cache-1:6380").err(),
            Some(TargetError::NotAllowed)
        );
        assert_eq!(r.idle, c.poll_interval * IDLE_POLLS);
    }

    #[test]
    fn credentials_by_pattern_first_match() {
        let c = config(
            r#"
[[targets]]
name = "a"
url = "redis://a:6379"
[scrape]
allow = ["redis://*.cache.internal:*", "redis://plain:6379"]
idle_timeout = "2m"
[[scrape.credentials]]
pattern = "redis://x.cache.internal:*"
username = "exporter"
password_env = "PW"
[[scrape.credentials]]
pattern = "redis://*.cache.internal:*"
username = "other"
"#,
        );
        let rules = Rules::new(&c);
        let x = rules.resolve("redis://x.cache.internal:7000").unwrap();
        let r = &x.settings.endpoint;
        assert_eq!(r.username.as_deref(), Some("exporter"));
        assert_eq!(r.password.as_deref(), Some("s3cret"));
        assert_eq!(x.meta.name, "redis://x.cache.internal:7000");
        assert_eq!(x.idle, Duration::from_secs(120));
        let y = rules.resolve("y.cache.internal:1").unwrap();
        assert_eq!(y.settings.endpoint.username.as_deref(), Some("other"));
        assert_eq!(y.settings.endpoint.password, None);
        let p = rules.resolve("plain").unwrap();
        assert_eq!(p.settings.endpoint.username, None);
        // An explicit allowlist replaces the default one.
        assert_eq!(
            rules.resolve("redis://a:6379").err(),
            Some(TargetError::NotAllowed)
        );
        assert!(format!("{:?}", c.scrape).contains("***"));
        assert!(!format!("{:?}", c.scrape).contains("s3cret"));
    }

    #[test]
    fn scrape_table_refusals_name_the_key_and_line() {
        let refused = |body: &str, want: &[&str]| {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("c.toml");
            std::fs::write(
                &path,
                format!("[[targets]]\nname = \"a\"\nurl = \"redis://a\"\n{body}"),
            )
            .unwrap();
            let cli = crate::cli::Cli {
                config: Some(path),
                ..Default::default()
            };
            let e = cli.load_with_env(&|_| None).unwrap_err().to_string();
            for w in want {
                assert!(e.contains(w), "{e:?} lacks {w:?}");
            }
        };
        refused(
            "[scrape]\nallow = [\"cache-1\"]\n",
            &["line 5", "scrape.allow"],
        );
        refused(
            "[scrape]\nallow = [\"redis://u:pw@h:*\"]\n",
            &["line 5", "scrape.allow"],
        );
        refused(
            "[scrape]\nidle_timeout = \"0s\"\n",
            &["line 5", "scrape.idle_timeout"],
        );
        refused("[scrape]\nidel_timeout = \"1s\"\n", &["idel_timeout"]);
        refused(
            "[[scrape.credentials]]\npattern = \"redis://*\"\npassword_env = \"NOPE\"\n",
            &["line 6", "scrape.credentials.password_env", "NOPE"],
        );
        refused(
            "[[scrape.credentials]]\npattern = \"redis://*\"\npassword_file = \"/nonexistent/pw\"\n\
             password_env = \"X\"\n",
            &["line 7", "more than one password source"],
        );
        refused(
            "[[scrape.credentials]]\npattern = \"redis://*\"\nusername = \"\"\n",
            &["line 6", "scrape.credentials.username"],
        );
        let ok =
            config("[[targets]]\nname = \"a\"\nurl = \"redis://a\"\n[scrape]\nenabled = false\n");
        assert!(!ok.scrape.enabled);
        let cli = crate::cli::Cli {
            no_scrape_endpoint: true,
            redis: vec!["redis://a".into()],
            ..Default::default()
        };
        assert!(!cli.load_with_env(&|_| None).unwrap().scrape.enabled);
    }
}
