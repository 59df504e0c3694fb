//! The status page at `/`, rendered by headless Chromium (Debian's `chromium`) from a running
//! exporter that polls two real redis-server processes (a healthy cache and one evicting keys)
//! and one address where nothing listens.
//!
//! Checks the DOM Chromium builds (not just the HTML text): a row per target with its state,
//! the hit ratio with an SVG sparkline, memory pressure, evictions, policy and the verdicts.
//! Also takes a screenshot; `UPDATE_SCREENSHOT=1 cargo test --test status_page` copies it to
//! `docs/status-page.png` for docs/dashboards.md.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use support::{Exporter, RedisServer, free_port, require_binary, sample, wait_for};

fn chromium(args: &[&str], profile: &Path) -> std::process::Output {
    let bin = require_binary("chromium", "chromium");
    Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .output()
        .expect("run chromium")
}

fn cmds(n: usize, f: impl Fn(usize) -> Vec<String>) -> Vec<Vec<String>> {
    (0..n).map(f).collect()
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn status_page_in_headless_chromium() {
    let healthy = RedisServer::start(&["--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru"]);
    let evicting = RedisServer::start(&["--maxmemory", "3mb", "--maxmemory-policy", "allkeys-lru"]);
    let nowhere = free_port();
    let exporter = Exporter::start(&format!(
        "poll_interval = \"1s\"\ntimeout = \"500ms\"\n\
         [[targets]]\nname = \"sessions-cache\"\nurl = \"{}\"\n\
         [[targets]]\nname = \"catalog-cache\"\nurl = \"{}\"\n\
         [[targets]]\nname = \"gone\"\nurl = \"redis://127.0.0.1:{nowhere}\"\n",
        healthy.url(),
        evicting.url()
    ));

    // Traffic over several polls, so the sparkline has points: each round waits for a poll of
    // both caches counted after its traffic began, and the next round follows at once, so no
    // poll interval goes without traffic.
    let polls = |target: &str| {
        let sel = format!("redis_exporter_polls_total{{target=\"{target}\"}}");
        sample(&exporter.metrics(), &sel).unwrap_or(0.0)
    };
    let value = "x".repeat(1000);
    healthy.pipeline(&cmds(300, |i| {
        strs(&["SET", &format!("s:{i}"), "v", "EX", "3600"])
    }));
    for round in 0..6 {
        let before = [polls("sessions-cache"), polls("catalog-cache")];
        healthy.pipeline(&cmds(300, |i| {
            strs(&["GET", &format!("s:{}", (i + round) % 300)])
        }));
        evicting.pipeline(&cmds(1500, |i| {
            strs(&["SET", &format!("c:{round}:{i}"), &value, "EX", "3600"])
        }));
        evicting.pipeline(&cmds(1500, |i| strs(&["GET", &format!("c:{round}:{i}")])));
        wait_for(
            "a poll of both caches after this round's traffic",
            Duration::from_secs(20),
            || {
                (polls("sessions-cache") > before[0] && polls("catalog-cache") > before[1])
                    .then_some(())
            },
        );
    }
    support::wait_polls(&exporter, "sessions-cache", 1.0);

    let profile = tempfile::tempdir().expect("chromium profile dir");
    let url = format!("http://127.0.0.1:{}/", exporter.port);
    let out = chromium(&["--dump-dom", &url], profile.path());
    let dom = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && dom.contains("</table>"),
        "chromium --dump-dom failed: {}\n{dom}",
        String::from_utf8_lossy(&out.stderr)
    );

    let row = |name: &str| -> String {
        let start = dom
            .find(&format!("<td>{name}</td>"))
            .unwrap_or_else(|| panic!("no row for {name}:\n{dom}"));
        let end = dom[start..].find("</tr>").expect("row closes") + start;
        dom[start..end].to_string()
    };
    let h = row("sessions-cache");
    assert!(h.contains("class=\"up\">up<"), "{h}");
    assert!(h.contains("100.0 %"), "all lookups hit: {h}");
    assert!(
        h.contains("<svg") && h.contains("<polyline"),
        "sparkline: {h}"
    );
    assert!(h.contains("allkeys-lru"), "{h}");
    assert!(h.contains("class=\"v ok\">ok<"), "healthy verdict: {h}");
    assert!(h.contains("% of maxmemory"), "{h}");

    let e = row("catalog-cache");
    assert!(e.contains("class=\"up\">up<"), "{e}");
    assert!(e.contains("class=\"v critical\">critical<"), "{e}");
    assert!(e.contains("hit_ratio") && e.contains("evictions"), "{e}");
    let evicted: u64 = evicting
        .info_field("evicted_keys")
        .parse()
        .expect("evicted_keys");
    assert!(evicted > 0);

    let g = row("gone");
    assert!(g.contains("class=\"down\">down<"), "{g}");
    assert!(g.contains("never"), "{g}");

    // Nothing on the page loads from elsewhere.
    assert!(
        !dom.contains("src=\"http") && !dom.contains("href=\"http"),
        "{dom}"
    );

    // A screenshot, as a person would see the page.
    let shot = profile.path().join("status-page.png");
    let out = chromium(
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1200,600",
            &url,
        ],
        profile.path(),
    );
    let png = wait_for("the screenshot file", Duration::from_secs(5), || {
        std::fs::read(&shot).ok().filter(|b| b.len() > 1000)
    });
    assert!(
        out.status.success() && png.starts_with(b"\x89PNG\r\n\x1a\n"),
        "screenshot failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    if std::env::var_os("UPDATE_SCREENSHOT").is_some_and(|v| v == "1") {
        let dest = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/status-page.png");
        std::fs::write(&dest, &png).expect("write docs/status-page.png");
    }
}
