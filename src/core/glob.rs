//! The one glob matcher: `*` matches any run of bytes (also none), `?` exactly one where the
//! caller allows it, everything else itself. Two spellings of it: Redis-style key patterns
//! (the sampler's `patterns`) and URL patterns (`scrape.allow`, `[[scrape.credentials]]`).

/// Whether `key` matches the Redis-style `pattern`: `*` any run of bytes, `?` one byte, other
/// bytes themselves.
pub(crate) fn glob_match(pattern: &[u8], key: &[u8]) -> bool {
    matches(pattern, key, true, |p, k| p == k)
}

/// Whether `text` matches the URL `pattern`: `*` any run of characters, everything else
/// itself, ASCII case-insensitively (`?` is not special: URLs we match never contain one).
pub(crate) fn url_pattern_match(pattern: &str, text: &str) -> bool {
    matches(pattern.as_bytes(), text.as_bytes(), false, |p, t| {
        p.eq_ignore_ascii_case(&t)
    })
}

/// Iterative matcher that backtracks to the last `*`: linear in practice.
fn matches(pattern: &[u8], text: &[u8], question: bool, same: impl Fn(u8, u8) -> bool) -> bool {
    let (mut p, mut t) = (0, 0);
    // Where the last `*` was, and the text position it is currently taken to stop at.
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if (question && c == b'?') || same(c, text[t]) => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p.min(pattern.len())..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_patterns() {
        assert!(glob_match(b"user:*", b"user:42"));
        assert!(glob_match(b"user:*", b"user:"));
        assert!(!glob_match(b"user:*", b"users:1"));
        assert!(glob_match(b"*:lock", b"a:b:lock"));
        assert!(!glob_match(b"*:lock", b"a:b:locks"));
        assert!(glob_match(b"s?ss:*:x", b"sess:1:2:x"));
        assert!(glob_match(b"*", b""));
        assert!(glob_match(b"a*b*c", b"aXbYbZc"));
        assert!(!glob_match(b"a*b*c", b"aXbYbZ"));
        assert!(glob_match(b"exact", b"exact"));
        assert!(!glob_match(b"exact", b"exactly"));
    }

    #[test]
    fn url_patterns() {
        assert!(url_pattern_match(
            "redis://*.cache.internal:*",
            "redis://a.cache.internal:6379"
        ));
        assert!(!url_pattern_match(
            "redis://*.cache.internal:*",
            "redis://a.cache.internal.evil:6379"
        ));
        assert!(url_pattern_match(
            "redis://*.cache.internal:*",
            "redis://a.b.cache.internal:1"
        ));
        assert!(!url_pattern_match(
            "redis://*.cache.internal:*",
            "rediss://a.cache.internal:1"
        ));
        assert!(url_pattern_match("*", "anything"));
        assert!(url_pattern_match(
            "redis://127.0.0.1:*",
            "redis://127.0.0.1:7000"
        ));
        assert!(!url_pattern_match("redis://h:1", "redis://h:12"));
        assert!(url_pattern_match("REDIS://H:*", "redis://h:1"));
        assert!(url_pattern_match("a*b*c", "aXXbYYc"));
        assert!(!url_pattern_match("a*b*c", "aXXbYY"));
    }
}
