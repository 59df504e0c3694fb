#!/usr/bin/env bash
# Checks the Debian package end to end on this machine: builds it (scripts/build-deb.sh),
# installs it with dpkg -i, runs the installed binary as the service user on the packaged
# configuration (--check-config), verifies the unit (systemd-analyze verify, and its offline
# security score), runs the installed exporter as the service user under strace against a real
# redis-server and checks that every system call and socket family it used passes the unit's
# SystemCallFilter= and RestrictAddressFamilies= (systemd cannot start the unit where CI runs),
# then purges the package and checks that nothing it made is left: files, unit symlinks, the
# user and group, the stat override. The machine is left as found.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/deps.sh
. scripts/deps.sh

name=redis-cache-exporter
unit=/usr/lib/systemd/system/$name.service
conffile=/etc/$name/config.toml
# systemd-analyze's overall exposure, 0-100 (it prints a tenth of it): the unit scores 12
# ("OK"); 20 leaves room for a newer systemd weighing a setting differently.
exposure_limit=20

fail() {
  echo "check-package: FAILED: $*" >&2
  exit 1
}

status=$(dpkg-query -W -f '${db:Status-Status}' "$name" 2>/dev/null || true)
case $status in
  "" | not-installed) ;;
  *) fail "$name is already on this machine (dpkg status: $status); this check installs and purges it, so remove it first: dpkg --purge $name" ;;
esac

need=()
command -v systemd-analyze >/dev/null || need+=(systemd)
command -v adduser >/dev/null || need+=(adduser)
[ -x /bin/kill ] || need+=(procps)
command -v strace >/dev/null || need+=(strace)
command -v curl >/dev/null || need+=(curl)
command -v redis-server >/dev/null || need+=(redis-server)
command -v redis-cli >/dev/null || need+=(redis-tools)
if [ ${#need[@]} -gt 0 ]; then apt_install "${need[@]}"; fi

# Everything on the machine that bears the package's name: what the package and its
# maintainer scripts may create, compared before the install and after the purge.
traces() {
  find /etc /usr /var/lib/systemd /var/lib/dpkg/info -xdev -name "*$name*" 2>/dev/null | sort
  getent passwd "$name" || true
  getent group "$name" || true
  dpkg-statoverride --list | grep -F "$name" || true
}
before=$(traces)

deb=$(bash scripts/build-deb.sh | tee /dev/stderr | tail -n 1)
[ -f "$deb" ] || fail "scripts/build-deb.sh did not print the path of a package (got: $deb)"
echo "check-package: $deb"
dpkg-deb --info "$deb"

work=$(mktemp -d)
pids=()
installed=false
purge() { dpkg --purge "$name" >/dev/null; }
# On any exit: stop what this script started, and purge the package if a failure left it.
cleanup() {
  local rc=$?
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
  if $installed && [ $rc -ne 0 ]; then purge || true; fi
}
trap cleanup EXIT

installed=true
dpkg -i "$deb" >/dev/null || fail "dpkg -i $deb failed"
echo "check-package: dpkg -L $name"
dpkg -L "$name"

[ "$(stat -c '%U:%G %a' "$conffile")" = "root:$name 640" ] ||
  fail "$conffile is $(stat -c '%U:%G %a' "$conffile"), not root:$name 640"
[ "$(dpkg-query -W -f '${Conffiles}' "$name" | awk '{ print $1 }')" = "$conffile" ] ||
  fail "dpkg does not list $conffile as the package's conffile"

echo "check-package: $name --config $conffile --check-config (as user $name)"
runuser -u "$name" -- "/usr/bin/$name" --config "$conffile" --check-config ||
  fail "the installed binary refused the packaged configuration"
# The unit names the file in REDIS_CACHE_EXPORTER_CONFIG: the same check that way, and a missing
# file refused, so the pass above is the file's and not the built-in defaults'.
unit_config=$(sed -n 's/^Environment=REDIS_CACHE_EXPORTER_CONFIG=//p' "$unit")
[ "$unit_config" = "$conffile" ] || fail "$unit sets REDIS_CACHE_EXPORTER_CONFIG=$unit_config, not $conffile"
echo "check-package: REDIS_CACHE_EXPORTER_CONFIG=$unit_config $name --check-config, as the unit runs it"
runuser -u "$name" -- env REDIS_CACHE_EXPORTER_CONFIG="$unit_config" "/usr/bin/$name" --check-config ||
  fail "the installed binary refused the configuration the unit names"
if runuser -u "$name" -- env REDIS_CACHE_EXPORTER_CONFIG="$work/missing.toml" "/usr/bin/$name" --check-config 2>/dev/null; then
  fail "--check-config passed with REDIS_CACHE_EXPORTER_CONFIG naming a missing file: the variable is not read"
fi

echo "check-package: systemd-analyze verify $unit"
verify=$(systemd-analyze verify "$unit" 2>&1) || fail "systemd-analyze verify $unit: $verify"
[ -z "$verify" ] || fail "systemd-analyze verify $unit printed warnings: $verify"

echo "check-package: systemd-analyze security --offline=yes $unit"
security=$(systemd-analyze security --no-pager --offline=yes --threshold="$exposure_limit" "$unit" 2>&1) ||
  fail "the unit's exposure is above $exposure_limit/100 or could not be assessed:
$security"
echo "${security##*$'\n'}"

echo "check-package: the installed exporter under strace, as user $name, against redis-server"
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
redis_port=$(free_port)
http=127.0.0.1:$(free_port)
chmod 755 "$work"
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
  --unixsocket "$work/redis.sock" --unixsocketperm 777 >"$work/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
redis-cli -p "$redis_port" ping >/dev/null || fail "redis-server did not start: $(cat "$work/redis.log")"
for i in $(seq 20); do redis-cli -p "$redis_port" set "user:$i" x ex 3600 >/dev/null; done
redis-cli -p "$redis_port" get user:1 >/dev/null
# Both kinds of connection (TCP, unix socket), the key-prefix sampler, a short poll interval.
cat >"$work/config.toml" <<EOF
listen = "$http"
poll_interval = "1s"
[[targets]]
name = "tcp"
url = "redis://127.0.0.1:$redis_port"
[targets.sampler]
enabled = true
interval = "2s"
[[targets]]
name = "socket"
url = "unix://$work/redis.sock"
EOF
strace -f -qq -o "$work/trace" -u "$name" "/usr/bin/$name" --config "$work/config.toml" \
  2>"$work/exporter.log" &
strace_pid=$!
pids+=("$strace_pid")
up=0
for _ in $(seq 100); do
  up=$(curl -sf "http://$http/metrics" | grep -c '^redis_up{.*} 1$' || true)
  [ "$up" = 2 ] && break
  sleep 0.2
done
[ "$up" = 2 ] || fail "the exporter did not report both targets up within 20 s; its log: $(cat "$work/exporter.log")"
sleep 3 # a sampler cycle and a few more polls
curl -sf -H 'Accept-Encoding: gzip' "http://$http/metrics" >/dev/null || fail "GET /metrics with gzip failed"
curl -sf "http://$http/scrape?target=redis://127.0.0.1:$redis_port" >/dev/null || fail "GET /scrape failed"
curl -sf "http://$http/" >/dev/null || fail "GET / (the status page) failed"
exporter_pid=$(pgrep -P "$strace_pid") || fail "no exporter process under strace (pid $strace_pid)"
kill -HUP "$exporter_pid"
for _ in $(seq 50); do grep -q "configuration reloaded" "$work/exporter.log" && break; sleep 0.1; done
grep -q "configuration reloaded" "$work/exporter.log" ||
  fail "no reload after SIGHUP; the exporter's log: $(cat "$work/exporter.log")"
kill -TERM "$exporter_pid"
wait "$strace_pid" || fail "the exporter exited with status $? on SIGTERM; its log: $(cat "$work/exporter.log")"
python3 scripts/syscall-audit.py "$unit" "$work/trace" ||
  fail "under the unit's sandbox the exporter would be refused what is listed above"

purge || fail "dpkg --purge $name failed"
installed=false
after=$(traces)
[ "$before" = "$after" ] ||
  fail "the purge left these behind (before install vs after purge):
$(diff <(echo "$before") <(echo "$after") || true)"
echo "check-package: ok (built, installed, --check-config, unit verified, system calls within its filter, purged without traces)"
