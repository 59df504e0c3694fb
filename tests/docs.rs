//! The Markdown pages: every relative link in them resolves to a file of the repository, and
//! every `#anchor` (in the same page or `page.md#anchor`) to a heading of that page by GitHub's
//! slug rules. And the README's front door stays true: its commands, its minimal configuration
//! (accepted by the real binary's `--check-config`), its Prometheus scrape configuration
//! (accepted by `promtool check config`), its /metrics excerpt (lines of the golden file) and
//! its pinned metrics (in the metric table, with those labels).

mod support;

use std::path::{Component, Path, PathBuf};
use std::process::Command;

use redis_cache_exporter::metrics;
use support::markdown::{anchors, block_after, links, slug};
use support::require_binary;

/// Pages whose links are checked, besides `docs/*.md` and `tests/fixtures/**/README.md`.
const PAGES: &[&str] = &[
    "README.md",
    "ARCHITECTURE.md",
    "BENCHMARKS.md",
    "bench/README.md",
];

const RUN_COMMAND: &str = "cargo run --release --locked";
const TEST_COMMAND: &str = "bash scripts/install-test-deps.sh && cargo test --locked";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// Every checked page, relative to the repository root.
fn pages() -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = PAGES.iter().map(PathBuf::from).collect();
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .expect("read docs/")
        .map(|e| e.expect("docs/ entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .map(|p| {
            p.strip_prefix(root())
                .expect("under the root")
                .to_path_buf()
        })
        .collect();
    docs.sort();
    out.extend(docs);
    let mut dirs = vec![PathBuf::from("tests/fixtures")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(root().join(&dir)).expect("read tests/fixtures") {
            let name = entry.expect("tests/fixtures entry").file_name();
            let rel = dir.join(&name);
            if root().join(&rel).is_dir() {
                dirs.push(rel);
            } else if name == "README.md" {
                out.push(rel);
            }
        }
    }
    out
}

/// `path` with `.` and `..` resolved without touching the file system; None when it climbs
/// above its start.
fn normalize(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::Normal(part) => out.push(part),
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

/// `%XX` escapes in a link's path decoded (GitHub serves `my%20page.md` as `my page.md`).
fn percent_decoded(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = s
            .get(i + 1..i + 3)
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A URL with a scheme (`https:`, `mailto:` …), which this check leaves alone.
fn is_external(dest: &str) -> bool {
    dest.split_once(':').is_some_and(|(scheme, _)| {
        !scheme.is_empty()
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    })
}

/// The broken links of `page` (relative to `root`), one message each naming the page, the line,
/// the link and what is wrong; and how many relative links were checked.
fn broken_links(root: &Path, page: &Path) -> (Vec<String>, usize) {
    let text = read(&root.join(page));
    let dir = page.parent().unwrap_or(Path::new(""));
    let mut broken = Vec::new();
    let mut checked = 0;
    for link in links(&text) {
        if is_external(&link.dest) {
            continue;
        }
        checked += 1;
        let at = format!("{}:{}: ({})", page.display(), link.line, link.dest);
        let (path, anchor) = match link.dest.split_once('#') {
            Some((path, anchor)) => (path, Some(anchor)),
            None => (link.dest.as_str(), None),
        };
        let path = percent_decoded(path);
        let target = if path.is_empty() {
            if anchor.is_none() {
                broken.push(format!("{at} is empty"));
                continue;
            }
            Some(page.to_path_buf())
        } else if let Some(from_root) = path.strip_prefix('/') {
            normalize(Path::new(from_root)) // GitHub reads a leading / as the repository root
        } else {
            normalize(&dir.join(&path))
        };
        let Some(target) = target else {
            broken.push(format!("{at} points outside the repository"));
            continue;
        };
        let file = root.join(&target);
        if !file.exists() {
            broken.push(format!("{at}: there is no {}", target.display()));
            continue;
        }
        let Some(anchor) = anchor.filter(|a| !a.is_empty()) else {
            continue;
        };
        if file.extension().is_none_or(|x| x != "md") {
            broken.push(format!(
                "{at}: {} is not a Markdown page, it has no headings",
                target.display()
            ));
        } else if !anchors(&read(&file)).iter().any(|a| a == anchor) {
            broken.push(format!(
                "{at}: {} has no heading with the anchor #{anchor}",
                target.display()
            ));
        }
    }
    (broken, checked)
}

#[test]
fn every_relative_link_and_anchor_resolves() {
    let pages = pages();
    for required in ["README.md", "docs/metrics.md", "tests/fixtures/README.md"] {
        assert!(
            pages.iter().any(|p| p == Path::new(required)),
            "{required} is not among the checked pages: {pages:?}"
        );
    }
    let mut broken = Vec::new();
    for page in &pages {
        let (b, checked) = broken_links(root(), page);
        if page == Path::new("README.md") {
            assert!(
                checked >= 20,
                "only {checked} relative links found in README.md"
            );
        }
        broken.extend(b);
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn the_link_check_reports_each_kind_of_broken_link() {
    let dir = tempfile::tempdir().expect("temp dir");
    let write = |rel: &str, body: &str| {
        let path = dir.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, body).unwrap();
    };
    write(
        "docs/b.md",
        "# B\n\n## Twice\n\n## Twice\n\nBack to [a](../a.md#top) and [up](/a.md).\n",
    );
    write("src/lib.rs", "");
    write(
        "a.md",
        "# Top\n\n\
         [fine](docs/b.md#twice-1) [fine](#top) ![fine](docs/) [fine](https://example.com/x#y)\n\
         [no file](docs/c.md) [no anchor](#nowhere) [no anchor there](docs/b.md#twice-2)\n\
         [outside](../x.md) [code anchor](src/lib.rs#L1) [empty]()\n\
         `[in code](missing.md)`\n\n\
         ```md\n[in a fence](missing.md)\n```\n\n\
         [ref]: docs/missing.md\n",
    );
    let (broken, checked) = broken_links(dir.path(), Path::new("a.md"));
    assert_eq!(checked, 10, "{broken:#?}");
    assert_eq!(
        broken,
        [
            "a.md:4: (docs/c.md): there is no docs/c.md",
            "a.md:4: (#nowhere): a.md has no heading with the anchor #nowhere",
            "a.md:4: (docs/b.md#twice-2): docs/b.md has no heading with the anchor #twice-2",
            "a.md:5: (../x.md) points outside the repository",
            "a.md:5: (src/lib.rs#L1): src/lib.rs is not a Markdown page, it has no headings",
            "a.md:5: () is empty",
            "a.md:12: (docs/missing.md): there is no docs/missing.md",
        ]
    );
    let (broken, checked) = broken_links(dir.path(), Path::new("docs/b.md"));
    assert_eq!((broken, checked), (vec![], 2));
}

#[test]
fn anchors_follow_githubs_slug_rules() {
    let page = "\
# Many targets: `/scrape?target=URL`
## Key-prefix sampler (opt-in)
### Checking an instance: `redis-cache-exporter check`
## Tests
#### Tests
## Tests ##
## A — B, *and* snake_case
## See [the runbooks](runbooks.md)
## C#
Setext heading
--------------

```sh
# a comment, not a heading
```
#not-a-heading
    # indented code
";
    assert_eq!(
        anchors(page),
        [
            "many-targets-scrapetargeturl",
            "key-prefix-sampler-opt-in",
            "checking-an-instance-redis-cache-exporter-check",
            "tests",
            "tests-1",
            "tests-2",
            "a--b-and-snake_case",
            "see-the-runbooks",
            "c",
            "setext-heading",
        ]
    );
    assert_eq!(
        slug("Overview (`redis-cache-health-overview.json`)"),
        "overview-redis-cache-health-overviewjson"
    );
}

fn readme() -> String {
    read(&root().join("README.md"))
}

#[test]
fn readme_is_a_front_door_with_the_commands_in_its_first_150_lines() {
    let readme = readme();
    let lines = readme.lines().count();
    assert!(lines <= 300, "README.md has {lines} lines, at most 300");
    let head: String = readme.lines().take(150).collect::<Vec<_>>().join("\n");
    for (what, text) in [
        ("the run command", format!("```sh\n{RUN_COMMAND}\n```")),
        ("the test command", format!("```sh\n{TEST_COMMAND}\n```")),
        (
            "the CI script",
            "`.ci/run` runs exactly that command".to_string(),
        ),
        (
            "the demo command",
            "bash scripts/demo-alerting.sh".to_string(),
        ),
        (
            "the Docker line",
            "docker build -t redis-cache-exporter . && docker run -p 9122:9122".to_string(),
        ),
        ("the pinned metrics", "## Pinned metrics".to_string()),
        ("the minimal configuration", "```toml".to_string()),
        ("the scrape configuration", "scrape_configs:".to_string()),
        (
            "the /metrics excerpt",
            "redis_cache_hit_ratio{target=".to_string(),
        ),
    ] {
        assert!(
            head.contains(&text),
            "the first 150 lines of README.md lack {what}: {text:?}"
        );
    }
    let ci = read(&root().join(".ci/run"));
    assert!(
        ci.lines().any(|l| l.trim() == TEST_COMMAND),
        ".ci/run does not run the README's test command {TEST_COMMAND:?}"
    );
}

#[test]
fn readme_metrics_excerpt_is_golden_output() {
    let readme = readme();
    let excerpt = block_after(&readme, "What `/metrics` looks like", "text")
        .expect("README.md: a ```text block after \"## What `/metrics` looks like\"");
    assert!(
        excerpt.len() >= 5,
        "the excerpt has {} lines",
        excerpt.len()
    );
    let golden = read(&root().join("tests/golden/metrics.txt"));
    for line in excerpt {
        assert!(
            golden.lines().any(|g| g == line),
            "README.md's /metrics excerpt has a line that tests/golden/metrics.txt lacks: {line}"
        );
    }
}

/// The README's first ```lang block after the heading `## heading`.
fn readme_block(heading: &str, lang: &str) -> String {
    block_after(&readme(), heading, lang)
        .unwrap_or_else(|| panic!("README.md: a ```{lang} block after \"## {heading}\""))
        .join("\n")
}

/// Runs `cmd` with `body` written to `file_name` in a temporary directory as its last argument,
/// and fails with the command's output unless it succeeds.
fn assert_accepted(mut cmd: Command, file_name: &str, body: &str) {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join(file_name);
    std::fs::write(&file, body).unwrap_or_else(|e| panic!("write {file_name}: {e}"));
    let out = cmd
        .arg(&file)
        .output()
        .unwrap_or_else(|e| panic!("run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} refuses README.md's {file_name}:\n{body}\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn readme_config_passes_check_config() {
    let config = readme_block("Configure", "toml");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_redis-cache-exporter"));
    cmd.arg("--check-config").arg("--config");
    // The example reads its password from a variable; every variable it names is given one.
    for line in config
        .lines()
        .filter(|l| l.trim_start().starts_with("password_env"))
    {
        let var = line.split('"').nth(1).expect("password_env = \"NAME\"");
        cmd.env(var, "example-password");
    }
    assert_accepted(cmd, "config.toml", &config);
}

#[test]
fn readme_scrape_config_passes_promtool() {
    let scrape = readme_block("Scrape it with Prometheus", "yaml");
    assert!(scrape.contains("metrics_path: /metrics") && scrape.contains(":9122\""));
    let mut cmd = Command::new(require_binary("promtool", "prometheus"));
    cmd.arg("check").arg("config");
    assert_accepted(cmd, "prometheus.yml", &scrape);
}

#[test]
fn readme_pinned_metrics_are_in_the_metric_table_with_their_labels() {
    let readme = readme();
    let section: Vec<&str> = readme
        .lines()
        .skip_while(|l| *l != "## Pinned metrics")
        .skip(1)
        .take_while(|l| !l.starts_with("## "))
        .filter_map(|l| l.strip_prefix("- `"))
        .collect();
    assert!(
        section.len() >= 10,
        "README.md lists {} pinned metrics",
        section.len()
    );
    let reference = metrics::reference();
    for item in section {
        let written = item.split('`').next().unwrap_or_default();
        let (name, labels) = match written.split_once('{') {
            Some((name, labels)) => (name, labels.trim_end_matches('}')),
            None => (written, ""),
        };
        let row = reference
            .lines()
            .find(|r| r.starts_with(&format!("| `{name}` |")))
            .unwrap_or_else(|| panic!("README.md pins {name}, which the metric table lacks"));
        let table: Vec<&str> = row
            .split('|')
            .nth(3)
            .unwrap_or_default()
            .split(',')
            .map(|l| l.trim().trim_matches('`'))
            .filter(|l| !l.is_empty() && *l != "target")
            .collect();
        let listed: Vec<&str> = labels
            .split(',')
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        assert_eq!(
            listed, table,
            "README.md lists {name} with other labels than the metric table"
        );
    }
}
