#!/usr/bin/env python3
"""Heap profile of the scale setup: where the exporter's memory goes with many targets.

Runs the `scale` fleet of bench.py (servers, one `[[targets]]` per target) with the exporter
under heaptrack, scrapes /metrics with gzip every `--scrape-every` seconds for `--duration`
seconds once every target is up, then stops it and writes heaptrack_print's summary and its
peak consumers to OUT/heap.txt (the raw data beside it). The exporter's own RSS (VmRSS, VmHWM)
before the stop is printed too: heaptrack counts heap bytes, RSS adds what the allocator keeps.

Needs heaptrack (`apt-get install heaptrack`); everything else as for bench.py. heaptrack sees
the system allocator only: build BIN with `cargo build --release --no-default-features` (the
default build's jemalloc is invisible to it, and the report then says so).
"""

import argparse
import glob
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402


def exporter_of(pid, binary, timeout=30):
    """The exporter process below heaptrack's wrapper `pid` (beside its interpreter and
    compressor), found by its executable."""
    want = os.path.realpath(binary)
    deadline = time.time() + timeout
    while time.time() < deadline:
        todo = [pid]
        while todo:
            p = todo.pop()
            try:
                with open(f"/proc/{p}/task/{p}/children") as f:
                    todo += [int(k) for k in f.read().split()]
                if p != pid and os.path.realpath(f"/proc/{p}/exe") == want:
                    return p
            except OSError:
                continue
        time.sleep(0.1)
    raise RuntimeError(f"no process of {binary} under heaptrack")


# Where an allocation belongs: the first frame from the allocation outwards that names one of
# these.
CATEGORIES = [
    ("lines kept for a snapshot's later scrapes (render_target)", ["render_target"]),
    ("/metrics rendering (snapshot copies, pieces, gzip)",
     ["render_chunks", "Shared::snapshots", "compression", "flate2", "zlib_rs"]),
    ("history rings and derived values", ["derive::History"]),
    ("samples (INFO parsed)", ["info::parse"]),
    ("CONFIG GET replies", ["config_pairs", "capabilities"]),
    ("start-up configuration", ["config::build", "load_with_env"]),
    ("poller tasks (tokio task + future)", ["task::new_task", "instance::spawn"]),
    ("shared state (snapshot map, records)", ["Shared::add", "Shared::record"]),
    ("tokio IO registrations and timers", ["registration_set", "time::wheel", "TimerEntry"]),
    ("connections (read buffers, TLS)", ["client::conn", "client::tls", "rustls"]),
    ("supervisor (per-target fingerprints, task handles)", ["Supervisor::apply"]),
]


def categorize(stacks_path):
    """{category: bytes} from a heaptrack flamegraph stack file (`frames;… bytes` lines)."""
    out = {}
    with open(stacks_path) as f:
        for line in f:
            stack, _, n = line.rstrip("\n").rpartition(" ")
            if not n.isdigit():
                continue
            name = next((c for frame in reversed(stack.split(";"))
                         for c, keys in CATEGORIES if any(k in frame for k in keys)), "other")
            out[name] = out.get(name, 0) + int(n)
    return out


def write_report(data, out, header):
    """OUT/heap.txt: `header`, the heap by category at the peak and at the stop, and
    heaptrack_print's peak consumers."""
    summary = subprocess.run(["heaptrack_print", "-f", data, "--print-peaks", "1",
                              "--print-allocators", "0", "--print-temporary", "0",
                              "--print-leaks", "0", "-n", "25", "-s", "6"],
                             capture_output=True, text=True).stdout
    tables = []
    for cost in ("peak", "leaked"):
        stacks = os.path.join(out, f"stacks-{cost}.txt")
        subprocess.run(["heaptrack_print", "-f", data, "--print-peaks", "0",
                        "--print-allocators", "0", "--print-temporary", "0",
                        "--flamegraph-cost-type", cost, "-F", stacks], capture_output=True)
        cats = categorize(stacks)
        if cost == "peak" and sum(cats.values()) < 2**20:
            raise SystemExit("heaptrack saw less than 1 MiB of heap: was the exporter built "
                             "with --no-default-features (the system allocator)?")
        what = "at the peak" if cost == "peak" else "held at the stop"
        rows = [f"| {c} | {b / 2**20:.1f} |"
                for c, b in sorted(cats.items(), key=lambda kv: -kv[1])]
        tables.append(f"| heap {what} | MiB |\n|---|---:|\n" + "\n".join(rows)
                      + f"\n| total | {sum(cats.values()) / 2**20:.1f} |\n")
    with open(os.path.join(out, "heap.txt"), "w") as f:
        f.write(header + "\n\n" + "\n".join(tables) + "\n" + summary)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--ours", required=True)
    ap.add_argument("--targets", type=int, default=10000)
    ap.add_argument("--servers", type=int, default=20)
    ap.add_argument("--interval", type=int, default=15)
    ap.add_argument("--duration", type=float, default=120)
    ap.add_argument("--scrape-every", type=float, default=15)
    ap.add_argument("--out", required=True, help="directory for heaptrack's data and heap.txt")
    a = ap.parse_args()
    if not bench.shutil.which("heaptrack"):
        raise SystemExit("heaptrack not found: apt-get install heaptrack")
    os.makedirs(a.out, exist_ok=True)
    workdir = tempfile.mkdtemp(prefix="bench-heap-")
    bench.log(f"heap: {a.targets} targets over {a.servers} servers, interval {a.interval}s")
    servers = bench.Servers(a.servers, workdir)
    p = None
    try:
        body = f'poll_interval = "{a.interval}s"\n' + "".join(
            f'[[targets]]\nname = "t{i:05d}"\nurl = "{servers.url(i)}"\n'
            for i in range(a.targets))
        cfg = os.path.join(workdir, "heap.toml")
        with open(cfg, "w") as f:
            f.write(body)
        port = bench.free_port()
        data = os.path.join(os.path.abspath(a.out), "heaptrack")
        p = bench.spawn(["heaptrack", "-o", data, a.ours, "--config", cfg, "--listen",
                         f"127.0.0.1:{port}", "--log-level", "warn"],
                        os.path.join(a.out, "exporter.log"))
        bench.wait_http(port, "/healthz")
        pid = exporter_of(p.pid, a.ours)
        h = bench.Http(port, gzip=True)
        started = time.monotonic()
        bench.wait_polled(h, a.targets, 1, 3 * a.interval + 120)
        bench.log(f"heap: all up after {time.monotonic() - started:.1f} s")
        t0 = time.monotonic()
        n = 0
        while time.monotonic() - t0 < a.duration:
            time.sleep(max(0.0, t0 + (n + 1) * a.scrape_every - time.monotonic()))
            h.get("/metrics")
            n += 1
        rss = bench.status_kib(pid, "VmRSS") / 1024
        hwm = bench.status_kib(pid, "VmHWM") / 1024
        # heaptrack streams its data: killed, the exporter frees nothing, so what heaptrack
        # counts as not freed is what it held at this moment.
        os.kill(pid, signal.SIGKILL)
        # heaptrack's wrapper writes out its data after the exporter is gone.
        p.wait(600)
        p = None
        files = sorted(glob.glob(data + "*"))
        header = f"exporter VmRSS {rss:.1f} MiB, VmHWM {hwm:.1f} MiB after {n} scrapes"
        write_report(files[-1], a.out, header)
        bench.log(f"heap: {header}; {files[-1]}")
    finally:
        if p is not None:
            bench.stop(p)
        servers.stop()


if __name__ == "__main__":
    main()
