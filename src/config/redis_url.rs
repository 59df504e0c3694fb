//! Target URLs: which schemes we accept, turning a URL into a [`ConnectionInfo`], the
//! credential-free name a `--redis` target gets, and the redacted form used in logs and `Debug`.
//! No function here returns or formats a password.
//!
//! The connection settings are the redis crate's `ConnectionInfo`, and this is the one file of
//! the configuration that knows it: the rest of the crate names it through `config`.

pub use redis::ConnectionInfo;
use redis::{ConnectionAddr, IntoConnectionInfo};
use url::Url;

/// Schemes accepted in `url`. The redis crate also knows the `valkey` spellings; they mean the
/// same thing, so they are accepted too.
const SCHEMES: &[&str] = &[
    "redis",
    "rediss",
    "unix",
    "redis+unix",
    "valkey",
    "valkeys",
    "valkey+unix",
];

/// Query keys that carry credentials in unix-socket URLs (`unix:///path?user=u&pass=p`).
const SECRET_QUERY_KEYS: &[&str] = &["pass", "password"];

/// What a valid target URL gives us.
pub(super) struct ParsedUrl {
    pub info: ConnectionInfo,
    /// The URL itself carries a password (`:pw@` or `?pass=`).
    pub has_password: bool,
    /// The URL itself carries a user name (`user@` or `?user=`).
    pub has_username: bool,
}

/// Parses and checks a target URL. The error text never repeats the URL (it may hold a password).
pub(super) fn parse(raw: &str) -> Result<ParsedUrl, String> {
    let url = Url::parse(raw).map_err(|e| format!("not a valid URL ({e})"))?;
    if !SCHEMES.contains(&url.scheme()) {
        return Err(format!(
            "unsupported scheme `{}://`: expected redis://, rediss://, unix:// or redis+unix://",
            url.scheme()
        ));
    }
    let is_unix = url.scheme().ends_with("unix");
    if !is_unix && url.host_str().is_none_or(str::is_empty) {
        return Err("the URL has no host".to_string());
    }
    if is_unix && url.path().trim_matches('/').is_empty() {
        return Err("the URL has no socket path (e.g. unix:///run/redis/redis.sock)".to_string());
    }
    let query_has = |key: &str| url.query_pairs().any(|(k, _)| k == key);
    let has_password = url.password().is_some() || (is_unix && query_has("pass"));
    let has_username = !url.username().is_empty() || (is_unix && query_has("user"));
    let info = raw
        .into_connection_info()
        .map_err(|e| format!("not a usable Redis URL ({e})"))?;
    if let ConnectionAddr::TcpTls { .. } = info.addr()
        && !info.addr().is_supported()
    {
        return Err("TLS support not built in".to_string());
    }
    Ok(ParsedUrl {
        info,
        has_password,
        has_username,
    })
}

/// `url` as connection settings, as the redis crate reads it (no scheme or host checks: for
/// URLs already in canonical form).
pub(crate) fn connection_info(url: &str) -> Result<ConnectionInfo, String> {
    url.into_connection_info().map_err(|e| e.to_string())
}

/// `info` with the user name and password replaced where given.
pub(crate) fn with_credentials(
    info: ConnectionInfo,
    username: Option<&str>,
    password: Option<&str>,
) -> ConnectionInfo {
    let mut settings = info.redis_settings().clone();
    if let Some(u) = username {
        settings = settings.set_username(u);
    }
    if let Some(p) = password {
        settings = settings.set_password(p);
    }
    info.set_redis_settings(settings)
}

/// `(host, port)` of a TCP address (`redis://` or `rediss://`); `None` for a unix socket.
pub(crate) fn host_port(info: &ConnectionInfo) -> Option<(String, u16)> {
    match info.addr() {
        ConnectionAddr::Tcp(h, p)
        | ConnectionAddr::TcpTls {
            host: h, port: p, ..
        } => Some((h.clone(), *p)),
        _ => None,
    }
}

/// The socket path of a `unix://` address.
pub(crate) fn unix_path(info: &ConnectionInfo) -> Option<std::path::PathBuf> {
    match info.addr() {
        ConnectionAddr::Unix(p) => Some(p.clone()),
        _ => None,
    }
}

/// Whether a `rediss://` URL asks to skip certificate verification (`#insecure`).
pub(crate) fn is_insecure(info: &ConnectionInfo) -> bool {
    matches!(info.addr(), ConnectionAddr::TcpTls { insecure: true, .. })
}

/// Whether the address is `rediss://`.
pub(crate) fn is_tls(info: &ConnectionInfo) -> bool {
    matches!(info.addr(), ConnectionAddr::TcpTls { .. })
}

/// `info` with its address replaced (TLS settings kept).
pub(crate) fn with_addr(info: &ConnectionInfo, host: &str, port: u16) -> ConnectionInfo {
    let addr = match info.addr() {
        ConnectionAddr::TcpTls {
            insecure,
            tls_params,
            ..
        } => ConnectionAddr::TcpTls {
            host: host.to_string(),
            port,
            insecure: *insecure,
            tls_params: tls_params.clone(),
        },
        _ => ConnectionAddr::Tcp(host.to_string(), port),
    };
    info.clone().set_addr(addr)
}

/// The credential-free name of a target given as a URL: `host:port` (port 6379 when the URL has
/// none; IPv6 hosts in brackets) or, for unix sockets, the socket path.
pub(super) fn display_name(info: &ConnectionInfo) -> String {
    match info.addr() {
        ConnectionAddr::Tcp(host, port) | ConnectionAddr::TcpTls { host, port, .. } => {
            if host.contains(':') {
                format!("[{host}]:{port}")
            } else {
                format!("{host}:{port}")
            }
        }
        ConnectionAddr::Unix(path) => path.display().to_string(),
        // `ConnectionAddr` is non-exhaustive; its Display is credential-free.
        other => other.to_string(),
    }
}

/// `raw` with any password replaced by `***`. A string that does not parse as a URL is
/// replaced as a whole, since we cannot tell where a password would be in it.
pub(crate) fn redact(raw: &str) -> String {
    let Ok(mut url) = Url::parse(raw) else {
        return "<unparseable URL>".to_string();
    };
    if url.password().is_some() {
        // Cannot fail: the URL has a host, or it could not have had a password.
        let _ = url.set_password(Some("***"));
    }
    if url
        .query_pairs()
        .any(|(k, _)| SECRET_QUERY_KEYS.contains(&k.as_ref()))
    {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| {
                let v = if SECRET_QUERY_KEYS.contains(&k.as_ref()) {
                    "***".to_string()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    url.to_string()
}
