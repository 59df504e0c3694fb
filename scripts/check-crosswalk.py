#!/usr/bin/env python3
"""Checks docs/managed-services.md against the exporter: every metric name it mentions is one
the metric table exports (its reference in docs/metrics.md), and every code span that uses one parses as PromQL
(promtool check rules, as recording rules in a scratch file). Exits 1 naming what is wrong.
"""

import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "managed-services.md"
NAME = re.compile(r"\bredis_[a-z0-9_]*[a-z0-9](?![a-z0-9_*])")


def main():
    if shutil.which("promtool") is None:
        sys.exit("check-crosswalk: promtool not found: apt-get install prometheus (scripts/install-test-deps.sh does)")
    doc = DOC.read_text(encoding="utf-8")
    # The metric reference in docs/metrics.md is generated from the metric table (tests/golden.rs
    # keeps the two equal), so its first column is every name the exporter serves.
    reference = (ROOT / "docs" / "metrics.md").read_text(encoding="utf-8")
    block = reference.split("<!-- metrics:begin", 1)[-1].split("<!-- metrics:end", 1)[0]
    exported = set(re.findall(r"^\| `(redis_[a-z0-9_]+)`", block, re.M))
    if len(exported) < 20:
        sys.exit("check-crosswalk: found almost no metric names in docs/metrics.md's reference; have its markers moved?")
    problems = []
    for line_no, line in enumerate(doc.splitlines(), 1):
        for name in NAME.findall(line):
            if name not in exported:
                problems.append(f"{DOC.name}:{line_no}: {name} is not a metric of the reference in docs/metrics.md")

    # Code spans naming our metrics are PromQL ("\|" is a "|" escaped for the Markdown table),
    # except a family written with its label names, as in `redis_cache_evictions{window}`.
    spans = [
        (line_no, span.replace("\\|", "|"))
        for line_no, line in enumerate(doc.splitlines(), 1)
        for span in re.findall(r"`([^`]+)`", line)
        if NAME.search(span) and not re.search(r"\{[a-z_, ]+\}", span)
    ]
    rules = ["groups:", "  - name: crosswalk", "    rules:"]
    for i, (line_no, expr) in enumerate(spans):
        quoted = expr.replace("'", "''")
        rules += [f"      - record: crosswalk:line_{line_no}_{i}", f"        expr: '{quoted}'"]
    with tempfile.NamedTemporaryFile("w", suffix=".yml") as f:
        f.write("\n".join(rules) + "\n")
        f.flush()
        check = subprocess.run(["promtool", "check", "rules", f.name], capture_output=True, text=True)
    if check.returncode != 0:
        problems.append(
            "promtool refused a PromQL expression (record crosswalk:line_N_* is on line N):\n"
            + check.stdout + check.stderr
        )
    for p in problems:
        print(f"check-crosswalk: {p}", file=sys.stderr)
    if problems:
        return 1
    print(f"check-crosswalk: ok ({len(spans)} PromQL expressions parse, every metric name is exported)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
