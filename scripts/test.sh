#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what is missing, builds twice (warnings as errors;
# then ASan+UBSan) and runs every test in both builds.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/install-deps.sh

echo "== build (warnings as errors)"
bash scripts/build.sh build/ci -DSEEDHOP_WERROR=ON
echo "== tests"
ctest --test-dir build/ci --output-on-failure -j 2 --timeout 600

echo "== build (AddressSanitizer + UndefinedBehaviorSanitizer)"
bash scripts/build.sh build/asan -DSEEDHOP_WERROR=ON -DSEEDHOP_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
echo "== tests under sanitizers (the lab's whole migrations run in the optimised build only)"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build/asan --output-on-failure -j 2 --timeout 900 --label-exclude lab
