//! Test certificates made with Debian's `openssl` CLI: a runner and a CA maker shared by the
//! TLS tests (to Redis and on the exporter's own listener).

use std::path::Path;
use std::process::Command;

use super::require_binary;

/// Runs openssl with `args` in `dir`, panicking with its output on failure.
pub fn openssl(dir: &Path, args: &[&str]) {
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
pub fn make_ca(dir: &Path, name: &str) {
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
