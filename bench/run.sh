#!/usr/bin/env bash
# Runs the whole benchmark from a fresh clone: installs what it needs when missing
# (redis-server, Debian's prometheus-redis-exporter), builds the release binary, then runs
#   1. compare: ours and redis_exporter side by side for T = 10, 100, 1000 targets,
#   2. scale:   ours alone with 10 000 targets at a 15 s interval,
#   3. the criterion micro-benchmarks (cargo bench --bench core),
#   4. faults:  /metrics latency, recovery, first /scrape and exit while targets misbehave,
#   5. shard:   one Prometheus shard and its scrape-only exporter, 1 000 and 10 000 targets
#               scraped through /scrape at 15 s (docs/scaling.md's sizing table).
# Results: target/bench/{compare,scale,faults,shard}.json and .md, target/bench/criterion.txt.
#
# Knobs (environment): COMPARE_ARGS, SCALE_ARGS, FAULTS_ARGS, SHARD_ARGS (extra bench.py flags,
# e.g. SCALE_ARGS="--duration 600"), SKIP_COMPARE=1, SKIP_SCALE=1, SKIP_CRITERION=1,
# SKIP_FAULTS=1, SKIP_SHARD=1.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "bench: need root (or sudo) to run: $*" >&2; exit 1; fi
}

need=()
command -v redis-server >/dev/null || need+=(redis-server)
[ -x /usr/bin/prometheus-redis-exporter ] || need+=(prometheus-redis-exporter)
command -v python3 >/dev/null || need+=(python3)
[ -n "${SKIP_SHARD:-}" ] || command -v prometheus >/dev/null || need+=(prometheus)
if [ ${#need[@]} -gt 0 ]; then
  echo "bench: apt-get install ${need[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

cargo build --release --quiet
ours=target/release/redis-cache-exporter
out=target/bench
mkdir -p "$out"

# 10 000 targets need 10 000 sockets in the exporter (and the servers' share each).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
echo "bench: open file limit $(ulimit -n)"

if [ -z "${SKIP_COMPARE:-}" ]; then
  # shellcheck disable=SC2086
  python3 bench/bench.py compare --ours "$ours" --out "$out/compare.json" ${COMPARE_ARGS:-} \
    | tee "$out/compare.md"
fi
if [ -z "${SKIP_SCALE:-}" ]; then
  # shellcheck disable=SC2086
  python3 bench/bench.py scale --ours "$ours" --out "$out/scale.json" ${SCALE_ARGS:-} \
    | tee "$out/scale.md"
fi
if [ -z "${SKIP_CRITERION:-}" ]; then
  cargo bench --bench core 2>&1 | grep -v '^\s*$' | tee "$out/criterion.txt"
fi
if [ -z "${SKIP_FAULTS:-}" ]; then
  # shellcheck disable=SC2086
  python3 bench/bench.py faults --ours "$ours" --out "$out/faults.json" ${FAULTS_ARGS:-} \
    | tee "$out/faults.md"
fi
if [ -z "${SKIP_SHARD:-}" ]; then
  # shellcheck disable=SC2086
  python3 bench/bench.py shard --ours "$ours" --out "$out/shard.json" ${SHARD_ARGS:-} \
    | tee "$out/shard.md"
fi
