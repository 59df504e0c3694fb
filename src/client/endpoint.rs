//! One resolved target: everything a connection to it needs (address, user name, password,
//! database, TLS files and options, timeout), made once from a configured target, a discovered
//! address, a `/scrape` request or `check`'s flags. [`super::conn::Connector`] connects from it
//! and nothing else reads those settings.

use std::path::PathBuf;
use std::time::Duration;

use crate::config::tls::TlsFiles;
use crate::config::{ConnectionInfo, TargetConfig, host_port, is_tls, unix_path};

/// Where a connection goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Addr {
    Tcp(String, u16),
    Unix(PathBuf),
}

/// A resolved target. `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub(crate) addr: Addr,
    /// `Some` for `rediss://` (default files: the system's CA certificates, no client
    /// certificate); the URL's `#insecure` is folded into `insecure`. Boxed: most targets
    /// have none, and every poller holds an endpoint.
    pub(crate) tls: Option<Box<TlsFiles>>,
    pub(crate) username: Option<String>,
    pub(crate) password: Option<String>,
    pub(crate) db: i64,
    /// Bounds the connect (with TLS, AUTH and SELECT) and every call.
    pub(crate) timeout: Duration,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("addr", &self.addr)
            .field("tls", &self.tls)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("db", &self.db)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl Endpoint {
    /// The endpoint of a parsed URL (credentials already resolved), its TLS files, a timeout.
    /// TLS files are ignored unless the URL is `rediss://`.
    pub fn new(info: &ConnectionInfo, tls: Option<&TlsFiles>, timeout: Duration) -> Endpoint {
        let addr = match (host_port(info), unix_path(info)) {
            (Some((h, p)), _) => Addr::Tcp(h, p),
            (None, Some(path)) => Addr::Unix(path),
            // The URL parser accepts no other kind of address.
            (None, None) => Addr::Unix(PathBuf::new()),
        };
        let tls = is_tls(info).then(|| {
            let mut files = tls.cloned().unwrap_or_default();
            files.insecure |= crate::config::is_insecure(info);
            Box::new(files)
        });
        let r = info.redis_settings();
        Endpoint {
            addr,
            tls,
            username: r.username().map(str::to_string),
            password: r.password().map(str::to_string),
            db: r.db(),
            timeout,
        }
    }

    /// The endpoint of a configured target (or a discovered instance's target).
    pub fn of_target(t: &TargetConfig) -> Endpoint {
        Endpoint::new(&t.connection, t.tls.as_ref(), t.timeout)
    }

    /// This endpoint at another TCP address (a discovered node): credentials, TLS and timeout
    /// kept.
    #[must_use]
    pub fn at(&self, host: &str, port: u16) -> Endpoint {
        Endpoint {
            addr: Addr::Tcp(host.to_string(), port),
            ..self.clone()
        }
    }

    /// `host:port` or the socket path, for messages.
    pub fn address(&self) -> String {
        match &self.addr {
            Addr::Tcp(h, p) if h.contains(':') => format!("[{h}]:{p}"),
            Addr::Tcp(h, p) => format!("{h}:{p}"),
            Addr::Unix(path) => path.display().to_string(),
        }
    }

    /// The timeout of the connect and of every call.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// This endpoint with a shorter timeout, if `at_most` is.
    pub(crate) fn limit_timeout(&mut self, at_most: Duration) {
        self.timeout = self.timeout.min(at_most);
    }

    /// What a connection is made to and with, timeout aside, as a string that differs when
    /// any of it does (the password included: never to be shown).
    pub(crate) fn fingerprint(&self) -> String {
        format!(
            "{:?}|{:?}|{:?}|{:?}|{}",
            self.addr, self.tls, self.username, self.password, self.db
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(url: &str) -> ConnectionInfo {
        crate::config::connection_info(url).unwrap()
    }

    #[test]
    fn urls_resolve_to_address_credentials_db_and_tls() {
        let e = Endpoint::new(
            &info("redis://u:secret@127.0.0.1:7000/3"),
            Some(&TlsFiles {
                ca_file: Some("/ignored".into()),
                ..Default::default()
            }),
            Duration::from_secs(2),
        );
        assert_eq!(e.addr, Addr::Tcp("127.0.0.1".into(), 7000));
        assert_eq!(
            (e.username.as_deref(), e.password.as_deref()),
            (Some("u"), Some("secret"))
        );
        assert_eq!(e.db, 3);
        assert!(e.tls.is_none(), "TLS files apply to rediss:// only");
        assert!(!format!("{e:?}").contains("secret"));
        let e = Endpoint::new(
            &info("rediss://h:1/#insecure"),
            None,
            Duration::from_secs(2),
        );
        assert!(e.tls.as_ref().is_some_and(|t| t.insecure));
        assert_eq!(e.at("::1", 2).address(), "[::1]:2");
        let e = Endpoint::new(&info("unix:///run/r.sock"), None, Duration::from_secs(2));
        assert_eq!(e.address(), "/run/r.sock");
    }
}
