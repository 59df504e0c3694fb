//! A cache-aside client for tests that need a realistic evicting cache: GET each key of a
//! seeded Zipf stream (`support/zipf.rs`), SET it with a fixed-size value on a miss (the SETs
//! at the head of the next pipeline), over one raw RESP connection. The same stream replayed
//! into servers of other sizes gives their real hit ratios.
//!
//! Not declared in `support/mod.rs`: a test that uses it includes it beside `zipf`:
//! ```text
//! #[path = "support/zipf.rs"]
//! mod zipf;
//! #[path = "support/cache_aside.rs"]
//! mod cache_aside;
//! ```

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::zipf::Zipf;

/// One stream: `lookups` GETs of keys `k:<rank>` drawn from `keys` keys with Zipf `alpha`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Stream {
    pub(crate) keys: u64,
    pub(crate) alpha: f64,
    pub(crate) lookups: usize,
    pub(crate) value_len: usize,
    pub(crate) seed: u64,
}

/// GETs per pipeline.
const BATCH: usize = 500;

/// Writes `args` as one RESP command.
fn queue(out: &mut Vec<u8>, args: &[&[u8]]) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

/// The first line of the next reply, without its CRLF.
fn reply_line(r: &mut impl BufRead) -> String {
    let mut line = String::new();
    assert!(
        r.read_line(&mut line).expect("read a reply") > 0,
        "server closed"
    );
    line.truncate(line.trim_end().len());
    line
}

/// Reads one reply; `true` for a nil bulk (a GET that missed). Errors fail the test.
fn read_nil(r: &mut impl BufRead) -> bool {
    let line = reply_line(r);
    match line.as_bytes()[0] {
        b'$' if line == "$-1" => true,
        b'$' => {
            let len: usize = line[1..].parse().expect("bulk length");
            let mut body = vec![0; len + 2];
            r.read_exact(&mut body).expect("bulk body");
            false
        }
        b'+' => false,
        _ => panic!("unexpected reply {line:?}"),
    }
}

/// Reads a SET's reply: `true` when stored, `false` when refused for memory (`-OOM`: the
/// subscribers' output buffers count in `used_memory`, and on a loaded machine a lagging
/// subscriber can hold more than a small `maxmemory` for a moment, as an application would see
/// it: its value is not cached). Other replies fail the test.
fn read_set(r: &mut impl BufRead) -> bool {
    match reply_line(r).as_str() {
        "+OK" => true,
        l if l.starts_with("-OOM") => false,
        l => panic!("SET refused: {l:?}"),
    }
}

/// Runs `stream` against the server on `port`: GET each key, SET it on a miss. SETs refused
/// for memory are counted and said on stderr.
pub(crate) fn run(port: u16, stream: &Stream) {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut reader = BufReader::with_capacity(1 << 16, s.try_clone().unwrap());
    let mut writer = s;
    let mut zipf = Zipf::new(stream.keys, stream.alpha, stream.seed);
    let value = vec![b'v'; stream.value_len];
    let (mut out, mut missed) = (Vec::new(), Vec::<u64>::new());
    let (mut done, mut refused) = (0, 0);
    while done < stream.lookups + BATCH {
        let sets = missed.len();
        for r in missed.drain(..) {
            queue(&mut out, &[b"SET", format!("k:{r}").as_bytes(), &value]);
        }
        let ranks: Vec<u64> = if done < stream.lookups {
            (0..BATCH).map(|_| zipf.next_rank()).collect()
        } else {
            Vec::new()
        };
        for r in &ranks {
            queue(&mut out, &[b"GET", format!("k:{r}").as_bytes()]);
        }
        writer.write_all(&out).expect("write");
        out.clear();
        refused += (0..sets).filter(|_| !read_set(&mut reader)).count();
        for &r in &ranks {
            if read_nil(&mut reader) {
                missed.push(r);
            }
        }
        done += BATCH;
    }
    if refused > 0 {
        eprintln!("cache-aside on port {port}: {refused} SETs refused with OOM");
    }
}
