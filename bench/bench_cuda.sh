#!/bin/bash
# The CUDA path against the CPU path: the same .lmz bytes, and how fast each
# compresses and decompresses (docs/gpu.md). Run on a machine with a GPU,
# after scripts/build-cuda.sh:
#
#   bench/bench_cuda.sh [INPUT] [MODEL]
#
# INPUT defaults to 16 MiB of text made from this repository's sources and
# docs (one frame: 256 chunks of 64 KiB, a full GPU batch). MODEL defaults to
# $LMZIP_MODEL, else models/default.lmzm, else a model of the default shape
# (4 layers, 256 wide, 256-symbol window) that `lmzip train` makes in a few
# steps: its predictions are poor, its speed is that of a real model.
# Environment: LMZIP (default build-cuda/lmzip), CPU_THREADS (-T for the CPU
# runs, default all cores), SKIP_CPU=1 (GPU only: no byte comparison),
# BENCH_BYTES (size of the default input, default 16777216; the CPU at
# ~16,000 symbols/s needs ~20 minutes for 16 MiB, so for a quick CPU-vs-GPU
# byte check use e.g. BENCH_BYTES=2000000: 31 chunks, a smaller GPU batch).
# Prints a Markdown table (KB = 1000 bytes); exits non-zero if the bytes differ or a round trip fails.
set -euo pipefail
cd "$(dirname "$0")/.."
lmzip=${LMZIP:-build-cuda/lmzip}
[ -x "$lmzip" ] || { echo "bench_cuda: $lmzip not built (scripts/build-cuda.sh)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

input=${1:-}
if [ -z "$input" ]; then
  input=$work/input.txt
  bytes=${BENCH_BYTES:-16777216}
  while [ "$(stat -c %s "$input" 2>/dev/null || echo 0)" -lt "$bytes" ]; do
    cat README.md docs/*.md src/*/*.cpp src/*/*.h >> "$input"
  done
  truncate -s "$bytes" "$input"
fi
model=${2:-${LMZIP_MODEL:-}}
if [ -z "$model" ] && [ -f models/default.lmzm ]; then model=models/default.lmzm; fi
if [ -z "$model" ]; then
  model=$work/bench.lmzm
  head -c 1000000 "$input" > "$work/train.txt"
  "$lmzip" train "$work/train.txt" -o "$model" --steps 2 --batch 2 --sequence 64 --eval-every 1000 \
    --checkpoint-every 1000 --checkpoint-dir "$work/ckpt" >/dev/null 2>&1
fi
threads=${CPU_THREADS:-0}
size=$(stat -c %s "$input")

# timed OUT CMD...: runs CMD with its stdout to OUT, prints its seconds.
timed() {
  local out=$1 start end
  shift
  start=$(date +%s.%N)
  "$@" > "$out"
  end=$(date +%s.%N)
  awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }'
}
kbs() { awk -v s="$size" -v t="$1" 'BEGIN { printf "%.1f", s / 1000 / t }'; }

echo "# lmzip CUDA benchmark: $(basename "$input") ($size bytes), model $(basename "$model")"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | sed 's/^/GPU: /'
echo "CPU: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo
echo "| device | compress s | KB/s | decompress s | KB/s | size | bits/byte |"
echo "|---|---|---|---|---|---|---|"
status=0
for device in cuda cpu; do
  [ "$device" = cpu ] && [ "${SKIP_CPU:-0}" = 1 ] && continue
  extra=()
  [ "$device" = cpu ] && extra=(-T "$threads")
  tc=$(timed "$work/$device.lmz" "$lmzip" -q -f --device "$device" "${extra[@]}" -m "$model" -c "$input")
  td=$(timed "$work/$device.out" "$lmzip" -q -f --device "$device" "${extra[@]}" -m "$model" -d -c "$work/$device.lmz")
  csize=$(stat -c %s "$work/$device.lmz")
  if ! cmp -s "$input" "$work/$device.out"; then echo "bench_cuda: $device round trip differs" >&2; status=1; fi
  echo "| $device | $tc | $(kbs "$tc") | $td | $(kbs "$td") | $csize | $(awk -v c="$csize" -v s="$size" 'BEGIN { printf "%.3f", 8 * c / s }') |"
done
if [ -f "$work/cpu.lmz" ]; then
  if cmp -s "$work/cpu.lmz" "$work/cuda.lmz"; then
    echo; echo "CPU and CUDA wrote identical .lmz bytes."
  else
    echo; echo "bench_cuda: CPU and CUDA .lmz bytes differ" >&2; status=1
  fi
fi
exit $status
