#!/usr/bin/env python3
"""Heap profile of the scale setup: where the exporter's memory goes with many targets.

Runs the `scale` fleet of bench.py (servers, one `[[targets]]` per target) with the exporter
under heaptrack, scrapes /metrics with gzip every `--scrape-every` seconds for `--duration`
seconds once every target is up, then stops it and writes heaptrack_print's summary and its
peak consumers to OUT/heap.txt (the raw data beside it). The exporter's own RSS (VmRSS, VmHWM)
before the stop is printed too: heaptrack counts heap bytes, RSS adds what the allocator keeps.

Needs heaptrack (`apt-get install heaptrack`); everything else as for bench.py.
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


def child_of(pid, timeout=30):
    """The exporter process heaptrack's wrapper started."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with open(f"/proc/{pid}/task/{pid}/children") as f:
                kids = [int(k) for k in f.read().split()]
        except OSError:
            kids = []
        for k in kids:
            try:
                exe = os.readlink(f"/proc/{k}/exe")
            except OSError:
                continue
            if "heaptrack" not in exe and not exe.endswith("sh"):
                return k
            pid_inner = child_of(k, 1)
            if pid_inner:
                return pid_inner
        time.sleep(0.1)
    return None


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
        pid = child_of(p.pid)
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
        # heaptrack streams its data: what is still allocated when the process goes is what
        # it was holding (a SIGKILL after a grace period truncates nothing it had written).
        os.kill(pid, signal.SIGTERM)
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            os.kill(pid, signal.SIGKILL)
            p.wait(30)
        p = None
        files = sorted(glob.glob(data + "*"))
        summary = subprocess.run(["heaptrack_print", "-f", files[-1], "--print-peaks", "1",
                                  "--print-allocators", "0", "--print-temporary", "0",
                                  "--print-leaks", "0", "-n", "25", "-s", "6"],
                                 capture_output=True, text=True).stdout
        with open(os.path.join(a.out, "heap.txt"), "w") as f:
            f.write(f"exporter VmRSS {rss:.1f} MiB, VmHWM {hwm:.1f} MiB after {n} scrapes\n")
            f.write(summary)
        bench.log(f"heap: VmRSS {rss:.1f} MiB, VmHWM {hwm:.1f} MiB; {files[-1]}")
    finally:
        if p is not None:
            bench.stop(p)
        servers.stop()


if __name__ == "__main__":
    main()
