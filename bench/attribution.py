#!/usr/bin/env python3
"""Miss attribution's cost, measured side by side in one run (figures in BENCHMARKS.md).

Owns: Redis GET throughput with attribution on vs off (~90 % hits, then 100 % misses),
the exporter's CPU per keyspace event, and its memory per remembered key. Standard library
only, plus redis-benchmark (Debian's redis-tools) as the load generator; helpers from bench.py.

    attribution.py --ours target/release/redis-cache-exporter [--rounds 5] [--requests 2000000]
    attribution.py --ours … --decompose [--rounds 9]   (where the throughput at ~90 % hits goes)
    attribution.py --ours … --pipeline 1               (no pipelining: one GET per round trip)

"On" rounds: notify-keyspace-events Egxem and our exporter subscribed; "off" rounds: no
flags, so nothing is published (the subscriber's idle connection stays; the exporter polls
either way). Rounds alternate on/off so the machine's
drift hits both alike; the ratio is of the medians.
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402

KEYSPACE = 100_000


def metric(port, name):
    """Sum of every sample of `name` on our /metrics."""
    body = bench.Http(port).get("/metrics").decode()
    total = 0.0
    for line in body.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            total += float(line.rsplit(" ", 1)[1])
    return total


# Requests per round trip (redis-benchmark -P); main() may change it. 32 makes Redis's own
# per-command cost small, so the share of publishing events is at its largest; 1 is an
# application that waits for each reply, as cache-aside code does.
PIPELINE = 32


def get_throughput(port, requests, keyspace):
    """GETs per second by redis-benchmark over random keys key:000000000000.. of `keyspace`."""
    out = subprocess.run(
        ["redis-benchmark", "-p", str(port), "-t", "get", "-n", str(requests), "-P",
         str(PIPELINE), "-c", "8", "-r", str(keyspace), "-q"],
        capture_output=True, text=True, check=True).stdout
    m = re.search(r"GET: ([\d.]+) requests per second", out.replace("\r", "\n"))
    if not m:
        raise RuntimeError(f"redis-benchmark said: {out!r}")
    return float(m.group(1))


def keyspace(r):
    """(keyspace_hits, keyspace_misses) of INFO stats."""
    fields, _ = bench.parse_info(r.cmd("INFO", "stats"))
    return int(fields["keyspace_hits"]), int(fields["keyspace_misses"])


def start_exporter(binary, port, workdir, extra=""):
    body = (f'poll_interval = "1s"\n[[targets]]\nname = "t"\nurl = "redis://127.0.0.1:{port}"\n'
            f'[targets.miss_attribution]\nenabled = true\n{extra}')
    return bench.start_config(binary, body, workdir, f"attr-{port}")


def wait_active(http_port):
    deadline = time.time() + 20
    while metric(http_port, "redis_exporter_miss_attribution_active") != 1.0:
        if time.time() > deadline:
            raise RuntimeError("attribution did not become active")
        time.sleep(0.1)


def throughput(a, workdir, hits):
    """Median GET/s on and off over alternating rounds, and the exporter's CPU per event."""
    servers = bench.Servers(1, tempfile.mkdtemp(dir=workdir))
    r = bench.Redis(servers.ports[0])
    if hits:
        seed_hits(r)
    r.cmd("CONFIG", "SET", "notify-keyspace-events", "Egxem")
    exporter, http_port = start_exporter(a.ours, servers.ports[0], workdir)
    wait_active(http_port)
    rounds = {"on": [], "off": []}
    cpu_per_event = []
    ratio = []
    lost = 0.0
    try:
        for i in range(2 * a.rounds):
            mode = "on" if i % 2 == 0 else "off"
            # Off: no flags, so Redis publishes nothing (the idle subscribed connection costs
            # it nothing per command).
            r.cmd("CONFIG", "SET", "notify-keyspace-events", "Egxem" if mode == "on" else "")
            events0 = metric(http_port, "redis_exporter_keyspace_events_total")
            misses0 = keyspace(r)
            cpu0 = bench.cpu_seconds(exporter.pid)
            rounds[mode].append(get_throughput(servers.ports[0], a.requests, KEYSPACE))
            if mode == "on":
                # Let the subscriber drain what is queued, then charge its CPU to the events.
                time.sleep(1.0)
                events = metric(http_port, "redis_exporter_keyspace_events_total") - events0
                cpu = bench.cpu_delta(cpu0, bench.cpu_seconds(exporter.pid))[0]
                hits_, misses = [b - a_ for a_, b in zip(misses0, keyspace(r))]
                ratio.append(hits_ / (hits_ + misses))
                # Each miss publishes one keymiss; what the subscriber did not hear was lost.
                lost += max(0.0, misses - events)
                if events > 0:
                    cpu_per_event.append(cpu / events * 1e6)
            bench.log(f"{'90% hits' if hits else '100% misses'} round {i}: {mode} {rounds[mode][-1]:.0f} GET/s")
        disconnects = metric(http_port, "redis_exporter_keyspace_subscriber_disconnects_total")
    finally:
        bench.stop(exporter)
        servers.stop()
    on, off = statistics.median(rounds["on"]), statistics.median(rounds["off"])
    return {"on": rounds["on"], "off": rounds["off"], "ratio": on / off,
            "cpu_us_per_event": statistics.median(cpu_per_event) if cpu_per_event else None,
            "events_lost": lost, "disconnects": disconnects,
            "hit_ratio": statistics.median(ratio)}


def seed_hits(r):
    """90 % of the key space stored: random GETs hit 9 times in 10."""
    n = KEYSPACE * 9 // 10
    for start in range(0, n, 10_000):
        r.pipeline([["SET", "key:%012d" % i, "v" * 32] for i in range(start, min(n, start + 10_000))])


def decompose(a, workdir):
    """Where the throughput goes at ~90 % hits: GET/s with no flags, with flags and no
    subscriber, with a minimal subscriber (redis-cli, output discarded) and with our exporter
    subscribed; the modes alternate round by round."""
    servers = bench.Servers(1, tempfile.mkdtemp(dir=workdir))
    port = servers.ports[0]
    r = bench.Redis(port)
    seed_hits(r)
    channels = [f"__keyevent@0__:{e}" for e in ("keymiss", "expired", "evicted", "del")]
    rounds = {"off": [], "flags, no subscriber": [], "redis-cli subscribed": [], "ours subscribed": []}
    try:
        for _ in range(a.rounds):
            for mode in rounds:
                r.cmd("CONFIG", "SET", "notify-keyspace-events", "" if mode == "off" else "Egxem")
                peer = None
                if mode == "redis-cli subscribed":
                    peer = subprocess.Popen(["redis-cli", "-p", str(port), "subscribe", *channels],
                                            stdout=subprocess.DEVNULL)
                    time.sleep(0.3)
                elif mode == "ours subscribed":
                    peer, http_port = start_exporter(a.ours, port, workdir)
                    wait_active(http_port)
                try:
                    rounds[mode].append(get_throughput(port, a.requests, KEYSPACE))
                finally:
                    if peer is not None:
                        bench.stop(peer)
                bench.log(f"decompose: {mode} {rounds[mode][-1]:.0f} GET/s")
    finally:
        servers.stop()
    return rounds


def memory(a, workdir):
    """RSS growth per remembered key: `a.keys` distinct keys stored then deleted."""
    servers = bench.Servers(1, tempfile.mkdtemp(dir=workdir))
    r = bench.Redis(servers.ports[0])
    r.cmd("CONFIG", "SET", "notify-keyspace-events", "Egxem")
    exporter, http_port = start_exporter(a.ours, servers.ports[0], workdir,
                                         f"remembered_keys = {a.keys}\n")
    try:
        wait_active(http_port)
        rss0 = bench.status_kib(exporter.pid, "VmRSS")
        for start in range(0, a.keys, 20_000):
            cmds = []
            for i in range(start, min(a.keys, start + 20_000)):
                cmds.append(["SET", f"m:{i}", "v"])
                cmds.append(["DEL", f"m:{i}"])
            r.pipeline(cmds)
        deadline = time.time() + 60
        while metric(http_port, "redis_exporter_miss_attribution_remembered_keys") < a.keys:
            if time.time() > deadline:
                raise RuntimeError("not every removal remembered")
            time.sleep(0.2)
        rss1 = bench.status_kib(exporter.pid, "VmRSS")
    finally:
        bench.stop(exporter)
        servers.stop()
    return {"keys": a.keys, "rss_kib_before": rss0, "rss_kib_after": rss1,
            "bytes_per_key": (rss1 - rss0) * 1024 / a.keys}


def main():
    global PIPELINE  # one setting, read by get_throughput
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ours", required=True)
    ap.add_argument("--rounds", type=int, default=5, help="rounds of each mode (5)")
    ap.add_argument("--requests", type=int, default=2_000_000, help="GETs per round")
    ap.add_argument("--keys", type=int, default=1_000_000, help="memory: keys remembered")
    ap.add_argument("--decompose", action="store_true",
                    help="only: GET/s at ~90 %% hits off / flags without subscriber / redis-cli / ours")
    ap.add_argument("--pipeline", type=int, default=PIPELINE,
                    help="requests per round trip, redis-benchmark -P (32; 1 = no pipelining)")
    a = ap.parse_args()
    PIPELINE = a.pipeline
    workdir = tempfile.mkdtemp(prefix="attr-bench-")
    if a.decompose:
        rounds = decompose(a, workdir)
        off = statistics.median(rounds["off"])
        print("| mode | GET/s (median) | / off | rounds (k GET/s) |")
        print("|---|---:|---:|---|")
        for mode, v in rounds.items():
            print(f"| {mode} | {statistics.median(v):.0f} | **{statistics.median(v) / off:.3f}** | "
                  f"{' '.join(str(round(x / 1000)) for x in v)} |")
        return
    res = {"machine": bench.machine(),
           "hits90": throughput(a, workdir, True),
           "misses100": throughput(a, workdir, False),
           "memory": memory(a, workdir)}
    h, m, mem = res["hits90"], res["misses100"], res["memory"]
    print("| workload (hit ratio) | GET/s off (median) | GET/s on (median) | on / off | exporter CPU µs per event | events lost | disconnects |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, r in (("~90 % hits", h), ("100 % misses", m)):
        cpu = f"{r['cpu_us_per_event']:.2f}" if r["cpu_us_per_event"] is not None else "-"
        print(f"| {name} ({r['hit_ratio']:.3f}) | {statistics.median(r['off']):.0f} | {statistics.median(r['on']):.0f} | "
              f"**{r['ratio']:.3f}** | {cpu} | {r['events_lost']:.0f} | {r['disconnects']:.0f} |")
    print(f"\nMemory: {mem['keys']} removed keys remembered, RSS {mem['rss_kib_before']} → "
          f"{mem['rss_kib_after']} KiB = **{mem['bytes_per_key']:.1f} bytes per key**.")
    print("\nraw:", res)


if __name__ == "__main__":
    main()
