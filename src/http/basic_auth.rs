//! Basic auth on our own listener (`[web]` `basic_auth_users`, bcrypt hashes as Prometheus's
//! web configuration file has them): [`BasicAuth`] and the [`require_basic_auth`] middleware,
//! on every path except `/healthz` (liveness probes carry no credentials).
//!
//! A bcrypt verification costs tens of milliseconds of CPU on purpose, so successful
//! verifications are remembered for [`AUTH_CACHE_TTL`], keyed by a SHA-256 of user, hash and
//! password (the password itself is never kept), as Prometheus's exporter-toolkit does. Unknown
//! users cost a bcrypt too, so response times do not tell which user names exist.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use tracing::debug;

/// The realm sent in `WWW-Authenticate`.
pub(crate) const REALM: &str = "redis-cache-exporter";
/// How long a successful basic auth verification is remembered.
pub(crate) const AUTH_CACHE_TTL: Duration = Duration::from_secs(300);
/// Most remembered verifications; beyond it expired ones are dropped, then all.
const AUTH_CACHE_MAX: usize = 1024;

/// Basic auth state shared by all requests: the users (replaced on reload) and the cache of
/// successful verifications.
#[derive(Clone, Default)]
pub(crate) struct BasicAuth {
    users: Arc<RwLock<Arc<BTreeMap<String, String>>>>,
    cache: Arc<Mutex<HashMap<[u8; 32], Instant>>>,
}

impl fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let users: Vec<String> = self.users().keys().cloned().collect();
        f.debug_struct("BasicAuth")
            .field("users", &users)
            .finish_non_exhaustive()
    }
}

impl BasicAuth {
    /// Authentication against `users` (name → bcrypt hash); none when empty.
    pub(crate) fn new(users: &BTreeMap<String, String>) -> BasicAuth {
        let auth = BasicAuth::default();
        auth.set_users(users);
        auth
    }

    /// Replaces the users (a configuration reload). Cached verifications of changed hashes no
    /// longer match, since the hash is part of the cache key.
    pub(crate) fn set_users(&self, users: &BTreeMap<String, String>) {
        *self
            .users
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(users.clone());
    }

    fn users(&self) -> Arc<BTreeMap<String, String>> {
        self.users
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Whether any user is configured (otherwise every request passes).
    pub(crate) fn enabled(&self) -> bool {
        !self.users().is_empty()
    }

    /// Whether `user` with `password` may in.
    pub(crate) async fn verify(&self, user: &str, password: &str) -> bool {
        let hash = self.users().get(user).cloned();
        let key = cache_key(user, hash.as_deref().unwrap_or(""), password);
        if hash.is_some() && self.remembered(&key) {
            return true;
        }
        let password = password.to_owned();
        let ok = tokio::task::spawn_blocking(move || {
            if let Some(h) = hash {
                bcrypt::verify(password, &h).unwrap_or(false)
            } else {
                // Same cost as a known user, so timing does not reveal user names.
                let _ = bcrypt::verify(password, dummy_hash());
                false
            }
        })
        .await
        .unwrap_or(false);
        if ok {
            self.remember(key);
        }
        ok
    }

    fn remembered(&self, key: &[u8; 32]) -> bool {
        let cache = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        cache.get(key).is_some_and(|t| t.elapsed() < AUTH_CACHE_TTL)
    }

    fn remember(&self, key: [u8; 32]) {
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if cache.len() >= AUTH_CACHE_MAX {
            cache.retain(|_, t| t.elapsed() < AUTH_CACHE_TTL);
            if cache.len() >= AUTH_CACHE_MAX {
                cache.clear();
            }
        }
        cache.insert(key, Instant::now());
    }
}

/// A bcrypt hash (cost 10) of nothing in particular, verified against for unknown users.
fn dummy_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| bcrypt::hash("redis-cache-exporter", 10).unwrap_or_default())
}

fn cache_key(user: &str, hash: &str, password: &str) -> [u8; 32] {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for part in [user, hash, password] {
        ctx.update(&(part.len() as u64).to_be_bytes());
        ctx.update(part.as_bytes());
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// User and password of an `Authorization: Basic` header.
pub(crate) fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

/// Axum middleware: 401 with `WWW-Authenticate: Basic` unless the request carries the
/// credentials of a configured user. `/healthz` and servers without users pass.
pub(crate) async fn require_basic_auth(
    State(auth): State<BasicAuth>,
    req: Request,
    next: Next,
) -> Response {
    if req.uri().path() == "/healthz" || !auth.enabled() {
        return next.run(req).await;
    }
    match basic_credentials(req.headers()) {
        Some((user, password)) if auth.verify(&user, &password).await => next.run(req).await,
        given => {
            debug!(
                user = given.as_ref().map_or("", |(u, _)| u.as_str()),
                path = req.uri().path(),
                "Basic auth refused."
            );
            (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, format!("Basic realm=\"{REALM}\""))],
                "unauthorized\n",
            )
                .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::web::WebConfig;
    use axum::http::HeaderValue;

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn basic_credentials_are_decoded() {
        // "alice:s3cr:et" — the password may contain colons, the user may not.
        assert_eq!(
            basic_credentials(&headers("Basic YWxpY2U6czNjcjpldA==")),
            Some(("alice".into(), "s3cr:et".into()))
        );
        assert_eq!(
            basic_credentials(&headers("basic YWxpY2U6czNjcjpldA==")),
            Some(("alice".into(), "s3cr:et".into()))
        );
        assert_eq!(basic_credentials(&headers("Bearer abc")), None);
        assert_eq!(basic_credentials(&headers("Basic !!!")), None);
        // "alice" without a colon.
        assert_eq!(basic_credentials(&headers("Basic YWxpY2U=")), None);
        assert_eq!(basic_credentials(&HeaderMap::new()), None);
    }

    #[tokio::test]
    async fn verification_is_cached_and_keyed_by_hash() {
        let mut users = BTreeMap::new();
        users.insert("alice".to_string(), bcrypt::hash("right", 4).unwrap());
        let auth = BasicAuth::new(&users);
        assert!(auth.enabled());
        assert!(!auth.verify("alice", "wrong").await);
        assert!(!auth.verify("bob", "right").await);
        assert!(auth.cache.lock().unwrap().is_empty());
        assert!(auth.verify("alice", "right").await);
        assert_eq!(auth.cache.lock().unwrap().len(), 1);
        assert!(auth.verify("alice", "right").await);
        // A new hash for alice (another password): the cached success no longer applies.
        users.insert("alice".to_string(), bcrypt::hash("other", 4).unwrap());
        auth.set_users(&users);
        assert!(!auth.verify("alice", "right").await);
        assert!(auth.verify("alice", "other").await);
        auth.set_users(&BTreeMap::new());
        assert!(!auth.enabled());
    }

    #[test]
    fn debug_shows_no_hash() {
        let mut users = BTreeMap::new();
        let hash = bcrypt::hash("pw", 4).unwrap();
        users.insert("alice".to_string(), hash.clone());
        let c = WebConfig {
            tls: None,
            basic_auth_users: users.clone(),
        };
        let text = format!("{c:?} {:?}", BasicAuth::new(&users));
        assert!(text.contains("alice") && !text.contains(&hash), "{text}");
    }
}
