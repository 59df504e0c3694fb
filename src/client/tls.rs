//! TLS to Redis (`rediss://`): the one place a rustls client configuration is built for a
//! Redis connection, from a target's certificate files (system roots loaded once per process
//! when no CA file is given), with `tls_insecure` / `#insecure` skipping verification.
//!
//! Files are read when a [`super::conn::Connector`] is made or refreshed; it checks their
//! modification times before every new connection, so rotated certificates (cert-manager,
//! Vault agent) are picked up at the next reconnect without a restart or reload.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore};

use crate::config::tls::TlsFiles;

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
pub(crate) fn client_config(
    tls: &TlsFiles,
    insecure: bool,
) -> Result<rustls::ClientConfig, String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_and_empty_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        let files = TlsFiles {
            ca_file: Some(ca.clone()),
            ..Default::default()
        };
        let e = client_config(&files, false).err().unwrap();
        assert!(e.contains("CA file") && e.contains("ca.pem"), "{e}");
        std::fs::write(&ca, "not a certificate").unwrap();
        let e = client_config(&files, false).err().unwrap();
        assert!(e.contains("holds no PEM CERTIFICATE"), "{e}");
    }
}
