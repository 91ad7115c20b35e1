#!/usr/bin/env bash
# Installs those of the named Debian packages that are missing (apt-get, no recommends);
# does nothing when all are installed. Used by the scripts that need tools of their own.
#   scripts/apt-install.sh PACKAGE...
set -euo pipefail
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
missing=()
for pkg in "$@"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
