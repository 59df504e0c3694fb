//! Fuzz target: the path a Redis reply takes on every connection — RESP bytes framed and
//! parsed by `client::resp::parse_one` (our framer, then the redis crate's parser) into a
//! `Value`, then the poller's INFO reply handling and CONFIG GET pair extraction.
#![no_main]

use libfuzzer_sys::fuzz_target;
use redis_cache_exporter::client::call;
use redis_cache_exporter::client::resp::{Parsed, parse_one};
use redis_cache_exporter::core::info;

fuzz_target!(|data: &[u8]| {
    if let Ok(Parsed::Value(v, n)) = parse_one(data) {
        assert!(n <= data.len());
        let _ = call::config_pairs(v.clone());
        if let Ok(text) = call::reply_text(v) {
            let _ = info::parse(&text);
        }
    }
});
