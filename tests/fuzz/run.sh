#!/usr/bin/env bash
# Runs each libFuzzer target for a bounded time on its seed corpus (tests/fuzz/corpus/<target>)
# and fails on the first crash, leak, sanitizer report or timeout. New inputs a run finds go
# to BUILD/fuzz-corpus/<target>, crash reproducers to BUILD/fuzz-artifacts/ (add a
# reproducer to the seed corpus once its bug is fixed).
#   tests/fuzz/run.sh [BUILD_DIR] [SECONDS_PER_TARGET]   (defaults: build-fuzz 30)
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build-fuzz}
seconds=${2:-${FUZZ_SECONDS:-30}}
mkdir -p "$build/fuzz-artifacts"
for target in config_fuzz authority_fuzz admin_request_fuzz gateway_h2_fuzz record_open_fuzz record_seal_fuzz xds_push_fuzz \
              zds_fuzz svid_fuzz; do
  mkdir -p "$build/fuzz-corpus/$target"
  echo "=== fuzz $target: ${seconds}s"
  "$build/tests/fuzz/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -max_len=65536 -print_final_stats=1 -artifact_prefix="$build/fuzz-artifacts/$target-" \
    "$build/fuzz-corpus/$target" "tests/fuzz/corpus/$target" 2>&1 |
    grep -vE '^#[0-9]+\s+(NEW|REDUCE|pulse)' || true
  # libFuzzer's exit status is lost in the pipe: a crash leaves an artifact behind.
  if compgen -G "$build/fuzz-artifacts/$target-*" > /dev/null; then
    echo "FAILED: $target; reproducers:"
    ls "$build/fuzz-artifacts/$target-"*
    exit 1
  fi
done
echo "fuzz: all targets clean"
