#!/usr/bin/env python3
"""Side-by-side benchmark of redis-cache-exporter against redis_exporter, and a scale run.

Owns the measurements described in bench/README.md. Python 3 standard library only; talks to
real redis-server processes on 127.0.0.1 over RESP, to the exporters over HTTP, and reads CPU and
memory figures from /proc.

    bench.py compare --ours BIN --theirs BIN [--targets 10,100,1000] [--servers 10] ...
    bench.py scale   --ours BIN [--targets 10000] [--servers 20] [--duration 150] ...
    bench.py faults  --ours BIN [--duration 20] [--rounds 10] [--pause 3]
    bench.py shard   --ours BIN [--targets 1000,10000] [--servers 20] [--duration 600] ...

Each subcommand prints a Markdown table and writes JSON with every raw figure to --out.
"""

import argparse
import concurrent.futures
import http.client
import json
import os
import platform
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import zlib

CLK_TCK = os.sysconf("SC_CLK_TCK")

# Commands the benchmark itself sends as "application traffic" after each CONFIG RESETSTAT, so
# commandstats and the keyspace look like a cache's; excluded from the exporters' Redis cost.
APP_COMMANDS = [
    ["SET", "bench:k1", "v"],
    ["SET", "bench:k2", "v", "EX", "3600"],
    ["GET", "bench:k1"],
    ["GET", "bench:missing"],
    ["MGET", "bench:k1", "bench:k2"],
    ["INCR", "bench:counter"],
    ["EXPIRE", "bench:counter", "3600"],
    ["HSET", "bench:h", "f", "v"],
    ["HGET", "bench:h", "f"],
    ["DEL", "bench:gone"],
    ["EXISTS", "bench:k1"],
    ["TTL", "bench:k2"],
]
EXCLUDED = {c[0].lower() for c in APP_COMMANDS} | {"config|resetstat", "select"}


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# RESP client (one persistent connection per server: it adds no connections during a phase)


class Redis:
    def __init__(self, port):
        self.port = port
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("redis closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(max(65536, n))
            if not chunk:
                raise ConnectionError("redis closed the connection")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2 :]
        return data

    def _reply(self):
        line = self._line()
        t, rest = line[:1], line[1:]
        if t == b"+":
            return rest.decode()
        if t == b"-":
            raise RuntimeError(rest.decode())
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n).decode()
        if t == b"*":
            n = int(rest)
            return None if n < 0 else [self._reply() for _ in range(n)]
        raise RuntimeError(f"unexpected RESP reply {line!r}")

    def pipeline(self, cmds):
        out = bytearray()
        for args in cmds:
            out += b"*%d\r\n" % len(args)
            for a in args:
                a = str(a).encode()
                out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.sock.sendall(out)
        return [self._reply() for _ in cmds]

    def cmd(self, *args):
        return self.pipeline([list(args)])[0]


def parse_info(text):
    fields, cmds = {}, {}
    for line in text.splitlines():
        if not line or line.startswith("#") or ":" not in line:
            continue
        k, v = line.split(":", 1)
        if k.startswith("cmdstat_"):
            kv = dict(p.split("=", 1) for p in v.split(","))
            cmds[k[len("cmdstat_") :]] = (int(kv["calls"]), int(kv["usec"]))
        else:
            fields[k] = v
    return fields, cmds


# ---------------------------------------------------------------------------------------------
# Processes


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Servers:
    """N redis-server processes on loopback, no persistence, an LRU cache of 64 MiB each."""

    def __init__(self, n, workdir, databases=16):
        self.procs, self.ports, self.conns = [], [], []
        for i in range(n):
            port = free_port()
            d = os.path.join(workdir, f"redis-{i}")
            os.makedirs(d)
            p = subprocess.Popen(
                ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--dir", d, "--maxmemory", "64mb",
                 "--maxmemory-policy", "allkeys-lru", "--maxclients", "10000",
                 "--databases", str(databases), "--logfile", os.path.join(d, "log")],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.procs.append(p)
            self.ports.append(port)
        for port in self.ports:
            deadline = time.time() + 20
            while True:
                try:
                    c = Redis(port)
                    c.cmd("PING")
                    break
                except OSError:
                    if time.time() > deadline:
                        raise
                    time.sleep(0.05)
            self.conns.append(c)
        for c in self.conns:
            # A keyspace worth reporting: 2 000 keys in db0, half with a TTL.
            c.pipeline([["SET", f"seed:{i}", "x" * 64] + (["EX", "3600"] if i % 2 else [])
                        for i in range(2000)])

    def url(self, i):
        return f"redis://127.0.0.1:{self.ports[i % len(self.ports)]}"

    def distinct_url(self, i):
        """Target i as a URL of its own: server i mod n, database i div n (0 has no path), as
        /scrape keys its pollers by URL."""
        db = i // len(self.ports)
        return self.url(i) + (f"/{db}" if db else "")

    def reset(self):
        """CONFIG RESETSTAT, then a little application traffic so commandstats is not empty."""
        for c in self.conns:
            c.pipeline([["CONFIG", "RESETSTAT"]] + APP_COMMANDS)

    def stats(self):
        """Exporter-side Redis cost since the last reset, summed over servers."""
        tot = {"calls": 0, "usec": 0, "info_calls": 0, "new_connections": 0,
               "connected_clients": 0, "by_command": {}}
        for c in self.conns:
            fields, cmds = parse_info(c.cmd("INFO", "stats", "clients", "commandstats"))
            tot["new_connections"] += int(fields["total_connections_received"])
            tot["connected_clients"] += int(fields["connected_clients"]) - 1
            for name, (calls, usec) in cmds.items():
                if name in EXCLUDED:
                    continue
                tot["calls"] += calls
                tot["usec"] += usec
                b = tot["by_command"].setdefault(name, [0, 0])
                b[0] += calls
                b[1] += usec
                if name == "info":
                    tot["info_calls"] += calls
        return tot

    def stop(self):
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            p.wait()


def cpu_seconds(pid):
    """(utime+stime from /proc/PID/stat, sum of per-thread schedstat run time), seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    stat = (int(fields[11]) + int(fields[12])) / CLK_TCK
    sched = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                sched[tid] = int(f.read().split()[0]) / 1e9
        except OSError:
            pass
    return stat, sched


def cpu_delta(a, b):
    """CPU seconds between two cpu_seconds() readings: nanosecond schedstat run time of the
    threads alive at the end (threads that exited in between are lost there), unless the
    clock-tick figure from /proc/PID/stat is clearly larger."""
    stat = b[0] - a[0]
    sched = sum(v - a[1].get(tid, 0.0) for tid, v in b[1].items())
    return max(sched, stat) if stat > sched + 0.05 else sched, stat


def status_kib(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


class Http:
    """A keep-alive HTTP/1.1 client, as Prometheus scrapes."""

    def __init__(self, port, gzip=False):
        self.port = port
        self.conn = None
        # With gzip, asks for a compressed body as Prometheus does; `wire` is the size of the
        # last body as received, `done` when it was (the body is inflated after that).
        self.gzip = gzip
        self.wire = 0
        self.done = 0.0

    def get(self, path, timeout=60):
        headers = {"Accept-Encoding": "gzip"} if self.gzip else {}
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
            try:
                self.conn.request("GET", path, headers=headers)
                r = self.conn.getresponse()
                body = r.read()
                self.done = time.monotonic()
                self.wire = len(body)
                if r.status != 200:
                    raise RuntimeError(f"GET {path}: HTTP {r.status}: {body[:200]!r}")
                if r.getheader("Content-Encoding") == "gzip":
                    body = zlib.decompress(body, 16 + zlib.MAX_WBITS)
                return body
            except (OSError, http.client.HTTPException):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        raise AssertionError


def wait_http(port, path, timeout=30):
    deadline = time.time() + timeout
    while True:
        try:
            return Http(port).get(path)
        except (OSError, RuntimeError, http.client.HTTPException):
            if time.time() > deadline:
                raise
            time.sleep(0.1)


def samples_in(body):
    """Samples in an exposition: lines that are neither comments nor empty."""
    n = body.count(b"\n") + (0 if body.endswith(b"\n") else 1)
    comments = body.count(b"\n#") + (1 if body.startswith(b"#") else 0)
    return n - comments - body.count(b"\n\n")


def family(body, name):
    """{target: value} of one per-target family, found without scanning the whole body."""
    start = body.find(b"\n" + name.encode() + b"{")
    if start < 0:
        return {}
    end = body.find(b"\n#", start)
    out = {}
    for line in body[start + 1 : end if end > 0 else len(body)].split(b"\n"):
        if not line.startswith(name.encode() + b"{"):
            continue
        labels, value = line.rsplit(b" ", 1)
        i = labels.find(b'target="') + 8
        out[labels[i : labels.find(b'"', i)].decode()] = float(value)
    return out


def spawn(cmd, logpath, env=None):
    logf = open(logpath, "wb")
    return subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT, env=env,
                            start_new_session=True)


def stop(p):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def start_config(binary, body, workdir, tag):
    """Our exporter with the configuration `body` on a free port, once /healthz answers."""
    port = free_port()
    cfg = os.path.join(workdir, f"ours-{tag}.toml")
    with open(cfg, "w") as f:
        f.write(body)
    p = spawn([binary, "--config", cfg, "--listen", f"127.0.0.1:{port}", "--log-level", "warn"],
              os.path.join(workdir, f"ours-{tag}.log"))
    wait_http(port, "/healthz")
    return p, port


def start_ours(binary, servers, n_targets, interval, workdir, tag):
    body = f'poll_interval = "{interval}s"\n' + "".join(
        f'[[targets]]\nname = "t{i:05d}"\nurl = "{servers.url(i)}"\n' for i in range(n_targets))
    return start_config(binary, body, workdir, tag)


def wait_polled(http_, n_targets, min_polls, timeout):
    """Waits until every target has been polled successfully at least `min_polls` times."""
    deadline = time.time() + timeout
    while True:
        body = http_.get("/metrics")
        polls = family(body, "redis_exporter_polls_total")
        up = family(body, "redis_up")
        ready = sum(1 for t, v in polls.items() if v >= min_polls and up.get(t) == 1.0)
        if ready >= n_targets:
            return body
        if time.time() > deadline:
            raise RuntimeError(f"only {ready}/{n_targets} targets polled {min_polls}x and up")
        time.sleep(0.25)


# ---------------------------------------------------------------------------------------------
# compare


def phase_ours(a, servers, n, workdir):
    p, port = start_ours(a.ours, servers, n, a.round, workdir, f"compare-{n}")
    try:
        h = Http(port)
        # Warm: every target connected, CONFIG GET done, two polls in.
        wait_polled(h, n, 2, 30 + 3 * a.round)
        servers.reset()
        body = h.get("/metrics")
        polls0 = sum(family(body, "redis_exporter_polls_total").values())
        c0, t0 = cpu_seconds(p.pid), time.monotonic()
        sizes, lat = [], []
        for r in range(a.rounds):
            time.sleep(max(0.0, t0 + (r + 1) * a.round - time.monotonic()))
            s = time.monotonic()
            body = h.get("/metrics")
            lat.append(time.monotonic() - s)
            sizes.append(samples_in(body))
        c1, t1 = cpu_seconds(p.pid), time.monotonic()
        polls = sum(family(body, "redis_exporter_polls_total").values()) - polls0
        red = servers.stats()
        cpu, cpu_stat = cpu_delta(c0, c1)
        rounds = polls / n
        return {
            "exporter": "ours", "targets": n, "rounds": rounds, "wall_s": t1 - t0,
            "polls": polls, "cpu_s": cpu, "cpu_s_stat": cpu_stat,
            "samples_per_round": statistics.mean(sizes),
            "metrics_latency_s_max": max(lat),
            "peak_rss_kib": status_kib(p.pid, "VmHWM"), "redis": red,
        }
    finally:
        stop(p)


def phase_theirs(a, servers, n, workdir):
    port = free_port()
    p = spawn([a.theirs, "--redis.addr=", f"--web.listen-address=127.0.0.1:{port}"],
              os.path.join(workdir, f"theirs-{n}.log"))
    try:
        wait_http(port, "/metrics")
        local = threading.local()

        def scrape(i):
            if not hasattr(local, "h"):
                local.h = Http(port)
            return samples_in(local.h.get("/scrape?target=" + servers.url(i)))

        with concurrent.futures.ThreadPoolExecutor(a.concurrency) as pool:
            # Warm: one untimed round (Go runtime, page cache, the servers' caches).
            list(pool.map(scrape, range(n)))
            servers.reset()
            c0, t0 = cpu_seconds(p.pid), time.monotonic()
            sizes, late = [], 0
            for r in range(a.rounds):
                time.sleep(max(0.0, t0 + r * a.round - time.monotonic()))
                sizes.append(sum(pool.map(scrape, range(n))))
                late += time.monotonic() > t0 + (r + 1) * a.round
            c1, t1 = cpu_seconds(p.pid), time.monotonic()
        red = servers.stats()
        cpu, cpu_stat = cpu_delta(c0, c1)
        return {
            "exporter": "theirs", "targets": n, "rounds": a.rounds, "wall_s": t1 - t0,
            "polls": n * a.rounds, "cpu_s": cpu, "cpu_s_stat": cpu_stat,
            "samples_per_round": statistics.mean(sizes), "rounds_over_time": late,
            "peak_rss_kib": status_kib(p.pid, "VmHWM"), "redis": red,
        }
    finally:
        stop(p)


def per_poll(r):
    polls, red = r["polls"], r["redis"]
    info = max(red["info_calls"], 1)
    return {
        "cpu_us_per_target_round": r["cpu_s"] / polls * 1e6,
        "cpu_ns_per_sample": r["cpu_s"] / (polls / r["targets"]) / r["samples_per_round"] * 1e9,
        "samples_per_target": r["samples_per_round"] / r["targets"],
        "redis_us_per_poll": red["usec"] / info,
        "redis_calls_per_poll": red["calls"] / info,
        "new_connections_per_poll": red["new_connections"] / info,
        "peak_rss_mib": r["peak_rss_kib"] / 1024,
    }


ROWS = [
    ("exporter CPU per target per round (µs)", "cpu_us_per_target_round", "{:.1f}"),
    ("exporter CPU per exported sample (ns)", "cpu_ns_per_sample", "{:.0f}"),
    ("samples exported per target", "samples_per_target", "{:.1f}"),
    ("Redis command time per poll (µs)", "redis_us_per_poll", "{:.1f}"),
    ("Redis commands per poll", "redis_calls_per_poll", "{:.2f}"),
    ("new Redis connections per poll", "new_connections_per_poll", "{:.3f}"),
    ("peak RSS (MiB)", "peak_rss_mib", "{:.1f}"),
]


def compare(a):
    workdir = tempfile.mkdtemp(prefix="bench-compare-", dir=a.workdir)
    servers = Servers(a.servers, workdir)
    results = []
    try:
        for n in a.targets:
            log(f"T={n}: ours ({a.rounds} rounds of {a.round}s)")
            ours = phase_ours(a, servers, n, workdir)
            log(f"T={n}: theirs ({a.rounds} rounds)")
            theirs = phase_theirs(a, servers, n, workdir)
            results.append({"targets": n, "ours": ours, "theirs": theirs,
                            "ours_per_poll": per_poll(ours), "theirs_per_poll": per_poll(theirs)})
            log(f"T={n}: done")
    finally:
        servers.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    lines = [f"Servers: {a.servers} redis-server; round: {a.round} s; rounds: {a.rounds}; "
             f"redis_exporter scrape concurrency: {a.concurrency}", ""]
    for res in results:
        o, t = res["ours_per_poll"], res["theirs_per_poll"]
        lines += [f"T = {res['targets']} targets (ours: {res['ours']['rounds']:.1f} rounds "
                  f"measured, {res['ours']['wall_s']:.1f} s; theirs: "
                  f"{res['theirs']['wall_s']:.1f} s)", "",
                  "| per target per round | ours | redis_exporter | ours / theirs |",
                  "|---|---:|---:|---:|"]
        for label, key, fmt in ROWS:
            ratio = o[key] / t[key] if t[key] else float("nan")
            lines.append(f"| {label} | {fmt.format(o[key])} | {fmt.format(t[key])} | "
                         f"{ratio:.3f} |")
        bo, bt = res["ours"]["redis"]["by_command"], res["theirs"]["redis"]["by_command"]
        lines += ["", "Redis commands (calls, µs) over the phase: ours "
                  + ", ".join(f"{k} {v[0]}/{v[1]}" for k, v in sorted(bo.items()))
                  + "; theirs " + ", ".join(f"{k} {v[0]}/{v[1]}" for k, v in sorted(bt.items())),
                  ""]
    return results, "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# scale


def scale(a):
    workdir = tempfile.mkdtemp(prefix="bench-scale-", dir=a.workdir)
    n = a.targets[0]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, n + 4096))
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    if want < n + 1024:
        raise SystemExit(f"open file limit {want} is too low for {n} targets (raise ulimit -Hn)")
    log(f"scale: {n} targets over {a.servers} servers, interval {a.interval}s, fd limit {want}")
    servers = Servers(a.servers, workdir)
    p = None
    try:
        started = time.monotonic()
        p, port = start_ours(a.ours, servers, n, a.interval, workdir, f"scale-{n}")
        h = Http(port, gzip=a.gzip)
        wait_polled(h, n, 1, 3 * a.interval + 60)
        log(f"scale: all {n} targets up after {time.monotonic() - started:.1f} s")
        # Where the peak comes from: start-up (every connection made within one interval)
        # or the steady state measured below.
        startup_peak = status_kib(p.pid, "VmHWM")
        # Connections opened from here on are reconnects (the first ones are all made).
        servers.reset()
        # Part 1: polling alone (one /metrics before and after, outside the CPU window).
        body = h.get("/metrics")
        polls0 = sum(family(body, "redis_exporter_polls_total").values())
        c0, t0 = cpu_seconds(p.pid), time.monotonic()
        time.sleep(a.quiet)
        c1, t1 = cpu_seconds(p.pid), time.monotonic()
        body = h.get("/metrics")
        polls1 = sum(family(body, "redis_exporter_polls_total").values())
        quiet_cpu, quiet_stat = cpu_delta(c0, c1)
        log(f"scale: polling alone {quiet_cpu / (t1 - t0) * 100:.1f} % of a core")
        # Part 2: polling while /metrics is scraped every `scrape_every` seconds.
        lat, sizes, wire, seen = [], [], [], {}
        polls2 = polls1
        c2, t2 = cpu_seconds(p.pid), time.monotonic()
        k = 0
        while time.monotonic() - t2 < a.duration:
            time.sleep(max(0.0, t2 + k * a.scrape_every - time.monotonic()))
            k += 1
            s = time.monotonic()
            body = h.get("/metrics")
            lat.append(h.done - s)
            sizes.append(len(body))
            wire.append(h.wire)
            for t, ts in family(body, "redis_exporter_last_poll_success_timestamp_seconds").items():
                lst = seen.setdefault(t, [])
                if not lst or lst[-1] != ts:
                    lst.append(ts)
        c3, t3 = cpu_seconds(p.pid), time.monotonic()
        polls3 = sum(family(body, "redis_exporter_polls_total").values())
        errors = sum(family(body, "redis_exporter_poll_errors_total").values())
        busy_cpu, busy_stat = cpu_delta(c2, c3)
        samples = samples_in(body)
        rss_now, rss_peak = status_kib(p.pid, "VmRSS"), status_kib(p.pid, "VmHWM")
        red = servers.stats()
    finally:
        if p is not None:
            stop(p)
        servers.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    # Lateness: spacing of consecutive successful polls of a target minus the interval (the
    # tick is fixed, so a late poll shows as one longer and one shorter gap), and the drift of
    # the last poll from the slot grid of the first one seen.
    gaps, drift = [], []
    for lst in seen.values():
        gaps += [b - a_ - a.interval for a_, b in zip(lst, lst[1:])]
        if len(lst) >= 2:
            span = lst[-1] - lst[0]
            drift.append(span - round(span / a.interval) * a.interval)
    lat_in_order = list(lat)
    lat.sort()
    q = lambda xs, f: xs[min(len(xs) - 1, int(f * len(xs)))] if xs else float("nan")  # noqa
    gaps_abs = sorted(abs(g) for g in gaps)
    drift_abs = sorted(abs(d) for d in drift)
    busy_wall = t3 - t2
    render_cpu = max(0.0, busy_cpu - quiet_cpu / (t1 - t0) * busy_wall) / max(len(lat), 1)
    res = {
        "targets": n, "servers": a.servers, "interval_s": a.interval,
        "quiet_s": t1 - t0, "quiet_cpu_s": quiet_cpu, "quiet_cpu_s_stat": quiet_stat,
        "quiet_polls": polls1 - polls0,
        "busy_s": busy_wall, "busy_cpu_s": busy_cpu, "busy_cpu_s_stat": busy_stat,
        "busy_polls": polls3 - polls2, "scrapes": len(lat), "scrape_every_s": a.scrape_every,
        "metrics_latency_s": {"p50": q(lat, 0.5), "p99": q(lat, 0.99), "max": lat[-1]},
        # Every scrape's latency in the order taken, so a slow tail can be told from one spike.
        "metrics_latency_each_s": lat_in_order,
        "metrics_bytes": statistics.mean(sizes), "metrics_samples": samples,
        "metrics_wire_bytes": statistics.mean(wire), "gzip": a.gzip,
        "render_cpu_s_per_scrape": render_cpu,
        "rss_kib": rss_now, "peak_rss_kib": rss_peak, "startup_peak_rss_kib": startup_peak,
        "poll_errors": errors,
        "gap_minus_interval_s": {"p50": q(gaps_abs, 0.5), "p99": q(gaps_abs, 0.99),
                                 "max": gaps_abs[-1] if gaps_abs else float("nan"),
                                 "n": len(gaps)},
        "slot_drift_s": {"p50": q(drift_abs, 0.5), "p99": q(drift_abs, 0.99),
                         "max": drift_abs[-1] if drift_abs else float("nan")},
        "redis": {k: v for k, v in red.items() if k != "by_command"},
    }
    quiet_share = quiet_cpu / (t1 - t0)
    expected = n * (t1 - t0) / a.interval
    text = "\n".join([
        f"{n} targets over {a.servers} redis-server, poll interval {a.interval} s; "
        f"polling alone {res['quiet_s']:.0f} s, then /metrics every {a.scrape_every} s for "
        f"{busy_wall:.0f} s ({len(lat)} scrapes)", "",
        "| measure | value |", "|---|---:|",
        f"| CPU, polling alone (% of one core) | {quiet_share * 100:.1f} % |",
        f"| polls in that time (expected {expected:.0f}) | {res['quiet_polls']:.0f} |",
        f"| CPU, polling + /metrics every {a.scrape_every} s | "
        f"{busy_cpu / busy_wall * 100:.1f} % |",
        f"| CPU per /metrics render (estimated) | {render_cpu * 1e3:.0f} ms |",
        f"| CPU, polling + /metrics every {a.interval} s (estimated) | "
        f"{(quiet_share + render_cpu / a.interval) * 100:.1f} % |",
        f"| RSS at the end / peak (peak once all were up) | {rss_now / 1024:.0f} / "
        f"{rss_peak / 1024:.0f} ({startup_peak / 1024:.0f}) MiB |",
        f"| /metrics latency p50 / p99 / max | {q(lat, 0.5) * 1e3:.0f} / "
        f"{q(lat, 0.99) * 1e3:.0f} / {lat[-1] * 1e3:.0f} ms |",
        f"| /metrics size | {res['metrics_bytes'] / 1e6:.1f} MB, {samples} samples |",
        f"| /metrics size on the wire ({'gzip' if a.gzip else 'plain'}) | "
        f"{res['metrics_wire_bytes'] / 1e6:.1f} MB |",
        f"| poll spacing − interval, abs p50 / p99 / max ({len(gaps)} gaps) | "
        f"{res['gap_minus_interval_s']['p50'] * 1e3:.1f} / "
        f"{res['gap_minus_interval_s']['p99'] * 1e3:.1f} / "
        f"{res['gap_minus_interval_s']['max'] * 1e3:.1f} ms |",
        f"| drift from the slot grid over the run, abs p50 / p99 / max | "
        f"{res['slot_drift_s']['p50'] * 1e3:.1f} / {res['slot_drift_s']['p99'] * 1e3:.1f} / "
        f"{res['slot_drift_s']['max'] * 1e3:.1f} ms |",
        f"| poll errors | {errors:.0f} |",
        f"| Redis connections held / opened while measured | {red['connected_clients']} / "
        f"{red['new_connections']} |",
        "",
    ])
    return [res], text


# ---------------------------------------------------------------------------------------------
# faults: the timings behind what tests/faults.rs and tests/faults_real.rs prove without a clock


class SilentPeer:
    """Accepts connections, reads what it is sent and never answers; counts the connections
    on which a request arrived (calls the exporter waits on until its timeout)."""

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.lock = threading.Lock()
        self.requests = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            conn, _ = self.sock.accept()
            threading.Thread(target=self._hold, args=(conn,), daemon=True).start()

    def _hold(self, conn):
        with conn:
            try:
                if conn.recv(4096):
                    with self.lock:
                        self.requests += 1
                while conn.recv(4096):
                    pass
            except OSError:
                pass


def quantiles(xs):
    xs = sorted(xs)
    at = lambda f: xs[min(len(xs) - 1, int(f * len(xs)))]  # noqa: E731
    return {"p50": at(0.5), "p99": at(0.99), "max": xs[-1], "n": len(xs)}


def wait_until(what, timeout, check, every=0.02):
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


def faults(a):
    workdir = tempfile.mkdtemp(prefix="bench-faults-", dir=a.workdir)
    # Server 0 stays healthy, server 1 is paused (SIGSTOP), server 2 answers first /scrapes.
    servers = Servers(3, workdir)
    paused = servers.procs[1]
    silent, hung = SilentPeer(), SilentPeer()
    body = (
        'poll_interval = "500ms"\ntimeout = "250ms"\n'
        '[scrape]\nallow = ["redis://127.0.0.1:*"]\n'
        f'[[targets]]\nname = "healthy"\nurl = "{servers.url(0)}"\n'
        f'[[targets]]\nname = "paused"\nurl = "{servers.url(1)}"\n'
        f'[[targets]]\nname = "silent"\nurl = "redis://127.0.0.1:{silent.port}"\n'
        f'[[targets]]\nname = "hung"\nurl = "redis://127.0.0.1:{hung.port}"\n'
        'poll_interval = "10s"\ntimeout = "9s"\n')
    res, p = {}, None
    try:
        p, port = start_config(a.ours, body, workdir, "faults")
        h = Http(port)
        up = lambda t: family(h.get("/metrics"), "redis_up").get(t)  # noqa: E731
        wait_until("healthy and paused up", 30, lambda: up("healthy") == 1 and up("paused") == 1)
        log(f"faults: /metrics every 50 ms for {a.duration} s, one target paused, one silent, "
            "one on a pending 9 s call")
        paused.send_signal(signal.SIGSTOP)
        lat, polls, last = [], [], None
        t0 = time.monotonic()
        while time.monotonic() - t0 < a.duration:
            s = time.monotonic()
            m = h.get("/metrics")
            lat.append(h.done - s)
            done = family(m, "redis_exporter_last_poll_success_timestamp_seconds").get("healthy")
            if done != last:
                polls.append(family(m, "redis_exporter_last_poll_duration_seconds")["healthy"])
                last = done
            time.sleep(0.05)
        paused.send_signal(signal.SIGCONT)
        res["metrics_latency_s"], res["healthy_poll_s"] = quantiles(lat), quantiles(polls)
        log(f"faults: {a.rounds} pauses of {a.pause} s")
        rec = []
        for _ in range(a.rounds):
            wait_until("paused up", 60, lambda: up("paused") == 1)
            paused.send_signal(signal.SIGSTOP)
            wait_until("paused down", 60, lambda: up("paused") == 0)
            time.sleep(a.pause)
            paused.send_signal(signal.SIGCONT)
            s = time.monotonic()
            wait_until("paused up again", 60, lambda: up("paused") == 1)
            rec.append(time.monotonic() - s)
        res["recovery_s"] = quantiles(rec)
        # Sixteen new targets (db 0-15 of one server): each first /scrape waits for its poll.
        first = []
        for db in range(16):
            s = time.monotonic()
            h.get(f"/scrape?target=redis://127.0.0.1:{servers.ports[2]}/{db}")
            first.append(h.done - s)
        res["first_scrape_s"] = quantiles(first)
        stop(p)
        log(f"faults: {a.rounds} exits on SIGTERM with a 9 s call pending")
        exits = []
        for i in range(a.rounds):
            before = hung.requests
            p, port = start_config(a.ours, body, workdir, f"faults-exit-{i}")
            wait_until("a call to the hung peer", 30, lambda: hung.requests > before)
            s = time.monotonic()
            p.send_signal(signal.SIGTERM)
            p.wait(30)
            exits.append(time.monotonic() - s)
        res["sigterm_exit_s"] = quantiles(exits)
    finally:
        if p is not None:
            stop(p)
        paused.send_signal(signal.SIGCONT)
        servers.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    rows = [
        ("/metrics while one target is paused, one silent, one on a pending 9 s call",
         "metrics_latency_s"),
        ("poll of the healthy target meanwhile", "healthy_poll_s"),
        (f"recovery after a {a.pause} s pause (SIGCONT to redis_up 1, scraped every 20 ms)",
         "recovery_s"),
        ("first /scrape of a new target (waits for its first poll)", "first_scrape_s"),
        ("SIGTERM to exit, with a 9 s call pending", "sigterm_exit_s"),
    ]
    lines = ["Poll interval 500 ms, timeout 250 ms (the hung target: 10 s, 9 s)", "",
             "| measure | p50 | p99 | max | n |", "|---|---:|---:|---:|---:|"]
    for label, key in rows:
        q = res[key]
        lines.append(f"| {label} | {q['p50'] * 1e3:.1f} ms | {q['p99'] * 1e3:.1f} ms | "
                     f"{q['max'] * 1e3:.1f} ms | {q['n']} |")
    return [res], "\n".join(lines + [""])


# shard: one Prometheus shard and its scrape-only exporter (docs/scaling.md)


def start_prometheus(binary, config, workdir, tag):
    port = free_port()
    d = os.path.join(workdir, f"prometheus-{tag}")
    os.makedirs(d)
    cfg = os.path.join(d, "prometheus.yml")
    with open(cfg, "w") as f:
        f.write(config)
    p = spawn([binary, f"--config.file={cfg}", f"--storage.tsdb.path={d}/data",
               f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
              os.path.join(d, "log"))
    wait_http(port, "/-/ready", timeout=60)
    return p, port


def prom_query(port, promql):
    """The values of an instant query, as floats."""
    body = Http(port).get("/api/v1/query?query=" + urllib.parse.quote(promql))
    return [float(r["value"][1]) for r in json.loads(body)["data"]["result"]]


def prom_scalar(port, promql, default=float("nan")):
    v = prom_query(port, promql)
    return v[0] if v else default


def self_metric(port, name):
    """Sum of the samples of `name` on a server's own /metrics (Prometheus does not store its
    own metrics unless it scrapes itself)."""
    total, found = 0.0, False
    for line in Http(port).get("/metrics").decode().splitlines():
        if line.startswith(name) and line[len(name):len(name) + 1] in (" ", "{"):
            total += float(line.rsplit(" ", 1)[1])
            found = True
    return total if found else float("nan")


def shard_one(a, n, workdir):
    """N distinct targets polled by a scrape-only exporter and scraped through /scrape by a
    real Prometheus every --interval, with the shipped rules, as one shard of docs/scaling.md."""
    per_server = -(-n // a.servers)
    servers = Servers(a.servers, workdir, databases=max(16, per_server))
    procs = []
    try:
        eport = free_port()
        cfg = os.path.join(workdir, f"shard-{n}.toml")
        with open(cfg, "w") as f:
            f.write(f'listen = "127.0.0.1:{eport}"\npoll_interval = "{a.interval}s"\n'
                    f'[scrape]\nallow = ["redis://127.0.0.1:*"]\nidle_timeout = "{4 * a.interval}s"\n')
        exporter = spawn([a.ours, "--config", cfg, "--log-level", "warn"],
                         os.path.join(workdir, f"shard-{n}.log"))
        procs.append(exporter)
        wait_http(eport, "/healthz")
        sd = os.path.join(workdir, f"targets-{n}.json")
        with open(sd, "w") as f:
            json.dump([{"targets": [servers.distinct_url(i) for i in range(n)]}], f)
        rules = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "alerts",
                             "redis-cache-health.rules.yml")
        config = (f"global:\n  scrape_interval: {a.interval}s\n  evaluation_interval: {a.interval}s\n"
                  f"rule_files: [\"{os.path.abspath(rules)}\"]\n"
                  "scrape_configs:\n"
                  "  - job_name: redis\n    metrics_path: /scrape\n"
                  f"    file_sd_configs: [{{files: [\"{sd}\"]}}]\n"
                  "    relabel_configs:\n"
                  "      - {source_labels: [__address__], target_label: __param_target}\n"
                  "      - {source_labels: [__param_target], target_label: instance}\n"
                  f"      - {{target_label: __address__, replacement: \"127.0.0.1:{eport}\"}}\n")
        prom, pport = start_prometheus(a.prometheus, config, workdir, n)
        procs.append(prom)
        started = time.monotonic()
        deadline = started + 3 * a.interval + 120
        while prom_scalar(pport, 'count(redis_up{job="redis"} == 1)', 0) < n:
            if time.monotonic() > deadline:
                raise RuntimeError(f"not all {n} targets up in Prometheus")
            time.sleep(1)
        log(f"shard: all {n} targets up after {time.monotonic() - started:.0f} s; "
            f"settling {a.settle:.0f} s")
        time.sleep(a.settle)
        servers.reset()
        e0, p0, t0 = cpu_seconds(exporter.pid), cpu_seconds(prom.pid), time.monotonic()
        time.sleep(a.duration)
        e1, p1, t1 = cpu_seconds(exporter.pid), cpu_seconds(prom.pid), time.monotonic()
        wall = t1 - t0
        ecpu, _ = cpu_delta(e0, e1)
        pcpu, _ = cpu_delta(p0, p1)
        q = lambda e: prom_scalar(pport, e)  # noqa
        res = {
            "targets": n, "servers": a.servers, "interval_s": a.interval, "measured_s": wall,
            "exporter_cpu_share": ecpu / wall,
            "exporter_rss_kib": status_kib(exporter.pid, "VmRSS"),
            "exporter_peak_rss_kib": status_kib(exporter.pid, "VmHWM"),
            "prometheus_cpu_share": pcpu / wall,
            "prometheus_rss_kib": status_kib(prom.pid, "VmRSS"),
            "prometheus_peak_rss_kib": status_kib(prom.pid, "VmHWM"),
            "head_series": self_metric(pport, "prometheus_tsdb_head_series"),
            "samples_per_target": q('avg(scrape_samples_scraped{job="redis"})'),
            "samples_per_target_max": q('max(scrape_samples_scraped{job="redis"})'),
            "scrape_p50_s": q('quantile(0.5, scrape_duration_seconds{job="redis"})'),
            "scrape_p99_s": q('quantile(0.99, scrape_duration_seconds{job="redis"})'),
            "targets_up": q('count(up{job="redis"} == 1)'),
            "rule_eval_s": self_metric(pport, "prometheus_rule_group_last_duration_seconds"),
            "redis": {k: v for k, v in servers.stats().items() if k != "by_command"},
        }
        res["info_calls_per_target_per_interval"] = (
            res["redis"]["info_calls"] / (n * wall / a.interval))
        return res
    finally:
        for p in procs:
            stop(p)
        servers.stop()


def shard(a):
    workdir = tempfile.mkdtemp(prefix="bench-shard-", dir=a.workdir)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, max(a.targets) + 4096))
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    results = []
    try:
        for n in a.targets:
            log(f"shard: {n} targets over {a.servers} servers, interval {a.interval}s")
            results.append(shard_one(a, n, workdir))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    rows = ["| targets | exporter CPU (% of a core) | exporter RSS | Prometheus CPU | "
            "Prometheus RSS | head series | series per target (samples per scrape) | "
            "/scrape p50 / p99 | INFO per target per interval |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        rows.append(
            f"| {r['targets']} | {r['exporter_cpu_share'] * 100:.1f} % | "
            f"{r['exporter_rss_kib'] / 1024:.0f} MiB | {r['prometheus_cpu_share'] * 100:.1f} % | "
            f"{r['prometheus_rss_kib'] / 1024:.0f} MiB | {r['head_series']:.0f} | "
            f"{r['samples_per_target']:.1f} (max {r['samples_per_target_max']:.0f}) | "
            f"{r['scrape_p50_s'] * 1e3:.1f} / {r['scrape_p99_s'] * 1e3:.1f} ms | "
            f"{r['info_calls_per_target_per_interval']:.3f} |")
    text = "\n".join([
        f"One shard: scrape-only exporter and Prometheus (shipped rules), poll and scrape "
        f"interval {a.interval} s, {a.servers} redis-servers, measured {a.duration:.0f} s after "
        f"every target was up and {a.settle:.0f} s more", ""] + rows + [""])
    return results, text


def machine():
    model = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1])
    return {"nproc": os.cpu_count(), "model": model, "mem_gib": round(mem / 2**20, 1),
            "kernel": platform.release(), "loadavg": open("/proc/loadavg").read().split()[:3]}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("mode", choices=["compare", "scale", "faults", "shard"])
    ap.add_argument("--ours", required=True, help="redis-cache-exporter binary")
    ap.add_argument("--theirs", default="/usr/bin/prometheus-redis-exporter")
    ap.add_argument("--targets", default=None, help="comma separated target counts")
    ap.add_argument("--servers", type=int, default=None, help="redis-server processes")
    ap.add_argument("--round", type=float, default=2.0,
                    help="compare: round length = our poll interval, seconds")
    ap.add_argument("--rounds", type=int, default=10,
                    help="compare: measured rounds; faults: pauses and exits measured")
    ap.add_argument("--concurrency", type=int, default=4,
                    help="compare: parallel /scrape requests to redis_exporter")
    ap.add_argument("--interval", type=int, default=15, help="scale: poll interval, seconds")
    ap.add_argument("--quiet", type=float, default=60, help="scale: seconds of polling alone")
    ap.add_argument("--duration", type=float, default=None,
                    help="scale: seconds of polling with /metrics scraped (120); "
                         "faults: seconds of scraping while targets hang (20); shard: seconds measured (300)")
    ap.add_argument("--pause", type=float, default=3.0,
                    help="faults: seconds each SIGSTOP pause lasts")
    ap.add_argument("--settle", type=float, default=120,
                    help="shard: seconds between all targets up and the measurement")
    ap.add_argument("--prometheus", default="/usr/bin/prometheus", help="shard: Prometheus")
    ap.add_argument("--scrape-every", type=float, default=1.0, help="scale: seconds")
    ap.add_argument("--no-gzip", dest="gzip", action="store_false",
                    help="scale: scrape without Accept-Encoding: gzip (Prometheus sends it)")
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--out", default=None, help="JSON results file")
    a = ap.parse_args()
    default_targets = {"compare": "10,100,1000", "scale": "10000", "shard": "1000,10000"}
    a.targets = [int(x) for x in (a.targets or default_targets[a.mode]).split(",")]
    a.servers = a.servers or (10 if a.mode == "compare" else 20)
    if a.duration is None:
        a.duration = {"faults": 20.0, "shard": 300.0}.get(a.mode, 120.0)
    m = machine()
    log(f"machine: {m}")
    results, text = {"compare": compare, "scale": scale, "faults": faults, "shard": shard}[a.mode](a)
    print(text, flush=True)
    if a.out:
        with open(a.out, "w") as f:
            json.dump({"mode": a.mode, "machine": m, "args": vars(a), "results": results,
                       "table": text}, f, indent=1)


if __name__ == "__main__":
    main()
