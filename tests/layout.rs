//! The layout of `src/` as lib.rs states it, checked on the source text: the pure files
//! (`core/`, `metrics/`, `state.rs`) import neither tokio, nor the redis crate, nor any IO; the
//! redis crate is named only under `client/` and in the few files listed below; every folder
//! imports only the modules the one-way rule allows; and no two source files reach each other
//! through `crate::` or `super::` paths, directly or round a longer circle; and no code decides
//! on a failed call's message text.
//!
//! Test modules (`#[cfg(test)] mod …`, `tests.rs`) are left out of the rule and the circles, as
//! they may build their input with anything; the purity check reads them too.
//!
//! And no line of Rust anywhere in the package (src/, tests/, benches/, examples/, fuzz/) is wider
//! than rustfmt's 100 columns: rustfmt silently leaves a statement it cannot fit unformatted.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Which top-level modules each top-level module may import (besides itself). `app` wires
/// everything together and may import anything.
const RULE: &[(&str, &[&str])] = &[
    ("core", &[]),
    ("config", &["core"]),
    ("client", &["config", "core"]),
    ("state", &["core"]),
    ("metrics", &["core", "state"]),
    ("poll", &["core", "client", "config", "state"]),
    ("targets", &["poll", "client", "config", "state", "core"]),
    (
        "http",
        &["metrics", "state", "core", "config", "targets::on_demand"],
    ),
    ("check", &["config", "core", "client"]),
    ("cli", &["config", "check", "metrics"]),
    ("telemetry", &["config"]),
];

/// Files that must stay pure: no tokio, no redis, no IO.
const PURE: &[&str] = &["core/", "metrics/", "state.rs"];

/// What a pure file may not name.
const IMPURE: &[&str] = &[
    "tokio",
    "redis",
    "std::net",
    "std::fs",
    "std::process",
    "std::io",
    "axum",
    "hyper_util",
    "rustls",
    "tokio_rustls",
];

/// Ways of deciding on a failed call's message text instead of its `CallKind` (the error's
/// text is for people; its kind is decided once, where the failure is known).
const ERROR_TEXT_TESTS: &[&str] = &[
    "message.contains(",
    "message.starts_with(",
    ".detail()",
    " e.starts_with(",
    " e.contains(",
    "(e.starts_with(",
    "(e.contains(",
];

/// The files that make Redis calls and handle their errors.
const CALLERS: &[&str] = &["client/", "poll/", "targets/", "check.rs", "app.rs"];

/// Files outside `client/` that still name the redis crate: the URL parsing behind the
/// configuration's `ConnectionInfo`, and the two places that still build a `redis::Client`.
/// They move to the one connection stack next.
const REDIS_OUTSIDE_CLIENT: &[&str] = &["config/redis_url.rs", "poll/sampler_task.rs", "check.rs"];

/// rustfmt's `max_width` (its default; the package sets no other).
const MAX_WIDTH: usize = 100;

/// Where the package's Rust files live.
const RUST_DIRS: &[&str] = &["src", "tests", "benches", "examples", "fuzz"];

#[test]
fn the_source_tree_follows_the_layout() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = BTreeMap::new();
    read_tree(&root, &root, &mut files);
    assert!(files.len() > 20, "only {} files under src/", files.len());
    let problems = violations(&files);
    assert!(
        problems.is_empty(),
        "the layout of src/ is broken:\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn each_kind_of_violation_is_found() {
    let tree = |files: &[(&str, &str)]| -> BTreeMap<String, String> {
        files
            .iter()
            .map(|(p, t)| (p.to_string(), t.to_string()))
            .collect()
    };
    let ok = tree(&[
        ("core/mod.rs", "pub mod info;"),
        (
            "core/info.rs",
            "// tokio is not named here\npub fn parse() {}",
        ),
        ("state.rs", "use crate::core::info::parse;"),
        (
            "metrics/mod.rs",
            "use crate::state::Shared;\nuse super::core::info;",
        ),
    ]);
    assert_eq!(violations(&ok), Vec::<String>::new());

    let impure = tree(&[("core/info.rs", "use tokio::time::Instant;")]);
    assert_one(&impure, "core/info.rs imports tokio");
    let io = tree(&[("state.rs", "fn f() { std::fs::read(\"x\"); }")]);
    assert_one(&io, "state.rs imports std::fs");

    let upward = tree(&[
        ("metrics/text.rs", "use crate::http::{self, app};"),
        ("http/mod.rs", "pub fn app() {}"),
    ]);
    assert_one(&upward, "metrics/text.rs imports http");
    let beside = tree(&[
        (
            "http/scrape.rs",
            "use crate::targets::supervisor::Supervisor;",
        ),
        ("targets/supervisor.rs", ""),
        ("targets/on_demand.rs", ""),
    ]);
    assert_one(&beside, "http/scrape.rs imports targets::supervisor");

    let by_text = tree(&[(
        "poll/capabilities.rs",
        "fn f(e: CallError) -> bool { e.message.contains(\"syntax\") }",
    )]);
    assert_one(&by_text, "poll/capabilities.rs decides on an error's text");

    let redis = tree(&[("poll/poller.rs", "use redis::Value;")]);
    assert_one(&redis, "poll/poller.rs names the redis crate");

    let circle = tree(&[
        ("poll/a.rs", "use super::b::B;"),
        ("poll/b.rs", "use super::{a::A, c};"),
        ("poll/c.rs", ""),
    ]);
    assert_one(&circle, "import circle: poll::a -> poll::b -> poll::a");

    // Test modules may import anything, and strings and comments import nothing.
    let tests = tree(&[
        (
            "core/cluster.rs",
            "#[cfg(test)]\nmod tests {\n    use crate::http::x;\n}\n",
        ),
        (
            "http/x.rs",
            "const S: &str = \"crate::targets::supervisor\"; // crate::poll",
        ),
    ]);
    assert_eq!(violations(&tests), Vec::<String>::new());
}

#[test]
fn no_line_is_wider_than_rustfmt_formats() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = BTreeMap::new();
    for dir in RUST_DIRS {
        let dir = root.join(dir);
        if dir.is_dir() {
            read_tree(root, &dir, &mut files);
        }
    }
    assert!(files.len() > 50, "only {} .rs files found", files.len());
    let long = long_lines(&files);
    assert!(
        long.is_empty(),
        "lines wider than {MAX_WIDTH} columns, where rustfmt gives up on the statement (split a \
         string with a `\\` continuation or `concat!`, or name a part):\n  {}",
        long.join("\n  ")
    );
}

#[test]
fn a_wide_line_is_found() {
    // 100 columns exactly (one of them a multi-byte character) passes; 101 does not.
    let fits = format!("    let s = \"…{}\";", "x".repeat(84));
    let wide = format!("    let s = \"{}\";", "x".repeat(86));
    assert_eq!((fits.chars().count(), wide.chars().count()), (100, 101));
    let files: BTreeMap<String, String> = [
        ("src/a.rs", format!("fn f() {{\n{fits}\n{wide}\n}}\n")),
        ("tests/b.rs", format!("{fits}\n")),
    ]
    .into_iter()
    .map(|(p, t)| (p.to_string(), t))
    .collect();
    assert_eq!(long_lines(&files), ["src/a.rs:3: 101 columns"]);
}

/// `path:line: N columns` for each line of `files` wider than [`MAX_WIDTH`].
fn long_lines(files: &BTreeMap<String, String>) -> Vec<String> {
    files
        .iter()
        .flat_map(|(path, text)| {
            text.lines().enumerate().filter_map(move |(i, line)| {
                let width = line.chars().count();
                (width > MAX_WIDTH).then(|| format!("{path}:{}: {width} columns", i + 1))
            })
        })
        .collect()
}

#[track_caller]
fn assert_one(files: &BTreeMap<String, String>, expected: &str) {
    let found = violations(files);
    assert!(
        found.len() == 1 && found[0].starts_with(expected),
        "expected one violation `{expected}…`, found {found:?}"
    );
}

/// Every `.rs` file under `dir`, by its path relative to `root`.
fn read_tree(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() && !path.ends_with("target") {
            read_tree(root, &path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let rel = path.strip_prefix(root).expect("under the root");
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            out.insert(rel.to_string_lossy().replace('\\', "/"), text);
        }
    }
}

/// Everything wrong with `files` (paths relative to `src/`), one line each.
fn violations(files: &BTreeMap<String, String>) -> Vec<String> {
    let modules: BTreeMap<String, Vec<String>> = files
        .keys()
        .filter(|p| *p != "main.rs" && !p.ends_with("tests.rs"))
        .map(|p| (p.clone(), module_of(p)))
        .collect();
    let known: BTreeSet<&[String]> = modules.values().map(Vec::as_slice).collect();
    let mut problems = Vec::new();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (path, text) in files {
        let code = strip(text);
        if PURE.iter().any(|p| path.starts_with(p)) {
            for word in IMPURE {
                if names(&code, word) {
                    problems.push(format!("{path} imports {word} (it must stay pure)"));
                }
            }
        }
        let Some(module) = modules.get(path) else {
            continue;
        };
        let code = without_test_modules(&code);
        let in_client = path.starts_with("client/");
        if !in_client && !REDIS_OUTSIDE_CLIENT.contains(&path.as_str()) && names(&code, "redis") {
            problems.push(format!("{path} names the redis crate (only client/ may)"));
        }
        let calls_redis = CALLERS.iter().any(|c| path.starts_with(c));
        for text_test in ERROR_TEXT_TESTS.iter().filter(|_| calls_redis) {
            if code.contains(text_test) {
                problems.push(format!(
                    "{path} decides on an error's text ({text_test}…): use its kind"
                ));
            }
        }
        for target in references(&code, module) {
            let Some(file) = longest_known(&known, &target) else {
                continue;
            };
            let related = file.starts_with(module) || module.starts_with(file);
            if related {
                continue;
            }
            if let Some(why) = forbidden(module, &target) {
                problems.push(format!("{path} imports {why}"));
            }
            edges
                .entry(module.join("::"))
                .or_default()
                .insert(file.join("::"));
        }
    }
    problems.extend(circles(&edges));
    problems.sort();
    problems.dedup();
    problems
}

/// `core/info.rs` → `[core, info]`, `core/mod.rs` → `[core]`, `lib.rs` → `[]`.
fn module_of(path: &str) -> Vec<String> {
    let trimmed = path.trim_end_matches(".rs");
    let mut parts: Vec<String> = trimmed.split('/').map(str::to_string).collect();
    if parts.last().is_some_and(|l| l == "mod" || l == "lib") {
        parts.pop();
    }
    parts
}

/// The longest prefix of `path` that is a file's module.
fn longest_known<'a>(known: &BTreeSet<&'a [String]>, path: &[String]) -> Option<&'a [String]> {
    (1..=path.len())
        .rev()
        .find_map(|n| known.get(&path[..n]).copied())
}

/// Why `from` may not import `target`, if it may not.
fn forbidden(from: &[String], target: &[String]) -> Option<String> {
    let (Some(top), Some(other)) = (from.first(), target.first()) else {
        return None;
    };
    if top == other || top == "app" {
        return None;
    }
    let allowed = RULE
        .iter()
        .find(|(m, _)| m == top)
        .map_or(&[][..], |(_, a)| a);
    let joined = target.join("::");
    let ok = allowed
        .iter()
        .any(|a| joined == *a || joined.starts_with(&format!("{a}::")));
    (!ok).then(|| {
        if allowed.iter().any(|a| a.starts_with(&format!("{other}::"))) {
            target[..2.min(target.len())].join("::")
        } else {
            other.clone()
        }
    })
}

/// Whether `code` uses `word` as a path root (`word::…`, `use word`, `word` followed by `::`).
fn names(code: &str, word: &str) -> bool {
    let bytes = code.as_bytes();
    code.match_indices(word).any(|(i, _)| {
        let before = i.checked_sub(1).map(|j| bytes[j]);
        let after = code[i + word.len()..].trim_start();
        let starts = before.is_none_or(|b| !is_ident(b) && b != b':');
        starts && (after.starts_with("::") || after.starts_with(';') || after.starts_with('{'))
    })
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$'
}

/// The crate-internal paths `code` names, absolute (`crate::a::b` and `super::b` resolved
/// against `module`).
fn references(code: &str, module: &[String]) -> Vec<Vec<String>> {
    let bytes = code.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let rest = &code[i..];
        let at_start = i == 0 || (!is_ident(bytes[i - 1]) && bytes[i - 1] != b':');
        let base = if !at_start {
            None
        } else if rest.starts_with("crate::") {
            i += "crate::".len();
            Some(Vec::new())
        } else if rest.starts_with("super::") {
            let mut base = module.to_vec();
            while code[i..].starts_with("super::") {
                base.pop();
                i += "super::".len();
            }
            Some(base)
        } else {
            None
        };
        match base {
            Some(base) => {
                let (paths, end) = use_tree(code, i);
                out.extend(paths.into_iter().map(|p| [base.clone(), p].concat()));
                i = end.max(i + 1);
            }
            None => i += 1,
        }
    }
    out
}

/// The paths of a use tree starting at `i` (`a::b`, `a::{b, c::d}`, `{a, b}`), and where it ends.
fn use_tree(code: &str, mut i: usize) -> (Vec<Vec<String>>, usize) {
    let bytes = code.as_bytes();
    let skip_space = |mut i: usize| {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        i
    };
    let mut prefix = Vec::new();
    loop {
        i = skip_space(i);
        if i < bytes.len() && bytes[i] == b'{' {
            let mut paths = Vec::new();
            i += 1;
            loop {
                i = skip_space(i);
                if i >= bytes.len() || bytes[i] == b'}' {
                    return (paths, i + 1);
                }
                let (inner, end) = use_tree(code, i);
                paths.extend(inner.into_iter().map(|p| [prefix.clone(), p].concat()));
                i = skip_space(end);
                while i < bytes.len() && bytes[i] != b',' && bytes[i] != b'}' {
                    i += 1; // `as name`
                }
                if i < bytes.len() && bytes[i] == b',' {
                    i += 1;
                }
            }
        }
        let start = i;
        while i < bytes.len() && is_ident(bytes[i]) {
            i += 1;
        }
        let ident = &code[start..i];
        if !ident.is_empty() && ident != "self" {
            prefix.push(ident.to_string());
        }
        if code[i..].starts_with("::") {
            i += 2;
        } else {
            return (vec![prefix], i);
        }
    }
}

/// `code` with comments removed and string and char literals emptied.
fn strip(code: &str) -> String {
    let chars: Vec<char> = code.chars().collect();
    let mut out = String::with_capacity(code.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let ident_at = |k: usize| chars[k].is_alphanumeric() || chars[k] == '_';
        let prev_ident = i > 0 && ident_at(i - 1);
        // `r"…"`, `r#"…"#`, and the same after `b`.
        let raw_start = !prev_ident || (chars[i - 1] == 'b' && (i < 2 || !ident_at(i - 2)));
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            i += 2;
            while i + 1 < chars.len() && !(chars[i] == '*' && chars[i + 1] == '/') {
                i += 1;
            }
            i += 2;
        } else if c == 'r' && raw_start && matches!(next, Some('"' | '#')) {
            let mut j = i + 1;
            let mut hashes = 0;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if chars.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            loop {
                if j >= chars.len() {
                    break;
                }
                if chars[j] == '"' && (0..hashes).all(|k| chars.get(j + 1 + k) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            out.push_str("\"\"");
            i = j;
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            out.push_str("\"\"");
            i += 1;
        } else if c == '\'' && next == Some('\\') {
            i += 2;
            while i < chars.len() && chars[i] != '\'' {
                i += 1;
            }
            out.push_str("' '");
            i += 1;
        } else if c == '\'' && chars.get(i + 2) == Some(&'\'') {
            out.push_str("' '");
            i += 3;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// `code` without its `#[cfg(test)] mod … { … }` blocks.
fn without_test_modules(code: &str) -> String {
    let mut out = String::with_capacity(code.len());
    let mut rest = code;
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let after = &rest[at + "#[cfg(test)]".len()..];
        let trimmed = after.trim_start();
        let is_block_mod = (trimmed.starts_with("mod ") || trimmed.starts_with("pub(crate) mod "))
            && trimmed
                .find(['{', ';'])
                .is_some_and(|k| trimmed.as_bytes()[k] == b'{');
        if !is_block_mod {
            out.push_str("#[cfg(test)]");
            rest = after;
            continue;
        }
        let open = after.find('{').expect("a block");
        let mut depth = 0usize;
        let mut end = after.len();
        for (k, ch) in after[open..].char_indices() {
            match ch {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = open + k + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// One line per import circle among the modules of `edges`.
fn circles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let mut found = Vec::new();
    let mut seen_in_circle = BTreeSet::new();
    for start in edges.keys() {
        if seen_in_circle.contains(start) {
            continue;
        }
        // Breadth-first search for the shortest way back to `start`.
        let mut parent: BTreeMap<&str, &str> = BTreeMap::new();
        let mut queue = std::collections::VecDeque::from([start.as_str()]);
        let mut back = None;
        while let Some(m) = queue.pop_front() {
            for next in edges.get(m).into_iter().flatten() {
                if next == start {
                    back = Some(m);
                    break;
                }
                if !parent.contains_key(next.as_str()) {
                    parent.insert(next, m);
                    queue.push_back(next);
                }
            }
            if back.is_some() {
                break;
            }
        }
        let Some(mut m) = back else { continue };
        let mut circle = vec![start.as_str()];
        let mut way = Vec::new();
        while m != start {
            way.push(m);
            m = parent[m];
        }
        circle.extend(way.into_iter().rev());
        circle.push(start);
        seen_in_circle.extend(circle.iter().map(std::string::ToString::to_string));
        found.push(format!("import circle: {}", circle.join(" -> ")));
    }
    found
}
