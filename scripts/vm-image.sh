#!/usr/bin/env bash
# A throwaway "VM" for the Debian package's tests (tests/e2e/test_package.py): debian:12
# (scripts/image.sh makes or pulls it) with the package installed by apt, its dependencies
# from Debian's archive, and systemd (for systemd-analyze). Made here, before the tests,
# so that they need no network: they read it through buildah, never install onto this host.
#   scripts/vm-image.sh DEB [TAG]      (default localhost/hbone-vm:test)
set -euo pipefail
cd "$(dirname "$0")/.."
deb=$(realpath "${1:?usage: $0 DEB [TAG]}")
tag=${2:-localhost/hbone-vm:test}
container=$(buildah from --pull-never docker.io/library/debian:12)
trap 'buildah rm "$container" > /dev/null' EXIT
buildah copy -q "$container" "$deb" /tmp/hbone.deb > /dev/null
buildah run --isolation chroot "$container" -- sh -c \
  "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
     /tmp/hbone.deb systemd > /dev/null && rm -rf /tmp/hbone.deb /var/lib/apt/lists/*"
buildah commit -q --rm "$container" "$tag" > /dev/null
trap - EXIT
echo "$tag"
