//! Test certificates made with Debian's `openssl` CLI: a runner and a CA maker shared by the
//! TLS tests (to Redis and on the exporter's own listener).

use std::path::Path;
use std::process::Command;

use super::require_binary;

/// Runs openssl with `args` in `dir`, panicking with its output on failure.
pub(crate) fn openssl(dir: &Path, args: &[&str]) {
    let bin = require_binary("openssl", "openssl");
    let out = Command::new(bin)
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA (`{name}-ca.crt`/`.key`) in `dir`.
pub(crate) fn make_ca(dir: &Path, name: &str) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            &format!("/CN={name} test CA"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
            "-keyout",
            &format!("{name}-ca.key"),
            "-out",
            &format!("{name}-ca.crt"),
        ],
    );
}

/// A leaf `{leaf}.crt`/`.key` with common name `cn`, signed by CA `ca`, with the extensions
/// `ext` (an openssl extfile).
pub(crate) fn make_leaf(dir: &Path, ca: &str, leaf: &str, cn: &str, ext: &str) {
    std::fs::write(dir.join(format!("{leaf}.ext")), ext).unwrap();
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-subj",
            &format!("/CN={cn}"),
            "-keyout",
            &format!("{leaf}.key"),
            "-out",
            &format!("{leaf}.csr"),
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &format!("{leaf}.csr"),
            "-CA",
            &format!("{ca}-ca.crt"),
            "-CAkey",
            &format!("{ca}-ca.key"),
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            &format!("{leaf}.ext"),
            "-out",
            &format!("{leaf}.crt"),
        ],
    );
}

/// Two CAs ("good" and "other"); a server certificate for DNS name `redis.test` only (no IP),
/// signed by "good", also usable as a client certificate (a sentinel or a replica connects to
/// other servers with it); client certificates signed by "good" (`client`) and by "other"
/// (`rogue`).
pub(crate) struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    pub(crate) fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        make_ca(d, "good");
        make_ca(d, "other");
        make_leaf(
            d,
            "good",
            "server",
            "redis.test",
            "subjectAltName=DNS:redis.test\nextendedKeyUsage=serverAuth,clientAuth\n",
        );
        make_leaf(
            d,
            "good",
            "client",
            "exporter",
            "extendedKeyUsage=clientAuth\n",
        );
        make_leaf(
            d,
            "other",
            "rogue",
            "exporter",
            "extendedKeyUsage=clientAuth\n",
        );
        Pki { dir }
    }

    pub(crate) fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }

    pub(crate) fn p(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }

    /// redis-server flags: a TLS port with the server certificate, client certificates
    /// required and checked against the good CA.
    pub(crate) fn server_args(&self, tls_port: u16) -> Vec<String> {
        [
            "--tls-port",
            &tls_port.to_string(),
            "--tls-cert-file",
            &self.p("server.crt"),
            "--tls-key-file",
            &self.p("server.key"),
            "--tls-ca-cert-file",
            &self.p("good-ca.crt"),
            "--tls-auth-clients",
            "yes",
        ]
        .map(String::from)
        .to_vec()
    }
}
