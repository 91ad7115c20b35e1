#!/usr/bin/env bash
# Installs hbone's build, test and benchmark dependencies from Debian 12 packages.
# Idempotent: installs only what is missing.
set -euo pipefail
packages=(
  build-essential cmake pkg-config git clang libclang-rt-14-dev
  libnghttp2-dev libuv1-dev libyaml-cpp-dev prometheus-cpp-dev libhttp-parser-dev
  android-libboringssl-dev libssl-dev openssl
  libgtest-dev libspdlog-dev libfmt-dev libcli11-dev nlohmann-json3-dev
  libgoogle-perftools-dev google-perftools libprotobuf-dev protobuf-compiler
  iperf3 socat procps iproute2 iptables curl prometheus gnuplot-nox sockperf
  python3 python3-h2 python3-pytest python3-yaml python3-cryptography golang-go
  python3-grpcio python3-protobuf libsystemd-dev
  debhelper lintian
)
# For the deploy/ manifest checks (tests/e2e/test_deploy.py, skipped without them):
# installed where apt has them (kubectl comes from the Google Cloud SDK source, not Debian).
optional=(kubectl nodejs npm)
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
missing=() optional_missing=()
for pkg in "${packages[@]}"; do installed "$pkg" || missing+=("$pkg"); done
for pkg in "${optional[@]}"; do
  installed "$pkg" || command -v "$pkg" >/dev/null || optional_missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && [ ${#optional_missing[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
$sudo apt-get update -qq
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
for pkg in "${optional_missing[@]}"; do
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$pkg" >/dev/null 2>&1 \
    || echo "optional $pkg not available from apt here: the tests that need it are skipped"
done
