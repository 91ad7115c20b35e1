#!/usr/bin/env bash
# Installs hbone's build, test and benchmark dependencies from Debian 12 packages.
# Idempotent: installs only what is missing.
set -euo pipefail
packages=(
  build-essential cmake pkg-config git clang libclang-rt-14-dev
  libnghttp2-dev libuv1-dev libyaml-cpp-dev prometheus-cpp-dev libcivetweb-dev
  android-libboringssl-dev libssl-dev openssl
  libgtest-dev libspdlog-dev libfmt-dev libcli11-dev nlohmann-json3-dev
  libgoogle-perftools-dev google-perftools
  iperf3 socat procps iproute2 iptables curl prometheus gnuplot-nox sockperf
  python3 python3-h2 python3-pytest python3-yaml python3-cryptography
)
missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}"
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
