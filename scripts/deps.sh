# shellcheck shell=bash
# Sourced by the scripts that install what they need when it is missing (callers decide what
# is): `apt_install PKG...` installs Debian packages (as root, or through sudo);
# `venv_install DIR PKG...` makes a Python venv at DIR and pip-installs PyPI packages into it.

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "$(basename "$0" .sh): need root (or sudo) to run: $*" >&2; exit 1; fi
}

apt_install() {
  echo "$(basename "$0" .sh): apt-get install $*"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

venv_install() {
  local dir=$1
  shift
  rm -rf "$dir"
  python3 -m venv "$dir"
  "$dir/bin/pip" install -q --disable-pip-version-check "$@"
}
