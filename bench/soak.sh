#!/usr/bin/env bash
# Soak run (not part of CI): the exporter polls TARGETS targets spread over SERVERS real
# redis-server processes on 127.0.0.1 for DURATION seconds, while one server after another is
# killed and restarted every RESTART_EVERY seconds (down for DOWN_FOR seconds each time). Every
# SAMPLE_EVERY seconds it records the exporter's resident memory, open file descriptors, threads,
# the /metrics scrape time and how many targets are up, to a CSV, and prints a summary at the
# end: memory and descriptors must stay flat once the history rings are full (the 15m window
# holds 15 minutes of polls, so memory grows during the first WARMUP seconds by design).
#
#   bash bench/soak.sh                      # 1 hour, 200 targets, release build
#   DURATION=600 EXPORTER=target/debug/redis-cache-exporter bash bench/soak.sh
#
# Settings (environment): DURATION=3600 TARGETS=200 SERVERS=10 POLL_INTERVAL=1s TIMEOUT=500ms
# RESTART_EVERY=30 DOWN_FOR=3 SAMPLE_EVERY=10 WARMUP=1200 OUT=target/soak EXPORTER=<path>
# Needs: redis-server, curl, python3 (apt-get install redis-server curl python3).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-3600}
TARGETS=${TARGETS:-200}
SERVERS=${SERVERS:-10}
POLL_INTERVAL=${POLL_INTERVAL:-1s}
TIMEOUT=${TIMEOUT:-500ms}
RESTART_EVERY=${RESTART_EVERY:-30}
DOWN_FOR=${DOWN_FOR:-3}
SAMPLE_EVERY=${SAMPLE_EVERY:-10}
WARMUP=${WARMUP:-1200}
OUT=${OUT:-target/soak}

for bin in redis-server curl python3; do
    command -v "$bin" >/dev/null || { echo "soak: $bin missing: apt-get install $bin" >&2; exit 1; }
done
if [[ -z "${EXPORTER:-}" ]]; then
    cargo build --release --locked --quiet
    EXPORTER=target/release/redis-cache-exporter
fi

mkdir -p "$OUT"
WORK=$(mktemp -d)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}" ${EXPORTER_PID:-}; do kill -9 "$p" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

declare -a PORTS SERVER_PID
start_server() { # index
    local i=$1
    redis-server --port "${PORTS[$i]}" --bind 127.0.0.1 --save "" --appendonly no \
        --dir "$WORK" --dbfilename "s$i.rdb" --maxmemory 64mb --maxmemory-policy allkeys-lru \
        >/dev/null 2>&1 &
    SERVER_PID[$i]=$!
    PIDS+=("$!")
    disown
}

for ((i = 0; i < SERVERS; i++)); do
    PORTS[$i]=$(free_port)
    start_server "$i"
done

LISTEN_PORT=$(free_port)
CONFIG="$WORK/config.toml"
{
    echo "listen = \"127.0.0.1:$LISTEN_PORT\""
    echo "poll_interval = \"$POLL_INTERVAL\""
    echo "timeout = \"$TIMEOUT\""
    for ((t = 0; t < TARGETS; t++)); do
        echo "[[targets]]"
        echo "name = \"t$t\""
        echo "url = \"redis://127.0.0.1:${PORTS[$((t % SERVERS))]}\""
    done
} >"$CONFIG"

REDIS_CACHE_EXPORTER_LOG_LEVEL=warn "$EXPORTER" --config "$CONFIG" 2>"$OUT/soak-exporter.log" &
EXPORTER_PID=$!
disown
for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$LISTEN_PORT/healthz" >/dev/null && break
    sleep 0.1
done

CSV="$OUT/soak.csv"
echo "elapsed_s,rss_kb,fds,threads,scrape_ms,targets_up,cpu_s" >"$CSV"
TICKS=$(getconf CLK_TCK)
sample() {
    local elapsed=$1 rss fds threads t0 t1 up cpu
    cpu=$(awk -v hz="$TICKS" '{print ($14 + $15) / hz}' "/proc/$EXPORTER_PID/stat")
    rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$EXPORTER_PID/status")
    threads=$(awk '/^Threads:/ {print $2}' "/proc/$EXPORTER_PID/status")
    fds=$(ls "/proc/$EXPORTER_PID/fd" | wc -l)
    t0=$(date +%s%N)
    up=$(curl -fs "http://127.0.0.1:$LISTEN_PORT/metrics" | grep -c '^redis_up{.*} 1$' || true)
    t1=$(date +%s%N)
    echo "$elapsed,$rss,$fds,$threads,$(((t1 - t0) / 1000000)),$up,$cpu" >>"$CSV"
}

START=$(date +%s)
next_restart=$RESTART_EVERY
next_sample=0
victim=0
restarts=0
down_until=0
while :; do
    elapsed=$(($(date +%s) - START))
    ((elapsed >= DURATION)) && break
    kill -0 "$EXPORTER_PID" 2>/dev/null || { echo "soak: exporter died" >&2; exit 1; }
    if ((elapsed >= next_sample)); then
        sample "$elapsed"
        next_sample=$((next_sample + SAMPLE_EVERY))
    fi
    if ((down_until > 0 && elapsed >= down_until)); then
        start_server "$victim"
        victim=$(((victim + 1) % SERVERS))
        restarts=$((restarts + 1))
        down_until=0
    fi
    if ((elapsed >= next_restart && down_until == 0)); then
        kill -9 "${SERVER_PID[$victim]}" 2>/dev/null || true
        down_until=$((elapsed + DOWN_FOR))
        next_restart=$((next_restart + RESTART_EVERY))
    fi
    sleep 1
done
sample "$DURATION"

# Summary: RSS at the end of the warm-up against the end, and the worst values after it.
((WARMUP > DURATION / 2)) && WARMUP=$((DURATION / 2))
awk -F, -v restarts="$restarts" -v duration="$DURATION" -v targets="$TARGETS" -v warmup="$WARMUP" '
    NR == 1 { next }
    { n++; e[n] = $1; rss[n] = $2; fd[n] = $3; th[n] = $4; sc[n] = $5; up[n] = $6; cpu[n] = $7 }
    END {
        w = 1
        while (w < n && e[w] < warmup) w++
        maxrss = 0; maxfd = 0; maxsc = 0; minup = targets
        for (i = w; i <= n; i++) {
            if (rss[i] > maxrss) maxrss = rss[i]
            if (fd[i] > maxfd) maxfd = fd[i]
            if (sc[i] > maxsc) maxsc = sc[i]
        }
        for (i = 2; i <= n; i++) if (up[i] < minup) minup = up[i]
        # Least-squares slope of RSS over the samples after warm-up, kB per hour.
        sx = sy = sxx = sxy = 0; m = 0
        for (i = w; i <= n; i++) { m++; sx += e[i]; sy += rss[i]; sxx += e[i] * e[i]; sxy += e[i] * rss[i] }
        slope = (m > 1 && (m * sxx - sx * sx) != 0) ? (m * sxy - sx * sy) / (m * sxx - sx * sx) * 3600 : 0
        printf "| duration | targets | Redis restarts | RSS after warm-up (%d s) | RSS at end | RSS max after warm-up | RSS slope after warm-up | fds after warm-up / max / end | threads | scrape max | fewest targets up | CPU |\n", e[w]
        printf "|---|---|---|---|---|---|---|---|---|---|---|---|\n"
        printf "| %d s | %d | %d | %.1f MiB | %.1f MiB | %.1f MiB | %+.2f MiB/h | %d / %d / %d | %d | %d ms | %d | %.1f%% of a core |\n",
            duration, targets, restarts, rss[w] / 1024, rss[n] / 1024, maxrss / 1024, slope / 1024,
            fd[w], maxfd, fd[n], th[n], maxsc, minup, 100 * cpu[n] / e[n]
    }' "$CSV" | tee "$OUT/soak-summary.md"
echo "samples: $CSV"
