//! Security of our own HTTP listener (the `[web]` table, as Prometheus's web configuration file
//! has it): HTTPS with certificate reload and optional client certificates, and basic auth
//! with bcrypt hashes.
//!
//! HTTPS: a hand-rolled accept loop ([`serve_tls`]) over `tokio-rustls` (ring provider) serving
//! the axum router through `hyper-util`, HTTP/1.1 and HTTP/2 by ALPN. The certificate, key and
//! client CA files are stat-ed at every new connection; when a modification time changed they
//! are read again ([`TlsReloader`]), so rotated certificates (cert-manager, Vault agent) are
//! served without a restart. A set of files that does not load (say the certificate was
//! replaced but not yet its key) is logged once and the previous certificate keeps serving.
//!
//! Basic auth ([`BasicAuth`], [`require_basic_auth`]): every path except `/healthz` (liveness
//! probes carry no credentials). A bcrypt verification costs tens of milliseconds of CPU on
//! purpose, so successful verifications are remembered for [`AUTH_CACHE_TTL`], keyed by a
//! SHA-256 of user, hash and password (the password itself is never kept), as Prometheus's
//! exporter-toolkit does. Unknown users cost a bcrypt too, so response times do not tell which
//! user names exist.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant, SystemTime};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ServerConfig, WebPkiClientVerifier};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tracing::{debug, info, warn};

/// The realm sent in `WWW-Authenticate`.
pub const REALM: &str = "redis-cache-exporter";
/// How long a successful basic auth verification is remembered.
pub const AUTH_CACHE_TTL: Duration = Duration::from_secs(300);
/// Most remembered verifications; beyond it expired ones are dropped, then all.
const AUTH_CACHE_MAX: usize = 1024;
/// Time a client gets to complete the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The validated `[web]` table.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct WebConfig {
    /// HTTPS settings; `None` serves plain HTTP.
    pub tls: Option<WebTls>,
    /// User name → bcrypt hash. Empty: no authentication.
    pub basic_auth_users: BTreeMap<String, String>,
}

impl fmt::Debug for WebConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let users: Vec<&str> = self.basic_auth_users.keys().map(String::as_str).collect();
        f.debug_struct("WebConfig")
            .field("tls", &self.tls)
            .field("basic_auth_users", &users)
            .finish_non_exhaustive()
    }
}

/// The certificate files of the HTTPS listener. Paths are read again when they change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebTls {
    /// PEM certificate chain served to clients, leaf first.
    pub cert_file: PathBuf,
    /// PEM private key of the certificate.
    pub key_file: PathBuf,
    /// PEM CA certificate(s) client certificates must chain to; set, a client without a valid
    /// certificate is refused during the handshake.
    pub client_ca_file: Option<PathBuf>,
}

/// Why a set of TLS files cannot be used: the `[web]` key of the file at fault and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebTlsError {
    /// `tls_cert_file`, `tls_key_file` or `tls_client_ca_file`.
    pub key: &'static str,
    /// What is wrong, naming the file.
    pub message: String,
}

impl fmt::Display for WebTlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "web.{}: {}", self.key, self.message)
    }
}

impl WebTls {
    fn paths(&self) -> impl Iterator<Item = &Path> {
        [
            Some(&self.cert_file),
            Some(&self.key_file),
            self.client_ca_file.as_ref(),
        ]
        .into_iter()
        .flatten()
        .map(PathBuf::as_path)
    }

    /// Modification times of the files, to notice a rotation.
    fn stamp(&self) -> Vec<Option<SystemTime>> {
        self.paths()
            .map(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
            .collect()
    }

    /// Reads the files into a rustls server configuration (HTTP/2 and HTTP/1.1 by ALPN).
    pub fn server_config(&self) -> Result<ServerConfig, WebTlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let err = |key, message: String| WebTlsError { key, message };
        let certs = read_certs(&self.cert_file).map_err(|m| err("tls_cert_file", m))?;
        let key = PrivateKeyDer::from_pem_file(&self.key_file).map_err(|e| {
            err(
                "tls_key_file",
                format!(
                    "no usable PEM private key in {}: {e}",
                    self.key_file.display()
                ),
            )
        })?;
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| err("tls_cert_file", e.to_string()))?;
        let builder = match &self.client_ca_file {
            None => builder.with_no_client_auth(),
            Some(ca) => {
                let mut roots = RootCertStore::empty();
                for c in read_certs(ca).map_err(|m| err("tls_client_ca_file", m))? {
                    roots.add(c).map_err(|e| {
                        err(
                            "tls_client_ca_file",
                            format!("unusable CA certificate in {}: {e}", ca.display()),
                        )
                    })?;
                }
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                        .build()
                        .map_err(|e| {
                            err(
                                "tls_client_ca_file",
                                format!("unusable CA file {}: {e}", ca.display()),
                            )
                        })?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let mut config = builder.with_single_cert(certs, key).map_err(|e| {
            err(
                "tls_key_file",
                format!(
                    "{} and {} do not make a usable certificate: {e}",
                    self.cert_file.display(),
                    self.key_file.display()
                ),
            )
        })?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(config)
    }
}

/// Every certificate of a PEM file; at least one.
fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    // Read first so that an unreadable file says so plainly.
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{} is not PEM: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{} holds no PEM CERTIFICATE", path.display()));
    }
    Ok(certs)
}

/// The listener's TLS acceptor, rebuilt when the files change.
pub struct TlsReloader {
    state: Mutex<Loaded>,
}

struct Loaded {
    files: WebTls,
    /// Modification times when last tried (loaded or failed), so a bad set is reported once.
    stamp: Vec<Option<SystemTime>>,
    acceptor: TlsAcceptor,
}

impl TlsReloader {
    /// Loads `files` now; the error names the `[web]` key at fault.
    pub fn new(files: WebTls) -> Result<TlsReloader, WebTlsError> {
        let stamp = files.stamp();
        let acceptor = TlsAcceptor::from(Arc::new(files.server_config()?));
        Ok(TlsReloader {
            state: Mutex::new(Loaded {
                files,
                stamp,
                acceptor,
            }),
        })
    }

    /// Uses other files from now on (a configuration reload); on error the current ones stay.
    pub fn set_files(&self, files: WebTls) -> Result<(), WebTlsError> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.files == files {
            return Ok(());
        }
        let stamp = files.stamp();
        state.acceptor = TlsAcceptor::from(Arc::new(files.server_config()?));
        state.files = files;
        state.stamp = stamp;
        Ok(())
    }

    /// The acceptor for a new connection, after re-reading the files if they changed.
    pub fn acceptor(&self) -> TlsAcceptor {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let stamp = state.files.stamp();
        if stamp != state.stamp {
            state.stamp = stamp;
            match state.files.server_config() {
                Ok(config) => {
                    state.acceptor = TlsAcceptor::from(Arc::new(config));
                    info!(
                        cert_file = %state.files.cert_file.display(),
                        "Listener certificate files changed; reloaded them."
                    );
                }
                Err(e) => warn!(
                    error = %e,
                    "Listener certificate files changed but cannot be used; the previous certificate keeps serving."
                ),
            }
        }
        state.acceptor.clone()
    }
}

/// Serves `router` over HTTPS on `listener` until `stop` turns true, then lets open
/// connections finish their requests (the caller bounds how long).
pub async fn serve_tls(
    listener: TcpListener,
    router: Router,
    tls: Arc<TlsReloader>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> std::io::Result<()> {
    let graceful = GracefulShutdown::new();
    let builder = auto::Builder::new(TokioExecutor::new());
    loop {
        let (tcp, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors and the like: pause rather than spin.
                    warn!(error = %e, "Accepting a connection failed.");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = stopped(&mut stop) => break,
        };
        // Responses go out as soon as they are written (a streamed /metrics ends with a small
        // piece that Nagle's algorithm would hold back for the peer's delayed ACK).
        let _ = tcp.set_nodelay(true);
        let acceptor = tls.acceptor();
        let service = TowerToHyperService::new(router.clone());
        let builder = builder.clone();
        let watcher = graceful.watcher();
        let mut stop = stop.clone();
        tokio::spawn(async move {
            let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp));
            let stream = tokio::select! {
                r = handshake => match r {
                    Ok(Ok(s)) => s,
                    Ok(Err(e)) => {
                        debug!(peer = %peer, error = %e, "TLS handshake failed.");
                        return;
                    }
                    Err(_) => {
                        debug!(peer = %peer, "TLS handshake timed out.");
                        return;
                    }
                },
                () = stopped(&mut stop) => return,
            };
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            if let Err(e) = watcher.watch(conn.into_owned()).await {
                debug!(peer = %peer, error = %e, "HTTPS connection ended with an error.");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// Resolves once `stop` is true (or its sender is gone).
async fn stopped(stop: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Basic auth state shared by all requests: the users (replaced on reload) and the cache of
/// successful verifications.
#[derive(Clone, Default)]
pub struct BasicAuth {
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
    pub fn new(users: &BTreeMap<String, String>) -> BasicAuth {
        let auth = BasicAuth::default();
        auth.set_users(users);
        auth
    }

    /// Replaces the users (a configuration reload). Cached verifications of changed hashes no
    /// longer match, since the hash is part of the cache key.
    pub fn set_users(&self, users: &BTreeMap<String, String>) {
        *self.users.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(users.clone());
    }

    fn users(&self) -> Arc<BTreeMap<String, String>> {
        self.users.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Whether any user is configured (otherwise every request passes).
    pub fn enabled(&self) -> bool {
        !self.users().is_empty()
    }

    /// Whether `user` with `password` may in.
    pub async fn verify(&self, user: &str, password: &str) -> bool {
        let hash = self.users().get(user).cloned();
        let key = cache_key(user, hash.as_deref().unwrap_or(""), password);
        if hash.is_some() && self.remembered(&key) {
            return true;
        }
        let password = password.to_owned();
        let ok = tokio::task::spawn_blocking(move || match hash {
            Some(h) => bcrypt::verify(password, &h).unwrap_or(false),
            None => {
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
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache.get(key).is_some_and(|t| t.elapsed() < AUTH_CACHE_TTL)
    }

    fn remember(&self, key: [u8; 32]) {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
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
pub fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
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
pub async fn require_basic_auth(
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

/// Checks that `hash` looks like a bcrypt hash (`$2a$`, `$2b$` or `$2y$`, cost 4–31, 53
/// characters of salt and digest). The message never repeats the value: a password typed where
/// the hash belongs must not end up in a log.
pub fn check_bcrypt_hash(hash: &str) -> Result<(), String> {
    const HINT: &str = "expected a bcrypt hash such as $2y$10$… (make one with `htpasswd -nBC 10 USER`, keeping what follows the colon)";
    let parts: Vec<&str> = hash.split('$').collect();
    let [empty, version, cost, rest] = parts.as_slice() else {
        return Err(format!("not a bcrypt hash: {HINT}"));
    };
    if !empty.is_empty() || !matches!(*version, "2a" | "2b" | "2y") {
        return Err(format!("not a bcrypt hash: {HINT}"));
    }
    match cost.parse::<u32>() {
        Ok(c) if cost.len() == 2 && (4..=31).contains(&c) => {}
        _ => {
            return Err(format!(
                "bcrypt cost must be two digits from 04 to 31: {HINT}"
            ));
        }
    }
    let alphabet = |c: char| c.is_ascii_alphanumeric() || c == '.' || c == '/';
    if rest.len() != 53 || !rest.chars().all(alphabet) {
        return Err(format!(
            "bcrypt salt and digest must be 53 characters of [./A-Za-z0-9]: {HINT}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
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

    #[test]
    fn bcrypt_hash_format() {
        let good = bcrypt::hash("pw", 4).unwrap();
        assert_eq!(check_bcrypt_hash(&good), Ok(()));
        let y = good.replacen("$2b$", "$2y$", 1);
        assert_eq!(check_bcrypt_hash(&y), Ok(()));
        for bad in [
            "secret",
            "",
            &good.replacen("$04$", "$4$", 1),
            &good.replacen("$04$", "$03$", 1),
            &good.replacen("$2b$", "$1$", 1),
            &good[..good.len() - 1],
            &format!("{good}x"),
        ] {
            let e = check_bcrypt_hash(bad).unwrap_err();
            assert!(bad.is_empty() || !e.contains(bad), "{e}");
        }
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

    #[test]
    fn missing_files_name_their_key() {
        let dir = tempfile::tempdir().unwrap();
        let files = WebTls {
            cert_file: dir.path().join("c.pem"),
            key_file: dir.path().join("k.pem"),
            client_ca_file: None,
        };
        let e = files.server_config().unwrap_err();
        assert_eq!(e.key, "tls_cert_file");
        assert!(e.message.contains("c.pem"), "{e}");
        std::fs::write(&files.cert_file, "junk").unwrap();
        let e = files.server_config().unwrap_err();
        assert_eq!(e.key, "tls_cert_file");
        assert!(e.message.contains("holds no PEM CERTIFICATE"), "{e}");
    }
}
