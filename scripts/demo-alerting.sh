#!/usr/bin/env bash
# One-command alerting demo, on 127.0.0.1 only: two redis-servers driven by the workload
# generator (examples/workload.rs), the exporter, Prometheus with alerts/redis-cache-health.rules.yml
# and Alertmanager with alerts/alertmanager.yml, then waits until the alerts fire and shows them.
#
#   bash scripts/demo-alerting.sh          # keeps everything running until Enter or Ctrl-C
#   bash scripts/demo-alerting.sh --once   # exits once the page has fired (exit 1 if it never does)
#
# "shop" is a cache driven at 70 % hits: RedisCacheHitRateLow pages (receiver cache-pager).
# "catalog" is a cache at 99 % hits whose application also calls KEYS now and then:
# RedisKeysCommandUsed opens a ticket (receiver cache-tickets); it never pages.
# Time is compressed with alerts/fast.sed (every minute of the rules becomes a second), so the
# page comes about half a minute after start instead of 25 minutes. Ports: DEMO_PORT_BASE+1 ..
# DEMO_PORT_BASE+5 (default 19100); everything started here is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

once=false
[ "${1:-}" = "--once" ] && once=true

need() {
  command -v "$1" >/dev/null || [ -x "/usr/bin/$1" ] || {
    echo "demo: $1 not found: apt-get install $2" >&2
    exit 1
  }
}
need redis-server redis-server
need prometheus prometheus
need prometheus-alertmanager prometheus-alertmanager
need amtool prometheus-alertmanager
need cargo "a Rust toolchain (rustup)"

base=${DEMO_PORT_BASE:-19100}
shop_port=$((base + 1)) catalog_port=$((base + 2)) exporter_port=$((base + 3))
prometheus_port=$((base + 4)) alertmanager_port=$((base + 5))
for p in $shop_port $catalog_port $exporter_port $prometheus_port $alertmanager_port; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
    echo "demo: port $p on 127.0.0.1 is in use; set DEMO_PORT_BASE to use other ports" >&2
    exit 1
  fi
done

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "demo: building the exporter and the workload generator"
cargo build --quiet --locked --bin redis-cache-exporter --example workload

for name in shop catalog; do
  port_var=${name}_port
  mkdir -p "$work/$name"
  redis-server --port "${!port_var}" --bind 127.0.0.1 --save "" --appendonly no \
    --dir "$work/$name" --maxmemory 64mb --maxmemory-policy allkeys-lru \
    >"$work/$name/redis.log" 2>&1 &
  pids+=($!)
done

cat >"$work/exporter.toml" <<EOF
listen = "127.0.0.1:$exporter_port"
poll_interval = "1s"
timeout = "500ms"

[[targets]]
name = "shop"
url = "redis://127.0.0.1:$shop_port"
cache = true

[[targets]]
name = "catalog"
url = "redis://127.0.0.1:$catalog_port"
cache = true
EOF
sleep 0.5
target/debug/redis-cache-exporter --config "$work/exporter.toml" --log-level warn \
  >"$work/exporter.log" 2>&1 &
pids+=($!)

target/debug/examples/workload --url "redis://127.0.0.1:$shop_port" --hit-ratio 0.70 \
  --rate 200 --report-every 0s >"$work/workload-shop.log" 2>&1 &
pids+=($!)
target/debug/examples/workload --url "redis://127.0.0.1:$catalog_port" --hit-ratio 0.99 \
  --rate 200 --keys-every 3s --report-every 0s >"$work/workload-catalog.log" 2>&1 &
pids+=($!)

sed -E -f alerts/fast.sed alerts/redis-cache-health.rules.yml >"$work/rules.yml"
sed -E -f alerts/fast.sed alerts/alertmanager.yml >"$work/alertmanager.yml"
cat >"$work/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: ["$work/rules.yml"]
alerting:
  alertmanagers:
    - static_configs:
        - targets: ["127.0.0.1:$alertmanager_port"]
scrape_configs:
  - job_name: redis-cache-exporter
    static_configs:
      - targets: ["127.0.0.1:$exporter_port"]
EOF

# --cluster.listen-address= turns off Alertmanager's gossip port (it would bind every interface).
prometheus-alertmanager --config.file="$work/alertmanager.yml" --storage.path="$work/am" \
  --web.listen-address="127.0.0.1:$alertmanager_port" --cluster.listen-address= \
  >"$work/alertmanager.log" 2>&1 &
pids+=($!)
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/prom" \
  --web.listen-address="127.0.0.1:$prometheus_port" --rules.alert.resend-delay=1s \
  >"$work/prometheus.log" 2>&1 &
pids+=($!)

echo "demo: shop (70 % hits) and catalog (99 % hits, KEYS every 3 s) are running"
echo "demo: Prometheus    http://127.0.0.1:$prometheus_port/alerts"
echo "demo: Alertmanager  http://127.0.0.1:$alertmanager_port/#/alerts"
echo "demo: exporter      http://127.0.0.1:$exporter_port/"
echo "demo: waiting for RedisCacheHitRateLow on shop (10 s warm-up + 15 s pending, fast rules)"

am=(amtool --alertmanager.url="http://127.0.0.1:$alertmanager_port")
fired=false
for _ in $(seq 1 60); do
  sleep 2
  if "${am[@]}" alert query alertname=RedisCacheHitRateLow target=shop 2>/dev/null |
    grep -q RedisCacheHitRateLow; then
    fired=true
    break
  fi
done
if ! $fired; then
  echo "demo: RedisCacheHitRateLow did not fire within 2 minutes; logs in $work:" >&2
  tail -n 5 "$work"/*.log >&2
  exit 1
fi

echo
echo "demo: Alertmanager now holds:"
"${am[@]}" alert query
echo
echo "demo: routing (alerts/alertmanager.yml):"
for alert in "alertname=RedisCacheHitRateLow severity=critical" \
  "alertname=RedisKeysCommandUsed severity=warning"; do
  # shellcheck disable=SC2086 # one word per label
  printf '  %-55s -> %s\n' "$alert" \
    "$(amtool config routes test --config.file=alerts/alertmanager.yml $alert target=shop 2>/dev/null)"
done
echo
echo "demo: the description of the page:"
"${am[@]}" alert query -o extended alertname=RedisCacheHitRateLow |
  grep -o 'description="[^"]*"' || true

$once && exit 0
echo
echo "demo: press Enter (or Ctrl-C) to stop everything"
read -r _ || true
