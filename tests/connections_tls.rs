//! Every kind of connection the exporter opens honours a private CA and a client certificate,
//! against real TLS servers (Debian's redis-server 7.0 with `--tls-port` and
//! `--tls-auth-clients yes`): the one connector used directly (the path a keyspace-event
//! subscriber takes: call, send, next_reply), the poller and the sampler, Cluster discovery (a
//! one-node TLS cluster holding every slot), Sentinel discovery (a TLS sentinel), `/scrape` of
//! a TLS target, and `check`. Each succeeds with the CA and the client certificate, and fails
//! with a clear TLS error without the client certificate or with the wrong CA.

mod support;

use std::process::Command;
use std::time::Duration;

use redis::IntoConnectionInfo;
use redis_cache_exporter::client::{CallKind, Connector, Endpoint, Value};
use redis_cache_exporter::config::tls::TlsFiles;
use support::certs::Pki;
use support::{Exporter, Proc, RedisServer, free_port, http_get, require_binary, sample, wait_for};

/// A TLS redis-server (plain port too, for the test's own setup) with `extra` flags. The
/// starter retries on a taken plain port; a taken TLS port is retried here, with a new one.
fn tls_server(pki: &Pki, extra: &[&str]) -> (RedisServer, u16) {
    let mut failures = Vec::new();
    for _ in 0..3 {
        let tls_port = free_port();
        let mut args = pki.server_args(tls_port);
        args.extend(extra.iter().map(std::string::ToString::to_string));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        match std::panic::catch_unwind(|| RedisServer::start(&args)) {
            Ok(r) => return (r, tls_port),
            Err(e) => failures.push(format!("TLS port {tls_port}: {e:?}")),
        }
    }
    panic!("no TLS redis-server started: {failures:?}");
}

/// The TLS files: the `ca` CA, the client certificate `cert` (none when `None`), the server
/// name the certificates carry.
fn files(pki: &Pki, ca: &str, cert: Option<&str>) -> TlsFiles {
    TlsFiles {
        ca_file: Some(pki.path(&format!("{ca}-ca.crt"))),
        cert_file: cert.map(|c| pki.path(&format!("{c}.crt"))),
        key_file: cert.map(|c| pki.path(&format!("{c}.key"))),
        server_name: Some("redis.test".into()),
        insecure: false,
    }
}

/// The same files as `tls_*` keys of a target.
fn keys(pki: &Pki, ca: &str, cert: Option<&str>) -> String {
    let mut k = format!(
        "tls_ca_file = \"{}\"\ntls_server_name = \"redis.test\"\n",
        pki.p(&format!("{ca}-ca.crt"))
    );
    if let Some(c) = cert {
        k += &format!(
            "tls_cert_file = \"{}\"\ntls_key_file = \"{}\"\n",
            pki.p(&format!("{c}.crt")),
            pki.p(&format!("{c}.key"))
        );
    }
    k
}

#[test]
fn the_connector_itself_calls_pipelines_and_reads_pushed_replies() {
    let pki = Pki::new();
    let (r, tls_port) = tls_server(&pki, &[]);
    let info = format!("rediss://127.0.0.1:{tls_port}")
        .into_connection_info()
        .unwrap();
    let connector = |ca: &str, cert: Option<&str>| {
        Connector::new(Endpoint::new(
            &info,
            Some(&files(&pki, ca, cert)),
            Duration::from_secs(3),
        ))
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut conn = connector("good", Some("client")).connect().await.unwrap();
        assert_eq!(
            conn.call(&[b"PING"]).await.unwrap(),
            Value::SimpleString("PONG".into())
        );
        let replies = conn
            .pipeline(&[
                vec![&b"SET"[..], b"k", b"v"],
                vec![b"GET", b"k"],
                vec![b"NOSUCH"],
            ])
            .await
            .unwrap();
        assert_eq!(replies.len(), 3);
        assert_eq!(
            replies[1].as_ref().unwrap(),
            &Value::BulkString(b"v".to_vec())
        );
        assert_eq!(replies[2].as_ref().unwrap_err().kind, CallKind::Command);
        // A subscription: the confirmation, then a message published on the plain port.
        conn.send(&[b"SUBSCRIBE", b"events"]).await.unwrap();
        let confirmed = conn.next_reply().await.unwrap();
        assert!(
            format!("{confirmed:?}").contains("subscribe"),
            "{confirmed:?}"
        );
        r.cmd(&["PUBLISH", "events", "hello"]);
        let message = tokio::time::timeout(Duration::from_secs(3), conn.next_reply())
            .await
            .expect("the message within 3 s")
            .unwrap();
        assert_eq!(
            message,
            Value::Array(vec![
                Value::BulkString(b"message".to_vec()),
                Value::BulkString(b"events".to_vec()),
                Value::BulkString(b"hello".to_vec()),
            ])
        );

        // Without a client certificate the server ends the session (TLS 1.3 reports it at
        // the first read).
        let no_cert = async {
            let mut c = connector("good", None).connect().await?;
            c.call(&[b"PING"]).await
        }
        .await
        .unwrap_err();
        assert_eq!(no_cert.kind, CallKind::Connect, "{no_cert}");
        assert!(no_cert.message.contains("CertificateRequired"), "{no_cert}");

        let wrong_ca = connector("other", Some("client"))
            .connect()
            .await
            .err()
            .expect("the wrong CA is refused");
        assert_eq!(wrong_ca.kind, CallKind::Connect, "{wrong_ca}");
        assert!(
            wrong_ca.message.contains("TLS handshake")
                && wrong_ca
                    .message
                    .contains("invalid peer certificate: UnknownIssuer"),
            "{wrong_ca}"
        );
    });
}

/// A one-node TLS cluster holding every slot; returns the server and its TLS port.
fn tls_cluster_node(pki: &Pki) -> (RedisServer, u16) {
    // The bus port is given: TLS port + 10 000 may belong to someone else.
    let bus = free_port().to_string();
    let (node, tls_port) = tls_server(
        pki,
        &[
            "--cluster-enabled",
            "yes",
            "--cluster-port",
            &bus,
            // A node that never met another does not know its own address.
            "--cluster-announce-ip",
            "127.0.0.1",
            "--tls-cluster",
            "yes",
            "--tls-replication",
            "yes",
        ],
    );
    node.cmd(&["CLUSTER", "ADDSLOTSRANGE", "0", "16383"]);
    wait_for("the cluster to be ok", Duration::from_secs(10), || {
        node.cmd(&["CLUSTER", "INFO"])
            .contains("cluster_state:ok")
            .then_some(())
    });
    (node, tls_port)
}

/// A TLS sentinel (its own TLS port only) monitoring `master_tls_port` over TLS.
fn tls_sentinel(pki: &Pki, master_tls_port: u16, dir: &std::path::Path) -> (Proc, u16) {
    let sport = free_port();
    let conf = dir.join("sentinel.conf");
    std::fs::write(
        &conf,
        format!(
            "port 0\nbind 127.0.0.1\ndir {}\ntls-port {sport}\ntls-cert-file {}\n\
             tls-key-file {}\ntls-ca-cert-file {}\ntls-auth-clients yes\ntls-replication yes\n\
             sentinel monitor m 127.0.0.1 {master_tls_port} 1\n",
            dir.display(),
            pki.p("server.crt"),
            pki.p("server.key"),
            pki.p("good-ca.crt"),
        ),
    )
    .unwrap();
    let mut cmd = Command::new(require_binary("redis-server", "redis-server"));
    cmd.arg(&conf)
        .arg("--sentinel")
        .stdout(std::process::Stdio::null());
    (Proc::spawn("redis-sentinel", &mut cmd), sport)
}

/// Waits until `ready` holds for a scrape; on timeout, fails showing the series that say
/// what is up and what failed.
fn wait_metrics(e: &Exporter, what: &str, ready: impl Fn(&str) -> bool) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let m = e.metrics();
        if ready(&m) {
            return m;
        }
        if std::time::Instant::now() > deadline {
            let shown: Vec<&str> = m
                .lines()
                .filter(|l| {
                    ["redis_up", "discovery_up", "poll_errors", "sampler_cycle"]
                        .iter()
                        .any(|k| l.contains(k))
                        && !l.starts_with('#')
                })
                .collect();
            panic!("timed out waiting for {what}:\n{}", shown.join("\n"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn poller_sampler_discovery_and_scrape_honour_the_ca_and_client_certificate() {
    let pki = Pki::new();
    let (_r, tls_port) = tls_server(&pki, &[]);
    let (_node, cluster_port) = tls_cluster_node(&pki);
    let (_master, master_port) = tls_server(&pki, &[]);
    let dir = tempfile::tempdir().unwrap();
    let (_sentinel, sentinel_port) = tls_sentinel(&pki, master_port, dir.path());
    let url = format!("rediss://127.0.0.1:{tls_port}");
    let good = keys(&pki, "good", Some("client"));
    let no_cert = keys(&pki, "good", None);
    let wrong_ca = keys(&pki, "other", Some("client"));
    let sampler = "[targets.sampler]\nenabled = true\ninterval = \"2s\"\n";
    let e = Exporter::start(&format!(
        "poll_interval = \"1s\"\ntimeout = \"900ms\"\n\
         [scrape]\nallow = [\"rediss://127.0.0.1:*\"]\n\
         [[targets]]\nname = \"good\"\nurl = \"{url}\"\n{good}{sampler}\
         [[targets]]\nname = \"no_cert\"\nurl = \"{url}/1\"\n{no_cert}{sampler}\
         [[targets]]\nname = \"wrong_ca\"\nurl = \"{url}/2\"\n{wrong_ca}\
         [[targets]]\nname = \"cluster\"\ncluster = true\n\
         url = \"rediss://127.0.0.1:{cluster_port}\"\n{good}\
         [[targets]]\nname = \"cluster_no_cert\"\ncluster = true\n\
         url = \"rediss://127.0.0.1:{cluster_port}\"\n{no_cert}\
         [[targets]]\nname = \"sentinel\"\nsentinel = [\"rediss://127.0.0.1:{sentinel_port}\"]\n\
         master_name = \"m\"\n{good}\
         [[targets]]\nname = \"sentinel_wrong_ca\"\n\
         sentinel = [\"rediss://127.0.0.1:{sentinel_port}\"]\nmaster_name = \"m\"\n{wrong_ca}"
    ));
    let cluster_member = format!("cluster/127.0.0.1:{cluster_port}");
    let sentinel_member = format!("sentinel/127.0.0.1:{master_port}");
    let m = wait_metrics(
        &e,
        "every TLS connection with the client certificate up",
        |m| {
            let up = |t: &str| sample(m, &format!("redis_up{{target=\"{t}\"}}")) == Some(1.0);
            let cycles = |t: &str| {
                sample(m, &format!("redis_sampler_cycles_total{{target=\"{t}\"}}")).unwrap_or(0.0)
            };
            up("good") && cycles("good") >= 1.0 && up(&cluster_member) && up(&sentinel_member)
        },
    );
    let discovery = |m: &str, t: &str, kind: &str| {
        sample(
            m,
            &format!("redis_exporter_discovery_up{{target=\"{t}\",kind=\"{kind}\"}}"),
        )
    };
    assert_eq!(discovery(&m, "cluster", "cluster"), Some(1.0), "{m}");
    assert_eq!(discovery(&m, "sentinel", "sentinel"), Some(1.0), "{m}");

    // Without the client certificate or with the wrong CA: nothing is reached, and the
    // healthy targets above keep being served.
    let m = wait_metrics(&e, "the failing TLS connections counted", |m| {
        let failed = |t: &str| {
            sample(
                m,
                &format!("redis_exporter_poll_errors_total{{target=\"{t}\",kind=\"connect\"}}"),
            )
            .unwrap_or(0.0)
                >= 2.0
        };
        let sampler_failed =
            sample(m, "redis_sampler_cycle_errors_total{target=\"no_cert\"}").unwrap_or(0.0) >= 1.0;
        failed("no_cert") && failed("wrong_ca") && sampler_failed
    });
    for t in ["no_cert", "wrong_ca"] {
        assert_eq!(
            sample(&m, &format!("redis_up{{target=\"{t}\"}}")),
            Some(0.0),
            "{m}"
        );
    }
    assert_eq!(
        sample(&m, "redis_sampler_cycles_total{target=\"no_cert\"}").unwrap_or(0.0),
        0.0,
        "{m}"
    );
    assert_eq!(
        discovery(&m, "cluster_no_cert", "cluster"),
        Some(0.0),
        "{m}"
    );
    assert_eq!(
        discovery(&m, "sentinel_wrong_ca", "sentinel"),
        Some(0.0),
        "{m}"
    );
    assert!(
        !m.contains("target=\"cluster_no_cert/") && !m.contains("target=\"sentinel_wrong_ca/"),
        "no instance discovered without a usable certificate:\n{m}"
    );
    assert_eq!(sample(&m, "redis_up{target=\"good\"}"), Some(1.0));

    // /scrape of the TLS target: the configured target's settings, certificates included.
    let (status, body) = http_get(e.port, &format!("/scrape?target={url}")).unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("redis_up{target=\"good\"} 1"), "{body}");
}

fn check(pki: &Pki, tls_port: u16, ca: &str, cert: Option<&str>) -> (Option<i32>, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_redis-cache-exporter"));
    cmd.arg("check")
        .arg(format!("rediss://127.0.0.1:{tls_port}"))
        .args([
            "--duration",
            "100ms",
            "--format",
            "json",
            "--lock-pattern",
            "",
        ])
        .args(["--tls-server-name", "redis.test"])
        .arg("--tls-ca-file")
        .arg(pki.path(&format!("{ca}-ca.crt")));
    if let Some(c) = cert {
        cmd.arg("--tls-cert-file")
            .arg(pki.path(&format!("{c}.crt")))
            .arg("--tls-key-file")
            .arg(pki.path(&format!("{c}.key")));
    }
    let out = cmd.output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn check_honours_the_ca_and_client_certificate() {
    let pki = Pki::new();
    let (_r, tls_port) = tls_server(&pki, &[]);
    let (code, out) = check(&pki, tls_port, "good", Some("client"));
    assert_ne!(code, Some(3), "{out}");
    assert!(out.contains("\"server\":\"redis 7."), "{out}");
    let (code, out) = check(&pki, tls_port, "good", None);
    assert_eq!(code, Some(3), "{out}");
    assert!(out.contains("CertificateRequired"), "{out}");
    let (code, out) = check(&pki, tls_port, "other", Some("client"));
    assert_eq!(code, Some(3), "{out}");
    assert!(
        out.contains("invalid peer certificate: UnknownIssuer"),
        "{out}"
    );
}
