#!/bin/sh
# Runs the whole test suite in three stages:
#   normal  the unit tests and the scripted CLI tests (build/);
#   cuda    the CUDA variant (build-cuda/, scripts/build-cuda.sh), only what
#           the CUDA predictor changes: lmzip (and the trainer module it
#           loads, against the CUDA libtorch) and test_model are compiled and
#           linked, then the CudaPredictor and PredictorFactory tests run (the
#           GPU ones skip where no GPU is present) and cli_basic, a round trip
#           through this lmzip.
#           The other tests would run the normal stage's code again. Skipped,
#           with a message, without nvcc;
#   asan    the unit tests built with AddressSanitizer and UBSan (build-asan/).
#
#   scripts/test.sh                       every stage
#   LMZIP_STAGES="normal asan" scripts/test.sh   the stages named
#
# The sanitizer stage builds only the unit-test programs and runs them with
# ctest, leaving out the CLI scripts (cli_*), which run the lmzip program
# that this stage does not build. libtorch (the trainer's tests) is not
# instrumented and keeps process-lifetime allocations that LeakSanitizer
# reports as leaks, so leak checking is off there (docs/reliability.md);
# every other ASan and UBSan report fails the test that triggered it.
set -eu
cd "$(dirname "$0")/.."
jobs=${JOBS:-$(nproc)}
stages=${LMZIP_STAGES:-normal cuda asan}
for stage in $stages; do
  case $stage in
    normal | cuda | asan) ;;
    *) echo "test.sh: unknown stage '$stage' (normal, cuda, asan)" >&2; exit 2 ;;
  esac
done
wants() { case " $stages " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

if wants normal; then
  [ -f build/CMakeCache.txt ] || cmake -S . -B build -DCMAKE_BUILD_TYPE=Release > /dev/null
  cmake --build build -j"$jobs"
  ctest --test-dir build --output-on-failure -j"$jobs"
fi

if wants cuda; then
  if [ -n "${CUDACXX:-}" ] || command -v nvcc > /dev/null || [ -x /usr/local/cuda/bin/nvcc ]; then
    start=$(date +%s)
    # The first run downloads PyPI's torch into ~/.cache/lmzip (kept for the next).
    BUILD_DIR=build-cuda JOBS=$jobs TARGETS="lmzip test_model" ./scripts/build-cuda.sh
    ctest --test-dir build-cuda --output-on-failure -j"$jobs" --no-tests=error -R '^(CudaPredictor\.|PredictorFactory\.|cli_basic$)'
    echo "cuda stage: $(($(date +%s) - start)) s"
  else
    echo "cuda stage skipped: no nvcc (install the CUDA toolkit to build the GPU path)"
  fi
fi

if wants asan; then
  start=$(date +%s)
  # -g1: line tables are all a sanitizer report needs, and the full debug
  # information of libtorch's headers made the trainer's files compile 30%
  # slower.
  # Ninja where installed: it builds the test programs side by side, where
  # make builds its goals one after another.
  generator=""
  command -v ninja > /dev/null && generator="-G Ninja"
  # shellcheck disable=SC2086
  [ -f build-asan/CMakeCache.txt ] ||
    cmake -S . -B build-asan $generator -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLMZIP_SANITIZE=ON \
      -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" > /dev/null
  # The unit-test programs only (one per module under tests/), in one build.
  targets=$(cmake --build build-asan --target help |
    sed -n 's/^\(\.\.\. \)\{0,1\}\(test_[a-z_]*\)\(: phony\)\{0,1\}$/\2/p')
  # shellcheck disable=SC2086
  cmake --build build-asan -j"$jobs" --target $targets
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1:strict_string_checks=1} \
  UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
    ctest --test-dir build-asan --output-on-failure -j"$jobs" -E '^cli_'
  echo "sanitizer stage: $(($(date +%s) - start)) s"
fi
