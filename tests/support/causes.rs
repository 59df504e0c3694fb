//! The workload of known miss causes that miss attribution is tested with (tests/attribution.rs
//! and `check --explain-misses` in tests/check_explain.rs): keys never stored, read after their
//! TTL, deleted with DEL and with UNLINK, and on a small maxmemory evicted then read.

use std::time::Duration;

use super::RedisServer;

/// Keys of each cause in the workload.
pub(crate) const COLD: usize = 2000;
pub(crate) const EXPIRED: usize = 2000;
pub(crate) const DELETED: usize = 1000;
pub(crate) const UNLINKED: usize = 1000;
/// Keys written to the evicting instance (1 KiB each, maxmemory 4 MB).
pub(crate) const WRITTEN: usize = 20_000;

/// One command of a pipeline.
pub(crate) fn cmd(v: &[&str]) -> Vec<String> {
    v.iter().map(std::string::ToString::to_string).collect()
}

/// Never-stored keys, keys read after their TTL, keys deleted with DEL and with UNLINK; every
/// key name carries `tag` (a Cluster hash tag, so a node gets keys of its own slots).
pub(crate) fn mixed_workload(r: &RedisServer, tag: &str) {
    let mut setup = Vec::new();
    for i in 0..EXPIRED {
        setup.push(cmd(&["PSETEX", &format!("ttl:{tag}{i}"), "100", "v"]));
    }
    for i in 0..DELETED {
        setup.push(cmd(&["SET", &format!("del:{tag}{i}"), "v"]));
        setup.push(cmd(&["DEL", &format!("del:{tag}{i}")]));
    }
    for i in 0..UNLINKED {
        setup.push(cmd(&["SET", &format!("unl:{tag}{i}"), "v"]));
        setup.push(cmd(&["UNLINK", &format!("unl:{tag}{i}")]));
    }
    assert_eq!(r.pipeline(&setup), 0);
    std::thread::sleep(Duration::from_millis(300));
    let mut reads = Vec::new();
    for i in 0..COLD {
        reads.push(cmd(&["GET", &format!("never:{tag}{i}")]));
    }
    for i in 0..EXPIRED {
        reads.push(cmd(&["GET", &format!("ttl:{tag}{i}")]));
    }
    for i in 0..DELETED {
        reads.push(cmd(&["GET", &format!("del:{tag}{i}")]));
    }
    for i in 0..UNLINKED {
        reads.push(cmd(&["GET", &format!("unl:{tag}{i}")]));
    }
    assert_eq!(r.pipeline(&reads), 0);
}

/// Fills a small maxmemory (keys evicted), then reads every key once: every miss is an
/// evicted key. Returns the misses (INFO keyspace_misses, all of them evictions).
pub(crate) fn evicting_workload(r: &RedisServer) -> f64 {
    let before: f64 = r.info_field("keyspace_misses").parse().unwrap();
    let v = "x".repeat(1024);
    let writes: Vec<Vec<String>> = (0..WRITTEN)
        .map(|i| cmd(&["SET", &format!("page:{i}"), &v]))
        .collect();
    for chunk in writes.chunks(2000) {
        assert_eq!(r.pipeline(chunk), 0);
    }
    let reads: Vec<Vec<String>> = (0..WRITTEN)
        .map(|i| cmd(&["GET", &format!("page:{i}")]))
        .collect();
    assert_eq!(r.pipeline(&reads), 0);
    let misses: f64 = r.info_field("keyspace_misses").parse::<f64>().unwrap() - before;
    assert!(
        misses > WRITTEN as f64 / 2.0,
        "the small maxmemory evicted {misses} of {WRITTEN}"
    );
    misses
}

/// `got` is within 3 % of `truth` (the bound the attribution tests hold every cause to).
#[track_caller]
pub(crate) fn within_3_percent(got: f64, truth: f64, what: &str) {
    assert!(
        (got - truth).abs() <= 0.03 * truth,
        "{what}: {got} attributed, truth {truth}"
    );
}
