//! TLS to Redis (`rediss://`): the per-target certificate files, building a `redis::Client`
//! (cluster discovery) or the poller's [`Connector`] (rustls configuration built here, system
//! roots loaded once per process) from them, server name override and certificate reload.
//!
//! Files are read when a client is built; [`ClientFactory`] rebuilds the client when one of the
//! files' modification times changes, checked before every new connection, so rotated
//! certificates (cert-manager, Vault agent) are picked up at the next reconnect without a
//! restart or reload. An open connection keeps the certificates it was made with.
//!
//! Server name override: the redis client takes the name it verifies (and sends as SNI) from
//! the URL's host. To verify a certificate issued for another name than the one we connect to,
//! the connection is given that name as host, and a DNS resolver that maps it back to the real
//! host.

use std::net::SocketAddr;
use std::path::Path;
use std::time::SystemTime;

use std::sync::{Arc, OnceLock};

use redis::io::AsyncDNSResolver;
use redis::{
    AsyncConnectionConfig, Client, ClientTlsConfig, ConnectionAddr, ConnectionInfo, RedisError,
    RedisFuture, TlsCertificates,
};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore};

use crate::client::conn::Connector;
use crate::config::tls::TlsFiles;

/// Makes the process-wide rustls crypto provider (ring) the default, once. The redis client's
/// insecure mode asks for the default provider and fails without one.
pub(crate) fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A PEM file's bytes, checked to hold at least one `marker` block (e.g. `CERTIFICATE`),
/// since the client would otherwise accept an empty trust store and fail later, less clearly.
fn read(path: &Path, what: &str, marker: &str) -> Result<Vec<u8>, String> {
    let bytes = std::fs::read(path)
        .map_err(|e| format!("cannot read TLS {what} {}: {e}", path.display()))?;
    let text = String::from_utf8_lossy(&bytes);
    if !text
        .lines()
        .any(|l| l.starts_with("-----BEGIN ") && l.contains(marker))
    {
        return Err(format!(
            "TLS {what} {} holds no PEM {marker}",
            path.display()
        ));
    }
    Ok(bytes)
}

/// Resolves the override name to the real host; any other name normally.
#[derive(Clone)]
struct OverrideResolver {
    name: String,
    real_host: String,
}

impl AsyncDNSResolver for OverrideResolver {
    fn resolve<'a, 'b: 'a>(
        &'a self,
        host: &'b str,
        port: u16,
    ) -> RedisFuture<'a, Box<dyn Iterator<Item = SocketAddr> + Send + 'a>> {
        let target = if host == self.name {
            self.real_host.clone()
        } else {
            host.to_string()
        };
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((target.as_str(), port))
                .await?
                .collect();
            Ok(Box::new(addrs.into_iter()) as Box<dyn Iterator<Item = SocketAddr> + Send>)
        })
    }
}

/// The system's trust store (loaded once: thousands of targets share it).
fn native_roots() -> Result<Arc<RootCertStore>, String> {
    static ROOTS: OnceLock<Result<Arc<RootCertStore>, String>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let loaded = rustls_native_certs::load_native_certs();
            if let Some(e) = loaded.errors.first() {
                return Err(format!("cannot load the system's CA certificates: {e}"));
            }
            let mut store = RootCertStore::empty();
            for cert in loaded.certs {
                store
                    .add(cert)
                    .map_err(|e| format!("system CA certificate not usable: {e}"))?;
            }
            Ok(Arc::new(store))
        })
        .clone()
}

/// Accepts any server certificate (`tls_insecure`, `#insecure`).
#[derive(Debug)]
struct NoVerification(rustls::crypto::WebPkiSupportedAlgorithms);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.supported_schemes()
    }
}

/// The rustls client configuration from the files (system roots without a CA file).
fn client_config(tls: &TlsFiles, insecure: bool) -> Result<rustls::ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = match &tls.ca_file {
        Some(p) => {
            let pem = read(p, "CA file", "CERTIFICATE")?;
            let mut store = RootCertStore::empty();
            for cert in CertificateDer::pem_slice_iter(&pem) {
                let cert =
                    cert.map_err(|e| format!("TLS CA file {} not usable: {e}", p.display()))?;
                store
                    .add(cert)
                    .map_err(|e| format!("TLS CA file {} not usable: {e}", p.display()))?;
            }
            Arc::new(store)
        }
        None if insecure => Arc::new(RootCertStore::empty()),
        None => native_roots()?,
    };
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS settings not usable: {e}"))?
        .with_root_certificates(roots);
    let mut config = match (&tls.cert_file, &tls.key_file) {
        (Some(c), Some(k)) => {
            let cert_pem = read(c, "certificate file", "CERTIFICATE")?;
            let key_pem = read(k, "key file", "PRIVATE KEY")?;
            let chain = CertificateDer::pem_slice_iter(&cert_pem)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("TLS certificate file {} not usable: {e}", c.display()))?;
            let key = PrivateKeyDer::from_pem_slice(&key_pem)
                .map_err(|e| format!("TLS key file {} not usable: {e}", k.display()))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| format!("TLS settings not usable: {e}"))?
        }
        _ => builder.with_no_client_auth(),
    };
    if insecure {
        config.enable_sni = false;
        config
            .dangerous()
            .set_certificate_verifier(Arc::new(NoVerification(
                provider.signature_verification_algorithms,
            )));
    }
    Ok(config)
}

/// Builds the redis client of one target and rebuilds it when its TLS files change.
pub(crate) struct ClientFactory {
    connection: ConnectionInfo,
    tls: Option<TlsFiles>,
    stamp: Vec<Option<SystemTime>>,
    resolver: Option<OverrideResolver>,
}

impl ClientFactory {
    /// A factory for `connection`, with `tls` applied when the address is `rediss://`.
    pub(crate) fn new(connection: ConnectionInfo, tls: Option<TlsFiles>) -> ClientFactory {
        let tls = tls.filter(|_| matches!(connection.addr(), ConnectionAddr::TcpTls { .. }));
        ClientFactory {
            connection,
            tls,
            stamp: Vec::new(),
            resolver: None,
        }
    }

    /// Whether the TLS files changed since the last [`ClientFactory::client`].
    pub(crate) fn changed(&self) -> bool {
        self.tls.as_ref().is_some_and(|t| t.stamp() != self.stamp)
    }

    /// A new client from the current files. The error names the file that could not be read.
    pub(crate) fn client(&mut self) -> Result<Client, String> {
        let Some(tls) = &self.tls else {
            self.resolver = None;
            return Client::open(self.connection.clone()).map_err(|e| e.to_string());
        };
        self.stamp = tls.stamp();
        let mut connection = self.connection.clone();
        self.resolver = None;
        if let ConnectionAddr::TcpTls {
            host,
            port,
            insecure,
            ..
        } = connection.addr().clone()
        {
            let name = tls.server_name.clone().unwrap_or_else(|| host.clone());
            if name != host {
                self.resolver = Some(OverrideResolver {
                    name: name.clone(),
                    real_host: host,
                });
            }
            connection = connection.set_addr(ConnectionAddr::TcpTls {
                host: name,
                port,
                insecure: insecure || tls.insecure,
                tls_params: None,
            });
        }
        if tls.insecure {
            install_crypto_provider();
        }
        let root_cert = tls
            .ca_file
            .as_deref()
            .map(|p| read(p, "CA file", "CERTIFICATE"))
            .transpose()?;
        let client_tls = match (&tls.cert_file, &tls.key_file) {
            (Some(c), Some(k)) => Some(ClientTlsConfig {
                client_cert: read(c, "certificate file", "CERTIFICATE")?,
                client_key: read(k, "key file", "PRIVATE KEY")?,
            }),
            _ => None,
        };
        Client::build_with_tls(
            connection,
            TlsCertificates {
                client_tls,
                root_cert,
            },
        )
        .map_err(|e: RedisError| format!("TLS settings not usable: {e}"))
    }

    /// The poller's connector from the current files: its own connection (see [`crate::client::conn`])
    /// with a rustls configuration built here. The error names the file that could not be read.
    pub(crate) fn connector(&mut self) -> Result<Connector, String> {
        let tls = match self.connection.addr() {
            ConnectionAddr::TcpTls { host, insecure, .. } => {
                let files = self.tls.clone().unwrap_or_default();
                self.stamp = files.stamp();
                let config = client_config(&files, *insecure || files.insecure)?;
                let name = files.server_name.clone().unwrap_or_else(|| host.clone());
                Some((Arc::new(config), name))
            }
            _ => None,
        };
        Connector::new(&self.connection, tls)
    }

    /// `config` with the server name override's resolver, if any.
    pub(crate) fn connection_config(&self, config: AsyncConnectionConfig) -> AsyncConnectionConfig {
        match &self.resolver {
            Some(r) => config.set_dns_resolver(r.clone()),
            None => config,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use redis::IntoConnectionInfo;

    #[test]
    fn plain_urls_ignore_tls_files() {
        let c = "redis://127.0.0.1:1".into_connection_info().unwrap();
        let f = ClientFactory::new(
            c,
            Some(TlsFiles {
                ca_file: Some("/nonexistent".into()),
                ..Default::default()
            }),
        );
        assert!(f.tls.is_none());
        assert!(!f.changed());
    }

    #[test]
    fn missing_files_are_named_and_changes_noticed() {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        let c = "rediss://127.0.0.1:1".into_connection_info().unwrap();
        let mut f = ClientFactory::new(
            c,
            Some(TlsFiles {
                ca_file: Some(ca.clone()),
                server_name: Some("redis.test".into()),
                ..Default::default()
            }),
        );
        let e = f.client().err().unwrap();
        assert!(e.contains("CA file") && e.contains("ca.pem"), "{e}");
        assert!(!f.changed());
        std::fs::write(&ca, "not a certificate").unwrap();
        assert!(f.changed());
        let e = f.client().err().unwrap();
        assert!(e.contains("holds no PEM CERTIFICATE"), "{e}");
        assert!(!f.changed());
        assert!(f.resolver.as_ref().is_some_and(|r| r.name == "redis.test"));
    }
}
