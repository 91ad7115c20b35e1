#!/usr/bin/env bash
# Builds hbone's Debian package from this checkout with Debian's own tools (debhelper 13,
# dpkg-buildpackage -b), installing what it needs first.
#   scripts/package.sh [OUT_DIR]     (default build-deb/; prints the .deb's path)
# The source tree handed to dpkg-buildpackage is a copy of what the package is built from
# (CMakeLists.txt, cmd/, lib/, proto/, config/vm.yaml, scripts/capture.sh, README.md) with
# deploy/debian/ as its debian/: the checkout itself is left as it is.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(realpath -m "${1:-build-deb}")

build_depends=$(sed -n '/^Build-Depends:/,/^[A-Z][A-Za-z-]*:/p' deploy/debian/control | sed '$d' \
  | sed 's/^Build-Depends://; s/([^)]*)//g' | tr ',' '\n' | sed 's/[[:space:]]//g' | grep -v -e '^$' -e '^debhelper-compat$')
# shellcheck disable=SC2086 # one word per package
scripts/apt-install.sh dpkg-dev debhelper lintian $build_depends

version=$(sed -n 's/^project(hbone VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
work="$out/src"
rm -rf "$work"
mkdir -p "$work/hbone-$version/scripts" "$work/hbone-$version/config"
src="$work/hbone-$version"
cp -r CMakeLists.txt cmd lib proto README.md "$src/"
cp config/vm.yaml "$src/config/"
cp scripts/capture.sh "$src/scripts/"
cp -r deploy/debian "$src/debian"
# The changelog carries the version (CMakeLists.txt's) and the build's date.
cat > "$src/debian/changelog" <<CHANGELOG
hbone ($version) unstable; urgency=medium

  * Built from this checkout by scripts/package.sh.

 -- hbone developers <hbone@localhost.localdomain>  $(date -R)
CHANGELOG
echo "building hbone $version (dpkg-buildpackage -b; log: $work/build.log)"
(cd "$src" && dpkg-buildpackage -b -us -uc -j"$(nproc)") > "$work/build.log" 2>&1 \
  || { tail -n 40 "$work/build.log" >&2; exit 1; }
arch=$(dpkg --print-architecture)
deb="$work/hbone_${version}_${arch}.deb"
# lintian: clean, or each remaining tag explained in deploy/debian/hbone.lintian-overrides
# (the -dbgsym package, debug symbols for profiles and cores, is not checked).
if ! lintian --fail-on error,warning "$deb" > "$work/lintian.log" 2>&1; then
  grep -v "running with root privileges" "$work/lintian.log" >&2
  exit 1
fi
mkdir -p "$out"
mv "$deb" "$out/"
echo "$out/hbone_${version}_${arch}.deb"
