#!/usr/bin/env bash
# Builds the Debian package target/debian/redis-cache-exporter_<version>_<arch>.deb from the
# release binary and packaging/debian/ (unit, configuration, maintainer scripts, changelog,
# copyright), and prints its path on the last line.
#
# A staged tree and `dpkg-deb --build` rather than cargo-deb: nothing to compile or download
# first (cargo-deb is a crate to build on every fresh CI machine), and every file that goes
# into the package is one of ours to read. Needs dpkg-dev, binutils and help2man (installed
# with apt-get when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/deps.sh
. scripts/deps.sh

name=redis-cache-exporter
src=packaging/debian
out=target/debian
root=$out/root

fail() {
  echo "build-deb: $*" >&2
  exit 1
}

need=()
command -v dpkg-shlibdeps >/dev/null || need+=(dpkg-dev)
command -v strip >/dev/null || need+=(binutils)
command -v help2man >/dev/null || need+=(help2man)
if [ ${#need[@]} -gt 0 ]; then apt_install "${need[@]}"; fi

# Cargo's "0.2.0-rc.1" becomes "0.2.0~rc.1", which Debian orders before 0.2.0 as semver does.
cargo_version=$(cargo pkgid --locked | sed 's/.*[#@]//')
version=${cargo_version/-/\~}
changelog_version=$(dpkg-parsechangelog -l "$src/changelog" -S Version)
[ "$changelog_version" = "$version" ] ||
  fail "the latest entry of $src/changelog is $changelog_version but Cargo.toml's version is $cargo_version: add an entry for $version (dch -c $src/changelog -v $version)"
maintainer=$(dpkg-parsechangelog -l "$src/changelog" -S Maintainer)
arch=$(dpkg --print-architecture)

# PACKAGE_PROFILE=dev packages the unoptimised build instead (CI's package check: the test suite
# has just built it, and the release build would add minutes while the packaging it checks —
# files, unit, maintainer scripts, system calls — is the same for both).
case ${PACKAGE_PROFILE:-release} in
  release) cargo build --release --locked --bin "$name"; bin=target/release/$name ;;
  # Built as the test suite builds it (the same features), so nothing is compiled again.
  dev) cargo test --locked --no-run >/dev/null 2>&1 || cargo test --locked --no-run; bin=target/debug/$name ;;
  *) fail "PACKAGE_PROFILE is ${PACKAGE_PROFILE}: use release (the default) or dev" ;;
esac

rm -rf "$root"
mkdir -p "$root/DEBIAN"
doc=$root/usr/share/doc/$name

install -D -m 0755 "$bin" "$root/usr/bin/$name"
# As dh_strip does: the symbols are for a debug package, not for every machine running it.
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$root/usr/bin/$name"
install -D -m 0644 "$src/$name.service" "$root/usr/lib/systemd/system/$name.service"
install -D -m 0644 "$src/config.toml" "$root/etc/$name/config.toml"
install -D -m 0644 examples/config.toml "$doc/examples/config.toml"
install -D -m 0644 "$src/lintian-overrides" "$root/usr/share/lintian/overrides/$name"
install -m 0644 README.md "$doc/README.md"
gzip -9n "$doc/README.md"
install -m 0644 "$src/changelog" "$doc/changelog"
gzip -9n "$doc/changelog"

# The crates linked into the binary (build scripts and proc macros are not), with their licenses.
crates=$(cargo tree --locked -e normal,no-proc-macro --prefix none --format '{p}: {l}' \
  --target "$(rustc -vV | sed -n 's/^host: //p')" -p "$name" |
  sed 's/ (\*)$//' | grep -v "^$name " | sort -u | sed 's/^/  /')
[ -n "$crates" ] || fail "cargo tree listed no crates"
awk -v crates="$crates" '$0 == "@CRATES@" { print crates; next } { print }' \
  "$src/copyright.in" >"$doc/copyright"
chmod 0644 "$doc/copyright"

mkdir -p "$root/usr/share/man/man1"
help2man --no-info --include "$src/man-include.h2m" --output "$root/usr/share/man/man1/$name.1" \
  "$root/usr/bin/$name"
gzip -9n "$root/usr/share/man/man1/$name.1"

# Library dependencies of the binary, as dpkg-shlibdeps reads them from the system's shlibs
# and symbols files; it wants a debian/control, so it runs in a scratch directory.
scratch=$out/shlibdeps
rm -rf "$scratch"
mkdir -p "$scratch/debian"
printf 'Source: %s\n\nPackage: %s\nArchitecture: any\n' "$name" "$name" >"$scratch/debian/control"
shlibs=$(cd "$scratch" && dpkg-shlibdeps -O "$OLDPWD/$root/usr/bin/$name" | sed -n 's/^shlibs:Depends=//p')
[ -n "$shlibs" ] || fail "dpkg-shlibdeps found no library dependencies of $root/usr/bin/$name"

install -m 0755 "$src/postinst" "$src/prerm" "$src/postrm" "$root/DEBIAN/"
echo "/etc/$name/config.toml" >"$root/DEBIAN/conffiles"
(cd "$root" && find . -path ./DEBIAN -prune -o -path ./etc -prune -o -type f -printf '%P\0' |
  sort -z | xargs -0 md5sum) >"$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/conffiles" "$root/DEBIAN/md5sums"
installed_size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)

cat >"$root/DEBIAN/control" <<EOF
Package: $name
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $installed_size
Depends: adduser, procps, $shlibs
Section: net
Priority: optional
Description: Prometheus exporter for Redis used as a cache
 Polls Redis, Valkey and other Redis-compatible servers in the background
 over one persistent connection per target and serves Prometheus metrics:
 the raw INFO counters under redis_exporter's names, and the hit ratio,
 evictions, expirations and memory pressure per 1, 5 and 15 minutes.
 .
 The package runs it as a hardened systemd service under its own system
 user, configured in /etc/redis-cache-exporter/config.toml.
EOF

deb=$out/${name}_${version}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"
