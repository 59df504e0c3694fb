//! TLS to a `rediss://` target: the `tls_*` keys of a target, checked (only for `rediss://`,
//! certificate and key together, files readable), as [`TlsFiles`]. The files are read again
//! when they change, before the next connection (`crate::client::conn::Connector`), so a
//! rotation needs no reload.

use std::path::PathBuf;
use std::time::SystemTime;

use toml::Spanned;

use super::origin::{FileCtx, Origin};
use super::raw::RawTarget;
use super::redis_url::{self, ConnectionInfo};
use super::{first_unreadable, modified_times};

/// TLS settings of one target (`tls_*` keys). Paths are read at connect time.
#[derive(Debug, Clone, PartialEq, Eq, Default, Hash)]
pub struct TlsFiles {
    /// PEM CA certificate(s) the server certificate must chain to (instead of the system's).
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate (chain) for mutual TLS; with `key_file`.
    pub cert_file: Option<PathBuf>,
    /// PEM private key of the client certificate.
    pub key_file: Option<PathBuf>,
    /// The name the server certificate is verified against (and sent as SNI) instead of the
    /// URL's host.
    pub server_name: Option<String>,
    /// Skip verification of the server certificate entirely. For tests and emergencies only.
    pub insecure: bool,
}

impl TlsFiles {
    /// Modification times of the files, to notice a rotation.
    pub(crate) fn stamp(&self) -> Vec<Option<SystemTime>> {
        modified_times(
            [&self.ca_file, &self.cert_file, &self.key_file]
                .into_iter()
                .flatten(),
        )
    }
}

/// Why a `tls_*` key is refused: where, which key, what.
type Refusal = (Origin, &'static str, String);

/// The `tls_*` keys of a target: only for `rediss://`, certificate and key together, files
/// readable (they are read again at every connect, so a rotation needs no reload).
pub(super) fn tls_files(
    t: &RawTarget,
    ctx: &FileCtx,
    info: &ConnectionInfo,
) -> Result<Option<TlsFiles>, Refusal> {
    let files = [
        ("tls_ca_file", &t.tls_ca_file),
        ("tls_cert_file", &t.tls_cert_file),
        ("tls_key_file", &t.tls_key_file),
    ];
    let Some((key, origin)) = first_key(t, ctx, &files) else {
        return Ok(None);
    };
    if !redis_url::is_tls(info) {
        return Err((origin, key, "TLS settings need a rediss:// url".to_string()));
    }
    if let Some(refusal) = first_unreadable(&files, ctx) {
        return Err(refusal);
    }
    cert_with_key(t, ctx)?;
    if let Some(n) = &t.tls_server_name
        && (n.get_ref().is_empty() || n.get_ref().contains(char::is_whitespace))
    {
        return Err((
            ctx.origin(n),
            "tls_server_name",
            format!("{:?} is not a host name", n.get_ref()),
        ));
    }
    Ok(Some(TlsFiles {
        ca_file: t.tls_ca_file.as_ref().map(|p| p.get_ref().clone()),
        cert_file: t.tls_cert_file.as_ref().map(|p| p.get_ref().clone()),
        key_file: t.tls_key_file.as_ref().map(|p| p.get_ref().clone()),
        server_name: t.tls_server_name.as_ref().map(|n| n.get_ref().clone()),
        insecure: t.tls_insecure.as_ref().is_some_and(|b| *b.get_ref()),
    }))
}

/// The first `tls_*` key given, with where: the files first, then the server name, then
/// `tls_insecure`.
fn first_key(
    t: &RawTarget,
    ctx: &FileCtx,
    files: &[(&'static str, &Option<Spanned<PathBuf>>)],
) -> Option<(&'static str, Origin)> {
    files
        .iter()
        .find_map(|(k, v)| v.as_ref().map(|v| (*k, ctx.origin(v))))
        .or_else(|| {
            t.tls_server_name
                .as_ref()
                .map(|v| ("tls_server_name", ctx.origin(v)))
        })
        .or_else(|| {
            t.tls_insecure
                .as_ref()
                .map(|v| ("tls_insecure", ctx.origin(v)))
        })
}

/// A client certificate comes with its key, and a key with its certificate.
fn cert_with_key(t: &RawTarget, ctx: &FileCtx) -> Result<(), Refusal> {
    match (&t.tls_cert_file, &t.tls_key_file) {
        (Some(c), None) => Err((
            ctx.origin(c),
            "tls_key_file",
            "tls_cert_file needs tls_key_file".into(),
        )),
        (None, Some(k)) => Err((
            ctx.origin(k),
            "tls_cert_file",
            "tls_key_file needs tls_cert_file".into(),
        )),
        _ => Ok(()),
    }
}
