#!/bin/sh
# Runs the whole test suite (unit tests and the scripted CLI tests), then the
# unit tests again built with AddressSanitizer and UBSan (build-asan/).
#
#   scripts/test.sh              both stages
#   LMZIP_ASAN=0 scripts/test.sh the normal build only
#   LMZIP_ASAN=only scripts/test.sh  the sanitizer stage only
#
# The sanitizer stage builds only the unit-test programs and runs them with
# ctest, leaving out the CLI scripts (cli_*), which would mostly measure
# libtorch's start-up under ASan. libtorch is not instrumented and keeps
# process-lifetime allocations that LeakSanitizer reports as leaks, so leak
# checking is off there (docs/reliability.md); every other ASan and UBSan
# report fails the test that triggered it.
set -eu
cd "$(dirname "$0")/.."
jobs=${JOBS:-$(nproc)}

if [ "${LMZIP_ASAN:-1}" != only ]; then
  [ -f build/CMakeCache.txt ] || cmake -S . -B build -DCMAKE_BUILD_TYPE=Release > /dev/null
  cmake --build build -j"$jobs"
  ctest --test-dir build --output-on-failure -j"$jobs"
fi

if [ "${LMZIP_ASAN:-1}" != 0 ]; then
  start=$(date +%s)
  [ -f build-asan/CMakeCache.txt ] ||
    cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLMZIP_SANITIZE=ON > /dev/null
  # The unit-test programs only (one per module under tests/).
  targets=$(cmake --build build-asan --target help | sed -n 's/^\.\.\. \(test_[a-z_]*\).*/\1/p')
  for target in $targets; do
    cmake --build build-asan -j"$jobs" --target "$target"
  done
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1:strict_string_checks=1} \
  UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
    ctest --test-dir build-asan --output-on-failure -j"$jobs" -E '^cli_'
  echo "sanitizer stage: $(($(date +%s) - start)) s"
fi
