//! Markdown as GitHub reads it, for the tests that check our pages: the anchors its headings
//! get (GitHub's slug rules), the relative links it makes, and the fenced blocks it holds.
//! Fenced code is never read as headings or links; inline code never as links.

/// A heading's anchor by GitHub's rules, before duplicates are numbered: the rendered text in
/// lowercase, every character but letters, digits, spaces, `-` and `_` dropped, each space a `-`.
pub(crate) fn slug(heading: &str) -> String {
    rendered(heading)
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// Every anchor of the page, in order: a heading whose slug was taken gets `-1`, `-2` … as on
/// GitHub (the first free number, so a later `a-1` heading does not collide with a numbered `a`).
pub(crate) fn anchors(markdown: &str) -> Vec<String> {
    let mut taken: Vec<String> = Vec::new();
    for heading in headings(markdown) {
        let base = slug(&heading);
        let mut anchor = base.clone();
        let mut n = 0;
        while taken.contains(&anchor) {
            n += 1;
            anchor = format!("{base}-{n}");
        }
        taken.push(anchor);
    }
    taken
}

/// The text of every heading outside fenced code: ATX (`## Title`, up to 3 spaces before, an
/// optional closing run of `#`) and setext (a line of text underlined with `=` or `-`).
pub(crate) fn headings(markdown: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut previous: Option<&str> = None;
    let mut last = 0;
    for (n, line) in outside_fences(markdown) {
        if n != last + 1 {
            previous = None; // a fenced block came between
        }
        last = n;
        let indent = line.len() - line.trim_start_matches(' ').len();
        let body = &line[indent..];
        let hashes = body.len() - body.trim_start_matches('#').len();
        let after = &body[hashes..];
        if indent <= 3 && (1..=6).contains(&hashes) && (after.is_empty() || after.starts_with(' '))
        {
            let text = after.trim();
            let unclosed = text.trim_end_matches('#');
            let text = if unclosed.is_empty() || unclosed.ends_with(' ') {
                unclosed.trim_end()
            } else {
                text
            };
            out.push(text.to_string());
            previous = None;
            continue;
        }
        let underline = body.trim_end();
        let is_underline = indent <= 3
            && !underline.is_empty()
            && (underline.chars().all(|c| c == '=') || underline.chars().all(|c| c == '-'));
        match previous {
            Some(text) if is_underline => {
                out.push(text.trim().to_string());
                previous = None;
            }
            _ => previous = paragraph_line(line),
        }
    }
    out
}

/// A line that can be the text of a setext heading: not blank, and not a list item, quote,
/// table row or HTML line.
fn paragraph_line(line: &str) -> Option<&str> {
    let t = line.trim_start();
    let list = t.starts_with("- ")
        || t.starts_with("* ")
        || t.starts_with("+ ")
        || t.split_once(". ")
            .is_some_and(|(n, _)| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
    let other = t.is_empty() || t.starts_with('>') || t.starts_with('|') || t.starts_with('<');
    (!list && !other && line.len() - t.len() <= 3).then_some(line)
}

/// The text GitHub renders for a heading: link and image syntax reduced to its text, HTML tags
/// dropped (code spans and emphasis marks are punctuation, which the slug drops anyway).
fn rendered(heading: &str) -> String {
    let mut out = String::new();
    let mut rest = heading;
    while let Some(c) = rest.chars().next() {
        // `<tag>` is dropped, and so is the `](url)` of a link or image.
        let skip = match c {
            '<' => rest.find('>'),
            ']' if rest[1..].starts_with('(') => rest.find(')'),
            _ => None,
        };
        if let Some(end) = skip {
            rest = &rest[end + 1..];
        } else {
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

/// One link of a page: its 1-based line and its destination as written (`path`, `path#anchor`,
/// `#anchor` or a URL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Link {
    pub line: usize,
    pub dest: String,
}

/// Every inline link and image (`[text](dest)`, `![alt](dest "title")`, `[text](<dest>)`) and
/// every reference definition (`[label]: dest`) outside code.
pub(crate) fn links(markdown: &str) -> Vec<Link> {
    let mut out = Vec::new();
    for (n, line) in outside_fences(markdown) {
        let line = without_code_spans(line);
        if let Some(dest) = reference_definition(&line) {
            out.push(Link {
                line: n,
                dest: dest.to_string(),
            });
            continue;
        }
        let mut rest = line.as_str();
        while let Some(at) = rest.find("](") {
            rest = &rest[at + 2..];
            let dest = if let Some(inner) = rest.strip_prefix('<') {
                inner.split('>').next().unwrap_or_default()
            } else {
                let mut depth = 0usize;
                let end = rest
                    .char_indices()
                    .find(|&(_, c)| match c {
                        '(' => {
                            depth += 1;
                            false
                        }
                        ')' if depth == 0 => true,
                        ')' => {
                            depth -= 1;
                            false
                        }
                        c => c.is_whitespace(),
                    })
                    .map_or(rest.len(), |(i, _)| i);
                &rest[..end]
            };
            out.push(Link {
                line: n,
                dest: dest.to_string(),
            });
        }
    }
    out
}

/// The destination of a reference definition (`[label]: dest "title"`), if the line is one.
fn reference_definition(line: &str) -> Option<&str> {
    let (label, dest) = line.trim_start().strip_prefix('[')?.split_once("]:")?;
    if label.is_empty() || label.contains(']') {
        return None;
    }
    let dest = dest.split_whitespace().next()?;
    Some(dest.trim_start_matches('<').trim_end_matches('>'))
}

/// The body of the first fenced block whose info string is `lang`, after the heading with text
/// `heading`; None when there is no such heading or block.
pub(crate) fn block_after<'a>(
    markdown: &'a str,
    heading: &str,
    lang: &str,
) -> Option<Vec<&'a str>> {
    let mut lines = markdown.lines();
    lines.find(|l| l.trim_start_matches('#').trim() == heading && l.starts_with('#'))?;
    let opening = format!("```{lang}");
    lines.find(|l| l.trim() == opening)?;
    Some(lines.take_while(|l| l.trim() != "```").collect())
}

/// The lines of the page (1-based numbers) that are not inside a fenced code block, fences
/// excluded. A fence is a run of 3 or more backticks or tildes, at any indentation (fences
/// inside list items are indented), closed by a run of the same character at least as long.
pub(crate) fn outside_fences(markdown: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut open: Option<(char, usize)> = None;
    for (i, line) in markdown.lines().enumerate() {
        let t = line.trim_start();
        let fence = ['`', '~'].into_iter().find_map(|c| {
            let run = t.len() - t.trim_start_matches(c).len();
            (run >= 3).then_some((c, run))
        });
        match (open, fence) {
            (None, Some(f)) => open = Some(f),
            (Some((c, len)), Some((fc, flen)))
                if c == fc && flen >= len && t.trim_start_matches(c).trim().is_empty() =>
            {
                open = None;
            }
            (None, None) => out.push((i + 1, line)),
            _ => {}
        }
    }
    out
}

/// The line with every code span (a run of backticks up to the next run of the same length)
/// blanked out, so that code is never read as a link.
fn without_code_spans(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(at) = rest.find('`') {
        out.push_str(&rest[..at]);
        let run = backticks(&rest[at..]);
        let after = &rest[at + run..];
        if let Some(end) = closing_run(after, run) {
            out.push(' ');
            rest = &after[end + run..];
        } else {
            out.push_str(&rest[at..at + run]);
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// How many backticks `s` starts with.
fn backticks(s: &str) -> usize {
    s.len() - s.trim_start_matches('`').len()
}

/// Where in `s` the first run of exactly `run` backticks starts.
fn closing_run(s: &str, run: usize) -> Option<usize> {
    let mut from = 0;
    while let Some(at) = s[from..].find('`') {
        let start = from + at;
        let len = backticks(&s[start..]);
        if len == run {
            return Some(start);
        }
        from = start + len;
    }
    None
}
