//! Real Prometheus and Alertmanager for integration tests, plus a webhook receiver that records
//! what Alertmanager sends, and the time-compressed copy of the shipped rules (`fast_copy`).
//!
//! Each server gets an ephemeral loopback port and a temporary storage directory, is started
//! with a short evaluation interval, waits until `/-/ready` answers 200, and is killed when
//! dropped. Their logs go to a file in the temp dir; `log()` returns it for failure messages.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{Proc, free_port, http_get, http_request, require_binary, wait_for};

/// `file` (a rules file or the Alertmanager config under `alerts/`) passed through
/// `alerts/fast.sed`, which turns every minute into a second and changes nothing else.
pub(crate) fn fast_copy(file: &Path) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("alerts/fast.sed");
    let out = Command::new("sed")
        .arg("-E")
        .arg("-f")
        .arg(&script)
        .arg(file)
        .output()
        .expect("run sed (Debian package sed)");
    assert!(
        out.status.success(),
        "sed -E -f alerts/fast.sed {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 rules")
}

/// What a test Prometheus scrapes, evaluates and notifies.
pub(crate) struct PrometheusOptions {
    /// YAML list items placed under `scrape_configs:` verbatim (see [`scrape_job`]).
    pub scrape_configs: String,
    /// Rule files loaded with `rule_files:`; each is checked by Prometheus at start.
    pub rule_files: Vec<PathBuf>,
    /// `127.0.0.1:PORT` of an Alertmanager to send alerts to, if any.
    pub alertmanager: Option<String>,
    /// Global scrape and evaluation interval (Prometheus duration, e.g. `1s`).
    pub interval: String,
    /// `global.external_labels` (a shard's number, for instance), in order.
    pub external_labels: Vec<(String, String)>,
}

impl Default for PrometheusOptions {
    fn default() -> Self {
        PrometheusOptions {
            scrape_configs: String::new(),
            rule_files: Vec::new(),
            alertmanager: None,
            interval: "1s".to_string(),
            external_labels: Vec::new(),
        }
    }
}

impl PrometheusOptions {
    /// The `prometheus.yml` these options stand for.
    pub(crate) fn yaml(&self) -> String {
        let mut config = format!(
            "global:\n  scrape_interval: {i}\n  evaluation_interval: {i}\n  scrape_timeout: {i}\n",
            i = self.interval
        );
        if !self.external_labels.is_empty() {
            config.push_str("  external_labels:\n");
            for (k, v) in &self.external_labels {
                config.push_str(&format!("    {k}: \"{v}\"\n"));
            }
        }
        if !self.rule_files.is_empty() {
            config.push_str("rule_files:\n");
            for f in &self.rule_files {
                config.push_str(&format!("  - \"{}\"\n", f.display()));
            }
        }
        if let Some(am) = &self.alertmanager {
            config.push_str(&format!(
                "alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: \
                 [\"{am}\"]\n"
            ));
        }
        config.push_str("scrape_configs:\n");
        config.push_str(&self.scrape_configs);
        config
    }
}

/// One `scrape_configs` item: job `job` scraping `127.0.0.1:{port}` `/metrics`.
pub(crate) fn scrape_job(job: &str, port: u16) -> String {
    format!("  - job_name: {job}\n    static_configs:\n      - targets: [\"127.0.0.1:{port}\"]\n")
}

/// A private Prometheus server (Debian package `prometheus`).
pub(crate) struct Prometheus {
    pub port: u16,
    pub proc: Proc,
    pub dir: tempfile::TempDir,
}

impl Prometheus {
    /// Writes `prometheus.yml` from `opts` into a temp dir, starts Prometheus on loopback and
    /// waits until it is ready.
    pub(crate) fn start(opts: &PrometheusOptions) -> Prometheus {
        let bin = require_binary("prometheus", "prometheus");
        let port = free_port();
        let dir = tempfile::tempdir().expect("temp dir for prometheus");
        let config_path = dir.path().join("prometheus.yml");
        std::fs::write(&config_path, opts.yaml()).expect("write prometheus.yml");
        let log = std::fs::File::create(dir.path().join("prometheus.log")).expect("log file");
        let mut cmd = Command::new(bin);
        cmd.arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            // Alerts evaluated before the Alertmanager is discovered are dropped; resending
            // every second (default 1m) gets them out within a second of discovery.
            .arg("--rules.alert.resend-delay=1s")
            // POST /-/reload, for tests that change the configuration of a running server.
            .arg("--web.enable-lifecycle")
            .arg("--log.level=warn")
            .stdout(Stdio::null())
            .stderr(log);
        let proc = Proc::spawn("prometheus", &mut cmd);
        let mut server = Prometheus { port, proc, dir };
        server.wait_ready();
        server
    }

    /// Replaces the configuration with `opts` and reloads it (`POST /-/reload`, which answers
    /// once the new configuration is applied); panics when Prometheus refuses it.
    pub(crate) fn reload(&self, opts: &PrometheusOptions) {
        std::fs::write(self.dir.path().join("prometheus.yml"), opts.yaml())
            .expect("write prometheus.yml");
        let (status, body) =
            http_request(self.port, "POST", "/-/reload", "").expect("POST /-/reload");
        assert_eq!(status, 200, "prometheus reload: {body}\n{}", self.log());
    }

    fn wait_ready(&mut self) {
        let port = self.port;
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok((200, _)) = http_get(port, "/-/ready") {
                return;
            }
            if let Ok(Some(status)) = self.proc.child.try_wait() {
                panic!("prometheus exited ({status}) before ready:\n{}", self.log());
            }
            assert!(
                std::time::Instant::now() <= deadline,
                "prometheus not ready after 30s:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Everything Prometheus logged so far.
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
    }

    /// GET an API path and parse the JSON body; panics unless the status is 200.
    pub(crate) fn api(&self, path_and_query: &str) -> serde_json::Value {
        let (status, body) = http_get(self.port, path_and_query)
            .unwrap_or_else(|e| panic!("GET {path_and_query} from prometheus: {e}"));
        assert_eq!(status, 200, "GET {path_and_query}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("JSON from {path_and_query}: {e}"))
    }

    /// The result vector of an instant query: `(labels, value)` per series.
    pub(crate) fn query(
        &self,
        promql: &str,
    ) -> Vec<(serde_json::Map<String, serde_json::Value>, f64)> {
        let v = self.api(&format!("/api/v1/query?query={}", url_encode(promql)));
        v["data"]["result"]
            .as_array()
            .unwrap_or_else(|| panic!("query {promql}: no result vector: {v}"))
            .iter()
            .map(|s| {
                let labels = s["metric"].as_object().cloned().unwrap_or_default();
                let value = s["value"][1]
                    .as_str()
                    .and_then(|x| x.parse().ok())
                    .unwrap_or(f64::NAN);
                (labels, value)
            })
            .collect()
    }

    /// The alerts Prometheus currently holds (pending and firing), from `/api/v1/alerts`.
    pub(crate) fn alerts(&self) -> Vec<serde_json::Value> {
        self.api("/api/v1/alerts")["data"]["alerts"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Waits until every scrape target reports health `up`.
    pub(crate) fn wait_targets_up(&self, timeout: Duration) {
        wait_for("all prometheus scrape targets up", timeout, || {
            let v = self.api("/api/v1/targets");
            let active = v["data"]["activeTargets"].as_array()?.clone();
            (!active.is_empty() && active.iter().all(|t| t["health"] == "up")).then_some(())
        });
    }
}

/// A private Alertmanager (Debian package `prometheus-alertmanager`) with clustering disabled.
pub(crate) struct Alertmanager {
    pub port: u16,
    pub proc: Proc,
    pub dir: tempfile::TempDir,
}

impl Alertmanager {
    /// Writes `config_yaml` to a temp dir, starts Alertmanager on loopback and waits until
    /// it is ready.
    pub(crate) fn start(config_yaml: &str) -> Alertmanager {
        let bin = require_binary("prometheus-alertmanager", "prometheus-alertmanager");
        let port = free_port();
        let dir = tempfile::tempdir().expect("temp dir for alertmanager");
        let config_path = dir.path().join("alertmanager.yml");
        std::fs::write(&config_path, config_yaml).expect("write alertmanager.yml");
        let log = std::fs::File::create(dir.path().join("alertmanager.log")).expect("log file");
        let mut cmd = Command::new(bin);
        cmd.arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            // An empty cluster address turns off the gossip listener (it binds all interfaces).
            .arg("--cluster.listen-address=")
            .arg("--log.level=warn")
            .stdout(Stdio::null())
            .stderr(log);
        let proc = Proc::spawn("prometheus-alertmanager", &mut cmd);
        let mut server = Alertmanager { port, proc, dir };
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok((200, _)) = http_get(port, "/-/ready") {
                break;
            }
            if let Ok(Some(status)) = server.proc.child.try_wait() {
                panic!(
                    "alertmanager exited ({status}) before ready:\n{}",
                    server.log()
                );
            }
            assert!(
                std::time::Instant::now() <= deadline,
                "alertmanager not ready after 30s:\n{}",
                server.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        server
    }

    /// `127.0.0.1:PORT`, as Prometheus's `alertmanagers` target.
    pub(crate) fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Everything Alertmanager logged so far.
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("alertmanager.log")).unwrap_or_default()
    }

    /// The alerts Alertmanager holds, from `/api/v2/alerts`.
    pub(crate) fn alerts(&self) -> Vec<serde_json::Value> {
        let (status, body) = http_get(self.port, "/api/v2/alerts").expect("GET /api/v2/alerts");
        assert_eq!(status, 200, "GET /api/v2/alerts: {body}");
        serde_json::from_str(&body).expect("JSON from /api/v2/alerts")
    }
}

/// One notification POSTed to a [`WebhookReceiver`].
#[derive(Clone, Debug)]
pub(crate) struct Notification {
    /// Request path, which tells the receivers of a routing tree apart (e.g. `/pager`).
    pub path: String,
    /// The Alertmanager webhook payload (version 4).
    pub body: serde_json::Value,
}

impl Notification {
    /// `(alertname, target, status)` of every alert in the notification.
    pub(crate) fn alerts(&self) -> Vec<(String, String, String)> {
        self.body["alerts"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|x| {
                        let s = |v: &serde_json::Value| v.as_str().unwrap_or("").to_string();
                        (
                            s(&x["labels"]["alertname"]),
                            s(&x["labels"]["target"]),
                            s(&x["status"]),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// A tiny HTTP server on 127.0.0.1 that answers 200 to every POST and keeps the bodies.
pub(crate) struct WebhookReceiver {
    pub port: u16,
    received: Arc<Mutex<Vec<Notification>>>,
}

impl WebhookReceiver {
    /// Binds an ephemeral loopback port and serves it from a background thread.
    pub(crate) fn start() -> WebhookReceiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind webhook receiver");
        let port = listener.local_addr().expect("local addr").port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&received);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                if let Some(n) = read_post(stream) {
                    sink.lock().expect("webhook lock").push(n);
                }
            }
        });
        WebhookReceiver { port, received }
    }

    /// `http://127.0.0.1:PORT`, to put in front of a receiver path.
    pub(crate) fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// All notifications received so far, in arrival order.
    pub(crate) fn received(&self) -> Vec<Notification> {
        self.received.lock().expect("webhook lock").clone()
    }
}

/// Reads one HTTP/1.1 request, answers `200 OK` and returns it if it carried a JSON body.
fn read_post(mut stream: TcpStream) -> Option<Notification> {
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line).ok()?;
    let path = request_line.split_whitespace().nth(1)?.to_string();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                length = v.trim().parse().ok()?;
            }
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).ok()?;
    let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    let body = serde_json::from_slice(&body).ok()?;
    Some(Notification { path, body })
}

/// Percent-encodes a query parameter value (RFC 3986 unreserved characters pass through).
pub(crate) fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char);
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
