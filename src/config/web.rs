//! The `[web]` table (HTTPS and basic auth on our own listener): [`WebConfig`], its
//! validation, and reading the certificate files into a rustls server configuration. Every
//! refusal names the file, the line and the key (`web.<key>`). The certificate files are loaded
//! once here, so a bad certificate or key stops the start (or the reload) instead of the first
//! handshake; `crate::http::https` loads them again when they change. Hashes are never repeated
//! in errors.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ServerConfig, WebPkiClientVerifier};

use super::origin::{ConfigError, FileCtx, Origin, invalid};
use super::raw::RawWeb;
use super::{first_unreadable, modified_times};

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
pub(crate) struct WebTlsError {
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
    /// Modification times of the files, to notice a rotation.
    pub(crate) fn stamp(&self) -> Vec<Option<SystemTime>> {
        modified_times(
            [
                Some(&self.cert_file),
                Some(&self.key_file),
                self.client_ca_file.as_ref(),
            ]
            .into_iter()
            .flatten(),
        )
    }

    /// Reads the files into a rustls server configuration (HTTP/2 and HTTP/1.1 by ALPN).
    pub(crate) fn server_config(&self) -> Result<ServerConfig, WebTlsError> {
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

/// Checks that `hash` looks like a bcrypt hash (`$2a$`, `$2b$` or `$2y$`, cost 4–31, 53
/// characters of salt and digest). The message never repeats the value: a password typed where
/// the hash belongs must not end up in a log.
pub(crate) fn check_bcrypt_hash(hash: &str) -> Result<(), String> {
    const HINT: &str = "expected a bcrypt hash such as $2y$10$… (make one with `htpasswd -nBC 10 \
                        USER`, keeping what follows the colon)";
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

/// The `[web]` table, validated; the certificate files are loaded once.
pub(super) fn validate(raw: &RawWeb, ctx: &FileCtx) -> Result<WebConfig, ConfigError> {
    Ok(WebConfig {
        tls: listener_tls(raw, ctx)?,
        basic_auth_users: users(raw, ctx)?,
    })
}

fn err(origin: Origin, key: &str, message: String) -> ConfigError {
    invalid(origin, None, &format!("web.{key}"), message)
}

/// `tls_cert_file`, `tls_key_file` (both or neither) and `tls_client_ca_file` (only with both):
/// readable, and loading into a server configuration.
fn listener_tls(raw: &RawWeb, ctx: &FileCtx) -> Result<Option<WebTls>, ConfigError> {
    let files = [
        ("tls_cert_file", &raw.tls_cert_file),
        ("tls_key_file", &raw.tls_key_file),
        ("tls_client_ca_file", &raw.tls_client_ca_file),
    ];
    if let Some((origin, key, message)) = first_unreadable(&files, ctx) {
        return Err(err(origin, key, message));
    }
    match (&raw.tls_cert_file, &raw.tls_key_file) {
        (Some(cert), Some(key)) => {
            let files = WebTls {
                cert_file: cert.get_ref().clone(),
                key_file: key.get_ref().clone(),
                client_ca_file: raw.tls_client_ca_file.as_ref().map(|p| p.get_ref().clone()),
            };
            if let Err(e) = files.server_config() {
                let origin = match e.key {
                    "tls_cert_file" => ctx.origin(cert),
                    "tls_client_ca_file" => raw
                        .tls_client_ca_file
                        .as_ref()
                        .map_or_else(|| ctx.origin(key), |p| ctx.origin(p)),
                    _ => ctx.origin(key),
                };
                return Err(err(origin, e.key, e.message));
            }
            Ok(Some(files))
        }
        (Some(cert), None) => Err(err(
            ctx.origin(cert),
            "tls_key_file",
            "tls_cert_file needs tls_key_file (both or neither)".into(),
        )),
        (None, Some(key)) => Err(err(
            ctx.origin(key),
            "tls_cert_file",
            "tls_key_file needs tls_cert_file (both or neither)".into(),
        )),
        (None, None) => match &raw.tls_client_ca_file {
            Some(ca) => Err(err(
                ctx.origin(ca),
                "tls_client_ca_file",
                "client certificates need HTTPS: set tls_cert_file and tls_key_file too".into(),
            )),
            None => Ok(None),
        },
    }
}

/// `basic_auth_users`: user names without colons or control characters, bcrypt hashes.
fn users(raw: &RawWeb, ctx: &FileCtx) -> Result<BTreeMap<String, String>, ConfigError> {
    let mut users = BTreeMap::new();
    for (name, hash) in raw.basic_auth_users.iter().flatten() {
        let n = name.get_ref();
        if n.is_empty() || n.contains(':') || n.chars().any(char::is_control) {
            return Err(err(
                ctx.origin(name),
                "basic_auth_users",
                format!("{n:?} is not a user name: not empty, no colon, no control characters"),
            ));
        }
        check_bcrypt_hash(hash.get_ref()).map_err(|m| {
            err(
                ctx.origin(hash),
                "basic_auth_users",
                format!("user {n:?}: {m}"),
            )
        })?;
        users.insert(n.clone(), hash.get_ref().clone());
    }
    Ok(users)
}

#[cfg(test)]
mod tests {
    use super::*;

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
