//! Reading a reply, our framer and the redis crate's parser (`client::resp::parse_one`, what
//! every connection does) against the crate's parser alone, side by side on the same bytes:
//! a real INFO reply (Redis 7.0, 5.8 KB) whole and arriving in 1 460-byte pieces (one TCP
//! segment each), and a pipeline of 2 000 `PTTL` replies (one sampler batch).
//!
//! Without a framer a connection learns that a reply is incomplete only from a failed parse,
//! so it parses again after every read. Run with `cargo bench --bench resp`; BENCHMARKS.md
//! quotes the results.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use redis_cache_exporter::client::resp::{Parsed, parse_one};

const INFO_7_0: &str = include_str!("../tests/fixtures/info/redis-7.0-evicting.txt");
const SEGMENT: usize = 1460;

fn info_reply() -> Vec<u8> {
    let mut b = format!("${}\r\n", INFO_7_0.len()).into_bytes();
    b.extend_from_slice(INFO_7_0.as_bytes());
    b.extend_from_slice(b"\r\n");
    b
}

/// Ours: frame after every piece, parse once complete.
fn ours_in_pieces(wire: &[u8]) -> usize {
    let mut buf = Vec::new();
    for piece in wire.chunks(SEGMENT) {
        buf.extend_from_slice(piece);
        if let Ok(Parsed::Value(v, n)) = parse_one(&buf) {
            black_box(v);
            return n;
        }
    }
    unreachable!("the reply is complete")
}

/// The crate alone: parse after every piece until it succeeds.
fn crate_in_pieces(wire: &[u8]) -> usize {
    let mut buf = Vec::new();
    for piece in wire.chunks(SEGMENT) {
        buf.extend_from_slice(piece);
        if let Ok(v) = redis::parse_redis_value(&buf) {
            black_box(v);
            return buf.len();
        }
    }
    unreachable!("the reply is complete")
}

fn read_reply(c: &mut Criterion) {
    let wire = info_reply();
    let mut g = c.benchmark_group("INFO reply");
    g.bench_function("whole, framer + crate parser", |b| {
        b.iter(|| parse_one(black_box(&wire)).unwrap());
    });
    g.bench_function("whole, crate parser alone", |b| {
        b.iter(|| redis::parse_redis_value(black_box(&wire)).unwrap());
    });
    g.bench_function("in 1460-byte pieces, framer + crate parser", |b| {
        b.iter(|| ours_in_pieces(black_box(&wire)));
    });
    g.bench_function("in 1460-byte pieces, crate parser alone", |b| {
        b.iter(|| crate_in_pieces(black_box(&wire)));
    });
    g.finish();

    let mut pttl = Vec::new();
    for i in 0..2000 {
        pttl.extend_from_slice(format!(":{}\r\n", 7_200_000 - i).as_bytes());
    }
    let mut g = c.benchmark_group("2000 PTTL replies");
    g.bench_function("framer + crate parser", |b| {
        b.iter(|| {
            let mut pos = 0;
            while let Ok(Parsed::Value(v, n)) = parse_one(&pttl[pos..]) {
                black_box(v);
                pos += n;
            }
            pos
        });
    });
    g.bench_function("crate parser alone (one streaming parser)", |b| {
        b.iter(|| {
            let mut parser = redis::Parser::new();
            let mut reader = &pttl[..];
            let mut n = 0;
            while !reader.is_empty() {
                black_box(parser.parse_value(&mut reader).unwrap());
                n += 1;
            }
            n
        });
    });
    g.finish();
}

criterion_group!(benches, read_reply);
criterion_main!(benches);
