//! RESP on the wire, without IO: a command encoded as an array of bulk strings, and the length
//! of the first complete reply in a buffer (RESP2 and RESP3), found without parsing values.

use redis::{ErrorKind, RedisError};

/// The largest bulk reply accepted (an INFO reply is a few KiB; CONFIG GET a few hundred bytes).
pub(crate) const MAX_BULK: usize = 64 << 20;

/// A command as a RESP array of bulk strings.
pub(super) fn encode(out: &mut Vec<u8>, args: &[&[u8]]) {
    out.push(b'*');
    out.extend_from_slice(args.len().to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
    for a in args {
        out.push(b'$');
        out.extend_from_slice(a.len().to_string().as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

/// How much of a buffer one reply takes.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Frame {
    /// The first `n` bytes are one complete reply.
    Complete(usize),
    /// More bytes are needed: at least this many in total.
    Incomplete(usize),
}

fn parse_error(what: &'static str) -> RedisError {
    RedisError::from((ErrorKind::Parse, what))
}

/// Finds the end of the first reply in `buf` (RESP2 and RESP3), without parsing values.
/// Bulks longer than `max_bulk` and unknown type bytes are protocol errors.
pub(super) fn frame_len(buf: &[u8], max_bulk: usize) -> Result<Frame, RedisError> {
    let mut pos = 0;
    // Values still to read at the current position (aggregates add their elements).
    let mut pending: usize = 1;
    while pending > 0 {
        pending -= 1;
        let Some(&kind) = buf.get(pos) else {
            return Ok(Frame::Incomplete(pos + 1));
        };
        let Some(eol) = buf[pos..].windows(2).position(|w| w == b"\r\n") else {
            if buf.len() - pos > 64 << 10 {
                return Err(parse_error("reply line too long"));
            }
            return Ok(Frame::Incomplete(buf.len() + 1));
        };
        let line = &buf[pos + 1..pos + eol];
        let next = pos + eol + 2;
        let count = || -> Result<i64, RedisError> {
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
                    return Err(RedisError::from((
                        ErrorKind::Parse,
                        "bulk reply too large",
                        format!("{n} bytes announced, at most {max_bulk} accepted"),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_commands_as_bulk_arrays() {
        let mut out = Vec::new();
        encode(&mut out, &[b"INFO", b"server"]);
        assert_eq!(out, b"*2\r\n$4\r\nINFO\r\n$6\r\nserver\r\n");
    }

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
                    matches!(frame_len(&c[..cut], MAX_BULK).unwrap(), Frame::Incomplete(n) if n > cut),
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
    fn huge_bulks_and_garbage_are_parse_errors() {
        for bad in [
            &b"$99999999999\r\nabc"[..],
            b"HTTP/1.1 400 Bad Request\r\n\r\n",
            b"$abc\r\n",
            b"*x\r\n",
        ] {
            let e = frame_len(bad, MAX_BULK).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Parse, "{bad:?}");
        }
    }
}
