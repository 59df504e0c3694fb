//! The exposition gzipped on several threads. The targets are cut into blocks; a thread
//! renders a block target by target (each target's data is read once while it is in cache,
//! not once per family) into one buffer per family, and deflates each buffer on its own (a
//! fresh raw deflate stream ended by a sync flush). The pieces are then joined family by
//! family, in table and target order, into one gzip member, as pigz joins its pieces: any gzip
//! reader reads it as one stream, and the text inflated is byte for byte
//! [`super::render_text`]'s. Headers and exporter-wide families go in as stored blocks.
//!
//! Pure: threads, no IO. At 10 000 targets a scrape is about 80 MB of text, 1.4 million
//! series: reading each target's data once per family, on one thread, was most of a scrape.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use flate2::{Compress, Compression, FlushCompress};

use super::table::{Emit, TABLE};
use super::text::{Lines, prepare, push_header, push_target_series, render_family};
use crate::state::{Globals, Snapshot};

/// Targets per block: about 2 MB of text, in cache while it is deflated, per thread.
const BLOCK: usize = 256;

/// The gzip header (RFC 1952): deflate, no name or time, unknown OS.
const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];

/// An empty final deflate block (fixed Huffman codes, end of block at once): what ends the
/// stream after the pieces, each of which ends byte-aligned.
const LAST_BLOCK: [u8; 2] = [0x03, 0x00];

/// One block of targets deflated: family by family, where its piece lies in `deflated`, with
/// the CRC and length of its text (an empty range for a family without series in the block).
struct Part {
    deflated: Vec<u8>,
    pieces: Vec<Piece>,
}

#[derive(Clone)]
struct Piece {
    start: usize,
    end: usize,
    crc: crc32fast::Hasher,
    len: u64,
}

/// Why a gzip rendering stopped short.
#[derive(Debug, thiserror::Error)]
pub enum GzipError {
    #[error("deflating /metrics failed: {0}")]
    Deflate(#[from] flate2::CompressError),
    #[error("a block of /metrics targets was not rendered")]
    Missing,
}

/// Deflates `input` into `out` with `flush`, growing `out` until the compressor is done with it.
fn deflate(
    z: &mut Compress,
    mut input: &[u8],
    flush: FlushCompress,
    out: &mut Vec<u8>,
) -> Result<(), flate2::CompressError> {
    loop {
        // Level 1 shrinks this exposition about tenfold; the extra room covers the flush.
        out.reserve(input.len() / 4 + 256);
        let before = z.total_in();
        z.compress_vec(input, out, flush)?;
        input = &input[(z.total_in() - before) as usize..];
        // Done once the input is taken and the compressor left room unused (it had no more
        // to write, the flush included).
        if input.is_empty() && out.len() < out.capacity() {
            return Ok(());
        }
    }
}

/// Appends `data` as stored deflate blocks (the stream is byte-aligned between pieces).
fn push_stored(out: &mut Vec<u8>, data: &[u8]) {
    for part in data.chunks(usize::from(u16::MAX)) {
        let n = part.len() as u16;
        out.push(0);
        out.extend_from_slice(&n.to_le_bytes());
        out.extend_from_slice(&(!n).to_le_bytes());
        out.extend_from_slice(part);
    }
}

/// Renders and deflates blocks of `block` targets taken in turn from `next` until none is left,
/// sending each as it is done; stops when the receiver has gone.
fn work(
    lines: &[Lines],
    block: usize,
    next: &AtomicUsize,
    tx: &mpsc::Sender<(usize, Result<Part, GzipError>)>,
) {
    let mut z = Compress::new(Compression::fast(), false);
    let mut texts: Vec<String> = TABLE.iter().map(|_| String::new()).collect();
    loop {
        let k = next.fetch_add(1, Ordering::Relaxed);
        let Some(targets) = lines.chunks(block).nth(k) else {
            return;
        };
        for l in targets {
            for (i, def) in TABLE.iter().enumerate() {
                if let Emit::PerTarget(emit) = def.emit {
                    push_target_series(i, def, emit, l, &mut texts[i]);
                }
            }
        }
        let mut part = Part {
            deflated: Vec::new(),
            pieces: Vec::with_capacity(TABLE.len()),
        };
        let mut result = Ok(());
        for text in &mut texts {
            let start = part.deflated.len();
            let mut crc = crc32fast::Hasher::new();
            if !text.is_empty() && result.is_ok() {
                crc.update(text.as_bytes());
                z.reset();
                result = deflate(
                    &mut z,
                    text.as_bytes(),
                    FlushCompress::Sync,
                    &mut part.deflated,
                );
            }
            part.pieces.push(Piece {
                start,
                end: part.deflated.len(),
                crc,
                len: text.len() as u64,
            });
            text.clear();
        }
        let sent = tx.send((k, result.map(|()| part).map_err(GzipError::from)));
        if sent.is_err() {
            return;
        }
    }
}

/// The gzip body of one scrape at `now`, rendered and deflated on up to `threads` threads,
/// handed to `sink` in table order in pieces of about `piece` bytes with a flag for the last
/// (a small body comes whole, flagged last). Stops when `sink` returns false; an error means
/// the body is incomplete and must not pass for a whole one.
pub(crate) fn render_gzip(
    snaps: &[Snapshot],
    globals: &Globals,
    now: Duration,
    threads: usize,
    piece: usize,
    sink: &mut dyn FnMut(Vec<u8>, bool) -> bool,
) -> Result<(), GzipError> {
    render_gzip_in(snaps, globals, now, threads, BLOCK, piece, sink)
}

/// [`render_gzip`] with blocks of `block` targets (tests cut a small fleet in many).
fn render_gzip_in(
    snaps: &[Snapshot],
    globals: &Globals,
    now: Duration,
    threads: usize,
    block: usize,
    piece: usize,
    sink: &mut dyn FnMut(Vec<u8>, bool) -> bool,
) -> Result<(), GzipError> {
    // Lines are not kept for a later scrape: a second scrape renders them again, on every
    // thread, rather than holding 8 KB a target (80 MB at 10 000 targets) until the next
    // poll. Lines kept by a plain scrape are still read.
    let lines = prepare(snaps, now, false);
    let block = block.max(1);
    let blocks = lines.len().div_ceil(block);
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::channel();
    let parts = std::thread::scope(|s| {
        let mut started = 0;
        for _ in 0..threads.clamp(1, blocks.max(1)) {
            let (lines, next, tx) = (&lines, &next, tx.clone());
            let spawned = std::thread::Builder::new()
                .name("metrics-gzip".into())
                .spawn_scoped(s, move || work(lines, block, next, &tx));
            started += usize::from(spawned.is_ok());
        }
        if started == 0 {
            // No thread could be made: the blocks are done here (the channel holds them all).
            work(&lines, block, &next, &tx);
        }
        drop(tx);
        let mut parts: Vec<Option<Part>> = (0..blocks).map(|_| None).collect();
        for (k, part) in rx {
            parts[k] = Some(part?);
        }
        parts
            .into_iter()
            .collect::<Option<Vec<Part>>>()
            .ok_or(GzipError::Missing)
    })?;
    assemble(&parts, globals, piece, sink);
    Ok(())
}

/// Appends `text` as stored blocks, counted in the CRC and length, and empties it.
fn push_text(text: &mut String, out: &mut Vec<u8>, crc: &mut crc32fast::Hasher, len: &mut u64) {
    crc.update(text.as_bytes());
    *len += text.len() as u64;
    push_stored(out, text.as_bytes());
    text.clear();
}

/// Joins the pieces family by family behind the gzip header, each family's header (and each
/// exporter-wide family) stored, and ends the member with the CRC and length of the text.
fn assemble(
    parts: &[Part],
    globals: &Globals,
    piece: usize,
    sink: &mut dyn FnMut(Vec<u8>, bool) -> bool,
) {
    let mut crc = crc32fast::Hasher::new();
    let mut len = 0u64;
    let mut out = HEADER.to_vec();
    let mut held: Option<Vec<u8>> = None;
    let mut text = String::new();
    for (i, def) in TABLE.iter().enumerate() {
        if let Emit::PerTarget(_) = def.emit {
            let mut headed = false;
            for part in parts {
                let p = &part.pieces[i];
                if p.len == 0 {
                    continue;
                }
                if !headed {
                    push_header(&mut text, def);
                    push_text(&mut text, &mut out, &mut crc, &mut len);
                    headed = true;
                }
                crc.combine(&p.crc);
                len += p.len;
                out.extend_from_slice(&part.deflated[p.start..p.end]);
            }
        } else {
            render_family(i, &[], globals, &mut text, usize::MAX, &mut |_| true);
            push_text(&mut text, &mut out, &mut crc, &mut len);
        }
        if out.len() >= piece {
            let ready = std::mem::take(&mut out);
            if let Some(previous) = held.replace(ready)
                && !sink(previous, false)
            {
                return;
            }
        }
    }
    out.extend_from_slice(&LAST_BLOCK);
    out.extend_from_slice(&crc.finalize().to_le_bytes());
    // ISIZE: the text's length modulo 2^32.
    out.extend_from_slice(&(len as u32).to_le_bytes());
    if let Some(previous) = held
        && !sink(previous, false)
    {
        return;
    }
    sink(out, true);
}

#[cfg(test)]
mod tests {
    use flate2::{Decompress, FlushDecompress, Status};

    use super::*;
    use crate::core::derive::History;
    use crate::metrics::text::tests::{add, poll, uncached};
    use crate::state::Shared;

    /// Inflates a body as exactly one gzip member: the header written, one deflate stream to
    /// its end, then a trailer whose CRC and length match the text, and nothing after it.
    /// (flate2's stream API, not its readers: this module names no IO; tests/exporter.rs has
    /// a real Prometheus read the body.)
    fn inflate(body: &[u8]) -> String {
        String::from_utf8(inflate_bytes(body)).expect("UTF-8 text")
    }

    fn inflate_bytes(body: &[u8]) -> Vec<u8> {
        assert_eq!(
            body.get(..HEADER.len()),
            Some(&HEADER[..]),
            "the gzip header"
        );
        let mut d = Decompress::new(false);
        let mut text = Vec::with_capacity(body.len() * 8);
        let deflated = &body[HEADER.len()..];
        loop {
            let at = d.total_in() as usize;
            text.reserve(body.len().max(1 << 16));
            let status = d
                .decompress_vec(&deflated[at..], &mut text, FlushDecompress::None)
                .expect("a valid deflate stream");
            match status {
                Status::StreamEnd => break,
                _ => assert!(
                    (d.total_in() as usize) < deflated.len(),
                    "the deflate stream ends before its last block"
                ),
            }
        }
        let trailer = &deflated[d.total_in() as usize..];
        assert_eq!(
            trailer.len(),
            8,
            "an 8-byte trailer and nothing after the member"
        );
        assert_eq!(
            trailer[..4],
            crc32fast::hash(&text).to_le_bytes(),
            "the CRC of the text"
        );
        assert_eq!(
            trailer[4..],
            (text.len() as u32).to_le_bytes(),
            "the text's length"
        );
        text
    }

    /// The body in pieces of about `piece` bytes, blocks of `block` targets, checked to have
    /// exactly one last piece.
    fn gzipped(
        shared: &Shared,
        now: Duration,
        threads: usize,
        block: usize,
        piece: usize,
    ) -> (Vec<u8>, usize) {
        let (mut body, mut pieces, mut last) = (Vec::new(), 0, false);
        render_gzip_in(
            &shared.snapshots(),
            &shared.globals(),
            now,
            threads,
            block,
            piece,
            &mut |p, l| {
                assert!(!last, "a piece after the last");
                last = l;
                pieces += 1;
                body.extend_from_slice(&p);
                true
            },
        )
        .unwrap();
        assert!(last, "no piece flagged last");
        (body, pieces)
    }

    #[test]
    fn a_gzip_body_inflates_to_the_text_rendering_however_it_is_cut() {
        let shared = Shared::new();
        for (n, name) in ["a", "b\\\"q\"", "c", "never polled"].iter().enumerate() {
            add(&shared, name, &[("team", "web"), ("zone", "a\nb")]);
            if n < 3 {
                let mut h = History::new(Duration::from_secs(7));
                poll(&shared, &mut h, name, 53, 0);
                poll(&shared, &mut h, name, 60, n as u64 + 1);
            }
        }
        let now = Duration::from_secs(61);
        let want = uncached(&shared, now);
        for threads in [1, 2, 3] {
            for block in [1, 3, BLOCK] {
                for piece in [1, 4096, 1 << 20] {
                    let (body, pieces) = gzipped(&shared, now, threads, block, piece);
                    assert_eq!(inflate(&body), want, "{threads} threads, {block}, {piece}");
                    if piece == 1 {
                        // A piece per family, then the trailer.
                        assert!(pieces > TABLE.len() / 2, "{threads} {block}: {pieces}");
                    }
                    if piece == 1 << 20 {
                        assert_eq!(pieces, 1, "a small body comes whole");
                    }
                }
            }
        }
        // Lines kept by plain scrapes are read: the same text.
        for _ in 0..2 {
            crate::metrics::render_text(
                &shared.snapshots(),
                &shared.globals(),
                now,
                &mut String::new(),
            );
        }
        let (body, _) = gzipped(&shared, now, 2, 1, 4096);
        assert_eq!(inflate(&body), want);
        // Fresh lines go stale: the text follows.
        let later = Duration::from_secs(600);
        let (body, _) = gzipped(&shared, later, 2, 3, 4096);
        assert_eq!(inflate(&body), uncached(&shared, later));
    }

    #[test]
    fn a_gzip_rendering_stops_when_the_client_goes_away() {
        let shared = Shared::new();
        for name in ["a", "b"] {
            add(&shared, name, &[]);
            poll(
                &shared,
                &mut History::new(Duration::from_secs(7)),
                name,
                60,
                0,
            );
        }
        let mut pieces = 0;
        let r = render_gzip_in(
            &shared.snapshots(),
            &shared.globals(),
            Duration::from_secs(61),
            2,
            1,
            1,
            &mut |_, _| {
                pieces += 1;
                false
            },
        );
        assert!(r.is_ok());
        assert_eq!(
            pieces, 1,
            "pieces were handed on after the sink refused one"
        );
    }

    #[test]
    fn stored_blocks_inflate_to_their_data() {
        let data: Vec<u8> = (0..150_000u32).map(|i| (i % 251) as u8).collect();
        let mut body = HEADER.to_vec();
        push_stored(&mut body, &data);
        push_stored(&mut body, b"");
        body.extend_from_slice(&LAST_BLOCK);
        let mut crc = crc32fast::Hasher::new();
        crc.update(&data);
        body.extend_from_slice(&crc.finalize().to_le_bytes());
        body.extend_from_slice(&(data.len() as u32).to_le_bytes());
        assert_eq!(inflate_bytes(&body), data);
    }
}
