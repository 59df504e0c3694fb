//! The shapes of a Redis reply that the pure parsers read (RESP2 and RESP3), so they need no
//! client library: the client converts the replies it receives into these
//! (`crate::client::reply`), moving byte buffers rather than copying them.

/// One reply, as far as the parsers care.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Reply {
    /// Null bulk string, null array, RESP3 null.
    Nil,
    /// Integer reply.
    Int(i64),
    /// Bulk string: bytes, usually text.
    BulkString(Vec<u8>),
    /// Simple string, e.g. `+OK`.
    SimpleString(String),
    /// RESP3 verbatim string, without its format.
    VerbatimString(String),
    /// Array (RESP2 and RESP3).
    Array(Vec<Reply>),
    /// RESP3 map, in reply order.
    Map(Vec<(Reply, Reply)>),
    /// Any other shape (set, double, boolean, push, error reply): no parser reads one.
    Other,
}

impl Reply {
    /// The text of a string reply; a bulk string that is not UTF-8 is read lossily.
    pub(crate) fn text(&self) -> Option<String> {
        match self {
            Reply::BulkString(b) => Some(String::from_utf8_lossy(b).into_owned()),
            Reply::SimpleString(s) | Reply::VerbatimString(s) => Some(s.clone()),
            _ => None,
        }
    }

    /// An integer reply, or a string reply holding one.
    pub(crate) fn int(&self) -> Option<i64> {
        match self {
            Reply::Int(i) => Some(*i),
            other => other.text()?.parse().ok(),
        }
    }

    /// Key/value pairs of a RESP2 flat array or a RESP3 map, keys as text.
    pub(crate) fn pairs(&self) -> Option<Vec<(String, &Reply)>> {
        match self {
            Reply::Array(items) => items
                .chunks(2)
                .map(|kv| Some((kv.first()?.text()?, kv.get(1)?)))
                .collect(),
            Reply::Map(items) => items.iter().map(|(k, v)| Some((k.text()?, v))).collect(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_int_and_pairs() {
        assert_eq!(
            Reply::BulkString(b"a\xff".to_vec()).text().as_deref(),
            Some("a\u{fffd}")
        );
        assert_eq!(
            Reply::VerbatimString("v".into()).text().as_deref(),
            Some("v")
        );
        assert_eq!(Reply::Int(3).text(), None);
        assert_eq!(Reply::SimpleString("42".into()).int(), Some(42));
        let flat = Reply::Array(vec![
            Reply::SimpleString("k".into()),
            Reply::Int(1),
            Reply::SimpleString("odd".into()),
        ]);
        assert_eq!(flat.pairs(), None);
        let map = Reply::Map(vec![(Reply::SimpleString("k".into()), Reply::Int(1))]);
        assert_eq!(map.pairs(), Some(vec![("k".to_string(), &Reply::Int(1))]));
        assert_eq!(Reply::Other.pairs(), None);
    }
}
