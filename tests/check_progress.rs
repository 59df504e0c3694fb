//! `check`'s countdown while it samples, against a real redis-server: under a pseudo-terminal
//! (`script` from util-linux) stderr shows the bar and the seconds left, then the report; with
//! stderr not a terminal nothing but the report is printed.

mod support;

use std::process::Command;

use support::{RedisServer, require_binary};

const EXE: &str = env!("CARGO_BIN_EXE_redis-cache-exporter");

#[test]
fn a_terminal_sees_the_countdown_and_then_the_report() {
    let script = require_binary("script", "bsdutils");
    let r = RedisServer::start(&["--maxmemory", "10mb", "--maxmemory-policy", "allkeys-lru"]);
    // `script` runs the command on a new pseudo-terminal (stdin, stdout and stderr) and copies
    // what it writes to our stdout; -e returns the command's exit status.
    let command = format!("{EXE} check {} --duration 3s", r.url());
    let out = Command::new(script)
        .args(["-qec", &command, "/dev/null"])
        .env("TERM", "xterm")
        .output()
        .expect("run check under script");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("sampling INFO ["),
        "no progress bar on the terminal: {text:?}"
    );
    for left in ["3 s left", "2 s left", "1 s left"] {
        assert!(
            text.contains(left),
            "the countdown lacks {left:?}: {text:?}"
        );
    }
    // The report's first line is "TARGET: VERDICT over N s (server)".
    let bar = text.rfind("s left").unwrap_or_default();
    let report = text
        .rfind(" over ")
        .unwrap_or_else(|| panic!("no report on the terminal: {text:?}"));
    assert!(
        bar < report,
        "the report came before the end of the countdown: {text:?}"
    );
    assert!(
        matches!(out.status.code(), Some(0..=2)),
        "check failed under a terminal ({:?}): {text:?}",
        out.status
    );
}

#[test]
fn without_a_terminal_nothing_extra_is_printed() {
    let r = RedisServer::start(&["--maxmemory", "10mb", "--maxmemory-policy", "allkeys-lru"]);
    for format in ["text", "json"] {
        let out = Command::new(EXE)
            .args(["check", &r.url(), "--duration", "2s", "--format", format])
            .output()
            .expect("run check");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stderr.is_empty(),
            "{format}: stderr is not a terminal, yet: {stderr:?}"
        );
        assert!(
            !stdout.contains("s left"),
            "{format}: countdown in the report: {stdout:?}"
        );
        if format == "json" {
            let report: serde_json::Value = serde_json::from_str(&stdout)
                .unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"));
            assert!(report["verdict"].is_string(), "{report}");
        }
    }
}
