//! Real processes for integration tests: `redis-server` (Debian's 7.x, or another server of
//! [`servers::ServerKind`]: Redis 6.2, Redis 8.2, Valkey 9.1), the exporter binary, Prometheus and
//! Alertmanager, each started on an unused loopback port (see [`free_port`]) and killed when
//! dropped; plus helpers that wait on the exporter's own /metrics.
//!
//! Every starter fails with a message naming the Debian package to install when its binary is
//! missing; tests never skip.

#![allow(dead_code)] // Each test binary uses a different part of this module.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The exporter's pinned metric names: all that the alert rules and dashboards may use.
pub(crate) const PINNED_METRICS: &[&str] = &[
    "redis_up",
    "redis_uptime_in_seconds",
    "redis_instance_info",
    "redis_target_info",
    "redis_maxmemory_policy_info",
    "redis_connected_clients",
    "redis_blocked_clients",
    "redis_connected_slaves",
    "redis_rejected_connections_total",
    "redis_connections_received_total",
    "redis_commands_processed_total",
    "redis_keyspace_hits_total",
    "redis_keyspace_misses_total",
    "redis_sampler_keyspace_hits_total",
    "redis_sampler_keyspace_misses_total",
    "redis_evicted_keys_total",
    "redis_expired_keys_total",
    "redis_memory_used_bytes",
    "redis_memory_used_rss_bytes",
    "redis_memory_used_peak_bytes",
    "redis_memory_max_bytes",
    "redis_mem_fragmentation_ratio",
    "redis_mem_not_counted_for_eviction_bytes",
    "redis_total_system_memory_bytes",
    "redis_net_input_bytes_total",
    "redis_net_output_bytes_total",
    "redis_commands_total",
    "redis_commands_duration_seconds_total",
    "redis_db_keys",
    "redis_db_keys_expiring",
    "redis_db_avg_ttl_seconds",
    "redis_cache_hit_ratio",
    "redis_cache_lookups_per_second",
    "redis_cache_evictions",
    "redis_cache_expirations",
    "redis_memory_pressure_ratio",
    "redis_exporter_last_poll_duration_seconds",
    "redis_exporter_last_poll_success_timestamp_seconds",
    "redis_exporter_polls_total",
    "redis_exporter_poll_errors_total",
    "redis_exporter_build_info",
    // Miss attribution (pinned in the design notes) and the estimate shown without it.
    "redis_cache_miss_cause",
    "redis_cache_misses_attributed_total",
    "redis_cache_miss_attribution_coverage_ratio",
    "redis_cache_hit_ratio_ceiling",
    "redis_cache_prefix_misses_total",
    "redis_exporter_keyspace_events_total",
    "redis_exporter_miss_attribution_active",
    // Memory sizing (pinned in the design notes).
    "redis_cache_predicted_hit_ratio",
    "redis_cache_memory_needed_bytes",
    // The families dashboards and alerts expect, under redis_exporter's names (pinned in the
    // design notes), and the eviction-exceeded time under ours (its names abbreviate units).
    "redis_config_maxclients",
    "redis_cpu_sys_seconds_total",
    "redis_cpu_user_seconds_total",
    "redis_cpu_sys_main_thread_seconds_total",
    "redis_cpu_user_main_thread_seconds_total",
    "redis_cpu_sys_children_seconds_total",
    "redis_cpu_user_children_seconds_total",
    "redis_master_repl_offset",
    "redis_slave_repl_offset",
    "redis_connected_slave_lag_seconds",
    "redis_master_last_io_seconds_ago",
    "redis_master_link_up",
    "redis_rdb_last_save_timestamp_seconds",
    "redis_errors_total",
    "redis_eviction_exceeded_seconds_total",
    "redis_current_eviction_exceeded_seconds",
];

pub(crate) mod causes;
pub(crate) mod certs;
pub(crate) mod cluster;
pub(crate) mod fault_proxy;
pub(crate) mod markdown;
pub(crate) mod prometheus;
pub(crate) mod servers;

/// A port on 127.0.0.1 that was free a moment ago and that no other caller in this test process
/// has been given. Ports come from outside the kernel's ephemeral range, so the outgoing
/// connections of the processes under test cannot take one between this check and the server's
/// bind, and from a block chosen by the process id, so test binaries running at the same time
/// start apart.
pub(crate) fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    // Ports handed out so far by this process; never reset, so each port is given once.
    static HANDED_OUT: AtomicU32 = AtomicU32::new(0);
    let (first, count) = test_port_range();
    let blocks = (count / PORT_BLOCK).max(1);
    let offset = (std::process::id() % blocks) * PORT_BLOCK;
    loop {
        let n = HANDED_OUT.fetch_add(1, Ordering::Relaxed);
        assert!(
            n < count,
            "all {count} test ports from {first} were handed out in this process"
        );
        let port = (first + (offset + n) % count) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// Ports one test process expects to use at most before running into the next process's block.
const PORT_BLOCK: u32 = 256;

/// Lowest port considered: below it live the well-known and commonly configured service ports.
const LOWEST_TEST_PORT: u32 = 10_000;

/// (first port, number of ports) of the larger stretch outside the kernel's ephemeral range
/// (`/proc/sys/net/ipv4/ip_local_port_range`, Linux's default 32768–60999 when unreadable):
/// below it from [`LOWEST_TEST_PORT`], or above it.
fn test_port_range() -> (u32, u32) {
    let (low, high) = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|text| {
            let mut bounds = text.split_whitespace().map(|v| v.parse::<u32>().ok());
            Some((bounds.next()??, bounds.next()??))
        })
        .unwrap_or((32_768, 60_999));
    let below = (LOWEST_TEST_PORT, low.saturating_sub(LOWEST_TEST_PORT));
    let above = (high + 1, 65_535u32.saturating_sub(high));
    let (first, count) = if below.1 >= above.1 { below } else { above };
    assert!(
        count >= PORT_BLOCK,
        "the ephemeral port range {low}-{high} leaves fewer than {PORT_BLOCK} ports for tests"
    );
    (first, count)
}

/// Path of a required binary, or a panic that says which package provides it.
pub(crate) fn require_binary(name: &str, package: &str) -> PathBuf {
    for dir in ["/usr/bin", "/usr/local/bin", "/usr/sbin"] {
        let p = Path::new(dir).join(name);
        if p.exists() {
            return p;
        }
    }
    panic!(
        "`{name}` not found: install it with `apt-get install {package}` (bash .ci/run does this)"
    );
}

/// Polls `check` every 50 ms until it returns `Some`, or panics with `what` after `timeout`.
pub(crate) fn wait_for<T>(
    what: &str,
    timeout: Duration,
    mut check: impl FnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(
            Instant::now() <= deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A child process killed (and reaped) on drop.
pub(crate) struct Proc {
    pub child: Child,
    pub name: String,
}

impl Proc {
    pub(crate) fn spawn(name: &str, cmd: &mut Command) -> Proc {
        let child = cmd
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {name}: {e}"));
        Proc {
            child,
            name: name.to_string(),
        }
    }
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }
    pub(crate) fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A private `redis-server` on an ephemeral port, without persistence.
pub(crate) struct RedisServer {
    pub port: u16,
    pub proc: Proc,
    pub dir: tempfile::TempDir,
    bin: PathBuf,
    extra: Vec<String>,
}

impl RedisServer {
    /// Starts Debian's redis-server (7.x) with extra `--key value` arguments.
    pub(crate) fn start(extra: &[&str]) -> RedisServer {
        let bin = require_binary("redis-server", "redis-server");
        Self::start_on_free_port(&bin, extra)
    }

    /// Starts redis-server on a given port (used to restart "the same" server).
    pub(crate) fn start_on(port: u16, extra: &[&str]) -> RedisServer {
        let bin = require_binary("redis-server", "redis-server");
        Self::spawn(bin, port, extra).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Starts another redis-server binary (e.g. [`servers::server_binary`]'s) on an ephemeral port.
    pub(crate) fn start_binary(bin: &Path, extra: &[&str]) -> RedisServer {
        Self::start_on_free_port(bin, extra)
    }

    /// Another process may still bind a port between [`free_port`]'s check and the server's own
    /// bind; the server then exits or a stranger answers, and the next port is tried.
    fn start_on_free_port(bin: &Path, extra: &[&str]) -> RedisServer {
        let mut failures = Vec::new();
        for _ in 0..3 {
            match Self::spawn(bin.to_path_buf(), free_port(), extra) {
                Ok(server) => return server,
                Err(e) => failures.push(e),
            }
        }
        panic!("redis-server did not start: {}", failures.join("; "));
    }

    fn spawn(bin: PathBuf, port: u16, extra: &[&str]) -> Result<RedisServer, String> {
        let dir = tempfile::tempdir().expect("temp dir for redis-server");
        let mut cmd = Command::new(&bin);
        cmd.arg("--port")
            .arg(port.to_string())
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(dir.path())
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let proc = Proc::spawn("redis-server", &mut cmd);
        let mut server = RedisServer {
            port,
            proc,
            dir,
            bin,
            extra: extra.iter().map(std::string::ToString::to_string).collect(),
        };
        server.wait_until_answering_as_itself()?;
        Ok(server)
    }

    /// Waits until the server on the port answers and is the process started here (its INFO
    /// `process_id` is the child's pid): otherwise a server that another test or process runs on
    /// the same port would be taken for this one.
    fn wait_until_answering_as_itself(&mut self) -> Result<(), String> {
        let (port, pid) = (self.port, self.proc.pid());
        let timeout = Duration::from_secs(10);
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.proc.child.try_wait() {
                return Err(format!(
                    "redis-server (pid {pid}) exited with {status} before answering on port {port} \
                     (port taken?)"
                ));
            }
            match self.answering_pid() {
                Some(answering) if answering == pid => return Ok(()),
                Some(other) => {
                    return Err(format!(
                        "port {port} is answered by another redis-server (pid {other}), not by pid \
                         {pid}"
                    ));
                }
                None if Instant::now() > deadline => {
                    return Err(format!(
                        "redis-server (pid {pid}) did not answer INFO server on port {port} within \
                         {timeout:?}"
                    ));
                }
                None => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    /// `process_id` from INFO server of whatever answers on the port, authenticating with this
    /// server's `--requirepass` argument when it has one.
    fn answering_pid(&self) -> Option<u32> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        let password = self
            .extra
            .iter()
            .position(|a| a == "--requirepass")
            .and_then(|i| self.extra.get(i + 1));
        if let Some(password) = password {
            s.write_all(resp_command(&["AUTH", password]).as_bytes())
                .ok()?;
            read_resp(&mut s).ok().filter(|r| r.starts_with("+OK"))?;
        }
        s.write_all(resp_command(&["INFO", "server"]).as_bytes())
            .ok()?;
        let info = read_resp(&mut s).ok()?;
        info.lines()
            .find_map(|l| l.strip_prefix("process_id:"))?
            .trim()
            .parse()
            .ok()
    }

    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the server and starts a new one on the same port with the same arguments.
    pub(crate) fn restart(&mut self) {
        self.proc.kill();
        let extra: Vec<String> = self.extra.clone();
        let args: Vec<&str> = extra.iter().map(std::string::String::as_str).collect();
        *self = RedisServer::spawn(self.bin.clone(), self.port, &args)
            .unwrap_or_else(|e| panic!("restart: {e}"));
    }

    /// Sends one command over a fresh connection and returns the raw RESP reply.
    pub(crate) fn try_cmd(&self, args: &[&str]) -> std::io::Result<String> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port))?;
        s.set_read_timeout(Some(Duration::from_secs(5)))?;
        s.write_all(resp_command(args).as_bytes())?;
        read_resp(&mut s)
    }

    /// Sends many commands over one connection (pipelined) and waits for all replies; returns how
    /// many replies were errors. Use for workloads, so the test's own traffic stays cheap.
    pub(crate) fn pipeline(&self, cmds: &[Vec<String>]) -> usize {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect to redis");
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut req = String::new();
        for args in cmds {
            req.push_str(&format!("*{}\r\n", args.len()));
            for a in args {
                req.push_str(&format!("${}\r\n{}\r\n", a.len(), a));
            }
        }
        s.write_all(req.as_bytes()).expect("write pipeline");
        let mut buf = Vec::new();
        let mut chunk = [0u8; 65536];
        loop {
            if let Some(errors) = count_replies(&buf, cmds.len()) {
                return errors;
            }
            let n = s.read(&mut chunk).expect("read pipeline replies");
            assert!(n > 0, "redis closed the connection during a pipeline");
            buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Like `try_cmd`, but panics on IO errors.
    pub(crate) fn cmd(&self, args: &[&str]) -> String {
        self.try_cmd(args)
            .unwrap_or_else(|e| panic!("redis {args:?}: {e}"))
    }

    /// One field of `INFO` as text.
    pub(crate) fn info_field(&self, field: &str) -> String {
        let info = self.cmd(&["INFO", "everything"]);
        info.lines()
            .find_map(|l| {
                l.strip_prefix(&format!("{field}:"))
                    .map(|v| v.trim().to_string())
            })
            .unwrap_or_else(|| panic!("INFO has no field {field}"))
    }
}

/// One command as a RESP array of bulk strings.
fn resp_command(args: &[&str]) -> String {
    let mut req = format!("*{}\r\n", args.len());
    for a in args {
        req.push_str(&format!("${}\r\n{}\r\n", a.len(), a));
    }
    req
}

/// Reads one complete RESP2 reply (simple, error, integer, bulk or one-level array).
fn read_resp(s: &mut TcpStream) -> std::io::Result<String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 65536];
    loop {
        let n = s.read(&mut chunk)?;
        if n == 0 {
            return Ok(String::from_utf8_lossy(&buf).into_owned());
        }
        buf.extend_from_slice(&chunk[..n]);
        if resp_complete(&buf) {
            return Ok(String::from_utf8_lossy(&buf).into_owned());
        }
    }
}

fn resp_complete(buf: &[u8]) -> bool {
    !buf.is_empty() && resp_one(buf, 0).is_some()
}

/// With `n` complete replies in `buf`, the number of error replies among them.
fn count_replies(buf: &[u8], n: usize) -> Option<usize> {
    let (mut pos, mut errors) = (0, 0);
    for _ in 0..n {
        if buf.get(pos) == Some(&b'-') {
            errors += 1;
        }
        pos = resp_one(buf, pos)?;
    }
    Some(errors)
}

/// End of the RESP2 reply starting at `pos`, if complete.
fn resp_one(buf: &[u8], pos: usize) -> Option<usize> {
    let end = buf.get(pos..)?.windows(2).position(|w| w == b"\r\n")? + pos;
    let head = std::str::from_utf8(&buf[pos + 1..end]).ok()?;
    match buf.get(pos)? {
        b'+' | b'-' | b':' => Some(end + 2),
        b'$' => {
            let len: i64 = head.parse().ok()?;
            if len < 0 {
                return Some(end + 2);
            }
            let stop = end + 2 + len as usize + 2;
            (buf.len() >= stop).then_some(stop)
        }
        b'*' => {
            let n: i64 = head.parse().ok()?;
            let mut p = end + 2;
            for _ in 0..n.max(0) {
                p = resp_one(buf, p)?;
            }
            Some(p)
        }
        _ => Some(buf.len()),
    }
}

/// Plain HTTP/1.1 GET on loopback; returns (status, body).
pub(crate) fn http_get(port: u16, path: &str) -> std::io::Result<(u16, String)> {
    http_request(port, "GET", path, "")
}

/// Plain HTTP/1.1 request with a body on loopback; returns (status, body).
pub(crate) fn http_request(
    port: u16,
    method: &str,
    path: &str,
    body: &str,
) -> std::io::Result<(u16, String)> {
    http_exchange(
        port,
        method,
        path,
        &[("Content-Type", "application/json")],
        body,
        Duration::from_secs(10),
    )
}

/// Plain HTTP/1.1 request on loopback with extra `headers`, waiting at most `read_timeout` for
/// each read of the reply; returns (status, body), a chunked body decoded.
pub(crate) fn http_exchange(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
    read_timeout: Duration,
) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(read_timeout))?;
    let mut req =
        format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    s.write_all(req.as_bytes())?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(rest)
    } else {
        rest.to_string()
    };
    Ok((status, body))
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// The exporter binary under test, started with a TOML config written to a temp dir.
pub(crate) struct Exporter {
    pub port: u16,
    pub proc: Proc,
    pub dir: tempfile::TempDir,
}

impl Exporter {
    /// Starts the exporter with `config_body` (TOML without `listen`, which is added here).
    pub(crate) fn start(config_body: &str) -> Exporter {
        Exporter::start_with(config_body, &[])
    }

    /// [`Exporter::start`] with extra command-line flags.
    pub(crate) fn start_with(config_body: &str, flags: &[&str]) -> Exporter {
        Exporter::start_logging(config_body, flags, None)
    }

    /// [`Exporter::start_with`], its log written to the file `log` in its directory (when
    /// given) instead of the test's output.
    pub(crate) fn start_logging(config_body: &str, flags: &[&str], log: Option<&str>) -> Exporter {
        let port = free_port();
        let dir = tempfile::tempdir().expect("temp dir for exporter config");
        let path = dir.path().join("config.toml");
        std::fs::write(
            &path,
            format!("listen = \"127.0.0.1:{port}\"\n{config_body}"),
        )
        .expect("write exporter config");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_redis-cache-exporter"));
        cmd.arg("--config")
            .arg(&path)
            .args(flags)
            .env("REDIS_CACHE_EXPORTER_LOG_LEVEL", "warn");
        if let Some(name) = log {
            let file = std::fs::File::create(dir.path().join(name)).expect("create exporter log");
            cmd.stderr(file);
        }
        let proc = Proc::spawn("redis-cache-exporter", &mut cmd);
        wait_for("exporter /healthz", Duration::from_secs(10), || {
            http_get(port, "/healthz").ok().filter(|(s, _)| *s == 200)
        });
        Exporter { port, proc, dir }
    }

    pub(crate) fn metrics(&self) -> String {
        let (status, body) = http_get(self.port, "/metrics").expect("GET /metrics");
        assert_eq!(status, 200, "GET /metrics: {body}");
        body
    }
}

/// The value of the first sample whose line starts with `selector` (metric name plus labels,
/// as written by the exporter, e.g. `redis_up{target="a"}`), or None.
pub(crate) fn sample(exposition: &str, selector: &str) -> Option<f64> {
    exposition
        .lines()
        .filter(|l| !l.starts_with('#'))
        .find(|l| l.starts_with(selector) && l[selector.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// The value of `selector` in `exposition`; panics with the exposition when it is absent.
pub(crate) fn value(exposition: &str, selector: &str) -> f64 {
    sample(exposition, selector).unwrap_or_else(|| panic!("no sample {selector} in:\n{exposition}"))
}

/// Checks a scrape after [`hits_and_misses`]`(900, 100)` on an otherwise idle server: the hit
/// ratio of every window is exactly 0.9 and the raw counters are Redis's own.
pub(crate) fn assert_900_hits_100_misses(exposition: &str, target: &str) {
    for w in ["1m", "5m", "15m"] {
        let sel = format!("redis_cache_hit_ratio{{target=\"{target}\",window=\"{w}\"}}");
        let ratio = value(exposition, &sel);
        assert!((ratio - 0.9).abs() < 1e-12, "window {w}: {ratio}");
    }
    let hits = format!("redis_keyspace_hits_total{{target=\"{target}\"}}");
    assert_eq!(value(exposition, &hits), 900.0);
    let misses = format!("redis_keyspace_misses_total{{target=\"{target}\"}}");
    assert_eq!(value(exposition, &misses), 100.0);
}

/// Waits until the exporter has completed at least `n` more polls of `target` than now.
pub(crate) fn wait_polls(e: &Exporter, target: &str, n: f64) -> String {
    let sel = format!("redis_exporter_polls_total{{target=\"{target}\"}}");
    let start = sample(&e.metrics(), &sel).unwrap_or(0.0);
    wait_for(
        &format!("{n} more polls of {target}"),
        Duration::from_secs(20),
        || {
            let m = e.metrics();
            (sample(&m, &sel).unwrap_or(0.0) >= start + n).then_some(m)
        },
    )
}

/// Waits until miss attribution of `target` is subscribed.
pub(crate) fn wait_attribution_active(e: &Exporter, target: &str) {
    let sel = format!("redis_exporter_miss_attribution_active{{target=\"{target}\"}}");
    wait_for(
        &format!("attribution of {target} active"),
        Duration::from_secs(20),
        || (sample(&e.metrics(), &sel) == Some(1.0)).then_some(()),
    );
}

/// Waits until miss attribution has attributed every keyspace miss of `target` (its
/// subscriber caught up), then one more poll, whose windows hold them; returns that scrape.
pub(crate) fn wait_misses_attributed(e: &Exporter, target: &str) -> String {
    let misses = format!("redis_keyspace_misses_total{{target=\"{target}\"}}");
    wait_for(
        &format!("the misses of {target} attributed"),
        Duration::from_secs(30),
        || {
            let m = wait_polls(e, target, 1.0);
            let attributed: f64 = ["expired", "evicted", "deleted", "cold"]
                .iter()
                .map(|c| {
                    let sel = format!(
                        "redis_cache_misses_attributed_total{{target=\"{target}\",cause=\"{c}\"}}"
                    );
                    value(&m, &sel)
                })
                .sum();
            (attributed >= value(&m, &misses)).then_some(())
        },
    );
    wait_polls(e, target, 1.0)
}

/// Memory sizing's predictions are absent for `target` (a policy where they do not hold).
pub(crate) fn assert_no_prediction(exposition: &str, target: &str) {
    for name in [
        "redis_cache_predicted_hit_ratio",
        "redis_cache_memory_needed_bytes",
    ] {
        let prefix = format!("{name}{{target=\"{target}\"");
        assert!(
            !exposition.lines().any(|l| l.starts_with(&prefix)),
            "{name} exported for {target}"
        );
    }
}

/// Waits until `redis_up` of `target` equals `up`; returns that scrape.
pub(crate) fn wait_up(e: &Exporter, target: &str, up: f64) -> String {
    let sel = format!("redis_up{{target=\"{target}\"}}");
    wait_for(
        &format!("redis_up of {target} = {up}"),
        Duration::from_secs(20),
        || {
            let m = e.metrics();
            (sample(&m, &sel) == Some(up)).then_some(m)
        },
    )
}

/// Commands for a cache workload with an exact outcome: 100 SETs, then `hits` GETs of those
/// keys and `misses` GETs of keys that do not exist.
pub(crate) fn hits_and_misses(hits: usize, misses: usize) -> Vec<Vec<String>> {
    let cmd = |v: &[&str]| {
        v.iter()
            .map(std::string::ToString::to_string)
            .collect::<Vec<String>>()
    };
    let mut cmds: Vec<Vec<String>> = (0..100)
        .map(|i| cmd(&["SET", &format!("k{i}"), "v"]))
        .collect();
    cmds.extend((0..hits).map(|i| cmd(&["GET", &format!("k{}", i % 100)])));
    cmds.extend((0..misses).map(|i| cmd(&["GET", &format!("missing{i}")])));
    cmds
}
