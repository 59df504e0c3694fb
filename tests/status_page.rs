//! The status page at `/`, rendered by headless Chromium (Debian's `chromium`) from a running
//! exporter that polls three real redis-server processes (a healthy cache, one evicting keys,
//! and one with miss attribution under a workload of every cause) and one address where
//! nothing listens.
//!
//! Checks the DOM Chromium builds (not just the HTML text): a row per target with its state,
//! a link to its page, the hit ratio with an SVG sparkline, memory pressure, evictions, the
//! likely miss cause (an estimate), policy and the verdicts; and the evicting cache's page
//! (`/target/<name>`), whose every number equals the one /metrics serves and whose attribution
//! sections say "attribution off"; and the attributed cache's page, whose misses by cause,
//! ceilings and top prefixes equal /metrics and whose row names the measured cause; its
//! memory sizing, whose words and numbers (hit ratio now, at 1.5×, 2× and 4× maxmemory, the
//! memory for 90 %) are those /metrics serves; and a cache under `allkeys-random`, whose page
//! says the prediction does not hold there and whose /metrics has none. Also takes
//! screenshots; `UPDATE_SCREENSHOT=1 cargo test --test status_page` copies them to
//! `docs/status-page.png` and `docs/status-page-target.png` for docs/dashboards.md.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use support::causes::{evicting_workload, mixed_workload};
use support::{Exporter, RedisServer, free_port, require_binary, sample, wait_for};

/// One number a page shows from a metric: family, labels besides `target`, exact value (none
/// when the page shows "–") and the text shown.
#[derive(Debug)]
struct Shown {
    metric: String,
    labels: String,
    value: Option<f64>,
    text: String,
}

/// The value of attribute `name` in the tag text `tag`, with the entities Chromium writes
/// in attribute values decoded.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    let len = tag[start..].find('"')?;
    Some(
        tag[start..start + len]
            .replace("&quot;", "\"")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&"),
    )
}

/// Every `<span data-metric=…>` of a DOM dump.
fn shown_numbers(dom: &str) -> Vec<Shown> {
    let mut out = Vec::new();
    let mut rest = dom;
    while let Some(i) = rest.find("<span class=\"n\"") {
        let tag_end = rest[i..].find('>').expect("tag closes") + i;
        let tag = &rest[i..tag_end];
        let text_end = rest[tag_end..].find("</span>").expect("span closes") + tag_end;
        out.push(Shown {
            metric: attribute(tag, "data-metric").expect("data-metric"),
            labels: attribute(tag, "data-labels").expect("data-labels"),
            value: attribute(tag, "data-value").map(|v| v.parse().expect("data-value")),
            text: rest[tag_end + 1..text_end].to_string(),
        });
        rest = &rest[text_end..];
    }
    out
}

/// What the page must show for `value` of `metric`: the page's own formats, written out
/// again here as the oracle.
fn expected_text(metric: &str, labels: &str, value: f64) -> String {
    match metric {
        "redis_cache_hit_ratio" => format!("{:.1} %", value * 100.0),
        "redis_memory_pressure_ratio" => {
            let limit = labels.trim_start_matches("limit=\"").trim_end_matches('"');
            format!("{:.1} % of {limit}", value * 100.0)
        }
        "redis_cache_lookups_per_second" => format!("{value:.1}/s"),
        "redis_cache_hit_ratio_ceiling"
        | "redis_cache_miss_attribution_coverage_ratio"
        | "redis_cache_predicted_hit_ratio"
        | "redis_exporter_ghost_sampling_ratio" => format!("{:.1} %", value * 100.0),
        "redis_cache_memory_needed_bytes" => format!("{} MiB", mib(value)),
        "redis_cache_miss_cause" => {
            assert_eq!(value, 1.0, "only the likely cause is shown");
            labels
                .rsplit("cause=\"")
                .next()
                .unwrap()
                .trim_end_matches('"')
                .to_string()
        }
        _ => format!("{value:.0}"),
    }
}

/// MiB as the page writes them: whole from 10 on, one decimal below.
fn mib(bytes: f64) -> String {
    let m = bytes / (1u64 << 20) as f64;
    if m >= 10.0 {
        format!("{m:.0}")
    } else {
        format!("{m:.1}")
    }
}

/// Every number `dom` (one target's row or page) shows for `target` equals /metrics of the
/// same snapshot: its text is the value in the page's format, and the value is exactly the
/// one of the scrape (just before the page was loaded, or just after) whose
/// `redis_exporter_polls_total` equals the page's `data-polls`; absent from it when the page
/// shows "–". `Err` when the page shows a poll neither scrape saw, so the load is tried again.
/// Returns how many numbers were checked.
fn numbers_match(dom: &str, target: &str, before: &str, after: &str) -> Result<usize, String> {
    let metrics = same_poll(dom, target, before, after)?;
    let numbers = shown_numbers(dom);
    for n in &numbers {
        let selector = if n.labels.is_empty() {
            format!("{}{{target=\"{target}\"}}", n.metric)
        } else {
            format!("{}{{target=\"{target}\",{}}}", n.metric, n.labels)
        };
        let m = sample(metrics, &selector);
        if let Some(v) = n.value {
            assert_eq!(n.text, expected_text(&n.metric, &n.labels, v), "{n:?}");
            assert_eq!(m, Some(v), "{selector}: page {v}, /metrics {m:?}");
        } else {
            assert_eq!(n.text, "–", "{n:?}");
            assert_eq!(m, None, "{selector} shown as absent");
        }
    }
    Ok(numbers.len())
}

/// Of the scrapes just before and just after loading `dom`, the one of the poll the page
/// shows (its `data-polls`); `Err` when neither is.
fn same_poll<'a>(
    dom: &str,
    target: &str,
    before: &'a str,
    after: &'a str,
) -> Result<&'a str, String> {
    let polls: f64 = attribute(dom, "data-polls")
        .unwrap_or_else(|| panic!("no data-polls: {dom}"))
        .parse()
        .expect("data-polls");
    let polls_of = |m: &str| {
        sample(
            m,
            &format!("redis_exporter_polls_total{{target=\"{target}\"}}"),
        )
    };
    if polls_of(before) == Some(polls) {
        Ok(before)
    } else if polls_of(after) == Some(polls) {
        Ok(after)
    } else {
        Err(format!(
            "{target}: the page shows poll {polls}, the scrapes {:?} and {:?}",
            polls_of(before),
            polls_of(after)
        ))
    }
}

/// The text of the first element of `class` in `dom`.
fn text_of_class(dom: &str, class: &str) -> String {
    let at = dom
        .find(&format!("class=\"{class}\""))
        .unwrap_or_else(|| panic!("no class {class}: {dom}"));
    let start = at + dom[at..].find('>').unwrap() + 1;
    let end = start + dom[start..].find("</").unwrap();
    dom[start..end].to_string()
}

/// Memory sizing's words for the 5m window say what /metrics of the same poll says: the
/// memory for 90 % where it is exported, else that memory alone will not reach it (with the
/// share of misses no memory fixes, from the attributed misses); then the hit ratio now and
/// the predicted points.
fn sizing_words_match(dom: &str, target: &str, metrics: &str) {
    let words = text_of_class(dom, "sizing-words");
    let series = |name: &str, labels: &str| {
        sample(
            metrics,
            &format!("{name}{{target=\"{target}\",window=\"5m\",{labels}}}"),
        )
    };
    let needed = series("redis_cache_memory_needed_bytes", "hit_ratio=\"0.9\"");
    let hit_ratio = sample(
        metrics,
        &format!("redis_cache_hit_ratio{{target=\"{target}\",window=\"5m\"}}"),
    )
    .expect("a 5m hit ratio");
    if let Some(b) = needed {
        assert!(
            words.starts_with(&format!("5m: about {} MiB for 90 % (", mib(b))),
            "{words}"
        );
    } else {
        let prefix = "5m: memory alone will not reach 90 %: ";
        assert!(words.starts_with(prefix), "{words}");
        let shown: f64 = words[prefix.len()..]
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .expect("a share");
        let attributed = |c: &str| {
            sample(
                metrics,
                &format!(
                    "redis_cache_misses_attributed_total{{target=\"{target}\",cause=\"{c}\"}}"
                ),
            )
            .unwrap()
        };
        let misses = sample(
            metrics,
            &format!("redis_keyspace_misses_total{{target=\"{target}\"}}"),
        )
        .unwrap();
        // Every miss of this target fell in the 5m window.
        let share =
            100.0 * (attributed("expired") + attributed("deleted") + attributed("cold")) / misses;
        assert!((shown - share).abs() <= 1.0, "{words}: share {share}");
    }
    assert!(
        words.contains(&format!(
            "; hit ratio now {:.1} %, predicted ",
            hit_ratio * 100.0
        )),
        "{words}"
    );
    for m in ["1.5x", "2x", "4x"] {
        let point = match series(
            "redis_cache_predicted_hit_ratio",
            &format!("memory=\"{m}\""),
        ) {
            Some(p) => format!("{m} {:.1} %", p * 100.0),
            None => format!("{m} not covered"),
        };
        assert!(words.contains(&point), "{point} in {words}");
    }
}

/// The DOM of `url`, loaded between two scrapes of /metrics until `check(dom, before, after)`
/// holds (at most 5 loads).
fn load_matching_metrics(
    exporter: &Exporter,
    url: &str,
    profile: &Path,
    check: impl Fn(&str, &str, &str) -> Result<(), String>,
) -> String {
    let mut moved = Vec::new();
    for _ in 0..5 {
        let before = exporter.metrics();
        let dom = dump_dom(url, profile);
        let after = exporter.metrics();
        match check(&dom, &before, &after) {
            Ok(()) => return dom,
            Err(e) => moved.push(e),
        }
    }
    panic!("a number moved during every load of {url}: {moved:#?}");
}

/// The table row of target `name` on the status page.
fn row(dom: &str, name: &str) -> String {
    let name_at = dom
        .find(&format!("\">{name}</a></td>"))
        .unwrap_or_else(|| panic!("no row for {name}:\n{dom}"));
    let start = dom[..name_at].rfind("<tr ").expect("row opens");
    let end = dom[start..].find("</tr>").expect("row closes") + start;
    dom[start..end].to_string()
}

/// A screenshot of `url`, as a person would see the page; copied to `docs/<name>` with
/// `UPDATE_SCREENSHOT=1`.
fn screenshot(url: &str, size: &str, name: &str, profile: &Path) {
    let shot = profile.join(name);
    let out = chromium(
        &[
            &format!("--screenshot={}", shot.display()),
            &format!("--window-size={size}"),
            url,
        ],
        profile,
    );
    let png = wait_for("the screenshot file", Duration::from_secs(5), || {
        std::fs::read(&shot).ok().filter(|b| b.len() > 1000)
    });
    assert!(
        out.status.success() && png.starts_with(b"\x89PNG\r\n\x1a\n"),
        "screenshot failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    if std::env::var_os("UPDATE_SCREENSHOT").is_some_and(|v| v == "1") {
        let dest = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("docs")
            .join(name);
        std::fs::write(&dest, &png).unwrap_or_else(|e| panic!("write {}: {e}", dest.display()));
    }
}

/// The DOM Chromium builds for `url`.
fn dump_dom(url: &str, profile: &Path) -> String {
    let out = chromium(&["--dump-dom", url], profile);
    let dom = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && dom.contains("</table>"),
        "chromium --dump-dom {url} failed: {}\n{dom}",
        String::from_utf8_lossy(&out.stderr)
    );
    dom
}

fn chromium(args: &[&str], profile: &Path) -> std::process::Output {
    let bin = require_binary("chromium", "chromium");
    Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .output()
        .expect("run chromium")
}

fn cmds(n: usize, f: impl Fn(usize) -> Vec<String>) -> Vec<Vec<String>> {
    (0..n).map(f).collect()
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(std::string::ToString::to_string).collect()
}

#[test]
fn status_page_in_headless_chromium() {
    let healthy = RedisServer::start(&["--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru"]);
    let evicting = RedisServer::start(&["--maxmemory", "3mb", "--maxmemory-policy", "allkeys-lru"]);
    let measured = RedisServer::start(&["--maxmemory", "4mb", "--maxmemory-policy", "allkeys-lru"]);
    let random =
        RedisServer::start(&["--maxmemory", "4mb", "--maxmemory-policy", "allkeys-random"]);
    let nowhere = free_port();
    let exporter = Exporter::start(&format!(
        "poll_interval = \"1s\"\ntimeout = \"500ms\"\n\
         [[targets]]\nname = \"sessions-cache\"\nurl = \"{}\"\n\
         [[targets]]\nname = \"catalog-cache\"\nurl = \"{}\"\n\
         [[targets]]\nname = \"gone\"\nurl = \"redis://127.0.0.1:{nowhere}\"\n\
         [[targets]]\nname = \"orders-cache\"\nurl = \"{}\"\n\
         [targets.miss_attribution]\nenabled = true\nmanage_notifications = true\n\
         [[targets]]\nname = \"random-cache\"\nurl = \"{}\"\n\
         [targets.miss_attribution]\nenabled = true\nmanage_notifications = true\n",
        healthy.url(),
        evicting.url(),
        measured.url(),
        random.url()
    ));
    // The target with attribution: a workload of every cause once it is subscribed.
    wait_for(
        "attribution of orders-cache active",
        Duration::from_secs(20),
        || {
            let sel = "redis_exporter_miss_attribution_active{target=\"orders-cache\"}";
            (sample(&exporter.metrics(), sel) == Some(1.0)).then_some(())
        },
    );
    mixed_workload(&measured, "");
    evicting_workload(&measured);

    // Traffic over several polls, so the sparkline has points: each round waits for a poll of
    // both caches counted after its traffic began, and the next round follows at once, so no
    // poll interval goes without traffic.
    let polls = |target: &str| {
        let sel = format!("redis_exporter_polls_total{{target=\"{target}\"}}");
        sample(&exporter.metrics(), &sel).unwrap_or(0.0)
    };
    let value = "x".repeat(1000);
    healthy.pipeline(&cmds(300, |i| {
        strs(&["SET", &format!("s:{i}"), "v", "EX", "3600"])
    }));
    for round in 0..6 {
        let before = [polls("sessions-cache"), polls("catalog-cache")];
        healthy.pipeline(&cmds(300, |i| {
            strs(&["GET", &format!("s:{}", (i + round) % 300)])
        }));
        evicting.pipeline(&cmds(1500, |i| {
            strs(&["SET", &format!("c:{round}:{i}"), &value, "EX", "3600"])
        }));
        evicting.pipeline(&cmds(1500, |i| strs(&["GET", &format!("c:{round}:{i}")])));
        wait_for(
            "a poll of both caches after this round's traffic",
            Duration::from_secs(20),
            || {
                (polls("sessions-cache") > before[0] && polls("catalog-cache") > before[1])
                    .then_some(())
            },
        );
    }
    support::wait_polls(&exporter, "sessions-cache", 1.0);

    let profile = tempfile::tempdir().expect("chromium profile dir");
    let url = format!("http://127.0.0.1:{}/", exporter.port);
    let dom = load_matching_metrics(&exporter, &url, profile.path(), |dom, before, after| {
        let h = numbers_match(&row(dom, "sessions-cache"), "sessions-cache", before, after)?;
        assert_eq!(h, 3, "hit ratio, pressure and evictions carry their metric");
        numbers_match(&row(dom, "catalog-cache"), "catalog-cache", before, after)?;
        numbers_match(&row(dom, "orders-cache"), "orders-cache", before, after)?;
        Ok(())
    });
    let o = row(&dom, "orders-cache");
    assert!(
        o.contains("class=\"measured\"") && o.contains("(measured, "),
        "the dominant cause, measured: {o}"
    );
    assert!(!o.contains("(estimate)"), "{o}");

    let h = row(&dom, "sessions-cache");
    assert!(h.contains("class=\"up\">up<"), "{h}");
    assert!(h.contains("100.0 %"), "all lookups hit: {h}");
    assert!(
        h.contains("<svg") && h.contains("<polyline"),
        "sparkline: {h}"
    );
    assert!(h.contains("allkeys-lru"), "{h}");
    assert!(h.contains("class=\"v ok\">ok<"), "healthy verdict: {h}");
    assert!(h.contains("% of maxmemory"), "{h}");

    assert!(
        h.contains("href=\"/target/sessions-cache\""),
        "link to the target page: {h}"
    );

    let e = row(&dom, "catalog-cache");
    assert!(e.contains("class=\"up\">up<"), "{e}");
    assert!(
        e.contains(">evictions</span> <span class=\"est\">(estimate)</span>"),
        "the dominant cause, marked as an estimate: {e}"
    );
    assert!(e.contains("class=\"v critical\">critical<"), "{e}");
    assert!(e.contains("hit_ratio") && e.contains("evictions"), "{e}");
    let evicted: u64 = evicting
        .info_field("evicted_keys")
        .parse()
        .expect("evicted_keys");
    assert!(evicted > 0);

    let g = row(&dom, "gone");
    assert!(g.contains("class=\"down\">down<"), "{g}");
    assert!(g.contains("never"), "{g}");

    // Nothing on the page loads from elsewhere.
    assert!(
        !dom.contains("src=\"http") && !dom.contains("href=\"http"),
        "{dom}"
    );

    screenshot(&url, "1440,520", "status-page.png", profile.path());

    // The evicting cache's own page: every window's numbers as /metrics has them, the cause
    // estimate, and the sections that need attribution saying it is off.
    let target_url = format!("{url}target/catalog-cache");
    let after = std::cell::RefCell::new(String::new());
    let page = load_matching_metrics(&exporter, &target_url, profile.path(), |dom, b, a| {
        let checked = numbers_match(dom, "catalog-cache", b, a)?;
        // Hit ratio and pressure above the table, then per window hit ratio, lookups,
        // evictions, expirations and the likely cause.
        assert_eq!(checked, 2 + 3 * 5, "numbers on the target page: {dom}");
        *after.borrow_mut() = a.to_string();
        Ok(())
    });
    let after = after.into_inner();
    assert!(page.contains("<h1>catalog-cache</h1>"), "{page}");
    assert!(page.contains("<polyline"), "sparkline: {page}");
    assert!(page.contains("class=\"v critical\">critical<"), "{page}");
    for w in ["1m", "5m", "15m"] {
        let cause = format!(
            "redis_cache_miss_cause{{target=\"catalog-cache\",window=\"{w}\",cause=\"evictions\"}}"
        );
        assert_eq!(
            sample(&after, &cause),
            Some(1.0),
            "{w}: evictions explain the misses"
        );
    }
    for section in [
        "Misses by cause",
        "Hit-ratio ceilings",
        "Top prefixes by misses",
    ] {
        let at = page
            .find(&format!(">{section}</h2>"))
            .unwrap_or_else(|| panic!("no section {section}: {page}"));
        assert!(
            page[at..]
                .trim_start_matches(|c| c != '<')
                .contains("attribution off"),
            "{section}: {page}"
        );
    }
    assert_eq!(
        page.matches("class=\"attribution-off\"").count(),
        4,
        "{page}"
    );
    assert!(
        page.contains(
            ">Memory sizing</h2><p class=\"attribution-off\">attribution off: memory sizing"
        ),
        "{page}"
    );
    assert!(
        !page.contains("src=\"http") && !page.contains("href=\"http"),
        "{page}"
    );

    attributed_page(&exporter, &url, profile.path());
    unpredicted_page(&exporter, &url, profile.path());

    // An unknown name is a 404, with the name escaped.
    let (status, body) =
        support::http_get(exporter.port, "/target/%3Cb%3Enope").expect("GET unknown target");
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("&lt;b&gt;nope"), "{body}");
}

/// The page of the target with attribution (orders-cache): misses by cause, ceilings, top
/// prefixes and memory sizing filled, every number and word as /metrics of the same poll.
fn attributed_page(exporter: &Exporter, url: &str, profile: &Path) {
    let target_url = format!("{url}target/orders-cache");
    let page = load_matching_metrics(exporter, &target_url, profile, |dom, b, a| {
        let checked = numbers_match(dom, "orders-cache", b, a)?;
        // As above but the windows' cause (measured, not a metric), then 4 causes, 3
        // coverages, 3 windows of hit ratio and 3 ceilings, 4 causes for each of the 5
        // prefixes; memory sizing's 3 windows of hit ratio, 3 predicted points and 3 memory
        // needed, and the ghost list's span and sampling ratio.
        assert_eq!(
            checked,
            2 + 3 * 4 + 4 + 3 + 3 * 4 + 5 * 4 + 3 * 7 + 2,
            "numbers: {dom}"
        );
        sizing_words_match(dom, "orders-cache", same_poll(dom, "orders-cache", b, a)?);
        Ok(())
    });
    // The workload (a third of its misses cold, expired or deleted) caps the hit ratio below
    // 90 %, and its evictions come back: memory helps, but not that far.
    assert!(
        page.contains(
            "class=\"sizing-words\" data-window=\"5m\">5m: memory alone will not reach 90 %: "
        ),
        "{page}"
    );
    assert!(!page.contains("attribution off"), "{page}");
    for section in [
        "Misses by cause",
        "Hit-ratio ceilings",
        "Top prefixes by misses",
    ] {
        assert!(
            page.contains(&format!(">{section}</h2><table")),
            "{section}: {page}"
        );
    }
    for (prefix, cause) in [
        ("never:*", "cold"),
        ("ttl:*", "expired"),
        ("del:*", "deleted"),
        ("unl:*", "deleted"),
        ("page:*", "evicted"),
    ] {
        let at = page
            .find(&format!("<th>{prefix}</th>"))
            .unwrap_or_else(|| panic!("no prefix {prefix}: {page}"));
        let row_end = at + page[at..].find("</tr>").unwrap();
        assert!(
            page[at..row_end].contains(&format!("<td>{cause}</td>")),
            "{prefix} mostly {cause}: {}",
            &page[at..row_end]
        );
    }
    assert!(
        page.contains("give the cache memory or an LFU policy"),
        "{page}"
    );
    screenshot(&target_url, "1000,1900", "status-page-target.png", profile);
}

/// The page of the cache under allkeys-random: memory sizing says it does not hold there.
fn unpredicted_page(exporter: &Exporter, url: &str, profile: &Path) {
    let target_url = format!("{url}target/random-cache");
    let page = dump_dom(&target_url, profile);
    assert!(
        page.contains(
            ">Memory sizing</h2><p class=\"not-predicted\">not predicted under \
             allkeys-random: random eviction keeps no recency order"
        ),
        "{page}"
    );
    assert!(
        !page.contains("class=\"sizing\""),
        "no table of predictions: {page}"
    );
    support::assert_no_prediction(&exporter.metrics(), "random-cache");
}
