//! Unit tests of the config module: literal TOML strings, flags parsed by clap, and an
//! environment given as a map, so no test reads or changes the process environment.

use std::collections::HashMap;
use std::io::Write;

use clap::Parser;
use redis::ConnectionAddr;

use super::*;
use crate::cli::Cli;

const FILE: &str = "test.toml";
const SECRET: &str = "hunter2";

fn cli(args: &[&str]) -> Cli {
    Cli::try_parse_from(std::iter::once("redis-cache-exporter").chain(args.iter().copied()))
        .expect("flags parse")
}

fn no_env(_: &str) -> Option<String> {
    None
}

fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k| map.get(k).cloned()
}

fn load_str(toml: &str) -> Result<Config, ConfigError> {
    build(&Flags::default(), &no_env, Some((Path::new(FILE), toml)))
}

fn load_full(
    args: &[&str],
    env: &dyn Fn(&str) -> Option<String>,
    toml: Option<&str>,
) -> Result<Config, ConfigError> {
    build(&cli(args).flags(), env, toml.map(|t| (Path::new(FILE), t)))
}

/// Loads `toml`, expects a refusal whose text contains every one of `parts`, and returns it.
#[track_caller]
fn refused(toml: &str, parts: &[&str]) -> String {
    let msg = match load_str(toml) {
        Ok(c) => panic!("expected a refusal, got {c:?}"),
        Err(e) => e.to_string(),
    };
    for p in parts {
        assert!(msg.contains(p), "{msg:?} does not contain {p:?}");
    }
    assert!(!msg.contains(SECRET), "secret leaked in {msg:?}");
    msg
}

fn password_file(content: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().expect("temp file");
    f.write_all(content.as_bytes()).expect("write temp file");
    f
}

fn toml_path(p: &Path) -> String {
    p.display().to_string().replace('\\', "\\\\")
}

// ---- defaults -------------------------------------------------------------------------------

#[test]
fn no_flags_no_file_polls_local_redis_with_defaults() {
    let c = load_full(&[], &no_env, None).unwrap();
    assert_eq!(c.listen, "0.0.0.0:9122".parse().unwrap());
    assert_eq!(c.poll_interval, Duration::from_secs(15));
    assert_eq!(c.timeout, Duration::from_secs(5));
    assert_eq!(c.log_format, LogFormat::Text);
    assert_eq!(c.log_level, "info");
    assert_eq!(c.targets.len(), 1);
    let t = &c.targets[0];
    assert_eq!(t.name, "127.0.0.1:6379");
    assert_eq!(t.url, "redis://127.0.0.1:6379");
    assert_eq!(t.poll_interval, Duration::from_secs(15));
    assert_eq!(t.timeout, Duration::from_secs(5));
    assert!(t.cache);
    assert!(t.labels.is_empty());
    assert_eq!(t.config_command.as_deref(), Some("CONFIG"));
    assert_eq!(
        t.connection.addr(),
        &ConnectionAddr::Tcp("127.0.0.1".into(), 6379)
    );
    assert_eq!(t.connection.redis_settings().password(), None);
}

#[test]
fn file_target_defaults() {
    let c = load_str("[[targets]]\nname = \"a\"\nurl = \"redis://h:6380/3\"\n").unwrap();
    let t = &c.targets[0];
    assert_eq!(t.name, "a");
    assert!(t.cache);
    assert_eq!(t.config_command.as_deref(), Some("CONFIG"));
    assert_eq!(t.poll_interval, DEFAULT_POLL_INTERVAL);
    assert_eq!(t.timeout, DEFAULT_TIMEOUT);
    assert_eq!(t.connection.redis_settings().db(), 3);
    assert_eq!(t.connection.addr(), &ConnectionAddr::Tcp("h".into(), 6380));
}

#[test]
fn default_timeout_is_5s_or_half_the_interval() {
    assert_eq!(
        default_timeout(Duration::from_secs(15)),
        Duration::from_secs(5)
    );
    assert_eq!(
        default_timeout(Duration::from_secs(10)),
        Duration::from_secs(5)
    );
    assert_eq!(
        default_timeout(Duration::from_secs(4)),
        Duration::from_secs(2)
    );
    assert_eq!(
        default_timeout(Duration::from_millis(1)),
        Duration::from_micros(500)
    );

    let c = load_str(
        "poll_interval = \"4s\"\n[[targets]]\nname = \"a\"\nurl = \"redis://h\"\n\
         [[targets]]\nname = \"b\"\nurl = \"redis://h\"\npoll_interval = \"1s\"\n\
         [[targets]]\nname = \"c\"\nurl = \"redis://h\"\npoll_interval = \"1m\"\n",
    )
    .unwrap();
    assert_eq!(c.timeout, Duration::from_secs(2));
    assert_eq!(c.targets[0].timeout, Duration::from_secs(2));
    assert_eq!(c.targets[1].timeout, Duration::from_millis(500));
    assert_eq!(c.targets[2].timeout, Duration::from_secs(5));
}

#[test]
fn explicit_timeouts_are_inherited_and_overridden() {
    let c = load_str(
        "timeout = \"2s\"\n\
         [[targets]]\nname = \"a\"\nurl = \"redis://h\"\n\
         [[targets]]\nname = \"b\"\nurl = \"redis://h\"\ntimeout = \"700ms\"\n\
         poll_interval = \"1s\"\n",
    )
    .unwrap();
    assert_eq!(c.timeout, Duration::from_secs(2));
    assert_eq!(c.targets[0].timeout, Duration::from_secs(2));
    assert_eq!(c.targets[1].timeout, Duration::from_millis(700));
    assert_eq!(c.targets[1].poll_interval, Duration::from_secs(1));
}

// ---- the whole file ------------------------------------------------------------------------

#[test]
fn every_key_is_read() {
    let pw = password_file(&format!("{SECRET}\n"));
    let toml = format!(
        r#"
listen = "127.0.0.1:9999"
poll_interval = "1m30s"
timeout = "3s"
log_format = "json"
log_level = "warn,redis_cache_exporter=debug"

[[targets]]
name = "sessions"
url = "redis://cache-1.internal:6379/0"
password_file = "{}"
username = "exporter"
poll_interval = "30s"
timeout = "4s"
cache = false
labels = {{ team = "checkout", env = "prod" }}
config_command = "MYCONFIG"

[[targets]]
name = "no-config"
url = "rediss://cache-2.internal"
config_command = ""
"#,
        toml_path(pw.path())
    );
    let c = load_str(&toml).unwrap();
    assert_eq!(c.listen, "127.0.0.1:9999".parse().unwrap());
    assert_eq!(c.poll_interval, Duration::from_secs(90));
    assert_eq!(c.timeout, Duration::from_secs(3));
    assert_eq!(c.log_format, LogFormat::Json);
    assert_eq!(c.log_level, "warn,redis_cache_exporter=debug");
    let s = &c.targets[0];
    assert_eq!(s.name, "sessions");
    assert_eq!(s.url, "redis://cache-1.internal:6379/0");
    assert_eq!(s.poll_interval, Duration::from_secs(30));
    assert_eq!(s.timeout, Duration::from_secs(4));
    assert!(!s.cache);
    assert_eq!(
        s.labels,
        BTreeMap::from([
            ("env".to_string(), "prod".to_string()),
            ("team".to_string(), "checkout".to_string())
        ])
    );
    assert_eq!(s.config_command.as_deref(), Some("MYCONFIG"));
    assert_eq!(s.connection.redis_settings().username(), Some("exporter"));
    assert_eq!(s.connection.redis_settings().password(), Some(SECRET));
    let n = &c.targets[1];
    assert_eq!(n.config_command, None);
    assert_eq!(n.poll_interval, Duration::from_secs(90));
    assert_eq!(n.timeout, Duration::from_secs(3));
    assert!(
        matches!(
            n.connection.addr(),
            ConnectionAddr::TcpTls { host, port: 6379, .. } if host == "cache-2.internal"
        ),
        "rediss:// must give a TLS address (TLS is built in)"
    );
}

#[test]
fn example_config_loads() {
    let text = include_str!("../../examples/config.toml");
    let c = build(
        &Flags::default(),
        &no_env,
        Some((Path::new("examples/config.toml"), text)),
    )
    .unwrap_or_else(|e| panic!("examples/config.toml: {e}"));
    assert!(!c.targets.is_empty());
    // The example shows every top-level key and every target key, so a key added to the
    // raw structs without documenting it there fails here.
    for key in [
        "listen",
        "poll_interval",
        "timeout",
        "log_format",
        "log_level",
        "name",
        "url",
        "username",
        "password_file",
        "password_env",
        "cache",
        "labels",
        "config_command",
        "cluster",
        "seeds",
        "sentinel",
        "master_name",
        "tls_cert_file",
        "tls_key_file",
        "tls_client_ca_file",
        "basic_auth_users",
    ] {
        assert!(
            text.lines().any(|l| l
                .trim_start_matches(['#', ' '])
                .starts_with(&format!("{key} ="))),
            "examples/config.toml does not show `{key} = ...`"
        );
    }
}

// ---- refusals: each names the file, the line and the key -----------------------------------

#[test]
fn refuses_unknown_top_level_key() {
    refused(
        "listen = \"127.0.0.1:1\"\npoll_intervall = \"5s\"\n",
        &["test.toml, line 2", "poll_intervall"],
    );
}

#[test]
fn refuses_unknown_target_key() {
    refused(
        "[[targets]]\nname = \"a\"\nurl = \"redis://h\"\npassword = \"hunter2\"\n",
        &["test.toml, line 4", "unknown field `password`"],
    );
}

#[test]
fn refuses_broken_toml() {
    refused(
        "listen = \"127.0.0.1:1\"\n\n[[targets]\nname = \"a\"\n",
        &["test.toml, line 3"],
    );
    refused(
        "poll_interval = 15\n",
        &["test.toml, line 1", "`poll_interval`", "expected a string"],
    );
    refused(
        "[[targets]]\nname = \"a\"\nurl = \"redis://h\"\ncache = \"yes\"\n",
        &["test.toml, line 4", "`cache`", "expected a boolean"],
    );
    refused(
        "[[targets]]\nname = \"a\"\nurl = \"redis://h\"\nkeysizes = 1\n",
        &["test.toml, line 4", "`keysizes`", "expected a boolean"],
    );
}

#[test]
fn keysizes_are_off_unless_a_target_asks() {
    let c = load_str(
        "[[targets]]\nname = \"a\"\nurl = \"redis://h\"\nkeysizes = true\n\n[[targets]]\n\
         name = \"b\"\nurl = \"redis://h:1\"\n",
    )
    .unwrap();
    assert!(c.targets[0].keysizes);
    assert!(!c.targets[1].keysizes);
}

#[test]
fn refuses_bad_durations() {
    for bad in ["15", "fast", "0s", "-1s", ""] {
        refused(
            &format!("listen = \"127.0.0.1:1\"\npoll_interval = \"{bad}\"\n"),
            &["test.toml, line 2", "`poll_interval`", "invalid duration"],
        );
    }
    refused(
        "timeout = \"0ms\"\n",
        &["test.toml, line 1", "`timeout`", "greater than zero"],
    );
    refused(
        "[[targets]]\nname = \"a\"\nurl = \"redis://h\"\n\npoll_interval = \"1x\"\n",
        &["test.toml, line 5", "target \"a\"", "`poll_interval`"],
    );
    refused(
        "[[targets]]\nname = \"a\"\nurl = \"redis://h\"\ntimeout = \"0s\"\n",
        &["test.toml, line 4", "target \"a\"", "`timeout`"],
    );
}

#[test]
fn accepts_humantime_durations() {
    let c = load_str(
        "poll_interval = \"1m30s\"\ntimeout = \"1500ms\"\n[[targets]]\nname = \"a\"\n\
         url = \"redis://h\"\n",
    )
    .unwrap();
    assert_eq!(c.poll_interval, Duration::from_secs(90));
    assert_eq!(c.timeout, Duration::from_millis(1500));
}

#[test]
fn refuses_bad_urls() {
    let cases = [
        ("http://h:6379", "unsupported scheme `http://`"),
        ("cache-1:6379", "unsupported scheme"),
        ("not a url", "not a valid URL"),
        ("redis://", "no host"),
        ("redis://h:99999", "not a valid URL"),
        ("redis://h/notadb", "not a usable Redis URL"),
        ("unix://", "no socket path"),
    ];
    for (url, why) in cases {
        refused(
            &format!("[[targets]]\nname = \"a\"\n\nurl = \"{url}\"\n"),
            &["test.toml, line 4", "target \"a\"", "`url`", why],
        );
    }
}

#[test]
fn bad_url_errors_never_echo_the_password() {
    for url in [
        "http://user:hunter2@h:6379",
        "redis://:hunter2@h:99999",
        "redis://:hunter2@h/x",
        "ftp://hunter2@h",
    ] {
        refused(
            &format!("[[targets]]\nname = \"a\"\nurl = \"{url}\"\n"),
            &["line 3", "`url`"],
        );
    }
}

#[test]
fn refuses_duplicate_target_names_naming_both_lines() {
    refused(
        "[[targets]]\nname = \"a\"\nurl = \"redis://h1\"\n\n[[targets]]\nname = \"b\"\n\
         url = \"redis://h2\"\n\n[[targets]]\nname = \"a\"\nurl = \"redis://h3\"\n",
        &[
            "duplicate target name \"a\"",
            "test.toml, line 2",
            "test.toml, line 10",
        ],
    );
}

#[test]
fn refuses_timeout_not_below_poll_interval() {
    refused(
        "poll_interval = \"5s\"\ntimeout = \"5s\"\n",
        &[
            "test.toml, line 2",
            "`timeout`",
            "must be shorter than the poll interval 5s",
        ],
    );
    // A target's own timeout against its own interval.
    refused(
        "[[targets]]\nname = \"a\"\nurl = \"redis://h\"\npoll_interval = \"2s\"\n\
         timeout = \"3s\"\n",
        &["test.toml, line 5", "target \"a\"", "`timeout`", "shorter"],
    );
    // A target's own timeout against the global interval.
    refused(
        "poll_interval = \"2s\"\n[[targets]]\nname = \"a\"\nurl = \"redis://h\"\n\
         timeout = \"2s\"\n",
        &["test.toml, line 5", "target \"a\"", "`timeout`"],
    );
    // The global timeout against a target's shorter interval: the interval is what is wrong.
    refused(
        "timeout = \"5s\"\n[[targets]]\nname = \"a\"\nurl = \"redis://h\"\n\
         poll_interval = \"5s\"\n",
        &[
            "test.toml, line 5",
            "target \"a\"",
            "`poll_interval`",
            "timeout from test.toml, line 1",
        ],
    );
}

#[test]
fn refuses_timeout_from_flags_or_env_against_file_interval() {
    let e = load_full(
        &["--timeout", "20s"],
        &no_env,
        Some("poll_interval = \"15s\"\n"),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("command-line flag --timeout"), "{e}");
    assert!(e.contains("poll interval from test.toml, line 1"), "{e}");

    let env = env_of(&[("REDIS_CACHE_EXPORTER_TIMEOUT", "1s")]);
    let e = load_full(&["--poll-interval", "1s"], &env, None)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("environment variable REDIS_CACHE_EXPORTER_TIMEOUT"),
        "{e}"
    );
    assert!(
        e.contains("poll interval from command-line flag --poll-interval"),
        "{e}"
    );

    // Without an explicit timeout it is derived (half of 1s), so nothing clashes.
    let env = env_of(&[("REDIS_CACHE_EXPORTER_POLL_INTERVAL", "1s")]);
    let c = load_full(&[], &env, None).unwrap();
    assert_eq!(c.timeout, Duration::from_millis(500));
    assert_eq!(c.targets[0].timeout, Duration::from_millis(500));
}

#[test]
fn refuses_unreadable_password_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    let msg = refused(
        &format!(
            "[[targets]]\nname = \"sessions\"\nurl = \"redis://h\"\npassword_file = \"{}\"\n",
            toml_path(&missing)
        ),
        &[
            "test.toml, line 4",
            "target \"sessions\"",
            "`password_file`",
            "cannot read password file",
        ],
    );
    assert!(msg.contains(&missing.display().to_string()), "{msg}");
    let empty = password_file("\n");
    refused(
        &format!(
            "[[targets]]\nname = \"a\"\nurl = \"redis://h\"\npassword_file = \"{}\"\n",
            toml_path(empty.path())
        ),
        &["line 4", "is empty"],
    );
}

#[test]
fn refuses_unset_password_env() {
    refused(
        "[[targets]]\nname = \"a\"\nurl = \"redis://h\"\npassword_env = \"REDIS_PW_NOT_SET\"\n",
        &[
            "test.toml, line 4",
            "target \"a\"",
            "`password_env`",
            "REDIS_PW_NOT_SET is not set",
        ],
    );
    let env = env_of(&[("EMPTY_PW", "")]);
    let e = build(
        &Flags::default(),
        &env,
        Some((
            Path::new(FILE),
            "[[targets]]\nname = \"a\"\nurl = \"redis://h\"\npassword_env = \"EMPTY_PW\"\n",
        )),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("EMPTY_PW is empty") && e.contains("line 4"),
        "{e}"
    );
}

#[test]
fn refuses_more_than_one_password_source() {
    let pw = password_file(SECRET);
    refused(
        &format!(
            "[[targets]]\nname = \"a\"\nurl = \"redis://:hunter2@h\"\npassword_file = \"{}\"\n",
            toml_path(pw.path())
        ),
        &[
            "test.toml, line 4",
            "`password_file`",
            "more than one password source (url, password_file)",
        ],
    );
    refused(
        &format!(
            "[[targets]]\nname = \"a\"\nurl = \"redis://h\"\npassword_file = \"{}\"\n\
             password_env = \"PW\"\n",
            toml_path(pw.path())
        ),
        &[
            "test.toml, line 5",
            "`password_env`",
            "(password_file, password_env)",
        ],
    );
    refused(
        "[[targets]]\nname = \"a\"\nurl = \"unix:///run/redis.sock?pass=hunter2\"\n\
         password_env = \"PW\"\n",
        &["test.toml, line 4", "(url, password_env)"],
    );
}

#[test]
fn refuses_username_given_twice() {
    refused(
        "[[targets]]\nname = \"a\"\nurl = \"redis://u@h\"\nusername = \"v\"\n",
        &["test.toml, line 4", "`username`", "one place"],
    );
}

#[test]
fn refuses_empty_target_list() {
    refused(
        "listen = \"127.0.0.1:1\"\ntargets = []\n",
        &["test.toml, line 2", "`targets`", "no targets"],
    );
    refused(
        "listen = \"127.0.0.1:1\"\n",
        &["test.toml", "`targets`", "--redis"],
    );
    // --redis fills an empty file.
    let c = load_full(&["--redis", "redis://h"], &no_env, Some("targets = []\n")).unwrap();
    assert_eq!(c.targets.len(), 1);
}

#[test]
fn serves_scrape_only_when_allow_lists_patterns() {
    let pw = password_file(SECRET);
    let only_scrape = format!(
        "listen = \"127.0.0.1:1\"\n[scrape]\nallow = [\"redis://*.cache.internal:*\"]\n\
         idle_timeout = \"30s\"\n[[scrape.credentials]]\npattern = \"redis://*\"\n\
         username = \"exporter\"\npassword_file = \"{}\"\n",
        toml_path(pw.path())
    );
    let c = load_str(&only_scrape).unwrap();
    assert!(c.targets.is_empty(), "{:?}", c.targets);
    assert!(c.scrape.enabled);
    assert_eq!(
        c.scrape.allow.as_deref(),
        Some(&["redis://*.cache.internal:*".to_string()][..])
    );
    assert_eq!(c.scrape.credentials.len(), 1);
    let c = load_str("targets = []\n[scrape]\nallow = [\"redis://h:6379\"]\n").unwrap();
    assert!(c.targets.is_empty());
}

#[test]
fn refuses_a_file_that_would_poll_nothing() {
    // No [scrape] table: /scrape allows only configured targets, and there are none.
    refused(
        "poll_interval = \"1s\"\n",
        &["test.toml", "no targets", "`scrape.allow` is not set"],
    );
    refused(
        "targets = []\n[scrape]\nallow = []\n",
        &["test.toml, line 1", "no targets", "`scrape.allow` is empty"],
    );
    // Credentials log in; they do not allow anything.
    let pw = password_file(SECRET);
    refused(
        &format!(
            "[[scrape.credentials]]\npattern = \"redis://*\"\npassword_file = \"{}\"\n",
            toml_path(pw.path())
        ),
        &["test.toml", "no targets", "not which targets"],
    );
    refused(
        "[scrape]\nenabled = false\nallow = [\"redis://*\"]\n",
        &["test.toml", "no targets", "/scrape is disabled"],
    );
    let flag = load_full(
        &["--no-scrape-endpoint"],
        &no_env,
        Some("[scrape]\nallow = [\"redis://*\"]\n"),
    )
    .unwrap_err()
    .to_string();
    assert!(flag.contains("--no-scrape-endpoint"), "{flag}");
}

#[test]
fn refuses_bad_listen_address() {
    for bad in ["localhost", "9122", "0.0.0.0:99999", "http://0.0.0.0:9122"] {
        refused(
            &format!("\nlisten = \"{bad}\"\n"),
            &["test.toml, line 2", "`listen`", "expected IP:PORT"],
        );
    }
}

#[test]
fn refuses_bad_label_names() {
    for (name, why) in [
        ("1team", "invalid label name"),
        ("\"team-name\"", "invalid label name"),
        ("\"\"", "invalid label name"),
        ("__meta", "reserved by Prometheus"),
    ] {
        refused(
            &format!(
                "[[targets]]\nname = \"a\"\nurl = \"redis://h\"\n\
                 labels = {{ ok = \"1\",\n  {name} = \"x\" }}\n"
            ),
            &["test.toml, line 5", "target \"a\"", "`labels`", why],
        );
    }
    refused(
        "[[targets]]\nname = \"a\"\nurl = \"redis://h\"\n[targets.labels]\nteam = \"\"\n",
        &["test.toml, line 5", "empty value"],
    );
}

#[test]
fn refuses_bad_log_settings() {
    refused(
        "log_format = \"xml\"\n",
        &["test.toml, line 1", "`log_format`", "text or json"],
    );
    refused(
        "\nlog_level = \"info,[[[\"\n",
        &["test.toml, line 2", "`log_level`", "invalid log filter"],
    );
    let e = load_full(&["--log-level", "=="], &no_env, None)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("command-line flag --log-level") && e.contains("`log_level`"),
        "{e}"
    );
}

#[test]
fn refuses_empty_target_name_and_bad_config_command() {
    refused(
        "[[targets]]\nname = \" \"\nurl = \"redis://h\"\n",
        &["test.toml, line 2", "`name`", "empty"],
    );
    refused(
        "[[targets]]\nname = \"a\"\nurl = \"redis://h\"\nconfig_command = \"CONFIG GET\"\n",
        &["test.toml, line 4", "`config_command`"],
    );
}

#[test]
fn refuses_unreadable_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing.toml");
    let c = cli(&["--config", path.to_str().unwrap()]);
    let e = c.load_with_env(&no_env).unwrap_err();
    assert!(matches!(e, ConfigError::ReadFile { .. }));
    assert!(e.to_string().contains(&path.display().to_string()), "{e}");
}

// ---- precedence: flag > env > file > default ------------------------------------------------

const PRECEDENCE_FILE: &str = "listen = \"127.0.0.1:1001\"\npoll_interval = \"21s\"\n\
                               timeout = \"1s\"\nlog_format = \"json\"\nlog_level = \"debug\"\n\
                               [[targets]]\nname = \"f\"\nurl = \"redis://f\"\n";

fn all_env() -> impl Fn(&str) -> Option<String> + use<> {
    env_of(&[
        ("REDIS_CACHE_EXPORTER_LISTEN", "127.0.0.1:2002"),
        ("REDIS_CACHE_EXPORTER_POLL_INTERVAL", "22s"),
        ("REDIS_CACHE_EXPORTER_TIMEOUT", "2s"),
        ("REDIS_CACHE_EXPORTER_LOG_FORMAT", "text"),
        ("REDIS_CACHE_EXPORTER_LOG_LEVEL", "warn"),
        ("REDIS_CACHE_EXPORTER_REDIS", "redis://e1, redis://e2:6380"),
    ])
}

const ALL_FLAGS: &[&str] = &[
    "--listen",
    "127.0.0.1:3003",
    "--poll-interval",
    "23s",
    "--timeout",
    "3s",
    "--log-format",
    "json",
    "--log-level",
    "error",
    "--redis",
    "redis://c1",
];

#[test]
fn file_beats_defaults() {
    let c = load_full(&[], &no_env, Some(PRECEDENCE_FILE)).unwrap();
    assert_eq!(c.listen.port(), 1001);
    assert_eq!(c.poll_interval, Duration::from_secs(21));
    assert_eq!(c.timeout, Duration::from_secs(1));
    assert_eq!(c.log_format, LogFormat::Json);
    assert_eq!(c.log_level, "debug");
    let names: Vec<_> = c.targets.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["f"]);
    assert_eq!(c.targets[0].poll_interval, Duration::from_secs(21));
    assert_eq!(c.targets[0].timeout, Duration::from_secs(1));
}

#[test]
fn env_beats_file() {
    let c = load_full(&[], &all_env(), Some(PRECEDENCE_FILE)).unwrap();
    assert_eq!(c.listen.port(), 2002);
    assert_eq!(c.poll_interval, Duration::from_secs(22));
    assert_eq!(c.timeout, Duration::from_secs(2));
    assert_eq!(c.log_format, LogFormat::Text);
    assert_eq!(c.log_level, "warn");
    // Environment targets are added after the file's.
    let names: Vec<_> = c.targets.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["f", "e1:6379", "e2:6380"]);
    assert!(
        c.targets
            .iter()
            .all(|t| t.poll_interval == Duration::from_secs(22))
    );
    assert!(
        c.targets
            .iter()
            .all(|t| t.timeout == Duration::from_secs(2))
    );
}

#[test]
fn flags_beat_env() {
    let c = load_full(ALL_FLAGS, &all_env(), Some(PRECEDENCE_FILE)).unwrap();
    assert_eq!(c.listen.port(), 3003);
    assert_eq!(c.poll_interval, Duration::from_secs(23));
    assert_eq!(c.timeout, Duration::from_secs(3));
    assert_eq!(c.log_format, LogFormat::Json);
    assert_eq!(c.log_level, "error");
    // --redis replaces REDIS_CACHE_EXPORTER_REDIS and is added to the file's targets.
    let names: Vec<_> = c.targets.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["f", "c1:6379"]);
}

#[test]
fn per_target_interval_beats_global_flags() {
    let c = load_full(
        &["--poll-interval", "1m"],
        &no_env,
        Some(
            "[[targets]]\nname = \"a\"\nurl = \"redis://h\"\npoll_interval = \"30s\"\n\
             [[targets]]\nname = \"b\"\nurl = \"redis://h\"\n",
        ),
    )
    .unwrap();
    assert_eq!(c.targets[0].poll_interval, Duration::from_secs(30));
    assert_eq!(c.targets[1].poll_interval, Duration::from_secs(60));
}

#[test]
fn env_values_are_validated_naming_the_variable() {
    for (var, value, key) in [
        ("REDIS_CACHE_EXPORTER_LISTEN", "nowhere", "`listen`"),
        (
            "REDIS_CACHE_EXPORTER_POLL_INTERVAL",
            "0s",
            "`poll_interval`",
        ),
        ("REDIS_CACHE_EXPORTER_TIMEOUT", "soon", "`timeout`"),
        ("REDIS_CACHE_EXPORTER_LOG_FORMAT", "xml", "`log_format`"),
        ("REDIS_CACHE_EXPORTER_LOG_LEVEL", "[[[", "`log_level`"),
        ("REDIS_CACHE_EXPORTER_REDIS", "http://h", "`url`"),
    ] {
        let env = env_of(&[(var, value)]);
        let e = load_full(&[], &env, None).unwrap_err().to_string();
        assert!(e.contains(&format!("environment variable {var}")), "{e}");
        assert!(e.contains(key), "{e}");
    }
}

#[test]
fn empty_env_values_count_as_unset() {
    let env = env_of(&[
        ("REDIS_CACHE_EXPORTER_LISTEN", ""),
        ("REDIS_CACHE_EXPORTER_REDIS", " "),
        ("REDIS_CACHE_EXPORTER_CONFIG", ""),
    ]);
    let c = cli(&[]).load_with_env(&env).unwrap();
    assert_eq!(c.listen, DEFAULT_LISTEN);
    assert_eq!(c.targets[0].name, "127.0.0.1:6379");
}

#[test]
fn config_file_from_flag_and_from_env() {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(b"[[targets]]\nname = \"from-file\"\nurl = \"redis://h\"\n")
        .unwrap();
    let path = f.path().to_str().unwrap().to_string();

    let c = cli(&["--config", &path]).load_with_env(&no_env).unwrap();
    assert_eq!(c.targets[0].name, "from-file");

    let env = env_of(&[("REDIS_CACHE_EXPORTER_CONFIG", path.as_str())]);
    let c = cli(&[]).load_with_env(&env).unwrap();
    assert_eq!(c.targets[0].name, "from-file");

    // Errors from a real file name that file.
    let mut bad = tempfile::NamedTempFile::new().unwrap();
    bad.write_all(b"\ntimeout = \"x\"\n").unwrap();
    let e = cli(&["--config", bad.path().to_str().unwrap()])
        .load_with_env(&no_env)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(&format!("{}, line 2", bad.path().display())),
        "{e}"
    );
}

// ---- --redis -----------------------------------------------------------------------------

#[test]
fn redis_flag_targets_are_named_without_credentials() {
    let c = load_full(
        &[
            "--redis",
            "redis://exporter:hunter2@cache-1:6380/2",
            "--redis",
            "redis://cache-2",
            "--redis",
            "unix:///run/redis/redis.sock",
            "--redis",
            "redis+unix:///tmp/r.sock?db=1",
            "--redis",
            "redis://[::1]:7000",
            "--redis",
            "rediss://tls-host",
        ],
        &no_env,
        None,
    )
    .unwrap();
    let names: Vec<_> = c.targets.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "cache-1:6380",
            "cache-2:6379",
            "/run/redis/redis.sock",
            "/tmp/r.sock",
            "[::1]:7000",
            "tls-host:6379"
        ]
    );
    assert!(c.targets.iter().all(|t| t.cache && t.labels.is_empty()));
    let first = &c.targets[0].connection;
    assert_eq!(first.redis_settings().username(), Some("exporter"));
    assert_eq!(first.redis_settings().password(), Some(SECRET));
    assert_eq!(first.redis_settings().db(), 2);
    assert_eq!(c.targets[3].connection.redis_settings().db(), 1);
    assert!(matches!(
        c.targets[5].connection.addr(),
        ConnectionAddr::TcpTls { .. }
    ));
}

#[test]
fn redis_flag_duplicating_a_file_target_is_refused() {
    let e = load_full(
        &["--redis", "redis://h:6379"],
        &no_env,
        Some("\n[[targets]]\nname = \"h:6379\"\nurl = \"redis://h\"\n"),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("duplicate target name \"h:6379\""), "{e}");
    assert!(
        e.contains("test.toml, line 3") && e.contains("--redis"),
        "{e}"
    );
}

#[test]
fn tls_stack_has_exactly_one_crypto_provider() {
    // redis builds its rustls client config with `ClientConfig::builder()`, which panics at
    // connect time unless exactly one crypto provider is compiled in (ours: ring).
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    assert!(!config.crypto_provider().cipher_suites.is_empty());
}

// ---- unix sockets and passwords ----------------------------------------------------------

#[test]
fn unix_socket_urls() {
    let c = load_str(
        "[[targets]]\nname = \"sock\"\nurl = \"unix:///var/run/redis/redis-server.sock\"\n\
         [[targets]]\nname = \"sock2\"\nurl = \"redis+unix:///tmp/r.sock?db=2&pass=hunter2\"\n",
    )
    .unwrap();
    assert_eq!(
        c.targets[0].connection.addr(),
        &ConnectionAddr::Unix("/var/run/redis/redis-server.sock".into())
    );
    let t = &c.targets[1];
    assert_eq!(
        t.connection.addr(),
        &ConnectionAddr::Unix("/tmp/r.sock".into())
    );
    assert_eq!(t.connection.redis_settings().db(), 2);
    assert_eq!(t.connection.redis_settings().password(), Some(SECRET));
    assert_eq!(t.redacted_url(), "redis+unix:///tmp/r.sock?db=2&pass=***");
}

#[test]
fn password_from_env_and_file_reach_the_connection() {
    let pw = password_file(&format!("{SECRET}\r\n"));
    let env = env_of(&[("REDIS_PW", SECRET)]);
    let c = build(
        &Flags::default(),
        &env,
        Some((
            Path::new(FILE),
            &format!(
                "[[targets]]\nname = \"file\"\nurl = \"redis://h\"\npassword_file = \"{}\"\n\
                 [[targets]]\nname = \"env\"\nurl = \"redis://h\"\npassword_env = \"REDIS_PW\"\n\
                 username = \"acl-user\"\n\
                 [[targets]]\nname = \"url\"\nurl = \"redis://:hunter2@h\"\n",
                toml_path(pw.path())
            ),
        )),
    )
    .unwrap();
    for t in &c.targets {
        assert_eq!(
            t.connection.redis_settings().password(),
            Some(SECRET),
            "{}",
            t.name
        );
    }
    assert_eq!(
        c.targets[1].connection.redis_settings().username(),
        Some("acl-user")
    );
    // Only trailing newlines are trimmed: a password may end in spaces.
    let spaced = password_file("pw \n");
    let c = load_str(&format!(
        "[[targets]]\nname = \"a\"\nurl = \"redis://h\"\npassword_file = \"{}\"\n",
        toml_path(spaced.path())
    ))
    .unwrap();
    assert_eq!(
        c.targets[0].connection.redis_settings().password(),
        Some("pw ")
    );
}

// ---- secrets -------------------------------------------------------------------------------

#[test]
fn redacted_url_hides_the_password_only() {
    let c = load_full(
        &[
            "--redis",
            "redis://exporter:hunter2@cache-1:6380/2",
            "--redis",
            "rediss://:hunter2@cache-2",
            "--redis",
            "redis://cache-3:6379",
        ],
        &no_env,
        None,
    )
    .unwrap();
    assert_eq!(
        c.targets[0].redacted_url(),
        "redis://exporter:***@cache-1:6380/2"
    );
    assert_eq!(c.targets[1].redacted_url(), "rediss://:***@cache-2");
    assert_eq!(c.targets[2].redacted_url(), "redis://cache-3:6379");
    assert_eq!(redis_url::redact("not a url hunter2"), "<unparseable URL>");
}

#[test]
fn debug_output_never_shows_secrets() {
    let pw = password_file(SECRET);
    let env = env_of(&[("PW", SECRET)]);
    let c = build(
        &cli(&["--redis", "redis://u:hunter2@h:1"]).flags(),
        &env,
        Some((
            Path::new(FILE),
            &format!(
                "[[targets]]\nname = \"url\"\nurl = \"redis://:hunter2@h\"\n\
                 [[targets]]\nname = \"file\"\nurl = \"redis://h\"\npassword_file = \"{}\"\n\
                 [[targets]]\nname = \"env\"\nurl = \"redis://h\"\npassword_env = \"PW\"\n\
                 [[targets]]\nname = \"sock\"\nurl = \"unix:///s.sock?pass=hunter2\"\n",
                toml_path(pw.path())
            ),
        )),
    )
    .unwrap();
    let debug = format!("{c:?} {c:#?}");
    assert!(!debug.contains(SECRET), "{debug}");
    assert!(debug.contains("password: Some(\"***\")"), "{debug}");
    assert_eq!(c.targets.len(), 5);
    let cli_debug = format!("{:?}", cli(&["--redis", "redis://u:hunter2@h:1"]));
    assert!(
        !cli_debug.contains(SECRET) && cli_debug.contains("***"),
        "{cli_debug}"
    );
}

#[test]
fn no_error_shows_secrets() {
    let pw = password_file(SECRET);
    let pw_path = toml_path(pw.path());
    let env = env_of(&[
        ("PW", SECRET),
        ("REDIS_CACHE_EXPORTER_REDIS", "http://:hunter2@h"),
    ]);
    let target =
        |extra: &str| format!("[[targets]]\nname = \"a\"\nurl = \"redis://:hunter2@h\"\n{extra}");
    let cases = [
        target("poll_interval = \"0s\"\n"),
        target("timeout = \"1h\"\n"),
        target(&format!("password_file = \"{pw_path}\"\n")),
        target("password_env = \"PW\"\n"),
        target("labels = { job = \"hunter\" }\n"),
        target("username = \"u\"\nconfig_command = \"a b\"\n"),
        target("[[targets]]\nname = \"a\"\nurl = \"redis://:hunter2@h\"\n"),
        target("bogus = 1\n"),
        target("cache = \"yes\"\n"),
        "[[targets]]\nname = \"a\"\nurl = \"redis://:hunter2@h:70000\"\n".to_string(),
        "[[targets]]\nname = \"a\"\nurl = \"http://:hunter2@h\"\n".to_string(),
        "[[targets]]\nname = \"a\"\nurl = \"redis://:hunter2@[::1\"\n".to_string(),
        "[[targets]]\nname = \"a\"\nurl = \"redis://:hunter2@h\"\n[[targets]\n".to_string(),
        "password = \"hunter2\"\n".to_string(),
    ];
    for toml in &cases {
        // As at start: the reserved labels are refused where config meets the metric table.
        let e = build(&Flags::default(), &no_env, Some((Path::new(FILE), toml)))
            .and_then(crate::cli::with_our_labels_refused)
            .expect_err(toml);
        let shown = format!("{e} {e:?}");
        assert!(!shown.contains(SECRET), "{toml:?} gave {shown}");
    }
    // The environment's --redis list and the flag.
    for (args, env) in [
        (&[][..], &env as &dyn Fn(&str) -> Option<String>),
        (&["--redis", "redis://:hunter2@h/x"][..], &no_env),
    ] {
        let e = build(&cli(args).flags(), env, None).expect_err("bad url");
        let shown = format!("{e} {e:?}");
        assert!(!shown.contains(SECRET), "{shown}");
    }
}

#[test]
fn cluster_entries_take_url_and_seeds() {
    let c = load_str(
        r#"
[[targets]]
name = "shop"
cluster = true
url = "redis://app:pw@10.0.0.1:7000"
seeds = ["redis://10.0.0.2:7001", "redis://10.0.0.3"]
"#,
    )
    .unwrap();
    let t = &c.targets[0];
    assert_eq!(
        t.discovery,
        Some(Discovery::Cluster {
            seeds: vec![
                ("10.0.0.1".into(), 7000),
                ("10.0.0.2".into(), 7001),
                ("10.0.0.3".into(), 6379)
            ]
        })
    );
    // The entry's credentials are the template for every node.
    assert_eq!(t.connection.redis_settings().username(), Some("app"));
    let only_seeds = load_str(
        "[[targets]]\nname = \"s\"\ncluster = true\nseeds = [\"redis://10.0.0.2:7001\"]\n",
    )
    .unwrap();
    assert_eq!(only_seeds.targets[0].url, "redis://10.0.0.2:7001");
}

#[test]
fn discovery_keys_refused_where_they_make_no_sense() {
    refused(
        "[[targets]]\nname = \"a\"\ncluster = true\n",
        &["line 2", "target \"a\"", "`url`", "needs a seed"],
    );
    refused(
        "[[targets]]\nname = \"a\"\nurl = \"redis://h\"\nseeds = [\"redis://g\"]\n",
        &["line 4", "`seeds`", "cluster = true"],
    );
    refused(
        "[[targets]]\nname = \"a\"\n",
        &["line 2", "`url`", "missing"],
    );
    refused(
        "[[targets]]\nname = \"a\"\ncluster = true\nseeds = [\"unix:///tmp/r.sock\"]\n",
        &["`seeds`", "TCP address"],
    );
    refused(
        "[[targets]]\nname = \"a\"\ncluster = true\nurl = \"redis://h\"\n\
         sentinel = [\"redis://s:26379\"]\nmaster_name = \"m\"\n",
        &["`sentinel`", "not both"],
    );
    refused(
        "[[targets]]\nname = \"a\"\nsentinel = [\"redis://s:26379\"]\n",
        &["`master_name`"],
    );
    refused(
        "[[targets]]\nname = \"a\"\nurl = \"redis://h\"\nmaster_name = \"m\"\n",
        &["`master_name`", "sentinel"],
    );
}

#[test]
fn web_users_load_and_stay_out_of_debug() {
    let hash = bcrypt::hash("pw", 4).unwrap();
    let c = load_str(&format!(
        "[[targets]]\nname = \"a\"\nurl = \"redis://127.0.0.1:1\"\n[web]\n\
         basic_auth_users = {{ prom = \"{hash}\" }}\n"
    ))
    .unwrap();
    assert_eq!(c.web.basic_auth_users.get("prom"), Some(&hash));
    assert_eq!(c.web.tls, None);
    let debug = format!("{c:?}");
    assert!(debug.contains("prom") && !debug.contains(&hash), "{debug}");
    let err = refused(
        "[[targets]]\nname = \"a\"\nurl = \"redis://127.0.0.1:1\"\n[web]\n\
         basic_auth_users = { prom = \"plaintext-password\" }\n",
        &[
            "test.toml, line 5",
            "`web.basic_auth_users`",
            "not a bcrypt hash",
        ],
    );
    assert!(!err.contains("plaintext-password"), "{err}");
}
