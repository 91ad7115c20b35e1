#!/usr/bin/env bash
# Runs every hbone test on a fresh Debian 12 machine: installs what is missing, generates
# the dev certificates, then builds and runs unit + end-to-end tests (ctest) for BoringSSL,
# OpenSSL 3, and BoringSSL under ASan+UBSan, and the libFuzzer targets for a bounded time
# (FUZZ_SECONDS per target, default 30).
#   tests/run.sh            all four variants
#   tests/run.sh boringssl  one variant (boringssl, openssl, asan, fuzz or image)
# `image` (not in the default set: ~15 min on this machine kind) builds the container image
# with scripts/image.sh and tests it (tests/e2e/test_image.py) with the host's BoringSSL
# build, then the Debian package with scripts/package.sh, installed with apt into an image
# of the image's debian:12 base by scripts/vm-image.sh (tests/e2e/test_package.py).
set -euo pipefail
cd "$(dirname "$0")/.."
variants=("${@:-boringssl openssl asan fuzz}")
read -r -a variants <<<"${variants[*]}"
scripts/deps.sh
certs/gen.sh
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=()
failures=() # "variant: test name" for the summary at the end (CI shows a log's tail)
took() { echo "=== $1 took $((SECONDS - $2)) s"; }
# The first lines of test $1's output in ctest log $2 that say why it failed: pytest's
# assertion (E) and summary (FAILED) lines, GoogleTest's failures, a sanitizer's report.
why_failed() {
  awk -v name="$1" '$0 ~ "^[0-9]+/[0-9]+ Test: " && $NF == name { inside = 1; next }
                    inside && /^<end of output>/ { inside = 0 }
                    inside && /^(E   |FAILED |.*: Failure$|==[0-9]+==ERROR|.*runtime error:|Timeout)/' "$2" |
    head -n 12
}
for variant in "${variants[@]}"; do
  echo "=== $variant: build"
  start=$SECONDS
  dir=$(scripts/build.sh "${variant/image/boringssl}" | tail -n 1)
  took "$variant: build" "$start"
  echo "=== $variant: test"
  start=$SECONDS
  if [ "$variant" = image ]; then
    tag=localhost/hbone:test
    bin="$(cd "$dir" && pwd)/hbone"
    # The image, then the Debian package installed into an image of the first's base.
    if ! (scripts/image.sh "$tag" && deb=$(scripts/package.sh | tail -n 1) &&
          vm=$(scripts/vm-image.sh "$deb" localhost/hbone-vm:test) && cd tests/e2e &&
          HBONE_IMAGE=$tag HBONE_VM_IMAGE=$vm HBONE_BIN=$bin /usr/bin/python3 -m pytest -q -s -p no:cacheprovider \
            test_image.py test_package.py); then
      failed+=("$variant")
    fi
  elif [ "$variant" = fuzz ]; then
    tests/fuzz/run.sh "$dir" || failed+=("$variant")
  # Two at a time on this machine's two cores: the tests that load the kernel's TCP memory or
  # time a budget run alone (RUN_SERIAL in tests/CMakeLists.txt).
  elif ! (cd "$dir" && ctest --output-on-failure --timeout 300 -j "$(nproc)"); then
    failed+=("$variant")
    # Each failed test once more, alone, to tell a flaky test from a broken one (the verdict
    # stays failed); named again at the very end, where a CI summary's tail shows them, with
    # the lines of the first run that say why (the rerun overwrites ctest's log).
    cp "$dir/Testing/Temporary/LastTest.log" "$dir/Testing/Temporary/FirstRun.log"
    while IFS=: read -r number name; do
      again=failed
      (cd "$dir" && ctest --output-on-failure --timeout 300 -I "$number,$number") && again=passed
      failures+=("FAILED test: $variant: $name (alone again: $again)")
      while IFS= read -r line; do failures+=("  $line"); done < <(why_failed "$name" "$dir/Testing/Temporary/FirstRun.log")
    done <"$dir/Testing/Temporary/LastTestsFailed.log"
  fi
  took "$variant: test" "$start"
done
if [ ${#failed[@]} -gt 0 ]; then
  [ ${#failures[@]} -eq 0 ] || printf "%s\n" "${failures[@]}"
  echo "FAILED variants: ${failed[*]}"
  exit 1
fi
echo "all variants passed: ${variants[*]}"
