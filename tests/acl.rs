//! Least-privilege ACL users against real redis-servers (Debian's 7.x and the Redis 6.2 build):
//! a user with exactly the permissions of the docs/security.md recipe gets full metrics and is
//! never denied a command (the server's ACL LOG stays empty); a user without CONFIG permission
//! still gets up=1 with maxmemory and the policy from INFO memory, and CONFIG is tried once,
//! never again.

mod support;

use std::time::Duration;

use support::servers::{ServerKind, server_binary};
use support::{Exporter, RedisServer, sample, wait_polls, wait_up};

/// The recipe in docs/security.md: the exporter's user may run INFO and CONFIG GET, nothing
/// else, on no key and no channel.
const RECIPE: &[&str] = &[
    "ACL",
    "SETUSER",
    "exporter",
    "reset",
    "on",
    ">exporter-pw",
    "-@all",
    "+info",
    "+config|get",
];

/// The same user without CONFIG (as on managed services that block it).
const INFO_ONLY: &[&str] = &[
    "ACL",
    "SETUSER",
    "exporter",
    "reset",
    "on",
    ">exporter-pw",
    "-@all",
    "+info",
];

const MAXMEMORY: &str = "10485760";

fn start(server: Option<&std::path::Path>) -> RedisServer {
    let args = [
        "--maxmemory",
        MAXMEMORY,
        "--maxmemory-policy",
        "allkeys-lru",
    ];
    match server {
        Some(bin) => RedisServer::start_binary(bin, &args),
        None => RedisServer::start(&args),
    }
}

fn exporter_as_user(r: &RedisServer) -> (Exporter, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "exporter-pw\n").unwrap();
    let e = Exporter::start(&format!(
        "poll_interval = \"500ms\"\n[[targets]]\nname = \"c\"\nurl = \"{}\"\n\
         username = \"exporter\"\npassword_file = \"{}\"\n",
        r.url(),
        pw.display()
    ));
    (e, dir)
}

/// Number of ACL LOG entries and the total of their `count` fields.
fn acl_denials(r: &RedisServer) -> (usize, u64) {
    let log = r.cmd(&["ACL", "LOG"]);
    let lines: Vec<&str> = log.split("\r\n").collect();
    let mut entries = 0;
    let mut total = 0;
    for (i, l) in lines.iter().enumerate() {
        if *l == "count" {
            entries += 1;
            total += lines
                .get(i + 1)
                .and_then(|v| v.strip_prefix(':'))
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    (entries, total)
}

fn assert_full_metrics(m: &str) {
    assert_eq!(sample(m, "redis_up{target=\"c\"}"), Some(1.0), "{m}");
    assert_eq!(
        sample(m, "redis_memory_max_bytes{target=\"c\"}"),
        Some(MAXMEMORY.parse().unwrap()),
        "{m}"
    );
    assert_eq!(
        sample(
            m,
            "redis_maxmemory_policy_info{target=\"c\",policy=\"allkeys-lru\"}"
        ),
        Some(1.0),
        "{m}"
    );
    assert!(
        sample(m, "redis_commands_total{target=\"c\",cmd=\"info\"}").is_some(),
        "commandstats: {m}"
    );
    assert!(
        sample(
            m,
            "redis_memory_pressure_ratio{target=\"c\",limit=\"maxmemory\"}"
        )
        .is_some(),
        "{m}"
    );
    for kind in ["connect", "timeout", "auth", "protocol", "command"] {
        assert_eq!(
            sample(
                m,
                &format!("redis_exporter_poll_errors_total{{target=\"c\",kind=\"{kind}\"}}")
            ),
            Some(0.0),
            "{kind} errors: {m}"
        );
    }
}

fn recipe_user_gets_everything(server: Option<&std::path::Path>) {
    let r = start(server);
    assert!(r.cmd(RECIPE).starts_with("+OK"), "ACL SETUSER");
    let (e, _pw) = exporter_as_user(&r);
    wait_up(&e, "c", 1.0);
    let m = wait_polls(&e, "c", 3.0);
    assert_full_metrics(&m);
    assert_eq!(
        acl_denials(&r),
        (0, 0),
        "the recipe allows every command the exporter sends: {}",
        r.cmd(&["ACL", "LOG"])
    );
    // The check can fail: the same user is denied a command outside the recipe.
    if server.is_none() {
        let dry = r.cmd(&[
            "ACL",
            "DRYRUN",
            "exporter",
            "CONFIG",
            "SET",
            "maxmemory",
            "1",
        ]);
        assert!(dry.contains("no permissions"), "ACL DRYRUN: {dry}");
    }
}

fn user_without_config(server: Option<&std::path::Path>) {
    let r = start(server);
    assert!(r.cmd(INFO_ONLY).starts_with("+OK"), "ACL SETUSER");
    let (e, _pw) = exporter_as_user(&r);
    wait_up(&e, "c", 1.0);
    let m = wait_polls(&e, "c", 4.0);
    // maxmemory and the policy come from INFO memory.
    assert_full_metrics(&m);
    let (entries, count) = acl_denials(&r);
    assert_eq!(
        (entries, count),
        (1, 1),
        "CONFIG GET denied once, then never sent again: {}",
        r.cmd(&["ACL", "LOG"])
    );
    let log = r.cmd(&["ACL", "LOG"]);
    assert!(log.contains("config"), "{log}");
}

#[test]
fn recipe_user_gets_full_metrics_redis7() {
    recipe_user_gets_everything(None);
}

#[test]
fn recipe_user_gets_full_metrics_redis62() {
    recipe_user_gets_everything(Some(&server_binary(ServerKind::Redis62)));
}

#[test]
fn user_without_config_permission_stays_up_redis7() {
    user_without_config(None);
}

#[test]
fn user_without_config_permission_stays_up_redis62() {
    user_without_config(Some(&server_binary(ServerKind::Redis62)));
}

#[test]
fn wrong_password_is_an_auth_error() {
    let r = start(None);
    assert!(r.cmd(RECIPE).starts_with("+OK"));
    assert!(
        r.cmd(&["ACL", "SETUSER", "exporter", "resetpass", ">changed"])
            .starts_with("+OK")
    );
    let (e, _pw) = exporter_as_user(&r);
    let m = support::wait_for("an auth error", Duration::from_secs(10), || {
        let m = e.metrics();
        (sample(
            &m,
            "redis_exporter_poll_errors_total{target=\"c\",kind=\"auth\"}",
        ) >= Some(1.0))
        .then_some(m)
    });
    assert_eq!(sample(&m, "redis_up{target=\"c\"}"), Some(0.0), "{m}");
}

#[test]
fn recipe_user_through_the_scrape_endpoint() {
    let r = start(None);
    assert!(r.cmd(RECIPE).starts_with("+OK"));
    let seed = RedisServer::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "exporter-pw\n").unwrap();
    let e = Exporter::start(&format!(
        "poll_interval = \"500ms\"\n[scrape]\nallow = [\"redis://127.0.0.1:*\"]\n\
         [[scrape.credentials]]\npattern = \"redis://127.0.0.1:{}\"\nusername = \"exporter\"\n\
         password_file = \"{}\"\n\
         [[targets]]\nname = \"seed\"\nurl = \"{}\"\n",
        r.port,
        pw.display(),
        seed.url()
    ));
    let t = format!("redis://127.0.0.1:{}", r.port);
    let m = support::wait_for("two polls through /scrape", Duration::from_secs(10), || {
        let (status, body) =
            support::http_get(e.port, &format!("/scrape?target=127.0.0.1:{}", r.port)).ok()?;
        assert_eq!(status, 200, "{body}");
        (sample(
            &body,
            &format!("redis_exporter_polls_total{{target=\"{t}\"}}"),
        ) >= Some(2.0))
        .then_some(body)
    });
    assert_eq!(
        sample(&m, &format!("redis_up{{target=\"{t}\"}}")),
        Some(1.0),
        "{m}"
    );
    assert_eq!(
        sample(&m, &format!("redis_memory_max_bytes{{target=\"{t}\"}}")),
        Some(MAXMEMORY.parse().unwrap()),
        "{m}"
    );
    assert_eq!(acl_denials(&r), (0, 0), "{}", r.cmd(&["ACL", "LOG"]));
}
