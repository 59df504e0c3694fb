//! RESP on the wire, without IO: the length of the first complete reply in a buffer (RESP2
//! and RESP3), found without parsing values, so a connection knows when to hand the bytes to
//! the redis crate's parser ([`parse_one`], the pair every connection reads with). Commands are
//! encoded by the redis crate (`Cmd::write_packed_command`).
//!
//! The crate's parser alone cannot say "incomplete" apart from "invalid" on a partial buffer,
//! nor bound what a peer announces; this framer does both, so a reply split over many reads
//! is parsed once, and a peer announcing a huge bulk fails at once.

use redis::Value;

/// The largest bulk reply accepted (an INFO reply is a few KiB; CONFIG GET a few hundred bytes).
pub const MAX_BULK: usize = 64 << 20;

/// How much of a buffer one reply takes.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    /// The first `n` bytes are one complete reply.
    Complete(usize),
    /// More bytes are needed: at least this many in total.
    Incomplete(usize),
}

/// A buffer that is not RESP, or announces more than we accept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameError(pub String);

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn parse_error(what: &str) -> FrameError {
    FrameError(what.to_string())
}

/// Finds the end of the first reply in `buf` (RESP2 and RESP3), without parsing values.
/// Bulks longer than `max_bulk` and unknown type bytes are protocol errors.
pub fn frame_len(buf: &[u8], max_bulk: usize) -> Result<Frame, FrameError> {
    let mut pos = 0;
    // Values still to read at the current position (aggregates add their elements).
    let mut pending: usize = 1;
    while pending > 0 {
        pending -= 1;
        let Some(&kind) = buf.get(pos) else {
            return Ok(Frame::Incomplete(pos + 1));
        };
        if !b"+-:_#,($=!*~>%|".contains(&kind) {
            // Known at once: waiting for the line's end would only turn garbage into a timeout.
            return Err(parse_error("invalid reply type byte"));
        }
        // The line ends at the first CR LF after the type byte.
        let Some(eol) = buf[pos + 1..].windows(2).position(|w| w == b"\r\n") else {
            if buf.len() - pos > 64 << 10 {
                return Err(parse_error("reply line too long"));
            }
            return Ok(Frame::Incomplete(buf.len() + 1));
        };
        let line = &buf[pos + 1..pos + 1 + eol];
        let next = pos + 1 + eol + 2;
        let count = || -> Result<i64, FrameError> {
            std::str::from_utf8(line)
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| parse_error("invalid length in reply"))
        };
        match kind {
            b'+' | b'-' | b':' | b'_' | b'#' | b',' | b'(' => pos = next,
            b'$' | b'=' | b'!' => {
                let n = count()?;
                if n < 0 {
                    pos = next;
                    continue;
                }
                let n = n as usize;
                if n > max_bulk {
                    return Err(FrameError(format!(
                        "bulk reply too large: {n} bytes announced, at most {max_bulk} accepted"
                    )));
                }
                let end = next + n + 2;
                if buf.len() < end {
                    return Ok(Frame::Incomplete(end));
                }
                pos = end;
            }
            b'*' | b'~' | b'>' | b'%' | b'|' => {
                let n = count()?;
                pos = next;
                if n < 0 {
                    continue;
                }
                let n = n as usize;
                if n > max_bulk {
                    return Err(parse_error("aggregate reply too large"));
                }
                pending += match kind {
                    b'%' => 2 * n,
                    // An attribute map precedes the value it annotates.
                    b'|' => 2 * n + 1,
                    _ => n,
                };
            }
            _ => return Err(parse_error("invalid reply type byte")),
        }
    }
    Ok(Frame::Complete(pos))
}

/// What the start of a buffer holds.
#[derive(Debug, PartialEq)]
pub enum Parsed {
    /// One reply, and the bytes it took.
    Value(Value, usize),
    /// Not a whole reply yet: at least this many bytes in total are needed.
    Incomplete(usize),
}

/// The first reply in `buf`: framed by [`frame_len`], then parsed by the redis crate. An
/// error reply is a [`Value::ServerError`]. This is the pair every connection reads with.
pub fn parse_one(buf: &[u8]) -> Result<Parsed, FrameError> {
    match frame_len(buf, MAX_BULK)? {
        Frame::Incomplete(n) => Ok(Parsed::Incomplete(n)),
        Frame::Complete(n) => redis::parse_redis_value(&buf[..n])
            .map(|v| Parsed::Value(v, n))
            .map_err(|e| FrameError(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_every_reply_type() {
        let cases: [&[u8]; 9] = [
            b"+OK\r\n",
            b"-ERR x\r\n",
            b":12\r\n",
            b"$5\r\nhello\r\n",
            b"$-1\r\n",
            b"*2\r\n$1\r\na\r\n:1\r\n",
            b"*-1\r\n",
            b"%1\r\n+k\r\n*1\r\n$0\r\n\r\n",
            b"*0\r\n",
        ];
        for c in cases {
            assert_eq!(
                frame_len(c, MAX_BULK).unwrap(),
                Frame::Complete(c.len()),
                "{c:?}"
            );
            // Every proper prefix is incomplete, never an error or a shorter frame.
            for cut in 0..c.len() {
                assert!(
                    matches!(
                        frame_len(&c[..cut], MAX_BULK).unwrap(),
                        Frame::Incomplete(n) if n > cut
                    ),
                    "{:?}",
                    &c[..cut]
                );
            }
        }
        assert_eq!(
            frame_len(b"+OK\r\n+extra", MAX_BULK).unwrap(),
            Frame::Complete(5)
        );
        assert_eq!(
            frame_len(b"$5800\r\n# Server", MAX_BULK).unwrap(),
            Frame::Incomplete(5800 + 9)
        );
    }

    #[test]
    fn a_line_break_where_the_type_byte_belongs_is_an_error_not_a_panic() {
        // Found by the property test: an aggregate whose element starts with CR LF.
        assert!(frame_len(b"*1\r\n\r\n", MAX_BULK).is_err());
        assert!(frame_len(b"\r\n", MAX_BULK).is_err());
        assert!(matches!(
            frame_len(b"+", MAX_BULK),
            Ok(Frame::Incomplete(_))
        ));
    }

    #[test]
    fn huge_bulks_and_garbage_are_parse_errors() {
        for bad in [
            &b"$99999999999\r\nabc"[..],
            b"HTTP/1.1 400 Bad Request\r\n\r\n",
            b"$abc\r\n",
            b"*x\r\n",
        ] {
            assert!(frame_len(bad, MAX_BULK).is_err(), "{bad:?}");
            assert!(parse_one(bad).is_err(), "{bad:?}");
        }
    }
}
