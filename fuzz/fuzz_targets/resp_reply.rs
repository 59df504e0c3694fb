//! Fuzz target: the path a Redis reply takes — RESP bytes parsed by the client library into a
//! `Value`, then the poller's INFO reply handling and CONFIG GET pair extraction.
#![no_main]

use libfuzzer_sys::fuzz_target;
use redis_cache_exporter::core::info;
use redis_cache_exporter::client::call;

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = redis::parse_redis_value(data) {
        let _ = call::config_pairs(v.clone());
        if let Ok(text) = call::reply_text(v) {
            let _ = info::parse(&text);
        }
    }
});
