#!/usr/bin/env bash
# Configures and builds one variant of hbone.
#   scripts/build.sh [boringssl|openssl|asan|fuzz]   (default boringssl)
# Build trees: build/ (boringssl), build-openssl/ (and glibc malloc), build-asan/ (BoringSSL + ASan/UBSan),
# build-fuzz/ (clang, libFuzzer targets with ASan/UBSan). Warnings are errors here; the
# configure log is kept in the build tree (configure.log).
set -euo pipefail
cd "$(dirname "$0")/.."
variant=${1:-boringssl}
case "$variant" in
  boringssl) dir=build; flags=(-DHBONE_TLS=boringssl -DCMAKE_BUILD_TYPE=RelWithDebInfo) ;;
  # Release, as packagers and the Dockerfile build it (-O3 finds other warnings), with
  # glibc's allocator (-DHBONE_TCMALLOC=OFF), so that the tests run that build too.
  openssl) dir=build-openssl; flags=(-DHBONE_TLS=openssl -DCMAKE_BUILD_TYPE=Release -DHBONE_TCMALLOC=OFF) ;;
  asan) dir=build-asan; flags=(-DHBONE_TLS=boringssl -DHBONE_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug) ;;
  fuzz) dir=build-fuzz; flags=(-DHBONE_TLS=boringssl -DHBONE_FUZZ=ON -DHBONE_TESTS=OFF
                               -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang
                               -DCMAKE_CXX_COMPILER=clang++) ;;
  *) echo "usage: $0 [boringssl|openssl|asan|fuzz]" >&2; exit 2 ;;
esac
mkdir -p "$dir"
cmake -S . -B "$dir" -DHBONE_WERROR=ON "${flags[@]}" > "$dir/configure.log" 2>&1 ||
  { cat "$dir/configure.log"; exit 1; }
cmake --build "$dir" -j "$(nproc)"
echo "$dir"
