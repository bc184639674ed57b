#!/bin/bash
# Builds lmzip with the CUDA predictor into build-cuda/ (docs/gpu.md).
#
#   scripts/build-cuda.sh [extra cmake -D options]
#
# Needs nvcc (CUDA 12 or 13; $CUDACXX, else nvcc on PATH, else /usr/local/cuda)
# and a CUDA-enabled libtorch, found in this order:
#   1. $LMZIP_TORCH_DIR (a folder holding TorchConfig.cmake);
#   2. the torch of python3, if it has CUDA (a GPU machine's own torch);
#   3. PyPI's torch wheel, installed with --no-deps into .cache/torch-venv
#      (git-ignored; ~1.2 GB), for compiling and linking on a machine without
#      a GPU. Its nvidia-* runtime packages are not installed: the CUDA
#      toolkit's own libraries stand in at link time, and the few libraries
#      that only the wheel's packages have (cuSPARSELt, NVSHMEM, cuFile) are
#      left for run time (-Wl,--allow-shlib-undefined).
# Environment: BUILD_DIR (default build-cuda), JOBS (default 1),
# CUDA_ARCHS (default: cmake/cuda.cmake's list; e.g. 90 for H100/H200 only),
# TARGETS (default "lmzip test_model").
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
build_dir=${BUILD_DIR:-build-cuda}
jobs=${JOBS:-1}
targets=${TARGETS:-lmzip test_model}

nvcc=${CUDACXX:-$(command -v nvcc || true)}
[ -z "$nvcc" ] && [ -x /usr/local/cuda/bin/nvcc ] && nvcc=/usr/local/cuda/bin/nvcc
if [ -z "$nvcc" ]; then
  echo "build-cuda: nvcc not found (install the CUDA toolkit, or set CUDACXX)" >&2
  exit 1
fi

torch_dir=${LMZIP_TORCH_DIR:-}
allow_undefined=0
if [ -z "$torch_dir" ] && python3 -c 'import torch, sys; sys.exit(0 if torch.version.cuda else 1)' 2>/dev/null; then
  torch_dir=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')/Torch
fi
if [ -z "$torch_dir" ]; then
  venv=$root/.cache/torch-venv
  site=$venv/lib/python3*/site-packages
  if ! ls $site/torch/share/cmake/Torch/TorchConfig.cmake >/dev/null 2>&1; then
    echo "build-cuda: installing PyPI's torch (CUDA build, --no-deps) into $venv" >&2
    python3 -m venv "$venv"
    nice -n 19 "$venv/bin/pip" install --no-deps torch
  fi
  torch_dir=$(echo $site/torch/share/cmake/Torch)
  allow_undefined=1
fi
echo "build-cuda: nvcc $nvcc, Torch_DIR $torch_dir" >&2

# The torch folder itself leads the prefix path: TorchConfig.cmake's
# find_library calls would otherwise pick a system libtorch (Debian's) first.
torch_root=$(readlink -f "$torch_dir/../../..")
args=(-DLMZIP_CUDA=ON -DTorch_DIR="$torch_dir" -DCMAKE_PREFIX_PATH="$torch_root;$torch_root/share/cmake"
      -DCMAKE_CUDA_COMPILER="$nvcc"
      -DCMAKE_GTEST_DISCOVER_TESTS_DISCOVERY_MODE=PRE_TEST
      -DCUDAToolkit_ROOT="$(dirname "$(dirname "$(readlink -f "$nvcc")")")")
[ -n "${CUDA_ARCHS:-}" ] && args+=(-DLMZIP_CUDA_ARCHITECTURES="$CUDA_ARCHS")
if [ "$allow_undefined" = 1 ]; then
  args+=(-DCMAKE_EXE_LINKER_FLAGS=-Wl,--allow-shlib-undefined)
fi
nice -n 19 cmake -S . -B "$build_dir" "${args[@]}" "$@"
# shellcheck disable=SC2086
nice -n 19 cmake --build "$build_dir" -j"$jobs" --target $targets
echo "build-cuda: built $targets in $build_dir" >&2
