//! INFO keysizes (Redis 8+): per database and key type, how many keys fall in each power-of-two
//! size bin — bytes for strings, items for lists, sets, sorted sets and hashes. Parsed into
//! [`KeySizes`] of the slow part of a sample; bounded to the known types and the first
//! [`MAX_DBS`] databases so a server with many databases cannot flood the exposition. Pure.

use super::pairs;

/// Databases whose distributions are kept at most (Redis has 16 by default).
const MAX_DBS: usize = 16;

/// `dbN_distrib_<type>_<sizes|items>` type words and the `type` label each becomes.
const TYPES: [(&str, &str); 5] = [
    ("strings_sizes", "string"),
    ("lists_items", "list"),
    ("sets_items", "set"),
    ("zsets_items", "zset"),
    ("hashes_items", "hash"),
];

/// One line of INFO keysizes: a database, a type, and its non-empty bins.
#[derive(Debug, Clone, PartialEq)]
pub struct KeySizes {
    pub db: u32,
    /// The `type` label: `string`, `list`, `set`, `zset` or `hash`.
    pub kind: &'static str,
    /// `(lower bound, keys)`: keys whose size is at least the bound and below twice it (the
    /// bin `0` holds empty values only); bounds in bytes for strings, items for the others.
    pub bins: Vec<(u64, u64)>,
}

/// What a keysizes field does to the list: `None` when the key is not one, else whether it
/// was kept (or dropped on purpose: an unknown type, a database beyond [`MAX_DBS`]).
pub(super) fn field(out: &mut Vec<KeySizes>, key: &str, value: &str) -> Option<bool> {
    let (db, rest) = key.strip_prefix("db")?.split_once("_distrib_")?;
    let db: u32 = db.parse().ok()?;
    let Some(&(_, kind)) = TYPES.iter().find(|(word, _)| *word == rest) else {
        return Some(true);
    };
    let mut bins = Vec::new();
    for (bound, count) in pairs(value) {
        match (bound_value(bound), count.parse::<u64>()) {
            (Some(b), Ok(c)) if bins.len() < 65 => bins.push((b, c)),
            _ => return Some(false),
        }
    }
    let mut dbs = out.iter().map(|k| k.db).collect::<Vec<_>>();
    dbs.dedup();
    if !dbs.contains(&db) && dbs.len() >= MAX_DBS {
        return Some(true);
    }
    out.push(KeySizes { db, kind, bins });
    Some(true)
}

/// A bin's lower bound as INFO writes it: `0`, a power of two, or one with a binary suffix
/// (`1K` = 1024, `2M`, `4G`, `8T`, `16P`).
fn bound_value(s: &str) -> Option<u64> {
    let (digits, shift) = match s.as_bytes().last()? {
        b'K' => (&s[..s.len() - 1], 10),
        b'M' => (&s[..s.len() - 1], 20),
        b'G' => (&s[..s.len() - 1], 30),
        b'T' => (&s[..s.len() - 1], 40),
        b'P' => (&s[..s.len() - 1], 50),
        _ => (s, 0),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    let v = n.checked_mul(1u64.checked_shl(shift)?)?;
    (v == 0 || v.is_power_of_two()).then_some(v)
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use super::*;

    #[test]
    fn bounds_with_binary_suffixes() {
        for (s, v) in [
            ("0", 0),
            ("1", 1),
            ("512", 512),
            ("1K", 1024),
            ("2M", 2 << 20),
        ] {
            assert_eq!(bound_value(s), Some(v), "{s}");
        }
        for bad in ["", "K", "3", "1X", "-1", "1.5K", "99999999P"] {
            assert_eq!(bound_value(bad), None, "{bad}");
        }
    }

    #[test]
    fn lines_by_db_and_type_unknown_types_dropped_bad_values_skipped() {
        let s = parse(
            "# Keysizes\r\ndb0_distrib_strings_sizes:0=1,16=3,1K=2\r\n\
             db0_distrib_lists_items:8=4\r\ndb3_distrib_streams_items:2=1\r\n\
             db1_distrib_hashes_items:3=1\r\n",
        )
        .unwrap();
        let slow = s.slow.as_deref().expect("keysizes seen");
        assert!(slow.has_keysizes);
        assert_eq!(
            slow.keysizes,
            vec![
                KeySizes {
                    db: 0,
                    kind: "string",
                    bins: vec![(0, 1), (16, 3), (1024, 2)]
                },
                KeySizes {
                    db: 0,
                    kind: "list",
                    bins: vec![(8, 4)]
                },
            ]
        );
        assert_eq!(s.skipped, vec!["db1_distrib_hashes_items"]);
    }

    #[test]
    fn at_most_max_dbs_databases() {
        let text: String = (0..40)
            .map(|db| {
                format!("db{db}_distrib_strings_sizes:1=1\r\ndb{db}_distrib_sets_items:2=1\r\n")
            })
            .collect();
        let s = parse(&format!("# Keysizes\r\n{text}")).unwrap();
        let ks = &s.slow.as_deref().unwrap().keysizes;
        assert_eq!(ks.len(), 2 * MAX_DBS);
        assert_eq!(ks.last().unwrap().db, MAX_DBS as u32 - 1);
        assert!(s.skipped.is_empty());
    }

    #[test]
    fn a_real_redis_8_2_capture() {
        let text = include_str!("../../../tests/fixtures/info/redis-8.2-keysizes.txt");
        let s = parse(text).unwrap();
        let ks = &s.slow.as_deref().unwrap().keysizes;
        let lines: Vec<_> = ks
            .iter()
            .map(|k| (k.db, k.kind, k.bins.iter().map(|b| b.1).sum::<u64>()))
            .collect();
        // 301 strings (one empty), 4 lists, 1 set, 1 sorted set, 10 hashes in db0; 5 in db2.
        assert_eq!(
            lines,
            vec![
                (0, "string", 301),
                (0, "list", 4),
                (0, "set", 1),
                (0, "zset", 1),
                (0, "hash", 10),
                (2, "string", 5)
            ]
        );
        assert_eq!(ks[0].bins[0], (0, 1));
        assert!(s.skipped.is_empty());
    }
}
