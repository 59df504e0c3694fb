//! `redis-cache-exporter check URL`: a one-shot health report of one instance, with a verdict
//! (ok, warn, critical) and one sentence of likely cause and action per finding, and an exit
//! status by the worst verdict (Nagios style: 0 ok, 1 warn, 2 critical, 3 unknown).
//!
//! The verdicts are `crate::core::verdict`'s (pure, shared with the status page). Here: the
//! IO (`run` connects, samples INFO at the start and at the end of `--duration`, scans for
//! lock keys without a TTL) and the report as text or JSON.

use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use crate::client::{Connector, Endpoint};
use crate::core::verdict::{Finding, Input, LockScan, Period, Verdict, evaluate, finding, worst};

mod explain;
mod progress;

/// Version of the JSON report's schema; bumped only on incompatible changes.
pub(crate) const JSON_SCHEMA_VERSION: u32 = 1;
/// The report of one check.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Report {
    /// The URL checked, without password.
    pub(crate) target: String,
    pub(crate) duration: Duration,
    /// `redis_version` and `role` of the server, when known.
    pub(crate) server: Option<String>,
    pub(crate) findings: Vec<Finding>,
}

impl Report {
    /// The worst verdict of all findings (`ok` when there are none).
    pub(crate) fn verdict(&self) -> Verdict {
        worst(&self.findings)
    }

    /// The report for humans: a header, then one block per finding.
    pub(crate) fn text(&self) -> String {
        let mut s = header(
            &self.target,
            self.verdict(),
            self.duration,
            self.server.as_deref(),
        );
        s.push('\n');
        write_findings(&mut s, &self.findings);
        s
    }

    /// The report as one JSON object (schema in docs/check.md, "JSON report").
    pub(crate) fn json(&self) -> String {
        let verdict = self.verdict();
        let report = JsonReport {
            schema: JSON_SCHEMA_VERSION,
            target: &self.target,
            duration_seconds: self.duration.as_secs_f64(),
            server: self.server.as_deref(),
            verdict: verdict.label(),
            exit_code: verdict.exit_code(),
            findings: json_findings(&self.findings),
        };
        // Serializing strings and numbers cannot fail; a number that is not finite is null.
        let mut text = serde_json::to_string(&report).unwrap_or_default();
        text.push('\n');
        text
    }
}

/// "TARGET: VERDICT over N s (server)", the first line of a report (without newline).
fn header(target: &str, verdict: Verdict, duration: Duration, server: Option<&str>) -> String {
    format!(
        "{target}: {} over {:.1} s{}",
        verdict.label().to_uppercase(),
        duration.as_secs_f64(),
        server.map(|v| format!(" ({v})")).unwrap_or_default()
    )
}

/// One block per finding: verdict, name and summary, then the advice.
fn write_findings(s: &mut String, findings: &[Finding]) {
    for f in findings {
        let name = match &f.subject {
            Some(sub) => format!("{} {sub}", f.check),
            None => f.check.to_string(),
        };
        let _ = writeln!(
            s,
            "{:<8}  {:<24}  {}\n{:<10}{}",
            f.verdict.label().to_uppercase(),
            name,
            f.summary,
            "",
            f.advice
        );
    }
}

fn json_findings(findings: &[Finding]) -> Vec<JsonFinding<'_>> {
    findings
        .iter()
        .map(|f| JsonFinding {
            check: f.check,
            subject: f.subject.as_deref(),
            verdict: f.verdict.label(),
            value: f.value,
            summary: &f.summary,
            advice: &f.advice,
        })
        .collect()
}

/// "redis 7.0.15, master": the server, its version and role, when INFO names them.
fn server_of(sample: &crate::core::info::Sample) -> Option<String> {
    sample.redis_version.as_ref().map(|v| {
        format!(
            "{} {v}, {}",
            sample.server(),
            sample.role.as_deref().unwrap_or("unknown role")
        )
    })
}

/// The JSON report, fields in schema order.
#[derive(Serialize)]
struct JsonReport<'a> {
    schema: u32,
    target: &'a str,
    duration_seconds: f64,
    server: Option<&'a str>,
    verdict: &'static str,
    exit_code: u8,
    findings: Vec<JsonFinding<'a>>,
}

/// One finding of the JSON report (also of `--explain-misses`).
#[derive(Serialize)]
struct JsonFinding<'a> {
    check: &'static str,
    subject: Option<&'a str>,
    verdict: &'static str,
    value: Option<f64>,
    summary: &'a str,
    advice: &'a str,
}

/// Output format of the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub(crate) enum Format {
    #[default]
    Text,
    Json,
}

/// Flags of `redis-cache-exporter check`.
#[derive(Clone, clap::Args)]
pub struct CheckArgs {
    /// Redis URL (redis://, rediss://, unix://); may carry user and password.
    #[arg(value_name = "URL", default_value = crate::config::DEFAULT_REDIS_URL)]
    pub(crate) url: String,
    /// How long to sample: INFO is read at the start and at the end.
    #[arg(
        long,
        value_name = "DUR",
        default_value = "30s",
        value_parser = crate::config::parse_duration
    )]
    pub(crate) duration: Duration,
    /// Report format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub(crate) format: Format,
    /// Timeout of each Redis call.
    #[arg(
        long,
        value_name = "DUR",
        default_value = "5s",
        value_parser = crate::config::parse_duration
    )]
    pub(crate) timeout: Duration,
    /// Key pattern of locks that must carry a TTL, repeatable; "" for none.
    #[arg(
        long = "lock-pattern",
        value_name = "PATTERN",
        default_value = "lock:*"
    )]
    pub(crate) lock_patterns: Vec<String>,
    /// Most keys the lock scan walks (SCAN, never KEYS).
    #[arg(long, value_name = "N", default_value_t = 100_000)]
    pub(crate) scan_budget: u64,
    /// rediss://: PEM CA certificate(s) the server's certificate must chain to (instead of the
    /// system's).
    #[arg(long, value_name = "FILE")]
    pub(crate) tls_ca_file: Option<std::path::PathBuf>,
    /// rediss://: PEM client certificate for mutual TLS (with --tls-key-file).
    #[arg(long, value_name = "FILE", requires = "tls_key_file")]
    pub(crate) tls_cert_file: Option<std::path::PathBuf>,
    /// rediss://: PEM private key of the client certificate.
    #[arg(long, value_name = "FILE", requires = "tls_cert_file")]
    pub(crate) tls_key_file: Option<std::path::PathBuf>,
    /// rediss://: the name the server's certificate is verified against, instead of the URL's
    /// host.
    #[arg(long, value_name = "NAME")]
    pub(crate) tls_server_name: Option<String>,
    /// Explain the misses instead: subscribe to keyspace events for --duration and report
    /// misses by cause, top prefixes and hit-ratio ceilings.
    #[arg(long)]
    pub(crate) explain_misses: bool,
    /// With --explain-misses: add the notify-keyspace-events flags it needs for the check,
    /// restoring the previous value afterwards (also on Ctrl-C).
    #[arg(long, requires = "explain_misses")]
    pub(crate) enable_notifications: bool,
}

impl CheckArgs {
    /// The TLS files and options given by flags (they apply to `rediss://` URLs only).
    fn tls(&self) -> crate::config::tls::TlsFiles {
        crate::config::tls::TlsFiles {
            ca_file: self.tls_ca_file.clone(),
            cert_file: self.tls_cert_file.clone(),
            key_file: self.tls_key_file.clone(),
            server_name: self.tls_server_name.clone(),
            insecure: false,
        }
    }
}

/// Runs the check and prints the report; returns the exit status.
pub fn main(args: &CheckArgs) -> u8 {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("redis-cache-exporter check: cannot start the async runtime: {e}");
            return Verdict::Unknown.exit_code();
        }
    };
    if args.explain_misses {
        let e = runtime.block_on(explain::run(args));
        print!(
            "{}",
            match args.format {
                Format::Text => e.text(),
                Format::Json => e.json(),
            }
        );
        return e.verdict().exit_code();
    }
    let report = runtime.block_on(run(args));
    let text = match args.format {
        Format::Text => report.text(),
        Format::Json => report.json(),
    };
    print!("{text}");
    report.verdict().exit_code()
}

/// Samples the instance and builds the report (a `connection` finding with verdict unknown when
/// it cannot be reached).
pub(crate) async fn run(args: &CheckArgs) -> Report {
    let (connection, target) = match crate::config::target_connection(&args.url) {
        Ok(c) => c,
        Err(e) => {
            return unknown(
                crate::config::redact_url(&args.url),
                args.duration,
                format!("invalid URL: {e}"),
            );
        }
    };
    let endpoint = Endpoint::new(&connection, Some(&args.tls()), args.timeout);
    let mut conn = match Connector::new(endpoint).connect().await {
        Ok(c) => c,
        Err(e) => return unknown(target, args.duration, format!("cannot connect: {e}")),
    };
    let start = match io::info(&mut conn).await {
        Ok(s) => s,
        Err(e) => return unknown(target, args.duration, e),
    };
    let started = tokio::time::Instant::now();
    progress::wait(args.duration).await;
    let end = match io::info(&mut conn).await {
        Ok(s) => s,
        Err(e) => return unknown(target, args.duration, e),
    };
    let elapsed = started.elapsed();
    // The lock scan runs after the last INFO: the PTTL calls it sends count as keyspace hits.
    let mut locks = Vec::new();
    for pattern in args.lock_patterns.iter().filter(|p| !p.is_empty()) {
        match io::scan_locks(&mut conn, pattern, args.scan_budget).await {
            Ok(l) => locks.push(l),
            Err(e) => locks.push(LockScan {
                pattern: format!("{pattern} (scan failed: {e})"),
                matched: 0,
                without_ttl: 0,
                examples: vec![],
                partial: true,
            }),
        }
    }
    let period = Period::between(&start, &end, elapsed.as_secs_f64());
    let findings = evaluate(&Input {
        sample: &end,
        period: Some(period),
        locks: &locks,
    });
    Report {
        target,
        duration: elapsed,
        server: server_of(&end),
        findings,
    }
}

fn unknown(target: String, duration: Duration, error: String) -> Report {
    Report {
        target,
        duration,
        server: None,
        findings: vec![finding(
            "connection",
            Verdict::Unknown,
            None,
            error,
            "The instance could not be checked: verify the URL, that the server is up and \
             reachable, and the credentials.",
        )],
    }
}

/// The IO half: INFO, lock scan (over the one connector's [`crate::client::Conn`]).
mod io {
    use super::LockScan;
    use crate::client::Conn;
    use crate::client::call::{reply_text, typed};
    use crate::core::info::Sample;

    /// `INFO all` (accepted by every version) parsed into a sample.
    pub(super) async fn info(conn: &mut Conn) -> Result<Sample, String> {
        let v = conn
            .call(&[b"INFO", b"all"])
            .await
            .map_err(|e| format!("INFO failed: {e}"))?;
        let text = reply_text(v).map_err(|e| e.to_string())?;
        crate::core::info::parse(&text).map_err(|e| format!("INFO: {e}"))
    }

    /// Walks the key space with `SCAN MATCH pattern` (at most `budget` keys examined) and asks
    /// `PTTL` of each match, in one pipeline per batch.
    pub(super) async fn scan_locks(
        conn: &mut Conn,
        pattern: &str,
        budget: u64,
    ) -> Result<LockScan, String> {
        const COUNT: u64 = 1000;
        let mut cursor: u64 = 0;
        let mut examined = 0u64;
        let mut scan = LockScan {
            pattern: pattern.to_string(),
            matched: 0,
            without_ttl: 0,
            examples: Vec::new(),
            partial: false,
        };
        let count = COUNT.to_string();
        loop {
            let at = cursor.to_string();
            let reply = conn
                .call(&[
                    b"SCAN",
                    at.as_bytes(),
                    b"MATCH",
                    pattern.as_bytes(),
                    b"COUNT",
                    count.as_bytes(),
                ])
                .await
                .map_err(|e| format!("SCAN failed: {e}"))?;
            let (next, keys): (u64, Vec<Vec<u8>>) =
                typed("SCAN", reply).map_err(|e| e.to_string())?;
            examined += COUNT;
            if !keys.is_empty() {
                let pttls: Vec<Vec<&[u8]>> = keys.iter().map(|k| vec![&b"PTTL"[..], k]).collect();
                let replies = conn
                    .pipeline(&pttls)
                    .await
                    .map_err(|e| format!("PTTL failed: {e}"))?;
                for (k, reply) in keys.iter().zip(replies) {
                    let ttl: i64 = reply
                        .and_then(|v| typed("PTTL", v))
                        .map_err(|e| format!("PTTL failed: {e}"))?;
                    // -2: gone since SCAN returned it; -1: no TTL.
                    if ttl == -2 {
                        continue;
                    }
                    scan.matched += 1;
                    if ttl == -1 {
                        scan.without_ttl += 1;
                        if scan.examples.len() < 3 {
                            scan.examples.push(String::from_utf8_lossy(k).into_owned());
                        }
                    }
                }
            }
            cursor = next;
            if cursor == 0 {
                break;
            }
            if examined >= budget {
                scan.partial = true;
                break;
            }
        }
        Ok(scan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::verdict::tests::{cache, eval, get, period};

    #[test]
    fn healthy_cache_is_ok_everywhere() {
        let s = cache(100 << 20, "allkeys-lru", 100, 100);
        let f = eval(&s, period(950, 50, 0, 5));
        let report = Report {
            target: "t".into(),
            duration: Duration::from_secs(10),
            server: None,
            findings: f.clone(),
        };
        assert_eq!(report.verdict(), Verdict::Ok, "{}", report.text());
        assert_eq!(get(&f, "hit_ratio").value, Some(0.95));
    }

    #[test]
    fn json_is_escaped_and_exit_codes_follow_nagios() {
        let r = Report {
            target: "redis://h:1".into(),
            duration: Duration::from_secs(3),
            server: None,
            findings: vec![finding("memory", Verdict::Warn, None, "a\"b\n".into(), "x")],
        };
        let j = r.json();
        assert!(j.contains(r#""summary":"a\"b\n""#), "{j}");
        assert!(j.contains(r#""verdict":"warn","exit_code":1"#), "{j}");
        assert_eq!(Verdict::Unknown.exit_code(), 3);
        assert!(Verdict::Unknown > Verdict::Critical);
    }
}
