//! Validation of the `[web]` table (HTTPS and basic auth on our own listener) into a
//! [`WebConfig`]; every refusal names the file, the line and the key (`web.<key>`). The
//! certificate files are loaded once here, so a bad certificate or key stops the start (or the
//! reload) instead of the first handshake. Hashes are never repeated in errors.

use std::collections::BTreeMap;

use super::raw::RawWeb;
use super::{ConfigError, FileCtx, invalid};
use crate::http::security::{WebConfig, WebTls, check_bcrypt_hash};

pub(super) fn validate(raw: &RawWeb, ctx: &FileCtx) -> Result<WebConfig, ConfigError> {
    let err = |origin, key: &str, m: String| invalid(origin, None, &format!("web.{key}"), m);
    for (key, v) in [
        ("tls_cert_file", &raw.tls_cert_file),
        ("tls_key_file", &raw.tls_key_file),
        ("tls_client_ca_file", &raw.tls_client_ca_file),
    ] {
        if let Some(p) = v
            && let Err(e) = std::fs::File::open(p.get_ref())
        {
            return Err(err(
                ctx.origin(p),
                key,
                format!("cannot read {}: {e}", p.get_ref().display()),
            ));
        }
    }
    let tls = match (&raw.tls_cert_file, &raw.tls_key_file) {
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
            Some(files)
        }
        (Some(cert), None) => {
            return Err(err(
                ctx.origin(cert),
                "tls_key_file",
                "tls_cert_file needs tls_key_file (both or neither)".into(),
            ));
        }
        (None, Some(key)) => {
            return Err(err(
                ctx.origin(key),
                "tls_cert_file",
                "tls_key_file needs tls_cert_file (both or neither)".into(),
            ));
        }
        (None, None) => {
            if let Some(ca) = &raw.tls_client_ca_file {
                return Err(err(
                    ctx.origin(ca),
                    "tls_client_ca_file",
                    "client certificates need HTTPS: set tls_cert_file and tls_key_file too".into(),
                ));
            }
            None
        }
    };
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
    Ok(WebConfig {
        tls,
        basic_auth_users: users,
    })
}
