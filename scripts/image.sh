#!/usr/bin/env bash
# Builds hbone's container image from the Dockerfile with buildah (an OCI builder from
# Debian, no daemon), in the local image store that podman shares.
#   scripts/image.sh [TAG]      (default localhost/hbone:dev)
# Without a reachable registry, the base images (debian:12, debian:12-slim) are first made
# from Debian packages: debootstrap --variant=minbase bookworm, imported with podman.
# Where a registry is reachable and has them, the real ones are pulled instead.
set -euo pipefail
cd "$(dirname "$0")/.."
tag=${1:-localhost/hbone:dev}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
scripts/apt-install.sh buildah podman debootstrap

base_image() {  # name: present, pulled, or made from Debian packages
  local name=docker.io/library/$1
  buildah inspect --type image "$name" >/dev/null 2>&1 && return 0
  if timeout 60 buildah pull -q "$name" >/dev/null 2>&1; then
    echo "$1: pulled"
    return 0
  fi
  if [ -z "${rootfs_tar:-}" ]; then
    echo "$1: no registry reachable; making it with debootstrap --variant=minbase bookworm ($mirror)"
    root=$(mktemp -d)
    $sudo debootstrap --variant=minbase bookworm "$root" "$mirror" > "$root.log" 2>&1 \
      || { tail -n 20 "$root.log" >&2; exit 1; }
    # Slim like debian:12-slim: no package cache, lists, manuals or translations.
    $sudo rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
      "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/locale/*
    rootfs_tar=$(mktemp --suffix=.tar)
    $sudo tar -C "$root" -cf "$rootfs_tar" .
    $sudo rm -rf "$root" "$root.log"
    root=""
  fi
  podman import -q "$rootfs_tar" "$name" >/dev/null
  echo "$1: imported from debootstrap"
}
root="" rootfs_tar=""
cleanup() {  # what debootstrap left if it was interrupted
  [ -z "$root" ] || { $sudo umount -lR "$root/proc" "$root/sys" 2>/dev/null || true; $sudo rm -rf "$root" "$root.log"; }
  [ -z "$rootfs_tar" ] || rm -f "$rootfs_tar"
}
trap cleanup EXIT
base_image debian:12
base_image debian:12-slim

buildah bud --isolation chroot --layers=false -q -t "$tag" -f Dockerfile . >/dev/null
echo "built $tag: $(buildah images --format '{{.Size}}' "$tag" | head -n 1)"
