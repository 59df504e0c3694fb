//! Fuzz target: `info::parse` on arbitrary text, then the derivation on what it returns.
#![no_main]

use libfuzzer_sys::fuzz_target;
use redis_cache_exporter::core::derive::History;
use redis_cache_exporter::core::info;
use std::time::Duration;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(sample) = info::parse(&text) {
        let mut h = History::new(Duration::from_millis(500));
        h.observe(Duration::from_secs(1), &sample);
        h.observe(Duration::from_secs(2), &sample);
    }
});
