#!/bin/bash
# Builds (if needed) and runs one libFuzzer target with its seed corpus.
#
#   tests/fuzz/run.sh TARGET SECONDS [extra libFuzzer flags...]
#   TARGET: container | model_file | decompress | roundtrip | inflated
#
# Builds into build-fuzz/ with clang-14 (cmake/fuzz.cmake), niced, one job.
# New inputs the fuzzer finds go to build-fuzz/corpus/TARGET (the seeds in
# tests/fuzz/corpus/TARGET are read, never written); crashes, timeouts and
# leaks go to tests/fuzz/findings/TARGET/ (ignored by git: a finding that is
# fixed moves to tests/fuzz/regressions/TARGET/, replayed by the unit tests). Replay one finding:
#   build-fuzz/fuzz_TARGET tests/fuzz/findings/TARGET/crash-...
# Environment: BUILD (default build-fuzz), JOBS (default 1), NICE (default 19).
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ $# -lt 2 ]; then
  echo "usage: $0 TARGET SECONDS [libFuzzer flags...]" >&2
  exit 2
fi
target=$1 seconds=$2
shift 2
build=${BUILD:-build-fuzz}
jobs=${JOBS:-1}
nice_level=${NICE:-19}

case $target in
  container | model_file | decompress | roundtrip | inflated) ;;
  *) echo "unknown target $target (container, model_file, decompress, roundtrip, inflated)" >&2; exit 2 ;;
esac

if [ ! -f "$build/CMakeCache.txt" ]; then
  CC=${CC:-clang-14} CXX=${CXX:-clang++-14} nice -n "$nice_level" cmake -S . -B "$build" \
    -DLMZIP_FUZZ=ON -DLMZIP_BUILD_TESTS=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo > /dev/null
fi
nice -n "$nice_level" cmake --build "$build" -j"$jobs" --target "fuzz_$target" make_corpus

# The container reader starts from the decompressor's seeds (.lmz streams).
seeds=tests/fuzz/corpus/$target
[ "$target" = container ] && seeds=tests/fuzz/corpus/decompress
if [ ! -d "$seeds" ] || [ -z "$(ls -A "$seeds" 2>/dev/null)" ]; then
  "$build/make_corpus" tests/fuzz/corpus
fi
work=$build/corpus/$target
findings=tests/fuzz/findings/$target
mkdir -p "$work" "$findings"

# Limits: the decoder must never allocate without bound (one allocation over
# 64 MiB, the decompressor's memory limit under fuzzing, or 1 GiB resident
# with the sanitizers' own, is a finding), nor take more than 10 s on one
# input (fuzz_decompress.cpp skips inputs that declare long valid decodes).
# Leaks are findings too: the targets do not load libtorch, whose
# process-lifetime allocations would make leak checking useless.
flags=(-max_total_time="$seconds" -rss_limit_mb=1024 -malloc_limit_mb=64 -timeout=10
       -artifact_prefix="$findings/" -print_final_stats=1)
case $target in
  container) ;;
  model_file) flags+=(-max_len=16384) ;;
  *) flags+=(-max_len=8192) ;;
esac
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

exec nice -n "$nice_level" "$build/fuzz_$target" "${flags[@]}" "$@" "$work" "$seeds"
